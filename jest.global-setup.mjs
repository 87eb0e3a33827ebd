// Runs once in Jest's main process, so these lines reach the CI log whatever the reporter.
export default function globalSetup() {
  if (!process.env.MONGODB_URI) {
    console.log(
      '\nSKIP mongodb: MONGODB_URI is not set, so the MongoDB suite and the MongoDB example demo test do not run here (set it to a mongodb:// URI to run them).',
    )
  }
  if (process.env.DATABASE_URL) console.log(`\nPostgres suite uses DATABASE_URL instead of embedded Postgres.`)
}
