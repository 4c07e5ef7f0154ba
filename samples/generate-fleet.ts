/**
 * Deterministic sample fleet generator (issue #3 item 4).
 *
 * A seeded fleet of pumps/engines: each device belongs to a factory and a model,
 * runs trips of 10–350 one-minute readings separated by gaps of hours, and reports
 * six sensors plus a 0/1 `defect` label. Rows come out ordered by device, then time,
 * in columnar chunks so that 10M rows never sit in memory at once.
 *
 * Sensor physics (units): rotation_speed (rpm) follows a per-trip load profile of
 * idle / cruise / high phases; airflow_rate (m³/h) ∝ rpm; air_pressure (kPa absolute)
 * = 101.3 + gain·(rpm/max)²; temperature (°C) = ambient + lagged heat of the load, where
 * ambient has a seasonal term (cold January, warm July), a daily cycle peaking at
 * 15:00 UTC, a per-factory climate offset and day-to-day AR(1) weather; delay (ms) is a
 * control-loop latency that grows slightly with load; density (kg/m³) is intake-air
 * density p/(R·T), so it drifts with season too. Every device has baseline offsets,
 * every model its own ranges, and each sensor carries AR(1) noise restarted per trip.
 *
 * Defects come ONLY from these known causes, evaluated on the emitted (rounded) values:
 *   1. Temperature spike: temperature − mean(previous ≤10 readings of the trip, at
 *      least 5) > 6 °C, on susceptible devices only: models M-C and M-E, or factory F4.
 *      Spikes are injected on every device, so on other devices they are benign.
 *   2. Latency under load: delay > 120 ms while rotation_speed > 3000 rpm. Delay
 *      excursions happen at any load (benign at low rpm) but 5× more often above 85%
 *      of the model's max rpm; only models that can exceed 3000 rpm are affected.
 *   3. Dense air at low pressure: density > 1.6 kg/m³ while air_pressure < 115 kPa
 *      (physically impossible for clean air, which is below ~1.55 there even in winter).
 *      Density excursions at high pressure are benign.
 * Label noise: 3% of cause rows are labelled 0 and ~0.1% of other rows are labelled 1.
 * Overall defect rate is ~2.5% (1–5% guaranteed by tests on the default 250k rows).
 * About 0.2% of sensor readings are missing (isolated gaps and short dropouts); labels
 * are computed from the true readings, so a defect can sit on a missing value.
 */
import { createWriteStream, promises as fsp } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { createRng, type Rng } from '../core/util/rng.ts';

/** Output columns, in file order. */
export const FLEET_COLUMNS = [
  'device_id',
  'trip_id',
  'factory_id',
  'model_id',
  'timestamp',
  'airflow_rate',
  'rotation_speed',
  'air_pressure',
  'temperature',
  'delay',
  'density',
  'defect',
] as const;

/** Numeric sensor columns, in file order. */
export const SENSOR_COLUMNS = ['airflow_rate', 'rotation_speed', 'air_pressure', 'temperature', 'delay', 'density'] as const;

export type FleetColumn = (typeof FLEET_COLUMNS)[number];
export type SensorColumn = (typeof SENSOR_COLUMNS)[number];
export type FleetColumnType = 'VARCHAR' | 'TIMESTAMP' | 'DOUBLE' | 'INTEGER';

/** DuckDB type of every column; readers pass these explicitly so types are exact. */
export const FLEET_SCHEMA: Readonly<Record<FleetColumn, FleetColumnType>> = {
  device_id: 'VARCHAR',
  trip_id: 'VARCHAR',
  factory_id: 'VARCHAR',
  model_id: 'VARCHAR',
  timestamp: 'TIMESTAMP',
  airflow_rate: 'DOUBLE',
  rotation_speed: 'DOUBLE',
  air_pressure: 'DOUBLE',
  temperature: 'DOUBLE',
  delay: 'DOUBLE',
  density: 'DOUBLE',
  defect: 'INTEGER',
};

/** Decimals kept per sensor (values are rounded in the generator, so every format agrees). */
export const SENSOR_DECIMALS: Readonly<Record<SensorColumn, number>> = {
  airflow_rate: 1,
  rotation_speed: 1,
  air_pressure: 2,
  temperature: 2,
  delay: 2,
  density: 4,
};

/** First possible reading: 2026-01-01 00:00 UTC. */
export const FLEET_START_MS = Date.UTC(2026, 0, 1);

/** Thresholds of the defect causes, exported so tests and docs quote one source. */
export const DEFECT_RULES = {
  tempSpikeDelta: 6,
  tempWindow: 10,
  tempMinHistory: 5,
  tempSusceptibleModels: ['M-C', 'M-E'],
  tempSusceptibleFactories: ['F4'],
  delayHigh: 120,
  rotationHigh: 3000,
  densityHigh: 1.6,
  pressureLow: 115,
} as const;

