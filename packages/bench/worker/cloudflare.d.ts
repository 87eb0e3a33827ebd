// The one workerd module the bench Worker imports, typed here rather than pulling in all of
// @cloudflare/workers-types for it.
declare module 'cloudflare:workers' {
  export function waitUntil(promise: Promise<unknown>): void
}
