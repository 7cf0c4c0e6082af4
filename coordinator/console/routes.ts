/** The console's static routes: the page at /console, its bundled assets, and Chart.js from node_modules (no internet needed). */
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono, type Env } from 'hono';

const ASSETS_DIR = fileURLToPath(new URL('./assets/', import.meta.url));
const ASSET_NAME = /^[a-z0-9-]+\.(js|css|svg)$/;
const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  html: 'text/html; charset=utf-8',
};

/** Only this origin's scripts and connections (the live feed's websocket included); Chart.js sets inline canvas styles. */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

interface Asset {
  body: string;
  type: string;
}

/** Reads the console's files once: they are small, and serving from memory keeps the first render fast. */
function loadAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(ASSETS_DIR)) {
    const ext = name.split('.').pop() ?? '';
    if (name === 'index.html' || ASSET_NAME.test(name))
      assets.set(name, { body: readFileSync(join(ASSETS_DIR, name), 'utf8'), type: TYPES[ext] ?? 'application/octet-stream' });
  }
  return assets;
}

/** Chart.js's UMD build (it sets `window.Chart`), found through the package's own entry point. */
function chartJs(): string {
  const entry = createRequire(import.meta.url).resolve('chart.js');
  return readFileSync(join(dirname(entry), 'chart.umd.js'), 'utf8');
}

/**
 * The console's routes, to mount on the coordinator's hono app. The socket.io client comes from
 * socket.io itself (`/socket.io/socket.io.esm.min.js`, served because the server has serveClient on).
 * @example app.route('/console', consoleRoutes())
 */
export function consoleRoutes(): Hono {
  const assets = loadAssets();
  let chart: string | undefined;
  const app = new Hono();
  app.get('/', (c) =>
    c.html((assets.get('index.html') as Asset).body, 200, {
      'cache-control': 'no-cache',
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    }),
  );
  app.get('/vendor/chart.umd.js', (c) => {
    chart ??= chartJs();
    return c.body(chart, 200, { 'content-type': TYPES.js as string, 'cache-control': 'public, max-age=86400' });
  });
  app.get('/assets/:name', (c) => {
    const asset = ASSET_NAME.test(c.req.param('name')) ? assets.get(c.req.param('name')) : undefined;
    if (!asset) return c.json({ error: { code: 'NOT_FOUND', message: `no console asset ${c.req.param('name')}` } }, 404);
    return c.body(asset.body, 200, { 'content-type': asset.type, 'cache-control': 'no-cache' });
  });
  return app;
}

/**
 * Mounts the console on the coordinator's app at /console (and sends /console/ there).
 * @example mountConsole(api)
 */
export function mountConsole<E extends Env>(app: Hono<E>): void {
  app.get('/console/', (c) => c.redirect('/console', 301));
  app.route('/console', consoleRoutes());
}
