/**
 * The sans-I/O closing handshake, tested as python-websockets tests its protocol: events go
 * in (the application closes, the peer's Close arrives, the transport ends, the timer fires,
 * the connection fails), and each test checks the decision that comes out and where the
 * handshake then stands. Every path runs for both roles where the role matters.
 *
 * @see RFC 6455 §7
 */
import { describe, expect, it } from 'vitest';
import { CloseCode } from '../../lib/protocol/close-codes.js';
import {
  type CloseDecision,
  CloseHandshake,
  type ReplyConditions,
} from '../../lib/protocol/close-handshake.js';
import type { Role } from '../../lib/protocol/frame.js';

const NOW: ReplyConditions = { outboundBusy: false, deferUntilEnd: false };
const BUSY: ReplyConditions = { outboundBusy: true, deferUntilEnd: false };
const DEFER: ReplyConditions = { outboundBusy: false, deferUntilEnd: true };
const ROLES: Role[] = ['server', 'client'];

/** The decision once both Close frames are exchanged: the server ends TCP, the client waits. */
function afterBoth(role: Role, sendClose?: { code: number | undefined; reason: string }) {
  return { sendClose, endTransport: role === 'server', startTimer: true };
}

/** What a handshake reports, for one compact assertion. */
function where(handshake: CloseHandshake) {
  return {
    state: handshake.state,
    closing: handshake.closing,
    replyDeferred: handshake.replyDeferred,
    wasClean: handshake.wasClean,
    sent: handshake.sent,
    received: handshake.received,
  };
}

describe('CloseHandshake: a fresh handshake', () => {
  it('is open, not closing, nothing sent or received', () => {
    const handshake = new CloseHandshake('server');
    expect(where(handshake)).toEqual({
      state: 'open',
      closing: false,
      replyDeferred: false,
      wasClean: false,
      sent: undefined,
      received: undefined,
    });
  });
});

describe.each(ROLES)('CloseHandshake (%s): local close first', (role) => {
  it('sends Close 1000 and starts the timer; the peer answers; the server ends TCP first', () => {
    const handshake = new CloseHandshake(role);
    expect(handshake.localClose()).toEqual({
      sendClose: { code: 1000, reason: '' },
      startTimer: true,
    });
    expect(where(handshake)).toEqual({
      state: 'closing',
      closing: true,
      replyDeferred: false,
      wasClean: false,
      sent: { code: 1000, reason: '' },
      received: undefined,
    });
    expect(handshake.closeReceived(1000, '', NOW)).toEqual(afterBoth(role));
    expect(handshake.wasClean).toBe(true);
    expect(handshake.received).toEqual({ code: 1000, reason: '' });
    expect(handshake.transportClosed()).toBe(1000);
    expect(handshake.state).toBe('closed');
  });

  it('sends the code and reason of close(code, reason): the first intent counts', () => {
    const handshake = new CloseHandshake(role);
    handshake.intend(4000, 'bye');
    handshake.intend(4001, 'later');
    expect(handshake.localClose()).toEqual({
      sendClose: { code: 4000, reason: 'bye' },
      startTimer: true,
    });
    // The peer echoes another code: it is what we report.
    expect(handshake.closeReceived(4002, 'echo', NOW)).toEqual(afterBoth(role));
    expect(handshake.transportClosed()).toBe(4002);
  });

  it('sends nothing more when the application closes again', () => {
    const handshake = new CloseHandshake(role);
    handshake.localClose();
    expect(handshake.localClose().sendClose).toBeUndefined();
  });

  it('the peer never answers: the timer drops the transport; 1006 is reported', () => {
    const handshake = new CloseHandshake(role);
    handshake.localClose();
    expect(handshake.timeout()).toEqual({ destroyTransport: true });
    expect(handshake.transportClosed()).toBe(CloseCode.AbnormalClosure);
    expect(handshake.wasClean).toBe(false);
  });
});

