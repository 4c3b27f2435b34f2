/**
 * TLS between ensemble members (sslQuorum, portUnification, sslQuorumReloadCertFiles and the
 * ssl.quorum.* stores), as ZooKeeper 3.8's QuorumX509Util, UnifiedServerSocket and
 * ZKTrustManager do it, on both the election and the quorum port:
 * - The connecting server is the TLS client and presents its own certificate; the accepting one
 *   asks for it (ssl.quorum.clientAuth, default need) and both check the other's chain against
 *   the trust store.
 * - With ssl.quorum.hostnameVerification (default true) each end also matches the other's
 *   certificate to the peer's IP address, then to its host name: the server.N host on the
 *   connecting end, the reverse lookup of the address on the accepting end (Java's
 *   InetAddress.getHostName()).
 * - An accepted connection is sorted by its first five bytes: a TLS record header is
 *   handshaken, anything else is plain, kept only with portUnification and otherwise closed
 *   ("blocked insecure connection"). Silence for ssl.quorum.handshakeDetectionTimeoutMillis
 *   counts as plain, as there.
 * The drivers connect and accept through a QuorumTransport and speak their protocol on the
 * socket it hands them, TLS or plain, unaware which.
 */
import { promises as dns } from 'node:dns';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import {
  checkServerIdentity, connect as tlsConnect, createSecureContext, createServer as createTlsServer,
  type SecureContext, type Server as TlsServer, type TLSSocket,
} from 'node:tls';
import type { ServerConfig } from '../../config/config.js';
import type { Logger } from '../../lib/log.js';
import { StoreWatcher, TlsConfigError, tlsOptions, type ClientTlsOptions } from '../tls.js';

/** How the drivers open and take connections to and from other members. */
export interface QuorumTransport {
  /**
   * Opens a connection to a member's quorum or election port. `ready` runs once it can carry
   * the protocol: connected and, with TLS, the handshake done and the peer's certificate
   * checked. A failure ends in 'error' and 'close' on the returned socket, as for net.connect.
   */
  connect(host: string, port: number, ready: () => void): Socket;
  /**
   * For a listener: hands each accepted connection to `ready` once it is known to be TLS (and
   * checked) or allowed plain; others are closed. `ready` must add its 'data' listener before it
   * returns: a plain connection, paused while its first bytes were read, is resumed then.
   */
  acceptor(ready: (socket: Socket) => void): PeerAcceptor;
  /** Stops watching the stores' files. */
  close(): void;
}

export interface PeerAcceptor {
  /** The net.Server connection handler. */
  accept(raw: Socket): void;
  /**
   * Ends every connection it took that is still open: those still being sorted out or
   * handshaken, which a listener's close would otherwise wait for, and TLS ones handed on.
   */
  close(): void;
}

/** Plain TCP, as without sslQuorum and portUnification. */
export const PLAIN_TRANSPORT: QuorumTransport = {
  connect(host, port, ready) {
    const socket = netConnect({ host, port });
    socket.once('connect', ready);
    return socket;
  },
  acceptor(ready) {
    return { accept: ready, close: () => undefined };
  },
  close: () => undefined,
};

/** The transport zoo.cfg asks for; a key or trust store that cannot be used throws a TlsConfigError. */
export function quorumTransport(config: ServerConfig, logger: Logger): QuorumTransport {
  if (!config.sslQuorum && !config.quorumPortUnification) return PLAIN_TRANSPORT;
  return new QuorumTls({
    settings: config.sslQuorumSettings,
    secure: config.sslQuorum,
    unified: config.quorumPortUnification,
    reload: config.sslQuorumReloadCertFiles,
    handshakeTimeoutMs: config.cnxTimeoutMs,
    logger,
  });
}

export interface QuorumTlsOptions {
  /** The ssl.quorum.* settings without the prefix. */
  settings: ReadonlyMap<string, string>;
  /** sslQuorum: connect with TLS, and accept TLS only unless `unified`. */
  secure: boolean;
  /** portUnification: accept TLS and plain connections. */
  unified: boolean;
  /** sslQuorumReloadCertFiles. */
  reload: boolean;
  /** Bound on a TLS handshake, after the first bytes arrived. */
  handshakeTimeoutMs: number;
  logger: Logger;
  /** The host name of an accepted peer's address, for hostname verification (default: the system's reverse lookup). */
  lookupName?: (address: string) => Promise<string>;
}

