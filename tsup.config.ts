import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'lib/index.ts', web: 'lib/web/index.ts', cli: 'lib/cli/main.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  splitting: false,
  shims: true,
});
