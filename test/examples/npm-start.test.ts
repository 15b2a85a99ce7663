import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '../../lib/client.js';
import { ROOT, startProgram, stopAll } from '../helpers/child-process.js';
import { nextMessage } from '../helpers/loopback-server.js';

afterAll(stopAll);

describe('npm start', () => {
  it('runs the demo server: the page, the two protocols and /echo (PORT chooses the port)', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
      scripts?: Record<string, string>;
    };
    expect(
      pkg.scripts?.start,
      'package.json needs "start": "node --import tsx examples/libwebsockets-test-server.ts"',
    ).toBeDefined();
    const demo = startProgram('npm start', 'npm', ['start', '--silent'], {
      env: { PORT: '0' },
      group: true, // npm does not pass SIGTERM on: stop the server through its process group
    });
    const [, port] = await demo.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)\//, 60_000);
    const page = await fetch(`http://127.0.0.1:${port}/`);
    expect(page.status).toBe(200);
    const dumb = await connect(`ws://127.0.0.1:${port}/`, {
      protocols: ['dumb-increment-protocol'],
    });
    expect(await nextMessage(dumb)).toBe('0');
    const mirror = await connect(`ws://127.0.0.1:${port}/`, { protocols: ['lws-mirror-protocol'] });
    expect(mirror.protocol).toBe('lws-mirror-protocol');
    const echo = await connect(`ws://127.0.0.1:${port}/echo`);
    echo.write('hi');
    expect(await nextMessage(echo)).toBe('hi');
    for (const ws of [dumb, mirror, echo]) ws.terminate();
    await demo.stop('SIGTERM');
  });
});
