/**
 * The HTTP API's OpenAPI document: the committed api/openapi.json is the one the zod schemas generate (api/openapi.ts,
 * run as `npm run api:openapi` does: Prettier, which formats it, does not load under jest), and the running
 * API (api/main.ts, a process of its own on the real stack) keeps to it under schemathesis (from the project's Python
 * environment, devstack/python-env.ts) with every check on (`--checks all`): no 5xx; every status code, content type,
 * header and body as documented; every request the document calls valid accepted and every invalid one refused;
 * missing required headers, undocumented methods (405 with Allow) and requests without credentials refused.
 *
 * Bounded by counts, never by time: a fixed seed, at most 25 examples per operation, one worker, and the API's
 * longest result wait cut to 2 s (CIBA_API_MAX_WAIT_SECONDS; the document it serves says so), so that a generated
 * wait cannot hold the run.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensurePythonEnv } from '../devstack/python-env';
import { REPO_ROOT, startTsProcess, type ManagedProcess } from '../devstack/ts-process';
import { TEST_LOG_DIR } from './support/stack';
import { HANG_DETECTOR_MS } from './support/wait';
import { useWorkerFixture } from './support/worker-fixture';

// Creating the Python environment on a fresh machine, then a bounded schemathesis run.
jest.setTimeout(4 * HANG_DETECTOR_MS);

describe('the OpenAPI document', () => {
  it('is committed as generated from the zod schemas (npm run api:openapi regenerates it)', async () => {
    const { code, output: generated } = await run(process.execPath, ['--import', 'tsx', 'api/openapi.ts', '--stdout']);
    expect(code).toBe(0);
    expect(readFileSync(path.join(REPO_ROOT, 'api', 'openapi.json'), 'utf8')).toBe(generated);
    expect(JSON.parse(generated)).toMatchObject({ openapi: '3.1.0' });
  });
});

describe('the running API under schemathesis', () => {
  // A worker on its own task queue, so that status queries are answered as in production.
  const fixture = useWorkerFixture('http-api-openapi');
  const key = { id: 'fuzz', secret: randomBytes(24).toString('base64url') };
  let api: ManagedProcess | undefined;
  let url = '';

  beforeAll(async () => {
    api = await startTsProcess(
      'api',
      'api/main.ts',
      {
        ...fixture.env,
        CIBA_API_HOST: '127.0.0.1',
        CIBA_API_PORT: '0',
        CIBA_API_KEYS: `${key.id}:${key.secret}`,
        CIBA_API_KEYS_FILE: '',
        CIBA_API_LOG_LEVEL: 'warn',
        CIBA_API_MAX_WAIT_SECONDS: '2',
        // The limit is tested in test/http-api.test.ts; here it would only turn starts into 429s.
        CIBA_API_STARTS_PER_MINUTE: '100000',
      },
      /ciba api: listening on/,
      { logDir: TEST_LOG_DIR, timeoutMs: HANG_DETECTOR_MS },
    );
    url = /listening on (\S+)/.exec(api.readyLine)![1]!;
  });
  afterAll(() => api?.kill('SIGTERM'));

  it('answers every generated request as the document says, with every check on', async () => {
    const { bin } = await ensurePythonEnv();
    const reportDir = path.join(TEST_LOG_DIR, `schemathesis-${Date.now()}`);
    mkdirSync(reportDir, { recursive: true });
    const args = [
      '--config-file',
      path.join(REPO_ROOT, 'test', 'schemathesis.toml'),
      'run',
      `${url}/openapi.json`,
      '--auth',
      `${key.id}:${key.secret}`,
      '--checks',
      'all',
      '--phases',
      'examples,coverage,fuzzing,stateful',
      '--max-examples',
      '25',
      '--workers',
      '1',
      '--seed',
      '4711',
      '--request-timeout',
      '60',
      '--suppress-health-check',
      'too_slow',
      '--report',
      'junit,har',
      '--report-dir',
      reportDir,
    ];
    const { code, output } = await run(bin('st'), args);
    writeFileSync(path.join(reportDir, 'output.txt'), output);
    if (code !== 0) throw new Error(`schemathesis exited ${code} (report in ${reportDir}):\n${output.slice(-8000)}`);

    // Not only refusals: some generated requests started approvals, and its stateful phase followed them.
    const har = readdirSync(reportDir).find((name) => name.startsWith('har-'));
    const entries = (
      JSON.parse(readFileSync(path.join(reportDir, har!), 'utf8')) as {
        log: { entries: { request: { method: string; url: string }; response: { status: number } }[] };
      }
    ).log.entries.map(
      ({ request, response }) => `${request.method} ${new URL(request.url).pathname} ${response.status}`,
    );
    expect(entries).toContainEqual(expect.stringMatching(/^POST \/approvals 201$/));
    expect(entries).toContainEqual(expect.stringMatching(/^GET \/approvals\/[^/]+ 200$/));
    expect(entries.filter((entry) => / 5\d\d$/.test(entry))).toEqual([]);
  });
});

/** Runs `command`; resolves with its exit code and its stdout followed by its stderr. */
function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, NO_COLOR: '1', SCHEMATHESIS_TELEMETRY: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output: stdout + stderr }));
  });
}
