/** The reproduction's workflow: one activity, then a few awaits, as a small real workflow has (bench/promise-hook). */
import { proxyActivities } from '@temporalio/workflow';

const { echo } = proxyActivities<{ echo(text: string): Promise<string> }>({ startToCloseTimeout: '10s' });

export async function oneActivity(awaits: number): Promise<number> {
  await echo('hello');
  let sum = 0;
  for (let i = 0; i < awaits; i++) sum += await Promise.resolve(i);
  return sum;
}
