import type { Plugin } from 'esbuild';
import { defineConfig } from 'tsup';

/**
 * Points lib/redis/core.ts's import of the core (`../index.js`) at the published package, so
 * that dist/redis.js uses the same classes as dist/index.js (an error thrown by the backplane
 * is `instanceof` the InvalidArgumentError a user imports) instead of bundling copies.
 */
const redisEntryUsesCorePackage: Plugin = {
  name: 'redis-entry-uses-core-package',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/index\.js$/ }, (args) =>
      /[/\\]lib[/\\]redis[/\\]core\.ts$/.test(args.importer)
        ? { path: 'websocket-duplex', external: true }
        : undefined,
    );
  },
};

export default defineConfig({
  entry: { index: 'lib/index.ts', cli: 'lib/cli/main.ts', redis: 'lib/redis/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  splitting: false,
  shims: true,
  esbuildPlugins: [redisEntryUsesCorePackage],
});