describe.each(ROLES)('CloseHandshake (%s): remote close first', (role) => {
  it('answers at once echoing the code without the reason; the server ends TCP first', () => {
    const handshake = new CloseHandshake(role);
    expect(handshake.closeReceived(4001, 'server bye', NOW)).toEqual(
      afterBoth(role, { code: 4001, reason: '' }),
    );
    expect(where(handshake)).toEqual({
      state: 'closing',
      closing: true,
      replyDeferred: false,
      wasClean: true,
      sent: { code: 4001, reason: '' },
      received: { code: 4001, reason: 'server bye' },
    });
    // The application's end() afterwards sends nothing more.
    expect(handshake.localClose().sendClose).toBeUndefined();
    expect(handshake.transportClosed()).toBe(4001);
  });

  it('answers a Close without a code (reported as 1005) with a Close without a code', () => {
    const handshake = new CloseHandshake(role);
    expect(handshake.closeReceived(CloseCode.NoStatusReceived, '', NOW)).toEqual(
      afterBoth(role, { code: undefined, reason: '' }),
    );
    expect(handshake.sent).toEqual({ code: undefined, reason: '' });
    expect(handshake.transportClosed()).toBe(CloseCode.NoStatusReceived);
  });

  it('ignores a second Close from the peer', () => {
    const handshake = new CloseHandshake(role);
    handshake.closeReceived(1000, '', NOW);
    expect(handshake.closeReceived(1001, '', NOW)).toEqual({});
    expect(handshake.received).toEqual({ code: 1000, reason: '' });
  });

  it('a client waiting for the server to close TCP drops it when the timer fires', () => {
    const handshake = new CloseHandshake(role);
    handshake.closeReceived(1000, '', NOW);
    expect(handshake.timeout()).toEqual({ destroyTransport: true });
    // Both Close frames went: clean, whoever closed TCP.
    expect(handshake.transportClosed()).toBe(1000);
    expect(handshake.wasClean).toBe(true);
  });
});

describe.each(ROLES)('CloseHandshake (%s): simultaneous close', (role) => {
  it('both send Close; the crossing Close is not answered again', () => {
    const handshake = new CloseHandshake(role);
    expect(handshake.localClose().sendClose).toEqual({ code: 1000, reason: '' });
    expect(handshake.closeReceived(1000, '', NOW)).toEqual(afterBoth(role));
    expect(handshake.wasClean).toBe(true);
    expect(handshake.sent).toEqual({ code: 1000, reason: '' });
  });

  it('the peer closes while our Close is deferred behind busy output, then we close', () => {
    const handshake = new CloseHandshake(role);
    handshake.intend(4000, 'mine');
    expect(handshake.closeReceived(4005, '', BUSY)).toEqual({ startTimer: true });
    // end() while the reply waits: the reply goes (echoing the peer), not our intent.
    expect(handshake.localClose()).toEqual({
      clearTimer: true,
      ...afterBoth(role, { code: 4005, reason: '' }),
    });
    expect(handshake.sent).toEqual({ code: 4005, reason: '' });
  });
});

