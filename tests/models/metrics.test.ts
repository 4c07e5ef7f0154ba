import { describe, expect, it } from 'vitest';
import { leadTimes, quantile, rankedEvaluation, thresholdMetrics } from '../../core/models/metrics.ts';

describe('metrics', () => {
  it('threshold metrics and rates', () => {
    const m = thresholdMetrics(Float64Array.from([0.9, 0.8, 0.3, 0.2, 0.7]), Uint8Array.from([1, 0, 1, 0, 0]), 0.5);
    expect([m.tp, m.fp, m.tn, m.fn]).toEqual([1, 2, 1, 1]);
    expect(m.precision).toBeCloseTo(1 / 3, 12);
    expect(m.recall).toBeCloseTo(0.5, 12);
    expect(m.f1).toBeCloseTo(0.4, 12);
    expect(m.falseAlarmRate).toBeCloseTo(2 / 3, 12);
    expect(m.missedAlarmRate).toBeCloseTo(0.5, 12);
  });

  it('ROC-AUC and average precision match hand-computed values, ties count half', () => {
    // Scores 4,3,2,1 with labels 1,0,1,0: AUC = 3/4; AP = (1/2)(1/1) + (1/2)(2/3) = 5/6.
    const e = rankedEvaluation(Float64Array.from([4, 3, 2, 1]), Uint8Array.from([1, 0, 1, 0]));
    expect(e.rocAuc).toBeCloseTo(0.75, 12);
    expect(e.prAuc).toBeCloseTo(5 / 6, 12);
    const tie = rankedEvaluation(Float64Array.from([1, 1]), Uint8Array.from([1, 0]));
    expect(tie.rocAuc).toBeCloseTo(0.5, 12);
    const perfect = rankedEvaluation(Float64Array.from([0.9, 0.8, 0.1]), Uint8Array.from([1, 1, 0]));
    expect(perfect.rocAuc).toBe(1);
    expect(perfect.best.f1).toBe(1);
    expect(perfect.best.threshold).toBe(0.8);
    expect(Number.isNaN(rankedEvaluation(Float64Array.from([1, 2]), Uint8Array.from([0, 0])).rocAuc)).toBe(true);
  });

  it('thins curves to at most maxPoints while keeping the ends', () => {
    const n = 5000;
    const s = Float64Array.from({ length: n }, (_, i) => i);
    const l = Uint8Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const e = rankedEvaluation(s, l, 100);
    expect(e.roc.x.length).toBe(100);
    expect(e.roc.x[0]).toBe(0);
    expect(e.roc.x.at(-1)).toBe(1);
    expect(e.roc.y.at(-1)).toBe(1);
  });

  it('equals a row-by-row reference exactly: areas, best threshold and thinned curves, with ties', () => {
    // The reference sorts row indices by score (the former implementation); the evaluator sorts scores only.
    const reference = (scores: Float64Array, labels: Uint8Array, maxPoints: number) => {
      const order = Array.from(scores.keys()).sort((a, b) => scores[b]! - scores[a]! || a - b);
      const P = labels.reduce((a, l) => a + (l > 0 ? 1 : 0), 0);
      const N = labels.length - P;
      const pts: number[][] = [[0, 0, 0, 1, Infinity]];
      let tp = 0, fp = 0, auc = 0, ap = 0;
      let best = { f1: -1, threshold: Infinity };
      for (let k = 0; k < order.length; ) {
        const s = scores[order[k]!]!;
        const tp0 = tp, fp0 = fp;
        for (; k < order.length && scores[order[k]!] === s; k++) labels[order[k]!]! > 0 ? tp++ : fp++;
        if (N > 0 && P > 0) auc += ((fp - fp0) / N) * ((tp + tp0) / (2 * P));
        if (P > 0) ap += ((tp - tp0) / P) * (tp / (tp + fp));
        const precision = tp / (tp + fp), recall = P ? tp / P : 0;
        const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
        if (f1 > best.f1) best = { f1, threshold: s };
        pts.push([N ? fp / N : 0, P ? tp / P : 0, recall, precision, s]);
      }
      const keep = pts.length <= maxPoints ? pts : Array.from({ length: maxPoints }, (_, i) => pts[Math.round((i * (pts.length - 1)) / (maxPoints - 1))]!);
      return { auc: N > 0 && P > 0 ? auc : NaN, ap: P > 0 ? ap : NaN, best, roc: keep.map((p) => [p[0], p[1], p[4]]), pr: keep.map((p) => [p[2], p[3], p[4]]) };
    };
    let seed = 7;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (const [n, levels, rate, maxPoints] of [[5000, 0, 0.1, 200], [5000, 40, 0.3, 200], [150, 0, 0.5, 200], [3000, 900, 0.02, 50], [400, 10, 0, 200], [400, 10, 1, 200]] as const) {
      // levels > 0: scores drawn from that many values, so many rows tie.
      const scores = Float64Array.from({ length: n }, () => (levels ? Math.floor(rand() * levels) / levels : rand()));
      const labels = Uint8Array.from({ length: n }, () => (rand() < rate ? 1 : 0));
      const got = rankedEvaluation(scores, labels, maxPoints);
      const want = reference(scores, labels, maxPoints);
      expect(got.rocAuc).toEqual(want.auc);
      expect(got.prAuc).toEqual(want.ap);
      expect(got.best.threshold).toBe(want.best.threshold);
      expect(got.best.f1).toBe(want.best.f1);
      expect(got.roc.x.map((x, i) => [x, got.roc.y[i], got.roc.thresholds[i]])).toEqual(want.roc);
      expect(got.pr.x.map((x, i) => [x, got.pr.y[i], got.pr.thresholds[i]])).toEqual(want.pr);
    }
    expect(() => rankedEvaluation(Float64Array.from([1, NaN]), Uint8Array.from([1, 0]))).toThrow(/score 1 is NaN/);
  });

  it('lead time of the first sustained alarm per device', () => {
    const device = ['a', 'a', 'a', 'a', 'a', 'b', 'b', 'b'];
    const time = Float64Array.from([1, 2, 3, 4, 5, 1, 2, 3]);
    const alarm = Uint8Array.from([0, 1, 0, 1, 1, 1, 0, 1]);
    const r = leadTimes({ device, time, alarm }, 2);
    expect(r.perDevice).toEqual([
      { device: 'a', alarmAt: 5, end: 5, lead: 0 },
      { device: 'b', alarmAt: null, end: 3, lead: null },
    ]);
    const withEnd = leadTimes({ device, time, alarm }, 1, (_d, last) => last + 10);
    expect(withEnd.perDevice[0]!.lead).toBe(13);
    expect(withEnd.perDevice[1]!.lead).toBe(12);
    expect(withEnd.meanLead).toBe(12.5);
    expect(withEnd.detected).toBe(2);
    // Coded devices (as a trial passes them), rows out of time order, a device without rows.
    const coded = leadTimes(
      { device: Int32Array.from([2, 0, 2, 0, 2, 0]), names: ['b', 'none', 'a'], time: Float64Array.from([3, 2, 1, 1, 2, 3]), alarm: Uint8Array.from([1, 1, 0, 0, 1, 1]) },
      2,
    );
    // a: times 1 (no), 2 (yes), 3 (yes) → alarm at 3; b: times 1 (no), 2 (yes), 3 (yes) → alarm at 3.
    expect(coded.perDevice).toEqual([
      { device: 'a', alarmAt: 3, end: 3, lead: 0 },
      { device: 'b', alarmAt: 3, end: 3, lead: 0 },
    ]);
    expect(coded.devices).toBe(2);
  });

  it('quantile interpolates', () => {
    expect(quantile(Float64Array.from([1, 2, 3, 4]), 0.5)).toBe(2.5);
    expect(quantile(Float64Array.from([5]), 0.99)).toBe(5);
  });
});
