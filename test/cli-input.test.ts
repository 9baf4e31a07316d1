/**
 * The `ciba` CLI's refusals of its own input, before it connects to anything: a file that is not JSON is named with
 * the place where it stops being JSON, never quoted (it may hold what only its owner should read); ids under the HTTP
 * API's prefix are the API's. A real process, as a user runs it; no Temporal needed (nothing is reached).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../devstack/ts-process';
import { ExitCode } from '../common/outcomes';

const run = promisify(execFile);

async function ciba(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [path.join(REPO_ROOT, 'bin', 'ciba.js'), ...args], {
      cwd: REPO_ROOT,
      // Nowhere to connect to: the refusals come first.
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: '127.0.0.1:9',
        CIBA_PAYLOAD_KEY: Buffer.alloc(32, 7).toString('base64'),
      },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'ciba-cli-input-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const request = ['request', '--login-hint', 'alice@example.com', '--binding-message', 'Pay 5'];

describe('ciba request --authorization-details @file', () => {
  const secret = 'sk_live_4711_do_not_print';
  const cases: [string, string, string][] = [
    // [what, file content, where it stops being JSON]
    [
      'a missing comma',
      `[{"type": "payment", "apiKey": "${secret}" "amount": 5}]`,
      "',' or '}' at line 1, column 60 (position 59)",
    ],
    [
      'a bare word',
      `${secret}`,
      'a value (an object, array, string, number, true, false or null) at line 1, column 1 (position 0)',
    ],
    [
      'a cut-off file',
      `[{"type": "payment",\n  "apiKey": "${secret}`,
      '(the text ends here) at line 2, column 39 (position 59)',
    ],
  ];

  it.each(cases)('with %s: names the file and the place, never the content', async (_what, content, where) => {
    const file = path.join(dir, 'secret.json');
    writeFileSync(file, content, { mode: 0o600 });
    for (const json of [false, true]) {
      const answer = await ciba(...request, '--authorization-details', `@${file}`, ...(json ? ['--json'] : []));
      expect(answer.code).toBe(ExitCode.Usage);
      const output = answer.stdout + answer.stderr;
      expect(output).not.toContain(secret);
      expect(output).not.toContain('sk_live');
      expect(output).toContain(`--authorization-details: ${file} is not valid JSON: expected`);
      expect(output).toContain(where);
    }
  });

  it('names a file it cannot read by its error code only', async () => {
    const answer = await ciba(...request, '--authorization-details', `@${path.join(dir, 'missing.json')}`);
    expect(answer.code).toBe(ExitCode.Usage);
    expect(answer.stderr).toContain(`--authorization-details: cannot read ${path.join(dir, 'missing.json')} (ENOENT)`);
  });

  it('does not quote an inline value either', async () => {
    const answer = await ciba(...request, '--authorization-details', `[${secret}]`);
    expect(answer.code).toBe(ExitCode.Usage);
    expect(answer.stderr).not.toContain(secret);
    expect(answer.stderr).toContain('--authorization-details is not valid JSON: expected a value');
  });
});

describe('ciba request --id', () => {
  it.each(['api.agent-a.order-4711', 'ciba-approval-api.agent-a.order-4711'])(
    "refuses %s: ids under the HTTP API prefix are the API's",
    async (id) => {
      const answer = await ciba(...request, '--id', id);
      expect(answer.code).toBe(ExitCode.Usage);
      expect(answer.stderr).toContain(`--id ${id}: ids under ciba-approval-api. (or api.) belong to the HTTP API`);
    },
  );
});
