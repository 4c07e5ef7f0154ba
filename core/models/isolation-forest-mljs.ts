/**
 * Adapter over the `ml-isolation-forest` npm package (v0.1.0), kept as the
 * reference implementation to compare our own forest against. The package is
 * CommonJS without type declarations, so it is loaded through `createRequire`
 * and typed here by the parts of its source this adapter relies on.
 */
import { createRequire } from 'node:module';
import type { Contribution, Detector, DetectorFactory, DetectorJson, DetectorParamSpec, FitOptions, Matrix, Params } from './detector.ts';
import { createRng } from '../util/rng.ts';
import {
  assertFinite,
  assertFittable,
  assertJsonKind,
  assertRow,
  assertScorable,
  makeYielder,
  numParam,
  rankContributions,
  throwIfAborted,
} from './matrix-checks.ts';

const KIND = 'isolation-forest-mljs';

/** A row as the library reads it: only `row[column]` is used, so typed-array views work. */
type MlRow = ArrayLike<number>;

/** The library's TreeNode (src/TreeNode.js), as far as this adapter touches it. */
interface MlTreeNode {
  depth?: number;
  maxDepth?: number;
  left?: MlTreeNode;
  right?: MlTreeNode;
  splitColumn?: number;
  splitValue?: number;
  /** Rows that reached a leaf; the library only ever reads its `length`. */
  trainingSet?: ArrayLike<unknown>;
  pathLengthFromRoot(row: MlRow, currentPathLength: number): number;
}

/** The library's IsolationForest (src/IsolationForest.js). */
interface MlIsolationForest {
  nEstimators: number;
  forest: MlTreeNode[];
  trainingSet: ArrayLike<unknown>;
  train(trainingSet: MlRow[]): void;
  predict(data: Iterable<MlRow>): number[];
}

interface MlModule {
  IsolationForest: new (options?: { nEstimators?: number }) => MlIsolationForest;
}

type TreeNodeCtor = new (options: { depth: number; maxDepth: number }) => MlTreeNode;

const requireCjs = createRequire(import.meta.url);
const ml = requireCjs('ml-isolation-forest') as MlModule;

/**
 * The library does not export its TreeNode class, which deserialization needs to
 * rebuild trees the library itself can walk. A one-tree forest on two rows yields
 * a node whose constructor is that class.
 */
function treeNodeClass(): TreeNodeCtor {
  const probe = new ml.IsolationForest({ nEstimators: 1 });
  withRandom(() => 0.5, () => probe.train([[0], [1]]));
  return Object.getPrototypeOf(probe.forest[0]).constructor as TreeNodeCtor;
}
let cachedTreeNode: TreeNodeCtor | undefined;

/**
 * Runs `fn` with `Math.random` replaced, restoring it even on error. The library
 * draws from `Math.random` with no way to seed it; swapping it for the seeded
 * generator around each synchronous `train` call makes fits reproducible. No await
 * happens inside, so no other code can observe (or consume) the swapped generator.
 */
function withRandom<T>(random: () => number, fn: () => T): T {
  const original = Math.random;
  Math.random = random;
  try {
    return fn();
  } finally {
    Math.random = original;
  }
}

/** The library's own c(n) (src/Utils.js), reproduced for explanations: note γ is not doubled. */
function libAveragePathLength(n: number): number {
  if (n === 0 || n === 1) return 0;
  if (n === 2) return 1;
  return 2 * Math.log(n - 1) + 0.57721 - (2 * (n - 1)) / n;
}

const PARAMS: DetectorParamSpec[] = [
  { name: 'n_trees', type: 'int', default: 100, min: 1, max: 10_000, help: 'Number of trees (the library\'s nEstimators). Each tree is grown on all training rows.' },
];

/** One tree in pre-order: split column (−1 at leaves), split value, rows at leaves. */
interface TreeState {
  column: number[];
  value: number[];
  size: number[];
}

interface MljsState {
  trainingRows: number;
  maxDepth: number;
  trees: TreeState[];
  mean: number[];
  std: number[];
}

function encodeTree(root: MlTreeNode): TreeState {
  const out: TreeState = { column: [], value: [], size: [] };
  const stack: MlTreeNode[] = [root];
  while (stack.length > 0) {
    const node = stack.pop() as MlTreeNode;
    if (node.left === undefined || node.right === undefined) {
      out.column.push(-1);
      out.value.push(0);
      out.size.push(node.trainingSet?.length ?? 0);
    } else {
      out.column.push(node.splitColumn ?? 0);
      out.value.push(node.splitValue ?? 0);
      out.size.push(0);
      // Push right first so the left subtree comes next in pre-order.
      stack.push(node.right, node.left);
    }
  }
  return out;
}

