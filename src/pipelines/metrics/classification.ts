// Accuracy and macro-F1 over class labels (strings or numbers). Results are fractions in [0, 1].

export type Label = string | number;

function checkLengths(pred: readonly unknown[], gold: readonly unknown[], what: string): void {
  if (pred.length !== gold.length) throw new Error(`${what}: ${pred.length} predictions for ${gold.length} gold labels`);
}

export function accuracy(pred: readonly Label[], gold: readonly Label[]): number {
  checkLengths(pred, gold, 'accuracy');
  if (gold.length === 0) return 0;
  let right = 0;
  for (let i = 0; i < gold.length; i++) if (pred[i] === gold[i]) right++;
  return right / gold.length;
}

export interface ClassF1 {
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  /** Gold count. */
  readonly support: number;
}

/** Per-class scores for every class present in gold or predictions (a class never predicted
 *  scores precision 0; one predicted but never gold scores recall 0 — as sklearn with zero_division=0). */
export function perClassF1(pred: readonly Label[], gold: readonly Label[]): Map<Label, ClassF1> {
  checkLengths(pred, gold, 'perClassF1');
  const tp = new Map<Label, number>(), fp = new Map<Label, number>(), fn = new Map<Label, number>();
  const bump = (m: Map<Label, number>, k: Label): void => void m.set(k, (m.get(k) ?? 0) + 1);
  const classes = new Set<Label>([...gold, ...pred]);
  for (let i = 0; i < gold.length; i++) {
    if (pred[i] === gold[i]) bump(tp, gold[i]);
    else {
      bump(fp, pred[i]);
      bump(fn, gold[i]);
    }
  }
  const out = new Map<Label, ClassF1>();
  for (const c of classes) {
    const t = tp.get(c) ?? 0, p = t + (fp.get(c) ?? 0), g = t + (fn.get(c) ?? 0);
    const precision = p > 0 ? t / p : 0, recall = g > 0 ? t / g : 0;
    out.set(c, { precision, recall, f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0, support: g });
  }
  return out;
}

/** Unweighted mean of per-class F1 over the classes present in gold or predictions. */
export function macroF1(pred: readonly Label[], gold: readonly Label[]): number {
  const per = perClassF1(pred, gold);
  if (per.size === 0) return 0;
  let sum = 0;
  for (const s of per.values()) sum += s.f1;
  return sum / per.size;
}
