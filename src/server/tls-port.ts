/**
 * The TLS side of the client port: a TLS server that never listens itself but is handed
 * admitted sockets, from the secureClientPort listener or from the plain port when a
 * connection starts with a TLS record (client.portUnification). A completed handshake becomes
 * a Connection, with the x509 ids of a verified client certificate; a failed one is closed
 * and counted, and nobody else notices.
 */
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { x509AuthIds } from '../acl/index.js';
import type { ServerConfig } from '../config/config.js';
import type { Id } from '../jute/records.js';
import type { RequestPipeline } from '../pipeline/pipeline.js';
import type { Logger } from './logger.js';
import { clientTlsOptions, StoreWatcher, TlsConfigError, type ClientTlsOptions } from './tls.js';

export interface TlsPortHost {
  readonly server: RequestPipeline;
  readonly logger: Logger;
}

/** The first byte of a TLS handshake record (ContentType handshake); a ZooKeeper frame never starts so (its length would be > 369 MB). */
const TLS_HANDSHAKE_RECORD = 0x16;

export type ReloadListener = (error: Error | null) => void;

export class ClientTlsPort {
  private readonly tlsServer: TlsServer;
  private listener: Server | null = null;
  private readonly watcher: StoreWatcher | null = null;
  private readonly reloadListeners = new Set<ReloadListener>();
  private options: ClientTlsOptions;

  constructor(
    private readonly config: ServerConfig,
    private readonly host: TlsPortHost,
    private readonly serve: (socket: TLSSocket, ids: readonly Id[]) => void,
  ) {
    this.options = clientTlsOptions(config.ssl);
    const clientAuth = this.options.clientAuth;
    try {
      this.tlsServer = createTlsServer({
        ...this.options.context,
        requestCert: clientAuth !== 'none',
        rejectUnauthorized: clientAuth === 'need',
        handshakeTimeout: config.sessionlessCnxnTimeoutMs,
      });
    } catch (err) {
      throw storeError(err);
    }
    this.tlsServer.on('secureConnection', (socket) => this.secured(socket));
    this.tlsServer.on('tlsClientError', (err, socket) => this.handshakeFailed(err, socket));
    if (config.clientCertReload) this.watcher = new StoreWatcher(this.options.files, () => this.reload());
  }

  /** Opens secureClientPort; `admit` applies the connection limits first. */
  listen(port: number, address: string, admit: (socket: Socket) => boolean): Promise<{ port: number; address: string }> {
    const listener = createNetServer((socket) => {
      if (admit(socket)) this.handshake(socket);
    });
    this.listener = listener;
    return new Promise((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(port, address, () => {
        listener.off('error', reject);
        const addr = listener.address();
        if (addr === null || typeof addr !== 'object') return reject(new Error('TLS listener has no address'));
        resolve({ port: addr.port, address: addr.address });
      });
    });
  }

  /**
   * client.portUnification: the first bytes of a plain-port connection tell TLS from
   * ZooKeeper's protocol (and four-letter words). Silence past
   * ssl.handshakeDetectionTimeoutMillis closes the connection.
   */
  detect(socket: Socket, plain: () => void): void {
    const timer = setTimeout(() => socket.destroy(), this.options.handshakeDetectionTimeoutMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      socket.pause();
      socket.unshift(chunk);
      if (chunk[0] === TLS_HANDSHAKE_RECORD) this.handshake(socket);
      else plain();
    });
  }

  /** Calls `listener` after each reload of the stores, with the error when the new ones were unusable. */
  onReload(listener: ReloadListener): () => void {
    this.reloadListeners.add(listener);
    return () => this.reloadListeners.delete(listener);
  }

  private handshake(socket: Socket): void {
    this.tlsServer.emit('connection', socket);
  }

  /**
   * Handshake done. With clientAuth=want a client may present no certificate, but one that
   * does not verify is refused (ZooKeeper's trust manager fails the handshake then too).
   */
  private secured(socket: TLSSocket): void {
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    if (this.options.clientAuth === 'none') return this.serve(socket, []);
    const certificate = socket.getPeerX509Certificate();
    if (certificate === undefined) return this.serve(socket, []);
    if (!socket.authorized) {
      this.host.logger.warn(`TLS client ${peer} presented a certificate that does not verify (${String(socket.authorizationError)}); connection closed`);
      this.host.server.stats.countLimit('tls_client_certificates_refused');
      this.host.server.stats.authFailedCount++;
      socket.destroy();
      return;
    }
    let ids: Id[];
    try {
      ids = x509AuthIds(certificate.raw, this.config.x509SuperUser);
    } catch (err) {
      this.host.logger.warn(`TLS client ${peer}: unreadable certificate subject (${(err as Error).message}); connection closed`);
      socket.destroy();
      return;
    }
    this.host.logger.info(`Authenticated Id '${ids[ids.length - 1]!.id}' for Scheme 'x509' from ${peer}`);
    this.serve(socket, ids);
  }

  /** As ZooKeeper: a failed handshake counts in unsuccessful_handshake and auth_failed_count. */
  private handshakeFailed(err: Error, socket: TLSSocket): void {
    // A refused client certificate shows as a hang-up; its verification error says why.
    const why = socket.authorizationError === undefined || socket.authorizationError === null ? err.message : `client certificate refused: ${String(socket.authorizationError)}`;
    this.host.logger.warn(`TLS handshake with ${socket.remoteAddress ?? 'a client'}${socket.remotePort === undefined ? '' : `:${socket.remotePort}`} failed: ${why}`);
    this.host.server.stats.count('unsuccessful_handshake');
    this.host.server.stats.authFailedCount++;
    socket.destroy();
  }

  /** client.certReload: new connections get the new stores; on a bad store the old ones stay. */
  private reload(): void {
    let error: Error | null = null;
    try {
      const next = clientTlsOptions(this.config.ssl);
      this.tlsServer.setSecureContext(next.context);
      this.options = { ...next, clientAuth: this.options.clientAuth };
      this.host.logger.info('TLS key and trust stores reloaded');
    } catch (err) {
      error = storeError(err);
      this.host.logger.error(`TLS stores not reloaded, the previous ones stay in use: ${error.message}`);
    }
    for (const listener of this.reloadListeners) listener(error);
  }

  async close(): Promise<void> {
    this.watcher?.close();
    const listener = this.listener;
    if (listener?.listening) await new Promise<void>((resolve) => listener.close(() => resolve()));
  }
}

/** OpenSSL's word on a store it could not use (a wrong password, a key not matching its certificate). */
function storeError(err: unknown): Error {
  if (err instanceof TlsConfigError) return err;
  return new TlsConfigError(`cannot use the TLS key store (ssl.keyStore.*): ${(err as Error).message}`);
}