export interface FleetOptions {
  /** Target row count (default 250_000); generation stops at the trip boundary after reaching it. */
  rows?: number;
  /** Device count; default ~200 (fewer for tiny fleets, ceil(rows/50k) above 10M rows). */
  devices?: number;
  /** RNG seed (default 42); the same options give byte-identical output. */
  seed?: number;
}

/** A columnar slice of the fleet; sensors use NaN for missing readings. */
export interface FleetChunk {
  length: number;
  device_id: string[];
  trip_id: string[];
  factory_id: string[];
  model_id: string[];
  /** Epoch milliseconds (UTC). */
  timestamp: Float64Array;
  airflow_rate: Float64Array;
  rotation_speed: Float64Array;
  air_pressure: Float64Array;
  temperature: Float64Array;
  delay: Float64Array;
  density: Float64Array;
  defect: Int32Array;
}

/** One row, for small-scale consumers; missing sensors are null. */
export interface FleetRow {
  device_id: string;
  trip_id: string;
  factory_id: string;
  model_id: string;
  /** Epoch milliseconds (UTC). */
  timestamp: number;
  airflow_rate: number | null;
  rotation_speed: number | null;
  air_pressure: number | null;
  temperature: number | null;
  delay: number | null;
  density: number | null;
  defect: number;
}

/** Totals of one generation run. */
export interface FleetSummary {
  rows: number;
  devices: number;
  trips: number;
  defects: number;
}

export type FleetFormat = 'csv' | 'parquet' | 'ndjson';

/** Options of {@link writeFleet}. */
export interface WriteFleetOptions extends FleetOptions {
  out: string;
  /** Inferred from the extension of `out` when absent. */
  format?: FleetFormat;
  /** Called after every chunk with the rows generated so far. */
  onProgress?: (rowsDone: number) => void;
}

/** Result of {@link writeFleet}: generation totals plus the output file size. */
export interface WriteFleetResult extends FleetSummary {
  bytes: number;
}

interface ModelSpec {
  id: string;
  maxRpm: number;
  /** m³/h at max rpm. */
  airflowMax: number;
  /** kPa added at max rpm. */
  pressureGain: number;
  /** °C above ambient at full load. */
  tempRise: number;
  /** ms at idle. */
  delayBase: number;
}

const MODELS: readonly ModelSpec[] = [
  { id: 'M-A', maxRpm: 3000, airflowMax: 1600, pressureGain: 42, tempRise: 48, delayBase: 24 },
  { id: 'M-B', maxRpm: 3200, airflowMax: 1900, pressureGain: 45, tempRise: 52, delayBase: 28 },
  { id: 'M-C', maxRpm: 3400, airflowMax: 2200, pressureGain: 48, tempRise: 58, delayBase: 30 },
  { id: 'M-D', maxRpm: 3600, airflowMax: 2600, pressureGain: 50, tempRise: 55, delayBase: 26 },
  { id: 'M-E', maxRpm: 2800, airflowMax: 1400, pressureGain: 38, tempRise: 62, delayBase: 34 },
  { id: 'M-F', maxRpm: 3300, airflowMax: 2000, pressureGain: 46, tempRise: 50, delayBase: 22 },
];

interface FactorySpec {
  id: string;
  weight: number;
  /** Site climate vs the fleet average, °C. */
  climate: number;
  /** Indexes into MODELS built at this site. */
  models: readonly number[];
}

// Factories build overlapping model subsets, so factory and model are correlated
// (as in real fleets) but neither determines the other.
const FACTORIES: readonly FactorySpec[] = [
  { id: 'F1', weight: 0.28, climate: 0, models: [0, 1, 2] },
  { id: 'F2', weight: 0.24, climate: -5, models: [1, 3, 5] },
  { id: 'F3', weight: 0.2, climate: 6, models: [0, 4, 5] },
  { id: 'F4', weight: 0.16, climate: 2, models: [2, 3, 4] },
  { id: 'F5', weight: 0.12, climate: -2, models: [0, 3, 5] },
];

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** The fleet's timeline targets Jan–Jun 2026. */
const SPAN_MINUTES = 181 * 1440;
const MEAN_TRIP_ROWS = 0.15 * 25 + 0.85 * 195;
const MIN_GAP_MINUTES = 60;
const MEAN_EXTRA_GAP_MINUTES = 600;
const MAX_GAP_MINUTES = 72 * 60;

// Per-sensor AR(1) noise: x_t = PHI·x_{t-1} + sd·sqrt(1-PHI²)·z, restarted each trip.
const PHI = 0.8;
const INNOV = Math.sqrt(1 - PHI * PHI);
const NOISE_SD = [25, 12, 0.6, 0.35, 1.5, 0.006] as const;

