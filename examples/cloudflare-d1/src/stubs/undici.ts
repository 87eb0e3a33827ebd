/**
 * Payload imports undici only to fetch uploads from a URL on the server (`safeFetch`), and
 * undici needs Node internals workerd lacks (node:sqlite among them). This example has no
 * uploads: the Worker's own fetch stands in, and an Agent is accepted and ignored.
 */
export class Agent {
  constructor(_options?: unknown) {}
}

export const fetch = (input: Request | string | URL, init?: RequestInit & { dispatcher?: unknown }): Promise<Response> => {
  const { dispatcher: _dispatcher, ...rest } = init ?? {}
  return globalThis.fetch(input, rest)
}
