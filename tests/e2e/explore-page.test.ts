/**
 * Explore page end to end (issue #4), in browser mode against a real
 * `fleetlens web` child process (with the first-run sample fleet) and the
 * system Chromium: overview charts with titled axes, the notable-trips table
 * sorted by label count, the trip view re-querying the engine on zoom (on the
 * sample and on a dense two-device fleet where M4 downsampling kicks in),
 * distributions, the SQL console's error and write-lock paths, and the C-MAPSS
 * FD001 profile flagging its constant sensors. Screenshots of every step land
 * in test-results/screens/explore-*.png.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { createHttpClient, type HttpClient } from '../../core/api/http-client.ts';
import { CMAPSS_COLUMNS, CMAPSS_TRAIN, HAVE_CMAPSS, ROOT } from '../helpers/tmp.ts';
import { fixtureDir, launchBrowser, screenshot, startWeb, type WebServer } from './browser.ts';

const VIEWPORT = { width: 1440, height: 900 };
const CONSTANT_FD001 = ['setting3', 's1', 's5', 's10', 's16', 's18', 's19'];

/** What the trip chart shows: the status line's numbers and the x extent of the first trace's data. */
interface ChartState {
  rawRows: number;
  points: number;
  downsampled: boolean;
  xMin: number;
  xMax: number;
  traces: number;
}

async function chartState(page: Page): Promise<ChartState> {
  const status = page.getByTestId('series-status');
  const rawRows = Number(await status.getAttribute('data-raw-rows'));
  const points = Number(await status.getAttribute('data-points'));
  const downsampled = (await status.getAttribute('data-downsampled')) === 'true';
  const data = await page.locator('[data-testid="trip-chart"] .js-plotly-plot').evaluate((gd) => {
    const traces = (gd as unknown as { data: { x: ArrayLike<number> | null[]; name: string }[] }).data;
    const x = Array.from(traces[0]!.x as ArrayLike<number>).filter((v) => Number.isFinite(v));
    return { xMin: Math.min(...x), xMax: Math.max(...x), traces: traces.length };
  });
  return { rawRows, points, downsampled, ...data };
}

/** Wait until the trip chart has settled on an answer different from `before` (or its first answer). */
async function settledChart(page: Page, before?: ChartState): Promise<ChartState> {
  await expect
    .poll(
      async () => {
        const status = page.getByTestId('series-status');
        if ((await status.getAttribute('data-loading')) !== 'false' || (await status.getAttribute('data-raw-rows')) === '') return 'loading';
        const s = await chartState(page);
        return before && s.rawRows === before.rawRows && s.xMin === before.xMin && s.xMax === before.xMax ? 'unchanged' : 'ready';
      },
      { timeout: 30_000 },
    )
    .toBe('ready');
  return chartState(page);
}

/** Drag horizontally across the top subplot, from fraction a to b of its width (a box zoom along time). */
async function dragZoom(page: Page, a: number, b: number): Promise<void> {
  const box = await page.locator('[data-testid="trip-chart"] .nsewdrag[data-subplot="xy"]').boundingBox();
  if (!box) throw new Error('the trip chart has no drag area');
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width * a, y);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * ((a + b) / 2), y, { steps: 4 });
  await page.mouse.move(box.x + box.width * b, y, { steps: 4 });
  await page.mouse.up();
}

/** Titles Plotly drew for the axes of one chart. */
async function axisTitles(page: Page, testId: string): Promise<string[]> {
  // Plotly names the title groups g-xtitle, g-x2title…, g-ytitle, g-y2title…
  return page.locator(`[data-testid="${testId}"] :is([class^="g-x"][class$="title"], [class^="g-y"][class$="title"])`).allTextContents();
}

