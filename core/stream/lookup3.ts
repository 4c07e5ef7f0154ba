/**
 * Bob Jenkins' lookup3 `hashlittle2`, and the partition-key → partition mapping Event Hubs
 * builds on it. The local hub server routes key-bearing batches with this so an event lands
 * where the cloud service (and the SDK's buffered producer, which hashes client-side) would put it.
 */

/** Both 32-bit halves produced by `hashlittle2` (`c` is the primary hash, `b` the secondary). */
export interface Lookup3Pair {
  c: number;
  b: number;
}

function rot(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

function readLe32(k: Uint8Array, i: number): number {
  return (k[i]! | (k[i + 1]! << 8) | (k[i + 2]! << 16) | (k[i + 3]! << 24)) >>> 0;
}

/**
 * lookup3 `hashlittle2` over `key`. `pc` and `pb` are the two seeds, exactly as the C
 * function's in/out parameters; both results are unsigned 32-bit integers. Reads the tail
 * byte by byte, which equals the C code's word reads on little-endian machines.
 */
export function hashlittle2(key: Uint8Array, pc = 0, pb = 0): Lookup3Pair {
  let length = key.length;
  let a = (0xdeadbeef + length + pc) >>> 0;
  let b = a;
  let c = (a + pb) >>> 0;
  let i = 0;
  while (length > 12) {
    a = (a + readLe32(key, i)) >>> 0;
    b = (b + readLe32(key, i + 4)) >>> 0;
    c = (c + readLe32(key, i + 8)) >>> 0;
    // mix(a, b, c)
    a = (a - c) >>> 0; a = (a ^ rot(c, 4)) >>> 0; c = (c + b) >>> 0;
    b = (b - a) >>> 0; b = (b ^ rot(a, 6)) >>> 0; a = (a + c) >>> 0;
    c = (c - b) >>> 0; c = (c ^ rot(b, 8)) >>> 0; b = (b + a) >>> 0;
    a = (a - c) >>> 0; a = (a ^ rot(c, 16)) >>> 0; c = (c + b) >>> 0;
    b = (b - a) >>> 0; b = (b ^ rot(a, 19)) >>> 0; a = (a + c) >>> 0;
    c = (c - b) >>> 0; c = (c ^ rot(b, 4)) >>> 0; b = (b + a) >>> 0;
    i += 12;
    length -= 12;
  }
  // An empty key skips the final mix entirely (the C code's `case 0: return`).
  if (length === 0) return { c, b };
  for (let j = 0; j < length; j++) {
    const v = key[i + j]! * 2 ** ((j & 3) * 8);
    if (j < 4) a = (a + v) >>> 0;
    else if (j < 8) b = (b + v) >>> 0;
    else c = (c + v) >>> 0;
  }
  // final(a, b, c)
  c = (c ^ b) >>> 0; c = (c - rot(b, 14)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rot(c, 11)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rot(a, 25)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rot(b, 16)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rot(c, 4)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rot(a, 14)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rot(b, 24)) >>> 0;
  return { c, b };
}

/** The Event Hubs partition-key hash: `c xor b` of hashlittle2 (UTF-8, seeds 0) as a signed 16-bit value. */
export function partitionKeyHash(partitionKey: string): number {
  const { c, b } = hashlittle2(Buffer.from(partitionKey, 'utf8'));
  return ((c ^ b) << 16) >> 16;
}

/** Partition index (0-based) the service assigns to `partitionKey` on a hub with `partitionCount` partitions. */
export function partitionForKey(partitionKey: string, partitionCount: number): number {
  if (!Number.isInteger(partitionCount) || partitionCount < 1) {
    throw new RangeError(`partitionCount must be a positive integer, got ${partitionCount}`);
  }
  return Math.abs(partitionKeyHash(partitionKey) % partitionCount);
}
