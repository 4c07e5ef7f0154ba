/** Reports slice of the handler object (see core/app.ts). */
import { mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { WorkbenchError } from '../api/errors.ts';
import type { ExperimentStore } from '../experiments/store.ts';
import type { ReportsApi } from './api.ts';
import { collectReport, renderReportHtml } from './html-report.ts';
import { htmlToPdf, type PdfRenderer } from './pdf.ts';

/** Build the reports.* handlers; `pdf` replaces the headless-Chromium printer (e.g. Electron's printToPDF). */
export function reportsHandlers(deps: { store: ExperimentStore; appVersion: string; pdf?: PdfRenderer }): ReportsApi {
  const { store, appVersion } = deps;
  const pdf: PdfRenderer = deps.pdf ?? ((html, out) => htmlToPdf(html, out));
  return {
    'reports.export': async (req) => {
      const format = req.format;
      if (format !== 'html' && format !== 'pdf') throw new WorkbenchError('INVALID_ARGUMENT', `format must be 'html' or 'pdf', got '${String(format)}'`);
      if (typeof req.path !== 'string' || !req.path.trim()) throw new WorkbenchError('INVALID_ARGUMENT', 'a report needs an output path');
      if (req.runIds !== undefined && !Array.isArray(req.runIds)) throw new WorkbenchError('INVALID_ARGUMENT', 'runIds must be a list of run ids');
      const data = await collectReport(store, { experiment: req.experiment, runIds: req.runIds }, appVersion);
      const html = renderReportHtml(data);
      const out = resolve(req.path);
      if (format === 'pdf') {
        await pdf(html, out);
      } else {
        mkdirSync(dirname(out), { recursive: true });
        // Write beside the target, then rename: an open report is never half-written.
        const staged = `${out}.${process.pid}.tmp`;
        writeFileSync(staged, html);
        renameSync(staged, out);
      }
      return { path: out, bytes: statSync(out).size, runs: data.runs.length };
    },
  };
}
