/** Shorthands for writing the case tables. */
import type { FrameSpec } from '../../helpers/frames.js';
import type { ConformanceCase, ExpectedEvent, Step } from './types.js';

type Payload = Buffer | string;

/** A frame spec; `rsv` is Autobahn's 3-bit RSV number (4 = RSV1, 2 = RSV2, 1 = RSV3). */
export function f(opcode: number, payload: Payload = '', fin = true, rsv = 0): FrameSpec {
  return {
    opcode,
    payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
    fin,
    rsv1: (rsv & 4) !== 0,
    rsv2: (rsv & 2) !== 0,
    rsv3: (rsv & 1) !== 0,
  };
}

export const text = (p: Payload, fin = true, rsv = 0): FrameSpec => f(0x1, p, fin, rsv);
export const binary = (p: Payload, fin = true, rsv = 0): FrameSpec => f(0x2, p, fin, rsv);
export const cont = (p: Payload, fin = true, rsv = 0): FrameSpec => f(0x0, p, fin, rsv);
export const ping = (p: Payload = ''): FrameSpec => f(0x9, p);
export const pong = (p: Payload = ''): FrameSpec => f(0xa, p);

/** A Close frame with any code (valid or not) and reason bytes. */
export function close(code?: number, reason: Payload = ''): FrameSpec {
  if (code === undefined) return f(0x8, '');
  const r = typeof reason === 'string' ? Buffer.from(reason) : reason;
  const body = Buffer.alloc(2 + r.length);
  body.writeUInt16BE(code, 0);
  r.copy(body, 2);
  return f(0x8, body);
}

/** Sends frames in one write. */
export const send = (...frames: FrameSpec[]): Step => ({ send: frames });
/** Sends frames, `chop` bytes per write (1: octet-wise). */
export const chopped = (chop: number, ...frames: FrameSpec[]): Step => ({ send: frames, chop });
/** Sends each frame in its own write, with a pause between (Autobahn's frame-wise "sync"). */
export function framewise(pauseMs: number, ...frames: FrameSpec[]): Step[] {
  const steps: Step[] = [];
  frames.forEach((frame, i) => {
    if (i > 0) steps.push({ delay: pauseMs });
    steps.push({ send: [frame] });
  });
  return steps;
}

export const echoText = (data: Payload, compressed?: boolean): ExpectedEvent => ({
  kind: 'text',
  data,
  compressed,
});
export const echoBinary = (data: Buffer, compressed?: boolean): ExpectedEvent => ({
  kind: 'binary',
  data,
  compressed,
});
export const pongOf = (data: Payload = ''): ExpectedEvent => ({ kind: 'pong', data });
export const probeAnswer = (n: number): ExpectedEvent => ({ kind: 'probe', n });

/** Expects the events, then a clean close started by the peer. */
export const echoes = (...events: ExpectedEvent[]): ConformanceCase['expect'] => ({
  events,
  close: { by: 'peer' },
});

/** Expects the events, then the implementation failing the connection with `code`. */
export const fails = (code: number, ...events: ExpectedEvent[]): ConformanceCase['expect'] => ({
  events,
  close: { by: 'implementation', code },
});

/** Expects the events, then the implementation's answer to the peer's Close sent in the steps. */
export const answersClose = (
  reply: number | null,
  ...events: ExpectedEvent[]
): ConformanceCase['expect'] => ({ events, close: { by: 'peer-steps', reply } });

/** A repeated-character payload of exactly `n` bytes. */
export function stars(n: number, ch = '*'): string {
  return ch.repeat(n);
}

/** A deterministic binary payload of `n` bytes (every byte value occurs). */
export function pattern(n: number, seed = 0): Buffer {
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed + (i >>> 8)) & 0xff;
  return out;
}

/** A deterministic ASCII text payload of `n` bytes that compresses the way prose does. */
export function prose(n: number, seed = 0): string {
  const words = ['the', 'quick', 'brown', 'fox', 'jumps', 'over', 'lazy', 'dog', 'and', 'then'];
  let out = '';
  let x = seed + 1;
  while (out.length < n) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out += `${words[x % words.length]} `;
  }
  return out.slice(0, n);
}
