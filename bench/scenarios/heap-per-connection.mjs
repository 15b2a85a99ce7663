/**
 * Itemizes what one idle server connection keeps on the JS heap (the "where the memory
 * goes" of scenario 6): an echo server in this process, N clients in a child process, a
 * heap snapshot before and after, and the growth per connection by constructor.
 *
 * Run (after `npm run bench`, which builds bench/results/build.tmp/lib/index.js):
 *   [ECHO=listener] node --expose-gc bench/scenarios/heap-per-connection.mjs ours|ws [N=2000]
 *
 * Plain JavaScript on purpose: no transform between the library and what is measured.
 * Snapshots go to the system's temporary directory and are deleted afterwards.
 */
import { fork } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';

const OURS = new URL('../results/build.tmp/lib/index.js', import.meta.url).href;
const lib = process.argv[2] ?? 'ours';
const count = Number(process.argv[3] ?? 2000);
const DEADLINE_MS = 60_000;

async function runClients(port) {
  const held = [];
  if (lib === 'ours') {
    const { connect } = await import(OURS);
    for (let i = 0; i < count; i++) {
      held.push(await connect(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false }));
    }
  } else {
    const { WebSocket } = await import('ws');
    for (let i = 0; i < count; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      held.push(ws);
    }
  }
  process.send('ready');
  process.on('message', () => process.exit(0));
}

/** Self size and count per constructor (or node type) in a snapshot file. */
function byConstructor(file) {
  const snapshot = JSON.parse(readFileSync(file, 'utf8'));
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const totals = new Map();
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    const type = types[snapshot.nodes[i + typeAt]];
    const name = snapshot.strings[snapshot.nodes[i + nameAt]];
    const key = type === 'object' ? name : type === 'closure' ? `closure ${name}` : `(${type})`;
    const entry = totals.get(key) ?? { count: 0, size: 0 };
    entry.count++;
    entry.size += snapshot.nodes[i + sizeAt];
    totals.set(key, entry);
  }
  return totals;
}

async function runServer() {
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  let open = 0;
  if (lib === 'ours') {
    const { WebSocketServer } = await import(OURS);
    const wss = new WebSocketServer({ httpServer: server, autoAcceptConnections: true });
    wss.on('connect', (ws) => {
      open++;
      // The idiomatic echo is a pipe; ECHO=listener measures a listener echo, as ws's below.
      if (process.env.ECHO === 'listener') ws.on('data', (message) => ws.write(message));
      else ws.pipe(ws);
    });
  } else {
    const { WebSocketServer } = await import('ws');
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws) => {
      open++;
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
  }
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const snapshot = () => {
    for (let i = 0; i < 3; i++) globalThis.gc();
    return v8.writeHeapSnapshot(
      join(tmpdir(), `heap-per-connection-${process.pid}-${Date.now()}.heapsnapshot`),
    );
  };
  const before = snapshot();
  const child = fork(fileURLToPath(import.meta.url), [
    lib,
    String(count),
    'client',
    String(server.address().port),
  ]);
  const deadline = Date.now() + DEADLINE_MS;
  await new Promise((resolve) => child.once('message', resolve));
  while (open < count) {
    if (Date.now() > deadline)
      throw new Error(`${open} of ${count} connections after ${DEADLINE_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const after = snapshot();
  child.send('exit');
  const a = byConstructor(before);
  const b = byConstructor(after);
  rmSync(before);
  rmSync(after);
  const rows = [];
  for (const [key, { count: n, size }] of b) {
    const old = a.get(key) ?? { count: 0, size: 0 };
    const grown = (size - old.size) / count;
    if (grown >= 16) rows.push({ key, objects: (n - old.count) / count, bytes: grown });
  }
  rows.sort((x, y) => y.bytes - x.bytes);
  const total = rows.reduce((sum, r) => sum + r.bytes, 0);
  console.log(
    `${lib}: ${(total / 1024).toFixed(2)} KiB of JS heap per idle server connection (${count} connections; rows of 16 B or more)`,
  );
  for (const r of rows) {
    console.log(
      `${r.bytes.toFixed(0).padStart(7)} B ${r.objects.toFixed(2).padStart(7)} objects  ${r.key}`,
    );
  }
  process.exit(0);
}

if (process.argv[4] === 'client') await runClients(Number(process.argv[5]));
else await runServer();