describe.each(ROLES)('CloseHandshake (%s): a deferred reply', (role) => {
  for (const [why, conditions] of [
    ['messages written before the Close are still going out', BUSY],
    ['deferCloseReply waits for end()', DEFER],
  ] as const) {
    it(`${why}: the timer starts, data may still be written, replyNow() answers`, () => {
      const handshake = new CloseHandshake(role);
      expect(handshake.closeReceived(4003, 'x', conditions)).toEqual({ startTimer: true });
      expect(where(handshake)).toEqual({
        state: 'closing',
        closing: false,
        replyDeferred: true,
        wasClean: false,
        sent: undefined,
        received: { code: 4003, reason: 'x' },
      });
      expect(handshake.replyNow()).toEqual({
        clearTimer: true,
        ...afterBoth(role, { code: 4003, reason: '' }),
      });
      expect(handshake.replyDeferred).toBe(false);
      expect(handshake.closing).toBe(true);
      expect(handshake.wasClean).toBe(true);
      // Once only.
      expect(handshake.replyNow()).toEqual({});
    });

    it(`${why}: the timer fires first, and the reply goes then`, () => {
      const handshake = new CloseHandshake(role);
      handshake.closeReceived(CloseCode.NoStatusReceived, '', conditions);
      expect(handshake.timeout()).toEqual(afterBoth(role, { code: undefined, reason: '' }));
      expect(handshake.replyDeferred).toBe(false);
      // The next firing (the wait for TCP) drops the transport.
      expect(handshake.timeout()).toEqual({ destroyTransport: true });
    });
  }

  it('replyNow() without a deferred reply does nothing', () => {
    const handshake = new CloseHandshake(role);
    expect(handshake.replyNow()).toEqual({});
    handshake.closeReceived(1000, '', NOW);
    expect(handshake.replyNow()).toEqual({});
  });

  it('the transport closing while the reply waits: nothing is sent, the peer code is reported', () => {
    const handshake = new CloseHandshake(role);
    handshake.closeReceived(1001, 'going away', BUSY);
    expect(handshake.transportClosed()).toBe(1001);
    expect(handshake.replyDeferred).toBe(false);
    expect(handshake.replyNow()).toEqual({});
    expect(handshake.wasClean).toBe(false);
  });
});

describe('CloseHandshake: the timer in each state', () => {
  const cases: Array<{
    name: string;
    role: Role;
    setup: (h: CloseHandshake) => void;
    decision: CloseDecision;
  }> = [
    // Nothing waits while open (the timer is never started): a stray firing would drop.
    {
      name: 'open (no wait running)',
      role: 'server',
      setup: () => {},
      decision: { destroyTransport: true },
    },
    {
      name: 'our Close sent, waiting for the peer',
      role: 'client',
      setup: (h) => h.localClose(),
      decision: { destroyTransport: true },
    },
    {
      name: 'reply deferred',
      role: 'server',
      setup: (h) => h.closeReceived(1000, '', BUSY),
      decision: afterBoth('server', { code: 1000, reason: '' }),
    },
    {
      name: 'both Close frames exchanged, the client waiting for TCP',
      role: 'client',
      setup: (h) => {
        h.localClose();
        h.closeReceived(1000, '', NOW);
      },
      decision: { destroyTransport: true },
    },
    {
      name: 'failed, waiting for the peer',
      role: 'server',
      setup: (h) => h.fail(1002, 'bad'),
      decision: { destroyTransport: true },
    },
    {
      name: 'closed',
      role: 'client',
      setup: (h) => {
        h.localClose();
        h.transportClosed();
      },
      decision: {},
    },
  ];
  for (const c of cases) {
    it(`${c.name}: ${JSON.stringify(c.decision)}`, () => {
      const handshake = new CloseHandshake(c.role);
      c.setup(handshake);
      expect(handshake.timeout()).toEqual(c.decision);
    });
  }
});

describe('CloseHandshake: the transport ended by the peer before the handshake completed', () => {
  it('client, open: drops its side', () => {
    expect(new CloseHandshake('client').transportEnded()).toEqual({ destroyTransport: true });
  });

  it('server, open: ends its own side (TCP FIN), without a Close', () => {
    const handshake = new CloseHandshake('server');
    expect(handshake.transportEnded()).toEqual({ endTransport: true });
    expect(handshake.sent).toBeUndefined();
  });

  it.each(ROLES)('%s, after its own Close: drops the transport', (role) => {
    const handshake = new CloseHandshake(role);
    handshake.localClose();
    expect(handshake.transportEnded()).toEqual({ destroyTransport: true });
  });

  it.each(ROLES)('%s, after answering the peer: drops the transport', (role) => {
    const handshake = new CloseHandshake(role);
    handshake.closeReceived(1000, '', NOW);
    expect(handshake.transportEnded()).toEqual({ destroyTransport: true });
  });

  it('server, reply deferred: ends its side (the reply never went)', () => {
    const handshake = new CloseHandshake('server');
    handshake.closeReceived(1000, '', DEFER);
    expect(handshake.transportEnded()).toEqual({ endTransport: true });
  });

  it.each(ROLES)('%s, closed: nothing', (role) => {
    const handshake = new CloseHandshake(role);
    handshake.transportClosed();
    expect(handshake.transportEnded()).toEqual({});
  });
});

