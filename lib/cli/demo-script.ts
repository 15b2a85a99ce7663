import { existsSync } from 'node:fs';

/**
 * Where the demo server might be: lib/cli/ -> examples/ in a clone, dist/ -> examples/ when
 * a clone runs the bundle. The published package ships no examples/.
 */
const CANDIDATES = [
  '../../examples/libwebsockets-test-server.ts',
  '../examples/libwebsockets-test-server.ts',
];

/**
 * Finds the demo server's source, or undefined when this installation has none (the
 * published package), so that `wsdx --help` lists `demo` only where it can run.
 *
 * @example findDemoScript()?.pathname // '/home/me/websocket-duplex/examples/libwebsockets-test-server.ts'
 */
export function findDemoScript(): URL | undefined {
  for (const candidate of CANDIDATES) {
    const url = new URL(candidate, import.meta.url);
    if (existsSync(url)) return url;
  }
  return undefined;
}
