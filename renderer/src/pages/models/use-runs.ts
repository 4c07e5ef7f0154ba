/**
 * Run state that follows `runs.updated`. Training emits an event per phase and
 * sweeps emit one per child, so updates are batched per animation frame and
 * applied per run: unchanged runs keep their object identity and memoized rows
 * skip rendering.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { RunInfo } from '../../../../core/experiments/api.ts';
import { call, on } from '../../api/client.ts';

/** Subscribe to runs.updated, delivering the latest state per run once per frame. */
export function useRunEvents(onBatch: (runs: RunInfo[]) => void): void {
  const cb = useRef(onBatch);
  cb.current = onBatch;
  useEffect(() => {
    let pending = new Map<string, RunInfo>();
    let frame = 0;
    const flush = (): void => {
      frame = 0;
      const batch = [...pending.values()];
      pending = new Map();
      if (batch.length) cb.current(batch);
    };
    const off = on('runs.updated', (run) => {
      pending.set(run.id, run);
      // requestAnimationFrame does not fire in background tabs; a timeout keeps state current there.
      frame ||= window.setTimeout(flush, 50);
    });
    return () => {
      off();
      if (frame) window.clearTimeout(frame);
    };
  }, []);
}

/** Apply a batch of updates to a map of runs, keeping untouched entries as they are. */
export function mergeRuns(map: Map<string, RunInfo>, batch: RunInfo[], accept: (r: RunInfo) => boolean): Map<string, RunInfo> {
  let next: Map<string, RunInfo> | null = null;
  for (const r of batch) {
    if (!map.has(r.id) && !accept(r)) continue;
    next ??= new Map(map);
    next.set(r.id, r);
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
