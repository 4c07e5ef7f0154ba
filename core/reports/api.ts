/**
 * Reports slice of the API contract (issue #6 item 6): an experiment, or chosen
 * runs, exported as one self-contained HTML file (Plotly inlined, opens offline)
 * or as a PDF printed from that same HTML. Types only.
 */

export interface ReportExportRequest {
  /** Every run of this experiment (children included), oldest first. */
  experiment?: string;
  /** Exactly these runs; with `experiment`, each must belong to it. At least one of the two is required. */
  runIds?: string[];
  /** Output file; parent folders are created; an existing file is replaced. */
  path: string;
  format: 'html' | 'pdf';
}

export interface ReportExportResult {
  /** Absolute path of the written file. */
  path: string;
  /** Size of the written file in bytes. */
  bytes: number;
  /** Number of runs in the report. */
  runs: number;
}

export interface ReportsApi {
  /**
   * Write a report. NOT_FOUND (naming them) for unknown runs or experiments;
   * PDF needs a Chromium/Chrome binary (FLEETLENS_CHROMIUM, /usr/bin/chromium,
   * or chromium/google-chrome on PATH), FILE_NOT_FOUND when there is none.
   */
  'reports.export': (req: ReportExportRequest) => Promise<ReportExportResult>;
}
