/**
 * What a server does with SASL and enforced authentication, over explicit inputs: the settings,
 * the parsed JAAS file, and a nonce source. ZooKeeper's counterparts are ServerCnxnFactory's
 * SASL login, ZooKeeperServer.processSasl and AuthenticationHelper.
 */
import { Err } from '../jute/constants.js';
import type { Id } from '../jute/records.js';
import { DIGEST_LOGIN_MODULE, enforcedSchemes, saslRequired, type AuthConfig } from './config.js';
import type { JaasConfig, JaasModule } from './jaas.js';
import { saslAuthorizationId } from './principal.js';
import { DigestMd5Server, SaslError } from './sasl-digest.js';

/** JAAS options naming a DIGEST-MD5 user: `user_bob="password"`. */
const USER_PREFIX = 'user_';

/** A JAAS file that cannot serve as the server's SASL login. */
export class SaslConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SaslConfigError';
  }
}

export interface ServerAuth {
  readonly config: AuthConfig;
  /** DIGEST-MD5 users and passwords of the login section, or null without a JAAS file. */
  readonly credentials: ReadonlyMap<string, string> | null;
  /** Schemes a connection must have before its requests are served, or null. */
  readonly enforced: readonly string[] | null;
  readonly saslRequired: boolean;
}

/**
 * The server's authentication setup. `jaas` is the parsed JAAS file and where it came from, or
 * null when none is configured. Throws SaslConfigError for a login section that is missing, or
 * that asks for Kerberos or another login module Paddock does not have.
 */
export function createServerAuth(config: AuthConfig, jaas: { config: JaasConfig; source: string } | null): ServerAuth {
  return {
    config,
    credentials: jaas === null || quorumOnly(config, jaas.config) ? null : digestCredentials(jaas.config, config.saslLoginContext, jaas.source),
    enforced: enforcedSchemes(config),
    saslRequired: saslRequired(config),
  };
}

/**
 * A JAAS file written for quorum SASL only, without the clients' section: ZooKeeper then serves
 * clients as without JAAS (configureSaslLogin finds no section and goes on). Without quorum SASL
 * a missing section stays an error, since the file can only have been meant for clients.
 */
function quorumOnly(config: AuthConfig, jaas: JaasConfig): boolean {
  return config.quorumSaslEnabled && !jaas.has(config.saslLoginContext);
}

/**
 * The DIGEST-MD5 users (user_NAME="password") of a JAAS section that must use
 * DigestLoginModule. Throws SaslConfigError for a missing section, Kerberos or another module.
 */
export function digestCredentials(jaas: JaasConfig, section: string, source: string): Map<string, string> {
  const credentials = new Map<string, string>();
  for (const module of sectionModules(jaas, section, source)) {
    checkDigestModule(module, source, 'user_NAME="password" options');
    for (const [key, value] of module.options) {
      if (key.startsWith(USER_PREFIX)) credentials.set(key.slice(USER_PREFIX.length), value);
    }
  }
  return credentials;
}

function sectionModules(jaas: JaasConfig, section: string, source: string): readonly JaasModule[] {
  const modules = jaas.get(section);
  if (modules !== undefined) return modules;
  const known = [...jaas.keys()].join(', ') || 'none';
  throw new SaslConfigError(`no JAAS configuration section named '${section}' was found in '${source}' (sections: ${known})`);
}

function checkDigestModule(module: JaasModule, source: string, what: string): void {
  if (/krb5|kerberos/i.test(module.className)) {
    throw new SaslConfigError(
      `${source} line ${module.line}: ${module.className} asks for GSSAPI/Kerberos, which Paddock does not support; use ${DIGEST_LOGIN_MODULE} with ${what}`,
    );
  }
  if (module.className !== DIGEST_LOGIN_MODULE) {
    throw new SaslConfigError(`${source} line ${module.line}: login module ${module.className} is not supported; Paddock's SASL login is ${DIGEST_LOGIN_MODULE}`);
  }
}

