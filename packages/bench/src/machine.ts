/** Where and with what the figures were made: they mean little without it. */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { cpus, totalmem } from 'node:os'
import { dirname, join } from 'node:path'

const require = createRequire(import.meta.url)

/**
 * A dependency's version from its package.json (found above its resolved entry); `via`
 * resolves it from another package, for one this package does not depend on directly.
 */
function versionOf(name: string, via?: string): string {
  try {
    const from = via ? createRequire(require.resolve(via)) : require
    let dir = dirname(from.resolve(name))
    for (;;) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string }
        if (pkg.name === name) return pkg.version ?? '?'
      } catch {
        // not this directory
      }
      const parent = dirname(dir)
      if (parent === dir) return '?'
      dir = parent
    }
  } catch {
    return '?'
  }
}

export interface Machine {
  cpu: string
  cores: number
  memory: string
  node: string
  payload: string
  miniflare: string
  wrangler: string
  workerd: string
  objectHash: string
}

export function machine(): Machine {
  const cpu = cpus()
  return {
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memory: `${(totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    node: process.version,
    payload: versionOf('payload'),
    miniflare: versionOf('miniflare'),
    wrangler: versionOf('wrangler'),
    workerd: versionOf('workerd', 'miniflare'),
    objectHash: versionOf('object-hash'),
  }
}