// Hazards (events per minute, before the per-device multiplier) of injected excursions.
const TEMP_SPIKE_RATE = 1 / 160;
const DELAY_SPIKE_RATE = 1 / 500;
const DELAY_HIGH_LOAD_FACTOR = 10;
const DENSITY_SPIKE_RATE = 1 / 230;
// Missing values: an event per ~1700 sensor-cells, 30% of them a 3–15 minute dropout,
// giving ≈0.2% missing cells.
const MISSING_RATE = 1 / 1700;
const DROPOUT_SHARE = 0.3;
const FALSE_NEGATIVE = 0.03;
const FALSE_POSITIVE_RATE = 0.001;

/** Default device count for a target row count: ~200, fewer for tiny fleets. */
export function defaultDeviceCount(rows: number): number {
  return Math.max(1, Math.min(200, Math.ceil(rows / 250)), Math.ceil(rows / 50_000));
}

/** Fills in the defaults of {@link FleetOptions} and validates them. */
export function resolveFleetOptions(opts: FleetOptions = {}): Required<FleetOptions> {
  const rows = opts.rows ?? 250_000;
  if (!Number.isInteger(rows) || rows < 1) throw new RangeError(`rows must be a positive integer, got ${rows}`);
  const devices = opts.devices ?? defaultDeviceCount(rows);
  if (!Number.isInteger(devices) || devices < 1) throw new RangeError(`devices must be a positive integer, got ${devices}`);
  const seed = opts.seed ?? 42;
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a number, got ${seed}`);
  return { rows, devices, seed };
}

function newChunk(n: number): FleetChunk {
  return {
    length: 0,
    device_id: new Array<string>(n),
    trip_id: new Array<string>(n),
    factory_id: new Array<string>(n),
    model_id: new Array<string>(n),
    timestamp: new Float64Array(n),
    airflow_rate: new Float64Array(n),
    rotation_speed: new Float64Array(n),
    air_pressure: new Float64Array(n),
    temperature: new Float64Array(n),
    delay: new Float64Array(n),
    density: new Float64Array(n),
    defect: new Int32Array(n),
  };
}

function truncateChunk(c: FleetChunk, n: number): FleetChunk {
  c.length = n;
  c.device_id.length = n;
  c.trip_id.length = n;
  c.factory_id.length = n;
  c.model_id.length = n;
  return {
    ...c,
    timestamp: c.timestamp.subarray(0, n),
    airflow_rate: c.airflow_rate.subarray(0, n),
    rotation_speed: c.rotation_speed.subarray(0, n),
    air_pressure: c.air_pressure.subarray(0, n),
    temperature: c.temperature.subarray(0, n),
    delay: c.delay.subarray(0, n),
    density: c.density.subarray(0, n),
    defect: c.defect.subarray(0, n),
  };
}

/** Exponential waiting "hazard budget" with mean 1. */
function expo(rng: Rng): number {
  return -Math.log(1 - rng.next());
}

/**
 * Day-to-day weather per factory: AR(1) anomaly (°C) over days, extended lazily from
 * the factory's own RNG so values do not depend on the order devices ask for them.
 */
class Weather {
  private readonly days: number[][] = [];
  private readonly rngs: Rng[];
  constructor(rng: Rng) {
    this.rngs = FACTORIES.map(() => rng.fork());
    for (let f = 0; f < FACTORIES.length; f++) this.days.push([this.rngs[f]!.normal() * 3]);
  }
  /** Anomaly at a fractional day index, linearly interpolated between daily values. */
  at(factory: number, day: number): number {
    const series = this.days[factory]!;
    const d0 = Math.floor(day);
    while (series.length < d0 + 2) {
      series.push(0.75 * series[series.length - 1]! + 3 * Math.sqrt(1 - 0.75 * 0.75) * this.rngs[factory]!.normal());
    }
    const w = day - d0;
    return series[d0]! * (1 - w) + series[d0 + 1]! * w;
  }
}

/** Ambient air temperature (°C) at a factory site. */
function ambientAt(ms: number, factory: number, weather: Weather): number {
  const day = (ms - FLEET_START_MS) / DAY_MS;
  // Coldest around Jan 20, warmest around Jul 20 (Northern hemisphere sites).
  const seasonal = 9 - 13 * Math.cos((2 * Math.PI * (day - 19)) / 365.25);
  const hour = (ms % DAY_MS) / 3_600_000;
  const daily = 4.5 * Math.cos((2 * Math.PI * (hour - 15)) / 24);
  return seasonal + daily + FACTORIES[factory]!.climate + weather.at(factory, day);
}

function pickFactory(rng: Rng): number {
  let u = rng.next();
  for (let i = 0; i < FACTORIES.length - 1; i++) {
    u -= FACTORIES[i]!.weight;
    if (u < 0) return i;
  }
  return FACTORIES.length - 1;
}

const r1 = (x: number): number => Math.round(x * 10) / 10;
const r2 = (x: number): number => Math.round(x * 100) / 100;
const r4 = (x: number): number => Math.round(x * 10_000) / 10_000;

/**
 * Generates the fleet as columnar chunks of at most `chunkRows` rows. The chunk size
 * only affects slicing: the concatenated rows are identical for any `chunkRows`.
 * The generator's return value holds the totals.
 */
export function* generateFleetChunks(
  opts: FleetOptions = {},
  chunkRows = 65_536,
): Generator<FleetChunk, FleetSummary, undefined> {
  const { rows: target, devices, seed } = resolveFleetOptions(opts);
  if (!Number.isInteger(chunkRows) || chunkRows < 1) throw new RangeError(`chunkRows must be a positive integer`);
  const master = createRng(seed);
  const weather = new Weather(master.fork());
  const padWidth = Math.max(4, String(devices).length);

  let chunk = newChunk(chunkRows);
  let n = 0;
  let total = 0;
  let devicesUsed = 0;
  let trips = 0;
  let defects = 0;

  // Missing-value state is fleet-wide so the missing pattern is independent of devices.
  const missRng = master.fork();
  const missNext = new Float64Array(6);
  const dropLeft = new Int32Array(6);
  for (let k = 0; k < 6; k++) missNext[k] = expo(missRng) / MISSING_RATE;
  const noise = new Float64Array(6);
  const ring = new Float64Array(DEFECT_RULES.tempWindow);

  for (let d = 0; d < devices && total < target; d++) {
    // Forked per device so its attributes depend only on the seed and its index.
    const rng = master.fork();
    const deviceId = `dev-${String(d + 1).padStart(padWidth, '0')}`;
    const fi = pickFactory(rng);
    const factory = FACTORIES[fi]!;
    const model = MODELS[factory.models[rng.int(factory.models.length)]!]!;
    const susceptible =
      (DEFECT_RULES.tempSusceptibleModels as readonly string[]).includes(model.id) ||
      (DEFECT_RULES.tempSusceptibleFactories as readonly string[]).includes(factory.id);
    const airOff = rng.normal() * 40;
    const rpmOff = rng.normal() * 40;
    const pOff = rng.normal() * 1.2;
    const tOff = rng.normal() * 2;
    const dOff = rng.normal() * 3;
    const rhoOff = rng.normal() * 0.008;
    // Some devices are simply more trouble-prone than others.
    const eventMult = Math.exp(rng.normal() * 0.5 - 0.125);

    // Dynamic quota keeps the fleet total close to the target whatever the trip lengths.
    const quota = (target - total) / (devices - d);
    const lastDevice = d === devices - 1;
    // Stagger commissioning so small fleets still span Jan–Jun; big fleets start early.
    const estSpan = (quota / MEAN_TRIP_ROWS) * (MEAN_TRIP_ROWS + MIN_GAP_MINUTES + MEAN_EXTRA_GAP_MINUTES);
    let tMin = Math.floor(rng.next() * Math.max(0, SPAN_MINUTES - estSpan)) + rng.int(720);
    let devRows = 0;
    let tripNo = 0;

    let tempHaz = expo(rng);
    let delayHaz = expo(rng);
    let densHaz = expo(rng);
    let fpHaz = expo(rng);

    while (total < target) {
      const len = rng.next() < 0.15 ? 10 + rng.int(31) : 40 + rng.int(311);
      if (!lastDevice && devRows > 0 && devRows + len / 2 > quota) break;
      tripNo++;
      trips++;
      if (tripNo === 1) devicesUsed++;
      const tripId = `${deviceId}-t${String(tripNo).padStart(4, '0')}`;
      const tripStart = FLEET_START_MS + tMin * MINUTE_MS;

      let rpmFrac = 0.25 + 0.1 * rng.next();
      let phaseLeft = 0;
      let phaseTarget = 0;
      for (let k = 0; k < 6; k++) noise[k] = NOISE_SD[k]! * rng.normal();
      let tState = Number.NaN;
      let ringCount = 0;
      let ringPos = 0;
      let ringSum = 0;
      let tempLeft = 0, tempAmp = 0;
      let delayLeft = 0, delayAmp = 0;
      let densLeft = 0, densAmp = 0;

      for (let m = 0; m < len; m++) {
        const ts = tripStart + m * MINUTE_MS;
        if (phaseLeft <= 0) {
          const u = rng.next();
          phaseTarget = u < 0.3 ? 0.32 + 0.18 * rng.next() : u < 0.8 ? 0.6 + 0.25 * rng.next() : 0.88 + 0.12 * rng.next();
          phaseLeft = 5 + rng.int(41);
        }
        phaseLeft--;
        rpmFrac += (phaseTarget - rpmFrac) * 0.35;
        for (let k = 0; k < 6; k++) noise[k] = PHI * noise[k]! + NOISE_SD[k]! * INNOV * rng.normal();

        const amb = ambientAt(ts, fi, weather);
        const rpm = model.maxRpm * rpmFrac + rpmOff + noise[1]!;
        const f = rpm / model.maxRpm;
        const airflow = model.airflowMax * f + airOff + noise[0]!;
        const pressure = 101.3 + model.pressureGain * f * f + pOff + noise[2]!;
        // Thermal inertia (tau 25 min) keeps normal minute-to-minute rises small; trips
        // start pre-warmed at 80% of the operating rise.
        const tTarget = amb + model.tempRise * (0.7 + 0.4 * f) + tOff;
        tState = Number.isNaN(tState) ? amb + 0.8 * (tTarget - amb) : tState + (tTarget - tState) / 25;

        // Excursions: hazard budgets run down each minute; a start lasts a few minutes.
        tempHaz -= TEMP_SPIKE_RATE * eventMult;
        if (tempLeft === 0 && tempHaz <= 0) {
          tempHaz = expo(rng);
          tempLeft = 3 + rng.int(6);
          tempAmp = 9 + 7 * rng.next();
        }
        delayHaz -= DELAY_SPIKE_RATE * eventMult * (f > 0.85 ? DELAY_HIGH_LOAD_FACTOR : 1);
        if (delayLeft === 0 && delayHaz <= 0) {
          delayHaz = expo(rng);
          delayLeft = 2 + rng.int(7);
          delayAmp = 70 + 80 * rng.next();
        }
        densHaz -= DENSITY_SPIKE_RATE * eventMult;
        if (densLeft === 0 && densHaz <= 0) {
          densHaz = expo(rng);
          densLeft = 3 + rng.int(8);
          densAmp = 0.25 + 0.2 * rng.next();
        }
        let tempExc = 0, delayExc = 0, densExc = 0;
        if (tempLeft > 0) {
          tempExc = tempAmp;
          tempLeft--;
        } else if (tempAmp > 0.05) {
          // Heat dissipates gradually once the cause is gone.
          tempAmp *= 0.5;
          tempExc = tempAmp;
        } else tempAmp = 0;
        if (delayLeft > 0) {
          delayExc = delayAmp;
          delayLeft--;
        }
        if (densLeft > 0) {
          densExc = densAmp;
          densLeft--;
        } else if (densAmp > 0.005) {
          densAmp *= 0.5;
          densExc = densAmp;
        } else densAmp = 0;

        const vAir = r1(airflow);
        const vRpm = r1(rpm);
        const vP = r2(pressure);
        const vT = r2(tState + noise[3]! + tempExc);
        const vD = r2(Math.max(1, model.delayBase + 12 * f + dOff + noise[4]! + delayExc));
        const vRho = r4((pressure * 1000) / (287.05 * (amb + 10 + 273.15)) + rhoOff + noise[5]! + densExc);

        const c1 =
          susceptible && ringCount >= DEFECT_RULES.tempMinHistory && vT - ringSum / ringCount > DEFECT_RULES.tempSpikeDelta;
        const c2 = vD > DEFECT_RULES.delayHigh && vRpm > DEFECT_RULES.rotationHigh;
        const c3 = vRho > DEFECT_RULES.densityHigh && vP < DEFECT_RULES.pressureLow;
        let label = c1 || c2 || c3 ? 1 : 0;
        if (label === 1) {
          if (rng.next() < FALSE_NEGATIVE) label = 0;
        } else {
          fpHaz -= FALSE_POSITIVE_RATE;
          if (fpHaz <= 0) {
            fpHaz = expo(rng);
            label = 1;
          }
        }
        // Rolling window of the previous readings of this trip.
        if (ringCount === ring.length) ringSum -= ring[ringPos]!;
        else ringCount++;
        ring[ringPos] = vT;
        ringSum += vT;
        ringPos = (ringPos + 1) % ring.length;

        chunk.device_id[n] = deviceId;
        chunk.trip_id[n] = tripId;
        chunk.factory_id[n] = factory.id;
        chunk.model_id[n] = model.id;
        chunk.timestamp[n] = ts;
        chunk.airflow_rate[n] = vAir;
        chunk.rotation_speed[n] = vRpm;
        chunk.air_pressure[n] = vP;
        chunk.temperature[n] = vT;
        chunk.delay[n] = vD;
        chunk.density[n] = vRho;
        chunk.defect[n] = label;
        defects += label;

        for (let k = 0; k < 6; k++) {
          let missing = false;
          if (dropLeft[k]! > 0) {
            dropLeft[k]!--;
            missing = true;
          } else if (--missNext[k]! <= 0) {
            missNext[k] = expo(missRng) / MISSING_RATE;
            missing = true;
            if (missRng.next() < DROPOUT_SHARE) dropLeft[k] = 2 + missRng.int(13);
          }
          if (missing) sensorColumn(chunk, k)[n] = Number.NaN;
        }

        n++;
        total++;
        if (n === chunkRows) {
          chunk.length = n;
          yield chunk;
          chunk = newChunk(chunkRows);
          n = 0;
        }
      }
      devRows += len;
      const gap = MIN_GAP_MINUTES + Math.min(MAX_GAP_MINUTES - MIN_GAP_MINUTES, Math.round(expo(rng) * MEAN_EXTRA_GAP_MINUTES));
      tMin += len + gap;
    }
  }
  if (n > 0) yield truncateChunk(chunk, n);
  return { rows: total, devices: devicesUsed, trips, defects };
}

function sensorColumn(c: FleetChunk, k: number): Float64Array {
  switch (k) {
    case 0:
      return c.airflow_rate;
    case 1:
      return c.rotation_speed;
    case 2:
      return c.air_pressure;
    case 3:
      return c.temperature;
    case 4:
      return c.delay;
    default:
      return c.density;
  }
}

/** Row-at-a-time view of {@link generateFleetChunks}; convenient for small fleets. */
export function* generateFleetRows(opts: FleetOptions = {}): Generator<FleetRow, void, undefined> {
  const nn = (x: number): number | null => (Number.isNaN(x) ? null : x);
  for (const c of generateFleetChunks(opts)) {
    for (let i = 0; i < c.length; i++) {
      yield {
        device_id: c.device_id[i]!,
        trip_id: c.trip_id[i]!,
        factory_id: c.factory_id[i]!,
        model_id: c.model_id[i]!,
        timestamp: c.timestamp[i]!,
        airflow_rate: nn(c.airflow_rate[i]!),
        rotation_speed: nn(c.rotation_speed[i]!),
        air_pressure: nn(c.air_pressure[i]!),
        temperature: nn(c.temperature[i]!),
        delay: nn(c.delay[i]!),
        density: nn(c.density[i]!),
        defect: c.defect[i]!,
      };
    }
  }
}

/** Formats epoch ms as `YYYY-MM-DD HH:MM:SS` (UTC), the format used in CSV and NDJSON. */
export function formatTimestamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

// Rendering writes ASCII bytes straight into a Buffer: building millions of small
// strings cost ~5 s per million rows, almost all of it garbage collection.
const COMMA = 44;
const NEWLINE = 10;
const POW10 = [1, 10, 100, 1000, 10_000] as const;
/** Generous upper bound of one rendered row beyond its id prefix. */
const ROW_SLACK = 512;

const ascii = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

/** Appends a non-negative integer in decimal. */
function putUint(buf: Uint8Array, pos: number, v: number): number {
  let len = 1;
  for (let t = v; t >= 10; t = Math.floor(t / 10)) len++;
  let p = pos + len;
  while (v >= 10) {
    const q = Math.floor(v / 10);
    buf[--p] = 48 + (v - q * 10);
    v = q;
  }
  buf[p - 1] = 48 + v;
  return pos + len;
}

/**
 * Appends `v` (already rounded to `dec` decimals) as its shortest decimal, e.g. 18.7
 * not 18.70, so the text parses back to exactly the same double.
 */
function putFixed(buf: Uint8Array, pos: number, v: number, dec: number): number {
  const scale = POW10[dec]!;
  let k = Math.round(v * scale);
  if (k < 0) {
    buf[pos++] = 45;
    k = -k;
  }
  const ip = Math.floor(k / scale);
  let frac = k - ip * scale;
  pos = putUint(buf, pos, ip);
  if (frac > 0) {
    let d = dec;
    while (frac % 10 === 0) {
      frac /= 10;
      d--;
    }
    buf[pos++] = 46;
    for (let j = d - 1; j >= 0; j--) {
      const q = Math.floor(frac / 10);
      buf[pos + j] = 48 + (frac - q * 10);
      frac = q;
    }
    pos += d;
  }
  return pos;
}

function putBytes(buf: Uint8Array, pos: number, bytes: Uint8Array): number {
  for (let j = 0; j < bytes.length; j++) buf[pos + j] = bytes[j]!;
  return pos + bytes.length;
}

// "HH:MM:00" for every minute of a day; readings always fall on whole minutes.
const MINUTE_OF_DAY = ascii(
  Array.from({ length: 1440 }, (_, i) => {
    const h = Math.floor(i / 60);
    const m = i % 60;
    return `${h < 10 ? '0' : ''}${h}:${m < 10 ? '0' : ''}${m}:00`;
  }).join(''),
);

/** Writes timestamps, caching the date part, which changes once per day of readings. */
class TimestampWriter {
  private day = Number.NaN;
  private prefix: Uint8Array = new Uint8Array(0);
  put(buf: Uint8Array, pos: number, ms: number): number {
    const day = Math.floor(ms / DAY_MS);
    const rest = ms - day * DAY_MS;
    // Off-minute values never come from the generator, but stay correct anyway.
    if (rest % MINUTE_MS !== 0) return putBytes(buf, pos, ascii(formatTimestamp(ms)));
    if (day !== this.day) {
      this.day = day;
      this.prefix = ascii(formatTimestamp(day * DAY_MS).slice(0, 11));
    }
    pos = putBytes(buf, pos, this.prefix);
    const m = (rest / MINUTE_MS) * 8;
    for (let j = 0; j < 8; j++) buf[pos + j] = MINUTE_OF_DAY[m + j]!;
    return pos + 8;
  }
}

const DEC = SENSOR_COLUMNS.map((s) => SENSOR_DECIMALS[s]);

/** Shared machinery of the CSV and NDJSON renderers. */
abstract class ByteRenderer {
  protected readonly ts = new TimestampWriter();
  private lastTrip = '';
  private prefix: Uint8Array = new Uint8Array(0);
  protected buf: Uint8Array = new Uint8Array(0);

  /** Bytes that open a row of this trip (the id columns never change within a trip). */
  protected abstract tripPrefix(c: FleetChunk, i: number): string;
  /** Writes the rest of row `i` after the prefix; returns the new position. */
  protected abstract putRow(c: FleetChunk, i: number, pos: number): number;

  /** Renders one chunk; the returned Buffer is fresh, so it may be queued on a stream. */
  render(c: FleetChunk): Buffer {
    this.buf = new Uint8Array(c.length * 160 + ROW_SLACK);
    let pos = 0;
    for (let i = 0; i < c.length; i++) {
      const trip = c.trip_id[i]!;
      if (trip !== this.lastTrip) {
        this.lastTrip = trip;
        this.prefix = ascii(this.tripPrefix(c, i));
      }
      if (pos + this.prefix.length + ROW_SLACK > this.buf.length) {
        const bigger = new Uint8Array(this.buf.length * 2);
        bigger.set(this.buf.subarray(0, pos));
        this.buf = bigger;
      }
      pos = putBytes(this.buf, pos, this.prefix);
      pos = this.putRow(c, i, pos);
    }
    return Buffer.from(this.buf.buffer, this.buf.byteOffset, pos);
  }
}

/** Renders chunks as CSV bytes (no header); missing values become empty fields. */
export class CsvRenderer extends ByteRenderer {
  protected override tripPrefix(c: FleetChunk, i: number): string {
    return `${c.device_id[i]},${c.trip_id[i]},${c.factory_id[i]},${c.model_id[i]},`;
  }
  protected override putRow(c: FleetChunk, i: number, pos: number): number {
    const buf = this.buf;
    pos = this.ts.put(buf, pos, c.timestamp[i]!);
    for (let k = 0; k < 6; k++) {
      buf[pos++] = COMMA;
      const v = sensorColumn(c, k)[i]!;
      if (v === v) pos = putFixed(buf, pos, v, DEC[k]!);
    }
    buf[pos++] = COMMA;
    pos = putUint(buf, pos, c.defect[i]!);
    buf[pos++] = NEWLINE;
    return pos;
  }
}

const JSON_KEYS = SENSOR_COLUMNS.map((s, k) => ascii(`${k === 0 ? '"' : ''},"${s}":`));
const JSON_DEFECT = ascii(',"defect":');
const JSON_NULL = ascii('null');

/** Renders chunks as newline-delimited JSON bytes; missing values become null. */
export class NdjsonRenderer extends ByteRenderer {
  protected override tripPrefix(c: FleetChunk, i: number): string {
    // Ids are plain ASCII without quotes or backslashes, so no escaping is needed.
    return `{"device_id":"${c.device_id[i]}","trip_id":"${c.trip_id[i]}","factory_id":"${c.factory_id[i]}","model_id":"${c.model_id[i]}","timestamp":"`;
  }
  protected override putRow(c: FleetChunk, i: number, pos: number): number {
    const buf = this.buf;
    pos = this.ts.put(buf, pos, c.timestamp[i]!);
    for (let k = 0; k < 6; k++) {
      pos = putBytes(buf, pos, JSON_KEYS[k]!);
      const v = sensorColumn(c, k)[i]!;
      pos = v === v ? putFixed(buf, pos, v, DEC[k]!) : putBytes(buf, pos, JSON_NULL);
    }
    pos = putBytes(buf, pos, JSON_DEFECT);
    pos = putUint(buf, pos, c.defect[i]!);
    buf[pos++] = 125;
    buf[pos++] = NEWLINE;
    return pos;
  }
}

