/** A dedicated local provider behind its own fault proxy (fault-proxy.ts), for tests that inject faults. */
import { getFreePort } from '../../devstack/ports';
import { FaultProxy } from './fault-proxy';
import { Device, startProvider, type StartedProvider } from './stack';

export interface ProxiedProvider {
  proxy: FaultProxy;
  provider: StartedProvider;
  /** The issuer the worker is configured with: the proxy. */
  issuer: string;
  /** The provider itself, for the user's device and GET /dev/log (never faulted). */
  providerUrl: string;
  close(): Promise<void>;
}

/**
 * Starts a fault proxy, then a provider that calls itself by the proxy's URL (IDP_ISSUER) while listening on its own
 * port, then points the proxy at that port.
 */
export async function startProxiedProvider(env: Record<string, string> = {}): Promise<ProxiedProvider> {
  const proxy = await FaultProxy.start();
  const providerPort = await getFreePort();
  let provider: StartedProvider;
  try {
    provider = await startProvider({
      IDP_ISSUER: proxy.url,
      IDP_PORT: String(providerPort),
      IDP_POLL_INTERVAL: '1',
      ...env,
    });
  } catch (error) {
    await proxy.close();
    throw error;
  }
  const providerUrl = `http://127.0.0.1:${providerPort}`;
  proxy.setTarget(providerUrl);
  return {
    proxy,
    provider,
    issuer: proxy.url,
    providerUrl,
    async close() {
      await proxy.close();
      await provider.kill('SIGTERM');
    },
  };
}

/** A proxied provider with a poll interval of 1 s, and the user's device on it (which talks to it directly). */
export async function openProxiedProvider(): Promise<{ proxied: ProxiedProvider; proxy: FaultProxy; device: Device }> {
  const proxied = await startProxiedProvider({ IDP_POLL_INTERVAL: '1' });
  return { proxied, proxy: proxied.proxy, device: new Device(proxied.providerUrl) };
}