function decodeTree(t: TreeState, maxDepth: number, TreeNode: TreeNodeCtor): MlTreeNode {
  let pos = 0;
  const build = (): MlTreeNode => {
    if (pos >= t.column.length) throw new Error(`${KIND}: model state has a truncated tree`);
    const i = pos++;
    const node = new TreeNode({ depth: 0, maxDepth });
    if (t.column[i] < 0) {
      // The library reads only the length of a leaf's row list.
      node.trainingSet = new Array<undefined>(t.size[i]);
      return node;
    }
    node.splitColumn = t.column[i];
    node.splitValue = t.value[i];
    node.left = build();
    node.right = build();
    return node;
  };
  return build();
}

/** Training rows under each node (leaves know theirs; inner nodes sum them), for explanations. */
function subtreeSizes(root: MlTreeNode, into: Map<MlTreeNode, number>): number {
  if (root.left === undefined || root.right === undefined) {
    const n = root.trainingSet?.length ?? 0;
    into.set(root, n);
    return n;
  }
  const n = subtreeSizes(root.left, into) + subtreeSizes(root.right, into);
  into.set(root, n);
  return n;
}

function rowViews(m: Matrix): Float64Array[] {
  const rows = new Array<Float64Array>(m.rows);
  for (let r = 0; r < m.rows; r++) rows[r] = m.data.subarray(r * m.cols, (r + 1) * m.cols);
  return rows;
}

class MljsDetector implements Detector {
  readonly kind = KIND;
  readonly columns: string[];
  private readonly params: Params;
  private readonly lib: MlIsolationForest;
  private readonly maxDepth: number;
  private readonly mean: Float64Array;
  private readonly std: Float64Array;
  private sizes: Map<MlTreeNode, number> | undefined;

  constructor(columns: string[], params: Params, lib: MlIsolationForest, maxDepth: number, mean: Float64Array, std: Float64Array) {
    this.columns = columns;
    this.params = params;
    this.lib = lib;
    this.maxDepth = maxDepth;
    this.mean = mean;
    this.std = std;
  }

  score(m: Matrix): Float64Array {
    assertScorable(KIND, this.columns, m);
    return Float64Array.from(this.lib.predict(rowViews(m)));
  }

  scoreRow(row: Float64Array): number {
    assertRow(KIND, this.columns, row);
    return this.lib.predict([row])[0];
  }

  /**
   * The library has no explanations; this applies the same attribution as our
   * `isolation-forest` to the library's trees: each split on the row's path credits
   * its column with log2(rows at node / rows in the child taken), trees weighted by
   * how much shorter than the library's c(N) the row's path is.
   */
  explain(row: Float64Array, top?: number): Contribution[] {
    assertRow(KIND, this.columns, row);
    if (this.sizes === undefined) {
      this.sizes = new Map();
      for (const tree of this.lib.forest) subtreeSizes(tree, this.sizes);
    }
    const sizes = this.sizes;
    const expected = libAveragePathLength(this.lib.trainingSet.length);
    const cols = this.columns.length;
    const perTree: Float64Array[] = [];
    const weights: number[] = [];
    for (const tree of this.lib.forest) {
      const credit = new Float64Array(cols);
      let node = tree;
      while (node.left !== undefined && node.right !== undefined) {
        const col = node.splitColumn ?? 0;
        const child: MlTreeNode = row[col] < (node.splitValue ?? 0) ? node.left : node.right;
        credit[col] += Math.log2((sizes.get(node) ?? 1) / Math.max(1, sizes.get(child) ?? 1));
        node = child;
      }
      perTree.push(credit);
      weights.push(Math.max(0, expected - tree.pathLengthFromRoot(row, 0)));
    }
    const allZero = weights.every((w) => w === 0);
    const credit = new Float64Array(cols);
    perTree.forEach((c, t) => {
      const w = allZero ? 1 : weights[t];
      for (let j = 0; j < cols; j++) credit[j] += c[j] * w;
    });
    let total = 0;
    for (let j = 0; j < cols; j++) total += credit[j];
    const items: Contribution[] = [];
    for (let j = 0; j < cols; j++) {
      items.push({
        feature: this.columns[j],
        weight: total > 0 ? credit[j] / total : 0,
        value: this.std[j] > 0 ? (row[j] - this.mean[j]) / this.std[j] : 0,
      });
    }
    return rankContributions(items, top);
  }

  toJSON(): DetectorJson {
    const state: MljsState = {
      trainingRows: this.lib.trainingSet.length,
      maxDepth: this.maxDepth,
      trees: this.lib.forest.map(encodeTree),
      mean: Array.from(this.mean),
      std: Array.from(this.std),
    };
    return { kind: KIND, version: 1, columns: [...this.columns], params: { ...this.params }, state };
  }
}

/** Replaces the row lists kept at leaves by length-only placeholders, so the model does not pin the training data. */
function releaseRows(node: MlTreeNode): void {
  if (node.left === undefined || node.right === undefined) {
    node.trainingSet = new Array<undefined>(node.trainingSet?.length ?? 0);
    return;
  }
  releaseRows(node.left);
  releaseRows(node.right);
}

