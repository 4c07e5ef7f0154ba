import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { createWorkbench, type Workbench } from '../../core/app.ts';
import { WorkbenchError } from '../../core/api/errors.ts';
import type { RunInfo } from '../../core/experiments/api.ts';
import { escapeHtml, jsonForScript, renderReportHtml, collectReport, reproduceCommand, shellQuote } from '../../core/reports/html-report.ts';
import { findChromium, htmlToPdf } from '../../core/reports/pdf.ts';
import { ExperimentStore } from '../../core/experiments/store.ts';
import { runCli } from '../helpers/cli.ts';
import { ROOT, tempDir } from '../helpers/tmp.ts';

const SMALL = join(ROOT, 'samples', 'fleet-small.csv');
const SCREENS = join(ROOT, 'test-results', 'screens');
const EVIL = '<img src=x onerror=alert(1)>';
const EXPERIMENT = 'report <script>alert(2)</script>';
const NOTES = '</script><script>alert(3)</script> & "quoted"';

function chromiumOrReason(): { path: string | null; reason: string } {
  try {
    return { path: findChromium(), reason: '' };
  } catch (err) {
    return { path: null, reason: (err as Error).message };
  }
}
const CHROME = chromiumOrReason();
const HAVE_PDFTOPPM = !spawnSync('pdftoppm', ['-v']).error;
if (!CHROME.path) console.warn(`reports: skipping the Chromium and PDF checks: ${CHROME.reason}`);
else if (!HAVE_PDFTOPPM) console.warn('reports: skipping the PDF → PNG check: pdftoppm (poppler-utils) is not installed');

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

let wb: Workbench | null;
const tmp = tempDir('fleetlens-report-');
const wsPath = tmp.file('ws.duckdb');
let evil: RunInfo;
let plain: RunInfo;
let other: RunInfo;

function api(): Workbench['api'] {
  return wb!.api;
}

async function train(req: Parameters<Workbench['api']['models.train']>[0]): Promise<RunInfo> {
  const { runId } = await api()['models.train'](req);
  await api()['models.wait']({ runId });
  const run = await api()['runs.get']({ runId });
  expect(run.status, run.error ?? '').toBe('finished');
  return run;
}

async function refused(p: Promise<unknown>): Promise<WorkbenchError> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(WorkbenchError);
  return e as WorkbenchError;
}

/** The document without the inlined Plotly bundle and boot script: everything the report itself wrote. */
function ownMarkup(html: string): string {
  return html.slice(0, html.indexOf('<script type="application/json"'));
}

function dataBlock(html: string): string {
  const m = /<script type="application\/json" id="fleetlens-report-data">([\s\S]*?)<\/script>/.exec(html);
  expect(m).not.toBeNull();
  return m![1]!;
}

beforeAll(async () => {
  wb = await createWorkbench({ workspace: wsPath, mode: 'in-process' });
  await api()['datasets.import']({ dataset: 'fleet', files: [SMALL] });
  evil = await train({ dataset: 'fleet', detector: 'isolation-forest', seed: 7, experiment: EXPERIMENT, runName: EVIL, params: { n_trees: 60 } });
  await api()['runs.update']({ runId: evil.id, notes: NOTES, tags: ['<b>bold</b>', 'baseline'] });
  evil = await api()['runs.get']({ runId: evil.id });
  // Fewer training rows than the split gives: its recipe is fitted on a sample (the report says so).
  plain = await train({ dataset: 'fleet', detector: 'robust-z', seed: 2, experiment: EXPERIMENT, runName: "robust z, o'clock", maxTrainRows: 1000 });
  other = await train({ dataset: 'fleet', detector: 'pca', seed: 3, experiment: 'elsewhere' });
}, 240_000);

afterAll(async () => {
  await wb?.close();
  tmp.cleanup();
});

