/** Small ports of java.lang parsing behaviour that ZooKeeper's auth providers rely on. */

/**
 * Integer.parseInt: an optional sign then at least one digit of the radix, within int range;
 * null where Java would throw NumberFormatException.
 */
export function javaParseInt(s: string, radix: number): number | null {
  const digits = radix === 16 ? /^[+-]?[0-9a-fA-F]+$/ : /^[+-]?[0-9]+$/;
  if (!digits.test(s)) return null;
  const v = parseInt(s, radix);
  return v < -0x80000000 || v > 0x7fffffff ? null : v;
}

/** String.split(regex) with a literal one-char separator: trailing empty strings are dropped. */
export function javaSplit(s: string, sep: string): string[] {
  if (s.length === 0) return [''];
  const parts = s.split(sep);
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}
