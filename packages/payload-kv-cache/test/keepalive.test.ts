import { describe, expect, it } from '@jest/globals'
import { keepAlive } from '../src/keepalive.js'

describe('keepAlive: waiting on another request’s work with a timer of our own', () => {
  it('resolves with the work’s value, however long it takes past its ticks', async () => {
    let finish!: (value: string) => void
    const work = new Promise<string>((resolve) => (finish = resolve))
    const waited = keepAlive(work)
    // Let a tick or two pass first: the waiter re-arms its timer and keeps waiting.
    await new Promise((resolve) => setTimeout(resolve, 450))
    finish('landed')
    await expect(waited).resolves.toBe('landed')
  })

  it('rejects with the work’s error', async () => {
    await expect(keepAlive(Promise.reject(new Error('KV PUT failed')))).rejects.toThrow('KV PUT failed')
  })
})