describe('HTML report content', () => {
  let html: string;
  beforeAll(async () => {
    const res = await api()['reports.export']({ experiment: EXPERIMENT, path: tmp.file('exp.html'), format: 'html' });
    expect(res.runs).toBe(2);
    html = readFileSync(res.path, 'utf8');
    expect(res.bytes).toBe(Buffer.byteLength(html));
  });

  it('shows the dataset fingerprint: rows, columns with roles, time span, sources and checksums', () => {
    const fp = evil.fingerprint!;
    expect(html).toContain(fp.hash);
    expect(html).toContain('5,031');
    for (const c of fp.columns) expect(html).toContain(`<code>${escapeHtml(c.name)}</code></td><td>${escapeHtml(c.type)}</td>`);
    expect(html).toMatch(/<td><code>device_id<\/code><\/td><td>VARCHAR<\/td><td>device<\/td>/);
    for (const s of fp.sources) {
      expect(html).toContain(escapeHtml(s.path));
      expect(html).toContain(s.checksum);
    }
    expect(html).toContain(String(fp.timeSpan!.min));
  });

  it('shows each run: detector, params, threshold, metrics, recipe, top anomalies and how to reproduce it', () => {
    for (const run of [evil, plain]) {
      const four = (v: number): string => String(Number(v.toPrecision(4)));
      expect(html).toContain(four(run.metrics.roc_auc!));
      expect(html).toContain(four(run.metrics.pr_auc!));
      expect(html).toContain(run.fingerprint!.hash);
      expect(html).toContain(`--seed ${run.seed}`);
    }
    expect(html).toContain('<th><code>n_trees</code></th><td class="mono">60</td>');
    expect(html).toContain('fleetlens train --dataset fleet --detector isolation-forest --param n_trees=60');
    expect(html).toContain(escapeHtml(`--name ${shellQuote(EVIL)}`));
    expect(html).toContain('ROC AUC <code class="key">roc_auc</code>');
    expect(html).toContain('Feature recipe');
    // How many rows the recipe's statistics come from: all training rows, or the sample the model's rows were drawn from.
    expect(html).toMatch(/<dt>Statistics from<\/dt><dd>3,\d{3} training rows<\/dd>/);
    expect(html).toMatch(/<dt>Statistics from<\/dt><dd>1,\d{3} training rows, a seeded sample of 3,\d{3} \(the rows the model’s training sample was drawn from\)<\/dd>/);
    expect(html).toContain('<dt>Trained on</dt><dd>1,000 training rows, a seeded sample (at most 1,000)</dd>');
    expect(html).toContain('Top anomalies');
    expect(html).toContain('Confusion matrix');
    expect(html).toContain('contamination 2.00%');
    expect(html).toContain('App version');
    expect(html).not.toContain(other.id);
  });

  it('compares several runs: params side by side with differences marked, metrics, overlaid curves', () => {
    const comparison = html.slice(html.indexOf('id="comparison"'), html.indexOf('id="run-1"'));
    expect(comparison).toContain('<tr class="differs"><th><code>detector</code></th><td class="mono">isolation-forest</td><td class="mono">robust-z</td></tr>');
    expect(comparison).toMatch(/<tr class=""><th><code>dataset<\/code><\/th>/);
    expect(comparison).toContain('ROC curves');
    expect(comparison).toContain('Precision–recall curves');
    const spec = JSON.parse(dataBlock(html)) as { charts: { id: string; data: { name?: string }[] }[] };
    const names = spec.charts.flatMap((c) => c.data.map((d) => d.name ?? ''));
    // Plotly parses a pseudo-HTML subset in trace names: the run name must arrive as entities.
    expect(names).toContain(`R1 · ${escapeHtml(EVIL)}`);
  });

  it('escapes every user-supplied string and embeds chart data as inert JSON', () => {
    const own = ownMarkup(html);
    expect(own).not.toContain('<img');
    expect(own).not.toMatch(/<script/i);
    expect(own).not.toContain('<b>');
    expect(own).toContain(escapeHtml(EVIL));
    expect(own).toContain(escapeHtml(EXPERIMENT));
    expect(own).toContain(escapeHtml(NOTES));
    expect(own).toContain('&lt;b&gt;bold&lt;/b&gt;');
    const block = dataBlock(html);
    expect(block).not.toMatch(/[<>]/);
    expect(() => JSON.parse(block)).not.toThrow();
    expect(html).toContain(`content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"`);
    expect(JSON.parse(jsonForScript({ s: '</script><!-- \u2028 &' }))).toEqual({ s: '</script><!-- \u2028 &' });
    expect(jsonForScript('</script>')).not.toContain('<');
  });

  it('writes a single-run report without a comparison section', async () => {
    const res = await api()['reports.export']({ runIds: [plain.id], path: tmp.file('one.html'), format: 'html' });
    expect(res.runs).toBe(1);
    const one = readFileSync(res.path, 'utf8');
    expect(one).not.toContain('id="comparison"');
    expect(one).toContain(plain.id);
  });

  it('quotes reproduce commands for the shell', () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote('time:0.7')).toBe('time:0.7');
    const r = reproduceCommand(plain, { dataset: 'fleet', detector: 'robust-z', label: null, seed: 9, maxTrainRows: 10, filter: "model_id = 'M-A'" });
    expect(r.command).toBe('fleetlens train --dataset fleet --detector robust-z --no-label --experiment ' + shellQuote(EXPERIMENT) + ' --seed 9');
    expect(r.notes.join(' ')).toMatch(/max training rows was 10.*row filter/);
    // A data seed apart from the seed (a repeat over the same rows) is part of the command; an equal one is not.
    expect(reproduceCommand(plain, { dataset: 'fleet', detector: 'robust-z', seed: 9, dataSeed: 4 }).command).toMatch(/ --seed 9 --data-seed 4$/);
    expect(reproduceCommand(plain, { dataset: 'fleet', detector: 'robust-z', seed: 9, dataSeed: 9 }).command).toMatch(/ --seed 9$/);
  });
});

