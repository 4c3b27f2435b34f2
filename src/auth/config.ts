/**
 * The SASL and enforced-authentication settings of a server, as zoo.cfg (and the JVM flags
 * ZooKeeper would read them from) give them. Checked at start by `checkAuthConfig`.
 */

export const SASL_PROVIDER_CLASS = 'org.apache.zookeeper.server.auth.SASLAuthenticationProvider';
export const DIGEST_LOGIN_MODULE = 'org.apache.zookeeper.server.auth.DigestLoginModule';

export interface AuthConfig {
  /**
   * The JAAS login configuration file (Java's `java.security.auth.login.config`), or null: then
   * SASL is answered as by a ZooKeeper without JAAS (OK, no token, nothing learnt).
   */
  jaasConfigPath: string | null;
  /** zookeeper.sasl.serverconfig: the JAAS section of the server's login. */
  saslLoginContext: string;
  /** Schemes registered with authProvider.N beyond the built-in ip and digest ('sasl'). */
  providers: readonly string[];
  /** zookeeper.enforce.auth.enabled and zookeeper.enforce.auth.schemes. */
  enforceAuthEnabled: boolean;
  enforceAuthSchemes: readonly string[];
  /** zookeeper.sessionRequireClientSASLAuth: enforce.auth with the sasl scheme. */
  sessionRequireClientSASLAuth: boolean;
  /** zookeeper.allowSaslFailedClients: a failed SASL exchange does not close the connection. */
  allowSaslFailedClients: boolean;
  /** zookeeper.superUser (and zookeeper.superUser.*): sasl ids that also get `super`. */
  superUsers: readonly string[];
  /** zookeeper.SASLAuthenticationProvider.superPassword: the password of SASL user "super". */
  superPassword: string | null;
  removeHostFromPrincipal: boolean;
  removeRealmFromPrincipal: boolean;
  /** quorum.auth.enableSasl: SASL between servers (see src/auth/quorum-auth.ts). */
  quorumSaslEnabled: boolean;
  /** quorum.auth.serverRequireSasl: peers connecting here must authenticate. */
  quorumServerRequireSasl: boolean;
  /** quorum.auth.learnerRequireSasl: this server authenticates when it connects to a peer. */
  quorumLearnerRequireSasl: boolean;
  /** quorum.auth.server.saslLoginContext and quorum.auth.learner.saslLoginContext: JAAS sections. */
  quorumServerLoginContext: string;
  quorumLearnerLoginContext: string;
}

export function defaultAuthConfig(): AuthConfig {
  return {
    jaasConfigPath: null,
    saslLoginContext: 'Server',
    providers: [],
    enforceAuthEnabled: false,
    enforceAuthSchemes: [],
    sessionRequireClientSASLAuth: false,
    allowSaslFailedClients: false,
    superUsers: [],
    superPassword: null,
    removeHostFromPrincipal: false,
    removeRealmFromPrincipal: false,
    quorumSaslEnabled: false,
    quorumServerRequireSasl: false,
    quorumLearnerRequireSasl: false,
    quorumServerLoginContext: 'QuorumServer',
    quorumLearnerLoginContext: 'QuorumLearner',
  };
}

/** Schemes every server has (ZooKeeper's ProviderRegistry registers ip and digest itself). */
const BUILT_IN_SCHEMES = ['ip', 'digest'];

/**
 * The schemes a connection must hold an id of before any request other than auth and sasl, or
 * null when authentication is not enforced (AuthenticationHelper: sessionRequireClientSASLAuth
 * means enforce.auth with just sasl, whatever enforce.auth.* say).
 */
export function enforcedSchemes(auth: AuthConfig): readonly string[] | null {
  if (auth.sessionRequireClientSASLAuth) return ['sasl'];
  return auth.enforceAuthEnabled ? auth.enforceAuthSchemes : null;
}

/** The problem ZooKeeper refuses to start with, or null (AuthenticationHelper.validateConfiguredProperties). */
export function authConfigProblem(auth: AuthConfig): string | null {
  const schemes = enforcedSchemes(auth);
  if (schemes === null) return null;
  if (schemes.length === 0) return 'enforce.auth.enabled is true, so enforce.auth.schemes must be configured';
  const available = new Set([...BUILT_IN_SCHEMES, ...auth.providers]);
  for (const scheme of schemes) {
    if (!available.has(scheme)) {
      const hint = scheme === 'sasl' ? ` (register it with authProvider.1=${SASL_PROVIDER_CLASS})` : '';
      return `authentication scheme ${scheme} is not available${hint}`;
    }
  }
  return null;
}

/** True when enforcement requires the sasl scheme: failed SASL exchanges answer SESSIONCLOSEDREQUIRESASLAUTH. */
export function saslRequired(auth: AuthConfig): boolean {
  return enforcedSchemes(auth)?.includes('sasl') ?? false;
}

/**
 * The combination of quorum.auth.* ZooKeeper refuses to start with, or null
 * (QuorumPeerConfig): a requirement without enableSasl, and a server that requires SASL of
 * others without authenticating itself (it could then never join).
 */
export function quorumAuthProblem(auth: AuthConfig): string | null {
  if (!auth.quorumSaslEnabled && auth.quorumServerRequireSasl) return 'quorum.auth.enableSasl is disabled, so cannot enable quorum.auth.serverRequireSasl';
  if (!auth.quorumSaslEnabled && auth.quorumLearnerRequireSasl) return 'quorum.auth.enableSasl is disabled, so cannot enable quorum.auth.learnerRequireSasl';
  if (!auth.quorumLearnerRequireSasl && auth.quorumServerRequireSasl) return 'quorum.auth.learnerRequireSasl is disabled, so cannot enable quorum.auth.serverRequireSasl';
  return null;
}