function moments(m: Matrix): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(m.cols), sq = new Float64Array(m.cols);
  for (let i = 0; i < m.data.length; i++) mean[i % m.cols] += m.data[i];
  for (let j = 0; j < m.cols; j++) mean[j] /= m.rows;
  for (let i = 0; i < m.data.length; i++) {
    const d = m.data[i] - mean[i % m.cols];
    sq[i % m.cols] += d * d;
  }
  return { mean, std: sq.map((v) => Math.sqrt(v / m.rows)) };
}

async function fit(m: Matrix, opts: FitOptions): Promise<Detector> {
  assertFittable(KIND, m);
  const nTrees = numParam(KIND, PARAMS, opts, 'n_trees');
  assertFinite(KIND, m);
  if (m.rows < 2) throw new Error(`${KIND}: needs at least 2 rows (the library divides by c(1) = 0 and would score NaN)`);
  throwIfAborted(opts.signal);
  const rows = rowViews(m);
  // A one-tree forest trained once per tree: each `train` call appends one tree, which
  // lets us report progress, honour aborts and re-seed between trees.
  const lib = new ml.IsolationForest({ nEstimators: 1 });
  const master = createRng(opts.seed);
  const yieldNow = makeYielder();
  for (let t = 0; t < nTrees; t++) {
    const rng = master.fork();
    withRandom(rng.next, () => lib.train(rows));
    releaseRows(lib.forest[lib.forest.length - 1]);
    opts.onProgress?.((t + 1) / nTrees);
    await yieldNow();
    throwIfAborted(opts.signal);
  }
  lib.nEstimators = nTrees;
  lib.trainingSet = new Array<undefined>(m.rows);
  const { mean, std } = moments(m);
  return new MljsDetector([...m.columns], { n_trees: nTrees }, lib, Math.ceil(Math.log2(m.rows)), mean, std);
}

function fromJSON(json: DetectorJson): Detector {
  assertJsonKind(KIND, json);
  const st = json.state as Partial<MljsState> | null;
  if (st === null || typeof st !== 'object' || !Array.isArray(st.trees) || typeof st.trainingRows !== 'number') {
    throw new Error(`${KIND}: model state is missing its trees`);
  }
  cachedTreeNode ??= treeNodeClass();
  const TreeNode = cachedTreeNode;
  const maxDepth = st.maxDepth ?? 0;
  const lib = new ml.IsolationForest({ nEstimators: st.trees.length });
  lib.forest = st.trees.map((t) => decodeTree(t, maxDepth, TreeNode));
  lib.trainingSet = new Array<undefined>(st.trainingRows);
  return new MljsDetector([...json.columns], { ...json.params }, lib, maxDepth, Float64Array.from(st.mean ?? []), Float64Array.from(st.std ?? []));
}

/** `ml-isolation-forest` behind the Detector interface: the reference to compare against. */
export const isolationForestMljs: DetectorFactory = {
  kind: KIND,
  label: 'Isolation forest (ml-isolation-forest, reference)',
  help: [
    'Reference adapter over the ml-isolation-forest package (v0.1.0), for comparison with our isolation-forest. Its limits:',
    '(1) no sub-sampling: every tree is grown on the whole training set, to depth ceil(log2 N) + 1, copying row lists at',
    'every node, so fit costs O(trees × N log N) time and memory (1M rows is impractical; use ≤ ~50k rows) and',
    'the swamping/masking protection of small samples is lost;',
    '(2) it draws from unseeded Math.random: for reproducibility this adapter temporarily replaces Math.random with',
    'our seeded generator while each tree is trained (synchronously, restored in a finally block);',
    '(3) the split column is drawn even when constant on the node: the split then separates nothing and only adds depth;',
    '(4) its c(n) is 2 ln(n−1) + 0.57721 − 2(n−1)/n (Euler\'s constant not doubled), so absolute scores run higher than',
    'the paper\'s / scikit-learn\'s and are not comparable with our isolation-forest\'s; rankings are close;',
    '(5) no max_features, no extended splits, no sample_size, no serialization and no explanations: this adapter serializes',
    'the trees itself (split column, split value, leaf sizes), rebuilds the library\'s own tree objects on load, and',
    'explains with the same path attribution as our isolation-forest;',
    '(6) recursive object trees: scoring is much slower than our typed-array forest;',
    '(7) leaves keep references to training rows; the adapter replaces them with length-only placeholders after fit.',
    'Input: NaN/±Infinity throws an error naming the column (the library would silently send NaN right);',
    '0 or 1 rows throws (c(1) = 0 would make every score NaN). All-constant features: every row gets the same score.',
  ].join(' '),
  params: PARAMS,
  fit,
  fromJSON,
};
