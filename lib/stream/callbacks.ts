/** The callback of `_transform`, `_write` and `_final`: an error fails the stream. */
export type StreamCallback = (error?: Error | null) => void;
