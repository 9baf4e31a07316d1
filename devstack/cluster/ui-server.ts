/**
 * The Temporal Web UI as its own server (github.com/temporalio/ui-server, built by go-build.ts), talking to the
 * frontend over gRPC and sending the browser to the codec server for payloads (config: temporal-config.ts).
 */
import path from 'node:path';
import { HOST, type ClusterLayout } from './layout';
import { startNative, type NativeProcess } from './native-process';

export async function startUiServer(layout: ClusterLayout): Promise<{ process: NativeProcess; url: string }> {
  const url = `http://${HOST}:${layout.ports.ui}`;
  const running = await startNative(
    'temporal ui-server',
    layout.paths.bin.uiServer,
    ['--root', layout.paths.config, '--config', 'ui', '--env', 'development', 'start'],
    {
      cwd: layout.paths.config,
      logFile: path.join(layout.paths.logs, 'temporal-ui.log'),
      ready: async () => (await fetch(`${url}/api/v1/settings`, { signal: AbortSignal.timeout(2000) })).ok,
      timeoutMs: 60_000,
      detached: true,
    },
  );
  return { process: running, url };
}
