import { describe, expect, it } from 'vitest';
import { duration, parseCommandArgs } from '../../lib/cli/args.js';
import { CONNECT_SPEC } from '../../lib/cli/connect.js';
import { UsageError } from '../../lib/cli/errors.js';
import { parseHeaders, parseListenAddress } from '../../lib/cli/options.js';
import { fileNameFrom } from '../../lib/cli/receive-file.js';
import { exitFor } from '../../lib/cli/session.js';

describe('CLI argument helpers (in process)', () => {
  it('reads durations as seconds by default, or with ms, s, m, h; inf and never where allowed', () => {
    const at = (value: string): number | undefined => duration({ d: value }, 'd');
    expect(at('10')).toBe(10_000);
    expect(at('2.5')).toBe(2_500);
    expect(at('500ms')).toBe(500);
    expect(at('3s')).toBe(3_000);
    expect(at('1m')).toBe(60_000);
    expect(at('1h')).toBe(3_600_000);
    expect(duration({ d: '0' }, 'd', { zero: true })).toBe(0);
    for (const forever of ['inf', 'never', 'Infinity']) {
      expect(duration({ d: forever }, 'd', { forever: true })).toBe(Number.POSITIVE_INFINITY);
    }
    for (const bad of ['0', '-1', 'soon', '2d', '', 'inf', '1000h']) {
      expect(() => at(bad), bad).toThrow(UsageError);
    }
  });

  it('collects repeated -s and -H in order', () => {
    const { values, positionals } = parseCommandArgs(CONNECT_SPEC, [
      '-s',
      'a',
      'ws://x/',
      '--subprotocol',
      'b',
      '-H',
      'X-One: 1',
      '-H',
      'X-One: 2',
    ]);
    expect(values.subprotocol).toEqual(['a', 'b']);
    expect(positionals).toEqual(['ws://x/']);
    expect(parseHeaders(values.header as string[])).toEqual({ 'X-One': ['1', '2'] });
    expect(() => parseHeaders(['no colon'])).toThrow(UsageError);
    expect(() => parseHeaders(['Bad Name: x'])).toThrow(UsageError);
  });

  it('parses PORT and HOST:PORT, defaulting to loopback', () => {
    expect(parseListenAddress('8080', undefined)).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListenAddress('8080', '0.0.0.0')).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(parseListenAddress('localhost:0', undefined)).toEqual({ host: 'localhost', port: 0 });
    expect(parseListenAddress('[::1]:9000', undefined)).toEqual({ host: '::1', port: 9000 });
    for (const bad of ['http', '70000', '-1', 'a:b']) {
      expect(() => parseListenAddress(bad, undefined)).toThrow(UsageError);
    }
  });

  it('keeps a received file inside DIR whatever name the sender gives', () => {
    expect(fileNameFrom('report.pdf')).toBe('report.pdf');
    expect(fileNameFrom(encodeURIComponent('résumé 2024.txt'))).toBe('résumé 2024.txt');
    expect(fileNameFrom('../../etc/passwd')).toBe('passwd');
    expect(fileNameFrom(encodeURIComponent('..\\..\\boot.ini'))).toBe('boot.ini');
    expect(fileNameFrom('..')).toBe('upload.bin');
    expect(fileNameFrom('.bashrc')).toBe('bashrc');
    expect(fileNameFrom('a\u0000b\nc')).toBe('abc');
    expect(fileNameFrom('%E0%A4%A')).toBe('%E0%A4%A');
    expect(fileNameFrom(undefined)).toBe('upload.bin');
  });

  it('maps how a connection ended to an exit status', () => {
    const base = {
      local: false,
      clean: true,
      code: 1000,
      reason: '',
      lostReason: undefined,
      error: undefined,
    };
    expect(exitFor(base)).toBeUndefined();
    expect(exitFor({ ...base, code: 1001 })).toBeUndefined();
    expect(exitFor({ ...base, code: 1005 })).toBeUndefined();
    expect(exitFor({ ...base, code: 4000, local: true })).toBeUndefined();
    expect(exitFor({ ...base, code: 1008, reason: 'no' })?.exitCode).toBe(1);
    expect(exitFor({ ...base, clean: false, code: 1006 })?.exitCode).toBe(5);
    expect(exitFor({ ...base, lostReason: 'no pong within 1 s' })?.message).toBe(
      'connection lost: no pong within 1 s',
    );
  });
});
