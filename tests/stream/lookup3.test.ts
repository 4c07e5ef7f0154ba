import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { hashlittle2, partitionForKey, partitionKeyHash } from '../../core/stream/lookup3.ts';

const hex = (n: number): string => n.toString(16).padStart(8, '0');

describe('lookup3 hashlittle2', () => {
  // The self-test vectors printed by driver5() in Bob Jenkins' lookup3.c (output order: c then b).
  const fourScore = Buffer.from('Four score and seven years ago');
  const cases: Array<[string, Uint8Array, number, number, string, string]> = [
    ['empty, seeds 0', Buffer.alloc(0), 0, 0, 'deadbeef', 'deadbeef'],
    ['empty, pb=deadbeef', Buffer.alloc(0), 0, 0xdeadbeef, 'bd5b7dde', 'deadbeef'],
    ['empty, both deadbeef', Buffer.alloc(0), 0xdeadbeef, 0xdeadbeef, '9c093ccd', 'bd5b7dde'],
    ['30 bytes, seeds 0', fourScore, 0, 0, '17770551', 'ce7226e6'],
    ['30 bytes, pb=1', fourScore, 0, 1, 'e3607cae', 'bd371de4'],
    ['30 bytes, pc=1', fourScore, 1, 0, 'cd628161', '6cbea4b3'],
  ];
  for (const [name, key, pc, pb, c, b] of cases) {
    it(`matches lookup3.c driver5: ${name}`, () => {
      const r = hashlittle2(key, pc, pb);
      expect([hex(r.c), hex(r.b)]).toEqual([c, b]);
    });
  }
});

describe('partition key mapping', () => {
  // Derived once from @azure/event-hubs 6.0.4 impl/partitionKeyToIdMapper (hashPartitionKey,
  // mapPartitionKeyToId for 4 and 32 partitions). Lengths cover every tail case around 12 bytes.
  const vectors: Array<[string, number, number, number]> = [
    ['', 0, 0, 0],
    ['a', -16220, 0, 28],
    ['ab', 2093, 1, 13],
    ['abc', -14161, 1, 17],
    ['abcd', 23398, 2, 6],
    ['abcde', 27137, 1, 1],
    ['device-0', 13854, 2, 30],
    ['device-17', -8360, 0, 8],
    ['sensor/plant-3/line-12', 27401, 1, 9],
    ['twelve bytes', 6222, 2, 14],
    ['thirteen bytes', -8030, 2, 30],
    ['café', 23999, 3, 31],
    ['设备-42', 19863, 3, 23],
    ['Four score and seven years ago', 9143, 3, 23],
  ];
  for (const [key, hash, p4, p32] of vectors) {
    it(`maps ${JSON.stringify(key)} like the SDK`, () => {
      expect(partitionKeyHash(key)).toBe(hash);
      expect(partitionForKey(key, 4)).toBe(p4);
      expect(partitionForKey(key, 32)).toBe(p32);
    });
  }

  it('rejects a non-positive partition count', () => {
    expect(() => partitionForKey('x', 0)).toThrow(RangeError);
  });

  // Cross-check against the SDK's shipped mapper when this SDK build still has it at the same
  // internal path (it is not a public export, so a later SDK may move it: then this is skipped).
  const mapperPath = fileURLToPath(
    new URL('../../node_modules/@azure/event-hubs/dist/esm/impl/partitionKeyToIdMapper.js', import.meta.url),
  );
  it.skipIf(!existsSync(mapperPath))('agrees with the SDK internal mapper on 5,000 generated keys', async () => {
    const mod: unknown = await import(pathToFileURL(mapperPath).href);
    const m = mod as { hashPartitionKey?: unknown; mapPartitionKeyToId?: unknown };
    if (typeof m.hashPartitionKey !== 'function' || typeof m.mapPartitionKeyToId !== 'function') return;
    const sdkHash = m.hashPartitionKey as (k: string) => number;
    const sdkMap = m.mapPartitionKeyToId as (k: string, n: number) => number;
    for (let i = 0; i < 5000; i++) {
      let k = '';
      for (let j = 0; j < i % 37; j++) k += String.fromCharCode(32 + ((i * 7919 + j * 104729) % 700));
      expect(partitionKeyHash(k)).toBe(sdkHash(k));
      expect(partitionForKey(k, 7)).toBe(sdkMap(k, 7));
    }
  });
});
