import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, WebSocketClient } from '../../lib/client.js';
import { HandshakeError } from '../../lib/protocol/errors.js';
import { type WebSocketRequest, WebSocketServer } from '../../lib/server.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { makeTestCerts, type TestCerts } from '../helpers/certs.js';
import { listen, nextMessage, Resources, within } from './upgrade-helpers.js';

const resources = new Resources();
let certs: TestCerts;
beforeAll(() => {
  certs = makeTestCerts();
});
afterAll(() => certs?.cleanup());
afterEach(() => resources.closeAll());

/** A wss echo server on https.createServer; `requests` records each WebSocketRequest. */
async function wssServer(tls: https.ServerOptions = {}) {
  const server = resources.http(
    https.createServer({ cert: certs.serverCert, key: certs.serverKey, ...tls }, (_req, res) => {
      res.writeHead(404).end();
    }),
  );
  const wss = resources.wss(new WebSocketServer({ httpServer: server }));
  const requests: WebSocketRequest[] = [];
  wss.on('request', (request: WebSocketRequest) => {
    requests.push(request);
    const ws = request.accept();
    ws.pipe(ws);
  });
  const port = await listen(server);
  return { server, wss, port, requests };
}

async function failure(promise: Promise<unknown>): Promise<HandshakeError> {
  const err = await promise.then(
    () => {
      throw new Error('expected the handshake to fail');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HandshakeError);
  return err as HandshakeError;
}

describe('wss end to end', () => {
  it('connects to 127.0.0.1 with a CA it trusts, and echoes', async () => {
    const { port, requests } = await wssServer();
    const ws = resources.ws(await connect(`wss://127.0.0.1:${port}/secure`, { ca: certs.ca }));
    ws.write('over TLS');
    expect(await nextMessage(ws)).toBe('over TLS');
    ws.write(Buffer.alloc(100_000, 7));
    expect(await nextMessage(ws)).toEqual(Buffer.alloc(100_000, 7));
    const socket = ws.transport as TLSSocket;
    expect(socket.encrypted).toBe(true);
    expect(socket.authorized).toBe(true);
    expect(requests).toHaveLength(1);
    expect(requests[0]?.resourceURL.href).toBe(`wss://127.0.0.1:${port}/secure`);
  });

  it('checks the name given as servername (localhost) against the certificate', async () => {
    const { port } = await wssServer();
    const ws = resources.ws(
      await connect(`wss://127.0.0.1:${port}/`, { ca: certs.ca, servername: 'localhost' }),
    );
    ws.write('sni');
    expect(await nextMessage(ws)).toBe('sni');
    const wrongName = await failure(
      connect(`wss://127.0.0.1:${port}/`, { ca: certs.ca, servername: 'not-in-the-cert.test' }),
    );
    expect(wrongName.status).toBe(0);
    expect((wrongName.cause as NodeJS.ErrnoException).code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('works through WebSocketClient with TLS options as defaults', async () => {
    const { port } = await wssServer();
    const client = new WebSocketClient({ ca: certs.ca });
    const connection = await within(
      new Promise<WebSocketConnection>((resolve, reject) => {
        client.once('connect', resolve);
        client.once('connectFailed', reject);
        client.connect(`wss://localhost:${port}/`);
      }),
      5_000,
      'connect',
    );
    resources.ws(connection);
    connection.write('client');
    expect(await nextMessage(connection)).toBe('client');
  });

  it('fails on a certificate from a CA it does not trust', async () => {
    const { port, requests } = await wssServer();
    const untrusted = await failure(connect(`wss://127.0.0.1:${port}/`));
    expect(untrusted.status).toBe(0);
    expect((untrusted.cause as NodeJS.ErrnoException).code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    const otherCa = await failure(connect(`wss://127.0.0.1:${port}/`, { ca: certs.otherCa }));
    expect((otherCa.cause as NodeJS.ErrnoException).code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(requests).toHaveLength(0);
  });

  it('connects with rejectUnauthorized: false (and only then) to an untrusted server', async () => {
    const { port } = await wssServer();
    const ws = resources.ws(
      await connect(`wss://127.0.0.1:${port}/`, { rejectUnauthorized: false }),
    );
    expect((ws.transport as TLSSocket).authorized).toBe(false);
  });
});

describe('client certificates', () => {
  const mutualTls = (): https.ServerOptions => ({
    ca: certs.ca,
    requestCert: true,
    rejectUnauthorized: true,
  });

  it('presents a client certificate the server verifies', async () => {
    const { port, requests } = await wssServer(mutualTls());
    const ws = resources.ws(
      await connect(`wss://localhost:${port}/`, {
        ca: certs.ca,
        cert: certs.clientCert,
        key: certs.clientKey,
      }),
    );
    ws.write('mutual');
    expect(await nextMessage(ws)).toBe('mutual');
    expect(requests).toHaveLength(1);
    const serverSocket = requests[0]!.httpRequest.socket as TLSSocket;
    expect(serverSocket.authorized).toBe(true);
    expect(serverSocket.getPeerCertificate().subject.CN).toBe('websocket-duplex test client');
  });

  it('fails without the client certificate the server requires', async () => {
    const { port, requests } = await wssServer(mutualTls());
    const err = await failure(
      connect(`wss://localhost:${port}/`, { ca: certs.ca, handshakeTimeout: 3_000 }),
    );
    expect(err.status).toBe(0);
    expect(err.cause).toBeInstanceOf(Error);
    expect(requests).toHaveLength(0);
  });
});
