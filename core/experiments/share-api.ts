/**
 * Sharing runs between workspaces (issue #6 item 7): a run archive is one
 * gzip'd JSON-lines file holding runs (children included), all their artifacts
 * and their scored test rows, with a versioned header and a checksummed trailer.
 * Types only.
 */

export interface ShareApi {
  /**
   * Write the runs, their descendants, artifacts and scores tables to one archive
   * file (replaced if it exists). NOT_FOUND naming unknown runs; INVALID_ARGUMENT
   * for runs still running.
   */
  'runs.exportArchive': (req: { runIds: string[]; path: string }) => Promise<{ path: string; runs: number; bytes: number }>;
  /**
   * Import an archive into this workspace in one transaction: all of it or
   * nothing. Run ids are kept unless taken here, in which case fresh ids are
   * given and parent links (and ids inside artifacts) follow. `experiment` puts
   * every imported run in that experiment. FILE_UNREADABLE for a file that is not
   * a run archive, PARSE_FAILED for a corrupt or truncated one.
   */
  'runs.importArchive': (req: { path: string; experiment?: string }) => Promise<{ imported: { from: string; to: string }[] }>;
}
