/** Closes a session from a second raw connection that attaches to it (Curator's KillSession trick). */
import { connect } from 'node:net';
import { JuteWriter } from '../../src/jute/binary.js';
import { FrameDecoder } from '../../src/jute/framing.js';
import { ConnectRequest } from '../../src/client/codec.js';
import { parseConnectString } from '../../src/client/paths.js';

/**
 * One attempt: attach to the session, send closeSession, wait for its reply. Resolves true when
 * the server confirmed the close (or said the session was already gone), false when the
 * attempt was interrupted, e.g. because the victim re-attached first.
 */
export function killSessionById(connectString: string, sessionId: bigint, passwd: Buffer, timeoutMs = 5000): Promise<boolean> {
  const { hosts } = parseConnectString(connectString);
  const host = hosts[0]!;
  return new Promise((resolve) => {
    const sock = connect({ host: host.host, port: host.port });
    const decoder = new FrameDecoder(1 << 20);
    let stage: 'handshake' | 'closing' = 'handshake';
    let settled = false;
    const finish = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.on('connect', () => {
      const w = new JuteWriter();
      const at = w.beginFrame();
      ConnectRequest.write(w, { protocolVersion: 0, lastZxidSeen: 0n, timeOut: 30_000, sessionId, passwd, readOnly: false });
      w.endFrame(at);
      sock.write(Buffer.from(w.bytes()));
    });
    sock.on('data', (chunk) => {
      for (const frame of decoder.push(chunk)) {
        if (stage === 'handshake') {
          if (frame.readInt32BE(4) <= 0) return finish(true); // already expired
          stage = 'closing';
          const req = Buffer.alloc(12);
          req.writeInt32BE(8, 0);
          req.writeInt32BE(1, 4); // xid
          req.writeInt32BE(-11, 8); // closeSession
          sock.write(req);
        } else {
          return finish(true);
        }
      }
    });
    sock.on('close', () => finish(false));
    sock.on('error', () => finish(false));
  });
}
