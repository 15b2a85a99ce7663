import { describe, expect, it } from 'vitest';
import { connect } from '../../lib/client.js';
import { parseClientUrl } from '../../lib/handshake/client-url.js';
import { bypassesProxy, checkProxyOption, proxyFor } from '../../lib/handshake/proxy.js';
import { InvalidArgumentError } from '../../lib/protocol/errors.js';

const ws = parseClientUrl('ws://api.example.com:8080/feed');
const wss = parseClientUrl('wss://api.example.com/feed');

describe('proxyFor: which proxy a target goes through', () => {
  it('uses an explicit proxy URL for every network target, never for a Unix socket', () => {
    const route = proxyFor('http://proxy.internal:3128', ws);
    expect(route).toEqual({
      host: 'proxy.internal',
      port: 3128,
      authorization: undefined,
      display: 'http://proxy.internal:3128',
    });
    expect(proxyFor(new URL('http://[::1]:3128/'), wss)?.host).toBe('::1');
    expect(proxyFor('proxy.internal', ws)?.port).toBe(80);
    expect(proxyFor('http://p:1', parseClientUrl('ws+unix:/run/app.sock:/chat'))).toBeUndefined();
    expect(proxyFor(undefined, ws)).toBeUndefined();
    expect(proxyFor(false, ws)).toBeUndefined();
  });

  it('turns the URL credentials into Basic Proxy-Authorization, decoded, and keeps them out of display', () => {
    const route = proxyFor('http://al%40ice:p%3Ass@proxy:3128', ws);
    expect(route?.authorization).toBe(`Basic ${Buffer.from('al@ice:p:ss').toString('base64')}`);
    expect(route?.display).toBe('http://proxy:3128');
  });

  it("reads the environment only for 'env': HTTP_PROXY for ws:, HTTPS_PROXY (else HTTP_PROXY) for wss:", () => {
    const env = { HTTP_PROXY: 'http://plain:1', HTTPS_PROXY: 'http://secure:2' };
    expect(proxyFor('env', ws, env)?.host).toBe('plain');
    expect(proxyFor('env', wss, env)?.host).toBe('secure');
    expect(proxyFor('env', wss, { HTTP_PROXY: 'http://plain:1' })?.host).toBe('plain');
    expect(proxyFor('env', ws, { HTTPS_PROXY: 'http://secure:2' })).toBeUndefined();
    expect(proxyFor('env', ws, {})).toBeUndefined();
    expect(proxyFor('env', ws, { HTTP_PROXY: '  ' })).toBeUndefined();
    // Lower-case names first, as curl and undici read them.
    expect(
      proxyFor('env', ws, { http_proxy: 'http://lower:1', HTTP_PROXY: 'http://upper:1' })?.host,
    ).toBe('lower');
  });

  it('lets NO_PROXY exempt hosts, domains and ports (undici rules), and * everything', () => {
    const env = { HTTP_PROXY: 'http://p:1', HTTPS_PROXY: 'http://p:1' };
    expect(proxyFor('env', ws, { ...env, NO_PROXY: 'example.com' })).toBeUndefined();
    expect(proxyFor('env', ws, { ...env, no_proxy: '*' })).toBeUndefined();
    expect(proxyFor('env', ws, { ...env, NO_PROXY: 'other.com' })?.host).toBe('p');
    expect(proxyFor('env', ws, { ...env, NO_PROXY: 'api.example.com:9999' })?.host).toBe('p');
    expect(proxyFor('env', ws, { ...env, NO_PROXY: 'api.example.com:8080' })).toBeUndefined();
    expect(proxyFor('env', wss, { ...env, NO_PROXY: 'api.example.com:443' })).toBeUndefined();
  });

  it.each([
    ['localhost', 'localhost', 80, true],
    ['localhost', 'notlocalhost', 80, false],
    ['.example.com', 'a.example.com', 80, true],
    ['*.example.com', 'a.b.example.com', 80, true],
    ['example.com', 'a.example.com', 80, true],
    ['example.com', 'badexample.com', 80, false],
    ['EXAMPLE.com', 'example.COM', 80, true],
    ['a.com, b.com', 'b.com', 80, true],
    ['a.com b.com', 'b.com', 80, true],
    ['127.0.0.1:8080', '127.0.0.1', 8080, true],
    ['127.0.0.1:8080', '127.0.0.1', 8081, false],
    ['[::1]:8080', '::1', 8080, true],
    ['::1', '::1', 443, true],
    ['', 'example.com', 80, false],
  ])('NO_PROXY=%j exempts %s:%i: %s', (noProxy, host, port, expected) => {
    expect(bypassesProxy(noProxy, host, port)).toBe(expected);
  });

  it('refuses proxy URLs it cannot use, with the credentials kept out of the message', () => {
    for (const bad of [
      'http://',
      'socks5://u:secret@p:1080',
      'https://u:secret@p:443',
      'http://u:secret@[nope',
    ]) {
      let err: unknown;
      try {
        checkProxyOption(bad);
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(InvalidArgumentError);
      expect((err as Error).message).not.toContain('secret');
    }
    expect(() => proxyFor('env', ws, { HTTP_PROXY: 'ftp://p:21' })).toThrow(
      /HTTP_PROXY: only http:/,
    );
    expect(() => checkProxyOption(42)).toThrow(InvalidArgumentError);
    expect(() => checkProxyOption('env')).not.toThrow();
    expect(() => checkProxyOption(false)).not.toThrow();
  });
});

describe('connect() with proxy', () => {
  it('refuses a bad proxy, and proxy with agent, before any I/O', async () => {
    await expect(connect('ws://127.0.0.1:1/', { proxy: 'socks5://p:1' })).rejects.toThrow(
      InvalidArgumentError,
    );
    await expect(
      connect('ws://127.0.0.1:1/', {
        proxy: 'http://p:1',
        agent: new (await import('node:http')).Agent(),
      }),
    ).rejects.toThrow(/either agent or proxy/);
  });

  it('applies the handshake timeout to the tunnel too', async () => {
    const net = await import('node:net');
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as import('node:net').AddressInfo;
    try {
      const err = await connect('ws://example.invalid/', {
        proxy: `http://127.0.0.1:${port}`,
        handshakeTimeout: 200,
      }).catch((e: unknown) => e);
      expect((err as { code?: string }).code).toBe('ERR_WS_HANDSHAKE_TIMEOUT');
    } finally {
      silent.close();
    }
  });
});
