/**
 * `server.N` lines and the myid file: who the members of an ensemble are, and which one this is.
 */
import { ConfigError, type QuorumServerAddress, type QuorumServerSpec } from './config.js';
import { parsePort } from './values.js';

function parseHostPort(text: string): { host: string; rest: string[] } {
  // [ipv6]:a:b... or host:a:b...
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end < 0) return { host: '', rest: [] };
    const host = text.slice(1, end);
    const tail = text.slice(end + 1);
    if (tail !== '' && !tail.startsWith(':')) return { host: '', rest: [] };
    return { host, rest: tail === '' ? [] : tail.slice(1).split(':') };
  }
  const parts = text.split(':');
  return { host: parts[0]!, rest: parts.slice(1) };
}

export function parseServerLine(key: string, id: number, value: string): QuorumServerSpec {
  const form =
    `'${value}' does not have the form host:quorumPort:electionPort[:participant|observer][;[clientAddress:]clientPort]`;
  const semi = value.split(';');
  if (semi.length > 2) throw new ConfigError(`invalid ${key}: ${form}`);
  const serverPart = semi[0]!.trim();
  const clientPart = semi.length === 2 ? semi[1]!.trim() : null;
  let type: 'participant' | 'observer' = 'participant';
  const addresses: QuorumServerAddress[] = [];
  const alternatives = serverPart.split('|');
  alternatives.forEach((alt, idx) => {
    const { host, rest } = parseHostPort(alt.trim());
    if (host === '' || rest.length < 2 || rest.length > 3) throw new ConfigError(`invalid ${key}: ${form}`);
    if (rest.length === 3) {
      const t = rest[2]!.toLowerCase();
      if (t !== 'participant' && t !== 'observer') {
        throw new ConfigError(`invalid ${key}: unrecognised peer type '${rest[2]}' (expected participant or observer)`);
      }
      if (idx > 0 && t !== type) throw new ConfigError(`invalid ${key}: every address must have the same peer type`);
      type = t;
    }
    const quorumPort = parsePort(`${key} quorum port`, rest[0]!);
    const electionPort = parsePort(`${key} election port`, rest[1]!);
    if (quorumPort === 0 || electionPort === 0) throw new ConfigError(`invalid ${key}: ports must not be 0 in '${value}'`);
    addresses.push({ host, quorumPort, electionPort });
  });
  let clientPortAddress: string | null = null;
  let clientPort: number | null = null;
  if (clientPart !== null && clientPart !== '') {
    let portText = clientPart;
    const lastColon = clientPart.lastIndexOf(':');
    if (clientPart.startsWith('[')) {
      const end = clientPart.indexOf(']');
      if (end < 0 || clientPart[end + 1] !== ':') throw new ConfigError(`invalid ${key}: ${form}`);
      clientPortAddress = clientPart.slice(1, end);
      portText = clientPart.slice(end + 2);
    } else if (lastColon >= 0) {
      clientPortAddress = clientPart.slice(0, lastColon);
      portText = clientPart.slice(lastColon + 1);
      if (clientPortAddress === '' || clientPortAddress.includes(':')) throw new ConfigError(`invalid ${key}: ${form}`);
    }
    clientPort = parsePort(`${key} client port`, portText);
    if (clientPort === 0) throw new ConfigError(`invalid ${key}: client port must not be 0 in '${value}'`);
  }
  const first = addresses[0]!;
  return { id, host: first.host, quorumPort: first.quorumPort, electionPort: first.electionPort, addresses, type, clientPortAddress, clientPort };
}

// ---------------------------------------------------------------------------------------------
// myid

/** Parses the contents of dataDir/myid (the server id, surrounding blanks allowed). */
export function parseMyid(text: string): number {
  const t = text.trim();
  if (!/^\d+$/.test(t) || !Number.isSafeInteger(Number(t))) {
    const shown = t.length > 60 ? `${t.slice(0, 60)}...` : t;
    throw new ConfigError(`invalid myid file: server id '${shown}' is not a number`);
  }
  return Number(t);
}
