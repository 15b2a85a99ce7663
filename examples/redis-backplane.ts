/**
 * A chat on every core: node:cluster workers sharing one port, joined by the Redis backplane.
 * One command starts a Redis of its own (Debian's redis-server on a free port; or set
 * REDIS_URL to use yours) and two workers; connections are spread over the workers by the
 * cluster's round robin, and every message reaches every member of its room, whichever
 * worker holds it.
 *
 *   node --import tsx examples/redis-backplane.ts            # http://127.0.0.1:8080/
 *   PORT=0 WORKERS=3 node --import tsx examples/redis-backplane.ts
 *
 * Protocol: connect to ws://127.0.0.1:PORT/ROOM; each text message you send goes to the
 * room. The server sends JSON: {type:'welcome', worker, room}, {type:'message', room, text,
 * worker}, {type:'announce', text} (a wss.broadcast() to everyone, every worker).
 * GET /rooms/ROOM answers {room, online} (presence across workers).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import cluster from 'node:cluster';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { WebSocketServer } from '../lib/index.js';
import { createBackplane } from '../lib/redis/index.js';

const HOST = '127.0.0.1';

if (cluster.isPrimary) await primary();
else await worker();

async function primary(): Promise<void> {
  const workers = Number(process.env.WORKERS ?? 2);
  let redis: ChildProcess | undefined;
  let redisUrl = process.env.REDIS_URL;
  if (redisUrl === undefined) {
    const port = await freePort();
    redis = spawn(
      'redis-server',
      ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    redis.once('error', (err) => {
      console.error(`Could not start redis-server (apt-get install redis-server): ${err.message}`);
      process.exit(1);
    });
    redisUrl = `redis://${HOST}:${port}`;
  }
  let stopping = false;
  const stop = (code: number): void => {
    if (stopping) return;
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    redis?.kill('SIGTERM');
    setTimeout(() => process.exit(code), 500).unref();
    if (redis === undefined) process.exit(code);
    else redis.once('exit', () => process.exit(code));
  };
  process.once('SIGINT', () => stop(0));
  process.once('SIGTERM', () => stop(0));
  let listening = 0;
  for (let i = 0; i < workers; i++) {
    const child = cluster.fork({ WORKER_NUMBER: String(i + 1), REDIS_URL: redisUrl });
    child.on('message', (message: { listening?: number }) => {
      if (message.listening === undefined || ++listening < workers) return;
      console.log(
        `listening on http://${HOST}:${message.listening}/ with ${workers} workers (Redis at ${redisUrl})`,
      );
    });
    child.on('exit', (code) => {
      if (!stopping) {
        console.error(`worker ${i + 1} exited (${code})`);
        stop(1);
      }
    });
  }
}

async function worker(): Promise<void> {
  const me = Number(process.env.WORKER_NUMBER);
  const backplane = createBackplane({ redis: process.env.REDIS_URL!, prefix: 'chat-example' });
  backplane.on('degraded', (err) =>
    console.log(`worker ${me}: backplane degraded: ${err.message}`),
  );
  backplane.on('restored', (r) =>
    console.log(`worker ${me}: backplane restored (${r.dropped} dropped)`),
  );
  const httpServer = http.createServer(async (req, res) => {
    const room = /^\/rooms\/([\w-]+)$/.exec(req.url ?? '')?.[1];
    if (room === undefined) return res.writeHead(404).end();
    const online = await backplane
      .topic(room)
      .size()
      .catch(() => null);
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ room, online }));
  });
  const wss = new WebSocketServer({ httpServer });
  backplane.attach(wss);
  wss.on('request', (request) => {
    const room = /^\/([\w-]+)$/.exec(request.resource)?.[1] ?? 'lobby';
    const ws = request.accept();
    const topic = backplane.topic(room);
    topic.add(ws);
    ws.write(JSON.stringify({ type: 'welcome', worker: me, room }));
    ws.on('data', (text: string | Buffer) => {
      if (typeof text !== 'string') return;
      topic.publish(JSON.stringify({ type: 'message', room, text, worker: me }));
      if (text === '/announce') {
        wss.broadcast(JSON.stringify({ type: 'announce', text: `hello from worker ${me}` }));
      }
    });
    ws.on('error', () => {});
  });
  process.once('SIGTERM', async () => {
    await backplane.close();
    process.exit(0);
  });
  await backplane.ready();
  httpServer.listen(Number(process.env.PORT ?? 8080), HOST);
  await once(httpServer, 'listening');
  process.send?.({ listening: (httpServer.address() as net.AddressInfo).port });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
