/**
 * Model registry (issue #6): register a run's model as the next version of a
 * name, point aliases (production, staging, …) at versions — moving them when
 * they pointed elsewhere — and read each version's model card.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { ModelCard, ModelVersion, RunInfo } from '../../../../core/experiments/api.ts';
import { call } from '../../api/client.ts';
import { ErrorBox, useToasts } from '../../components/Notices.tsx';
import { formatDateTime } from '../../format.ts';
import { runHash } from '../models/links.ts';
import { formatMetric, formatMetricOf, formatParam, metricLabel, metricNames } from '../models/run-format.ts';

const ALIASES = ['production', 'staging'];

/** Register one run, optionally pointing an alias at the new version. */
export function RegisterForm({ run, names, onDone, onCancel }: { run: RunInfo; names: string[]; onDone(v: ModelVersion): void; onCancel(): void }) {
  const [name, setName] = useState(names[0] ?? String(run.params.detector ?? 'model'));
  const [description, setDescription] = useState('');
  const [alias, setAlias] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      let v = await call('registry.register', { runId: run.id, name: name.trim(), description });
      if (alias) v = await call('registry.setAlias', { name: v.name, alias, version: v.version });
      onDone(v);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="register-form" data-testid="register-form">
      <div className="row wrap">
        <span className="hint">
          Register <b>{run.name}</b> as
        </span>
        <input value={name} onChange={(e) => setName(e.target.value)} list="registry-names" placeholder="model name" data-testid="register-name" />
        <datalist id="registry-names">
          {names.map((n) => (
            <option key={n} value={n} />
          ))}
        </datalist>
        <input value={description} onChange={(e) => setDescription(e.target.value)} placeholder="description (optional)" className="grow" />
        <label className="mx-inline">
          alias
          <select value={alias} onChange={(e) => setAlias(e.target.value)} data-testid="register-alias">
            <option value="">none</option>
            {ALIASES.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="btn btn-primary" disabled={busy || !name.trim() || run.status !== 'finished'} onClick={() => void submit()} data-testid="register-submit">
          {busy ? 'Registering…' : 'Register'}
        </button>
        <button type="button" className="btn" onClick={onCancel}>
          Cancel
        </button>
      </div>
      {run.status !== 'finished' && <div className="inline-error">Only finished runs can be registered.</div>}
      {error !== null && <ErrorBox title="Registration failed" error={error} testId="register-error" />}
    </div>
  );
}

function Card({ card, onClose }: { card: ModelCard; onClose(): void }) {
  const metrics = metricNames([card.run]);
  return (
    <section className="panel model-card" data-testid="model-card">
      <div className="panel-head">
        <h2>
          Model card · {card.name} v{card.version}
        </h2>
        {card.aliases.map((a) => (
          <span key={a} className="alias-chip">
            {a}
          </span>
        ))}
        <span className="spacer" />
        <button type="button" className="icon-button" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </div>
      <div className="card-body">
        <div className="card-col">
          <h3>Model</h3>
          <div className="param-kv">
            <span className="muted">detector</span>
            <span className="mono">{card.detector}</span>
          </div>
          <div className="param-kv">
            <span className="muted">threshold</span>
            <span className="mono">{card.threshold === null ? '—' : formatMetric(card.threshold)}</span>
          </div>
          <div className="param-kv">
            <span className="muted">run</span>
            <a href={runHash(card.runId)} className="mono">
              {card.run.name}
            </a>
          </div>
          <div className="param-kv">
            <span className="muted">registered</span>
            <span>
              {formatDateTime(card.registeredAt)} by {card.registeredBy}
            </span>
          </div>
          {card.description && <p className="muted">{card.description}</p>}
          <h3>Required columns</h3>
          <div className="mono card-cols">{card.requiredColumns.join(', ')}</div>
          <h3>Training data</h3>
          {card.fingerprint ? (
            <div className="hint">
              {card.fingerprint.dataset}: {card.fingerprint.rowCount.toLocaleString('en-US')} rows, {card.fingerprint.columns.length} columns, hash <span className="mono">{card.fingerprint.hash.slice(0, 12)}</span>
            </div>
          ) : (
            <div className="hint">No fingerprint recorded.</div>
          )}
        </div>
        <div className="card-col">
          <h3>Metrics</h3>
          {metrics.map((m) => (
            <div className="param-kv" key={m}>
              <span className="muted">{metricLabel(m)}</span>
              <span className="mono">{formatMetricOf(card.run, m)}</span>
            </div>
          ))}
        </div>
        <div className="card-col">
          <h3>Parameters</h3>
          {Object.entries(card.params)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([k, v]) => (
              <div className="param-kv" key={k}>
                <span className="muted mono">{k}</span>
                <span className="mono">{formatParam(v)}</span>
              </div>
            ))}
        </div>
      </div>
    </section>
  );
}

