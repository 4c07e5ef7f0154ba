/**
 * The runs filter language (issue #6 item 1), e.g.
 *   metrics.f1 > 0.5 and params.detector = 'pca'
 *   (tags contains 'baseline' or name ~ 'iforest') and not status = 'failed'
 * Fields: metrics.<name>, params.<name>, name, status, experiment, dataset, seed, id, notes,
 * tags (with `contains`). Operators: = != < <= > >= ~ (case-insensitive substring), contains.
 * Combinators: and, or, not, parentheses. Strings in single or double quotes; numbers; true/false.
 * Errors name the position ("expected a value at 17") and unknown fields by name.
 */
import { WorkbenchError } from '../api/errors.ts';
import type { RunInfo } from './api.ts';

type Tok = { kind: 'ident' | 'num' | 'str' | 'op' | 'lp' | 'rp' | 'end'; text: string; pos: number };
type Value = string | number | boolean | null | string[];
type Expr =
  | { kind: 'and' | 'or'; left: Expr; right: Expr }
  | { kind: 'not'; inner: Expr }
  | { kind: 'cmp'; field: string; op: string; value: string | number | boolean; pos: number };

const OPS = ['<=', '>=', '!=', '=', '<', '>', '~'];
const PLAIN_FIELDS = new Set(['name', 'status', 'experiment', 'dataset', 'seed', 'id', 'notes', 'tags', 'parent']);

function fail(message: string, pos: number, query: string): never {
  throw new WorkbenchError('INVALID_ARGUMENT', `${message} at position ${pos + 1}: ${query.slice(0, pos)}⟨here⟩${query.slice(pos)}`, { position: pos });
}

function tokenize(q: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')') {
      out.push({ kind: c === '(' ? 'lp' : 'rp', text: c, pos: i++ });
    } else if (c === "'" || c === '"') {
      const start = i++;
      let s = '';
      while (i < q.length && q[i] !== c) s += q[i++];
      if (i >= q.length) fail('unterminated string', start, q);
      i++;
      out.push({ kind: 'str', text: s, pos: start });
    } else if (/[0-9]/.test(c) || ((c === '-' || c === '.') && /[0-9.]/.test(q[i + 1] ?? ''))) {
      const m = /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?/i.exec(q.slice(i))!;
      out.push({ kind: 'num', text: m[0], pos: i });
      i += m[0].length;
    } else if (OPS.some((o) => q.startsWith(o, i))) {
      const o = OPS.find((x) => q.startsWith(x, i))!;
      out.push({ kind: 'op', text: o, pos: i });
      i += o.length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_.\-]*/.exec(q.slice(i))!;
      out.push({ kind: 'ident', text: m[0], pos: i });
      i += m[0].length;
    } else {
      fail(`unexpected character '${c}'`, i, q);
    }
  }
  out.push({ kind: 'end', text: '', pos: q.length });
  return out;
}

export function parseFilter(query: string): Expr | null {
  if (!query.trim()) return null;
  const toks = tokenize(query);
  let k = 0;
  const peek = (): Tok => toks[k]!;
  const word = (w: string): boolean => peek().kind === 'ident' && peek().text.toLowerCase() === w;
  const parseOr = (): Expr => {
    let left = parseAnd();
    while (word('or')) {
      k++;
      left = { kind: 'or', left, right: parseAnd() };
    }
    return left;
  };
  const parseAnd = (): Expr => {
    let left = parseNot();
    while (word('and')) {
      k++;
      left = { kind: 'and', left, right: parseNot() };
    }
    return left;
  };
  const parseNot = (): Expr => {
    if (word('not')) {
      k++;
      return { kind: 'not', inner: parseNot() };
    }
    return parseAtom();
  };
  const parseAtom = (): Expr => {
    const t = peek();
    if (t.kind === 'lp') {
      k++;
      const e = parseOr();
      if (peek().kind !== 'rp') fail("expected ')'", peek().pos, query);
      k++;
      return e;
    }
    if (t.kind !== 'ident') fail('expected a field such as metrics.f1 or params.detector', t.pos, query);
    const field = t.text;
    if (!PLAIN_FIELDS.has(field) && !/^(metrics|params)\.[A-Za-z0-9_.\-]+$/.test(field)) {
      fail(`unknown field '${field}' (use metrics.<name>, params.<name>, ${[...PLAIN_FIELDS].join(', ')})`, t.pos, query);
    }
    k++;
    const opTok = peek();
    let op: string;
    if (opTok.kind === 'op') op = opTok.text;
    else if (opTok.kind === 'ident' && opTok.text.toLowerCase() === 'contains') op = 'contains';
    else fail('expected an operator (=, !=, <, <=, >, >=, ~, contains)', opTok.pos, query);
    k++;
    const v = peek();
    let value: string | number | boolean;
    if (v.kind === 'num') value = Number(v.text);
    else if (v.kind === 'str') value = v.text;
    else if (v.kind === 'ident' && (v.text === 'true' || v.text === 'false')) value = v.text === 'true';
    else fail('expected a value (a number, a quoted string, true or false)', v.pos, query);
    k++;
    return { kind: 'cmp', field, op, value, pos: t.pos };
  };
  const e = parseOr();
  if (peek().kind !== 'end') fail(`unexpected '${peek().text}'`, peek().pos, query);
  return e;
}

