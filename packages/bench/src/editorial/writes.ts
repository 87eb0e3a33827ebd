/**
 * Editors' saves on the editorial site, as the admin panel makes them (Local API, editor's
 * access). Bundled into the bench Worker as well: no Node built-ins.
 */
import type { Payload } from 'payload'
import type { EditorialIds } from './seed.js'
import { bodyText, postData, publishedAt } from './seed.js'

export type Id = number | string

export type EditorialWrite =
  /** Body text of a published post, and every third revision its title: the common save. */
  | { kind: 'edit'; id: Id; revision: number }
  /** An editor starts a new article: autosave's first save creates it as a draft. */
  | { kind: 'start-draft'; n: number }
  /** Autosave while the editor types in an unpublished article. */
  | { kind: 'autosave'; id: Id; revision: number }
  /** "Save draft" on a published post: a new version, the live post unchanged. */
  | { kind: 'draft-of-published'; id: Id; revision: number }
  /** A draft goes live, at the next publication time. */
  | { kind: 'publish-draft'; id: Id; at: number }
  /** Written and published in one save (a short news item). */
  | { kind: 'publish-new'; n: number; at: number }
  /** A post moved to another category. */
  | { kind: 'move'; id: Id; category: Id }
  | { kind: 'delete'; id: Id }
  /** An author's name or bio edited. */
  | { kind: 'author'; id: Id; revision: number }

export type WriteKind = EditorialWrite['kind']

/** Applies one save; answers the id of a document it created. */
export async function applyWrite(payload: Payload, ids: EditorialIds, write: EditorialWrite): Promise<{ id?: Id }> {
  switch (write.kind) {
    case 'edit':
      await payload.update({
        collection: 'posts',
        id: write.id,
        data: {
          body: bodyText(Number(write.id), write.revision),
          ...(write.revision % 3 === 0 ? { title: `Story ${write.id}, updated (revision ${write.revision})` } : {}),
        },
      })
      return {}
    case 'start-draft': {
      const doc = await payload.create({ collection: 'posts', draft: true, data: { ...postData(write.n, ids), _status: 'draft' } })
      return { id: doc.id }
    }
    case 'autosave':
      await payload.update({
        collection: 'posts',
        id: write.id,
        draft: true,
        autosave: true,
        data: { body: bodyText(Number(write.id), write.revision) },
      })
      return {}
    case 'draft-of-published':
      await payload.update({
        collection: 'posts',
        id: write.id,
        draft: true,
        data: { title: `Story ${write.id}, draft revision ${write.revision}` },
      })
      return {}
    case 'publish-draft':
      await payload.update({
        collection: 'posts',
        id: write.id,
        data: { _status: 'published', publishedAt: publishedAt(write.at) },
      })
      return {}
    case 'publish-new': {
      const data = { ...postData(write.n, ids), publishedAt: publishedAt(write.at), _status: 'published' as const }
      const doc = await payload.create({ collection: 'posts', data })
      return { id: doc.id }
    }
    case 'move':
      await payload.update({ collection: 'posts', id: write.id, data: { category: write.category } })
      return {}
    case 'delete':
      await payload.delete({ collection: 'posts', id: write.id })
      return {}
    case 'author':
      await payload.update({
        collection: 'authors',
        id: write.id,
        data:
          write.revision % 2 === 0
            ? { bio: `Reports for us; revision ${write.revision}.` }
            : { name: `Author ${write.id} (rev ${write.revision})` },
      })
      return {}
  }
}
