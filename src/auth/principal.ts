/**
 * Kerberos-style principal names (`service/host@REALM`) as ZooKeeper's KerberosName reads them,
 * and the `sasl` ACL id its SaslServerCallbackHandler makes of an authenticated name.
 *
 * Paddock has no Kerberos configuration, so its default realm is empty and the only mapping rule
 * is DEFAULT (what a ZooKeeper without krb5.conf and security.auth_to_local has): a name with a
 * realm other than the empty one maps to nothing, and the id falls back to the name as given.
 */

export interface KerberosName {
  service: string;
  host: string | null;
  realm: string | null;
}

export interface PrincipalRules {
  /** zookeeper.kerberos.removeHostFromPrincipal */
  removeHostFromPrincipal: boolean;
  /** zookeeper.kerberos.removeRealmFromPrincipal */
  removeRealmFromPrincipal: boolean;
}

const NAME = /^([^/@]*)(\/([^/@]*))?@([^/@]*)$/;

/** The parts of `name`, or null when it is malformed (an '@' in the wrong place). */
export function parseKerberosName(name: string): KerberosName | null {
  const m = NAME.exec(name);
  if (m === null) return name.includes('@') ? null : { service: name, host: null, realm: null };
  return { service: m[1]!, host: m[3] ?? null, realm: m[4]! };
}

/** SASLAuthenticationProvider.isValid: an ACL id is valid when it parses as a Kerberos name. */
export function isValidSaslId(id: string): boolean {
  return parseKerberosName(id) !== null;
}

/**
 * The `sasl` id of a client that authenticated as `authenticationId` (asking for
 * `authorizationId`, or null), or null when the name is malformed (ZooKeeper fails the
 * exchange then).
 */
export function saslAuthorizationId(authenticationId: string, authorizationId: string | null, rules: PrincipalRules): string | null {
  const name = parseKerberosName(authenticationId);
  if (name === null) return null;
  const short = shortName(name);
  // No rule applied: ZooKeeper logs it and keeps the id the SASL layer proposed.
  if (short === null) return authorizationId ?? authenticationId;
  let id = short;
  if (!rules.removeHostFromPrincipal && name.host !== null) id += `/${name.host}`;
  if (!rules.removeRealmFromPrincipal && name.realm !== null) id += `@${name.realm}`;
  return id;
}

/** KerberosName.getShortName under the DEFAULT rule with an empty default realm. */
function shortName(name: KerberosName): string | null {
  if (name.host === null && name.realm === null) return name.service;
  return name.realm === '' ? name.service : null;
}
