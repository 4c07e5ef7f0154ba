import { defineConfig } from 'vite';

// The renderer is a plain React app built to dist/renderer; the same files are
// loaded by Electron (file://) and served by the browser-mode bridge.
export default defineConfig({
  root: 'renderer',
  base: './',
  build: {
    outDir: '../dist/renderer',
    emptyOutDir: true,
    chunkSizeWarningLimit: 6000,
    sourcemap: false,
  },
  oxc: { jsx: { runtime: 'automatic' } },
});
