/**
 * Exhaustive checks that the connection-level suite samples: every one of the 65,536 close
 * codes against RFC 6455 §7.4 (and the IANA registry), and the oracles the suite relies on
 * (the UTF-8 oracle against the platform's fatal TextDecoder, and the library's validator
 * against the oracle at every split of every sequence of the group-6 kind).
 */
import { describe, expect, it } from 'vitest';
import { parseClosePayload } from '../../lib/protocol/close-payload.js';
import { ProtocolError } from '../../lib/protocol/errors.js';
import { Utf8Validator } from '../../lib/protocol/utf8-validator.js';
import { SeededRandom } from '../helpers/seeded-random.js';
import { failingPiece, judgeUtf8 } from '../helpers/utf8-oracle.js';

/** RFC 6455 §7.4.1-§7.4.2 and the IANA registry (1012-1014): codes a Close frame may carry. */
function wireValid(code: number): boolean {
  return (
    (code >= 1000 && code <= 1003) ||
    (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999)
  );
}

describe('close codes, all 65,536 of them', () => {
  it('accepts exactly the valid ones and fails the others with 1002', () => {
    let valid = 0;
    const wrong: number[] = [];
    for (let code = 0; code <= 0xffff; code++) {
      const payload = Buffer.from([code >> 8, code & 0xff, 0x6f, 0x6b]);
      let outcome: string;
      try {
        const parsed = parseClosePayload(payload);
        outcome = parsed.code === code && parsed.reason === 'ok' ? 'accepted' : 'garbled';
      } catch (err) {
        outcome =
          err instanceof ProtocolError && err.closeCode === 1002 ? 'failed 1002' : 'other error';
      }
      if (wireValid(code)) valid++;
      if (outcome !== (wireValid(code) ? 'accepted' : 'failed 1002')) wrong.push(code);
    }
    expect(wrong).toEqual([]);
    expect(valid).toBe(4 + 8 + 2000);
  });
});

describe('the UTF-8 oracle', () => {
  const fatal = new TextDecoder('utf-8', { fatal: true });
  const decodes = (bytes: Uint8Array): boolean => {
    try {
      fatal.decode(bytes);
      return true;
    } catch {
      return false;
    }
  };

  it('agrees with the fatal TextDecoder on every 1- and 2-byte string and 200,000 random ones', () => {
    const wrong: string[] = [];
    for (let a = 0; a < 256; a++) {
      if (judgeUtf8(Uint8Array.of(a)).complete !== decodes(Uint8Array.of(a))) wrong.push(`${a}`);
      for (let b = 0; b < 256; b++) {
        const bytes = Uint8Array.of(a, b);
        if (judgeUtf8(bytes).complete !== decodes(bytes)) wrong.push(`${a} ${b}`);
      }
    }
    const rng = new SeededRandom(0x5eed_0001);
    const leads = [
      0x00, 0x7f, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0x80, 0xbf, 0xc0,
    ];
    for (let i = 0; i < 200_000; i++) {
      const n = rng.int(9);
      const bytes = new Uint8Array(n);
      for (let k = 0; k < n; k++) {
        bytes[k] = rng.chance(0.5)
          ? rng.pick(leads)
          : rng.chance(0.6)
            ? 0x80 + rng.int(64)
            : rng.int(256);
      }
      if (judgeUtf8(bytes).complete !== decodes(bytes))
        wrong.push(Buffer.from(bytes).toString('hex'));
    }
    expect(wrong, `seed ${rng.seed}`).toEqual([]);
  });

  it('places the first invalid byte where no continuation can repair it', () => {
    const rng = new SeededRandom(0x5eed_0002);
    const wrong: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const bytes = Buffer.from(Array.from({ length: 1 + rng.int(6) }, () => 0x80 + rng.int(128)));
      const { firstInvalid } = judgeUtf8(bytes);
      if (firstInvalid === -1) continue;
      // Some continuation repairs the prefix before it (or it is empty)...
      const before = bytes.subarray(0, firstInvalid);
      if (judgeUtf8(before).firstInvalid !== -1) wrong.push(bytes.toString('hex'));
      // ...and nothing appended can repair the prefix that includes it.
      for (const tail of [[], [0x80], [0x80, 0x80], [0x80, 0x80, 0x80], [0x41]]) {
        const longer = Buffer.concat([bytes.subarray(0, firstInvalid + 1), Buffer.from(tail)]);
        if (judgeUtf8(longer).complete) wrong.push(longer.toString('hex'));
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe("the library's UTF-8 validator against the oracle", () => {
  it('fails at the same piece, for 100,000 random texts cut at random points', () => {
    const rng = new SeededRandom(0x5eed_0003);
    const wrong: string[] = [];
    const alphabet = [
      ...[0x61, 0x00, 0x7f].map((b) => [b]),
      [0xc2, 0x80],
      [0xdf, 0xbf],
      [0xe0, 0xa0, 0x80],
      [0xed, 0x9f, 0xbf],
      [0xef, 0xbf, 0xbf],
      [0xf0, 0x90, 0x80, 0x80],
      [0xf4, 0x8f, 0xbf, 0xbf],
      // Invalid ones.
      [0xc0, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0xff],
      [0x80],
      [0xe0, 0x80],
      [0xf8, 0x88, 0x80, 0x80, 0x80],
    ];
    for (let i = 0; i < 100_000; i++) {
      const parts: number[] = [];
      const count = rng.int(6);
      for (let k = 0; k < count; k++) {
        const seq = rng.pick(alphabet);
        // Sometimes cut a sequence short.
        parts.push(...(rng.chance(0.15) ? seq.slice(0, rng.int(seq.length)) : seq));
      }
      const bytes = Buffer.from(parts);
      const pieces: Buffer[] = [];
      let at = 0;
      while (at < bytes.length) {
        const n = 1 + rng.int(bytes.length - at);
        pieces.push(bytes.subarray(at, at + n));
        at += n;
      }
      if (pieces.length === 0) pieces.push(Buffer.alloc(0));
      const validator = new Utf8Validator();
      let failedAt = -1;
      for (let p = 0; p < pieces.length && failedAt === -1; p++) {
        if (!validator.write(pieces[p]!)) failedAt = p;
      }
      if (failedAt === -1 && !validator.end()) failedAt = pieces.length - 1;
      if (failedAt !== failingPiece(pieces)) wrong.push(`case ${i}: ${bytes.toString('hex')}`);
    }
    expect(wrong, `seed ${rng.seed}`).toEqual([]);
  });
});