function fieldValue(run: RunInfo, field: string): Value | undefined {
  if (field.startsWith('metrics.')) return run.metrics[field.slice(8)];
  if (field.startsWith('params.')) return run.params[field.slice(7)];
  switch (field) {
    case 'tags':
      return run.tags;
    case 'parent':
      return run.parentId;
    case 'seed':
      return run.seed;
    default:
      return (run as unknown as Record<string, Value>)[field];
  }
}

function compare(a: Value | undefined, op: string, b: string | number | boolean): boolean {
  if (a === undefined || a === null) return op === '!=';
  if (op === 'contains') return Array.isArray(a) ? a.some((x) => x.toLowerCase() === String(b).toLowerCase()) : String(a).toLowerCase().includes(String(b).toLowerCase());
  if (Array.isArray(a)) return false;
  if (op === '~') return String(a).toLowerCase().includes(String(b).toLowerCase());
  const x = typeof b === 'number' ? Number(a) : typeof b === 'boolean' ? a === true || a === 'true' : String(a);
  switch (op) {
    case '=': return x === b;
    case '!=': return x !== b;
    case '<': return x < b;
    case '<=': return x <= b;
    case '>': return x > b;
    case '>=': return x >= b;
  }
  return false;
}

function evaluate(e: Expr, run: RunInfo): boolean {
  switch (e.kind) {
    case 'and': return evaluate(e.left, run) && evaluate(e.right, run);
    case 'or': return evaluate(e.left, run) || evaluate(e.right, run);
    case 'not': return !evaluate(e.inner, run);
    case 'cmp': return compare(fieldValue(run, e.field), e.op, e.value);
  }
}

/** Fields a parsed filter names (for "unknown column" checks against the runs at hand). */
function fieldsOf(e: Expr): { field: string; pos: number }[] {
  switch (e.kind) {
    case 'and':
    case 'or': return [...fieldsOf(e.left), ...fieldsOf(e.right)];
    case 'not': return fieldsOf(e.inner);
    case 'cmp': return [{ field: e.field, pos: e.pos }];
  }
}

/** Runs matching the filter; a metrics./params. name no run has is reported as unknown, by name. */
export function filterRuns(runs: RunInfo[], query: string | undefined): RunInfo[] {
  const e = query ? parseFilter(query) : null;
  if (!e) return runs;
  for (const { field, pos } of fieldsOf(e)) {
    if (field.startsWith('metrics.') && runs.length && !runs.some((r) => field.slice(8) in r.metrics)) {
      fail(`unknown metric '${field.slice(8)}' (runs have ${[...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort().join(', ')})`, pos, query!);
    }
    if (field.startsWith('params.') && runs.length && !runs.some((r) => field.slice(7) in r.params)) {
      fail(`unknown parameter '${field.slice(7)}'`, pos, query!);
    }
  }
  return runs.filter((r) => evaluate(e, r));
}
