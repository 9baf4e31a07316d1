/**
 * docker-compose.yml and the Dockerfile, without a Docker engine: the Compose file is loaded by compose-go, the loader
 * Docker Compose itself is built on (devstack/compose-check: schema, interpolation, merge keys, profiles, consistency),
 * and the resolved project must be `npm run cluster`'s topology (docs/cluster.md); broken files must be refused. The
 * image's processes are compiled as the Dockerfile compiles them, and every module they load must be installed there.
 *
 * Needs Go >= 1.24 on PATH (compose-go comes from the Go module proxy on the first run, then from Go's cache).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { SEARCH_ATTRIBUTES } from '../common/search-attributes';
import { APPROVAL_WORKERS, VERSIONS } from '../devstack/cluster/layout';

const ROOT = path.resolve(__dirname, '..');
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.yml');
const CHECKER_DIR = path.join(ROOT, 'devstack', 'compose-check');
const work = mkdtempSync(path.join(os.tmpdir(), 'ciba-compose-'));
const checker = path.join(work, 'compose-check');

const KEY = Buffer.alloc(32, 7).toString('base64');
/** The variables docker-compose.yml requires (docs/compose.md). */
const REQUIRED = {
  CIBA_PAYLOAD_KEY: KEY,
  POSTGRES_PASSWORD: 'pg-password-for-the-test',
  CIBA_API_KEYS: 'local-dev:api-secret-for-the-test',
  CIBA_API_ID_KEY: Buffer.alloc(32, 9).toString('base64'),
};

interface Port {
  host_ip?: string;
  published?: string;
  target: number;
}
interface Service {
  image?: string;
  build?: { context: string };
  user?: string;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string | null>;
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
  ports?: Port[];
  network_mode?: string;
  profiles?: string[];
  read_only?: boolean;
  restart?: string;
}
interface Project {
  services: Record<string, Service>;
}

function config(
  file: string,
  env: Record<string, string> = REQUIRED,
  profiles: string[] = [],
): { status: number | null; project?: Project; stderr: string } {
  const args = ['-file', file, ...Object.entries(env).flatMap(([k, v]) => ['-env', `${k}=${v}`])];
  const run = spawnSync(checker, [...args, ...profiles.flatMap((p) => ['-profile', p])], { encoding: 'utf8' });
  return {
    status: run.status,
    stderr: run.stderr,
    ...(run.status === 0 && { project: JSON.parse(run.stdout) as Project }),
  };
}

