/** The coordinator's typed socket.io server and per-socket session data. */
import type { Server, Socket } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from '../../protocol/index.js';

export interface SocketData {
  institution: string;
  authenticated: boolean;
  challenge: Uint8Array;
  clientNonce: Uint8Array;
  address: string;
}

export type CohortServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
export type CohortSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
