/**
 * Draining a server's connections when it stops, so no request it received
 * goes unanswered. Node's own close (and fastify's) destroys connections it
 * deems idle, which resets those whose next request is already in the
 * socket but not yet read: under load, that is many. Here the server stops
 * listening, every response from then on says `Connection: close` (the
 * caller's part), and a connection is closed by the server only when it has
 * no request in progress and has read no byte for `quietMs` (the event loop
 * turned in between, so a request that had arrived would have been read).
 * What is still running at `timeoutMs` is answered 503 with
 * `Connection: close`, and the rest is closed.
 */
import type { Server as HttpServer, ServerResponse } from 'node:http';
import { type Socket, Server } from 'node:net';

/** A connection's requests in progress and when it last read a byte. */
interface ConnectionState {
  active: number;
  bytesRead: number;
  quietSince: number;
}

export interface DrainOptions {
  /** How long to wait for requests already received, ms. */
  readonly timeoutMs: number;
  /** How long a connection with no request in progress must have read nothing before the server closes it; default 1,000 ms (a client whose process stalls under load for a moment must not look idle). */
  readonly quietMs?: number;
  /** The JSON body of the 503 a request still running at the deadline gets; default `{"error": message}`. */
  readonly errorBody?: (url: string, message: string) => object;
}

export interface DrainResult {
  /** Requests still running at the deadline, answered 503. */
  readonly cutRequests: number;
}

/** Follows a server's connections and requests from its start, for `drain`. */
export class ConnectionTracker {
  private readonly connections = new Map<Socket, ConnectionState>();
  /** Responses in progress, with their request's URL. */
  private readonly responses = new Map<ServerResponse, string>();

  constructor(private readonly server: HttpServer) {
    server.on('connection', (socket: Socket) => {
      this.connections.set(socket, { active: 0, bytesRead: 0, quietSince: Date.now() });
      socket.once('close', () => this.connections.delete(socket));
    });
    server.on('request', (request, response: ServerResponse) => {
      const state = this.connections.get(request.socket);
      if (state) state.active++;
      this.responses.set(response, request.url ?? '/');
      response.once('close', () => {
        if (state) state.active--;
        this.responses.delete(response);
      });
    });
  }

  /** Open connections now. */
  get size(): number {
    return this.connections.size;
  }

  /**
   * Stops listening (open connections keep working), then waits until every
   * connection has closed: after a response (the caller adds `Connection:
   * close` to each), or by the server once quiet for `quietMs`. At
   * `timeoutMs`, requests still running get a 503 and every connection is closed.
   */
  async drain(options: DrainOptions): Promise<DrainResult> {
    // net.Server's close stops listening only; http.Server's would also destroy "idle" connections, unread requests and all.
    if (this.server.listening) Server.prototype.close.call(this.server);
    const quietMs = options.quietMs ?? 1000;
    const deadline = Date.now() + options.timeoutMs;
    while (this.connections.size > 0 && Date.now() < deadline) {
      this.closeQuiet(quietMs);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return { cutRequests: this.cut(options.errorBody ?? ((_url, message) => ({ error: message }))) };
  }

  /** Ends (FIN, not reset) connections with no request in progress that read nothing for `quietMs`. */
  private closeQuiet(quietMs: number): void {
    const now = Date.now();
    for (const [socket, state] of this.connections) {
      if (state.active > 0 || socket.bytesRead !== state.bytesRead) {
        state.bytesRead = socket.bytesRead;
        state.quietSince = now;
      } else if (now - state.quietSince >= quietMs && !socket.writableEnded) {
        socket.end();
      }
    }
  }

  /** At the deadline: a 503 with `Connection: close` for each request still running; every connection closed. */
  private cut(errorBody: NonNullable<DrainOptions['errorBody']>): number {
    let cut = 0;
    for (const [response, url] of this.responses) {
      if (response.headersSent) continue;
      cut++;
      const body = JSON.stringify(errorBody(url, 'the server stopped before this request was answered (its drain timeout passed): send it again.'));
      response.writeHead(503, { 'content-type': 'application/json; charset=utf-8', connection: 'close', 'content-length': Buffer.byteLength(body) });
      response.end(body);
    }
    for (const [socket, state] of this.connections) {
      if (state.active === 0) socket.end();
      // Whatever is left after a moment (a response still streaming, a client that never reads) is cut.
      setTimeout(() => socket.destroy(), 200).unref();
    }
    return cut;
  }
}
