/**
 * `npm run keycloak`: Keycloak 26 with realm `agents` and its authentication channel (the user's device), until
 * Ctrl-C. Prints what a worker needs; approve or deny each request with one curl command.
 */
import { startKeycloak } from './keycloak';

async function main(): Promise<void> {
  let channelUrl = '';
  const keycloak = await startKeycloak({
    clientSecret: process.env.KEYCLOAK_CLIENT_SECRET || undefined,
    onChannelRequest: (r) => {
      const base = channelUrl.replace(/\/request$/, '');
      console.log(
        `\nrequest ${r.seq}: user ${r.loginHint}, "${r.bindingMessage}"` +
          (r.authorizationDetails ? `, authorization_details ${JSON.stringify(r.authorizationDetails)}` : ''),
      );
      console.log(`  approve: curl -X POST ${base}/requests/${r.seq}/approve`);
      console.log(`  deny:    curl -X POST ${base}/requests/${r.seq}/deny`);
    },
  });
  channelUrl = keycloak.channel.url;
  console.log(`
Keycloak is ready (${(keycloak.startMs / 1000).toFixed(0)} s). For the worker (.env):
  CIBA_ISSUER=${keycloak.issuer}
  CIBA_CLIENT_ID=${keycloak.clientId}
  CIBA_CLIENT_SECRET=${keycloak.clientSecret}
  CIBA_PROVIDER_PROFILE=keycloak
User: alice (login hint "alice" or "alice@example.com"). Binding messages: no spaces (e.g. Pay-50.00-USD-to-ExampleCorp).
Authentication channel (the user's device): ${channelUrl}   requests: GET ${channelUrl}s
Keycloak's log: ${keycloak.logFile}
Ctrl-C stops Keycloak.`);
  const stop = () => void keycloak.stop().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
