/** Closes a session from a second raw connection that attaches to it (Curator's KillSession trick). */
import { connect } from 'node:net';
import { JuteWriter } from '../../src/jute/binary.js';
import { FrameDecoder } from '../../src/jute/framing.js';
import { ConnectRequest } from '../../src/client/codec.js';
import { parseConnectString } from '../../src/client/paths.js';

export function killSessionById(connectString: string, sessionId: bigint, passwd: Buffer, timeoutMs = 10_000): Promise<void> {
  const { hosts } = parseConnectString(connectString);
  const host = hosts[0]!;
  return new Promise((resolve, reject) => {
    const sock = connect({ host: host.host, port: host.port });
    const decoder = new FrameDecoder(1 << 20);
    let stage: 'handshake' | 'closing' = 'handshake';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('killSession timed out'));
    }, timeoutMs);
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve();
    };
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
          const timeOut = frame.readInt32BE(4);
          if (timeOut <= 0) return finish(); // already expired
          stage = 'closing';
          const req = Buffer.alloc(12);
          req.writeInt32BE(8, 0);
          req.writeInt32BE(1, 4); // xid
          req.writeInt32BE(-11, 8); // closeSession
          sock.write(req);
        } else {
          return finish();
        }
      }
    });
    sock.on('close', () => finish());
    sock.on('error', (err) => finish(stage === 'closing' ? undefined : err));
  });
}
