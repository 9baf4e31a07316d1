/**
 * The OpenAPI 3.1 document of the HTTP API, generated from its zod schemas (api/app.ts, api/schemas.ts and
 * ApprovalRequestSchema): never written by hand. `npm run api:openapi` writes it to api/openapi.json (formatted as
 * Prettier formats the repository); test/http-api-openapi.test.ts fails when the committed file differs (it runs
 * this file with --stdout: Prettier's ESM parts do not load under jest).
 *
 * The document depends on the provider profile the API checks requests against (CIBA_PROVIDER_PROFILE): its binding
 * message rule and authorization_details limits. The committed one is the local stack's (`auth0`, as .env.example
 * sets); a running API serves its own at GET /openapi.json. `--profile keycloak` prints or writes another.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as prettier from 'prettier';
import type { ApprovalClient } from '../client/approvals';
import { PROVIDER_PROFILE_NAMES, type ProviderProfileName } from '../common/provider-profile';
import { buildApi } from './app';
import { ApiKeys } from './keys';

export const OPENAPI_FILE = path.join(__dirname, 'openapi.json');
/** The profile of the committed document: the local stack's. */
export const OPENAPI_FILE_PROFILE: ProviderProfileName = 'auth0';

/** The document as an API with `profile` (and the default settings) serves it at GET /openapi.json. */
export async function generateOpenApiDocument(
  profile: ProviderProfileName = OPENAPI_FILE_PROFILE,
): Promise<Record<string, unknown>> {
  // Describing the routes needs neither Temporal nor keys.
  const app = await buildApi({ approvals: { providerProfile: profile } as ApprovalClient, keys: new ApiKeys([]) });
  try {
    await app.ready();
    return app.swagger() as unknown as Record<string, unknown>;
  } finally {
    await app.close();
  }
}

/** The document as api/openapi.json holds it. */
export async function renderOpenApiDocument(profile: ProviderProfileName = OPENAPI_FILE_PROFILE): Promise<string> {
  const options = (await prettier.resolveConfig(OPENAPI_FILE)) ?? {};
  return prettier.format(JSON.stringify(await generateOpenApiDocument(profile)), {
    ...options,
    filepath: OPENAPI_FILE,
  });
}

export function committedOpenApiDocument(): string {
  return readFileSync(OPENAPI_FILE, 'utf8');
}

/**
 * `--stdout`: print the document instead of writing it (the test compares that with the committed file).
 * `--profile NAME`: another provider profile's document (printed; only the local stack's is committed).
 */
async function main(): Promise<void> {
  const at = process.argv.indexOf('--profile');
  const profile = at < 0 ? OPENAPI_FILE_PROFILE : (process.argv[at + 1] as ProviderProfileName);
  if (!PROVIDER_PROFILE_NAMES.includes(profile)) {
    throw new Error(`--profile takes one of ${PROVIDER_PROFILE_NAMES.join(', ')}`);
  }
  const rendered = await renderOpenApiDocument(profile);
  if (process.argv.includes('--stdout') || profile !== OPENAPI_FILE_PROFILE) {
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
