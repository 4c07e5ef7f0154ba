/** Modal confirmation for destructive actions; uses <dialog> for focus trapping and Esc for free. */
import { useEffect, useRef, type ReactNode } from 'react';
import { ErrorBox } from './Notices.tsx';

export interface ConfirmDialogProps {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  busy?: boolean;
  error?: unknown;
  onConfirm(): void;
  onCancel(): void;
  testId?: string;
}

export function ConfirmDialog({ title, children, confirmLabel, busy = false, error = null, onConfirm, onCancel, testId = 'confirm-dialog' }: ConfirmDialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);
  return (
    <dialog
      ref={ref}
      className="dialog"
      data-testid={testId}
      onCancel={(e) => {
        e.preventDefault();
        if (!busy) onCancel();
      }}
    >
      <div className="dialog-title">{title}</div>
      <div className="dialog-body">{children}</div>
      {error !== null && <ErrorBox title="Failed" error={error} testId="confirm-error" />}
      <div className="dialog-actions">
        {/* Focus starts on Cancel: Enter must not destroy anything by default. */}
        <button type="button" className="btn" onClick={onCancel} disabled={busy} data-testid="confirm-cancel" autoFocus>
          Cancel
        </button>
        <button type="button" className="btn btn-danger" onClick={onConfirm} disabled={busy} data-testid="confirm-ok">
          {busy ? 'Working…' : confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
