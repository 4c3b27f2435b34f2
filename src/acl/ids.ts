/** Well-known ids and ACL lists (ZooDefs.Ids). */
import { Perm } from '../jute/constants.js';
import type { ACL, Id } from '../jute/records.js';

export const ANYONE_ID_UNSAFE: Id = Object.freeze({ scheme: 'world', id: 'anyone' });
/** Placeholder in an ACL that fixupAcl replaces with the caller's authenticated ids. */
export const AUTH_IDS: Id = Object.freeze({ scheme: 'auth', id: '' });

export const OPEN_ACL_UNSAFE: readonly ACL[] = Object.freeze([Object.freeze({ perms: Perm.ALL, id: ANYONE_ID_UNSAFE })]);
export const CREATOR_ALL_ACL: readonly ACL[] = Object.freeze([Object.freeze({ perms: Perm.ALL, id: AUTH_IDS })]);
export const READ_ACL_UNSAFE: readonly ACL[] = Object.freeze([Object.freeze({ perms: Perm.READ, id: ANYONE_ID_UNSAFE })]);

export function sameId(a: Id, b: Id): boolean {
  return a.scheme === b.scheme && a.id === b.id;
}

export function sameAcl(a: ACL, b: ACL): boolean {
  return a.perms === b.perms && sameId(a.id, b.id);
}

export function sameAclList(a: readonly ACL[], b: readonly ACL[]): boolean {
  return a.length === b.length && a.every((x, i) => sameAcl(x, b[i]!));
}
