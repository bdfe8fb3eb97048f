// A tokenizer.json run by @huggingface/tokenizers (pure JS), behind our Tokenizer face.
// The package's .d.ts files use extensionless relative re-exports, which NodeNext cannot follow,
// so its exports type as `any`: the slice we use is declared here and the class is cast once.

import * as t from 'io-ts';
import { Tokenizer as HfLibExport } from '@huggingface/tokenizers';
import { decodeOrThrow } from '../../util/decode.js';
import { findSpecialIds, SPECIAL_SPELLINGS } from './special-ids.js';
import { TokenizerFileError, type PairEncoding, type SpecialTokenIds, type Tokenizer } from './types.js';

interface HfEncoding { ids: number[]; token_type_ids?: number[] }
interface HfLib {
  encode(text: string, options: { text_pair?: string | null; add_special_tokens?: boolean; return_token_type_ids?: boolean }): HfEncoding;
  decode(ids: number[], options: { skip_special_tokens?: boolean; clean_up_tokenization_spaces?: boolean }): string;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  get_vocab(withAddedTokens?: boolean): Map<string, number>;
}
const HfLibClass = HfLibExport as new (tokenizerJson: object, config: object) => HfLib;

const AddedToken = t.intersection([t.type({ id: t.Int, content: t.string }), t.partial({ special: t.boolean })]);

/** What we check before the library sees the file: the library itself reports the rest. */
export const TokenizerJson = t.intersection([
  t.type({ model: t.UnknownRecord }),
  t.partial({ added_tokens: t.array(AddedToken), normalizer: t.unknown, pre_tokenizer: t.unknown, post_processor: t.unknown, decoder: t.unknown }),
]);
export type TokenizerJson = t.TypeOf<typeof TokenizerJson>;

/** A tokenizer_config.json special token is a string or a serialized AddedToken. */
const TokenSpelling = t.union([t.string, t.type({ content: t.string })]);
export const HfTokenizerConfig = t.partial({
  clean_up_tokenization_spaces: t.boolean,
  bos_token: t.union([TokenSpelling, t.null]),
  eos_token: t.union([TokenSpelling, t.null]),
  pad_token: t.union([TokenSpelling, t.null]),
  unk_token: t.union([TokenSpelling, t.null]),
  cls_token: t.union([TokenSpelling, t.null]),
  sep_token: t.union([TokenSpelling, t.null]),
  mask_token: t.union([TokenSpelling, t.null]),
});
export type HfTokenizerConfig = t.TypeOf<typeof HfTokenizerConfig>;

type Role = keyof typeof SPECIAL_SPELLINGS;

// Post-processors that give a pair template with segment ids (ByteLevel's does not).
const PAIR_PROCESSORS = new Set(['TemplateProcessing', 'BertProcessing', 'RobertaProcessing']);

export class HfTokenizer implements Tokenizer {
  readonly kind = 'hf-tokenizer-json' as const;
  readonly vocabSize: number;
  readonly specialTokens: SpecialTokenIds;
  readonly encodePair?: (a: string, b?: string) => PairEncoding;
  private readonly lib: HfLib;
  private readonly cleanUp: boolean;

  /** `what` names the source in errors (the file path). `config` is tokenizer_config.json's content. */
  constructor(json: unknown, config: unknown = {}, what = 'tokenizer.json') {
    const file = decodeOrThrow(TokenizerJson, json, what);
    const cfg = decodeOrThrow(HfTokenizerConfig, config, `${what}: tokenizer config`);
    // The library insists these keys exist; tokenizer.json files written by older versions may omit some.
    const full = { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, ...file, added_tokens: file.added_tokens ?? [] };
    try {
      this.lib = new HfLibClass(full, cfg);
    } catch (e) {
      throw new TokenizerFileError(`${what}: @huggingface/tokenizers rejected it: ${e instanceof Error ? e.message : String(e)}`);
    }
    // The library cleans " ." to "." by default; not unless the config asks, so decode stays encode's inverse.
    this.cleanUp = cfg.clean_up_tokenization_spaces ?? false;
    let max = -1;
    for (const id of this.lib.get_vocab(true).values()) max = Math.max(max, id);
    this.vocabSize = max + 1;
    this.specialTokens = this.findSpecials(full.added_tokens, full.model['unk_token'], cfg);
    const processor = full.post_processor as { type?: unknown } | null;
    if (processor && typeof processor.type === 'string' && PAIR_PROCESSORS.has(processor.type)) {
      this.encodePair = (a, b) => {
        const enc = this.lib.encode(a, { text_pair: b ?? null, add_special_tokens: true, return_token_type_ids: true });
        return { inputIds: enc.ids, tokenTypeIds: enc.token_type_ids ?? enc.ids.map(() => 0) };
      };
    }
  }

  /** Special added tokens and the model's unk token, by their usual spellings unless the config names them. */
  private findSpecials(added: readonly t.TypeOf<typeof AddedToken>[], unk: unknown, cfg: HfTokenizerConfig): SpecialTokenIds {
    const candidates = new Set(added.filter((a) => a.special).map((a) => a.content));
    if (typeof unk === 'string') candidates.add(unk);
    const overrides: Partial<Record<Role, string>> = {};
    for (const role of Object.keys(SPECIAL_SPELLINGS) as Role[]) {
      const spelled = cfg[`${role}_token`];
      if (spelled == null) continue;
      overrides[role] = typeof spelled === 'string' ? spelled : spelled.content;
      candidates.add(overrides[role]);
    }
    return findSpecialIds((tok) => (candidates.has(tok) ? this.lib.token_to_id(tok) : undefined), overrides);
  }

  encode(text: string): number[] {
    return this.lib.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: readonly number[]): string {
    if (ids.length === 0) return ''; // the library throws on an empty list
    for (const id of ids) {
      if (this.lib.id_to_token(id) === undefined) throw new RangeError(`decode: id ${id} is not in the vocabulary (size ${this.vocabSize})`);
    }
    return this.lib.decode([...ids], { skip_special_tokens: false, clean_up_tokenization_spaces: this.cleanUp });
  }

  tokenToId(token: string): number | undefined {
    return this.lib.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.lib.id_to_token(id);
  }
}
