// mulberry32 with its state exposed, so a shuffle can report where its random stream stands.
// Produces exactly the sequence of mulberry32() in src/ops/host.ts for the same seed.

export class SeededRng {
  private a: number;

  constructor(seed: number) {
    this.a = seed >>> 0;
  }

  /** The 32-bit state; `new SeededRng(0).restore(s)` continues the same stream. */
  get state(): number {
    return this.a;
  }

  restore(state: number): this {
    this.a = state >>> 0;
    return this;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }
}
