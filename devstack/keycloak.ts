/**
 * Keycloak 26 as a real second CIBA provider, for tests and `npm run keycloak` (FACTS.md, "Keycloak 26.7.3").
 *
 * - `ensureKeycloak`: the Quarkus distribution from Maven Central (`mvn dependency:copy`, Maven's cache ~/.m2),
 *   unpacked once into `<repo>/.tools/keycloak-<version>/`.
 * - `startKeycloak`: `kc.sh start-dev` on a free loopback port with an in-memory database, a Java 21+ JDK from
 *   /usr/lib/jvm, and our authentication channel (devstack/keycloak-channel.ts) as the user's device; then, over
 *   the admin REST API, realm `agents` (CIBA poll mode), confidential client `ciba-agent` and user `alice`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { AuthChannel, startAuthChannel, type ChannelRequest } from './keycloak-channel';
import { findRepoRoot, stderrLogger, type Logger } from './temporal-cli';

export const KEYCLOAK_VERSION = '26.7.3';
export const KEYCLOAK_REALM = 'agents';
export const KEYCLOAK_CLIENT_ID = 'ciba-agent';
/** The realm's one user (login_hint: `alice` or `alice@example.com`). */
export const KEYCLOAK_USER = { username: 'alice', email: 'alice@example.com', firstName: 'Alice', lastName: 'Example' };

/** Keycloak's home folder, downloaded with Maven and unpacked on first use. */
export function ensureKeycloak(repoRoot = findRepoRoot(__dirname), log: Logger = stderrLogger): string {
  const tools = path.join(repoRoot, '.tools');
  const home = path.join(tools, `keycloak-${KEYCLOAK_VERSION}`);
  if (fs.existsSync(path.join(home, 'bin', 'kc.sh'))) return home;
  const downloads = path.join(tools, 'downloads');
  const artifact = `org.keycloak:keycloak-quarkus-dist:${KEYCLOAK_VERSION}:tar.gz`;
  log(`downloading ${artifact} from Maven Central (~180 MB)`);
  run('mvn', ['-B', '-q', 'dependency:copy', `-Dartifact=${artifact}`, `-DoutputDirectory=${downloads}`]);
  // Unpack beside the target, then rename: an interrupted unpack never looks like a complete one.
  const partial = fs.mkdtempSync(path.join(tools, '.keycloak-unpacking-'));
  const archive = path.join(downloads, `keycloak-quarkus-dist-${KEYCLOAK_VERSION}.tar.gz`);
  run('tar', ['-xzf', archive, '-C', partial]);
  fs.renameSync(path.join(partial, `keycloak-${KEYCLOAK_VERSION}`), home);
  fs.rmSync(partial, { recursive: true, force: true });
  fs.rmSync(archive, { force: true }); // Maven keeps its own copy in ~/.m2
  return home;
}

/** A JDK that runs Keycloak 26 (21+): KEYCLOAK_JAVA_HOME, else under /usr/lib/jvm (Temurin first, newest first), else JAVA_HOME. */
export function findJavaHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KEYCLOAK_JAVA_HOME) return env.KEYCLOAK_JAVA_HOME;
  const jvmDir = '/usr/lib/jvm';
  const installed = fs.existsSync(jvmDir) ? fs.readdirSync(jvmDir).map((name) => path.join(jvmDir, name)) : [];
  const candidates = [...installed, ...(env.JAVA_HOME ? [env.JAVA_HOME] : [])]
    .map((home) => ({ home, major: javaMajor(home) }))
    .filter((c) => c.major >= 21 && fs.existsSync(path.join(c.home, 'bin', 'java')))
    .sort((a, b) => Number(/temurin/i.test(b.home)) - Number(/temurin/i.test(a.home)) || b.major - a.major);
  if (!candidates[0])
    throw new Error('Keycloak needs Java 21+: none under /usr/lib/jvm or in JAVA_HOME (set KEYCLOAK_JAVA_HOME)');
  return candidates[0].home;
}

