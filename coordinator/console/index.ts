/** The coordinator's web console: static routes at /console and the live socket.io namespace /console. */
export { consoleRoutes, mountConsole } from './routes.js';
export { attachConsoleLive, type ConsoleLiveDeps } from './live.js';
export { type ConsolePrincipal, type ConsoleRole, type VerifyToken } from './principal.js';
export { latestRoundSnapshot, redactSnapshot, type RoundSnapshot } from './round-snapshot.js';
