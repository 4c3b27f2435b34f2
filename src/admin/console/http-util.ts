/** Small HTTP helpers for the console: JSON in and out, cookies, and the headers every answer carries. */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Largest request body: a 1 MiB znode (jute.maxbuffer) in base64 plus its JSON envelope. */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;

/** An answer with a status and a JSON body; thrown or returned by the API's handlers. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** No framing, no sniffing, scripts and styles only from this server (the page has no inline code). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
  res.writeHead(status, { ...SECURITY_HEADERS, ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, err: ApiError): void {
  sendJson(res, err.status, { error: err.code, message: err.message, ...err.extra });
}

/** Reads a JSON object body of at most MAX_BODY_BYTES. */
export function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        failed = true;
        reject(new ApiError(413, 'TOOLARGE', `request body over ${MAX_BODY_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', (err) => {
      if (!failed) reject(err);
      failed = true;
    });
    req.on('end', () => {
      if (failed) return;
      let parsed: unknown;
      try {
        parsed = chunks.length === 0 ? {} : JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return reject(new ApiError(400, 'BADARGUMENTS', 'the body is not JSON'));
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return reject(new ApiError(400, 'BADARGUMENTS', 'the body must be a JSON object'));
      resolve(parsed as Record<string, unknown>);
    });
  });
}

export function cookieValue(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Field readers: a missing or mistyped field is a 400 naming it. */
export function stringField(body: Record<string, unknown>, name: string): string {
  const v = body[name];
  if (typeof v !== 'string') throw new ApiError(400, 'BADARGUMENTS', `'${name}' must be a string`);
  return v;
}

export function intField(body: Record<string, unknown>, name: string, fallback?: number): number {
  const v = body[name] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ApiError(400, 'BADARGUMENTS', `'${name}' must be an integer`);
  return v;
}

export function intParam(params: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const text = params.get(name);
  if (text === null || text === '') return fallback;
  const v = Number(text);
  if (!Number.isInteger(v) || v < min || v > max) throw new ApiError(400, 'BADARGUMENTS', `'${name}' must be an integer from ${min} to ${max}`);
  return v;
}
