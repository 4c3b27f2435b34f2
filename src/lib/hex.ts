/** A 64-bit id or zxid as ZooKeeper logs it: 0x and lowercase hex of the unsigned value. */
export function hex(n: number | bigint): string {
  return '0x' + BigInt.asUintN(64, BigInt(n)).toString(16);
}
