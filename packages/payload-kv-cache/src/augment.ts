import type { KVCacheHandle } from './handle.js'

// `payload.db.kvCache` is typed wherever this package is imported. Optional: an adapter that
// is not wrapped has none.
declare module 'payload' {
  interface DatabaseAdapter {
    kvCache?: KVCacheHandle
  }
}

export {}
