/**
 * HTML report → PDF with a headless Chromium (issue #6 item 6). The CLI and the
 * engine print through playwright-core (page.pdf) because it can wait until the
 * report says its charts have rendered; without playwright-core it falls back to
 * `chromium --headless --print-to-pdf`, which can only wait on a virtual-time
 * budget. The Electron app prints the same HTML with webContents.printToPDF; a
 * PdfRenderer is the seam both share.
 */
import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, copyFileSync, mkdirSync, mkdtempSync, openSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { WorkbenchError } from '../api/errors.ts';
import { ERROR_ATTRIBUTE, READY_ATTRIBUTE } from './html-report.ts';

/** Print an HTML document to a PDF file; resolves to the absolute path written. */
export type PdfRenderer = (html: string, outPath: string) => Promise<string>;

export interface PdfOptions {
  /** Chromium/Chrome binary; default findChromium(). */
  chromium?: string;
  /** `auto`: playwright-core when installed, else the Chromium command line. */
  engine?: 'auto' | 'playwright' | 'cli';
  /** Give up after this long (ms); default 120 s. */
  timeoutMs?: number;
}

/** Flags that keep a headless Chromium quiet and offline-friendly in containers and CI. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'];

const PATH_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];
const KNOWN_PATHS = [
  '/usr/bin/chromium',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
  'C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe',
  'C:\\Program Files (x86)\\Google\\Chrome\\Application\\chrome.exe',
];

function executable(p: string): boolean {
  try {
    accessSync(p, process.platform === 'win32' ? constants.F_OK : constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * The Chromium to print with: FLEETLENS_CHROMIUM, /usr/bin/chromium, then
 * chromium / google-chrome on PATH. FILE_NOT_FOUND, saying where it looked, when none.
 */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string {
  const forced = env.FLEETLENS_CHROMIUM;
  if (forced) {
    if (executable(forced)) return forced;
    throw new WorkbenchError('FILE_NOT_FOUND', `FLEETLENS_CHROMIUM is set to ${forced}, which is not an executable file`, { path: forced });
  }
  const dirs = (env.PATH ?? '').split(delimiter).filter(Boolean);
  const exts = process.platform === 'win32' ? ['.exe', ''] : [''];
  const candidates = [KNOWN_PATHS[0]!, ...PATH_NAMES.flatMap((n) => dirs.flatMap((d) => exts.map((e) => join(d, n + e)))), ...KNOWN_PATHS.slice(1)];
  const found = candidates.find(executable);
  if (found) return found;
  throw new WorkbenchError(
    'FILE_NOT_FOUND',
    `PDF export needs Chromium or Google Chrome and none was found (looked for /usr/bin/chromium and ${PATH_NAMES.join(', ')} on PATH); install one or set FLEETLENS_CHROMIUM to its binary, or export HTML instead`,
  );
}

function startsWithPdf(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(5);
    return readSync(fd, b, 0, 5, 0) === 5 && b.toString('latin1') === '%PDF-';
  } finally {
    closeSync(fd);
  }
}

async function loadPlaywright(): Promise<typeof import('playwright-core') | null> {
  try {
    return await import('playwright-core');
  } catch {
    return null;
  }
}

// No user text: the footer is rendered by Chromium outside the page, with its own tiny CSS.
const FOOTER = `<div style="width:100%;font-size:8px;color:#5b6672;padding:0 12mm;display:flex;justify-content:space-between;font-family:system-ui,sans-serif"><span>Fleetlens report</span><span><span class="pageNumber"></span> / <span class="totalPages"></span></span></div>`;

