/**
 * bench/models (issue #5): our `isolation-forest` against the `ml-isolation-forest`
 * adapter and scikit-learn's IsolationForest (single-threaded, same data through a
 * temporary .npy file), on a seeded synthetic matrix with 1% injected outliers and
 * on C-MAPSS FD001 (label: RUL ≤ 30). Prints fit time, scoring rows/s and ROC-AUC,
 * then the ratios against scikit-learn (targets: scoring ≥ 2×, fit ≤ 1×, |ΔAUC| ≤ 0.01).
 *
 * A single forest's ROC-AUC varies with its seed by about ±0.02 on FD001, more than
 * the target, so on datasets of at most 100k rows the AUC is the mean over
 * `--auc-seeds` seeds (each implementation gets the same seeds); timings use the first.
 *
 *   node --import tsx bench/models.ts [--rows 1000000] [--auc-seeds 5] [--mljs-fit-rows 25600] [--mljs-score-rows 100000] [--no-sklearn] [--extended]
 *
 * `--extended` adds a row for our extended (hyperplane) variant.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DetectorFactory, Matrix } from '../core/models/detector.ts';
import { isolationForest } from '../core/models/isolation-forest.ts';
import { isolationForestMljs } from '../core/models/isolation-forest-mljs.ts';
import { rocAuc } from '../core/models/metrics.ts';
import { createRng } from '../core/util/rng.ts';
import { arg, median, ROOT } from './lib.ts';

const ROWS = Number(arg('rows', '1000000'));
const MLJS_FIT_ROWS = Number(arg('mljs-fit-rows', '25600'));
const MLJS_SCORE_ROWS = Number(arg('mljs-score-rows', '100000'));
const AUC_SEEDS = Number(arg('auc-seeds', '5'));
const WITH_SKLEARN = !process.argv.includes('--no-sklearn');
const WITH_EXTENDED = process.argv.includes('--extended');
const SEED = 42;
const N_TREES = 100;
const SAMPLE = 256;
const CMAPSS = join(ROOT, '../shared/data/cmapss/train_FD001.txt');

interface Dataset {
  name: string;
  m: Matrix;
  labels: Uint8Array;
}

/** Wall-clock and process CPU time of one measured step, in ms. */
interface Clock {
  wall: number;
  cpu: number;
}

interface Result {
  impl: string;
  fit: Clock;
  /** Scoring time, scaled to rows/s. */
  score: Clock;
  rows: number;
  /** Mean over the seeds used; `aucs` lists them. */
  auc: number;
  aucs: number[];
  note: string;
}

/** Seeds whose AUCs are averaged: several on small data, where a fit is cheap. */
function seedsFor(d: Dataset): number[] {
  const n = d.m.rows <= 100_000 ? Math.max(1, AUC_SEEDS) : 1;
  return Array.from({ length: n }, (_, i) => SEED + i);
}

/**
 * Times `fn` by wall clock and by this process' CPU time. The machine is shared, so
 * wall time swings with other people's load; CPU time is the steadier figure for
 * comparing two single-threaded implementations run at different moments.
 */
async function clock<T>(fn: () => T | Promise<T>): Promise<{ value: T; t: Clock }> {
  const c0 = process.cpuUsage(), w0 = performance.now();
  const value = await fn();
  const w = performance.now() - w0, c = process.cpuUsage(c0);
  return { value, t: { wall: w, cpu: (c.user + c.system) / 1000 } };
}

/** Fastest of several timings, per measure. */
function fastest(ts: Clock[]): Clock {
  return { wall: Math.min(...ts.map((t) => t.wall)), cpu: Math.min(...ts.map((t) => t.cpu)) };
}

/** Scoring passes timed: more on small data, where one pass is short and noisy. */
function scoreReps(d: Dataset): number {
  return d.m.rows <= 100_000 ? 5 : 2;
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Independent N(0,1) features; 1% of rows pushed 3–5σ along two random features (so AUC is informative, not 1). */
function synthetic(rows: number, cols = 8): Dataset {
  const rng = createRng(SEED);
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  const labels = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    if (rng.next() >= 0.01) continue;
    labels[r] = 1;
    const a = rng.int(cols);
    const b = (a + 1 + rng.int(cols - 1)) % cols;
    for (const j of [a, b]) data[r * cols + j] += (rng.next() < 0.5 ? -1 : 1) * (3 + 2 * rng.next());
  }
  return { name: `synthetic ${rows.toLocaleString('en-US')}×${cols}`, m: { rows, cols, data, columns: Array.from({ length: cols }, (_, j) => `f${j}`) }, labels };
}

