import { describe, expect, it } from '@jest/globals'
import type { DurableObjectNamespaceLike, KVCacheOptions, KVNamespaceLike } from '../src/index.js'
import { resolveOptions } from '../src/options.js'
import { CachePolicy } from '../src/policy.js'

/**
 * Default consistency of the collections whose staleness harms (README, Not cached by default;
 * issue 22): the auth collection and document locks are strong scopes when `strongStamps` is
 * bound, and not cached when it is not. The differential, two locations apart, is in
 * strong.test.ts; this pins what each setting makes of them.
 */
// Never called: the policy reads only which options are given.
const unused = () => Promise.reject(new Error('not called'))
const kv: KVNamespaceLike = { get: unused, put: unused, delete: unused, list: unused }
const strongStamps = { idFromName: () => ({}), get: () => ({ fetch: unused }) } as unknown as DurableObjectNamespaceLike
const config = {
  collections: [
    { slug: 'users', auth: true, fields: [] },
    { slug: 'payload-locked-documents', fields: [] },
    { slug: 'payload-preferences', fields: [] },
    { slug: 'posts', fields: [] },
  ],
  globals: [],
}
const policy = (options: Omit<KVCacheOptions, 'kv'>) => new CachePolicy(resolveOptions({ kv, ...options }), config)

describe('the auth collection and document locks by default', () => {
  it.each([
    ['no binding: not cached', {}, { users: null, locks: null }],
    ['the binding: strong', { strongStamps }, { users: 'strong', locks: 'strong' }],
    ['the binding, opted in with true: strong', { strongStamps, collections: { users: true } }, { users: 'strong', locks: 'strong' }],
    [
      'the binding, a ttl of their own: strong with that ttl',
      { strongStamps, collections: { users: { ttl: 30 } } },
      { users: 'strong', locks: 'strong' },
    ],
    [
      'the binding, eventual asked for',
      { strongStamps, collections: { users: { consistency: 'eventual' as const } } },
      { users: 'eventual', locks: 'strong' },
    ],
    ['the binding, left out', { strongStamps, collections: { 'payload-locked-documents': false } }, { users: 'strong', locks: null }],
    ['no binding, opted in: eventual', { collections: { users: true } }, { users: 'eventual', locks: null }],
  ])('%s', (_, options, expected) => {
    const p = policy(options)
    const of = (scope: 'c:users' | 'c:payload-locked-documents') =>
      p.ttlFor(scope, 'findOne') === null ? null : p.isStrong(scope) ? 'strong' : 'eventual'
    expect({ users: of('c:users'), locks: of('c:payload-locked-documents') }).toStrictEqual(expected)
    // Others keep their defaults whatever the binding: preferences cached, eventual.
    expect(p.ttlFor('c:payload-preferences', 'find')).not.toBeNull()
    expect(p.isStrong('c:payload-preferences')).toBe(false)
    expect(p.isStrong('c:posts')).toBe(false)
  })

  it('a ttl of their own still applies', () => {
    expect(policy({ strongStamps, collections: { users: { ttl: 30 } } }).ttlFor('c:users', 'findOne')).toBe(30)
  })
})
