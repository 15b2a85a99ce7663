/**
 * Option names: an option the receiver does not take is refused, and a ws habit (or another
 * library's name for one of ours) gets the name to use instead, so that it fails on the
 * first run rather than being ignored.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../lib/protocol/errors.js';
import { checkOptionNames } from '../../lib/protocol/option-names.js';
import { resolveConnectionInit } from '../../lib/stream/connection-options.js';

function refusal(options: object, known: readonly string[], where = 'WebSocketServer'): string {
  try {
    checkOptionNames(options, known, where);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidArgumentError);
    return (err as Error).message;
  }
  throw new Error('expected an InvalidArgumentError');
}

const KNOWN = ['maxReceivedMessageSize', 'maxReceivedFrameSize', 'protocols', 'httpServer'];

describe('checkOptionNames', () => {
  it('takes known names, and no options at all', () => {
    expect(() => checkOptionNames({}, KNOWN, 'WebSocketServer')).not.toThrow();
    expect(() =>
      checkOptionNames({ maxReceivedMessageSize: 1, protocols: [] }, KNOWN, 'WebSocketServer'),
    ).not.toThrow();
  });

  // Every habit the module knows, with (part of) what the error must advise.
  const hints: Array<[string, string]> = [
    ['maxPayload', 'maxReceivedMessageSize'],
    ['verifyClient', "the 'request' event"],
    ['handleProtocols', 'protocols'],
    ['server', 'httpServer'],
    ['clientTracking', 'wss.clients'],
    ['skipUTF8Validation', 'text is always validated'],
    ['autoPong', 'pings are always answered'],
    ['protocolVersion', '13 is the only version'],
    ['allowSynchronousEvents', 'messages are read as a stream'],
    ['binaryType', 'binary messages are Buffers'],
    ['fragmentThreshold', 'fragmentationThreshold'],
    ['maxFrameSize', 'maxReceivedFrameSize'],
    ['maxMessageSize', 'maxReceivedMessageSize'],
    ['protocol', 'protocols'],
    ['subprotocols', 'protocols'],
    ['compression', 'perMessageDeflate'],
  ];
  for (const [name, advice] of hints) {
    it(`${name}: refused with a hint (${advice})`, () => {
      const message = refusal({ [name]: 1 }, KNOWN);
      expect(message.startsWith(`WebSocketServer has no option ${name}: use `)).toBe(true);
      expect(message).toContain(advice);
    });
  }

  it('maxPayload names both limits that replace it', () => {
    expect(refusal({ maxPayload: 1 }, KNOWN, 'connect()')).toBe(
      'connect() has no option maxPayload: use maxReceivedMessageSize (bytes of a message held whole) or maxReceivedFrameSize (one frame)',
    );
  });

  it('an unknown name without a habit: refused, quoted, without advice', () => {
    expect(refusal({ maxRecievedMessageSize: 1 }, KNOWN)).toBe(
      'WebSocketServer has no option "maxRecievedMessageSize"',
    );
  });

  it('refuses a misspelt name whatever its value, undefined included', () => {
    expect(refusal({ maxPayload: undefined }, KNOWN)).toContain('use maxReceivedMessageSize');
    expect(refusal({ colour: undefined }, KNOWN)).toContain('"colour"');
  });

  it("takes a habit's name where it is a real option of the receiver", () => {
    expect(() => checkOptionNames({ server: {} }, ['server'], 'Something')).not.toThrow();
  });

  it('reports the first unknown name', () => {
    expect(refusal({ protocols: [], maxPayload: 1, verifyClient: 1 }, KNOWN)).toContain(
      'no option maxPayload',
    );
  });
});

describe('a connection refuses ws names with the hint', () => {
  it('WebSocketConnection options', () => {
    const init = { role: 'server', maxPayload: 1024 } as unknown as Parameters<
      typeof resolveConnectionInit
    >[0];
    expect(() => resolveConnectionInit(init)).toThrow(
      'WebSocketConnection has no option maxPayload: use maxReceivedMessageSize',
    );
  });
});