function AliasSetter({ v, onSet }: { v: ModelVersion; onSet(alias: string): void }) {
  const [custom, setCustom] = useState('');
  return (
    <span className="row alias-setter">
      <select
        value=""
        onChange={(e) => {
          if (e.target.value === '__custom') return;
          if (e.target.value) onSet(e.target.value);
        }}
        data-testid="alias-select"
        aria-label={`Point an alias at v${v.version}`}
      >
        <option value="">set alias…</option>
        {ALIASES.filter((a) => !v.aliases.includes(a)).map((a) => (
          <option key={a} value={a}>
            {a}
          </option>
        ))}
      </select>
      <input
        className="alias-input"
        value={custom}
        placeholder="other alias"
        onChange={(e) => setCustom(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && custom.trim()) {
            onSet(custom.trim());
            setCustom('');
          }
        }}
      />
    </span>
  );
}

export function RegistryPanel({ refreshKey }: { refreshKey: number }) {
  const [versions, setVersions] = useState<ModelVersion[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [card, setCard] = useState<ModelCard | null>(null);
  const toasts = useToasts();
  const load = useCallback(() => {
    call('registry.list', {}).then(setVersions, setError);
  }, []);
  useEffect(load, [load, refreshKey]);

  const byName = useMemo(() => {
    const m = new Map<string, ModelVersion[]>();
    for (const v of versions ?? []) m.set(v.name, [...(m.get(v.name) ?? []), v]);
    return m;
  }, [versions]);

  const act = (p: Promise<unknown>, what: string): void => {
    p.then(load, (err: unknown) => toasts.notifyError(what, err));
  };

  return (
    <div className="registry" data-testid="registry-panel">
      {error !== null && <ErrorBox title="Could not read the registry" error={error} />}
      {versions !== null && versions.length === 0 && (
        <div className="list-empty">No registered models yet. Select a finished run in the Runs tab and press <b>Register…</b>.</div>
      )}
      {[...byName.entries()].map(([name, vs]) => (
        <section className="panel" key={name} data-testid="registry-model" data-name={name}>
          <div className="panel-head">
            <h2 className="mono">{name}</h2>
            <span className="hint">
              {vs.length} version{vs.length === 1 ? '' : 's'}
            </span>
          </div>
          <table className="grid">
            <thead>
              <tr>
                <th>version</th>
                <th>aliases</th>
                <th>run</th>
                <th>registered</th>
                <th>description</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {vs.map((v) => (
                <tr key={v.version} data-testid="registry-version" data-version={v.version}>
                  <td className="mono">v{v.version}</td>
                  <td>
                    {v.aliases.map((a) => (
                      <span key={a} className="alias-chip" data-testid="alias-chip">
                        {a}
                        <button type="button" className="tag-x" aria-label={`Remove alias ${a}`} onClick={() => act(call('registry.deleteAlias', { name, alias: a }), 'Could not remove the alias')}>
                          ×
                        </button>
                      </span>
                    ))}
                  </td>
                  <td>
                    <a href={runHash(v.runId)} className="mono">
                      {v.runId}
                    </a>
                  </td>
                  <td className="muted">{formatDateTime(v.registeredAt)}</td>
                  <td className="muted">{v.description}</td>
                  <td>
                    <span className="row">
                      <AliasSetter v={v} onSet={(alias) => act(call('registry.setAlias', { name, alias, version: v.version }), 'Could not set the alias')} />
                      <button
                        type="button"
                        className="btn btn-small"
                        data-testid="card-button"
                        onClick={() => call('registry.card', { ref: `${name}@${v.version}` }).then(setCard, (err: unknown) => toasts.notifyError('Could not read the model card', err))}
                      >
                        Card
                      </button>
                    </span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ))}
      {card && <Card card={card} onClose={() => setCard(null)} />}
    </div>
  );
}
