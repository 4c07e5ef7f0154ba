// `npm run web`: build the renderer if needed, then serve Fleetlens in browser mode on 127.0.0.1.
import { ensureRendererBuilt, run } from './lib.mjs';

const code = await ensureRendererBuilt();
if (code !== 0) process.exit(code);
process.exit(await run(process.execPath, ['bin/fleetlens.mjs', 'web', ...process.argv.slice(2)]));