describe('reports.export refusals', () => {
  it('names unknown runs and experiments', async () => {
    const e1 = await refused(api()['reports.export']({ runIds: [plain.id, 'nope1', 'nope2'], path: tmp.file('x.html'), format: 'html' }));
    expect(e1.code).toBe('NOT_FOUND');
    expect(e1.message).toContain('nope1, nope2');
    const e2 = await refused(api()['reports.export']({ experiment: 'missing-exp', path: tmp.file('x.html'), format: 'html' }));
    expect(e2.code).toBe('NOT_FOUND');
    expect(e2.message).toContain("'missing-exp'");
    const e3 = await refused(api()['reports.export']({ experiment: EXPERIMENT, runIds: [other.id], path: tmp.file('x.html'), format: 'html' }));
    expect(e3.code).toBe('NOT_FOUND');
    expect(e3.message).toContain(other.id);
    expect(existsSync(tmp.file('x.html'))).toBe(false);
  });

  it('refuses a request without runs or with a bad format', async () => {
    expect((await refused(api()['reports.export']({ path: tmp.file('x.html'), format: 'html' }))).code).toBe('INVALID_ARGUMENT');
    const bad = { experiment: EXPERIMENT, path: tmp.file('x.doc'), format: 'doc' } as unknown as Parameters<Workbench['api']['reports.export']>[0];
    expect((await refused(api()['reports.export'](bad))).code).toBe('INVALID_ARGUMENT');
  });

  it('says clearly when the configured Chromium does not exist', () => {
    expect(() => findChromium({ FLEETLENS_CHROMIUM: '/nonexistent/chrome', PATH: '' })).toThrow(/FLEETLENS_CHROMIUM/);
  });
});