function javaMajor(home: string): number {
  const release = path.join(home, 'release');
  return fs.existsSync(release) ? Number(/^JAVA_VERSION="(\d+)/m.exec(fs.readFileSync(release, 'utf8'))?.[1] ?? 0) : 0;
}

export interface StartKeycloakOptions {
  repoRoot?: string;
  /** Where Keycloak's output goes (`keycloak-<time>.log`). Default `<repo>/.data/keycloak`. */
  logDir?: string;
  /** How long the first start may take (it builds Keycloak for this configuration: ~90 s on 2 cores). */
  readyTimeoutMs?: number;
  /** The realm's CIBA polling interval and request lifetime, seconds. */
  cibaInterval?: number;
  cibaExpiresIn?: number;
  /** The client secret (default: random). */
  clientSecret?: string;
  onChannelRequest?: (request: ChannelRequest) => void;
  log?: Logger;
}

export interface RunningKeycloak {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  /** The realm's issuer: `${url}/realms/agents`. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The user's device: every request Keycloak sent to it, and the decisions. */
  channel: AuthChannel;
  logFile: string;
  /** From spawning kc.sh to the realm being ready. */
  startMs: number;
  stop(): Promise<void>;
}

export async function startKeycloak(options: StartKeycloakOptions = {}): Promise<RunningKeycloak> {
  const repoRoot = options.repoRoot ?? findRepoRoot(__dirname);
  const log = options.log ?? stderrLogger;
  const home = ensureKeycloak(repoRoot, log);
  const javaHome = findJavaHome();
  const channel = await startAuthChannel(options.onChannelRequest);
  const [port, managementPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${port}`;
  const admin = {
    username: process.env.KC_BOOTSTRAP_ADMIN_USERNAME || 'admin',
    password: process.env.KC_BOOTSTRAP_ADMIN_PASSWORD || randomBytes(12).toString('base64url'),
  };
  const logDir = options.logDir ?? path.join(repoRoot, '.data', 'keycloak');
  fs.mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, `keycloak-${Date.now()}.log`);
  const out = fs.openSync(logFile, 'a');
  const started = Date.now();
  log(`starting Keycloak ${KEYCLOAK_VERSION} on ${url} (Java: ${javaHome}; log: ${logFile})`);
  // Its own process group (detached), so that stopping it stops kc.sh and the JVM together.
  const child = spawn(
    path.join(home, 'bin', 'kc.sh'),
    [
      'start-dev',
      '--http-host=127.0.0.1',
      `--http-port=${port}`,
      `--http-management-port=${managementPort}`,
      '--db=dev-mem',
      `--spi-ciba-auth-channel--ciba-http-auth-channel--http-authentication-channel-uri=${channel.url}`,
    ],
    {
      detached: true,
      stdio: ['ignore', out, out],
      env: {
        ...process.env,
        JAVA_HOME: javaHome,
        KC_BOOTSTRAP_ADMIN_USERNAME: admin.username,
        KC_BOOTSTRAP_ADMIN_PASSWORD: admin.password,
      },
    },
  );
  fs.closeSync(out);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let running = true;
  void exited.then(() => (running = false));
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      if (running && child.pid) process.kill(-child.pid, signal);
    } catch {
      // the group is gone already
    }
  };
  const onExit = () => killGroup('SIGKILL'); // never leave a JVM behind when this process ends
  process.once('exit', onExit);
  const stop = async () => {
    process.off('exit', onExit);
    killGroup('SIGTERM');
    const timer = setTimeout(() => killGroup('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
    await channel.close();
  };

  try {
    const deadline = started + (options.readyTimeoutMs ?? 6 * 60_000);
    while (!(await isOk(`${url}/realms/master/.well-known/openid-configuration`))) {
      const tail = () => fs.readFileSync(logFile, 'utf8').slice(-3000);
      if (!running) throw new Error(`Keycloak exited before it was ready; ${logFile}:\n${tail()}`);
      if (Date.now() > deadline)
        throw new Error(`Keycloak not ready after ${Date.now() - started} ms; ${logFile}:\n${tail()}`);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    const clientSecret = options.clientSecret ?? randomBytes(24).toString('base64url');
    await createRealm(url, await adminToken(url, admin), clientSecret, options);
    const issuer = `${url}/realms/${KEYCLOAK_REALM}`;
    if (!(await isOk(`${issuer}/.well-known/openid-configuration`)))
      throw new Error(`realm ${KEYCLOAK_REALM}: no discovery document`);
    const startMs = Date.now() - started;
    log(`Keycloak ready in ${(startMs / 1000).toFixed(1)} s: ${issuer}`);
    return { url, issuer, clientId: KEYCLOAK_CLIENT_ID, clientSecret, channel, logFile, startMs, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function adminToken(url: string, admin: { username: string; password: string }): Promise<string> {
  const response = await fetch(`${url}/realms/master/protocol/openid-connect/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'password', client_id: 'admin-cli', ...admin }),
  });
  if (!response.ok) throw new Error(`Keycloak admin token: HTTP ${response.status} ${await response.text()}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** Realm `agents`: CIBA poll mode, login_hint names the user; client `ciba-agent` (confidential, CIBA only); user alice. */
async function createRealm(
  url: string,
  token: string,
  clientSecret: string,
  options: StartKeycloakOptions,
): Promise<void> {
  const realm = {
    realm: KEYCLOAK_REALM,
    enabled: true,
    attributes: {
      cibaBackchannelTokenDeliveryMode: 'poll',
      cibaExpiresIn: String(options.cibaExpiresIn ?? 120),
      cibaInterval: String(options.cibaInterval ?? 1),
      cibaAuthRequestedUserHint: 'login_hint',
    },
    clients: [
      {
        clientId: KEYCLOAK_CLIENT_ID,
        secret: clientSecret,
        publicClient: false,
        clientAuthenticatorType: 'client-secret',
        standardFlowEnabled: false,
        directAccessGrantsEnabled: false,
        attributes: { 'oidc.ciba.grant.enabled': 'true' },
      },
    ],
    // Names and a verified e-mail: no required action stands between alice and the grant.
    users: [{ ...KEYCLOAK_USER, enabled: true, emailVerified: true }],
  };
  const response = await fetch(`${url}/admin/realms`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(realm),
  });
  if (response.status !== 201)
    throw new Error(`Keycloak: creating realm ${KEYCLOAK_REALM}: HTTP ${response.status} ${await response.text()}`);
}

async function isOk(url: string): Promise<boolean> {
  return fetch(url, { signal: AbortSignal.timeout(5_000) }).then(
    async (r) => (await r.body?.cancel(), r.ok),
    () => false,
  );
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(' ')}: ${result.error?.message ?? `exit ${result.status}`}`);
}
