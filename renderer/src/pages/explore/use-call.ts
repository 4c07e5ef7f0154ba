/**
 * Data hooks of the Explore page: one contract call whose answer follows its
 * request (older answers are dropped, so a quick change of sensor never shows
 * the previous sensor's chart), and small UI choices remembered per tab.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { MethodName, RequestOf, ResponseOf } from '../../../../core/api/contract.ts';
import { call } from '../../api/client.ts';

export interface CallState<T> {
  /** The latest answer; kept while a newer request runs, so charts dim instead of blinking. */
  data: T | null;
  error: unknown;
  loading: boolean;
  reload(): void;
}

/**
 * Call `method` with `req` whenever the request (compared as JSON) or `version`
 * changes; `req === null` means "nothing to ask yet".
 */
export function useCall<M extends MethodName>(method: M, req: RequestOf<M> | null, version = ''): CallState<ResponseOf<M>> {
  const [data, setData] = useState<ResponseOf<M> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(req !== null);
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  const key = req === null ? null : JSON.stringify(req);
  const reqRef = useRef(req);
  reqRef.current = req;

  useEffect(() => {
    const mine = ++seq.current;
    const r = reqRef.current;
    if (key === null || r === null) {
      setLoading(false);
      return;
    }
    setLoading(true);
    call(method, r).then(
      (res) => {
        if (mine !== seq.current) return;
        setData(res);
        setError(null);
        setLoading(false);
      },
      (err: unknown) => {
        if (mine !== seq.current) return;
        setError(err);
        setLoading(false);
      },
    );
  }, [method, key, version, tick]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

function readStored<T>(key: string, initial: T): T {
  try {
    const raw = window.sessionStorage.getItem(key);
    return raw === null ? initial : (JSON.parse(raw) as T);
  } catch {
    return initial;
  }
}

/**
 * A UI choice (chosen sensors, split column…) kept in sessionStorage under
 * `fleetlens.explore.<key>`: it survives tab switches and reloads of this
 * window without cluttering the URL. A new key starts from its stored value.
 */
export function useStoredState<T>(key: string, initial: T): [T, (v: T) => void] {
  const full = `fleetlens.explore.${key}`;
  const [state, setState] = useState<{ key: string; value: T }>(() => ({ key: full, value: readStored(full, initial) }));
  const value = state.key === full ? state.value : readStored(full, initial);
  const set = useCallback(
    (v: T) => {
      setState({ key: full, value: v });
      try {
        window.sessionStorage.setItem(full, JSON.stringify(v));
      } catch {
        // Storage disabled: the choice lasts for this render tree only.
      }
    },
    [full],
  );
  return [value, set];
}
