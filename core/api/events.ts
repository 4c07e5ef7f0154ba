/**
 * In-process event bus for WorkbenchEvents. Transports subscribe with onAny and
 * forward every event (webContents.send in Electron, WebSocket in browser mode).
 */
import type { EventName, WorkbenchEvents } from './contract.ts';

type AnyListener = (event: EventName, payload: WorkbenchEvents[EventName]) => void;

export class EventBus {
  private readonly listeners = new Map<EventName, Set<(p: never) => void>>();
  private readonly anyListeners = new Set<AnyListener>();

  emit<E extends EventName>(event: E, payload: WorkbenchEvents[E]): void {
    for (const l of this.listeners.get(event) ?? []) (l as (p: WorkbenchEvents[E]) => void)(payload);
    for (const l of this.anyListeners) l(event, payload);
  }

  /** Listen to one event; returns unsubscribe. */
  on<E extends EventName>(event: E, cb: (payload: WorkbenchEvents[E]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(cb as (p: never) => void);
    return () => set.delete(cb as (p: never) => void);
  }

  /** Listen to every event; returns unsubscribe. */
  onAny(cb: AnyListener): () => void {
    this.anyListeners.add(cb);
    return () => this.anyListeners.delete(cb);
  }
}
