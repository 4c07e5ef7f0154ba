/**
 * Preload (sandboxed): exposes exactly two narrow objects to the page.
 * `workbench` is the WorkbenchBridge (invoke + on) and never ipcRenderer itself;
 * `fleetlensDesktop` offers the native file dialog and PDF printing.
 */
import { contextBridge, ipcRenderer } from 'electron';
import type { WorkbenchBridge } from '../core/api/contract.ts';

const INVOKE_CHANNEL = 'wb:invoke';
const EVENT_CHANNEL = 'wb-event';

const bridge = {
  async invoke(method: string, req: unknown): Promise<unknown> {
    if (typeof method !== 'string' || !/^[a-z]+\.[A-Za-z]+$/.test(method)) throw new Error(`invalid method name ${String(method)}`);
    const res = (await ipcRenderer.invoke(INVOKE_CHANNEL, method, req)) as { ok: boolean; data?: unknown; error?: unknown };
    if (res.ok) return res.data;
    // Rejected with the plain {code, message, details} object; the renderer client rebuilds WorkbenchError.
    throw res.error;
  },
  on(event: string, cb: (payload: unknown) => void): () => void {
    const listener = (_e: unknown, msg: { event: string; payload: unknown }): void => {
      if (msg.event === event) cb(msg.payload);
    };
    ipcRenderer.on(EVENT_CHANNEL, listener);
    return () => ipcRenderer.removeListener(EVENT_CHANNEL, listener);
  },
} satisfies WorkbenchBridge;

const desktop = {
  openFiles: (): Promise<string[]> => ipcRenderer.invoke('desktop:openFiles') as Promise<string[]>,
  saveFile: (opts: { defaultName: string; filters: { name: string; extensions: string[] }[] }): Promise<string | null> =>
    ipcRenderer.invoke('desktop:saveFile', opts) as Promise<string | null>,
  /** Render a Fleetlens HTML report (written by reports.export) to PDF with Chromium's printToPDF. */
  printReportPdf: (htmlPath: string, pdfPath: string): Promise<string> => ipcRenderer.invoke('desktop:printReportPdf', htmlPath, pdfPath) as Promise<string>,
  /** Secrets (Event Hubs connection strings) kept encrypted with the OS keychain via safeStorage. */
  secrets: {
    save: (key: string, value: string): Promise<void> => ipcRenderer.invoke('desktop:secretSave', key, value) as Promise<void>,
    load: (key: string): Promise<string | null> => ipcRenderer.invoke('desktop:secretLoad', key) as Promise<string | null>,
    remove: (key: string): Promise<void> => ipcRenderer.invoke('desktop:secretRemove', key) as Promise<void>,
  },
};

contextBridge.exposeInMainWorld('workbench', bridge);
contextBridge.exposeInMainWorld('fleetlensDesktop', desktop);
