/**
 * Data page end to end (issue #3 item 6), in browser mode against a real
 * `fleetlens web` child process and the system Chromium: import CSV and
 * Parquet, roles, the virtualized preview, rejects, the error paths (each with
 * its specific message and the workspace untouched), cancel of a large import,
 * delete, the token page, and first-run boot with the sample fleet.
 * Screenshots of every step land in test-results/screens/.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ROOT } from '../helpers/tmp.ts';
import { fixtureDir, launchBrowser, screenshot, startWeb, type WebServer } from './browser.ts';

const VIEWPORT = { width: 1440, height: 900 };
const ROW_H = 24;
const SMALL_CSV = join(ROOT, 'samples', 'fleet-small.csv');
const SENSORS = ['airflow_rate', 'rotation_speed', 'air_pressure', 'temperature', 'delay', 'density'];
/** What a leaked stack trace looks like in text. */
const STACK_RE = /\n\s+at .+\(.*:\d+:\d+\)|\bat [\w.<>]+ \(\/|node:internal/;

/**
 * Navigate (goto or reload) and wait for `ready`. Other engineers' `vite build`
 * runs replace dist/renderer under a running server (emptyOutDir), which can
 * leave one page load without its script; such a load is retried, twice at most.
 */
async function load(page: Page, navigate: () => Promise<unknown>, ready: Locator): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await navigate();
    try {
      await ready.waitFor({ timeout: 20_000 });
      return;
    } catch (err) {
      if (attempt >= 3) throw err;
      await page.waitForTimeout(3000);
    }
  }
}

/** Fill the import form and press Import. */
async function startImport(page: Page, files: string[], name?: string): Promise<void> {
  await page.getByTestId('import-paths').fill(files.join('\n'));
  if (name !== undefined) await page.getByTestId('import-name').fill(name);
  await page.getByTestId('import-submit').click();
}

/** Wait for the import to end and say how: summary, error or cancelled. */
async function importOutcome(page: Page, timeout = 120_000): Promise<'done' | 'error' | 'cancelled'> {
  const done = page.getByTestId('import-summary');
  const error = page.getByTestId('import-error');
  const cancelled = page.getByTestId('import-cancelled');
  await done.or(error).or(cancelled).first().waitFor({ timeout });
  if (await done.isVisible()) return 'done';
  if (await error.isVisible()) return 'error';
  return 'cancelled';
}

/** Names and row counts shown in the dataset list, in order. */
async function listed(page: Page): Promise<{ name: string; rows: string }[]> {
  const out: { name: string; rows: string }[] = [];
  for (const row of await page.getByTestId('dataset-row').all()) {
    out.push({ name: (await row.getAttribute('data-name')) ?? '', rows: (await row.getByTestId('dataset-rows').textContent()) ?? '' });
  }
  return out;
}

/** Scroll a virtual table's scroller to a row and wait until that row shows loaded values. */
async function scrollToRow(page: Page, tableTestId: string, row: number): Promise<void> {
  const scroller = page.getByTestId(tableTestId).locator('.vt-scroll');
  await scroller.evaluate((el, top) => {
    el.scrollTop = top;
  }, row * ROW_H);
  await page.locator(`[data-testid="${tableTestId}"] [data-testid="vt-row"][data-row="${row}"][data-loaded="true"]`).waitFor({ timeout: 20_000 });
}

/** First visible row number (1-based) from the preview toolbar ("Rows a–b of n"). */
async function firstVisibleRow(page: Page): Promise<number> {
  const text = (await page.getByTestId('preview-range').textContent()) ?? '';
  return Number((/^Rows ([\d,]+)/.exec(text)?.[1] ?? 'NaN').replaceAll(',', ''));
}

/** Text of one virtual-table row's cells. */
async function rowText(page: Page, tableTestId: string, row: number): Promise<string> {
  return (await page.locator(`[data-testid="${tableTestId}"] [data-testid="vt-row"][data-row="${row}"]`).textContent()) ?? '';
}

