import type * as NodeStream from 'node:stream';
import * as ReadableStream from 'readable-stream';

/**
 * The stream classes everything here is built on: readable-stream's (the same streams on
 * every supported Node version), typed as node:stream's. readable-stream ships no types of
 * its own, and its community types differ from Node's in small ways (no iterator helpers,
 * another Duplex shape), so a user's `const d: stream.Duplex = ws` would fail to compile and
 * the published declarations would need a type package the user has not installed. The
 * runtime classes implement the same API: the casts below say so to the type checker.
 *
 * One difference cannot be papered over: `ws instanceof stream.Duplex` is false, since the
 * prototype chain is readable-stream's. Node's own stream functions (pipeline, finished,
 * compose, Readable.from, Duplex.from) take these streams as they take any stream.
 */
export const Duplex = ReadableStream.Duplex as unknown as typeof NodeStream.Duplex;
export const Readable = ReadableStream.Readable as unknown as typeof NodeStream.Readable;
export const Writable = ReadableStream.Writable as unknown as typeof NodeStream.Writable;
export const Transform = ReadableStream.Transform as unknown as typeof NodeStream.Transform;

export type Duplex = NodeStream.Duplex;
export type Readable = NodeStream.Readable;
export type Writable = NodeStream.Writable;
export type Transform = NodeStream.Transform;
