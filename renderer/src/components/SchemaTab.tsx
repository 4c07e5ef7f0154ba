/** Schema & roles tab: each column's type and role, editable; Save sends only the changed roles. */
import { useMemo, useState } from 'react';
import type { ColumnRole, DatasetInfo } from '../../../core/data/api.ts';
import { call } from '../api/client.ts';
import { ErrorBox, useToasts } from './Notices.tsx';

/** Every role, in the order the select lists them (singular roles first). */
export const ROLES: readonly ColumnRole[] = ['time', 'device', 'trip', 'label', 'categorical', 'sensor', 'ignore'];

/** One line per role, shown as the select's tooltip and in the legend. */
const ROLE_HELP: Record<ColumnRole, string> = {
  time: 'The time axis (timestamp, date or cycle number); one column',
  device: 'Identifies the machine; one column',
  trip: 'Groups readings into runs/trips; one column',
  label: 'Known anomaly/defect flag (0/1), used to evaluate models; one column',
  categorical: 'Grouping attribute such as factory or model',
  sensor: 'Numeric measurement fed to the detectors',
  ignore: 'Kept in the table, not used by analyses',
};

export function SchemaTab({ dataset, onSaved }: { dataset: DatasetInfo; onSaved(info: DatasetInfo): void }) {
  const toasts = useToasts();
  const [draft, setDraft] = useState<Record<string, ColumnRole>>({});
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const changed = useMemo(() => {
    const out: Record<string, ColumnRole> = {};
    for (const c of dataset.columns) {
      const d = draft[c.name];
      if (d !== undefined && d !== c.role) out[c.name] = d;
    }
    return out;
  }, [draft, dataset.columns]);
  const changeCount = Object.keys(changed).length;

  const effective = dataset.columns.map((c) => ({ ...c, role: draft[c.name] ?? c.role }));
  const single = (role: ColumnRole): string => effective.find((c) => c.role === role)?.name ?? '—';
  const countOf = (role: ColumnRole): number => effective.filter((c) => c.role === role).length;

  const save = async (): Promise<void> => {
    setSaving(true);
    setError(null);
    try {
      const info = await call('datasets.setRoles', { name: dataset.name, roles: changed });
      setDraft({});
      onSaved(info);
      toasts.notify('success', 'Roles saved', `${changeCount} column${changeCount === 1 ? '' : 's'} of ${dataset.name} updated`);
    } catch (err) {
      // Kept next to the table (not a toast): the user fixes the roles right here.
      setError(err);
    } finally {
      setSaving(false);
    }
  };

  return (
    <div className="tab-fill">
      <div className="tab-toolbar roles-summary" data-testid="roles-summary">
        <span>
          time <b>{single('time')}</b>
        </span>
        <span>
          device <b>{single('device')}</b>
        </span>
        <span>
          trip <b>{single('trip')}</b>
        </span>
        <span>
          label <b>{single('label')}</b>
        </span>
        <span>
          sensors <b>{countOf('sensor')}</b>
        </span>
        <span>
          categorical <b>{countOf('categorical')}</b>
        </span>
        <span>
          ignored <b>{countOf('ignore')}</b>
        </span>
        <span className="spacer" />
        {changeCount > 0 && <span className="muted">{changeCount} unsaved</span>}
        <button type="button" className="btn" disabled={changeCount === 0 || saving} onClick={() => {
            setDraft({});
            setError(null);
          }} data-testid="roles-revert">
          Revert
        </button>
        <button type="button" className="btn btn-primary" disabled={changeCount === 0 || saving} onClick={() => void save()} data-testid="roles-save">
          {saving ? 'Saving…' : 'Save roles'}
        </button>
      </div>
      {error !== null && (
        <div className="inline-error">
          <ErrorBox title="Roles not saved" error={error} onDismiss={() => setError(null)} testId="roles-error" />
        </div>
      )}
      <div className="tab-scroll">
        <table className="grid schema-table" data-testid="schema-table">
          <thead>
            <tr>
              <th className="num">#</th>
              <th>column</th>
              <th>type</th>
              <th>role</th>
              <th>meaning</th>
            </tr>
          </thead>
          <tbody>
            {effective.map((c, i) => {
              const dirty = changed[c.name] !== undefined;
              return (
                <tr key={c.name} data-testid="schema-row" data-column={c.name} className={dirty ? 'dirty' : undefined}>
                  <td className="num muted">{i + 1}</td>
                  <td className="mono">{c.name}</td>
                  <td className="mono muted">{c.type}</td>
                  <td>
                    <select
                      className={`role-select role-${c.role}`}
                      value={c.role}
                      aria-label={`Role of ${c.name}`}
                      data-testid={`role-${c.name}`}
                      onChange={(e) => setDraft((d) => ({ ...d, [c.name]: e.target.value as ColumnRole }))}
                    >
                      {ROLES.map((r) => (
                        <option key={r} value={r}>
                          {r}
                        </option>
                      ))}
                    </select>
                    {dirty && <span className="dirty-dot" title="Changed, not saved yet" />}
                  </td>
                  <td className="muted">{ROLE_HELP[c.role]}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </div>
  );
}
