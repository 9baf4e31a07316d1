/**
 * An HTTP API client's wait for an approval's outcome, as a client of several API instances should do it: long
 * polls of `GET /approvals/:id/result?wait=` one after the other, each on the instance the wait prefers; when an
 * instance goes away mid-poll (connection reset or refused) or answers 5xx, the same wait goes on against the next
 * instance. Counts what happened, so that a
 * test can wait until every poll is open on one instance, kill it, and see each poll move to another.
 */

/** The end of a wait: the HTTP status (200 approved, 409 ended without tokens) and the body. */
export interface LongPollOutcome {
  status: number;
  body: { status?: string; accessToken?: string; type?: string; [name: string]: unknown };
  /** Which instance answered it (index into the URLs). */
  answeredBy: number;
}

export interface LongPollStats {
  /** Per instance: polls open right now. */
  open: number[];
  /** Polls cut by a dead instance (connection error) or answered 5xx, each then sent to the next instance. */
  failovers: number;
  /** Of those, the ones answered 5xx (the instance was up, Temporal behind it was not). */
  serverErrors: number;
  /** 202 answers (the wait ran out, still pending): asked again. */
  stillPending: number;
}

export class LongPollers {
  readonly stats: LongPollStats;
  /** Ends every wait (each rejects): for a test's cleanup. */
  private readonly stopped = new AbortController();

  constructor(
    private readonly apiUrls: string[],
    private readonly authorization: string,
    private readonly waitSeconds = 60,
  ) {
    this.stats = { open: apiUrls.map(() => 0), failovers: 0, serverErrors: 0, stillPending: 0 };
  }

  /** Stops every wait: each open poll is aborted and its wait rejects. */
  close(): void {
    this.stopped.abort();
  }

  /** Waits for `id`'s outcome, starting on instance `first` (the instance this wait prefers). */
  async outcome(id: string, first = 0): Promise<LongPollOutcome> {
    let instance = first;
    for (;;) {
      this.stopped.signal.throwIfAborted();
      const url = `${this.apiUrls[instance]!}/approvals/${encodeURIComponent(id)}/result?wait=${this.waitSeconds}`;
      this.stats.open[instance]!++;
      let response: Response | undefined;
      let body: LongPollOutcome['body'] | undefined;
      try {
        response = await fetch(url, {
          headers: { authorization: this.authorization },
          signal: this.stopped.signal,
        });
        body = (await response.json()) as LongPollOutcome['body'];
      } catch {
        response = undefined; // the instance died mid-poll, or is not listening
      } finally {
        this.stats.open[instance]!--;
      }
      if (response && body && (response.status === 200 || response.status === 409)) {
        return { status: response.status, body, answeredBy: instance };
      }
      if (response?.status === 202) {
        this.stats.stillPending++;
        instance = first; // back to the instance this wait prefers
        continue;
      }
      if (response && response.status < 500) {
        throw new Error(`GET ${url}: HTTP ${response.status} ${JSON.stringify(body)}`);
      }
      this.stopped.signal.throwIfAborted();
      // Dead instance or 5xx: the next instance, after a pause so that a down cluster is not hammered.
      this.stats.failovers++;
      if (response) this.stats.serverErrors++;
      instance = (instance + 1) % this.apiUrls.length;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}
