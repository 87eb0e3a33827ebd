import './augment.js'
export { unwrapAdapter, withKVCache } from './wrapper.js'
export type { WithKVCache } from './wrapper.js'
export type { KVCacheHandle } from './handle.js'
export type {
  AuditOptions,
  CacheControl,
  Consistency,
  KVCacheOptions,
  KeyInput,
  OperationSetting,
  OperationSettings,
  ScopeSetting,
} from './options.js'
export type { DurableObjectNamespaceLike } from './invalidation/strong-stamps.js'
export { KVCacheConfigError } from './options.js'
export type { KVGetOptions, KVNamespaceLike, KVListResult } from './kv.js'
export type { BypassReason, CacheStats, CacheStatsBreakdown, DetailedStats, FillSkipReason, ReasonCounters } from './stats.js'
export type {
  AuditEvent,
  BypassEvent,
  CacheEvent,
  CacheEventType,
  FillEvent,
  FillSkipEvent,
  InvalidationEvent,
  KVFailureEvent,
  ReadEvent,
  StampWriteEvent,
} from './events.js'
export type { ReadOperation, WriteOperation } from './operations.js'
export { READ_OPERATIONS, WRITE_OPERATIONS } from './operations.js'
export { DEFAULT_EXCLUDED_COLLECTIONS, DEFAULT_EXCLUDED_GLOBALS } from './policy.js'
