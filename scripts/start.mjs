// `npm start`: the desktop app. Builds the renderer and the Electron bundles, then opens Electron.
// Where Electron's binary is not installed it says so and serves browser mode instead.
import { electronBinary, ensureRendererBuilt, run } from './lib.mjs';

const electron = await electronBinary();
let code = await ensureRendererBuilt();
if (code !== 0) process.exit(code);
if (!electron) {
  console.log(
    "Electron's binary is not installed here (e.g. ELECTRON_SKIP_BINARY_DOWNLOAD=1 or no network at install),\n" +
      'so the desktop window cannot open. Starting browser mode instead: the same app, served on 127.0.0.1\n' +
      '(`npm run web` does this directly). Open the URL printed below.\n',
  );
  process.exit(await run(process.execPath, ['bin/fleetlens.mjs', 'web', ...process.argv.slice(2)]));
}
code = await run(process.execPath, ['scripts/build-electron.mjs']);
if (code !== 0) process.exit(code);
process.exit(await run(electron, ['.', ...process.argv.slice(2)]));
