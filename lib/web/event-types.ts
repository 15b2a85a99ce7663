/**
 * The DOM event shapes the web APIs' signatures need, declared here so that a strict
 * TypeScript project compiles without the DOM lib (Node's types keep these interfaces to
 * themselves). Each is the DOM's own shape, so code typed against lib.dom fits.
 *
 * @see https://dom.spec.whatwg.org/#interface-event
 */

/** The DOM's EventInit dictionary. */
export interface EventInitShape {
  bubbles?: boolean;
  cancelable?: boolean;
  composed?: boolean;
}

/** The DOM's EventListenerOptions dictionary. */
export interface EventListenerOptionsShape {
  capture?: boolean;
}

/** The DOM's AddEventListenerOptions dictionary. */
export interface AddEventListenerOptionsShape extends EventListenerOptionsShape {
  once?: boolean;
  passive?: boolean;
  signal?: AbortSignal;
}

/** A listener: a function, or an object with handleEvent (the DOM's EventListenerOrEventListenerObject). */
export type EventListenerShape =
  | ((event: Event) => unknown)
  | { handleEvent(event: Event): unknown };
