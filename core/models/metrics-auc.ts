/**
 * ROC-AUC for anomaly scores against known labels (benchmarks and tests). Kept
 * tiny on purpose: the full metrics module may absorb it.
 */

/**
 * Area under the ROC curve = P(score of a random positive > score of a random
 * negative), ties counting one half: the Mann–Whitney statistic with average ranks
 * for ties. Positives are rows whose label is truthy (1 / true). Sorting the two
 * classes separately with the native typed-array sort and merging keeps it
 * O(n log n) and fast on millions of rows. Throws when a class is empty or a score is NaN.
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number | boolean>): number {
  if (scores.length !== labels.length) throw new Error(`rocAuc: ${scores.length} scores but ${labels.length} labels`);
  let nPos = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i]) nPos++;
  const nNeg = labels.length - nPos;
  if (nPos === 0 || nNeg === 0) throw new Error('rocAuc: needs at least one positive and one negative label');
  const pos = new Float64Array(nPos), neg = new Float64Array(nNeg);
  let ip = 0, ineg = 0;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    if (Number.isNaN(s)) throw new Error(`rocAuc: score ${i} is NaN`);
    if (labels[i]) pos[ip++] = s;
    else neg[ineg++] = s;
  }
  pos.sort();
  neg.sort();
  // For each positive (ascending), count negatives strictly below it and equal to it.
  let below = 0, wins = 0;
  for (let i = 0; i < nPos; ) {
    const s = pos[i];
    while (below < nNeg && neg[below] < s) below++;
    let equal = 0;
    while (below + equal < nNeg && neg[below + equal] === s) equal++;
    let run = 0;
    while (i < nPos && pos[i] === s) { run++; i++; }
    wins += run * (below + equal / 2);
  }
  return wins / (nPos * nNeg);
}
