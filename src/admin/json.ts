/**
 * JSON with 64-bit integers: session ids are bigints, and ZooKeeper's AdminServer prints them as
 * plain JSON numbers (Jackson), so they are written as numbers here too, not as strings.
 */
export function toJson(value: unknown, indent = ''): string {
  if (typeof value === 'bigint') return value.toString();
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  if (typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[ ]';
    return `[ ${value.map((v) => toJson(v, inner)).join(', ')} ]`;
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return '{ }';
  return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)} : ${toJson(v, inner)}`).join(',\n')}\n${indent}}`;
}
