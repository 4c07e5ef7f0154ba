/**
 * Formatting for Explore's numbers and time axes. Dataset timestamps are naive
 * (DuckDB TIMESTAMP, no zone) and the engine turns them into epoch ms as if
 * UTC; formatting those ms in UTC therefore shows exactly the stored wall-clock
 * value, whatever the analyst's own time zone.
 */

const p2 = (x: number): string => String(x).padStart(2, '0');

/** Epoch ms (of a naive timestamp) as "2026-03-14 09:26". */
export function formatEpoch(ms: number, seconds = false): string {
  if (!Number.isFinite(ms)) return '';
  const d = new Date(ms);
  const base = `${d.getUTCFullYear()}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}`;
  return seconds ? `${base}:${p2(d.getUTCSeconds())}` : base;
}

/** A value on the time axis: a date for timestamps, the raw number (e.g. a cycle) otherwise. */
export function formatAxisValue(v: number, temporal: boolean): string {
  return temporal ? formatEpoch(v) : formatNumber(v);
}

/** Plotly reports date-axis ranges as "2026-03-14 09:26:31.5" strings (UTC here, see above); numbers pass through. */
export function parseAxisValue(v: unknown, temporal: boolean): number {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return Number.NaN;
  if (!temporal) return Number(v);
  const iso = v.trim().replace(' ', 'T');
  const withTime = iso.includes('T') ? iso : `${iso}T00:00:00`;
  return Date.parse(`${withTime}Z`);
}

/** Seconds as "5 h 29 min", "3 d 4 h", "42 s". */
export function formatSpanSeconds(s: number): string {
  if (!Number.isFinite(s)) return '';
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86_400) {
    const h = Math.floor(s / 3600);
    const m = Math.round((s - h * 3600) / 60);
    return m ? `${h} h ${p2(m)} min` : `${h} h`;
  }
  const d = Math.floor(s / 86_400);
  const h = Math.round((s - d * 86_400) / 3600);
  return h ? `${d} d ${h} h` : `${d} d`;
}

const COMPACT = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 6 });

/** Up to six significant digits, no exponent below 1e9: sensor readings, statistics. */
export function formatNumber(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  if (v !== 0 && (Math.abs(v) >= 1e9 || Math.abs(v) < 1e-4)) return v.toExponential(3);
  return COMPACT.format(v);
}

/** A share in [0, 1] as "2.42%" (two decimals below 10%, one above). */
export function formatPercent(r: number | null | undefined): string {
  if (r === null || r === undefined || Number.isNaN(r)) return '—';
  const pct = r * 100;
  if (pct === 0) return '0%';
  if (pct < 0.01) return '<0.01%';
  return `${pct.toFixed(pct < 10 ? 2 : 1)}%`;
}

/** Cell values of engine pages come as number, string (DECIMAL/HUGEINT may be text) or null. */
export function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  return Number.NaN;
}
