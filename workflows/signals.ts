/**
 * Messages an approval workflow accepts. Defined apart from the workflow so that the worker's notification endpoint
 * and clients can import them without the workflow's code.
 */
import { defineSignal } from '@temporalio/workflow';

/**
 * CIBA ping (Core 10.2): the provider says the user decided on `authReqId`. Only a hint: the approval polls the token
 * endpoint at once, and ignores pings for any other request. Sent by the worker's notification endpoint after it has
 * checked the ping's client_notification_token.
 */
export const pingSignal = defineSignal<[{ authReqId: string }]>('ping');
