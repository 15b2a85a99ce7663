/**
 * The listeners of an emitter, by event name: `{ close(code: number, reason: string): void }`
 * (written as methods, so that a listener may take a narrower argument than the event gives).
 */
export type EventListeners<Events> = {
  [E in keyof Events]: (...args: never[]) => void;
};

/**
 * EventEmitter's methods typed by an event map: listeners get their arguments' types, and
 * an event name that is not in the map does not compile (a misspelt 'mesage' is caught by
 * the type checker, not by a silent never-called listener). Merged into the classes'
 * declarations; the methods are EventEmitter's.
 */
export interface TypedEventMethods<Events extends EventListeners<Events>> {
  on<E extends keyof Events>(event: E, listener: Events[E]): this;
  once<E extends keyof Events>(event: E, listener: Events[E]): this;
  addListener<E extends keyof Events>(event: E, listener: Events[E]): this;
  prependListener<E extends keyof Events>(event: E, listener: Events[E]): this;
  prependOnceListener<E extends keyof Events>(event: E, listener: Events[E]): this;
  off<E extends keyof Events>(event: E, listener: Events[E]): this;
  removeListener<E extends keyof Events>(event: E, listener: Events[E]): this;
}

/** The same, with `emit` typed too (for emitters whose emit is not overridden). */
export interface TypedEmitter<Events extends EventListeners<Events>>
  extends TypedEventMethods<Events> {
  emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): boolean;
}

/**
 * Refuses, at compile time, option names that `Base` does not have: with an inferred
 * options type, an unknown name (ws's `maxPayload`, say) would otherwise be accepted
 * silently; this makes its value `never`, so the type checker points at it.
 */
export type KnownOptions<O, Base> = O & { [K in Exclude<keyof O, keyof Base>]: never };
