/**
 * The in-process transport: calls go straight to Workbench.dispatch, but through
 * the wire codec and error serialization, so anything that would not survive IPC
 * or HTTP fails here too (the contract tests run against this and the HTTP bridge).
 */
import type { Workbench } from '../app.ts';
import type { EventName, MethodName, RequestOf, ResponseOf, WorkbenchClient, WorkbenchEvents } from '../api/contract.ts';
import { deserializeError, serializeError } from '../api/errors.ts';
import { decodeWire, encodeWire } from '../api/codec.ts';

export function createInProcessClient(wb: Workbench): WorkbenchClient {
  return {
    async call<M extends MethodName>(method: M, req: RequestOf<M>): Promise<ResponseOf<M>> {
      try {
        const res = await wb.dispatch(method, decodeWire(encodeWire(req ?? {})));
        return (res === undefined ? null : decodeWire(encodeWire(res))) as ResponseOf<M>;
      } catch (err) {
        throw deserializeError(serializeError(err));
      }
    },
    on<E extends EventName>(event: E, cb: (payload: WorkbenchEvents[E]) => void): () => void {
      return wb.events.on(event, (p) => cb(decodeWire(encodeWire(p)) as WorkbenchEvents[E]));
    },
  };
}
