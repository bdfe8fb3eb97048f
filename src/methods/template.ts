// P-tuning templates (the data side of P-tuning v1): text such as
//   `[P*3] {premise} [P*3] ? {hypothesis} [P*3] [MASK]`
// where `[P]` is one virtual token, `[P*k]` k of them, `{slot}` the example's field `slot`,
// `[MASK]` the answer position, and any other text real anchor tokens. `\[ \] \{ \} \\` are
// literal characters. Applying a template to an example gives the graph's inputs: token ids
// (a placeholder id at virtual positions), `prompt_positions` (the virtual token's index 0..P-1
// there, -1 elsewhere: the p-tuning transform replaces those embeddings) and `mask_position`.
//
// Whitespace: the space between template items separates them; an item written after whitespace
// is encoded with one leading space unless it starts the sequence (GPT-2's byte-level BPE needs
// it: " Paris" and "Paris" are different tokens; WordPiece ignores it). `{x}?` attaches "?".
//
// [MASK]: with a tokenizer that has a mask token (BERT) it is that token, and mask_position is
// its index. Without one (GPT-2) it emits nothing: it must end the template, and mask_position
// is the last real token, whose next-token prediction is the answer.
//
// Truncation: when the example does not fit `maxLength`, slot text is cut (never anchors,
// virtual tokens, [MASK] or special tokens): one token at a time from the end of the currently
// longest slot (Hugging Face's `longest_first`), possibly mid-word.

import { hostTensor, type HostTensor } from '../ops/index.js';
import type { Tokenizer } from '../models/tokenizers/index.js';

export class TemplateError extends Error {
  override name = 'TemplateError';
}

export type TemplateItem =
  | { readonly kind: 'virtual'; readonly count: number }
  | { readonly kind: 'mask'; readonly spaceBefore: boolean }
  | { readonly kind: 'slot'; readonly name: string; readonly spaceBefore: boolean }
  | { readonly kind: 'text'; readonly text: string; readonly spaceBefore: boolean };

export interface Template {
  readonly source: string;
  readonly items: readonly TemplateItem[];
  /** Number of virtual tokens (the sum of the `[P*k]`): the method's `virtualTokens`. */
  readonly virtualTokens: number;
  readonly slots: readonly string[];
}

const SLOT_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const ESCAPABLE = new Set(['[', ']', '{', '}', '\\']);

export function parseTemplate(source: string): Template {
  const items: TemplateItem[] = [];
  let text = '';
  let space = false; // whitespace seen since the last item
  const at = (i: number): string => `at column ${i + 1} of template ${JSON.stringify(source)}`;
  const flushText = (): void => {
    const lead = /^\s/.test(text), trimmed = text.trim();
    if (trimmed) items.push({ kind: 'text', text: trimmed, spaceBefore: space || lead });
    if (text) space = trimmed ? /\s$/.test(text) : space || lead;
    text = '';
  };
  const closing = (i: number, open: string, close: string): number => {
    for (let j = i + 1; j < source.length; j++) {
      if (source[j] === close) return j;
      if (source[j] === open || source[j] === '[' || source[j] === '{') break;
    }
    throw new TemplateError(`unbalanced '${open}' ${at(i)}: no '${close}' closes it (write \\${open} for a literal '${open}')`);
  };
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      const next = source[i + 1];
      if (next === undefined || !ESCAPABLE.has(next)) throw new TemplateError(`'\\' ${at(i)} must escape one of [ ] { } \\`);
      text += next;
      i++;
    } else if (c === '[') {
      const j = closing(i, '[', ']');
      const body = source.slice(i + 1, j).trim();
      flushText();
      const k = /^P(?:\s*\*\s*(\d+))?$/.exec(body);
      if (k) {
        const count = k[1] === undefined ? 1 : Number(k[1]);
        if (count < 1) throw new TemplateError(`[P*${k[1]}] ${at(i)}: the count must be at least 1`);
        items.push({ kind: 'virtual', count });
      } else if (body === 'MASK') {
        items.push({ kind: 'mask', spaceBefore: space });
      } else {
        throw new TemplateError(`unknown bracket form '[${body}]' ${at(i)}: expected [P], [P*k] or [MASK] (write \\[ for a literal '[')`);
      }
      space = false;
      i = j;
    } else if (c === '{') {
      const j = closing(i, '{', '}');
      const name = source.slice(i + 1, j).trim();
      if (!SLOT_NAME.test(name)) throw new TemplateError(`bad slot name '{${name}}' ${at(i)}: expected a name like {premise}`);
      flushText();
      items.push({ kind: 'slot', name, spaceBefore: space });
      space = false;
      i = j;
    } else if (c === ']' || c === '}') {
      throw new TemplateError(`unbalanced '${c}' ${at(i)}: nothing opens it (write \\${c} for a literal '${c}')`);
    } else {
      text += c;
    }
  }
  flushText();
  const masks = items.filter((it) => it.kind === 'mask').length;
  if (masks !== 1) throw new TemplateError(`template ${JSON.stringify(source)} has ${masks} [MASK]; it needs exactly one (the answer position)`);
  const virtualTokens = items.reduce((n, it) => n + (it.kind === 'virtual' ? it.count : 0), 0);
  const slots = [...new Set(items.flatMap((it) => (it.kind === 'slot' ? [it.name] : [])))];
  return { source, items, virtualTokens, slots };
}

