/**
 * Shared error and toast display. Errors always show the WorkbenchError message
 * and code, never a stack: the stack means nothing to an analyst and would leak
 * engine internals into screenshots.
 */
import { createContext, useCallback, useContext, useMemo, useRef, useState, type ReactNode } from 'react';
import { WorkbenchError } from '../../../core/api/errors.ts';

/** What every error display shows: a code (when known) and one message. */
export interface ErrorView {
  code: string | null;
  message: string;
}

/** Reduce anything thrown to code + message; never includes a stack trace. */
export function describeError(err: unknown): ErrorView {
  if (err instanceof WorkbenchError) return { code: err.code, message: err.message };
  if (err instanceof Error) return { code: null, message: err.message || err.name };
  return { code: null, message: String(err) };
}

export type ToastKind = 'error' | 'success' | 'info';

interface Toast {
  id: number;
  kind: ToastKind;
  title: string;
  message: string;
  code: string | null;
}

interface ToastApi {
  /** Show a short notice; success/info fade after a few seconds, errors stay until dismissed. */
  notify(kind: ToastKind, title: string, message?: string): void;
  /** Show an error as a toast with its code and message. */
  notifyError(title: string, err: unknown): void;
}

const ToastContext = createContext<ToastApi | null>(null);

/** The toast API of the nearest ToastProvider. */
export function useToasts(): ToastApi {
  const api = useContext(ToastContext);
  if (!api) throw new Error('useToasts needs a ToastProvider');
  return api;
}

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const nextId = useRef(1);

  const dismiss = useCallback((id: number) => setToasts((ts) => ts.filter((t) => t.id !== id)), []);
  const push = useCallback(
    (t: Omit<Toast, 'id'>) => {
      const id = nextId.current++;
      // Keep the stack short: an error storm must not cover the page.
      setToasts((ts) => [...ts.slice(-3), { ...t, id }]);
      if (t.kind !== 'error') window.setTimeout(() => dismiss(id), 5000);
    },
    [dismiss],
  );
  const api = useMemo<ToastApi>(
    () => ({
      notify: (kind, title, message = '') => push({ kind, title, message, code: null }),
      notifyError: (title, err) => {
        const e = describeError(err);
        push({ kind: 'error', title, message: e.message, code: e.code });
      },
    }),
    [push],
  );

  return (
    <ToastContext.Provider value={api}>
      {children}
      <div className="toasts" role="status" aria-live="polite" data-testid="toasts">
        {toasts.map((t) => (
          <div key={t.id} className={`toast toast-${t.kind}`} data-testid={`toast-${t.kind}`}>
            <div className="toast-body">
              <div className="toast-title">
                {t.title}
                {t.code && <span className="code-chip">{t.code}</span>}
              </div>
              {t.message && <div className="toast-message">{t.message}</div>}
            </div>
            <button type="button" className="icon-button" aria-label="Dismiss" onClick={() => dismiss(t.id)}>
              ×
            </button>
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}

/** Inline error box next to the thing that failed (form, tab, list). */
export function ErrorBox({ error, title, onDismiss, testId }: { error: unknown; title?: string; onDismiss?: () => void; testId?: string }) {
  const e = describeError(error);
  return (
    <div className="error-box" role="alert" data-testid={testId ?? 'error-box'}>
      <div className="error-box-head">
        <span className="error-box-title">{title ?? 'Error'}</span>
        {e.code && (
          <span className="code-chip" data-testid="error-code">
            {e.code}
          </span>
        )}
        {onDismiss && (
          <button type="button" className="icon-button" aria-label="Dismiss" onClick={onDismiss}>
            ×
          </button>
        )}
      </div>
      <div className="error-box-message" data-testid="error-message">
        {e.message}
      </div>
    </div>
  );
}
