import { describe, expect, it } from 'vitest';
import { WorkbenchError } from '../../core/api/errors.ts';
import type { ColumnInfo, ColumnRole, DatasetInfo } from '../../core/data/api.ts';
import { defaultRecipe, featureNames, validateRecipe, type FeatureRecipe } from '../../core/features/recipe.ts';

const FLEET_COLUMNS: [string, string, ColumnRole][] = [
  ['device_id', 'VARCHAR', 'device'],
  ['trip_id', 'VARCHAR', 'trip'],
  ['factory_id', 'VARCHAR', 'categorical'],
  ['model_id', 'VARCHAR', 'categorical'],
  ['timestamp', 'TIMESTAMP', 'time'],
  ['airflow_rate', 'DOUBLE', 'sensor'],
  ['temperature', 'DOUBLE', 'sensor'],
  ['gear', 'INTEGER', 'categorical'],
  ['defect', 'BIGINT', 'label'],
];

function dataset(edit: (cols: ColumnInfo[]) => ColumnInfo[] = (c) => c, name = 'fleet'): DatasetInfo {
  const columns = edit(FLEET_COLUMNS.map(([n, type, role]) => ({ name: n, type, role })));
  return { name, rowCount: 0, columns, sources: [], timeSpan: null, rejectCount: 0, createdAt: '', updatedAt: '' };
}

function withRole(name: string, role: ColumnRole): (cols: ColumnInfo[]) => ColumnInfo[] {
  return (cols) => cols.map((c) => (c.name === name ? { ...c, role } : c));
}

function recipe(patch: Partial<Record<keyof FeatureRecipe, unknown>> = {}): FeatureRecipe {
  return { ...defaultRecipe(dataset()), ...patch } as FeatureRecipe;
}

function invalid(r: unknown, ds: DatasetInfo = dataset()): string {
  try {
    validateRecipe(r, ds);
  } catch (err) {
    expect(err).toBeInstanceOf(WorkbenchError);
    expect((err as WorkbenchError).code).toBe('INVALID_ARGUMENT');
    return (err as WorkbenchError).message;
  }
  throw new Error('expected validateRecipe to throw');
}

