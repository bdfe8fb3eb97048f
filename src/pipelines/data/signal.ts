// A wake-up primitive for the pull machinery: waiters park on wait(), notify() releases them all.
// Callers always re-check their condition after waking, so spurious wake-ups are harmless and no
// wake-up can be lost (JS runs the check and the wait() registration in one synchronous step).

export class Signal {
  private waiters: Array<() => void> = [];

  wait(): Promise<void> {
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
