/**
 * Counts the timers a process's JavaScript has pending, unref'd ones included:
 * process.getActiveResourcesInfo() lists only the timers that keep the process alive, and a
 * library's unref'd timer (ours' keepalive sweep is one) left running after its last
 * connection would go unseen. The global setTimeout and setInterval are wrapped, so every
 * timer made through them (by the library, ws, or node:http's JavaScript) is counted from
 * its creation until it fires (a timeout) or is cleared.
 *
 * Installed only where a scenario asks for it (a Set operation per timer is cheap, but the
 * other scenarios measure the library as users run it).
 */

/** Wraps the global timer functions; returns a function giving the timers pending now. */
export function installTimerCensus(): () => number {
  const live = new Set<NodeJS.Timeout>();
  const originalSetTimeout = globalThis.setTimeout;
  const originalSetInterval = globalThis.setInterval;
  const originalClearTimeout = globalThis.clearTimeout;
  const originalClearInterval = globalThis.clearInterval;
  const forget = (timer: unknown) => {
    if (typeof timer === 'object' && timer !== null) live.delete(timer as NodeJS.Timeout);
  };
  const setTimeoutCounted = (
    callback: (...args: unknown[]) => void,
    ms?: number,
    ...args: unknown[]
  ) => {
    const timer = originalSetTimeout(
      (...callArgs: unknown[]) => {
        live.delete(timer);
        callback(...callArgs);
      },
      ms,
      ...args,
    );
    live.add(timer);
    return timer;
  };
  const setIntervalCounted = (
    callback: (...args: unknown[]) => void,
    ms?: number,
    ...args: unknown[]
  ) => {
    const timer = originalSetInterval(callback, ms, ...args);
    live.add(timer);
    return timer;
  };
  Object.assign(globalThis, {
    setTimeout: Object.assign(setTimeoutCounted, originalSetTimeout),
    setInterval: setIntervalCounted,
    clearTimeout: (timer?: Parameters<typeof clearTimeout>[0]) => {
      forget(timer);
      originalClearTimeout(timer);
    },
    clearInterval: (timer?: Parameters<typeof clearInterval>[0]) => {
      forget(timer);
      originalClearInterval(timer);
    },
  });
  return () => live.size;
}