describe('validateRecipe', () => {
  it('accepts the default recipe and a JSON round trip of it', () => {
    const r = defaultRecipe(dataset());
    expect(() => validateRecipe(r, dataset())).not.toThrow();
    expect(() => validateRecipe(JSON.parse(JSON.stringify(r)), dataset())).not.toThrow();
  });

  it('names unknown columns', () => {
    expect(invalid(recipe({ sensors: ['temperature', 'tmp'] }))).toBe("recipe names column 'tmp' which dataset 'fleet' does not have");
    expect(invalid(recipe({ categoricals: ['colour'] }))).toBe("recipe names column 'colour' which dataset 'fleet' does not have");
  });

  it('rejects non-numeric sensors and unsuitable categoricals', () => {
    expect(invalid(recipe({ sensors: ['device_id'] }))).toBe("column 'device_id' is VARCHAR; sensors must be numeric");
    expect(invalid(recipe({ sensors: ['timestamp'] }))).toBe("column 'timestamp' is TIMESTAMP; sensors must be numeric");
    expect(invalid(recipe({ categoricals: ['temperature'] }))).toBe("column 'temperature' is DOUBLE; categoricals must be text, boolean or integer");
    expect(() => validateRecipe(recipe({ categoricals: ['gear', 'model_id'] }), dataset())).not.toThrow();
  });

  it('refuses features made from the label', () => {
    expect(invalid(recipe({ sensors: ['defect'] }))).toBe("column 'defect' is the label of dataset 'fleet'; a feature made from it would leak the answer");
    expect(invalid(recipe({ categoricals: ['defect'] }))).toBe("column 'defect' is the label of dataset 'fleet'; a feature made from it would leak the answer");
  });

  it('rejects windows, lags and diffs that are not positive whole numbers', () => {
    expect(invalid(recipe({ rolling: [{ window: 0, stats: ['mean'] }] }))).toBe('rolling window 0 must be a whole number from 1 to 10000');
    expect(invalid(recipe({ rolling: [{ window: -3, stats: ['mean'] }] }))).toBe('rolling window -3 must be a whole number from 1 to 10000');
    expect(invalid(recipe({ rolling: [{ window: 2.5, stats: ['mean'] }] }))).toBe('rolling window 2.5 must be a whole number from 1 to 10000');
    expect(invalid(recipe({ rolling: [{ window: 20000, stats: ['mean'] }] }))).toBe('rolling window 20000 must be a whole number from 1 to 10000');
    expect(invalid(recipe({ lags: [0] }))).toBe('lag 0 must be a whole number from 1 to 10000');
    expect(invalid(recipe({ diffs: [-1] }))).toBe('diff -1 must be a whole number from 1 to 10000');
    expect(invalid(recipe({ ewm: [{ span: 0.5, deviation: true }] }))).toBe('ewm span 0.5 must be a number from 1 to 1000000');
    expect(invalid(recipe({ ewm: [{ span: 0, deviation: true }] }))).toBe('ewm span 0 must be a number from 1 to 1000000');
  });

  it('rejects bad rolling stats and duplicates', () => {
    expect(invalid(recipe({ rolling: [{ window: 5, stats: [] }] }))).toBe("rolling window 5 has no stats; choose from 'mean', 'std', 'min', 'max'");
    expect(invalid(recipe({ rolling: [{ window: 5, stats: ['median'] }] }))).toBe(`rolling stat "median" is not one of 'mean', 'std', 'min', 'max'`);
    expect(invalid(recipe({ rolling: [{ window: 5, stats: ['mean', 'mean'] }] }))).toBe("rolling stat 'mean' is listed twice for window 5");
    expect(invalid(recipe({ rolling: [{ window: 5, stats: ['mean'] }, { window: 5, stats: ['std'] }] }))).toBe(
      'rolling window 5 is listed twice; list all its stats in one entry',
    );
    expect(invalid(recipe({ lags: [1, 1] }))).toBe('lag 1 is listed twice');
    expect(invalid(recipe({ sensors: ['temperature', 'temperature'] }))).toBe("sensor 'temperature' is listed twice");
    expect(invalid(recipe({ categoricals: ['model_id', 'model_id'] }))).toBe("categorical 'model_id' is listed twice");
    expect(invalid(recipe({ ewm: [{ span: 4, deviation: true }, { span: 4, deviation: false }] }))).toBe('ewm span 4 is listed twice');
  });

  it('checks the recipe shape', () => {
    expect(invalid(null)).toBe('recipe must be an object');
    expect(invalid(recipe({ version: 2 }))).toBe('recipe version must be 1 (got 2)');
    expect(invalid({ ...recipe(), extra: 1 })).toBe("recipe has unknown field 'extra'");
    const { fill: _fill, ...noFill } = recipe();
    expect(invalid(noFill)).toBe("recipe is missing the field 'fill'");
    expect(invalid(recipe({ fill: 'median' }))).toBe(`recipe.fill must be 'mean', 'zero' or 'drop' (got "median")`);
    expect(invalid(recipe({ groupBy: 'factory' }))).toBe(`recipe.groupBy must be one of 'device', 'trip', 'device+trip', 'none' (got "factory")`);
    expect(invalid(recipe({ standardize: 'yes' }))).toBe('recipe.standardize must be true or false');
    expect(invalid(recipe({ sensors: 'temperature' }))).toBe('recipe.sensors must be an array of column names');
    expect(invalid(recipe({ ewm: [{ span: 3 }] }))).toBe('ewm span 3 deviation must be true or false');
  });

  it('requires the time role and the roles groupBy names', () => {
    expect(invalid(recipe(), dataset(withRole('timestamp', 'ignore')))).toBe("dataset 'fleet' has no column with role 'time'; features need a time order");
    const noTrip = dataset(withRole('trip_id', 'categorical'));
    expect(invalid(recipe({ groupBy: 'trip' }), noTrip)).toBe("groupBy 'trip' needs a column with role 'trip', and dataset 'fleet' has none");
    expect(invalid(recipe({ groupBy: 'device+trip' }), noTrip)).toBe("groupBy 'device+trip' needs a column with role 'trip', and dataset 'fleet' has none");
    const noDevice = dataset(withRole('device_id', 'categorical'));
    expect(invalid(recipe({ groupBy: 'device' }), noDevice)).toBe("groupBy 'device' needs a column with role 'device', and dataset 'fleet' has none");
    expect(() => validateRecipe(recipe({ groupBy: 'none' }), dataset((c) => withRole('trip_id', 'ignore')(withRole('device_id', 'ignore')(c))))).not.toThrow();
  });

  it('rejects recipes that produce nothing', () => {
    const nothing = { includeRaw: false, lags: [], diffs: [], rolling: [], ewm: [] };
    expect(invalid(recipe(nothing))).toBe('recipe lists sensors but no feature of them: set includeRaw or add lags, diffs, rolling or ewm');
    expect(invalid(recipe({ ...nothing, sensors: [] }))).toBe(
      'recipe produces no features: add sensors (with includeRaw, lags, diffs, rolling or ewm) or categoricals',
    );
    expect(() => validateRecipe(recipe({ ...nothing, sensors: [], categoricals: ['model_id'] }), dataset())).not.toThrow();
  });

  it('rejects feature names that collide', () => {
    const ds = dataset((c) => [...c, { name: 'temperature__lag1', type: 'DOUBLE', role: 'sensor' }]);
    expect(invalid(recipe({ sensors: ['temperature', 'temperature__lag1'], lags: [1] }), ds)).toBe(
      "feature name 'temperature__lag1' would be produced twice; rename a column",
    );
  });
});

