/**
 * Run state that follows `runs.updated`. Training emits an event per phase and
 * sweeps emit one per child, so updates are batched per animation frame and
 * applied per run: unchanged runs keep their object identity and memoized rows
 * skip rendering.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { RunInfo } from '../../../../core/experiments/api.ts';
import { call, on } from '../../api/client.ts';

/** Subscribe to runs.updated and runs.deleted, delivering the latest state per run (and the deleted ids) once per frame. */
export function useRunEvents(onBatch: (runs: RunInfo[], deleted: Set<string>) => void): void {
  const cb = useRef(onBatch);
  cb.current = onBatch;
  useEffect(() => {
    let pending = new Map<string, RunInfo>();
    let gone = new Set<string>();
    let frame = 0;
    const flush = (): void => {
      frame = 0;
      const batch = [...pending.values()].filter((r) => !gone.has(r.id));
      const deleted = gone;
      pending = new Map();
      gone = new Set();
      if (batch.length || deleted.size) cb.current(batch, deleted);
    };
    // requestAnimationFrame does not fire in background tabs; a timeout keeps state current there.
    const schedule = (): void => {
      frame ||= window.setTimeout(flush, 50);
    };
    const offUpdated = on('runs.updated', (run) => {
      pending.set(run.id, run);
      schedule();
    });
    const offDeleted = on('runs.deleted', ({ runIds }) => {
      for (const id of runIds) gone.add(id);
      schedule();
    });
    return () => {
      offUpdated();
      offDeleted();
      if (frame) window.clearTimeout(frame);
    };
  }, []);
}

/** Apply a batch of updates (and deletions) to a map of runs, keeping untouched entries as they are. */
export function mergeRuns(map: Map<string, RunInfo>, batch: RunInfo[], accept: (r: RunInfo) => boolean, deleted: Set<string> = new Set()): Map<string, RunInfo> {
  let next: Map<string, RunInfo> | null = null;
  for (const r of batch) {
    if (!map.has(r.id) && !accept(r)) continue;
    next ??= new Map(map);
    next.set(r.id, r);
  }
  for (const id of deleted) {
    if (!map.has(id)) continue;
    next ??= new Map(map);
    next.delete(id);
  }
  return next ?? map;
}

/** One run (with artifacts list), refreshed on its own runs.updated events; ended runs are re-read once for their artifacts. */
export function useRun(runId: string): { run: (RunInfo & { artifacts: string[] }) | null; error: unknown; reload(): void } {
  const [run, setRun] = useState<(RunInfo & { artifacts: string[] }) | null>(null);
  const [error, setError] = useState<unknown>(null);
  const seq = useRef(0);
  const reload = useCallback(() => {
    const s = ++seq.current;
    call('runs.get', { runId }).then(
      (r) => {
        if (s !== seq.current) return;
        setRun(r);
        setError(null);
      },
      (err: unknown) => s === seq.current && setError(err),
    );
  }, [runId]);
  useEffect(() => {
    setRun(null);
    reload();
  }, [reload]);
  useRunEvents((batch) => {
    const mine = batch.find((r) => r.id === runId);
    if (!mine) return;
    if (mine.status !== 'running') reload();
    else setRun((prev) => (prev ? { ...mine, artifacts: prev.artifacts } : prev));
  });
  return { run, error, reload };
}