/**
 * The user name and password a login section gives the connecting side (DigestLoginModule's
 * `username` and `password` options, as a quorum learner's QuorumLearner section has them).
 */
export function digestLogin(jaas: JaasConfig, section: string, source: string): { username: string; password: string } {
  for (const module of sectionModules(jaas, section, source)) {
    checkDigestModule(module, source, 'username="NAME" password="PASSWORD" options');
    const username = module.options.get('username');
    const password = module.options.get('password');
    if (username !== undefined && password !== undefined) return { username, password };
  }
  throw new SaslConfigError(`JAAS section '${section}' in '${source}' has no ${DIGEST_LOGIN_MODULE} entry with both username and password options`);
}

/** What to answer a sasl request with. On failure the connection is closed after the reply. */
export type SaslOutcome =
  | { readonly ok: true; readonly token: Uint8Array | null; readonly ids: readonly Id[]; readonly log: string | null }
  | { readonly ok: false; readonly err: number; readonly log: string };

/** One connection's SASL exchange (a connection has one DIGEST-MD5 server, as in ZooKeeper). */
export class SaslConversation {
  private server: DigestMd5Server | null = null;

  constructor(
    private readonly auth: ServerAuth,
    private readonly newNonce: () => string,
  ) {}

  evaluate(token: Uint8Array): SaslOutcome {
    const credentials = this.auth.credentials;
    // Like ZooKeeper without a JAAS login: nothing to negotiate with, an empty OK.
    if (credentials === null) return { ok: true, token: null, ids: [], log: null };
    try {
      const first = this.server === null;
      this.server ??= new DigestMd5Server({ nonce: this.newNonce(), password: (user) => this.password(credentials, user) });
      const reply = this.server.evaluate(token);
      if (!this.server.complete) {
        const log = first && this.server.openedWithToken ? 'the client opened SASL with a token (GSSAPI/Kerberos?); only DIGEST-MD5 is offered' : null;
        return { ok: true, token: reply, ids: [], log };
      }
      return { ok: true, token: reply, ids: this.identities(), log: null };
    } catch (err) {
      if (!(err instanceof SaslError)) throw err;
      return this.failed(err.message);
    }
  }

  private password(credentials: ReadonlyMap<string, string>, user: string): string | null {
    const own = credentials.get(user);
    if (own === undefined) return null;
    return user === 'super' && this.auth.config.superPassword !== null ? this.auth.config.superPassword : own;
  }

  private identities(): Id[] {
    const who = this.server!.identity!;
    const id = saslAuthorizationId(who.authenticationId, who.authorizationId, this.auth.config);
    // ZooKeeper's KerberosName throws on such a name and the exchange goes no further.
    if (id === null) throw new SaslError(`malformed principal name '${who.authenticationId}'`);
    const ids: Id[] = [{ scheme: 'sasl', id }];
    if (this.auth.config.superUsers.includes(id)) ids.push({ scheme: 'super', id: '' });
    return ids;
  }

  private failed(reason: string): SaslOutcome {
    if (this.auth.config.allowSaslFailedClients && !this.auth.saslRequired) {
      return { ok: true, token: null, ids: [], log: `SASL authentication failed (${reason}); keeping the connection (allowSaslFailedClients)` };
    }
    const err = this.auth.saslRequired ? Err.SESSIONCLOSEDREQUIRESASLAUTH : Err.AUTHFAILED;
    return { ok: false, err, log: `SASL authentication failed: ${reason}` };
  }
}

/**
 * True when a request (other than auth and sasl) must be refused because the connection holds
 * no id of an enforced scheme (AuthenticationHelper.enforceAuthentication).
 */
export function authenticationMissing(auth: ServerAuth, ids: readonly Id[]): boolean {
  const schemes = auth.enforced;
  return schemes !== null && !ids.some((id) => schemes.includes(id.scheme));
}
