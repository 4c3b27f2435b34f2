import { startTestServer, type TestServer, type TestServerOptions } from '../../src/testing.js';
import { RawClient } from '../support/rawclient.js';
import { CreateMode, OpCode } from '../../src/jute/constants.js';
import type { ACL, Request } from '../../src/jute/index.js';

export const OPEN: ACL[] = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];

export async function withServer(options: TestServerOptions, fn: (s: TestServer) => Promise<void>): Promise<void> {
  const server = await startTestServer(options);
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

export function client(s: TestServer, timeoutMs = 10_000): Promise<RawClient> {
  return RawClient.connect('127.0.0.1', s.port, { timeoutMs });
}

export function create(path: string, data = '', flags: number = CreateMode.PERSISTENT, acl: ACL[] = OPEN): Request {
  return { type: OpCode.create, path, data: Buffer.from(data), acl, flags, ttl: -1 };
}