async function printWithPlaywright(pw: typeof import('playwright-core'), chromium: string, fileUrl: string, out: string, timeoutMs: number): Promise<void> {
  let browser;
  try {
    browser = await pw.chromium.launch({ executablePath: chromium, args: CHROMIUM_ARGS, timeout: timeoutMs });
  } catch (err) {
    throw new WorkbenchError('INTERNAL', `cannot start Chromium (${chromium}) to print the PDF: ${(err as Error).message.split('\n')[0]}`);
  }
  try {
    // A4 width at 96 dpi: the screen layout matches the printed one.
    const page = await browser.newPage({ viewport: { width: 794, height: 1123 } });
    // The report is self-contained; refusing every other request keeps printing offline by construction.
    await page.route('**/*', (route) => (route.request().url() === fileUrl ? route.continue() : route.abort()));
    await page.goto(fileUrl, { waitUntil: 'load', timeout: timeoutMs });
    await page.waitForFunction(`document.documentElement.hasAttribute('${READY_ATTRIBUTE}') || document.documentElement.hasAttribute('${ERROR_ATTRIBUTE}')`, undefined, { timeout: timeoutMs });
    const failed = await page.evaluate(`document.documentElement.getAttribute('${ERROR_ATTRIBUTE}')`);
    if (failed) throw new WorkbenchError('INTERNAL', `the report's charts failed to render: ${String(failed)}`);
    await page.pdf({ path: out, preferCSSPageSize: true, printBackground: true, displayHeaderFooter: true, headerTemplate: '<span></span>', footerTemplate: FOOTER });
  } finally {
    await browser.close().catch(() => undefined);
  }
}

function printWithCli(chromium: string, fileUrl: string, out: string, profile: string, timeoutMs: number): Promise<void> {
  const args = [
    '--headless',
    ...CHROMIUM_ARGS,
    '--no-pdf-header-footer',
    '--run-all-compositor-stages-before-draw',
    // The command line cannot wait for the ready flag; a virtual-time budget lets the charts' scripts run to completion first.
    '--virtual-time-budget=15000',
    `--user-data-dir=${profile}`,
    `--print-to-pdf=${out}`,
    fileUrl,
  ];
  return new Promise((done, fail) => {
    const child = spawn(chromium, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      fail(new WorkbenchError('INTERNAL', `cannot start Chromium (${chromium}): ${err.message}`));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) done();
      else fail(new WorkbenchError('INTERNAL', `Chromium failed to print the PDF (${signal ? `killed by ${signal}` : `exit code ${code}`}): ${stderr.trim().split('\n').slice(-3).join(' ')}`));
    });
  });
}

/**
 * Print an HTML report to `outPath` (parent folders created, an existing file
 * replaced only once the new PDF is complete). Waits for the report's charts
 * (`data-report-ready`) before printing when playwright-core is available.
 */
export async function htmlToPdf(html: string, outPath: string, opts: PdfOptions = {}): Promise<string> {
  const chromium = opts.chromium ?? findChromium();
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const out = resolve(outPath);
  mkdirSync(dirname(out), { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'fleetlens-pdf-'));
  try {
    const page = join(work, 'report.html');
    writeFileSync(page, html);
    const fileUrl = pathToFileURL(page).href;
    const pdf = join(work, 'report.pdf');
    const pw = opts.engine === 'cli' ? null : await loadPlaywright();
    if (opts.engine === 'playwright' && !pw) throw new WorkbenchError('INTERNAL', 'playwright-core is not installed');
    if (pw) await printWithPlaywright(pw, chromium, fileUrl, pdf, timeoutMs);
    else await printWithCli(chromium, fileUrl, pdf, join(work, 'profile'), timeoutMs);
    if (!startsWithPdf(pdf)) throw new WorkbenchError('INTERNAL', 'Chromium did not produce a PDF file');
    // Copy next to the target, then rename: atomic in one folder, so a reader never sees half a PDF.
    const staged = `${out}.${process.pid}.tmp`;
    copyFileSync(pdf, staged);
    renameSync(staged, out);
    return out;
  } catch (err) {
    if (err instanceof WorkbenchError) throw err;
    throw new WorkbenchError('INTERNAL', `PDF export failed: ${(err as Error).message.split('\n')[0]}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
