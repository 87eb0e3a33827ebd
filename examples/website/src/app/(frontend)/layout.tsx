import type { ReactNode } from 'react'

export const metadata = { title: 'The Magazine', description: 'A Payload site with its database reads served from Workers KV' }

const style = `body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
a{color:#0b5cad}li{margin:.3rem 0}.meta{color:#666;font-size:.9rem}header{display:flex;justify-content:space-between}`

export default function FrontendLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <style>{style}</style>
        <header>
          <a href="/">The Magazine</a>
          <a href="/admin">Admin</a>
        </header>
        {/* The content region the browser test compares between cached and uncached renders. */}
        <main id="content">{children}</main>
      </body>
    </html>
  )
}
