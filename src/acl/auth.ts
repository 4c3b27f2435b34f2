/** AuthPacket handling: the ids a connection gains from `addauth scheme credentials`. */
import type { Id } from '../jute/records.js';
import { digestId } from './digest.js';
import { ipAuthId } from './ip.js';

/**
 * The ids to add to the connection, or null for AUTHFAILED (an unknown scheme). Digest auth
 * never fails in ZooKeeper: any bytes are hashed into an id. A digest matching `superDigest`
 * (`super:<base64>`, from zookeeper.DigestAuthenticationProvider.superDigest) also grants
 * `super:`. Scheme 'ip' re-adds the connection's own address when `remoteAddress` is given.
 * Scheme 'x509' succeeds on a connection whose verified client certificate gave it `x509Ids`
 * (re-adding them, whatever the credentials say, as X509AuthenticationProvider does) and fails
 * without one.
 */
export function authenticate(
  scheme: string,
  authBytes: Buffer,
  superDigest: string | null,
  remoteAddress?: string,
  x509Ids: readonly Id[] = [],
): Id[] | null {
  switch (scheme) {
    case 'digest': {
      const id = digestId(authBytes.toString('utf8'));
      const ids: Id[] = [];
      if (superDigest !== null && id === superDigest) ids.push({ scheme: 'super', id: '' });
      ids.push({ scheme: 'digest', id });
      return ids;
    }
    case 'ip':
      return remoteAddress === undefined ? null : [{ scheme: 'ip', id: ipAuthId(remoteAddress) }];
    case 'x509':
      return x509Ids.length === 0 ? null : [...x509Ids];
    default:
      return null;
  }
}
