/** The messages zkCli prints for a failed ZooKeeper call (its CliWrapperException and KeeperException texts). */
import { KeeperError } from '../../client/index.js';

const CODE_MESSAGES: Record<number, string> = {
  [-1]: 'SystemError',
  [-2]: 'RuntimeInconsistency',
  [-3]: 'DataInconsistency',
  [-4]: 'ConnectionLoss',
  [-5]: 'MarshallingError',
  [-6]: 'Unimplemented',
  [-7]: 'OperationTimeout',
  [-8]: 'BadArguments',
  [-12]: 'Unknown session',
  [-13]: 'No quorum of new config is connected and up-to-date with the leader of last commmitted config - try invoking reconfiguration after new servers are connected and synced',
  [-14]: 'Another reconfiguration is in progress -- concurrent reconfigs not supported (yet)',
  [-100]: 'APIError',
  [-101]: 'NoNode',
  [-102]: 'NoAuth',
  [-103]: 'BadVersion',
  [-108]: 'NoChildrenForEphemerals',
  [-110]: 'NodeExists',
  [-111]: 'Directory not empty',
  [-112]: 'Session expired',
  [-113]: 'Invalid callback',
  [-114]: 'InvalidACL',
  [-115]: 'AuthFailed',
  [-118]: 'Session moved',
  [-119]: 'Not a read-only call',
  [-120]: 'Ephemeral node on local session',
  [-121]: 'No such watcher',
  [-122]: 'Request timeout',
  [-123]: 'Reconfig is disabled',
  [-124]: 'Session closed because client failed to authenticate',
  [-125]: 'Quota has exceeded',
  [-127]: 'Op throttled due to high load',
};

/** Java's KeeperException#getMessage: `KeeperErrorCode = NoNode for /x`. */
export function keeperMessage(code: number, path: string | undefined): string {
  const text = CODE_MESSAGES[code] ?? `Unknown error ${code}`;
  return `KeeperErrorCode = ${text}${path === undefined ? '' : ` for ${path}`}`;
}

/** The line zkCli prints for a failed call about `path`. */
export function cliMessage(err: unknown, path?: string): string {
  if (!(err instanceof KeeperError)) return err instanceof Error ? err.message : String(err);
  const p = err.path ?? path;
  switch (err.code) {
    case -101: return `Node does not exist: ${p}`;
    case -102: return `Insufficient permission : ${p}`;
    case -111: return `Node not empty: ${p}`;
    case -110: return `Node already exists: ${p}`;
    case -108: return `Ephemerals cannot have children: ${p}`;
    case -114: return `Acl is not valid : ${p}`;
    case -103: return `version No is not valid : ${p}`;
    default: return keeperMessage(err.code, err.path);
  }
}
