/**
 * Globals the Electron preload exposes (electron/preload.ts). Both are absent in
 * browser mode, so every use goes through an optional check.
 */
import type { WorkbenchBridge } from '../../core/api/contract.ts';

/** Native helpers offered only by the desktop app. */
export interface FleetlensDesktop {
  /** Native multi-file dialog; resolves with absolute paths, or [] when the user cancels. */
  openFiles?: () => Promise<string[]>;
  /** Native save dialog; resolves with the chosen path or null. */
  saveFile?: (opts: { defaultName: string; filters: { name: string; extensions: string[] }[] }) => Promise<string | null>;
  /** Print a report HTML file (from reports.export) to PDF with Electron's printToPDF; resolves with the PDF path. */
  printReportPdf?: (htmlPath: string, pdfPath: string) => Promise<string>;
  /** Encrypted at rest with the OS keychain (Electron safeStorage); for connection strings. */
  secrets?: {
    save(key: string, value: string): Promise<void>;
    load(key: string): Promise<string | null>;
    remove(key: string): Promise<void>;
  };
}

declare global {
  interface Window {
    /** The contract transport over IPC (invoke + on); absent in browser mode. */
    workbench?: WorkbenchBridge;
    /** Desktop-only helpers such as the native file dialog; absent in browser mode. */
    fleetlensDesktop?: FleetlensDesktop;
  }
}