/** Infers the output format from a file name (`.csv`, `.parquet`/`.pq`, `.ndjson`/`.jsonl`). */
export function fleetFormatFromPath(file: string): FleetFormat {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.parquet' || ext === '.pq') return 'parquet';
  if (ext === '.ndjson' || ext === '.jsonl') return 'ndjson';
  throw new Error(`cannot infer the format of ${file}: use .csv, .parquet or .ndjson, or pass format`);
}

const sqlString = (s: string): string => `'${s.replaceAll("'", "''")}'`;

function columnsStruct(): string {
  return `{${FLEET_COLUMNS.map((c) => `${sqlString(c)}: ${sqlString(FLEET_SCHEMA[c])}`).join(', ')}}`;
}

/** DuckDB table expression reading a fleet CSV with exact column types. */
export function fleetCsvReadSql(file: string): string {
  return `read_csv(${sqlString(file)}, header = true, delim = ',', quote = '"', nullstr = '', timestampformat = '%Y-%m-%d %H:%M:%S', columns = ${columnsStruct()})`;
}

/** DuckDB table expression reading a fleet NDJSON file with exact column types. */
export function fleetNdjsonReadSql(file: string): string {
  return `read_json(${sqlString(file)}, format = 'newline_delimited', timestampformat = '%Y-%m-%d %H:%M:%S', columns = ${columnsStruct()})`;
}

