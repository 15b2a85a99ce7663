import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { collect, spawnCli, stopProcess, waitFor } from '../helpers/cli.js';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('wsdx demo', () => {
  it('runs the demo server of examples/ until SIGTERM', async () => {
    const port = await freePort();
    const child = spawnCli(['demo', String(port)], 'ignore');
    const done = collect(child, 20_000);
    let answered = false;
    await waitFor(
      () => {
        fetch(`http://127.0.0.1:${port}/`).then(
          (res) => {
            answered = res.status < 500;
          },
          () => {},
        );
        return answered;
      },
      15_000,
      'the demo server to answer',
    );
    await stopProcess(child);
    const result = await done;
    expect(result.stderr).not.toMatch(/internal error/);
  });
});
