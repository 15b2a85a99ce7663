/**
 * websocket-duplex/redis: the Redis backplane, which carries `wss.broadcast()` and topic
 * messages between processes and keeps presence counts. The Redis client (node-redis,
 * `redis` 6) is a peer dependency: only this entry point imports it.
 */

export {
  Backplane,
  type BackplaneStats,
  createBackplane,
  type OutageReport,
} from './backplane.js';
export { BackplaneError, BackplaneErrorReason } from './backplane-error.js';
export {
  type AttachOptions,
  type BackplaneOptions,
  type ReconnectOptions,
  SlowReaderPolicy,
  type TopicOptions,
  type TopicReadStreamOptions,
} from './backplane-options.js';
export type {
  BufferListener,
  RedisClientLike,
  RedisClusterLike,
  RedisClusterNodes,
  RedisCommon,
  RedisSource,
} from './redis-link.js';
export { Topic } from './topic.js';
export { TopicReadStream } from './topic-read-stream.js';
export { TopicWriteStream, type TopicWriteTarget } from './topic-write-stream.js';