export interface TemplateOptions {
  /** Every example is padded (right) to this length; slot text is truncated to fit it. */
  readonly maxLength: number;
  /** The method's `virtualTokens`: the template must hold exactly this many (checked here, not at run time). */
  readonly virtualTokens?: number;
  /** `mask-token` (BERT) or `next-token` (GPT-2); by default `mask-token` when the tokenizer has a mask token. */
  readonly answer?: 'mask-token' | 'next-token';
  /** Wrap as `[CLS] ... [SEP]` where the tokenizer has both (default true). */
  readonly specialTokens?: boolean;
  /** Id put at virtual positions (their embeddings are replaced anyway); default unk, else pad, else 0. */
  readonly placeholderId?: number;
  /** Id of padding positions; default pad, else eos, else 0. */
  readonly padId?: number;
}

/** One example as the graph's inputs (all of length maxLength but mask_position). */
export interface TemplatedExample {
  readonly input_ids: number[];
  readonly attention_mask: number[];
  readonly token_type_ids: number[];
  /** Index of the virtual token (0..P-1) at its positions, -1 elsewhere. */
  readonly prompt_positions: number[];
  /** The [MASK] token (BERT), or the last real token whose next-token prediction is the answer (GPT-2). */
  readonly mask_position: number;
  /** Real (unpadded) length. */
  readonly length: number;
  /** Slot tokens cut to fit maxLength. */
  readonly truncated: number;
}

type Piece = { kind: 'fixed'; ids: number[]; virtual?: number; mask?: boolean } | { kind: 'slot'; ids: number[] };

