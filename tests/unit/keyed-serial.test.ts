/** KeyedSerial: one piece of work at a time per key, in call order, failures contained, keys forgotten when idle. */
import { describe, expect, it } from 'vitest';
import { KeyedSerial } from '../../core/util/keyed-serial.ts';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('KeyedSerial', () => {
  it('runs work for one key in call order without overlap, other keys alongside, and forgets idle keys', async () => {
    const serial = new KeyedSerial();
    const log: string[] = [];
    let running = 0;
    const job = (name: string, turns: number) => async (): Promise<string> => {
      running++;
      log.push(`start ${name}`);
      expect(running).toBeLessThanOrEqual(2); // a and b may overlap each other, never themselves
      for (let i = 0; i < turns; i++) await tick();
      log.push(`end ${name}`);
      running--;
      return name;
    };
    const results = await Promise.all([serial.run('a', job('a1', 3)), serial.run('a', job('a2', 1)), serial.run('b', job('b1', 1))]);
    expect(results).toEqual(['a1', 'a2', 'b1']);
    expect(log.indexOf('end a1')).toBeLessThan(log.indexOf('start a2'));
    // b did not wait for a.
    expect(log.indexOf('end b1')).toBeLessThan(log.indexOf('end a1'));
    await tick();
    expect(serial.size).toBe(0);
  });

  it('gives a failure to its own caller and still runs what was queued after it', async () => {
    const serial = new KeyedSerial();
    const failing = serial.run('k', async () => {
      await tick();
      throw new Error('boom');
    });
    const next = serial.run('k', async () => 'after');
    await expect(failing).rejects.toThrow('boom');
    await expect(next).resolves.toBe('after');
  });
});
