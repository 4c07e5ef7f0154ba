/**
 * The detectors Fleetlens knows, by kind. The UI lists them, runs name them, and
 * saved models are loaded back through `detectorFromJSON`.
 */
import type { Detector, DetectorFactory, DetectorJson } from './detector.ts';
import { isolationForest } from './isolation-forest.ts';
import { isolationForestMljs } from './isolation-forest-mljs.ts';
import { pca } from './pca.ts';
import { robustZ } from './robust-z.ts';

/** Every detector factory, keyed by its `kind`. */
export const detectors: Record<string, DetectorFactory> = Object.fromEntries(
  [isolationForest, isolationForestMljs, robustZ, pca].map((f) => [f.kind, f]),
);

/** The factory for `kind`; throws an Error listing the known kinds when there is none. */
export function getDetector(kind: string): DetectorFactory {
  const factory = Object.hasOwn(detectors, kind) ? detectors[kind] : undefined;
  if (!factory) throw new Error(`Unknown detector kind "${kind}"; known kinds: ${Object.keys(detectors).join(', ')}`);
  return factory;
}

/** Rebuilds a fitted detector from its serialized form (`Detector.toJSON()`), whatever its kind. */
export function detectorFromJSON(json: DetectorJson): Detector {
  return getDetector(json.kind).fromJSON(json);
}