/** TLS record content types a handshake may start with (change_cipher_spec .. heartbeat), as Netty's SslHandler.isEncrypted reads them. */
const TLS_CONTENT_TYPES = new Set([20, 21, 22, 23, 24]);
const LITMUS_BYTES = 5;

/**
 * Whether the first five bytes of a connection are a TLS record header: a content type, major
 * version 3 and a non-empty record. A ZooKeeper election preamble starts with 0xff (a negative
 * long) or a small sid, a quorum packet with a length's high byte 0: neither can pass.
 */
export function startsTlsRecord(litmus: Buffer): boolean {
  return litmus.length >= LITMUS_BYTES && TLS_CONTENT_TYPES.has(litmus[0]!) && litmus[1] === 3 && litmus.readUInt16BE(3) > 0;
}

export class QuorumTls implements QuorumTransport {
  private options: ClientTlsOptions;
  private context: SecureContext;
  private readonly hostnameVerification: boolean;
  /** The TLS servers of the live acceptors, which a reload gives the new material. */
  private readonly servers = new Set<TlsServer>();
  private readonly watcher: StoreWatcher | null = null;
  private readonly lookupName: (address: string) => Promise<string>;

  constructor(private readonly config: QuorumTlsOptions) {
    this.options = tlsOptions(config.settings, 'ssl.quorum.', 'sslQuorum', undefined);
    this.context = secureContext(this.options);
    this.hostnameVerification = (config.settings.get('hostnameVerification') ?? '').trim().toLowerCase() !== 'false';
    this.lookupName = config.lookupName ?? (async (address) => (await dns.lookupService(address, 0)).hostname);
    if (config.reload) this.watcher = new StoreWatcher(this.options.files, () => this.reload());
  }

  connect(host: string, port: number, ready: () => void): Socket {
    if (!this.config.secure) return PLAIN_TRANSPORT.connect(host, port, ready);
    const socket = tlsConnect({
      host, port, secureContext: this.context,
      // Java sends SNI for host names only; the identity check is ours, below.
      ...(isIP(host) === 0 ? { servername: host } : {}),
      checkServerIdentity: () => undefined,
    });
    let connected = false;
    socket.once('connect', () => {
      connected = true;
    });
    socket.on('error', (err) => {
      // A peer that is down is routine; one that answered and failed the handshake is not.
      if (connected) this.config.logger.warn(`quorum TLS to ${host}:${port} failed: ${err.message}`);
    });
    socket.once('secureConnect', () => {
      const refusal = this.identityRefusal(socket, normalAddress(socket.remoteAddress), host);
      if (refusal !== null) {
        socket.destroy(new Error(`the certificate of ${host}:${port} ${refusal}`));
        return;
      }
      connected = false;
      ready();
    });
    return socket;
  }

  acceptor(ready: (socket: Socket) => void): PeerAcceptor {
    const { logger } = this.config;
    // The peer's certificate is checked in admit(), once the handshake is done and its address
    // still known, so that the refusal can name it; until then nothing is read from it.
    const server = createTlsServer({
      ...this.options.context,
      requestCert: this.options.clientAuth !== 'none',
      rejectUnauthorized: false,
      handshakeTimeout: this.config.handshakeTimeoutMs,
    });
    this.servers.add(server);
    const pending = new Set<Socket>();
    server.on('secureConnection', (socket) => void this.admit(socket).then((admitted) => {
      // The peer may have gone while its name was looked up.
      if (admitted && !socket.destroyed) ready(socket);
      else socket.destroy();
    }));
    server.on('tlsClientError', (err, socket) => {
      logger.warn(`quorum TLS handshake with ${peerName(socket)} failed: ${err.message}`);
      socket.destroy();
    });
    return {
      accept: (raw) => {
        pending.add(raw);
        raw.once('close', () => pending.delete(raw));
        this.sort(raw, () => server.emit('connection', raw), () => {
          pending.delete(raw);
          ready(raw);
          raw.resume();
        });
      },
      close: () => {
        this.servers.delete(server);
        for (const raw of pending) raw.destroy();
        pending.clear();
      },
    };
  }

  close(): void {
    this.watcher?.close();
  }

