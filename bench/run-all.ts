/**
 * `npm run bench`: every benchmark in sequence, each in its own process so one
 * does not skew another's memory figures. Pass names to run a subset:
 *   npm run bench -- ingest explore
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './lib.ts';

const all = ['gen-fleet', 'ingest', 'explore', 'models', 'detect', 'hub-throughput', 'stream', 'sweep'];
const chosen = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = chosen.length ? chosen : all;
let failed = 0;
for (const name of names) {
  const file = join(ROOT, 'bench', `${name}.ts`);
  if (!existsSync(file)) {
    console.log(`\n== ${name}: not present, skipped`);
    continue;
  }
  console.log(`\n== bench/${name}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.log(`bench/${name} exited with ${r.status ?? r.signal}`);
  }
}
process.exit(failed ? 1 : 0);