/** C-MAPSS FD001 training set: 3 settings + 21 sensors as features, label = RUL ≤ 30. */
function cmapss(): Dataset | undefined {
  if (!existsSync(CMAPSS)) {
    console.log(`C-MAPSS FD001 not found at ${CMAPSS}: skipping that dataset.`);
    return undefined;
  }
  const lines = readFileSync(CMAPSS, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const parsed = lines.map((l) => l.trim().split(/\s+/).map(Number));
  const lastCycle = new Map<number, number>();
  for (const v of parsed) lastCycle.set(v[0], Math.max(lastCycle.get(v[0]) ?? 0, v[1]));
  const cols = 24;
  const data = new Float64Array(parsed.length * cols);
  const labels = new Uint8Array(parsed.length);
  parsed.forEach((v, r) => {
    for (let j = 0; j < cols; j++) data[r * cols + j] = v[2 + j];
    labels[r] = (lastCycle.get(v[0]) as number) - v[1] <= 30 ? 1 : 0;
  });
  const columns = ['setting1', 'setting2', 'setting3', ...Array.from({ length: 21 }, (_, i) => `s${i + 1}`)];
  return { name: `C-MAPSS FD001 ${parsed.length.toLocaleString('en-US')}×${cols}`, m: { rows: parsed.length, cols, data, columns }, labels };
}

/** Rows `idx` of a dataset as a new dataset. */
function subset(d: Dataset, idx: Int32Array): Dataset {
  const { cols } = d.m;
  const data = new Float64Array(idx.length * cols);
  const labels = new Uint8Array(idx.length);
  idx.forEach((r, i) => {
    data.set(d.m.data.subarray(r * cols, (r + 1) * cols), i * cols);
    labels[i] = d.labels[r];
  });
  return { name: d.name, m: { rows: idx.length, cols, data, columns: d.m.columns }, labels };
}

/** `k` distinct row indices in increasing order, seeded. */
function pick(n: number, k: number, seed: number): Int32Array {
  if (k >= n) return Int32Array.from({ length: n }, (_, i) => i);
  const rng = createRng(seed);
  const all = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(n - i);
    const t = all[i]; all[i] = all[j]; all[j] = t;
  }
  return all.subarray(0, k).sort();
}

async function ours(d: Dataset): Promise<Result> {
  const params = { n_trees: N_TREES, sample_size: SAMPLE };
  const fits: Clock[] = [];
  let det = await isolationForest.fit(d.m, { seed: SEED, params });
  for (let i = 0; i < 3; i++) {
    const r = await clock(() => isolationForest.fit(d.m, { seed: SEED, params }));
    det = r.value;
    fits.push(r.t);
  }
  const scored: Clock[] = [];
  let scores: Float64Array = new Float64Array(0);
  for (let i = 0; i < scoreReps(d); i++) {
    const r = await clock(() => det.score(d.m));
    scores = r.value;
    scored.push(r.t);
  }
  const aucs = [rocAuc(scores, d.labels)];
  for (const seed of seedsFor(d).slice(1)) aucs.push(rocAuc((await isolationForest.fit(d.m, { seed, params })).score(d.m), d.labels));
  const fit = { wall: median(fits.map((f) => f.wall)), cpu: median(fits.map((f) => f.cpu)) };
  return { impl: 'isolation-forest (ours)', fit, score: fastest(scored), rows: d.m.rows, auc: mean(aucs), aucs, note: `fit: median of 3; score: best of ${scoreReps(d)}` };
}

/** Our forest with extended (hyperplane) splits, fully extended: timing and AUC only. */
async function extendedOurs(d: Dataset): Promise<Result> {
  const params = { n_trees: N_TREES, sample_size: SAMPLE, extended: true };
  const f = await clock(() => isolationForest.fit(d.m, { seed: SEED, params }));
  const s = await clock(() => f.value.score(d.m));
  const aucs = [rocAuc(s.value, d.labels)];
  for (const seed of seedsFor(d).slice(1)) aucs.push(rocAuc((await isolationForest.fit(d.m, { seed, params })).score(d.m), d.labels));
  return { impl: 'isolation-forest extended (ours)', fit: f.t, score: s.t, rows: d.m.rows, auc: mean(aucs), aucs, note: 'fully extended hyperplanes; fit and score: 1 pass' };
}

