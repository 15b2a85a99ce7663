import { describe, expect, it } from 'vitest';
import {
  CloseCode,
  isSendableCloseCode,
  isValidWireCloseCode,
  MAX_CLOSE_REASON_BYTES,
  MAX_CONTROL_PAYLOAD,
} from '../../lib/protocol/close-codes.js';

/**
 * The rule from the spec, written out on its own: defined codes, the three IANA-registered
 * ones, and the library/private ranges. @see RFC 6455 §7.4.1, §7.4.2
 */
function specRule(code: number): boolean {
  if ([1000, 1001, 1002, 1003].includes(code)) return true;
  if (code >= 1007 && code <= 1011) return true; // defined by RFC 6455
  if (code >= 1012 && code <= 1014) return true; // registered with IANA
  return code >= 3000 && code <= 4999;
}

describe('isValidWireCloseCode / isSendableCloseCode', () => {
  it('match the spec rule for every code 0..65535', () => {
    const wrong: number[] = [];
    for (let code = 0; code <= 0xffff; code++) {
      if (isValidWireCloseCode(code) !== specRule(code)) wrong.push(code);
      if (isSendableCloseCode(code) !== specRule(code)) wrong.push(code);
    }
    expect(wrong).toEqual([]);
  });

  it.each([
    [999, false],
    [1000, true],
    [1003, true],
    [1004, false],
    [1005, false],
    [1006, false],
    [1007, true],
    [1011, true],
    [1014, true],
    [1015, false],
    [1016, false],
    [2000, false],
    [2999, false],
    [3000, true],
    [3999, true],
    [4000, true],
    [4999, true],
    [5000, false],
  ])('code %i is valid on the wire: %s', (code, valid) => {
    expect(isValidWireCloseCode(code)).toBe(valid);
    expect(isSendableCloseCode(code)).toBe(valid);
  });

  it('rejects every code in 1016..2999', () => {
    for (let code = 1016; code <= 2999; code++) expect(isValidWireCloseCode(code)).toBe(false);
  });

  it('accepts every code in 3000..4999', () => {
    for (let code = 3000; code <= 4999; code++) expect(isSendableCloseCode(code)).toBe(true);
  });

  it.each([1000.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -1000, 0.1])(
    'rejects the non-integer or negative %s',
    (code) => {
      expect(isValidWireCloseCode(code)).toBe(false);
      expect(isSendableCloseCode(code)).toBe(false);
    },
  );

  it('rejects each locally reported code by name', () => {
    for (const code of [
      CloseCode.NoStatusReceived,
      CloseCode.AbnormalClosure,
      CloseCode.TlsHandshake,
    ]) {
      expect(isValidWireCloseCode(code)).toBe(false);
      expect(isSendableCloseCode(code)).toBe(false);
    }
  });
});

describe('CloseCode', () => {
  it('has the values of RFC 6455 §7.4.1 and the IANA registry', () => {
    expect(CloseCode).toEqual({
      Normal: 1000,
      GoingAway: 1001,
      ProtocolError: 1002,
      UnsupportedData: 1003,
      NoStatusReceived: 1005,
      AbnormalClosure: 1006,
      InvalidPayload: 1007,
      PolicyViolation: 1008,
      MessageTooBig: 1009,
      MandatoryExtension: 1010,
      InternalError: 1011,
      ServiceRestart: 1012,
      TryAgainLater: 1013,
      BadGateway: 1014,
      TlsHandshake: 1015,
    });
  });

  it('bounds control payloads at 125 bytes and close reasons at 123', () => {
    expect(MAX_CONTROL_PAYLOAD).toBe(125);
    expect(MAX_CLOSE_REASON_BYTES).toBe(MAX_CONTROL_PAYLOAD - 2);
  });
});
