// The one workerd module the Worker imports, typed here rather than pulling in all of
// @cloudflare/workers-types for it.
declare module 'cloudflare:workers' {
  /** Keeps the Worker alive for `promise` after the response is sent. */
  export function waitUntil(promise: Promise<unknown>): void
}
