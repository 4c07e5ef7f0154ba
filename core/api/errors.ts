/**
 * The one error shape of Fleetlens. Core throws WorkbenchError; both transports
 * serialize it to {code, message, details?} and the clients rebuild it, so the
 * renderer sees the same error whether it talks over IPC or HTTP.
 * This module is transport-neutral: no Node, no DOM.
 */

/** Closed set of error codes. Add a code here before throwing it. */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'UNKNOWN_METHOD'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'WORKSPACE_LOCKED'
  | 'WORKSPACE_FAILED'
  | 'DATASET_NOT_FOUND'
  | 'DATASET_EXISTS'
  | 'FILE_NOT_FOUND'
  | 'FILE_EMPTY'
  | 'FILE_UNREADABLE'
  | 'SCHEMA_MISMATCH'
  | 'PARSE_FAILED'
  | 'QUERY_FAILED'
  | 'WRITE_NOT_ALLOWED'
  | 'CANCELLED'
  | 'NOT_FOUND'
  | 'MODEL_FAILED'
  | 'EVENTHUB_AUTH'
  | 'EVENTHUB_FAILED'
  | 'INTERNAL';

/** Wire form of an error. */
export interface SerializedError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

export class WorkbenchError extends Error {
  override readonly name = 'WorkbenchError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }

  toJSON(): SerializedError {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

/** Wrap anything thrown into the wire form; unknown errors become INTERNAL with their message, never a stack. */
export function serializeError(err: unknown): SerializedError {
  if (err instanceof WorkbenchError) return err.toJSON();
  if (isSerializedError(err)) return { code: err.code, message: err.message, details: err.details };
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'INTERNAL', message };
}

export function deserializeError(e: SerializedError): WorkbenchError {
  return new WorkbenchError(e.code, e.message, e.details);
}

export function isSerializedError(v: unknown): v is SerializedError {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as { code?: unknown }).code === 'string' &&
    typeof (v as { message?: unknown }).message === 'string'
  );
}
