/**
 * A local provider process (`provider/main.ts`, IDP_PORT=0, 1 s poll interval) with everything it printed, for tests
 * of the provider itself. Call `stopAllIdps()` in afterAll.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HANG_DETECTOR_MS } from './wait';

const ROOT = path.resolve(__dirname, '..', '..');
export const CLIENT_ID = 'ciba-agent';
export const CLIENT_SECRET = 'ciba-agent-secret';
export const CIBA = 'urn:openid:params:grant-type:ciba';

export interface LocalIdp {
  issuer: string;
  dataDir: string;
  child: ChildProcess;
  /** Everything the process wrote so far. */
  stdout(): string;
  stderr(): string;
  /** Sends `signal` and resolves with the exit code once stdout and stderr are closed (all output read). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const running: LocalIdp[] = [];
const tmpDirs: string[] = [];

export function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-test-'));
  tmpDirs.push(dir);
  return dir;
}

export async function startIdp(env: Record<string, string> = {}): Promise<LocalIdp> {
  const dataDir = env.IDP_DATA_DIR ?? tempDir();
  const child = spawn(process.execPath, ['--import', 'tsx', 'provider/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, IDP_PORT: '0', IDP_POLL_INTERVAL: '1', ...env, IDP_DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const ready = await new Promise<{ issuer: string }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`provider not ready in ${HANG_DETECTOR_MS} ms: ${stderr}`)),
      HANG_DETECTOR_MS,
    );
    const onData = () => {
      if (!stdout.includes('\n')) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      resolve(JSON.parse(stdout.split('\n')[0]!) as { issuer: string });
    };
    child.stdout!.on('data', onData);
    void closed.then((code) => {
      clearTimeout(timer);
      reject(new Error(`provider exited (${code}): ${stderr}`));
    });
  });
  const idp: LocalIdp = {
    issuer: ready.issuer,
    dataDir,
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    stop: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return closed;
    },
  };
  running.push(idp);
  return idp;
}

export async function stopAllIdps(): Promise<void> {
  await Promise.all(running.map((idp) => idp.stop('SIGKILL')));
  for (const dir of tmpDirs) fs.rmSync(dir, { recursive: true, force: true });
}

export const basic = (id = CLIENT_ID, secret = CLIENT_SECRET) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

export interface Answer {
  status: number;
  body: Record<string, any>;
  headers: Headers;
}

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  let body: Record<string, any>;
  try {
    body = JSON.parse(text) as Record<string, any>;
  } catch {
    body = { notJson: text };
  }
  return { status: res.status, body, headers: res.headers };
}

export async function postForm(url: string, form: Record<string, string>, auth = basic()): Promise<Answer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  return answer(res);
}

export async function postJson(url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return answer(res);
}

export async function getJson(url: string): Promise<any> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res.json();
}

/**
 * Polls the token endpoint as a CIBA client must: `interval` seconds after the initiation and between polls (more
 * after slow_down), until the answer is not authorization_pending.
 */
export async function pollUntilDone(
  issuer: string,
  authReqId: string,
  interval: number,
  auth = basic(),
): Promise<Answer> {
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, interval * 1000));
    const res = await postForm(`${issuer}/oauth/token`, { grant_type: CIBA, auth_req_id: authReqId }, auth);
    if (res.body.error === 'slow_down') interval = Number(res.body.interval);
    else if (res.body.error !== 'authorization_pending') return res;
  }
}
