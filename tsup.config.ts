import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'lib/index.ts',
    // The web and redis entries take the core from the package itself ('websocket-duplex',
    // external here), so that every entry shares one copy of each class.
    web: 'lib/web/package-entry.ts',
    redis: 'lib/redis/index.ts',
    cli: 'lib/cli/main.ts',
  },
  external: ['websocket-duplex'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  splitting: false,
  shims: true,
});
