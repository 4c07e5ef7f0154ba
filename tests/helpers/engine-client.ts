/**
 * A client of the engine host protocol (core/server/engine-host.ts) over a forked child's IPC channel,
 * relaying calls and events the way electron/ipc.ts and the preload do.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { EventName, MethodName, RequestOf, ResponseOf, WorkbenchClient, WorkbenchEvents } from '../../core/api/contract.ts';
import { deserializeError, type SerializedError } from '../../core/api/errors.ts';
import type { HostReply } from '../../core/server/engine-host.ts';
import { ROOT } from './tmp.ts';

/** The engine host in a child process over `workspace` (tests/helpers/engine-child.ts), as Electron's utility process runs it. */
export function forkEngine(workspace: string): ChildProcess {
  return fork(join(ROOT, 'tests/helpers/engine-child.ts'), [workspace], { execArgv: ['--import', 'tsx'], serialization: 'advanced', stdio: 'inherit' });
}

export function engineClient(child: ChildProcess): WorkbenchClient & { ready: Promise<void> } {
  let nextId = 1;
  const pending = new Map<number, (r: HostReply) => void>();
  const listeners = new Map<string, Set<(p: unknown) => void>>();
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => (readyResolve = r));
  child.on('message', (msg: HostReply) => {
    if ('ready' in msg) readyResolve();
    else if ('event' in msg) listeners.get(msg.event)?.forEach((cb) => cb(msg.payload));
    else {
      pending.get(msg.id)?.(msg);
      pending.delete(msg.id);
    }
  });
  return {
    ready,
    async call<M extends MethodName>(method: M, req: RequestOf<M>): Promise<ResponseOf<M>> {
      const id = nextId++;
      const reply = await new Promise<HostReply>((resolve) => {
        pending.set(id, resolve);
        child.send({ id, method, req });
      });
      if ('ok' in reply && reply.ok) return reply.data as ResponseOf<M>;
      throw deserializeError((reply as { error: SerializedError }).error);
    },
    on<E extends EventName>(event: E, cb: (p: WorkbenchEvents[E]) => void): () => void {
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      set.add(cb as (p: unknown) => void);
      return () => set.delete(cb as (p: unknown) => void);
    },
  };
}
