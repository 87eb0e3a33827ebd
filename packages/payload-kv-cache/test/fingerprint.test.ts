import { describe, expect, it } from '@jest/globals'
import { schemaFingerprint } from '../src/fingerprint.js'
import { siteCollections, siteGlobals } from './support/app.js'

const config = (extra?: (c: ReturnType<typeof siteCollections>) => void) => {
  const collections = siteCollections()
  extra?.(collections)
  return { collections, globals: siteGlobals(), localization: { localeCodes: ['en', 'de'], defaultLocale: 'en' } }
}

describe('schema fingerprint (part of every key)', () => {
  it('is stable for the same schema, whatever the hooks', () => {
    const withHook = config((c) => {
      c[0]!.hooks = { afterRead: [({ doc }) => doc] }
    })
    expect(schemaFingerprint(config())).toBe(schemaFingerprint(config()))
    expect(schemaFingerprint(withHook)).toBe(schemaFingerprint(config()))
  })

  it('changes when a field is added, renamed, localized, or a relation retargeted', () => {
    const base = schemaFingerprint(config())
    const variants = [
      config((c) => c[2]!.fields.push({ name: 'subtitle', type: 'text' })),
      config((c) => {
        ;(c[1]!.fields[0] as { name: string }).name = 'label'
      }),
      config((c) => {
        ;(c[1]!.fields[0] as { localized?: boolean }).localized = true
      }),
      config((c) => {
        const author = c[2]!.fields.find((f) => 'name' in f && f.name === 'author') as { relationTo: string }
        author.relationTo = 'categories'
      }),
      { ...config(), localization: { localeCodes: ['en', 'de', 'fr'], defaultLocale: 'en' } },
    ]
    for (const variant of variants) expect(schemaFingerprint(variant)).not.toBe(base)
  })
})
