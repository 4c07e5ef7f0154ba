/**
 * The field mapping of a preview: one row per model column with the event
 * field that feeds it (editable) and an example value from the first events,
 * so a wrong pick shows as a wrong-looking value before anything is stored.
 */
import type { PreviewField } from '../../../../core/stream/api.ts';
import { fieldExample, type MappingRow } from './live-format.ts';

export function MappingTable({ rows, fields, duplicates, onChange }: { rows: MappingRow[]; fields: PreviewField[]; duplicates: Set<string>; onChange(rows: MappingRow[]): void }) {
  const set = (column: string, field: string): void => onChange(rows.map((r) => (r.column === column ? { ...r, field } : r)));
  return (
    <div className="table-scroll lv-mapping">
      <table className="grid" data-testid="live-mapping">
        <thead>
          <tr>
            <th>model column</th>
            <th>event field</th>
            <th>type</th>
            <th>example value</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => {
            const f = fields.find((x) => x.path === r.field);
            const state = r.field === '' ? 'missing' : duplicates.has(r.field) ? 'duplicate' : r.field === r.column ? 'same' : 'mapped';
            return (
              <tr key={r.column} data-testid="live-mapping-row" data-column={r.column} data-state={state}>
                <td className="mono">{r.column}</td>
                <td>
                  <select value={r.field} onChange={(e) => set(r.column, e.target.value)} aria-label={`Event field for ${r.column}`} className={`mono lv-map-select lv-map-${state}`}>
                    <option value="">— none —</option>
                    {fields.map((x) => (
                      <option key={x.path} value={x.path}>
                        {x.path}
                      </option>
                    ))}
                  </select>
                  {state === 'mapped' && <span className="pill lv-map-pill">renamed</span>}
                </td>
                <td className="muted">{f ? f.types.join(' | ') : ''}</td>
                <td className="mono lv-example" title={f ? `${f.count} of the previewed records carry it` : undefined}>
                  {r.field === '' ? <span className="hint warn">no field</span> : fieldExample(fields, r.field)}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** The fields of the previewed records when no model is chosen yet. */
export function FieldsTable({ fields }: { fields: PreviewField[] }) {
  return (
    <div className="table-scroll lv-mapping">
      <table className="grid" data-testid="live-fields">
        <thead>
          <tr>
            <th>event field</th>
            <th>type</th>
            <th className="num">records</th>
            <th>example value</th>
          </tr>
        </thead>
        <tbody>
          {fields.map((f) => (
            <tr key={f.path}>
              <td className="mono">{f.path}</td>
              <td className="muted">{f.types.join(' | ')}</td>
              <td className="num">{f.count}</td>
              <td className="mono lv-example">{f.example}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
