// Entity-level precision/recall/F1 for tag sequences, with seqeval's default (non-strict) semantics:
// entities are read with conlleval's chunk rules, so an I-X after O or after another type starts a
// new entity (as if it were B-X), and an entity ends at O, at B-, or at a change of type. IOBES
// tags (E-, S-) follow the same rules. Scores are micro-averaged over entities: an entity counts
// as found only when type, start and end all match. Results are fractions in [0, 1].

export interface Entity {
  readonly type: string;
  /** Inclusive token indices. */
  readonly start: number;
  readonly end: number;
}

interface Parsed {
  readonly tag: string;
  readonly type: string;
}

/** seqeval's split: the first character is the chunk tag; the type is what follows the first '-'
 *  (or '_' for a bare tag such as O). */
function parse(chunk: string): Parsed {
  const rest = chunk.slice(1);
  const dash = rest.indexOf('-');
  return { tag: chunk.slice(0, 1), type: (dash >= 0 ? rest.slice(dash + 1) : rest) || '_' };
}

function endOfChunk(prev: Parsed, cur: Parsed): boolean {
  const p = prev.tag, t = cur.tag;
  if (p === 'E' || p === 'S') return true;
  if ((p === 'B' || p === 'I') && (t === 'B' || t === 'S' || t === 'O')) return true;
  return p !== 'O' && p !== '.' && prev.type !== cur.type;
}

function startOfChunk(prev: Parsed, cur: Parsed): boolean {
  const p = prev.tag, t = cur.tag;
  if (t === 'B' || t === 'S') return true;
  if ((p === 'E' || p === 'S' || p === 'O') && (t === 'E' || t === 'I')) return true;
  return t !== 'O' && t !== '.' && prev.type !== cur.type;
}

/** The entities of one sentence's tags. */
export function entitiesOf(tags: readonly string[]): Entity[] {
  const out: Entity[] = [];
  let prev: Parsed = { tag: 'O', type: '' };
  let begin = 0;
  for (let i = 0; i <= tags.length; i++) {
    const cur = parse(i < tags.length ? tags[i] : 'O');
    if (endOfChunk(prev, cur)) out.push({ type: prev.type, start: begin, end: i - 1 });
    if (startOfChunk(prev, cur)) begin = i;
    prev = cur;
  }
  return out;
}

export interface EntityScores {
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  readonly byType: ReadonlyMap<string, { readonly precision: number; readonly recall: number; readonly f1: number; readonly support: number }>;
}

/** Micro P/R/F1 over entities of many sentences (gold[i] and pred[i] are one sentence's tags). */
export function entityF1(pred: readonly (readonly string[])[], gold: readonly (readonly string[])[]): EntityScores {
  if (pred.length !== gold.length) throw new Error(`entityF1: ${pred.length} predicted sentences for ${gold.length} gold`);
  const counts = new Map<string, { tp: number; pred: number; gold: number }>();
  const of = (type: string): { tp: number; pred: number; gold: number } => {
    let c = counts.get(type);
    if (!c) counts.set(type, (c = { tp: 0, pred: 0, gold: 0 }));
    return c;
  };
  gold.forEach((g, i) => {
    if (g.length !== pred[i].length) throw new Error(`entityF1: sentence ${i} has ${pred[i].length} predicted tags for ${g.length} gold`);
    const key = (e: Entity): string => `${e.type}\u0000${e.start}\u0000${e.end}`;
    const goldKeys = new Set(entitiesOf(g).map((e) => (of(e.type).gold++, key(e))));
    for (const e of entitiesOf(pred[i])) {
      of(e.type).pred++;
      if (goldKeys.has(key(e))) of(e.type).tp++;
    }
  });
  let tp = 0, np = 0, ng = 0;
  const byType = new Map<string, { precision: number; recall: number; f1: number; support: number }>();
  for (const [type, c] of [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    tp += c.tp;
    np += c.pred;
    ng += c.gold;
    byType.set(type, { ...prf(c.tp, c.pred, c.gold), support: c.gold });
  }
  return { ...prf(tp, np, ng), byType };
}

function prf(tp: number, pred: number, gold: number): { precision: number; recall: number; f1: number } {
  const precision = pred > 0 ? tp / pred : 0;
  const recall = gold > 0 ? tp / gold : 0;
  return { precision, recall, f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0 };
}
