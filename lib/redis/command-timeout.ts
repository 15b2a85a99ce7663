import { BackplaneError, BackplaneErrorReason } from './backplane-error.js';

/**
 * Waits for a Redis command at most `ms`, turning a failure or silence into a typed error
 * (BackplaneError, CommandFailed), so that a Redis that stops answering (SIGSTOP, a lost
 * network) bounds every wait of the backplane instead of hanging it.
 *
 * @example await withTimeout(link.eval(SIZE_SCRIPT, keys, []), 'presence count', 1_000);
 */
export function withTimeout<T>(command: Promise<T>, what: string, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new BackplaneError(
            BackplaneErrorReason.CommandFailed,
            `${what}: no answer from Redis within ${ms} ms`,
          ),
        ),
      ms,
    );
    command.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(
          new BackplaneError(
            BackplaneErrorReason.CommandFailed,
            `${what} failed: ${err instanceof Error ? err.message : String(err)}`,
            { cause: err },
          ),
        );
      },
    );
  });
}
