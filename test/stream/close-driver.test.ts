/**
 * CloseDriver: the I/O half of the closing handshake. It carries out CloseHandshake's
 * decisions (send the Close, end or destroy the transport, run the one close timer) in the
 * documented order, and the timer's firing is the handshake's `timeout()`. Fake timers.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CloseHandshake, type ReplyConditions } from '../../lib/protocol/close-handshake.js';
import type { Role } from '../../lib/protocol/frame.js';
import { Opcode } from '../../lib/protocol/opcodes.js';
import { CloseDriver, type CloseEffects } from '../../lib/stream/close-driver.js';
import { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { duplexPair } from '../helpers/duplex-pair.js';
import { closePayload, RawPeer } from '../helpers/raw-peer.js';
import { eventWithin } from '../helpers/stream-events.js';

const CLOSE_TIMEOUT = 5_000;
const NOW: ReplyConditions = { outboundBusy: false, deferUntilEnd: false };
const BUSY: ReplyConditions = { outboundBusy: true, deferUntilEnd: false };

/** A driver over a fake transport, recording every effect in order. */
function driver(role: Role) {
  const log: string[] = [];
  const effects: CloseEffects = {
    transport: {
      end: () => log.push('end'),
      destroy: () => log.push('destroy'),
    } as unknown as CloseEffects['transport'],
    sendClose: (code, reason) => log.push(`close ${code ?? 'none'} ${JSON.stringify(reason)}`),
    flush: () => log.push('flush'),
  };
  const handshake = new CloseHandshake(role);
  return { log, handshake, driver: new CloseDriver(handshake, effects, CLOSE_TIMEOUT) };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('CloseDriver.apply', () => {
  it('carries out a decision in its order: Close, flush and end, destroy, clear, start', () => {
    const { log, driver: d } = driver('server');
    d.apply({
      sendClose: { code: 1000, reason: 'bye' },
      endTransport: true,
      destroyTransport: true,
      clearTimer: true,
      startTimer: true,
    });
    expect(log).toEqual(['close 1000 "bye"', 'flush', 'end', 'destroy']);
    expect(vi.getTimerCount()).toBe(1);
  });

  it('sends a Close without a code as such', () => {
    const { log, driver: d } = driver('client');
    d.apply({ sendClose: { code: undefined, reason: '' } });
    expect(log).toEqual(['close none ""']);
  });

  it('does nothing for an empty decision', () => {
    const { log, driver: d } = driver('client');
    d.apply({});
    expect(log).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('runs one timer: a second start while it runs does not add one; clear stops it', () => {
    const { driver: d } = driver('client');
    d.apply({ startTimer: true });
    d.apply({ startTimer: true });
    expect(vi.getTimerCount()).toBe(1);
    d.apply({ clearTimer: true });
    expect(vi.getTimerCount()).toBe(0);
    d.apply({ clearTimer: true, startTimer: true }); // a fresh wait
    expect(vi.getTimerCount()).toBe(1);
  });
});

describe('CloseDriver: the timer is the handshake timeout', () => {
  it('local close, the peer never answers: the transport is dropped after closeTimeout', () => {
    const { log, handshake, driver: d } = driver('client');
    d.apply(handshake.localClose());
    expect(log).toEqual(['close 1000 ""']);
    vi.advanceTimersByTime(CLOSE_TIMEOUT - 1);
    expect(log).toEqual(['close 1000 ""']);
    vi.advanceTimersByTime(1);
    expect(log).toEqual(['close 1000 ""', 'destroy']);
  });

  it('the peer answers in time: one wait, bounded from our Close (not restarted)', () => {
    const { log, handshake, driver: d } = driver('client');
    d.apply(handshake.localClose());
    vi.advanceTimersByTime(3_000);
    d.apply(handshake.closeReceived(1000, '', NOW));
    // The client waits for the server to close TCP, at most until the first timer fires.
    vi.advanceTimersByTime(CLOSE_TIMEOUT - 3_000);
    expect(log).toEqual(['close 1000 ""', 'destroy']);
  });

  it('the server ends TCP first once both Close frames are exchanged', () => {
    const { log, handshake, driver: d } = driver('server');
    d.apply(handshake.closeReceived(1001, 'x', NOW));
    expect(log).toEqual(['close 1001 ""', 'flush', 'end']);
    vi.advanceTimersByTime(CLOSE_TIMEOUT);
    expect(log).toEqual(['close 1001 ""', 'flush', 'end', 'destroy']);
  });

  it('a deferred reply answered by replyNow() starts a fresh wait', () => {
    const { log, handshake, driver: d } = driver('client');
    d.apply(handshake.closeReceived(1000, '', BUSY));
    vi.advanceTimersByTime(4_000);
    d.apply(handshake.replyNow());
    expect(log).toEqual(['close 1000 ""']);
    vi.advanceTimersByTime(CLOSE_TIMEOUT - 1);
    expect(log).toEqual(['close 1000 ""']);
    vi.advanceTimersByTime(1);
    expect(log).toEqual(['close 1000 ""', 'destroy']);
  });

  it.each(['client', 'server'] as const)(
    '%s: a deferred reply sent when the timer fires is followed by a bounded wait for TCP',
    (role) => {
      const { log, handshake, driver: d } = driver(role);
      d.apply(handshake.closeReceived(4000, '', BUSY));
      expect(log).toEqual([]);
      vi.advanceTimersByTime(CLOSE_TIMEOUT);
      expect(log[0]).toBe('close 4000 ""');
      // Both Close frames are out: the wait for the transport to close is bounded too.
      vi.advanceTimersByTime(CLOSE_TIMEOUT);
      expect(log.at(-1)).toBe('destroy');
      expect(vi.getTimerCount()).toBe(0);
    },
  );

  it('a failure: Close with the code, the server ends TCP, and the wait is bounded', () => {
    const { log, handshake, driver: d } = driver('server');
    d.apply(handshake.fail(1002, 'bad frame'));
    expect(log).toEqual(['close 1002 "bad frame"', 'flush', 'end']);
    vi.advanceTimersByTime(CLOSE_TIMEOUT);
    expect(log.at(-1)).toBe('destroy');
  });
});

describe('CloseDriver.stop', () => {
  it('clears the timer; afterwards no Close is sent and no timer started', () => {
    const { log, handshake, driver: d } = driver('client');
    d.apply(handshake.localClose());
    d.stop();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(CLOSE_TIMEOUT * 2);
    d.apply({ sendClose: { code: 1000, reason: '' }, startTimer: true });
    expect(log).toEqual(['close 1000 ""']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('still ends or destroys the transport when told (the transport may linger)', () => {
    const { log, driver: d } = driver('server');
    d.stop();
    d.apply({ endTransport: true, destroyTransport: true });
    expect(log).toEqual(['flush', 'end', 'destroy']);
  });
});

describe('CloseDriver: the timer does not keep the process alive', () => {
  it('is unref()ed', () => {
    vi.useRealTimers();
    const { handshake, driver: d } = driver('client');
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    d.apply(handshake.localClose());
    const after = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    d.stop();
    expect(after).toBe(before);
  });
});

describe('through a connection: a reply deferred until the timer still ends in bounded time', () => {
  it('a client with deferCloseReply whose server never closes TCP: dropped one closeTimeout after its reply', async () => {
    vi.useRealTimers();
    const [a, b] = duplexPair();
    const peer = new RawPeer(a, 'server');
    const client = new WebSocketConnection(b, {
      role: 'client',
      deferCloseReply: true,
      closeTimeout: 100,
    });
    client.resume();
    const closed = eventWithin(client, 'close', 5_000);
    peer.sendFrame(Opcode.Close, closePayload(4000, 'bye'));
    // The application never calls end(): the reply goes when the timer fires...
    expect(await peer.closeCode()).toBe(4000);
    // ...and then the client waits for the server's TCP close at most closeTimeout more.
    const [code] = await closed;
    expect(code).toBe(4000);
    expect(client.wasClean).toBe(true);
    peer.destroy();
  });
});
