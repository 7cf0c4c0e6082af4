/** drizzle-kit configuration: generates the committed SQLite migrations from schema.ts. */
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './coordinator/store/schema.ts',
  out: './coordinator/store/migrations',
});
