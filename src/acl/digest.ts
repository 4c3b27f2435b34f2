/** The 'digest' scheme: ids are `user:base64(SHA1("user:password"))`. */
import { sha1 } from '../lib/sha1.js';
import { javaSplit } from './javaish.js';

/** DigestAuthenticationProvider.generateDigest: the id a `user:password` credential maps to. */
export function digestId(userColonPassword: string): string {
  const colon = userColonPassword.indexOf(':');
  const user = colon < 0 ? userColonPassword : userColonPassword.substring(0, colon);
  const hash = sha1(Buffer.from(userColonPassword, 'utf8'));
  return user + ':' + Buffer.from(hash).toString('base64');
}

/** A digest ACL id must split on ':' into exactly two parts (Java split semantics). */
export function isValidDigestId(id: string): boolean {
  return javaSplit(id, ':').length === 2;
}