describe('Data page, browser mode, empty workspace', () => {
  let web: WebServer;
  let browser: Browser;
  let page: Page;
  const files = fixtureDir();
  const pageErrors: string[] = [];
  let parquetRows = 0;
  const csvLines = readFileSync(SMALL_CSV, 'utf8').trimEnd().split('\n');

  beforeAll(async () => {
    [web, browser] = await Promise.all([startWeb({ sample: false }), launchBrowser()]);
    // Fixtures: a copy of the committed small fleet, a Parquet fleet from the samples CLI,
    // a CSV with two malformed lines, an empty file and random bytes.
    copyFileSync(SMALL_CSV, join(files.dir, 'fleet-small.csv'));
    const summary = execFileSync(process.execPath, ['bin/fleetlens.mjs', 'samples', '--rows', '3000', '--out', join(files.dir, 'fleet-3k.parquet'), '--json'], { cwd: ROOT, encoding: 'utf8' });
    parquetRows = (JSON.parse(summary.trim().split('\n').pop()!) as { rows: number }).rows;
    const bad = [...csvLines];
    bad[2500] += ',999'; // line 2501: one field too many
    const cells = bad[3999]!.split(',');
    cells[8] = 'oops'; // line 4000: temperature is not a number
    bad[3999] = cells.join(',');
    writeFileSync(join(files.dir, 'fleet-bad.csv'), bad.join('\n') + '\n');
    writeFileSync(join(files.dir, 'empty.csv'), '');
    // Deterministic "random" bytes (xorshift) so the reported offset is stable.
    const bytes = Buffer.alloc(8192);
    let x = 0x2545f491;
    for (let i = 0; i < bytes.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      bytes[i] = x & 0xff;
    }
    writeFileSync(join(files.dir, 'random.bin'), bytes);

    page = await browser.newPage({ viewport: VIEWPORT });
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });

  afterAll(async () => {
    await browser?.close();
    await web?.stop();
    files.cleanup();
  });

  test('boots on the URL with the token, then keeps the token out of the address bar', async () => {
    await load(page, () => page.goto(web.url), page.getByTestId('data-page'));
    await expect.poll(() => page.getByTestId('workspace-path').textContent()).toBe(web.workspace);
    expect(await page.getByTestId('app-version').textContent()).toMatch(/^v\d+\.\d+\.\d+/);
    expect(page.url()).not.toContain('token=');
    await page.getByTestId('datasets-empty').waitFor();
    await screenshot(page, 'data-01-empty-workspace');
  });

  test('imports a CSV: the dataset is listed with its row count, roles guessed, preview scrolls and loads later rows', async () => {
    const csv = join(files.dir, 'fleet-small.csv');
    await page.getByTestId('import-paths').fill(csv);
    // The name defaults to the file's base name, made an identifier.
    expect(await page.getByTestId('import-name').inputValue()).toBe('fleet_small');
    await screenshot(page, 'data-02-csv-form');
    await page.getByTestId('import-submit').click();
    expect(await importOutcome(page)).toBe('done');
    const summary = (await page.getByTestId('import-summary').textContent()) ?? '';
    expect(summary).toContain('Imported 5,031 rows');
    expect(summary).toContain('no rejected rows');
    expect(await listed(page)).toEqual([{ name: 'fleet_small', rows: '5,031' }]);
    await page.locator('[data-testid="dataset-details"][data-name="fleet_small"]').waitFor();
    await screenshot(page, 'data-03-csv-imported-schema');

    expect(await page.getByTestId('role-device_id').inputValue()).toBe('device');
    expect(await page.getByTestId('role-timestamp').inputValue()).toBe('time');
    expect(await page.getByTestId('role-defect').inputValue()).toBe('label');
    expect(await page.getByTestId('role-trip_id').inputValue()).toBe('trip');
    for (const s of SENSORS) expect(await page.getByTestId(`role-${s}`).inputValue()).toBe('sensor');

    await page.getByTestId('tab-preview').click();
    await page.locator('[data-testid="preview-table"] [data-row="0"][data-loaded="true"]').waitFor();
    expect(await page.getByTestId('preview-range').textContent()).toMatch(/^Rows 1–\d+ of 5,031$/);
    expect(await rowText(page, 'preview-table', 0)).toContain('dev-0001');
    // Only the rows on screen are in the DOM.
    expect(await page.locator('[data-testid="preview-table"] [data-testid="vt-row"]').count()).toBeLessThan(80);
    await screenshot(page, 'data-04-preview-top');

    // Row 2600 is on the sixth 500-row page: it is fetched as the table scrolls there.
    await scrollToRow(page, 'preview-table', 2600);
    const expected = csvLines[2601]!.split(',');
    const text = await rowText(page, 'preview-table', 2600);
    expect(text).toContain('2,601');
    expect(text).toContain(expected[1]!); // trip_id of that CSV line
    expect(text).toContain(expected[4]!); // its timestamp
    await screenshot(page, 'data-05-preview-middle');

    await scrollToRow(page, 'preview-table', 5030);
    expect(await rowText(page, 'preview-table', 5030)).toContain(csvLines[5031]!.split(',')[1]!);
    expect(await page.getByTestId('preview-range').textContent()).toMatch(/–5,031 of 5,031$/);
    await screenshot(page, 'data-06-preview-end');

    await page.getByTestId('tab-sources').click();
    const sources = (await page.getByTestId('sources-table').textContent()) ?? '';
    expect(sources).toContain(csv);
    expect(sources).toContain('5,031');
    await screenshot(page, 'data-07-sources');
  });

  test('imports a Parquet file made by the samples CLI', async () => {
    await startImport(page, [join(files.dir, 'fleet-3k.parquet')]);
    expect(await importOutcome(page)).toBe('done');
    const rows = parquetRows.toLocaleString('en-US');
    expect(await page.getByTestId('import-summary').textContent()).toContain(`Imported ${rows} rows`);
    expect(await listed(page)).toEqual([
      { name: 'fleet_3k', rows },
      { name: 'fleet_small', rows: '5,031' },
    ]);
    await page.locator('[data-testid="dataset-details"][data-name="fleet_3k"]').waitFor();
    expect(await page.getByTestId('role-device_id').inputValue()).toBe('device');
    expect(await page.getByTestId('role-timestamp').inputValue()).toBe('time');
    expect(await page.getByTestId('role-defect').inputValue()).toBe('label');
    for (const s of SENSORS) expect(await page.getByTestId(`role-${s}`).inputValue()).toBe('sensor');
    await screenshot(page, 'data-08-parquet-imported');
  });

  test('role edits: an invalid one is refused inline, a valid one is saved and survives a reload', async () => {
    await page.locator('[data-testid="dataset-row"][data-name="fleet_small"]').click();
    await page.getByTestId('tab-schema').click();
    await page.locator('[data-testid="dataset-details"][data-name="fleet_small"]').waitFor();

    await page.getByTestId('role-model_id').selectOption('sensor');
    await page.getByTestId('roles-save').click();
    const err = page.getByTestId('roles-error');
    await err.waitFor();
    expect(await err.textContent()).toContain("column 'model_id' is VARCHAR, a sensor must be numeric");
    expect(await err.getByTestId('error-code').textContent()).toBe('INVALID_ARGUMENT');
    await screenshot(page, 'data-09-role-error');
    await page.getByTestId('roles-revert').click();
    expect(await page.getByTestId('role-model_id').inputValue()).toBe('categorical');

    await page.getByTestId('role-factory_id').selectOption('ignore');
    await page.getByTestId('role-delay').selectOption('ignore');
    await page.getByTestId('roles-save').click();
    await page.getByTestId('toast-success').filter({ hasText: 'Roles saved' }).waitFor();
    await load(page, () => page.reload(), page.locator('[data-testid="dataset-details"][data-name="fleet_small"]'));
    expect(await page.getByTestId('role-factory_id').inputValue()).toBe('ignore');
    expect(await page.getByTestId('role-delay').inputValue()).toBe('ignore');
    expect(await page.getByTestId('role-device_id').inputValue()).toBe('device');
    expect(await page.getByTestId('roles-summary').textContent()).toMatch(/sensors\s*5/);
    await screenshot(page, 'data-10-roles-after-reload');
  });

  test('a CSV with malformed lines is ingested; the Rejects tab shows them with their line numbers', async () => {
    await startImport(page, [join(files.dir, 'fleet-bad.csv')]);
    expect(await importOutcome(page)).toBe('done');
    const summary = (await page.getByTestId('import-summary').textContent()) ?? '';
    expect(summary).toContain('Imported 5,029 rows');
    expect(await page.getByTestId('import-rejects-link').textContent()).toContain('2 rejected rows');
    await screenshot(page, 'data-11-malformed-imported');

    await page.getByTestId('import-rejects-link').click();
    await page.locator('[data-testid="rejects-table"] [data-row="1"][data-loaded="true"]').waitFor();
    const first = await rowText(page, 'rejects-table', 0);
    expect(first).toContain('2501');
    expect(first).toContain('expected 12 columns, found 13 at line 2501');
    const second = await rowText(page, 'rejects-table', 1);
    expect(second).toContain('4000');
    expect(second).toContain("column 'temperature' expected DOUBLE, found 'oops' at line 4000");
    expect(await page.getByTestId('rejects-count').textContent()).toBe('2 rejected rows');
    await screenshot(page, 'data-12-rejects');
  });

  const failures = [
    { file: 'empty.csv', code: 'FILE_EMPTY', message: (p: string) => `file ${p} is empty`, shot: 'data-13-error-empty-file' },
    { file: 'missing.csv', code: 'FILE_NOT_FOUND', message: (p: string) => `file ${p} does not exist`, shot: 'data-14-error-missing-file' },
    { file: 'random.bin', code: 'FILE_UNREADABLE', message: (p: string) => `file ${p} is not a text, JSON or Parquet file (binary content at byte`, shot: 'data-15-error-binary-file' },
  ];

  for (const f of failures) {
    test(`${f.file}: the specific error shows next to the form, the form keeps its values, the workspace is unchanged`, async () => {
      const before = await listed(page);
      const path = join(files.dir, f.file);
      await startImport(page, [path]);
      expect(await importOutcome(page)).toBe('error');
      const box = page.getByTestId('import-error');
      expect(await box.getByTestId('error-code').textContent()).toBe(f.code);
      const msg = (await box.getByTestId('error-message').textContent()) ?? '';
      expect(msg).toContain(f.message(path));
      expect(msg).not.toMatch(STACK_RE);
      expect(await page.getByTestId('import-paths').inputValue()).toBe(path);
      await screenshot(page, f.shot);
      await page.getByTestId('datasets-panel').getByRole('button', { name: 'Refresh' }).click();
      await expect.poll(() => listed(page)).toEqual(before);
    });
  }

  test('cancelling a 3M-row import stops it and leaves the workspace unchanged', async () => {
    const big = join(files.dir, 'fleet-3m.csv');
    // DuckDB writes the 180 MB file in seconds; the samples CLI would take far longer.
    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    await con.run(
      `COPY (SELECT 'dev-' || lpad((i % 500)::VARCHAR, 4, '0') AS device_id, 'trip-' || (i // 300) AS trip_id,
         TIMESTAMP '2026-01-01' + INTERVAL (i) SECOND AS timestamp, round(20 + (i % 97) * 0.37, 2) AS temperature,
         round(1000 + (i % 2711) * 0.9, 1) AS rotation_speed, round(101 + (i % 53) * 0.71, 2) AS air_pressure,
         (i % 101 = 0)::INT AS defect
       FROM range(3000000) t(i)) TO '${big.replaceAll("'", "''")}' (HEADER)`,
    );
    con.closeSync();
    db.closeSync();

    const before = await listed(page);
    await startImport(page, [big], 'fleet_3m');
    const bar = page.getByTestId('import-progress-bar');
    // The first progress event means the engine is reading the file: cancel now.
    await page.locator('[data-testid="import-progress-bar"][data-fraction]').waitFor({ timeout: 60_000 });
    // Let it get visibly under way (a few percent of 180 MB) for the screenshot; cancel either way.
    for (const t0 = Date.now(); Date.now() - t0 < 5000; ) {
      const f = await bar.getAttribute('data-fraction').catch(() => null);
      if (f === null || Number(f) > 0.03) break;
      await page.waitForTimeout(100);
    }
    await screenshot(page, 'data-16-import-progress');
    expect(await bar.getAttribute('role')).toBe('progressbar');
    await page.getByTestId('import-cancel').click();
    expect(await importOutcome(page)).toBe('cancelled');
    expect(await page.getByTestId('import-cancelled').textContent()).toMatch(/import into 'fleet_3m' was cancelled; the workspace is unchanged/i);
    await screenshot(page, 'data-17-import-cancelled');
    await page.getByTestId('datasets-panel').getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => listed(page)).toEqual(before);
  });

  test('the same 3M-row file imports in full and its preview scrolls anywhere without a 72M-pixel page', async () => {
    await startImport(page, [join(files.dir, 'fleet-3m.csv')], 'fleet_3m');
    expect(await importOutcome(page, 180_000)).toBe('done');
    expect(await page.getByTestId('import-summary').textContent()).toContain('Imported 3,000,000 rows');
    await page.getByTestId('tab-preview').click();
    await page.locator('[data-testid="preview-table"] [data-row="0"][data-loaded="true"]').waitFor();
    const scroller = page.getByTestId('preview-table').locator('.vt-scroll');
    // 3M rows × 24 px would exceed what browsers can lay out: the scroll space is compressed.
    const height = await scroller.evaluate((el) => el.scrollHeight);
    expect(height).toBeLessThan(9_000_000);

    await scroller.evaluate((el) => {
      el.scrollTop = (el.scrollHeight - el.clientHeight) / 2;
    });
    await expect.poll(() => firstVisibleRow(page)).toBeGreaterThan(1_450_000);
    const mid = await firstVisibleRow(page);
    expect(mid).toBeLessThan(1_550_000);
    await page.locator(`[data-testid="preview-table"] [data-row="${mid - 1}"][data-loaded="true"]`).waitFor();
    expect(await rowText(page, 'preview-table', mid - 1)).toContain(mid.toLocaleString('en-US'));
    expect(await page.locator('[data-testid="preview-table"] [data-testid="vt-row"]').count()).toBeLessThan(80);
    await screenshot(page, 'data-18-preview-3m-middle');

    // A wheel notch moves a few rows, as in a short table, not thousands.
    await scroller.hover();
    await page.mouse.wheel(0, 240);
    await expect.poll(() => firstVisibleRow(page)).toBeGreaterThan(mid);
    expect((await firstVisibleRow(page)) - mid).toBeLessThanOrEqual(12);

    await scroller.evaluate((el) => {
      el.scrollTop = el.scrollHeight;
    });
    await page.locator('[data-testid="preview-table"] [data-row="2999999"][data-loaded="true"]').waitFor({ timeout: 20_000 });
    expect(await rowText(page, 'preview-table', 2_999_999)).toContain('3,000,000');
    expect(await page.getByTestId('preview-range').textContent()).toMatch(/–3,000,000 of 3,000,000$/);
    await screenshot(page, 'data-19-preview-3m-end');
  });

  test('delete asks for confirmation, then removes the dataset', async () => {
    await page.locator('[data-testid="dataset-row"][data-name="fleet_bad"]').click();
    await page.locator('[data-testid="dataset-details"][data-name="fleet_bad"]').waitFor();
    await page.getByTestId('delete-dataset').click();
    const dialog = page.getByTestId('confirm-dialog');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('Delete dataset fleet_bad?');
    await screenshot(page, 'data-20-delete-confirm');
    await page.getByTestId('confirm-cancel').click();
    expect((await listed(page)).map((d) => d.name)).toContain('fleet_bad');

    await page.getByTestId('delete-dataset').click();
    await page.getByTestId('confirm-ok').click();
    await page.getByTestId('toast-success').filter({ hasText: 'Dataset deleted' }).waitFor();
    await expect.poll(async () => (await listed(page)).map((d) => d.name).sort()).toEqual(['fleet_3k', 'fleet_3m', 'fleet_small']);
    await screenshot(page, 'data-21-after-delete');
  });

  test('the navigation reaches the other pages and comes back', async () => {
    await page.getByTestId('nav-live').click();
    await page.getByTestId('live-page').waitFor();
    await screenshot(page, 'shell-01-live');
    await page.getByTestId('nav-data').click();
    await page.getByTestId('data-page').waitFor();
  });

  test('without a token the page says where to get one; a wrong token is refused the same way', async () => {
    const ctx = await browser.newContext({ viewport: VIEWPORT });
    const p = await ctx.newPage();
    const msg = p.getByTestId('token-message');
    await load(p, () => p.goto(web.origin + '/'), msg);
    expect(await msg.textContent()).toContain('Open the URL printed by npm run web (it carries the access token)');
    await screenshot(p, 'token-01-missing');
    await load(p, () => p.goto(web.origin + '/?token=not-the-token'), msg);
    expect(await msg.textContent()).toContain('is not accepted by this server');
    await screenshot(p, 'token-02-wrong');
    await ctx.close();
  });

  test('no uncaught errors in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});

describe('first run with the sample fleet', () => {
  let web: WebServer;
  let browser: Browser;

  beforeAll(async () => {
    [web, browser] = await Promise.all([startWeb({ sample: true }), launchBrowser()]);
  });

  afterAll(async () => {
    await browser?.close();
    await web?.stop();
  });

  test('the app boots and the fleet dataset appears within 60 s', async () => {
    const page = await browser.newPage({ viewport: VIEWPORT });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await load(page, () => page.goto(web.url), page.getByTestId('data-page'));
    const row = page.locator('[data-testid="dataset-row"][data-name="fleet"]');
    // The sample is generated, then imported: its progress shows in the list until it lands.
    await page.getByTestId('dataset-importing').or(row).first().waitFor({ timeout: 60_000 });
    await screenshot(page, 'sample-01-booting');
    await row.waitFor({ timeout: 60_000 });
    const rows = Number(((await row.getByTestId('dataset-rows').textContent()) ?? '').replaceAll(',', ''));
    expect(rows).toBeGreaterThanOrEqual(250_000);
    await page.locator('[data-testid="dataset-details"][data-name="fleet"]').waitFor();
    expect(await page.getByTestId('role-defect').inputValue()).toBe('label');
    await screenshot(page, 'sample-02-fleet-listed');
    await page.getByTestId('tab-preview').click();
    await page.locator('[data-testid="preview-table"] [data-row="0"][data-loaded="true"]').waitFor();
    await scrollToRow(page, 'preview-table', 200_000);
    await screenshot(page, 'sample-03-preview-deep');
    expect(errors).toEqual([]);
  });
});
