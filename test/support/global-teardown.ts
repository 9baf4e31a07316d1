export default async function globalTeardown(): Promise<void> {
  const stack = globalThis.__cibaStack;
  if (!stack) return;
  await stack.provider.kill('SIGTERM');
  await stack.temporal.stop();
}
