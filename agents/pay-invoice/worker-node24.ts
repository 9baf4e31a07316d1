/**
 * Starts the pay-invoice agent worker (agents/pay-invoice/worker.ts) under Node >= 22.12 from any Node: for
 * `npm start` (devstack/start.ts), which runs on Node 20 and starts its parts with tsx. Signals are passed on.
 */
import path from 'node:path';
import { runUnderNode24 } from '../../devstack/node24-run';

runUnderNode24([path.join(__dirname, 'worker.ts')]);