  /** UnifiedSocket.detectMode: the first five bytes say TLS or plain; plain is kept only with portUnification. */
  private sort(raw: Socket, secure: () => void, plain: () => void): void {
    raw.on('error', () => undefined);
    let litmus = Buffer.alloc(0);
    const decide = (): void => {
      clearTimeout(timer);
      raw.off('data', onData);
      raw.off('end', decide);
      // Gone before it said anything: nothing to hand on.
      if (raw.destroyed) return;
      raw.pause();
      if (litmus.length > 0) raw.unshift(litmus);
      if (startsTlsRecord(litmus)) return secure();
      if (this.config.unified) return plain();
      this.config.logger.warn(`blocked a plaintext connection from ${peerName(raw)} to a TLS quorum port (sslQuorum=true, portUnification=false)`);
      raw.destroy();
    };
    const onData = (chunk: Buffer): void => {
      litmus = Buffer.concat([litmus, chunk]);
      if (litmus.length >= LITMUS_BYTES) decide();
    };
    const timer = setTimeout(decide, this.options.handshakeDetectionTimeoutMs);
    timer.unref();
    raw.on('data', onData);
    raw.once('end', decide);
    raw.once('close', () => clearTimeout(timer));
  }

  /**
   * A handshake done on the accepting end. clientAuth=need: the peer must present a certificate
   * that verifies; want: it may present none, but one that does not verify is refused. A
   * presented certificate must match the peer's address.
   */
  private async admit(socket: TLSSocket): Promise<boolean> {
    if (this.options.clientAuth === 'none') return true;
    const name = peerName(socket);
    const certificate = socket.getPeerCertificate();
    if (certificate === null || Object.keys(certificate).length === 0) {
      if (this.options.clientAuth === 'want') return true;
      this.config.logger.warn(`quorum TLS peer ${name} refused: it presented no certificate (ssl.quorum.clientAuth=need)`);
      return false;
    }
    if (!socket.authorized) {
      this.config.logger.warn(`quorum TLS peer ${name} refused: its certificate does not verify (${String(socket.authorizationError)})`);
      return false;
    }
    const address = normalAddress(socket.remoteAddress);
    if (this.identityRefusal(socket, address, null) === null) return true;
    let hostName: string | null = null;
    try {
      hostName = await withTimeout(this.lookupName(address), this.config.handshakeTimeoutMs);
    } catch {
      // no name for the address: the address alone had to match
    }
    const refusal = this.identityRefusal(socket, address, hostName);
    if (refusal === null) return true;
    this.config.logger.warn(`quorum TLS peer ${name} refused: its certificate ${refusal}`);
    return false;
  }

  /**
   * ZKTrustManager.performHostVerification: the certificate must name the peer's IP address or,
   * failing that, its host name. Null when it does (or hostnameVerification=false).
   */
  private identityRefusal(socket: TLSSocket, address: string, hostName: string | null): string | null {
    if (!this.hostnameVerification) return null;
    const certificate = socket.getPeerCertificate();
    if (checkServerIdentity(address, certificate) === undefined) return null;
    if (hostName !== null && hostName !== address && checkServerIdentity(hostName, certificate) === undefined) return null;
    const names = hostName === null || hostName === address ? `its address ${address}` : `its address ${address} or host name ${hostName}`;
    return `(${certificate.subject?.CN ?? 'no CN'}) does not match ${names} (ssl.quorum.hostnameVerification=true)`;
  }

  /** sslQuorumReloadCertFiles: new connections use the new stores; a store that fails to load leaves the old ones. */
  private reload(): void {
    try {
      const next = tlsOptions(this.config.settings, 'ssl.quorum.', 'sslQuorum', undefined);
      this.context = secureContext(next);
      for (const server of this.servers) server.setSecureContext(next.context);
      this.options = { ...next, clientAuth: this.options.clientAuth };
      this.config.logger.info('quorum TLS key and trust stores reloaded');
    } catch (err) {
      this.config.logger.error(`quorum TLS stores not reloaded, the previous ones stay in use: ${(err as Error).message}`);
    }
  }
}

/** OpenSSL's word on a store it cannot use (a wrong password, a key not matching its certificate), as a configuration error. */
function secureContext(options: ClientTlsOptions): SecureContext {
  try {
    return createSecureContext(options.context);
  } catch (err) {
    throw new TlsConfigError(`cannot use the quorum TLS key store (ssl.quorum.keyStore.*): ${(err as Error).message}`);
  }
}

/** An IPv4 peer on a dual-stack listener shows as ::ffff:a.b.c.d; Java sees the IPv4 address. */
function normalAddress(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

function peerName(socket: Socket): string {
  return socket.remoteAddress === undefined ? 'a peer' : `${normalAddress(socket.remoteAddress)}:${socket.remotePort ?? '?'}`;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
