/**
 * Credentials for the admin commands that reveal session ids or change state, in ZooKeeper 3.9's
 * form: `Authorization: digest user:password` (or `ip`, taken from the caller's address), checked
 * for ALL permissions against the ACL of "/". With ZooKeeper's default root ACL (world:anyone,
 * ALL) every caller passes without a header, so 3.8 tools keep working; once an operator
 * restricts "/", those commands need credentials that the root ACL grants.
 */
import { authenticate, checkAcl, ipAuthId } from '../acl/index.js';
import { Perm } from '../jute/constants.js';
import type { ACL, Id } from '../jute/records.js';

export type AuthOutcome = { ok: true } | { ok: false; status: 401 | 403; error: string };

export interface AuthInput {
  rootAcl: readonly ACL[] | null;
  /** The Authorization header, if any. */
  header: string | undefined;
  remoteAddress: string;
  superDigest: string | null;
  skipACL: boolean;
}

export function authorizeAdmin(input: AuthInput): AuthOutcome {
  const anyone: Id[] = [{ scheme: 'world', id: 'anyone' }];
  if (input.skipACL || grantsAll(input.rootAcl, anyone)) return { ok: true };
  if (input.header === undefined || input.header.trim() === '') return { ok: false, status: 401, error: 'Auth info is missing for the command' };
  const ids = idsOf(input.header.trim(), input.remoteAddress, input.superDigest);
  if (ids === null) return { ok: false, status: 401, error: 'Not authenticated' };
  if (!grantsAll(input.rootAcl, ids)) return { ok: false, status: 403, error: 'Not authorized' };
  return { ok: true };
}

/** Every permission bit, each on its own (as ZooKeeper checks them): checkAcl passes on any one bit. */
function grantsAll(acl: readonly ACL[] | null, ids: readonly Id[]): boolean {
  for (let bit = 1; bit <= Perm.ALL; bit <<= 1) if (!checkAcl(acl, bit, ids)) return false;
  return true;
}

/** "<scheme> <credentials>" as ZooKeeper splits it (one space); ip needs no credentials. */
function idsOf(header: string, remoteAddress: string, superDigest: string | null): Id[] | null {
  const parts = header.split(' ');
  if (parts.length !== 1 && parts.length !== 2) return null;
  const [scheme, credentials] = parts as [string, string | undefined];
  if (scheme === 'ip') return [{ scheme: 'ip', id: ipAuthId(remoteAddress) }];
  if (credentials === undefined) return null;
  return authenticate(scheme, Buffer.from(credentials, 'utf8'), superDigest, remoteAddress);
}
