// Generates one Prisma client per provider from the single schema.prisma: the PostgreSQL twin differs
// only in its provider and output. The CLI's engine download is skipped (PRISMA_SCHEMA_ENGINE_BINARY
// names any existing path), since `generate` needs no engine and none can be fetched here.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const schema = readFileSync(`${root}schema.prisma`, 'utf8');
const postgresSchema = schema
  .replace('provider = "sqlite"', 'provider = "postgresql"')
  .replace('./src/generated/prisma/sqlite', './postgresql');
mkdirSync(`${root}src/generated/prisma`, { recursive: true });
writeFileSync(`${root}src/generated/prisma/postgresql.prisma`, postgresSchema);

const env = { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: `${root}package.json`, PRISMA_HIDE_UPDATE_MESSAGE: '1' };
const prisma = `${root}node_modules/prisma/build/index.js`;
for (const file of ['schema.prisma', 'src/generated/prisma/postgresql.prisma']) {
  execFileSync(process.execPath, [prisma, 'generate', '--schema', `${root}${file}`], { env, stdio: 'inherit' });
}
