// `npm test`: typecheck, unit + contract tests, then end-to-end tests (browser mode in Chromium).
// Prints one closing line "tests: N passed, N failed, N skipped" over both vitest runs.
import { readFileSync, mkdirSync } from 'node:fs';
import { ensureRendererBuilt, run } from './lib.mjs';

const vitest = ['node_modules/vitest/vitest.mjs', 'run'];
mkdirSync('test-results', { recursive: true });
const totals = { passed: 0, failed: 0, skipped: 0 };

function count(file) {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8'));
    totals.passed += r.numPassedTests ?? 0;
    totals.failed += (r.numFailedTests ?? 0) + (r.numFailedTestSuites ?? 0 ? 0 : 0);
    totals.skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  } catch {
    totals.failed += 1;
  }
}

const steps = [];
console.log('== typecheck');
steps.push(await run('npm', ['run', '--silent', 'typecheck']));
console.log('== unit and contract tests');
steps.push(await run(process.execPath, [...vitest, '--project', 'unit', '--reporter=default', '--reporter=json', '--outputFile.json=test-results/unit.json']));
count('test-results/unit.json');
console.log('== end-to-end tests');
steps.push(await ensureRendererBuilt());
steps.push(await run(process.execPath, [...vitest, '--project', 'e2e', '--reporter=default', '--reporter=json', '--outputFile.json=test-results/e2e.json']));
count('test-results/e2e.json');
const failedSteps = steps.filter((c) => c !== 0).length;
console.log(`\ntests: ${totals.passed} passed, ${totals.failed + (failedSteps && !totals.failed ? failedSteps : 0)} failed, ${totals.skipped} skipped`);
process.exit(failedSteps ? 1 : 0);
