/**
 * Local CIBA OpenID Provider (`npm run dev:idp`). Configured by IDP_* variables (see config.ts).
 * stdout carries exactly one line, `{"event":"ready","issuer":...,"deviceUrl":...}`; all logs go to stderr.
 */
import { providerOptionsFromEnv } from './config';
import { startProvider, type ProviderOptions } from './server';

async function main(): Promise<void> {
  // oidc-provider prints some notices with console.info: keep stdout for the ready line alone.
  console.log = console.info = console.error;

  let options: ProviderOptions;
  try {
    options = providerOptionsFromEnv();
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }

  const running = await startProvider(options);
  process.stdout.write(
    `${JSON.stringify({ event: 'ready', issuer: running.issuer, deviceUrl: `${running.issuer}/device` })}\n`,
  );
  console.error(`[idp] ready at ${running.issuer} (data in ${options.dataDir}); device page ${running.issuer}/device`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1); // second signal: give up waiting
    stopping = true;
    console.error(`[idp] ${signal}: stopping`);
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`[idp] close failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(`[idp] failed to start: ${(err as Error).message}`);
  process.exit(1);
});
