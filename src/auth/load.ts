/**
 * The I/O edge of authentication: reads the JAAS file named by the configuration, takes its path
 * from the JVM flags ZooKeeper's scripts would pass, and makes SASL nonces from the system's
 * random source. Everything it hands on is checked here, so a bad setup stops the start.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/config.js';
import { authConfigProblem, quorumAuthProblem, type AuthConfig } from './config.js';
import { JaasError, parseJaas } from './jaas.js';
import type { QuorumSasl } from './quorum-auth.js';
import { createServerAuth, digestCredentials, digestLogin, SaslConfigError, type ServerAuth } from './sasl-server.js';

/** The JVM property ZooKeeper reads its JAAS file from. */
export const JAAS_PROPERTY = 'java.security.auth.login.config';

/** Reads and checks the authentication setup; throws ConfigError with the file and line at fault. */
export function loadServerAuth(config: AuthConfig): ServerAuth {
  const problem = authConfigProblem(config);
  if (problem !== null) throw new ConfigError(`refusing to start: ${problem}`);
  const path = config.jaasConfigPath;
  try {
    return createServerAuth(config, path === null ? null : { config: parseJaas(readJaas(path)), source: path });
  } catch (err) {
    if (err instanceof JaasError) throw new ConfigError(`JAAS configuration ${path} ${err.message}`);
    if (err instanceof SaslConfigError) throw new ConfigError(err.message);
    throw err;
  }
}

function readJaas(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read the JAAS configuration ${path} (${JAAS_PROPERTY}): ${(err as Error).message}`);
  }
}

/** A nonce for one DIGEST-MD5 exchange: 30 random bytes (40 characters, as Java makes them), base64 (no quotes or backslashes). */
export function newSaslNonce(): string {
  return randomBytes(30).toString('base64');
}

/**
 * `-Dname=value` system properties in the JVM flags zkServer.sh passes (SERVER_JVMFLAGS, then
 * JVMFLAGS: the later flag wins, as in Java). Words are split on white space; single or double
 * quotes around a word or a value are removed.
 */
export function jvmSystemProperties(env: Readonly<Record<string, string | undefined>>): Map<string, string> {
  const props = new Map<string, string>();
  const words = `${env.SERVER_JVMFLAGS ?? ''} ${env.JVMFLAGS ?? ''}`.match(/(?:[^\s"']+|"[^"]*"|'[^']*')+/g) ?? [];
  for (const word of words) {
    const unquoted = word.replace(/"([^"]*)"|'([^']*)'/g, (_, a: string | undefined, b: string | undefined) => a ?? b ?? '');
    const m = /^-D([^=]+)=(.*)$/s.exec(unquoted);
    if (m) props.set(m[1]!, m[2]!);
  }
  return props;
}

/** The JAAS file from the JVM flags, when zoo.cfg does not name one itself. */
export function applyJvmFlags(config: AuthConfig, env: Readonly<Record<string, string | undefined>>): void {
  const props = jvmSystemProperties(env);
  const path = props.get(JAAS_PROPERTY);
  if (config.jaasConfigPath === null && path !== undefined && path !== '') config.jaasConfigPath = path;
}

/**
 * Quorum SASL's setup, or null when quorum.auth.enableSasl is off. As ZooKeeper's QuorumPeer,
 * both JAAS sections must be there once it is on (the server's users and the learner's own
 * login); `hosts` are the server.N host names a Kerberos-style principal may name.
 */
export function loadQuorumSasl(config: AuthConfig, hosts: readonly string[]): QuorumSasl | null {
  const problem = quorumAuthProblem(config);
  if (problem !== null) throw new ConfigError(`refusing to start: ${problem}`);
  if (!config.quorumSaslEnabled) return null;
  const path = config.jaasConfigPath;
  if (path === null) {
    throw new ConfigError(`quorum.auth.enableSasl=true needs a JAAS file with '${config.quorumServerLoginContext}' and '${config.quorumLearnerLoginContext}' sections: set ${JAAS_PROPERTY}`);
  }
  try {
    const jaas = parseJaas(readJaas(path));
    return {
      serverRequired: config.quorumServerRequireSasl,
      learnerRequired: config.quorumLearnerRequireSasl,
      serverCredentials: digestCredentials(jaas, config.quorumServerLoginContext, path),
      authorizedHosts: new Set(hosts),
      learner: digestLogin(jaas, config.quorumLearnerLoginContext, path),
    };
  } catch (err) {
    if (err instanceof JaasError) throw new ConfigError(`JAAS configuration ${path} ${err.message}`);
    if (err instanceof SaslConfigError) throw new ConfigError(`quorum SASL: ${err.message}`);
    throw err;
  }
}
