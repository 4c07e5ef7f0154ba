/**
 * Feature recipe editor (issue #5 item 7): a form for every recipe field and a
 * JSON view of the same object. The form always holds a valid-shaped recipe;
 * the JSON view keeps the user's text until it parses and passes the checks,
 * then becomes the recipe (so both views round-trip).
 */
import { useEffect, useState, type ReactNode } from 'react';
import type { DatasetInfo } from '../../../../core/data/api.ts';
import type { FeatureRecipe, GroupBy, RollingSpec, RollingStat } from '../../../../core/features/recipe.ts';
import { numericFeatureCount, parseIntList, parseRecipe } from './recipe-check.ts';

const STATS: RollingStat[] = ['mean', 'std', 'min', 'max'];
const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|REAL|DECIMAL.*)$/i;

export interface RecipeEditorProps {
  dataset: DatasetInfo;
  recipe: FeatureRecipe;
  onChange(recipe: FeatureRecipe): void;
  /** Reports whether the JSON view currently holds text that is not a valid recipe. */
  onJsonInvalid(invalid: boolean): void;
}

/** A list of whole numbers typed as "1, 5"; keeps the text while it is being edited. */
function IntListInput({ value, onChange, testId, label }: { value: number[]; onChange(v: number[]): void; testId: string; label: string }) {
  const [text, setText] = useState(value.join(', '));
  const [bad, setBad] = useState(false);
  useEffect(() => {
    // Follow outside changes (JSON view) unless they are what the text already says.
    setText((t) => (JSON.stringify(parseIntList(t)) === JSON.stringify(value) ? t : value.join(', ')));
  }, [value]);
  return (
    <label className="mx-field">
      <span>{label}</span>
      <input
        value={text}
        aria-invalid={bad}
        className={bad ? 'invalid' : ''}
        placeholder="none"
        data-testid={testId}
        onChange={(e) => {
          setText(e.target.value);
          const v = parseIntList(e.target.value);
          const ok = v !== null && v.every((k) => k >= 1 && k <= 10_000) && new Set(v).size === v.length;
          setBad(!ok);
          if (ok) onChange(v);
        }}
      />
    </label>
  );
}

/**
 * A list field of sized entries (rolling windows, EWM spans): each row's own
 * inputs from `renderRow`, a × to remove the row, and a button adding an entry
 * at the first size not in use (30, 40, …).
 */
function SizedList<T extends object>(props: {
  label: string;
  testId: string;
  items: T[];
  onChange(items: T[]): void;
  sizeOf(item: T): number;
  create(size: number): T;
  removeLabel: string;
  addText: string;
  renderRow(item: T, update: (patch: Partial<T>) => void): ReactNode;
}) {
  const { label, testId, items, onChange, sizeOf, create, removeLabel, addText, renderRow } = props;
  return (
    <div className="mx-field wide">
      <span>{label}</span>
      <div className="list-rows" data-testid={testId}>
        {items.map((item, i) => (
          <div className="row" key={i}>
            {renderRow(item, (patch) => onChange(items.map((x, j) => (j === i ? { ...x, ...patch } : x))))}
            <button type="button" className="icon-button" aria-label={removeLabel} onClick={() => onChange(items.filter((_, j) => j !== i))}>
              ×
            </button>
          </div>
        ))}
        <button
          type="button"
          className="btn btn-small"
          onClick={() => {
            const used = new Set(items.map(sizeOf));
            let size = 30;
            while (used.has(size)) size += 10;
            onChange([...items, create(size)]);
          }}
        >
          {addText}
        </button>
      </div>
    </div>
  );
}