/** Writes rendered chunks through a file stream, honouring backpressure. */
async function streamFleet(
  file: string,
  gen: Generator<FleetChunk, FleetSummary, undefined>,
  header: string,
  render: (c: FleetChunk) => Uint8Array,
  onProgress: ((rowsDone: number) => void) | undefined,
): Promise<FleetSummary> {
  // A 16 MiB buffer lets the disk write one chunk while the next is generated.
  const ws = createWriteStream(file, { highWaterMark: 16 * 1024 * 1024 });
  let failure: Error | null = null;
  ws.on('error', (e) => {
    failure = e;
  });
  try {
    if (header) ws.write(header);
    let done = 0;
    for (let r = gen.next(); ; r = gen.next()) {
      if (failure) throw failure;
      if (r.done) {
        ws.end();
        await once(ws, 'close');
        if (failure) throw failure;
        return r.value;
      }
      done += r.value.length;
      if (!ws.write(render(r.value))) await once(ws, 'drain');
      // Yield to the event loop every chunk so timers and UI stay responsive.
      else await new Promise<void>((resolve) => setImmediate(resolve));
      onProgress?.(done);
    }
  } catch (e) {
    ws.destroy();
    throw e;
  }
}

let tmpCounter = 0;

/**
 * Generates a fleet straight to a file (CSV, Parquet or NDJSON) with bounded memory.
 * Parquet goes through a temporary CSV next to `out`, converted by DuckDB with
 * explicit column types. Output is written to a temporary name and renamed at the
 * end, so `out` never exists half-written; temporary files are always removed.
 */
