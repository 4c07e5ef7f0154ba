/**
 * Electron main process: windows, menus, dialogs and IPC wiring only. The engine
 * (core/) runs in a utility process behind the same contract as browser mode
 * (electron/engine.ts), and model training in that process' worker threads, so
 * nothing heavy ever runs here.
 */
import { app, BrowserWindow, dialog, ipcMain, Menu, safeStorage, shell, utilityProcess, type MenuItemConstructorOptions, type UtilityProcess } from 'electron';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setupIpc } from './ipc.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const rendererIndex = join(here, '..', 'dist', 'renderer', 'index.html');
const appUrl = pathToFileURL(rendererIndex).toString();

let engine: UtilityProcess | null = null;
let teardownIpc: (() => void) | null = null;

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1440,
    height: 900,
    minWidth: 960,
    minHeight: 600,
    title: 'Fleetlens',
    show: false,
    webPreferences: {
      preload: join(here, 'preload.cjs'),
      contextIsolation: true,
      nodeIntegration: false,
      sandbox: true,
      webSecurity: true,
      spellcheck: false,
    },
  });
  win.once('ready-to-show', () => win.show());
  // Nothing navigates away from the app; external http(s) links open in the user's browser.
  win.webContents.on('will-navigate', (e, url) => {
    if (url.split('#')[0] !== appUrl) e.preventDefault();
  });
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (/^https?:\/\//.test(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  return win;
}

function setupDialogs(win: BrowserWindow): void {
  ipcMain.handle('desktop:openFiles', async (e) => {
    if (e.senderFrame !== win.webContents.mainFrame) return [];
    const res = await dialog.showOpenDialog(win, {
      title: 'Add telemetry files',
      properties: ['openFile', 'multiSelections'],
      filters: [
        { name: 'Telemetry', extensions: ['csv', 'tsv', 'txt', 'parquet', 'json', 'ndjson', 'jsonl'] },
        { name: 'All files', extensions: ['*'] },
      ],
    });
    return res.canceled ? [] : res.filePaths;
  });
  ipcMain.handle('desktop:saveFile', async (e, opts: { defaultName: string; filters: { name: string; extensions: string[] }[] }) => {
    if (e.senderFrame !== win.webContents.mainFrame) return null;
    const res = await dialog.showSaveDialog(win, { defaultPath: opts.defaultName, filters: opts.filters });
    return res.canceled ? null : res.filePath ?? null;
  });
}

/** Print a report with Chromium's own printToPDF in a hidden, sandboxed window (the engine process cannot). */
function setupPdf(win: BrowserWindow): void {
  ipcMain.handle('desktop:printReportPdf', async (e, htmlPath: string, pdfPath: string) => {
    if (e.senderFrame !== win.webContents.mainFrame) throw new Error('refused');
    const hidden = new BrowserWindow({ show: false, webPreferences: { sandbox: true, contextIsolation: true, nodeIntegration: false, javascript: true } });
    try {
      // Reports make no requests; block any that would leave the file.
      hidden.webContents.session.webRequest.onBeforeRequest({ urls: ['http://*/*', 'https://*/*'] }, (_d, cb) => cb({ cancel: true }));
      await hidden.loadURL(pathToFileURL(htmlPath).toString());
      // Wait for every chart to render (the report sets data-report-ready on <html>).
      for (let i = 0; i < 300; i++) {
        const ready = (await hidden.webContents.executeJavaScript("document.documentElement.hasAttribute('data-report-ready') || document.documentElement.hasAttribute('data-report-error')")) as boolean;
        if (ready) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const pdf = await hidden.webContents.printToPDF({ printBackground: true, pageSize: 'A4' });
      writeFileSync(pdfPath, pdf);
      return pdfPath;
    } finally {
      hidden.destroy();
    }
  });
}

/** Secrets encrypted with safeStorage (OS keychain), stored in userData/secrets.json; never sent to the engine at rest. */
function setupSecrets(win: BrowserWindow): void {
  const file = join(app.getPath('userData'), 'secrets.json');
  const read = (): Record<string, string> => (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>) : {});
  const check = (e: Electron.IpcMainInvokeEvent): void => {
    if (e.senderFrame !== win.webContents.mainFrame) throw new Error('refused');
  };
  ipcMain.handle('desktop:secretSave', (e, key: string, value: string) => {
    check(e);
    if (!safeStorage.isEncryptionAvailable()) throw new Error('the OS keychain is not available; the secret is kept in memory only');
    const all = read();
    all[key] = safeStorage.encryptString(value).toString('base64');
    writeFileSync(file, JSON.stringify(all), { mode: 0o600 });
  });
  ipcMain.handle('desktop:secretLoad', (e, key: string) => {
    check(e);
    const v = read()[key];
    return v === undefined ? null : safeStorage.decryptString(Buffer.from(v, 'base64'));
  });
  ipcMain.handle('desktop:secretRemove', (e, key: string) => {
    check(e);
    const all = read();
    delete all[key];
    writeFileSync(file, JSON.stringify(all), { mode: 0o600 });
  });
}

function setupMenu(win: BrowserWindow): void {
  const template: MenuItemConstructorOptions[] = [
    ...(process.platform === 'darwin' ? [{ role: 'appMenu' as const }] : []),
    {
      label: 'File',
      submenu: [
        { label: 'Add files…', accelerator: 'CmdOrCtrl+O', click: () => win.webContents.send('wb-event', { event: 'app.menu', payload: { action: 'addFiles' } }) },
        { type: 'separator' },
        process.platform === 'darwin' ? { role: 'close' } : { role: 'quit' },
      ],
    },
    { role: 'editMenu' },
    { role: 'viewMenu' },
    { role: 'windowMenu' },
    { role: 'help', submenu: [{ label: 'Fleetlens on the web', click: () => void shell.openExternal('https://github.com/') }] },
  ];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}

async function boot(): Promise<void> {
  const workspace = process.env.FLEETLENS_WORKSPACE ?? join(app.getPath('userData'), 'workspace.duckdb');
  engine = utilityProcess.fork(join(here, 'engine.mjs'), [workspace], { serviceName: 'Fleetlens engine', stdio: 'inherit' });
  const win = createWindow();
  // Every handler is registered before the page loads.
  teardownIpc = setupIpc(engine, win, appUrl);
  setupDialogs(win);
  setupPdf(win);
  setupSecrets(win);
  setupMenu(win);
  await win.loadURL(appUrl);
}

app.whenReady().then(boot).catch((err: unknown) => {
  dialog.showErrorBox('Fleetlens could not start', err instanceof Error ? err.message : String(err));
  app.quit();
});

app.on('window-all-closed', () => {
  teardownIpc?.();
  // The engine closes its workspace on SIGTERM-like exit; DuckDB's WAL makes a hard stop safe too.
  engine?.kill();
  app.quit();
});
