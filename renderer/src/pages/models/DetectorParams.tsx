/**
 * A detector's parameters rendered from its specs (int/float/bool/enum with
 * min/max and per-parameter help), plus the detector's own help text, which
 * documents its limits (e.g. the ml-isolation-forest adapter).
 */
import { useState } from 'react';
import type { DetectorInfo } from '../../../../core/models/api.ts';
import type { DetectorParamSpec, ParamValue } from '../../../../core/models/detector.ts';

/** Each spec's default: the request the form starts from. */
export function defaultParams(d: DetectorInfo): Record<string, ParamValue> {
  return Object.fromEntries(d.params.map((p) => [p.name, p.default]));
}

/** Why a typed value is out of the spec's range, or null when it is fine. */
export function paramProblem(spec: DetectorParamSpec, v: ParamValue): string | null {
  if (spec.type === 'int' || spec.type === 'float') {
    if (typeof v !== 'number' || !Number.isFinite(v)) return 'a number is needed';
    if (spec.type === 'int' && !Number.isInteger(v)) return 'a whole number is needed';
    if (spec.min !== undefined && v < spec.min) return `at least ${spec.min}`;
    if (spec.max !== undefined && v > spec.max) return `at most ${spec.max}`;
  }
  return null;
}

function NumberParam({ spec, value, onChange }: { spec: DetectorParamSpec; value: ParamValue; onChange(v: ParamValue): void }) {
  // Keep the raw text so "0." or "" can be typed through; the number goes up only when it parses.
  const [text, setText] = useState(String(value));
  const problem = text.trim() === '' ? 'a number is needed' : paramProblem(spec, Number(text));
  return (
    <>
      <input
        type="number"
        className={`num-input${problem ? ' invalid' : ''}`}
        value={text}
        min={spec.min}
        max={spec.max}
        step={spec.type === 'int' ? 1 : 'any'}
        data-testid={`param-${spec.name}`}
        onChange={(e) => {
          setText(e.target.value);
          const n = Number(e.target.value);
          if (e.target.value.trim() !== '' && Number.isFinite(n)) onChange(n);
        }}
      />
      {problem && <span className="inline-error">{problem}</span>}
    </>
  );
}

export function DetectorParams({ detector, params, onChange }: { detector: DetectorInfo; params: Record<string, ParamValue>; onChange(p: Record<string, ParamValue>): void }) {
  const [helpOpen, setHelpOpen] = useState(false);
  return (
    <div className="detector-params" data-testid="detector-params">
      <div className={`detector-help${helpOpen ? ' open' : ''}`} data-testid="detector-help">
        {detector.help}
      </div>
      <button type="button" className="link-button" onClick={() => setHelpOpen((o) => !o)}>
        {helpOpen ? 'Less' : 'More about this detector and its limits'}
      </button>
      {detector.params.length === 0 && <div className="hint">No parameters.</div>}
      <div className="param-grid">
        {detector.params.map((spec) => {
          const v = params[spec.name] ?? spec.default;
          const range = spec.min !== undefined || spec.max !== undefined ? `${spec.min ?? '−∞'} … ${spec.max ?? '∞'}` : '';
          return (
            <div className="param" key={`${detector.kind}.${spec.name}`}>
              <div className="param-name">
                <span className="mono">{spec.name}</span>
                <span className="pill">{spec.type}</span>
                {range && <span className="hint">{range}</span>}
              </div>
              <div className="row">
                {spec.type === 'bool' ? (
                  <label className="check">
                    <input type="checkbox" checked={v === true} data-testid={`param-${spec.name}`} onChange={(e) => onChange({ ...params, [spec.name]: e.target.checked })} />
                    {v === true ? 'on' : 'off'}
                  </label>
                ) : spec.type === 'enum' ? (
                  <select value={String(v)} data-testid={`param-${spec.name}`} onChange={(e) => onChange({ ...params, [spec.name]: e.target.value })}>
                    {(spec.options ?? []).map((o) => (
                      <option key={o} value={o}>
                        {o}
                      </option>
                    ))}
                  </select>
                ) : (
                  <NumberParam spec={spec} value={v} onChange={(n) => onChange({ ...params, [spec.name]: n })} />
                )}
              </div>
              <div className="hint">{spec.help}</div>
            </div>
          );
        })}
      </div>
    </div>
  );
}
