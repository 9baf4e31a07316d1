/**
 * Compact-mode polling loops waiting in this worker process, by approval and ask. A ping (CIBA Core 10.2) that names
 * one wakes it to poll at once. Pings reach whichever worker the provider's notification reaches: a loop running in
 * another worker is not woken, and polls at its interval as usual (a ping is only a hint).
 */
export class PingWakeups {
  private readonly waiting = new Map<string, () => void>();

  /** Registers the loop polling `authReqId` for `workflowId`; returns the function that unregisters it. */
  register(workflowId: string, authReqId: string, wake: () => void): () => void {
    const key = keyOf(workflowId, authReqId);
    this.waiting.set(key, wake);
    return () => {
      if (this.waiting.get(key) === wake) this.waiting.delete(key);
    };
  }

  /** Wakes the loop polling this ask, once: a second ping for it finds nothing. True when one was woken. */
  wake(workflowId: string, authReqId: string): boolean {
    const key = keyOf(workflowId, authReqId);
    const wake = this.waiting.get(key);
    if (!wake) return false;
    this.waiting.delete(key);
    wake();
    return true;
  }
}

function keyOf(workflowId: string, authReqId: string): string {
  return `${workflowId}\u0000${authReqId}`;
}