async function mljs(d: Dataset): Promise<Result> {
  const notes: string[] = [];
  let train = d;
  if (d.m.rows > MLJS_FIT_ROWS) {
    train = subset(d, pick(d.m.rows, MLJS_FIT_ROWS, SEED + 1));
    notes.push(`fit on a random ${MLJS_FIT_ROWS.toLocaleString('en-US')}-row subset (library has no sub-sampling: every tree uses all rows)`);
  }
  const factory: DetectorFactory = isolationForestMljs;
  const seeds = seedsFor(d);
  const f = await clock(() => factory.fit(train.m, { seed: seeds[0], params: { n_trees: N_TREES } }));
  let test = d;
  if (d.m.rows > MLJS_SCORE_ROWS) {
    test = subset(d, pick(d.m.rows, MLJS_SCORE_ROWS, SEED + 2));
    notes.push(`scored a random ${MLJS_SCORE_ROWS.toLocaleString('en-US')}-row subset: rows/s extrapolated, AUC on that subset`);
  }
  const s = await clock(() => f.value.score(test.m));
  const aucs = [rocAuc(s.value, test.labels)];
  for (const seed of seeds.slice(1)) {
    aucs.push(rocAuc((await factory.fit(train.m, { seed, params: { n_trees: N_TREES } })).score(test.m), test.labels));
  }
  return { impl: 'ml-isolation-forest', fit: f.t, score: s.t, rows: test.m.rows, auc: mean(aucs), aucs, note: notes.join('; ') || 'full data, fit and score: 1 pass' };
}

/** A little-endian float64 C-order .npy file. */
function writeNpy(path: string, m: Matrix): void {
  let header = `{'descr': '<f8', 'fortran_order': False, 'shape': (${m.rows}, ${m.cols}), }`;
  // Magic (6) + version (2) + length (2) + header must be a multiple of 64, ending in '\n'.
  header += ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  writeFileSync(path, Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength)]));
}

const SKLEARN_SCRIPT = `
import json, sys, time
import numpy as np
import sklearn
from sklearn.ensemble import IsolationForest
X = np.load(sys.argv[1])
seeds = [int(v) for v in sys.argv[3].split(',')]
reps = int(sys.argv[4])
make = lambda seed: IsolationForest(n_estimators=${N_TREES}, max_samples=${SAMPLE}, n_jobs=1, random_state=seed)
def clock(fn):
    w, c = time.perf_counter(), time.process_time()
    v = fn()
    return v, ((time.perf_counter() - w) * 1000, (time.process_time() - c) * 1000)
fits = []
for _ in range(3):
    model, t = clock(lambda: make(seeds[0]).fit(X))
    fits.append(t)
scores = []
for _ in range(reps):
    s, t = clock(lambda: -model.score_samples(X))
    scores.append(t)
# Newer scikit-learn releases score with one tree.apply per tree plus precomputed
# per-node path lengths; timing the apply calls alone gives a floor for them.
X32 = np.asarray(X, dtype=np.float32)
def apply_all():
    for est, feats in zip(model.estimators_, model.estimators_features_):
        est.apply(X32[:, feats] if len(feats) < X.shape[1] else X32)
applies = [clock(apply_all)[1] for _ in range(3)]
# Higher = more anomalous, like ours; one block of rows per seed.
out = [s] + [-make(seed).fit(X).score_samples(X) for seed in seeds[1:]]
np.concatenate(out).astype('<f8').tofile(sys.argv[2])
med = lambda ts, i: sorted(t[i] for t in ts)[len(ts) // 2]
best = lambda ts, i: min(t[i] for t in ts)
print(json.dumps({"version": sklearn.__version__,
  "fit": [med(fits, 0), med(fits, 1)], "score": [best(scores, 0), best(scores, 1)], "apply": [best(applies, 0), best(applies, 1)]}))
`;