describe.skipIf(!CHROME.path)('in headless Chromium (needs Chromium)', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROME.path!, args: ARGS });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('opens offline under the CSP, renders interactive charts, runs no injected markup', async () => {
    const res = await api()['reports.export']({ experiment: EXPERIMENT, path: tmp.file('browser.html'), format: 'html' });
    const url = pathToFileURL(res.path).href;
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const requested: string[] = [];
    const dialogs: string[] = [];
    const errors: string[] = [];
    await page.route('**/*', (route) => {
      requested.push(route.request().url());
      return route.request().url() === url ? route.continue() : route.abort();
    });
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.addInitScript('window.__csp = []; document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));');
    await page.goto(url);
    await page.waitForFunction("document.documentElement.hasAttribute('data-report-ready') || document.documentElement.hasAttribute('data-report-error')");
    expect(await page.getAttribute('html', 'data-report-error')).toBeNull();
    const expected = (JSON.parse(dataBlock(readFileSync(res.path, 'utf8'))) as { charts: unknown[] }).charts.length;
    expect(expected).toBeGreaterThan(0);
    expect(await page.locator('.js-plotly-plot').count()).toBe(expected);
    expect(await page.locator('img[src=x]').count()).toBe(0);
    await expect.poll(() => page.locator('h2', { hasText: EVIL }).isVisible()).toBe(true);
    expect(await page.locator('h1').textContent()).toBe(`Experiment ${EXPERIMENT}`);
    expect(await page.locator('blockquote.notes').first().textContent()).toBe(NOTES);
    // Interactive: hovering a curve shows Plotly's hover label.
    const roc = page.locator('#run-1 .js-plotly-plot').first();
    await roc.scrollIntoViewIfNeeded();
    const box = (await roc.locator('.nsewdrag').first().boundingBox())!;
    let hovered = 0;
    // Sweep until the pointer is near enough a curve point for 'closest' hover.
    for (let fy = 0.05; fy < 1 && !hovered; fy += 0.1) {
      for (let fx = 0.02; fx < 1 && !hovered; fx += 0.08) {
        await page.mouse.move(box.x + box.width * fx, box.y + box.height * fy);
        hovered = await roc.locator('.hoverlayer .hovertext').count();
      }
    }
    expect(hovered).toBeGreaterThan(0);
    await page.mouse.move(0, 0);
    await page.evaluate('window.scrollTo(0, 0)');
    expect(dialogs).toEqual([]);
    expect(await page.evaluate('window.__csp')).toEqual([]);
    expect(errors).toEqual([]);
    expect(requested).toEqual([url]);
    // The CSP is live: a fetch is refused by the page itself, before any request is made.
    expect(await page.evaluate("fetch('https://example.com/x').then(() => 'fetched', () => 'refused')")).toBe('refused');
    await expect.poll(() => page.evaluate('window.__csp.length')).toBeGreaterThan(0);
    expect(requested).toEqual([url]);
    mkdirSync(SCREENS, { recursive: true });
    await page.screenshot({ path: join(SCREENS, 'report-html.png') });
    await page.locator('#run-1').screenshot({ path: join(SCREENS, 'report-html-run.png') });
    await page.close();
  }, 180_000);

  it('prints a PDF (and its first pages render as images)', async () => {
    const res = await api()['reports.export']({ experiment: EXPERIMENT, path: tmp.file('sub/report.pdf'), format: 'pdf' });
    expect(res.runs).toBe(2);
    const pdf = readFileSync(res.path);
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(res.bytes).toBe(pdf.length);
    if (!HAVE_PDFTOPPM) return;
    mkdirSync(SCREENS, { recursive: true });
    const pngs = (): string[] => readdirSync(SCREENS).filter((f) => /^report-pdf-\d+\.png$/.test(f));
    for (const f of pngs()) rmSync(join(SCREENS, f));
    const r = spawnSync('pdftoppm', ['-png', '-r', '60', '-f', '1', '-l', '2', res.path, join(SCREENS, 'report-pdf')]);
    expect(r.status, r.stderr.toString()).toBe(0);
    // pdftoppm pads page numbers to the document's page count (report-pdf-1.png or report-pdf-01.png).
    expect(pngs()).toHaveLength(2);
    const info = spawnSync('pdfinfo', [res.path]).stdout?.toString() ?? '';
    if (info) expect(Number(/Pages:\s+(\d+)/.exec(info)![1])).toBeGreaterThanOrEqual(4);
  }, 180_000);

  it('prints through the Chromium command line when asked (the fallback without playwright-core)', async () => {
    const data = await collectReport(new ExperimentStore(wb!.workspace), { runIds: [plain.id] }, 'test');
    const out = await htmlToPdf(renderReportHtml(data), tmp.file('cli.pdf'), { engine: 'cli' });
    expect(readFileSync(out).subarray(0, 5).toString('latin1')).toBe('%PDF-');
  }, 180_000);
});

describe('fleetlens report (CLI)', () => {
  it('writes HTML for an experiment and refuses unknown runs', async () => {
    await wb!.close();
    wb = null;
    const out = tmp.file('cli-report.html');
    const ok = await runCli(['report', '--workspace', wsPath, '--experiment', EXPERIMENT, '--out', out, '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ path: out, runs: 2 });
    expect(readFileSync(out, 'utf8')).toContain(escapeHtml(EVIL));
    const some = await runCli(['report', '--workspace', wsPath, '--experiment', EXPERIMENT, '--runs', plain.id, '--out', tmp.file('cli-one.html')]);
    expect(some.code, some.stderr).toBe(0);
    expect(some.stdout).toMatch(/1 run/);
    const bad = await runCli(['report', '--workspace', wsPath, '--runs', 'nope', '--out', tmp.file('bad.html')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('error [NOT_FOUND]: unknown run: nope');
    const usage = await runCli(['report', '--workspace', wsPath, '--experiment', EXPERIMENT, '--out', tmp.file('r.txt')]);
    expect(usage.code).toBe(2);
  }, 120_000);
});
