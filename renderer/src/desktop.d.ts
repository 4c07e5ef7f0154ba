/**
 * Globals the Electron preload exposes (electron/preload.ts). Both are absent in
 * browser mode, so every use goes through an optional check.
 */
import type { WorkbenchBridge } from '../../core/api/contract.ts';

/** Native helpers offered only by the desktop app. */
export interface FleetlensDesktop {
  /** Native multi-file dialog; resolves with absolute paths, or [] when the user cancels. */
  openFiles?: () => Promise<string[]>;
}

declare global {
  interface Window {
    /** The contract transport over IPC (invoke + on); absent in browser mode. */
    workbench?: WorkbenchBridge;
    /** Desktop-only helpers such as the native file dialog; absent in browser mode. */
    fleetlensDesktop?: FleetlensDesktop;
  }
}
