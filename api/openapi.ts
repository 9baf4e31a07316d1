/**
 * The OpenAPI 3.1 document of the HTTP API, generated from its zod schemas (api/app.ts, api/schemas.ts and
 * ApprovalRequestSchema): never written by hand. `npm run api:openapi` writes it to api/openapi.json (formatted as
 * Prettier formats the repository); test/http-api-openapi.test.ts fails when the committed file differs (it runs
 * this file with --stdout: Prettier's ESM parts do not load under jest).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as prettier from 'prettier';
import type { ApprovalClient } from '../client/approvals';
import { buildApi } from './app';
import { ApiKeys } from './keys';

export const OPENAPI_FILE = path.join(__dirname, 'openapi.json');

/** The document as the API serves it at GET /openapi.json. */
export async function generateOpenApiDocument(): Promise<Record<string, unknown>> {
  // Describing the routes needs neither Temporal nor keys.
  const app = await buildApi({ approvals: {} as ApprovalClient, keys: new ApiKeys([]) });
  try {
    await app.ready();
    return app.swagger() as unknown as Record<string, unknown>;
  } finally {
    await app.close();
  }
}

/** The document as api/openapi.json holds it. */
export async function renderOpenApiDocument(): Promise<string> {
  const options = (await prettier.resolveConfig(OPENAPI_FILE)) ?? {};
  return prettier.format(JSON.stringify(await generateOpenApiDocument()), { ...options, filepath: OPENAPI_FILE });
}

export function committedOpenApiDocument(): string {
  return readFileSync(OPENAPI_FILE, 'utf8');
}

/** `--stdout`: print the document instead of writing it (the test compares that with the committed file). */
async function main(): Promise<void> {
  const rendered = await renderOpenApiDocument();
  if (process.argv.includes('--stdout')) {
    process.stdout.write(rendered);
    return;
  }
  let before: string | undefined;
  try {
    before = committedOpenApiDocument();
  } catch {
    before = undefined;
  }
  if (before === rendered) {
    console.error(`${path.relative(process.cwd(), OPENAPI_FILE)} is up to date`);
    return;
  }
  writeFileSync(OPENAPI_FILE, rendered);
  console.error(`wrote ${path.relative(process.cwd(), OPENAPI_FILE)}`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