describe.each(ROLES)('CloseHandshake (%s): failing the connection', (role) => {
  it('with 1006: no Close is sent; the server ends TCP; the timer bounds the wait', () => {
    const handshake = new CloseHandshake(role);
    expect(handshake.fail(CloseCode.AbnormalClosure, '')).toEqual({
      sendClose: undefined,
      endTransport: role === 'server',
      startTimer: true,
    });
    expect(handshake.sent).toBeUndefined();
    expect(handshake.closing).toBe(false);
    expect(handshake.transportClosed()).toBe(CloseCode.AbnormalClosure);
  });

  it('with a code: a Close with that code and reason', () => {
    const handshake = new CloseHandshake(role);
    expect(handshake.fail(1002, 'Continuation frame without a message')).toEqual({
      sendClose: { code: 1002, reason: 'Continuation frame without a message' },
      endTransport: role === 'server',
      startTimer: true,
    });
    expect(handshake.sent).toEqual({ code: 1002, reason: 'Continuation frame without a message' });
    expect(handshake.state).toBe('closing');
    expect(handshake.closing).toBe(true);
  });

  it("after the peer's Close (reply deferred): the reply goes, echoing the peer, not the failure", () => {
    const handshake = new CloseHandshake(role);
    handshake.closeReceived(4000, 'x', BUSY);
    expect(handshake.fail(1011, '')).toEqual({
      sendClose: { code: 4000, reason: '' },
      endTransport: role === 'server',
      startTimer: true,
    });
    expect(handshake.replyDeferred).toBe(false);
    expect(handshake.wasClean).toBe(true);
  });

  it("after a peer's Close without a code: the reply has no code either", () => {
    const handshake = new CloseHandshake(role);
    handshake.closeReceived(CloseCode.NoStatusReceived, '', DEFER);
    expect(handshake.fail(1002, 'x').sendClose).toEqual({ code: undefined, reason: '' });
  });

  it('after our own Close: nothing more is sent', () => {
    const handshake = new CloseHandshake(role);
    handshake.localClose();
    expect(handshake.fail(1002, 'x')).toEqual({
      sendClose: undefined,
      endTransport: role === 'server',
      startTimer: true,
    });
    expect(handshake.sent).toEqual({ code: 1000, reason: '' });
  });

  it('once closed: nothing', () => {
    const handshake = new CloseHandshake(role);
    handshake.transportClosed();
    expect(handshake.fail(1002, 'x')).toEqual({});
  });
});

describe.each(ROLES)('CloseHandshake (%s): once the transport is closed', (role) => {
  it('reports 1006 without a handshake, and every event decides nothing', () => {
    const handshake = new CloseHandshake(role);
    expect(handshake.transportClosed()).toBe(CloseCode.AbnormalClosure);
    expect(handshake.state).toBe('closed');
    expect(handshake.closing).toBe(true);
    expect(handshake.localClose()).toEqual({});
    expect(handshake.closeReceived(1000, '', NOW)).toEqual({});
    expect(handshake.timeout()).toEqual({});
    expect(handshake.transportEnded()).toEqual({});
    expect(handshake.fail(1002, '')).toEqual({});
    expect(handshake.replyNow()).toEqual({});
    expect(handshake.received).toBeUndefined();
  });
});