/** docker-compose.yml with `edit` applied to its text, written beside the real one's folder layout. */
function broken(edit: (text: string) => string): string {
  const text = readFileSync(COMPOSE_FILE, 'utf8');
  const changed = edit(text);
  expect(changed).not.toBe(text);
  const file = path.join(work, `broken-${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(file, changed);
  return file;
}

const APP_SERVICES = ['worker', 'api-1', 'api-2', 'provider', 'codec-server'];
const TEMPORAL_SERVICES = {
  'temporal-history': 'history',
  'temporal-matching': 'matching',
  'temporal-frontend': 'frontend',
  'temporal-worker': 'worker',
};

beforeAll(() => {
  try {
    execFileSync('go', ['build', '-o', checker, '.'], { cwd: CHECKER_DIR, stdio: 'pipe' });
  } catch (error) {
    throw new Error(
      `building devstack/compose-check (compose-go) failed; it needs Go >= 1.24 on PATH: ${String((error as { stderr?: unknown }).stderr ?? error)}`,
      { cause: error },
    );
  }
}, 300_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('docker-compose.yml, loaded by compose-go', () => {
  let project: Project;
  beforeAll(() => {
    const result = config(COMPOSE_FILE);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    project = result.project!;
  });

  it("is npm run cluster's topology", () => {
    expect(Object.keys(project.services).sort()).toEqual(
      [
        'postgres',
        'temporal-schema',
        ...Object.keys(TEMPORAL_SERVICES),
        'temporal-namespace',
        'temporal-ui',
        'codec-server',
        'provider',
        'worker',
        'api-1',
        'api-2',
      ].sort(),
    );
    expect(project.services.worker!.deploy?.replicas).toBe(APPROVAL_WORKERS);
    expect(APPROVAL_WORKERS).toBe(3);
  });

  it('runs Temporal on PostgreSQL, one service per container, at the versions npm run cluster builds', () => {
    expect(project.services.postgres!.image).toBe('postgres:15');
    for (const [name, role] of Object.entries(TEMPORAL_SERVICES)) {
      const service = project.services[name]!;
      expect(service.image).toBe(`temporalio/server:${VERSIONS.temporalServer.replace(/^v/, '')}`);
      expect(service.environment).toMatchObject({
        TEMPORAL_SERVICES: role,
        DB: 'postgres12',
        POSTGRES_SEEDS: 'postgres',
        POSTGRES_USER: 'temporal',
        POSTGRES_PWD: REQUIRED.POSTGRES_PASSWORD,
        NUM_HISTORY_SHARDS: '4',
      });
    }
    for (const job of ['temporal-schema', 'temporal-namespace']) {
      expect(project.services[job]!.image).toBe(`temporalio/admin-tools:${VERSIONS.temporalServer.replace(/^v/, '')}`);
    }
    expect(project.services['temporal-ui']!.image).toBe(`temporalio/ui:${VERSIONS.uiServer.replace(/^v/, '')}`);
  });

  it('starts each part once what it needs is ready', () => {
    const conditions = (name: string) =>
      Object.fromEntries(Object.entries(project.services[name]!.depends_on ?? {}).map(([k, v]) => [k, v.condition]));
    expect(conditions('temporal-schema')).toEqual({ postgres: 'service_healthy' });
    for (const name of Object.keys(TEMPORAL_SERVICES)) {
      expect(conditions(name)).toEqual({ 'temporal-schema': 'service_completed_successfully' });
    }
    expect(conditions('temporal-namespace')).toEqual(
      Object.fromEntries(Object.keys(TEMPORAL_SERVICES).map((n) => [n, 'service_started'])),
    );
    expect(conditions('worker')).toEqual({
      'temporal-namespace': 'service_completed_successfully',
      provider: 'service_healthy',
    });
    for (const name of ['api-1', 'api-2', 'temporal-ui']) {
      expect(conditions(name)).toEqual({ 'temporal-namespace': 'service_completed_successfully' });
    }
  });

  it('registers exactly the search attributes of common/search-attributes.ts, once the namespace is there', () => {
    const script = project.services['temporal-namespace']!.command!.join('\n');
    // A namespace just created is not found for a few seconds: the script waits for it (seen against 1.32.2).
    expect(script.indexOf('until temporal operator search-attribute list')).toBeGreaterThan(
      script.indexOf('temporal operator namespace create'),
    );
    for (const job of ['temporal-schema', 'temporal-namespace']) {
      expect(project.services[job]!.restart).toBe('on-failure:5');
    }
    const registered = [...script.matchAll(/\b(Ciba\w+)=(\w+)/g)].map(([, name, type]) => ({ name, type }));
    expect(registered).toEqual(SEARCH_ATTRIBUTES.map(({ name, type }) => ({ name, type })));
  });

  it('runs the project image as the unprivileged node user, read-only, on compiled JavaScript', () => {
    for (const name of APP_SERVICES) {
      const service = project.services[name]!;
      expect({ name, image: service.image, user: service.user, readOnly: service.read_only }).toEqual({
        name,
        image: 'ciba-temporal:local',
        user: 'node',
        readOnly: true,
      });
      expect(service.build?.context).toBe(ROOT);
      expect(service.command).toEqual(['node', expect.stringMatching(/^dist\/.+\.js$/)]);
    }
  });

  it('publishes every port on the loopback only; the codec server listens on the host loopback', () => {
    const published = Object.entries(project.services).flatMap(([name, s]) =>
      (s.ports ?? []).map((p) => ({ name, host: p.host_ip, port: Number(p.published) })),
    );
    expect(published.length).toBeGreaterThan(0);
    for (const p of published) expect(p).toEqual({ ...p, host: '127.0.0.1' });
    expect(published.map((p) => p.port).sort()).toEqual([3000, 7233, 8233, 8235, 8236]);
    const codec = project.services['codec-server']!;
    expect(codec.network_mode).toBe('host');
    expect(codec.environment).toMatchObject({ CODEC_SERVER_AUTH: 'local', CODEC_SERVER_HOST: '127.0.0.1' });
    expect(project.services['temporal-ui']!.environment).toMatchObject({
      TEMPORAL_CODEC_ENDPOINT: 'http://127.0.0.1:8234',
      TEMPORAL_DISABLE_WRITE_ACTIONS: 'true',
    });
  });

  it('gives the workers, the APIs and the CLI the same payload key and envconfig settings', () => {
    const cli = config(COMPOSE_FILE, REQUIRED, ['cli']).project!.services.cli!;
    expect(cli.entrypoint).toEqual(['node', 'dist/client/cli.js']);
    for (const service of [project.services.worker!, project.services['api-1']!, project.services['api-2']!, cli]) {
      expect(service.environment).toMatchObject({
        TEMPORAL_ADDRESS: 'temporal-frontend:7233',
        TEMPORAL_NAMESPACE: 'default',
        CIBA_PAYLOAD_KEY: KEY,
      });
    }
    expect(project.services['api-1']!.environment).toEqual(project.services['api-2']!.environment);
  });
});

describe('docker-compose.yml: what compose-go refuses', () => {
  it.each(Object.keys(REQUIRED))('a missing %s, by name', (name) => {
    const result = config(COMPOSE_FILE, { ...REQUIRED, [name]: '' });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`required variable ${name} is missing a value`);
  });

  it('a key the compose spec does not have', () => {
    const result = config(broken((t) => t.replace(/^ {2}worker:\n/m, '  worker:\n    replica: 3\n')));
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('services.worker');
  });

  it('a depends_on condition that does not exist', () => {
    const result = config(broken((t) => t.replace('condition: service_healthy', 'condition: service_ready')));
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('condition');
  });

  it('a dependency on a service that does not exist', () => {
    const result = config(broken((t) => t.replace(/^ {6}provider:\n/m, '      idp:\n')));
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('undefined service "idp"');
  });

  it('replicas that are not a number', () => {
    const result = config(broken((t) => t.replace('replicas: 3', 'replicas: three')));
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('replicas');
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const runtime = stages.at(-1)!;

  it('ends in a runtime stage that runs compiled JavaScript as the node user', () => {
    expect(runtime).toMatch(/^node:24\S* AS runtime/);
    const users = [...runtime.matchAll(/^USER (\S+)/gm)].map((m) => m[1]);
    expect(users).toEqual(['node']);
    expect(runtime).toMatch(/^CMD \["node", "dist\/worker\/main\.js"\]$/m);
    expect(runtime).not.toMatch(/tsx|typescript|\.ts"/);
    expect(runtime).toContain('COPY --from=build /src/dist ./dist');
  });

  it('keeps local state and secrets out of the build context', () => {
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['.env', '.data', 'node_modules', '.git']) expect(ignored).toContain(entry);
  });

  describe('the processes, compiled as the image compiles them (tsconfig.image.json)', () => {
    const out = path.join(work, 'dist');
    beforeAll(() => {
      execFileSync(
        process.execPath,
        [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.image.json', '--outDir', out],
        {
          cwd: ROOT,
          stdio: 'pipe',
        },
      );
    }, 300_000);

    it("compiles every file docker-compose.yml's services run", () => {
      const project = config(COMPOSE_FILE, REQUIRED, ['cli']).project!;
      const files = Object.values(project.services)
        .flatMap((s) => [...(s.command ?? []), ...(s.entrypoint ?? [])])
        .filter((arg) => arg.startsWith('dist/'));
      expect(files).toHaveLength(APP_SERVICES.length + 1);
      for (const file of files) expect(statSync(path.join(out, file.slice('dist/'.length))).isFile()).toBe(true);
      // The provider's pages are read from beside its code: the Dockerfile copies them there.
      expect(dockerfile).toContain('cp -r provider/views dist/provider/views');
      expect(readdirSync(path.join(ROOT, 'provider', 'views'))).toContain('device.html');
    });

    it('installs every package the compiled code loads, and none of the dev tools', () => {
      const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
        dependencies: Record<string, string>;
      };
      const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
        packages: Record<string, { version: string }>;
      };
      const extra = /^ARG SERVICE_DEPENDENCIES="([^"]+)"$/m.exec(dockerfile)![1]!.split(' ');
      for (const name of extra) expect(lock.packages[`node_modules/${name}`]?.version).toBeDefined();
      const installed = new Set([...Object.keys(pkg.dependencies), ...extra]);

      const loaded = new Set<string>();
      const walk = (dir: string): void => {
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
          const file = path.join(dir, entry.name);
          if (entry.isDirectory()) walk(file);
          else if (file.endsWith('.js')) {
            for (const [, spec] of readFileSync(file, 'utf8').matchAll(/require\("([^".][^"]*)"\)/g)) {
              const name = spec!.startsWith('@') ? spec!.split('/').slice(0, 2).join('/') : spec!.split('/')[0]!;
              if (!name.startsWith('node:') && !builtinModules.includes(name)) loaded.add(name);
            }
          }
        }
      };
      walk(out);
      expect(loaded.size).toBeGreaterThan(10);
      expect([...loaded].filter((name) => !installed.has(name))).toEqual([]);
      expect(extra.filter((name) => !loaded.has(name))).toEqual([]);
      for (const tool of ['tsx', 'typescript', 'jest']) expect(installed.has(tool)).toBe(false);
    });
  });
});
