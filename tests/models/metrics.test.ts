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
  });

  it('quantile interpolates', () => {
    expect(quantile(Float64Array.from([1, 2, 3, 4]), 0.5)).toBe(2.5);
    expect(quantile(Float64Array.from([5]), 0.99)).toBe(5);
  });
});