export function applyTemplate(template: Template | string, example: Readonly<Record<string, string>>, tokenizer: Tokenizer, opts: TemplateOptions): TemplatedExample {
  const tpl = typeof template === 'string' ? parseTemplate(template) : template;
  if (opts.virtualTokens !== undefined && opts.virtualTokens !== tpl.virtualTokens) {
    throw new TemplateError(`template ${JSON.stringify(tpl.source)} has ${tpl.virtualTokens} virtual tokens, but the method has virtualTokens ${opts.virtualTokens}`);
  }
  const sp = tokenizer.specialTokens;
  const answer = opts.answer ?? (sp.mask !== undefined ? 'mask-token' : 'next-token');
  if (answer === 'mask-token' && sp.mask === undefined) throw new TemplateError(`answer 'mask-token' needs a tokenizer with a mask token (this ${tokenizer.kind} tokenizer has none)`);
  if (answer === 'next-token' && tpl.items[tpl.items.length - 1].kind !== 'mask') {
    throw new TemplateError(`template ${JSON.stringify(tpl.source)}: with next-token answers (GPT-2) [MASK] must end the template: the answer is the token after the prompt`);
  }
  const placeholder = opts.placeholderId ?? sp.unk ?? sp.pad ?? 0;
  const wrap = (opts.specialTokens ?? true) && sp.cls !== undefined && sp.sep !== undefined;

  const pieces: Piece[] = [];
  if (wrap) pieces.push({ kind: 'fixed', ids: [sp.cls!] });
  let virtual = 0;
  const spaced = (s: string, before: boolean): string => (before && pieces.length > 0 ? ` ${s}` : s);
  for (const it of tpl.items) {
    if (it.kind === 'virtual') {
      for (let k = 0; k < it.count; k++) pieces.push({ kind: 'fixed', ids: [placeholder], virtual: virtual++ });
    } else if (it.kind === 'mask') {
      pieces.push({ kind: 'fixed', ids: answer === 'mask-token' ? [sp.mask!] : [], mask: true });
    } else if (it.kind === 'text') {
      pieces.push({ kind: 'fixed', ids: tokenizer.encode(spaced(it.text, it.spaceBefore)) });
    } else {
      const value = example[it.name];
      if (value === undefined) {
        throw new TemplateError(`template slot {${it.name}} is not a field of the example; its fields: ${Object.keys(example).join(', ') || 'none'}`);
      }
      const trimmed = value.trim();
      pieces.push({ kind: 'slot', ids: trimmed ? tokenizer.encode(spaced(trimmed, it.spaceBefore)) : [] });
    }
  }
  if (wrap) pieces.push({ kind: 'fixed', ids: [sp.sep!] });

  const truncated = truncateSlots(pieces, opts.maxLength, tpl.source);
  const ids: number[] = [], positions: number[] = [];
  let mask = -1;
  for (const p of pieces) {
    if (p.kind === 'fixed' && p.mask) mask = answer === 'mask-token' ? ids.length : ids.length - 1;
    for (const id of p.ids) {
      ids.push(id);
      positions.push(p.kind === 'fixed' && p.virtual !== undefined ? p.virtual : -1);
    }
  }
  if (mask < 0) throw new TemplateError(`template ${JSON.stringify(tpl.source)}: nothing precedes [MASK], so there is no position to predict the answer from`);
  const length = ids.length;
  const pad = opts.maxLength - length;
  const padId = opts.padId ?? sp.pad ?? sp.eos ?? 0;
  return {
    input_ids: [...ids, ...new Array<number>(pad).fill(padId)],
    attention_mask: [...new Array<number>(length).fill(1), ...new Array<number>(pad).fill(0)],
    token_type_ids: new Array<number>(opts.maxLength).fill(0),
    prompt_positions: [...positions, ...new Array<number>(pad).fill(-1)],
    mask_position: mask,
    length,
    truncated,
  };
}

/** Cuts slot tokens (longest slot first, from its end) until everything fits; returns how many were cut. */
function truncateSlots(pieces: Piece[], maxLength: number, source: string): number {
  const fixed = pieces.reduce((n, p) => n + (p.kind === 'fixed' ? p.ids.length : 0), 0);
  if (fixed > maxLength) {
    throw new TemplateError(`template ${JSON.stringify(source)} alone takes ${fixed} tokens (anchors, virtual tokens, [MASK], special tokens), more than maxLength ${maxLength}`);
  }
  const slots = pieces.filter((p) => p.kind === 'slot');
  let over = fixed + slots.reduce((n, p) => n + p.ids.length, 0) - maxLength;
  const cut = Math.max(0, over);
  while (over > 0) {
    const longest = slots.reduce((a, p) => (p.ids.length > a.ids.length ? p : a));
    longest.ids.pop();
    over--;
  }
  return cut;
}

/** Stacks templated examples into the [B, S] / [B] i32 feeds the p-tuning and verbalizer graphs read. */
export function templateFeeds(examples: readonly TemplatedExample[]): Record<string, HostTensor> {
  if (examples.length === 0) throw new TemplateError('templateFeeds needs at least one example');
  const S = examples[0].input_ids.length, B = examples.length;
  if (examples.some((e) => e.input_ids.length !== S)) throw new TemplateError('templateFeeds: examples were padded to different lengths; apply the template with one maxLength');
  const stack = (k: 'input_ids' | 'attention_mask' | 'token_type_ids' | 'prompt_positions'): HostTensor => hostTensor([B, S], 'i32', examples.flatMap((e) => e[k]));
  return {
    input_ids: stack('input_ids'), attention_mask: stack('attention_mask'), token_type_ids: stack('token_type_ids'),
    prompt_positions: stack('prompt_positions'), mask_position: hostTensor([B], 'i32', examples.map((e) => e.mask_position)),
  };
}
