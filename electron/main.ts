/**
 * Electron main process: windows, menus, dialogs and IPC wiring only. The engine
 * (core/) runs in a utility process behind the same contract as browser mode
 * (electron/engine.ts), and model training in that process' worker threads, so
 * nothing heavy ever runs here.
 */
import { app, BrowserWindow, dialog, ipcMain, Menu, shell, utilityProcess, type MenuItemConstructorOptions, type UtilityProcess } from 'electron';
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
