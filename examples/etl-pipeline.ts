/**
 * An ETL job as one `stream.pipeline`: extract JSON records from a WebSocket (one text
 * message per record), transform them through object-mode Transforms (parse, validate
 * and convert, format as CSV), and load them into a file. Backpressure runs end to end:
 * when the disk is slow the Transforms stop, the connection stops reading its socket, and
 * the source's writes wait. An error anywhere (a broken connection, a full disk) rejects
 * the pipeline and tears every stage down.
 *
 * Run: node --import tsx examples/etl-pipeline.ts [ws://source/] [--out=readings.csv]
 *        [--records=1000]
 * Without a URL it starts its own source: a WebSocket server on a free loopback port that
 * sends --records sensor readings (every 97th one faulty) and closes.
 */
import { createWriteStream } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { connect } from '../lib/client.js';
import { WebSocketServer } from '../lib/server.js';
import type { WebSocketConnection } from '../lib/stream/websocket-connection.js';

/** A reading as the source sends it. */
interface Reading {
  id: number;
  sensor: string;
  celsius: number | null;
  at: string;
}

/** A reading that passed validation, with the converted value. */
interface Row extends Reading {
  celsius: number;
  fahrenheit: number;
}

const { values, positionals } = parseArgs({
  options: {
    out: { type: 'string', default: 'readings.csv' },
    records: { type: 'string', default: '1000' },
  },
  allowPositionals: true,
});

const counts = { received: 0, malformed: 0, faulty: 0, written: 0 };

/** Extract: text messages to objects; a message that is not JSON is counted and dropped. */
const parse = new Transform({
  objectMode: true,
  transform(message: unknown, _encoding, callback: TransformCallback) {
    counts.received++;
    if (typeof message !== 'string') {
      counts.malformed++;
      callback();
      return;
    }
    try {
      callback(null, JSON.parse(message) as Reading);
    } catch {
      counts.malformed++;
      callback();
    }
  },
});

/** Transform: drop faulty readings, add Fahrenheit. */
const convert = new Transform({
  objectMode: true,
  transform(reading: Reading, _encoding, callback: TransformCallback) {
    if (typeof reading.celsius !== 'number' || !Number.isFinite(reading.celsius)) {
      counts.faulty++;
      callback();
      return;
    }
    const row: Row = {
      ...reading,
      celsius: reading.celsius,
      fahrenheit: reading.celsius * 1.8 + 32,
    };
    callback(null, row);
  },
});

/** Load: one CSV line per reading, after a header. */
let headerWritten = false;
const toCsv = new Transform({
  writableObjectMode: true,
  transform(row: Row, _encoding, callback: TransformCallback) {
    const header = headerWritten ? '' : 'id,sensor,celsius,fahrenheit,at\n';
    headerWritten = true;
    counts.written++;
    const sensor = row.sensor.replace(/[",\n]/g, '_');
    callback(
      null,
      `${header}${row.id},${sensor},${row.celsius.toFixed(2)},${row.fahrenheit.toFixed(2)},${row.at}\n`,
    );
  },
});

/** Starts a source that sends `records` readings, then closes; resolves with its URL. */
async function startSource(records: number): Promise<{ url: string; stop: () => void }> {
  const server = http.createServer((_request, response) => response.writeHead(404).end());
  const wss = new WebSocketServer({ httpServer: server, autoAcceptConnections: true });
  wss.on('connect', async (connection: WebSocketConnection) => {
    for (let id = 1; id <= records; id++) {
      const reading: Reading = {
        id,
        sensor: `sensor-${id % 7}`,
        celsius: id % 97 === 0 ? null : Math.round((15 + 10 * Math.sin(id / 50)) * 100) / 100,
        at: new Date(Date.UTC(2024, 0, 1, 0, 0, id)).toISOString(),
      };
      // write() returns false when the consumer is behind: wait, as a stream producer must.
      if (!connection.write(JSON.stringify(reading))) {
        await new Promise((resolve) => connection.once('drain', resolve));
      }
    }
    connection.end();
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/`,
    stop: () => {
      wss.shutDown().then(() => server.close());
    },
  };
}

const source = positionals[0] === undefined ? await startSource(Number(values.records)) : undefined;
const url = positionals[0] ?? source!.url;
const started = Date.now();
try {
  const ws = await connect(url);
  await pipeline(ws, parse, convert, toCsv, createWriteStream(values.out));
  console.log(
    `${counts.received} messages from ${url}: ${counts.written} rows written to ${values.out}, ` +
      `${counts.faulty} faulty and ${counts.malformed} malformed dropped, in ${Date.now() - started} ms`,
  );
} catch (err) {
  console.error(`ETL failed: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  source?.stop();
}
