import type { Duplex as NodeDuplex } from 'node:stream';

/**
 * `ws.pipe(ws)`, the canonical echo, without pipe()'s machinery. A pipe in general keeps ten
 * closures and a destination list per source, about 1.5 KiB per connection, which on a
 * server holding many idle echo connections is a third of what each one costs. A stream
 * piped into itself needs none of that bookkeeping: there is one source and one
 * destination, and they are the same object. These listeners are shared by every
 * connection (each finds its stream through `this`) and do what pipe() does:
 *
 * - each chunk read is written back; when write() returns false, reading pauses until
 *   'drain' (pipe's backpressure);
 * - the end of the readable side ends the writable side, unless `{ end: false }`;
 * - 'pipe' and 'unpipe' are emitted, and `unpipe()` undoes it.
 *
 * @see Node's lib/internal/streams/readable.js, Readable.prototype.pipe
 */
function onEchoData(this: NodeDuplex, chunk: unknown): void {
  if (!this.write(chunk)) this.pause();
}

function onEchoDrain(this: NodeDuplex): void {
  if (this.isPaused()) this.resume();
}

function onEchoEnd(this: NodeDuplex): void {
  this.end();
}

/** Pipes a Duplex into itself (see the module note); the caller remembers that it did. */
export function startSelfEcho(stream: NodeDuplex, end: boolean): void {
  stream.on('drain', onEchoDrain);
  if (end) stream.on('end', onEchoEnd);
  stream.emit('pipe', stream);
  stream.on('data', onEchoData);
}

/** Undoes `startSelfEcho`. */
export function stopSelfEcho(stream: NodeDuplex): void {
  stream.removeListener('data', onEchoData);
  stream.removeListener('drain', onEchoDrain);
  stream.removeListener('end', onEchoEnd);
  // As unpipe() does: with nothing else reading, the stream pauses and keeps what comes.
  if (stream.listenerCount('data') === 0) stream.pause();
  stream.emit('unpipe', stream);
}