describe('Explore page, browser mode, sample fleet', () => {
  let web: WebServer;
  let browser: Browser;
  let page: Page;
  let api: HttpClient;
  const pageErrors: string[] = [];
  const files = fixtureDir('fleetlens-e2e-explore-');

  beforeAll(async () => {
    [web, browser] = await Promise.all([startWeb({ sample: true }), launchBrowser()]);
    api = createHttpClient({ baseUrl: web.origin, token: web.token, fetch: (url, init) => fetch(url, init) });
    // The sample fleet is generated and imported in the background after the server starts listening.
    const deadline = Date.now() + 110_000;
    while (!(await api.call('datasets.list', {})).some((d) => d.name === 'fleet')) {
      if (Date.now() > deadline) throw new Error(`the sample fleet was not loaded within 110 s\n${web.stderr()}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    page = await browser.newPage({ viewport: VIEWPORT });
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });

  // A failed step leaves a picture of what the page showed.
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail' && page) await screenshot(page, `explore-failed-${ctx.task.name.slice(0, 24).replace(/[^a-z0-9]+/gi, '-')}`).catch(() => undefined);
  });

  afterAll(async () => {
    api?.close();
    await browser?.close();
    await web?.stop();
    files.cleanup();
  });

  test('overview: KPI tiles and every chart drawn with titled axes and legends', async () => {
    const fleet = (await api.call('datasets.list', {})).find((d) => d.name === 'fleet')!;
    await page.goto(`${web.url}#/explore/fleet/overview`);
    await page.getByTestId('explore-page').waitFor();
    await expect.poll(() => page.getByTestId('explore-dataset').inputValue()).toBe('fleet');
    await expect.poll(() => page.getByTestId('kpi-rows').locator('.ex-kpi-value').textContent(), { timeout: 60_000 }).toBe(fleet.rowCount.toLocaleString('en-US'));
    expect(await page.getByTestId('kpi-devices').locator('.ex-kpi-value').textContent()).toBe('200');
    expect(await page.getByTestId('kpi-label').locator('.ex-kpi-value').textContent()).toMatch(/^\d+\.\d+%$/);

    for (const id of ['chart-label-by-device', 'chart-rows-over-time', 'chart-missing', 'chart-category-factory_id', 'chart-category-model_id']) {
      await page.locator(`[data-testid="${id}"] .js-plotly-plot .main-svg`).first().waitFor({ timeout: 60_000 });
      const titles = (await axisTitles(page, id)).map((t) => t.trim()).filter(Boolean);
      expect(titles.length, `${id} has x and y titles`).toBeGreaterThanOrEqual(2);
    }
    expect(await axisTitles(page, 'chart-label-by-device')).toEqual(expect.arrayContaining(['device_id', 'defect rate (% of rows)']));
    // Two traces (per-device rate and the fleet reference): a legend naming both.
    expect(await page.locator('[data-testid="chart-label-by-device"] .legend .traces').count()).toBe(2);
    expect(await page.getByTestId('overview-no-label').count()).toBe(0);
    await screenshot(page, 'explore-01-overview');
  });

  test('trips: sort by label count, open the top trip, reload keeps it', async () => {
    await page.getByTestId('explore-tab-trips').click();
    const table = page.getByTestId('trips-table');
    await table.locator('[data-row="0"][data-loaded="true"]').waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('trips-count').textContent()).toMatch(/^1,5\d\d trips/);

    // Sort by rows first, then click "labelled": the engine's order by label count must follow.
    await table.locator('.vt-hcell', { hasText: /^rows/ }).click();
    await expect.poll(() => table.locator('.vt-hcell', { hasText: /^rows/ }).textContent()).toContain('▼');
    await table.locator('.vt-hcell', { hasText: /^labelled/ }).click();
    await expect.poll(() => table.locator('.vt-hcell', { hasText: /^labelled/ }).textContent()).toContain('▼');
    const top = await api.call('explore.trips', { dataset: 'fleet', sort: { column: 'labelled', desc: true }, limit: 3 });
    const tripCol = top.columns.findIndex((c) => c.name === 'trip');
    const labelledCol = top.columns.findIndex((c) => c.name === 'labelled');
    const topTrip = String(top.values[tripCol]![0]);
    await expect.poll(() => table.locator('[data-row="0"][data-loaded="true"]').textContent(), { timeout: 20_000 }).toContain(topTrip);
    expect(Number(top.values[labelledCol]![0])).toBeGreaterThanOrEqual(Number(top.values[labelledCol]![1]));
    await screenshot(page, 'explore-02-trips-by-labelled');

    await table.locator('[data-row="0"]').click();
    await expect.poll(() => new URL(page.url()).hash).toContain(`/view/trip/`);
    await expect.poll(() => page.getByTestId('view-title').textContent()).toBe(topTrip);
    const first = await settledChart(page);
    expect(first.traces).toBeGreaterThanOrEqual(4);
    expect(first.rawRows).toBeGreaterThan(100);

    await page.reload();
    await expect.poll(() => page.getByTestId('view-title').textContent(), { timeout: 30_000 }).toBe(topTrip);
    await settledChart(page);
    // Labelled rows are marked (red markers) and named in the legend.
    const names = await page.locator('[data-testid="trip-chart"] .js-plotly-plot').evaluate((gd) => (gd as unknown as { data: { name: string }[] }).data.map((d) => d.name));
    expect(names).toContain('defect = 1 (labelled row)');
    expect(await axisTitles(page, 'trip-chart')).toEqual(expect.arrayContaining(['timestamp', 'airflow_rate']));
    await screenshot(page, 'explore-03-trip-view');
  });

  test('trip view: zooming re-queries the engine for the window, kept in the address; double-click goes back to the extent', async () => {
    const before = await chartState(page);
    const statusBefore = await page.getByTestId('series-status').textContent();
    await dragZoom(page, 0.3, 0.55);
    const zoomed = await settledChart(page, before);
    // The engine answered for the window only: fewer rows, data confined to a narrower span.
    expect(zoomed.rawRows).toBeLessThan(before.rawRows);
    expect(zoomed.xMax - zoomed.xMin).toBeLessThan((before.xMax - before.xMin) * 0.5);
    expect(zoomed.xMin).toBeGreaterThan(before.xMin);
    expect(await page.getByTestId('series-status').textContent()).not.toBe(statusBefore);
    expect(await page.getByTestId('view-window').textContent()).toMatch(/^window 2026-/);
    await screenshot(page, 'explore-04-trip-zoomed');

    // The window rides in the address: a reload comes back zoomed.
    await expect.poll(() => new URL(page.url()).hash).toMatch(/\/view\/trip\/[^/]+\/[^/]+\/\d+\/\d+$/);
    await page.reload();
    const reloaded = await settledChart(page);
    expect(reloaded.rawRows).toBe(zoomed.rawRows);

    await page.locator('[data-testid="trip-chart"] .nsewdrag[data-subplot="xy"]').dblclick();
    const reset = await settledChart(page, zoomed);
    expect(reset.rawRows).toBe(before.rawRows);
    expect(await page.getByTestId('view-window').textContent()).toContain('whole extent');
    expect(new URL(page.url()).hash).toMatch(/\/view\/trip\/[^/]+\/[^/]+$/);

    // Device view: all trips of the device, trip starts as dashed lines.
    await page.getByTestId('view-scope-device').click();
    const device = await settledChart(page, reset);
    expect(device.rawRows).toBeGreaterThan(reset.rawRows);
    const dashed = await page.locator('[data-testid="trip-chart"] .js-plotly-plot').evaluate((gd) => ((gd as unknown as { layout: { shapes?: { type: string; line?: { dash?: string } }[] } }).layout.shapes ?? []).filter((s) => s.type === 'line' && s.line?.dash === 'dash').length);
    expect(dashed).toBeGreaterThan(1);
    await screenshot(page, 'explore-05-device-view');
  });

  test('trip view on a dense fleet: M4 downsampling, and a zoom brings finer detail', async () => {
    // Two devices of ~30k rows each: a whole device is far more than 4 points per pixel column.
    const out = join(files.dir, 'dense.parquet');
    execFileSync(process.execPath, ['bin/fleetlens.mjs', 'samples', '--rows', '60000', '--devices', '2', '--out', out, '--json'], { cwd: ROOT, encoding: 'utf8' });
    await api.call('datasets.import', { dataset: 'dense', files: [out] });
    const devices = await api.call('explore.trips', { dataset: 'dense', unit: 'device', limit: 1 });
    const device = String(devices.values[devices.columns.findIndex((c) => c.name === 'device')]![0]);
    await page.goto(`${web.url}#/explore/dense/view/device/${encodeURIComponent(device)}/~`);
    const whole = await settledChart(page);
    expect(whole.downsampled).toBe(true);
    expect(await page.getByTestId('series-status').textContent()).toMatch(/downsampled \(M4\) to [\d,]+ points per sensor/);
    const plotWidth = (await page.locator('[data-testid="trip-chart"] .nsewdrag[data-subplot="xy"]').boundingBox())!.width;
    expect(whole.points).toBeLessThanOrEqual(4 * (plotWidth + 40));
    expect(whole.rawRows).toBeGreaterThan(whole.points * 2);
    await screenshot(page, 'explore-06-dense-downsampled');

    await dragZoom(page, 0.4, 0.5);
    const zoomed = await settledChart(page, whole);
    // Finer detail: time per drawn point shrinks by far more than the drawn point count does.
    const spacingWhole = (whole.xMax - whole.xMin) / whole.points;
    const spacingZoomed = (zoomed.xMax - zoomed.xMin) / Math.max(1, zoomed.points);
    expect(zoomed.rawRows).toBeLessThan(whole.rawRows / 4);
    expect(spacingZoomed).toBeLessThan(spacingWhole / 4);
    await screenshot(page, 'explore-07-dense-zoomed');
  });

  test('distributions: histogram with box plots, scatter (density above the point limit), correlation heatmap', async () => {
    await page.goto(`${web.url}#/explore/fleet/distributions`);
    for (const id of ['dist-chart', 'scatter-chart', 'correlation-chart']) {
      await page.locator(`[data-testid="${id}"][data-state="ready"] .main-svg`).first().waitFor({ timeout: 60_000 });
    }
    expect(await axisTitles(page, 'dist-chart')).toEqual(expect.arrayContaining(['airflow_rate', '% of group rows per bin']));
    expect(await page.locator('[data-testid="dist-chart"] .legend .traces').count()).toBe(2);
    expect(await page.getByTestId('scatter-note').textContent()).toMatch(/^[\d,]+ rows: showing density/);
    await page.getByTestId('dist-split').selectOption('model_id');
    await expect.poll(() => page.locator('[data-testid="dist-chart"] .legend .traces').count(), { timeout: 30_000 }).toBe(6);
    await screenshot(page, 'explore-08-distributions');
  });

  test('SQL: DuckDB errors next to the query, then a good query; writes refused unless unlocked', async () => {
    await page.getByTestId('explore-tab-sql').click();
    const editor = page.getByTestId('sql-editor');
    await editor.fill('SELECT device_id, nope\nFROM fleet');
    await editor.press('Control+Enter');
    const err = page.locator('.ex-sql-editor [data-testid="sql-error"]');
    await err.waitFor();
    const message = (await err.getByTestId('sql-error-message').textContent()) ?? '';
    expect(message).toContain('Binder Error');
    expect(message).toMatch(/LINE 1: SELECT device_id, nope\n\s+\^/);
    expect(await err.getByTestId('sql-error-code').textContent()).toBe('QUERY_FAILED');
    // The message sits right under the query, in a monospace block that keeps the caret line.
    const eBox = (await err.boundingBox())!;
    const tBox = (await editor.boundingBox())!;
    expect(eBox.y - (tBox.y + tBox.height)).toBeLessThan(60);
    // Evaluated as a string: this file is type-checked without the DOM library.
    expect(await page.evaluate(`getComputedStyle(document.querySelector('.ex-sql-editor [data-testid="sql-error-message"]')).whiteSpace`)).toBe('pre');
    await screenshot(page, 'explore-09-sql-error');

    await editor.fill('SELECT device_id, count(*) AS n, avg(defect) AS defect_rate\nFROM fleet\nGROUP BY 1\nORDER BY n DESC');
    await page.getByTestId('sql-run').click();
    await expect.poll(() => page.getByTestId('sql-row-count').textContent().catch(() => null)).toBe('200');
    expect(await page.locator('.ex-sql-editor [data-testid="sql-error"]').count()).toBe(0);
    await page.locator('[data-testid="sql-result"] [data-row="0"]').waitFor();
    await screenshot(page, 'explore-10-sql-result');

    // Browser mode exports to a path typed on the engine's machine.
    const csv = join(files.dir, 'per-device.csv');
    await page.getByTestId('sql-export-path').fill(csv);
    await page.getByTestId('sql-export').click();
    await page.getByTestId('toast-success').filter({ hasText: 'Exported 200 rows' }).waitFor();
    const lines = readFileSync(csv, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('device_id,n,defect_rate');
    expect(lines).toHaveLength(201);

    // Writes: refused while locked; unlocking applies to exactly one run.
    await editor.fill('CREATE TABLE scratch AS SELECT 1 AS x');
    await editor.press('Control+Enter');
    await expect.poll(() => err.getByTestId('sql-error-code').textContent().catch(() => null)).toBe('WRITE_NOT_ALLOWED');
    await page.getByTestId('sql-unlock').check();
    await page.getByTestId('sql-run').click();
    await expect.poll(() => page.locator('.ex-sql-editor [data-testid="sql-error"]').count()).toBe(0);
    expect(await page.getByTestId('sql-unlock').isChecked()).toBe(false);
    await editor.fill('DELETE FROM scratch');
    await editor.press('Control+Enter');
    await expect.poll(() => err.getByTestId('sql-error-code').textContent().catch(() => null)).toBe('WRITE_NOT_ALLOWED');
    expect(await err.getByTestId('sql-error-message').textContent()).toContain('DELETE');
    expect((await api.call('sql.run', { sql: 'SELECT count(*) AS n FROM scratch' })).values[0]![0]).toBe(1);
    await screenshot(page, 'explore-11-sql-write-refused');
    await page.getByTestId('sql-unlock').check();
    await page.getByTestId('sql-run').click();
    await expect.poll(() => page.locator('.ex-sql-editor [data-testid="sql-error"]').count()).toBe(0);
    expect((await api.call('sql.run', { sql: 'SELECT count(*) AS n FROM scratch' })).values[0]![0]).toBe(0);
    expect(await page.getByTestId('sql-unlock').isChecked()).toBe(false);

    // History: newest first; a click loads the query back into the editor.
    await expect.poll(() => page.getByTestId('sql-history-item').first().textContent()).toContain('DELETE FROM scratch');
    await page.getByTestId('sql-history-item').filter({ hasText: 'GROUP BY 1' }).first().click();
    expect(await editor.inputValue()).toContain('GROUP BY 1');
    await screenshot(page, 'explore-12-sql-history');
  });

  test('C-MAPSS FD001: the profile flags the constant sensors', async (ctx) => {
    if (!HAVE_CMAPSS) {
      ctx.skip(`C-MAPSS FD001 is not available at ${CMAPSS_TRAIN}; the profile check needs it`);
      return;
    }
    const imported = await api.call('datasets.import', { dataset: 'cmapss_fd001', files: [CMAPSS_TRAIN], format: 'whitespace', header: false, columns: CMAPSS_COLUMNS });
    expect(imported.rowsAdded).toBe(20_631);
    await page.goto(`${web.url}#/explore/cmapss_fd001/profile`);
    await page.locator('[data-testid="profile-row"]').first().waitFor({ timeout: 60_000 });
    const flagged = await page.locator('[data-testid="profile-row"][data-constant="true"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-column')));
    expect(flagged.sort()).toEqual([...CONSTANT_FD001].sort());
    for (const c of CONSTANT_FD001) {
      await expect.poll(() => page.locator(`[data-testid="profile-row"][data-column="${c}"] [data-testid="badge-constant"]`).isVisible()).toBe(true);
    }
    expect(await page.locator('[data-testid="profile-row"][data-binary="true"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-column')))).toEqual(['s6']);
    expect(await page.getByTestId('profile-constant-list').textContent()).toBe(CONSTANT_FD001.join(', '));
    await screenshot(page, 'explore-13-cmapss-profile');

    // No label column: the overview says where to set one instead of drawing empty rates.
    await page.getByTestId('explore-tab-overview').click();
    await page.getByTestId('overview-no-label').waitFor();
    expect(await page.getByTestId('overview-no-label').textContent()).toContain('No label column — set one on the Data page');
    await page.locator('[data-testid="chart-label-by-device"] .main-svg').first().waitFor({ timeout: 30_000 });
    await screenshot(page, 'explore-14-cmapss-overview');
  });

  test('no uncaught page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