export function RecipeEditor({ dataset, recipe, onChange, onJsonInvalid }: RecipeEditorProps) {
  const [view, setView] = useState<'form' | 'json'>('form');
  const [jsonText, setJsonText] = useState(() => JSON.stringify(recipe, null, 2));
  const [jsonError, setJsonError] = useState<{ message: string; line: number | null; column: number | null } | null>(null);

  // The JSON text follows the form whenever the form (or a reset) changes the recipe.
  useEffect(() => {
    setJsonText((t) => {
      const p = parseRecipe(t, dataset);
      return p.ok && JSON.stringify(p.recipe) === JSON.stringify(recipe) ? t : JSON.stringify(recipe, null, 2);
    });
  }, [recipe, dataset]);

  useEffect(() => onJsonInvalid(view === 'json' && jsonError !== null), [view, jsonError, onJsonInvalid]);

  const numericCols = dataset.columns.filter((c) => NUMERIC.test(c.type) && c.role !== 'label' && c.role !== 'time');
  const sensorCols = [...numericCols.filter((c) => c.role === 'sensor'), ...numericCols.filter((c) => c.role !== 'sensor')];
  const catCols = dataset.columns.filter((c) => c.role === 'categorical' || (c.role !== 'label' && c.role !== 'time' && c.role !== 'sensor' && /^(VARCHAR|BOOLEAN)$/i.test(c.type)));
  const hasRole = (r: string): boolean => dataset.columns.some((c) => c.role === r);
  const set = (patch: Partial<FeatureRecipe>): void => onChange({ ...recipe, ...patch });
  const toggle = (list: string[], name: string, on: boolean): string[] => {
    // Keep the dataset's column order so feature names come out in a stable order.
    const want = new Set(list);
    if (on) want.add(name);
    else want.delete(name);
    return dataset.columns.map((c) => c.name).filter((n) => want.has(n));
  };

  return (
    <div className="recipe-editor" data-testid="recipe-editor">
      <div className="row recipe-head">
        <div className="segmented" role="tablist" aria-label="Recipe view">
          <label className={view === 'form' ? 'on' : ''}>
            <input type="radio" checked={view === 'form'} onChange={() => setView('form')} />
            Form
          </label>
          <label className={view === 'json' ? 'on' : ''} data-testid="recipe-json-tab">
            <input type="radio" checked={view === 'json'} onChange={() => setView('json')} />
            JSON
          </label>
        </div>
        <span className="hint" data-testid="recipe-summary">
          {recipe.sensors.length} sensors × {recipe.sensors.length ? numericFeatureCount(recipe) / recipe.sensors.length : 0} features
          {recipe.categoricals.length ? ` + one-hot of ${recipe.categoricals.join(', ')}` : ''} = {numericFeatureCount(recipe)} numeric features
        </span>
      </div>

      {view === 'json' ? (
        <div className="recipe-json">
          <textarea
            spellCheck={false}
            className={`mono${jsonError ? ' invalid' : ''}`}
            rows={18}
            value={jsonText}
            data-testid="recipe-json"
            onChange={(e) => {
              const text = e.target.value;
              setJsonText(text);
              const p = parseRecipe(text, dataset);
              if (p.ok) {
                setJsonError(null);
                onChange(p.recipe);
              } else {
                setJsonError({ message: p.message, line: p.line, column: p.column });
              }
            }}
          />
          {jsonError ? (
            <div className="inline-error" data-testid="recipe-json-error">
              {jsonError.line !== null ? `Line ${jsonError.line}, column ${jsonError.column}: ` : ''}
              {jsonError.message}
            </div>
          ) : (
            <div className="hint">Valid recipe. Edits here and in the form are the same object.</div>
          )}
        </div>
      ) : (
        <div className="recipe-form">
          <div className="mx-field wide">
            <span>Sensors</span>
            <div className="check-grid" data-testid="recipe-sensors">
              {sensorCols.map((c) => (
                <label key={c.name} className="check" title={`${c.type}, role ${c.role}`}>
                  <input type="checkbox" checked={recipe.sensors.includes(c.name)} onChange={(e) => set({ sensors: toggle(recipe.sensors, c.name, e.target.checked) })} />
                  <span className="mono">{c.name}</span>
                </label>
              ))}
            </div>
          </div>
          <div className="mx-grid">
            <label className="mx-field">
              <span>Group by</span>
              <select value={recipe.groupBy} onChange={(e) => set({ groupBy: e.target.value as GroupBy })} data-testid="recipe-groupby">
                <option value="trip" disabled={!hasRole('trip')}>
                  trip
                </option>
                <option value="device" disabled={!hasRole('device')}>
                  device
                </option>
                <option value="device+trip" disabled={!hasRole('device') || !hasRole('trip')}>
                  device + trip
                </option>
                <option value="none">none (one series)</option>
              </select>
            </label>
            <IntListInput label="Lags" value={recipe.lags} onChange={(lags) => set({ lags })} testId="recipe-lags" />
            <IntListInput label="Diffs" value={recipe.diffs} onChange={(diffs) => set({ diffs })} testId="recipe-diffs" />
            <label className="mx-field">
              <span>Fill missing</span>
              <select value={recipe.fill} onChange={(e) => set({ fill: e.target.value as FeatureRecipe['fill'] })}>
                <option value="mean">training mean</option>
                <option value="zero">zero</option>
                <option value="drop">drop the row</option>
              </select>
            </label>
            <label className="check">
              <input type="checkbox" checked={recipe.includeRaw} onChange={(e) => set({ includeRaw: e.target.checked })} />
              raw values
            </label>
            <label className="check">
              <input type="checkbox" checked={recipe.standardize} onChange={(e) => set({ standardize: e.target.checked })} />
              standardize
            </label>
          </div>
          <SizedList
            label="Rolling windows"
            testId="recipe-rolling"
            items={recipe.rolling}
            onChange={(rolling) => set({ rolling })}
            sizeOf={(r) => r.window}
            create={(window): RollingSpec => ({ window, stats: ['mean', 'std'] })}
            removeLabel="Remove window"
            addText="+ window"
            renderRow={(r, update) => (
              <>
                <input
                  type="number"
                  min={1}
                  max={10000}
                  className="num-input"
                  value={r.window}
                  aria-label="Window rows"
                  onChange={(e) => update({ window: Math.max(1, Math.floor(Number(e.target.value) || 1)) })}
                />
                <span className="hint">rows:</span>
                {STATS.map((s) => (
                  <label key={s} className="check">
                    <input type="checkbox" checked={r.stats.includes(s)} onChange={(e) => update({ stats: STATS.filter((t) => (t === s ? e.target.checked : r.stats.includes(t))) })} />
                    {s}
                  </label>
                ))}
              </>
            )}
          />
          <SizedList
            label="EWM spans"
            testId="recipe-ewm"
            items={recipe.ewm}
            onChange={(ewm) => set({ ewm })}
            sizeOf={(e) => e.span}
            create={(span) => ({ span, deviation: true })}
            removeLabel="Remove span"
            addText="+ span"
            renderRow={(e, update) => (
              <>
                <input
                  type="number"
                  min={1}
                  step="any"
                  className="num-input"
                  value={e.span}
                  aria-label="EWM span"
                  onChange={(ev) => update({ span: Math.max(1, Number(ev.target.value) || 1) })}
                />
                <label className="check">
                  <input type="checkbox" checked={e.deviation} onChange={(ev) => update({ deviation: ev.target.checked })} />
                  deviation (x − ewm)
                </label>
              </>
            )}
          />
          <div className="mx-field wide">
            <span>Categoricals</span>
            <div className="check-grid">
              {catCols.length === 0 && <span className="hint">No text or categorical columns.</span>}
              {catCols.map((c) => (
                <label key={c.name} className="check" title={`${c.type}, role ${c.role}; one-hot encoded`}>
                  <input type="checkbox" checked={recipe.categoricals.includes(c.name)} onChange={(e) => set({ categoricals: toggle(recipe.categoricals, c.name, e.target.checked) })} />
                  <span className="mono">{c.name}</span>
                </label>
              ))}
            </div>
          </div>
          {(() => {
            const p = parseRecipe(JSON.stringify(recipe), dataset);
            return p.ok ? null : (
              <div className="inline-error" data-testid="recipe-form-error">
                {p.message}
              </div>
            );
          })()}
        </div>
      )}
    </div>
  );
}
