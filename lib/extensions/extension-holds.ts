import type { Extension } from './extension.js';

/**
 * Keeps an extension's incoming (decoding) side alive for whoever decodes with it.
 *
 * A raw-mode connection does not decode its messages: the MessageAssembler given its
 * extensions does, and it may still be decoding after the transport closed, since the
 * frames it reads were pushed before (a compressed message and the Close in one chunk).
 * Disposing the whole extension at the close would fail that message. So each assembler
 * holds the extensions it decodes with from its construction to its end or destroy, and
 * the connection, ending while a hold is on, frees only the outgoing side at once
 * (`disposeOutgoing`) and leaves `dispose()` to the last release. A count rather than
 * handing ownership over: the connection cannot know whether anyone will assemble its
 * frames, and a connection without an assembler must still free everything at its close.
 *
 * Native zlib memory is thus freed deterministically on every path that ends a stream
 * (end, destroy, pipeline's teardown); only an assembler that is abandoned without being
 * ended or destroyed leaves its extensions to the garbage collector.
 */
interface Hold {
  count: number;
  /** The owner asked for disposal while the hold was on. */
  disposeOnRelease: boolean;
}

const holds = new WeakMap<Extension, Hold>();

/** Holds the incoming side of each extension: `disposeExtension` waits for the release. */
export function holdExtensions(extensions: readonly Extension[]): void {
  for (const extension of extensions) {
    const hold = holds.get(extension);
    if (hold === undefined) holds.set(extension, { count: 1, disposeOnRelease: false });
    else hold.count++;
  }
}

/** Releases a hold; the last release of an extension whose owner has ended disposes it. */
export function releaseExtensions(extensions: readonly Extension[]): void {
  for (const extension of extensions) {
    const hold = holds.get(extension);
    if (hold === undefined || hold.count === 0) continue;
    hold.count--;
    if (hold.count > 0) continue;
    holds.delete(extension);
    if (hold.disposeOnRelease) extension.dispose();
  }
}

/**
 * Disposes an extension for its owner (the connection, once): at once when nobody holds
 * it; otherwise its outgoing side now, and the rest at the last release.
 */
export function disposeExtension(extension: Extension): void {
  const hold = holds.get(extension);
  if (hold === undefined) {
    extension.dispose();
    return;
  }
  hold.disposeOnRelease = true;
  extension.disposeOutgoing?.();
}