/** scikit-learn's result, plus the time of its `tree.apply` calls alone (a floor for newer releases' scoring). */
function sklearn(d: Dataset, dir: string): (Result & { apply: Clock }) | string {
  const x = join(dir, 'x.npy'), out = join(dir, 'scores.bin');
  writeNpy(x, d.m);
  const env = { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };
  const seeds = seedsFor(d);
  // One pass on large data: scikit-learn 1.2 needs over a minute per million rows.
  const reps = d.m.rows <= 100_000 ? scoreReps(d) : 1;
  const res = spawnSync('/usr/bin/python3', ['-c', SKLEARN_SCRIPT, x, out, seeds.join(','), String(reps)], { env, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (res.error || res.status !== 0) {
    const why = res.error?.message ?? res.stderr.trim().split('\n').pop() ?? 'unknown error';
    return /No module named|ENOENT/.test(why) ? `scikit-learn not available (${why}): skipping its column` : `scikit-learn run failed: ${why}`;
  }
  type Pair = [number, number];
  const info = JSON.parse(res.stdout.trim().split('\n').pop() as string) as { version: string; fit: Pair; score: Pair; apply: Pair };
  const buf = readFileSync(out);
  const all = new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const aucs = seeds.map((_, i) => rocAuc(all.subarray(i * d.m.rows, (i + 1) * d.m.rows), d.labels));
  const asClock = (p: Pair): Clock => ({ wall: p[0], cpu: p[1] });
  return {
    impl: `scikit-learn ${info.version}`,
    fit: asClock(info.fit),
    score: asClock(info.score),
    apply: asClock(info.apply),
    rows: d.m.rows,
    auc: mean(aucs),
    aucs,
    note: `n_jobs=1, BLAS/OpenMP threads 1; fit: median of 3; score: best of ${reps}`,
  };
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

async function run(d: Dataset, dir: string): Promise<void> {
  const positives = d.labels.reduce((s, v) => s + v, 0);
  console.log(`\n## ${d.name} (${fmt((100 * positives) / d.m.rows, 1)}% positive)`);
  const results: Result[] = [];
  results.push(await ours(d));
  results.push(await mljs(d));
  if (WITH_EXTENDED) results.push(await extendedOurs(d));
  let sk: Exclude<ReturnType<typeof sklearn>, string> | undefined;
  if (WITH_SKLEARN) {
    const r = sklearn(d, dir);
    if (typeof r === 'string') console.log(r);
    else results.push((sk = r));
  }
  const seeds = seedsFor(d).length;
  const rate = (r: Result, t: 'wall' | 'cpu'): number => r.rows / (r.score[t] / 1000);
  console.log(`| implementation | fit ms (wall / CPU) | scoring rows/s (wall / CPU) | ROC-AUC${seeds > 1 ? ` (mean of ${seeds} seeds, range)` : ''} | notes |`);
  console.log('| --- | ---: | ---: | ---: | --- |');
  for (const r of results) {
    const range = r.aucs.length > 1 ? ` (${Math.min(...r.aucs).toFixed(3)}–${Math.max(...r.aucs).toFixed(3)})` : '';
    console.log(`| ${r.impl} | ${fmt(r.fit.wall, 1)} / ${fmt(r.fit.cpu, 1)} | ${fmt(rate(r, 'wall'))} / ${fmt(rate(r, 'cpu'))} | ${r.auc.toFixed(4)}${range} | ${r.note} |`);
  }
  const me = results[0];
  const both = (f: (t: 'wall' | 'cpu') => number, digits: number): string => `${f('wall').toFixed(digits)}× wall / ${f('cpu').toFixed(digits)}× CPU`;
  if (sk) {
    const s = sk;
    const speed = (t: 'wall' | 'cpu'): number => rate(me, t) / rate(s, t);
    const fit = (t: 'wall' | 'cpu'): number => me.fit[t] / s.fit[t];
    const dAuc = me.auc - s.auc;
    const ok = (b: boolean): string => (b ? 'OK' : 'MISSED');
    console.log(`ours vs scikit-learn: scoring ${both(speed, 1)} (target ≥ 2×) ${ok(Math.min(speed('wall'), speed('cpu')) >= 2)}; ` +
      `fit time ${both(fit, 2)} (target ≤ 1×) ${ok(Math.max(fit('wall'), fit('cpu')) <= 1)}; ` +
      `AUC ${dAuc >= 0 ? '+' : ''}${dAuc.toFixed(4)} (target within 0.01) ${ok(Math.abs(dAuc) <= 0.01)}`);
    const apply = (t: 'wall' | 'cpu'): number => rate(me, t) / (s.rows / (s.apply[t] / 1000));
    console.log(`ours vs scikit-learn's tree.apply calls alone (${fmt(s.rows / (s.apply.cpu / 1000))} rows/s CPU; a floor for newer releases' score_samples): ${both(apply, 1)}`);
  }
  const ml = results.find((r) => r.impl === 'ml-isolation-forest') as Result;
  console.log(`ours vs ml-isolation-forest: scoring ${both((t) => rate(me, t) / rate(ml, t), 1)}; AUC ${(me.auc - ml.auc).toFixed(4)}`);
}

const dir = mkdtempSync(join(tmpdir(), 'fleetlens-bench-models-'));
try {
  console.log(`bench/models: ${N_TREES} trees, ψ = ${SAMPLE}, seed ${SEED}, Node ${process.version}, single-threaded JS`);
  await run(synthetic(ROWS), dir);
  const c = cmapss();
  if (c) await run(c, dir);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
