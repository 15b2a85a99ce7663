#!/usr/bin/env node
// wsdx: the websocket-duplex command line. In a clone of the repository it runs the
// TypeScript source through tsx (no build step, always current); in the published
// package, which ships no lib/, it runs the bundle tsup made (dist/cli.js).
// WSDX_DIST=1 forces the bundle, to test it from a clone.
import { existsSync } from 'node:fs';

const source = new URL('../lib/cli/main.ts', import.meta.url);
const bundle = new URL('../dist/cli.js', import.meta.url);

async function load() {
  if (process.env.WSDX_DIST !== '1' && existsSync(source)) {
    try {
      const { register } = await import('tsx/esm/api');
      register();
    } catch {
      if (!existsSync(bundle)) fail('tsx is missing: run `npm ci` (or `npm run build`) first');
      return import(bundle.href);
    }
    return import(source.href);
  }
  if (!existsSync(bundle)) fail('dist/cli.js is missing: run `npm run build` first');
  return import(bundle.href);
}

function fail(message) {
  process.stderr.write(`wsdx: ${message}\n`);
  process.exit(1);
}

const cli = await load();
await cli.main(process.argv.slice(2));
