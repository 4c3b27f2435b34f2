/// <reference lib="dom" />
/** A znode's bytes shown and edited as text, JSON or hex, picked by what the bytes look like. */

export type DataFormat = 'text' | 'json' | 'hex';

export function fromBase64(text: string): Uint8Array {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function toBase64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

function utf8(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

/** JSON when it parses as an object or array, text when it is UTF-8 without control bytes, else hex. */
export function detectFormat(bytes: Uint8Array): DataFormat {
  const text = utf8(bytes);
  if (text === null || /[\u0000-\u0008\u000e-\u001f]/.test(text)) return 'hex';
  const trimmed = text.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      JSON.parse(trimmed);
      return 'json';
    } catch {
      // Looks like JSON but is not: show it as text.
    }
  }
  return 'text';
}

/** The bytes as the editor shows them in `format`; null when they cannot be shown that way. */
export function render(bytes: Uint8Array, format: DataFormat): string | null {
  if (format === 'hex') return hexDump(bytes);
  const text = utf8(bytes);
  if (text === null) return null;
  if (format === 'text') return text;
  try {
    JSON.parse(text);
  } catch {
    return null;
  }
  // Already laid out by whoever wrote it: keep their layout.
  return text.includes('\n') ? text : indentJson(text);
}

/**
 * Valid JSON text laid out over lines, token for token: re-serialising through JSON.parse would
 * round numbers beyond 2^53 and change what a later save writes.
 */
export function indentJson(text: string): string {
  let out = '';
  let depth = 0;
  let inString = false;
  const newline = (): string => '\n' + '  '.repeat(depth);
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (inString) {
      out += ch;
      if (ch === '\\') out += text[++i] ?? '';
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') continue;
    if (ch === '"') inString = true;
    if (ch === '}' || ch === ']') {
      depth--;
      // An empty object or array stays on one line.
      out = /[[{]$/.test(out) ? out + ch : out + newline() + ch;
      continue;
    }
    if (ch === '{' || ch === '[') {
      depth++;
      out += ch;
      const next = text.slice(i + 1).trimStart()[0];
      if (next !== '}' && next !== ']') out += newline();
      continue;
    }
    if (ch === ',') out += ',' + newline();
    else if (ch === ':') out += ': ';
    else out += ch;
  }
  return out;
}

function hexDump(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += 16) {
    lines.push([...bytes.subarray(i, i + 16)].map((b) => b.toString(16).padStart(2, '0')).join(' '));
  }
  return lines.join('\n');
}

/** The editor's text back to bytes; throws with a message saying what is wrong. */
export function parse(text: string, format: DataFormat): Uint8Array {
  if (format === 'text') return new TextEncoder().encode(text);
  if (format === 'json') {
    JSON.parse(text); // throws SyntaxError naming the position
    return new TextEncoder().encode(text);
  }
  const digits = text.replace(/\s+/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(digits)) throw new Error('hex must be pairs of hex digits');
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return out;
}