export async function writeFleet(opts: WriteFleetOptions): Promise<WriteFleetResult> {
  const format = opts.format ?? fleetFormatFromPath(opts.out);
  if (format !== 'csv' && format !== 'ndjson' && format !== 'parquet') throw new Error(`unknown format ${String(format)}`);
  const resolved = resolveFleetOptions(opts);
  const out = path.resolve(opts.out);
  await fsp.mkdir(path.dirname(out), { recursive: true });
  const tmpBase = path.join(path.dirname(out), `.${path.basename(out)}.${process.pid}.${++tmpCounter}.tmp`);
  const tmpOut = `${tmpBase}.${format}`;
  const tmpCsv = `${tmpBase}.csv`;
  const gen = generateFleetChunks(resolved);
  const header = FLEET_COLUMNS.join(',') + '\n';
  let summary: FleetSummary;
  try {
    if (format === 'ndjson') {
      const r = new NdjsonRenderer();
      summary = await streamFleet(tmpOut, gen, '', (c) => r.render(c), opts.onProgress);
    } else {
      const r = new CsvRenderer();
      summary = await streamFleet(tmpCsv, gen, header, (c) => r.render(c), opts.onProgress);
      if (format === 'parquet') await csvToParquet(tmpCsv, tmpOut);
    }
    await fsp.rename(tmpOut, out);
  } finally {
    await Promise.all([fsp.rm(tmpOut, { force: true }), fsp.rm(tmpCsv, { force: true })]);
  }
  const { size } = await fsp.stat(out);
  return { ...summary, bytes: size };
}

async function csvToParquet(csv: string, out: string): Promise<void> {
  // Loaded lazily so CSV/NDJSON generation does not need the native binding.
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  try {
    // DuckDB runs inside this process: cap it so the 10M-row case stays well under 1 GiB.
    await con.run(`SET memory_limit = '256MB'`);
    await con.run(`SET threads = 2`);
    await con.run(
      `COPY (SELECT * FROM ${fleetCsvReadSql(csv)}) TO ${sqlString(out)} (FORMAT parquet, COMPRESSION zstd)`,
    );
  } finally {
    con.closeSync();
    inst.closeSync();
  }
}
