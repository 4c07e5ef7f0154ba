/**
 * Electron transport of the WorkbenchApi. The engine runs in a utility process;
 * this module relays: renderer `wb:invoke` → engine {id, method, req} → reply,
 * and engine events → `webContents.send('wb-event')`. One generic channel, no
 * per-method code; the engine validates method names. Only the app's own page,
 * in its main frame, may call.
 */
import { ipcMain, type BrowserWindow, type IpcMainInvokeEvent, type UtilityProcess } from 'electron';
import type { HostReply } from '../core/server/engine-host.ts';

export const INVOKE_CHANNEL = 'wb:invoke';
export const EVENT_CHANNEL = 'wb-event';

function senderAllowed(e: IpcMainInvokeEvent, win: BrowserWindow, appUrl: string): boolean {
  const frame = e.senderFrame;
  if (!frame || frame !== win.webContents.mainFrame) return false;
  return frame.url.split('#')[0] === appUrl.split('#')[0];
}

export function setupIpc(engine: UtilityProcess, win: BrowserWindow, appUrl: string): () => void {
  let nextId = 1;
  const pending = new Map<number, (reply: HostReply) => void>();
  engine.on('message', (msg: HostReply) => {
    if ('event' in msg) {
      if (!win.isDestroyed()) win.webContents.send(EVENT_CHANNEL, msg);
    } else if ('id' in msg) {
      pending.get(msg.id)?.(msg);
      pending.delete(msg.id);
    }
  });
  engine.on('exit', (code) => {
    // Fail every call in flight with a clear error rather than hanging the UI.
    for (const [id, resolve] of pending) resolve({ id, ok: false, error: { code: 'INTERNAL', message: `the Fleetlens engine stopped (exit code ${code}); restart the app` } });
    pending.clear();
  });
  ipcMain.handle(INVOKE_CHANNEL, (e, method: unknown, req: unknown) => {
    if (!senderAllowed(e, win, appUrl)) return { ok: false, error: { code: 'FORBIDDEN', message: 'IPC call from an unexpected frame refused' } };
    if (typeof method !== 'string') return { ok: false, error: { code: 'INVALID_ARGUMENT', message: 'method name must be a string' } };
    const id = nextId++;
    return new Promise<HostReply>((resolve) => {
      pending.set(id, resolve);
      engine.postMessage({ id, method, req: req ?? {} });
    });
  });
  return () => ipcMain.removeHandler(INVOKE_CHANNEL);
}