describe('defaultRecipe', () => {
  it('takes every sensor, groups by trip, and picks the documented kinds', () => {
    expect(defaultRecipe(dataset())).toEqual({
      version: 1,
      sensors: ['airflow_rate', 'temperature'],
      groupBy: 'trip',
      includeRaw: true,
      lags: [1],
      diffs: [1],
      rolling: [{ window: 10, stats: ['mean', 'std'] }],
      ewm: [{ span: 10, deviation: true }],
      categoricals: [],
      fill: 'mean',
      standardize: true,
    });
  });

  it('falls back to device, then to one series', () => {
    const noTrip = dataset(withRole('trip_id', 'categorical'));
    expect(defaultRecipe(noTrip).groupBy).toBe('device');
    const neither = dataset((c) => withRole('device_id', 'ignore')(withRole('trip_id', 'ignore')(c)));
    expect(defaultRecipe(neither).groupBy).toBe('none');
    expect(() => validateRecipe(defaultRecipe(neither), neither)).not.toThrow();
  });
});

describe('featureNames', () => {
  it('lists per sensor raw, lags, diffs, rolling, ewm, then one-hot columns', () => {
    const r = recipe({
      sensors: ['temperature', 'airflow_rate'],
      lags: [1, 3],
      diffs: [2],
      rolling: [{ window: 10, stats: ['mean', 'std'] }, { window: 5, stats: ['max'] }],
      ewm: [{ span: 10, deviation: true }, { span: 2.5, deviation: false }],
      categoricals: ['model_id'],
    });
    const names = featureNames({ recipe: r, categories: [{ column: 'model_id', values: ['M-A', 'M-B'], other: false }] });
    const per = (s: string): string[] => [
      s,
      `${s}__lag1`,
      `${s}__lag3`,
      `${s}__diff2`,
      `${s}__roll10_mean`,
      `${s}__roll10_std`,
      `${s}__roll5_max`,
      `${s}__ewm10`,
      `${s}__ewm10_dev`,
      `${s}__ewm2.5`,
    ];
    expect(names).toEqual([...per('temperature'), ...per('airflow_rate'), 'model_id=M-A', 'model_id=M-B']);
  });

  it('adds the catch-all column of a capped categorical and omits raw values when asked', () => {
    const r = recipe({ sensors: ['temperature'], includeRaw: false, lags: [], diffs: [1], rolling: [], ewm: [] });
    expect(featureNames({ recipe: r, categories: [{ column: 'gear', values: ['1', '2'], other: true }] })).toEqual([
      'temperature__diff1',
      'gear=1',
      'gear=2',
      'gear=__other__',
    ]);
  });
});
