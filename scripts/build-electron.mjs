// Bundles the Electron main process (ESM) and the sandboxed preload (CJS) with esbuild.
// Dependencies stay external: they are installed next to the app by npm / electron-builder.
import { build } from 'esbuild';

const common = { bundle: true, platform: 'node', target: 'node20', sourcemap: false, logLevel: 'warning' };
await build({ ...common, entryPoints: ['electron/main.ts'], outfile: 'dist-electron/main.mjs', format: 'esm', packages: 'external' });
await build({ ...common, entryPoints: ['electron/engine.ts'], outfile: 'dist-electron/engine.mjs', format: 'esm', packages: 'external' });
// Worker threads are separate entries; core/util/workers.ts prefers a bundled .mjs next to the engine.
await build({ ...common, entryPoints: ['core/models/model-worker.ts'], outfile: 'dist-electron/model-worker.mjs', format: 'esm', packages: 'external' });
await build({ ...common, entryPoints: ['core/stream/score-worker.ts'], outfile: 'dist-electron/score-worker.mjs', format: 'esm', packages: 'external' });
await build({ ...common, entryPoints: ['core/features/kernel-worker.ts'], outfile: 'dist-electron/kernel-worker.mjs', format: 'esm', packages: 'external' });
await build({ ...common, entryPoints: ['electron/preload.ts'], outfile: 'dist-electron/preload.cjs', format: 'cjs', external: ['electron'] });
