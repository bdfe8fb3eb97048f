import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BertWordPieceTokenizer, Gpt2BpeTokenizer, HfTokenizer, TokenizerFileError, buildWordPieceVocab, gpt2TokenizerJson,
  loadBertTokenizer, loadGpt2BpeTokenizer, loadTokenizer, trainByteLevelBpe, writeBertTokenizerJson, writeBertVocab,
  writeGpt2TokenizerJson, writeGpt2Vocab, type Tokenizer,
} from '../src/models/tokenizers/index.js';

// Compiled to dist/test/, so the repository root is two levels up.
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/tokenizers/', import.meta.url));
const fixture = (...parts: string[]): string => join(FIXTURES, ...parts);

async function corpusLines(): Promise<string[]> {
  return (await readFile(fixture('corpus.txt'), 'utf8')).split('\n').filter((l) => l.length > 0);
}

let scratch: string;
let dirCount = 0;
/** A fresh directory holding the given files. */
async function dirWith(files: Record<string, string>): Promise<string> {
  const dir = join(scratch, `d${dirCount++}`);
  await mkdir(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    if (e instanceof Error) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

const BPE_TEXTS: readonly string[] = [
  'Hello world',
  'The quick brown fox jumps over the lazy dog.',
  '  leading and trailing spaces  ',
  'multiple     spaces between   words',
  'new\nlines\n\nand\ttabs\t\t',
  '\n\n\n', '   ', ' ', '\t', 'a', '',
  'Digits 1234567890 and 3.14159, 1,000,000 and 2019',
  'Punctuation!? (parens) [brackets] {braces} "quotes" \'single\' — em-dash … ellipsis ¿¡',
  'Café naïve résumé Ångström Zürich crème brûlée',
  'e\u0301 combining vs é precomposed',
  '日本語のテキスト 東京 中文 한국어',
  'Emoji 🙂🚀 new ones 😀🎉👍🏽 family 👨‍👩‍👧',
  'before<|endoftext|>after',
  '<|endoftext|><|endoftext|>',
  ' <|endoftext|> spaced <|endoftext|>\n',
  'half a special <|endoftext and <|endoftext|',
  "Contractions: I'm, you're, it's, we've, they'll, I'd, can't, DON'T 'S",
  'never seen: ไทย ᚠᛇᚻ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ∮ E⋅da = Q',
  '\u00a0non-breaking\u3000ideographic\u2028line separator',
  '\r\nwindows\r\nlines\r\n',
  'control \u0000\u0001\u007f\u200b chars \ufeffbom',
  '    Indented line with\ta tab and trailing spaces   ',
];

describe('tokenizers', () => {
  before(async () => { scratch = await mkdtemp(join(tmpdir(), 'promptgraph-tok-')); });
  after(async () => { await rm(scratch, { recursive: true, force: true }); });

  describe('GPT-2 byte-level BPE', () => {
    let own: Gpt2BpeTokenizer;
    let hf: Tokenizer;
    before(async () => {
      own = await loadGpt2BpeTokenizer(fixture('bpe'));
      hf = await loadTokenizer(fixture('bpe')); // tokenizer.json is there too, and wins
    });

    it('loadTokenizer prefers tokenizer.json, which the HF library runs', () => {
      expect(hf.kind).to.equal('hf-tokenizer-json');
      expect(own.kind).to.equal('gpt2-bpe');
      expect(hf.vocabSize).to.equal(384);
      expect(own.vocabSize).to.equal(384);
      expect(own.specialTokens).to.deep.equal({ bos: 0, eos: 0 });
      expect(hf.specialTokens).to.deep.equal({ bos: 0, eos: 0 });
    });

    it('gives the same ids as @huggingface/tokenizers on unicode, whitespace, digits, punctuation and <|endoftext|>', async () => {
      for (const text of [...BPE_TEXTS, ...(await corpusLines())]) {
        expect(own.encode(text), JSON.stringify(text)).to.deep.equal(hf.encode(text));
      }
    });

    it('round-trips decode(encode(text)) exactly, in both implementations', () => {
      for (const text of BPE_TEXTS) {
        expect(own.decode(own.encode(text)), JSON.stringify(text)).to.equal(text);
        expect(hf.decode(hf.encode(text)), JSON.stringify(text)).to.equal(text);
      }
    });

    it('keeps <|endoftext|> as one token, found literally inside text', () => {
      const eot = own.tokenToId('<|endoftext|>')!;
      const ids = own.encode('a<|endoftext|>b');
      expect(ids).to.deep.equal([own.tokenToId('a'), eot, own.tokenToId('b')]);
      expect(own.encode('<|endoftext|>')).to.deep.equal([eot]);
    });

    it('merges by rank: learned words are single tokens, unseen characters fall back to bytes', () => {
      expect(own.encode(' tokens').map((i) => own.idToToken(i))).to.deep.equal(['Ġtokens']);
      expect(own.encode(' model').map((i) => own.idToToken(i))).to.deep.equal(['Ġmodel']);
      // U+0E44 THAI CHARACTER SARA AI MAIMALAI is 3 UTF-8 bytes, none merged in training.
      expect(own.encode('ไ').map((i) => own.idToToken(i))).to.deep.equal(['à', '¹', 'Ħ']);
    });

    it('decodes a cut multi-byte character as U+FFFD, as errors="replace" does', () => {
      const ids = own.encode('ไ');
      expect(own.decode(ids.slice(0, 2))).to.equal('\ufffd');
      expect(own.decode([...ids.slice(0, 1), own.tokenToId('a')!])).to.equal('\ufffda');
      expect(hf.decode(ids.slice(0, 2))).to.equal('\ufffd');
      expect(own.decode([])).to.equal('');
      expect(hf.decode([])).to.equal('');
    });

    it('encodes lone surrogates as U+FFFD bytes, like the HF library', () => {
      expect(own.encode('x\ud800y')).to.deep.equal(hf.encode('x\ud800y'));
      expect(own.decode(own.encode('x\ud800y'))).to.equal('x\ufffdy');
    });

    it('rejects ids outside the vocabulary when decoding', () => {
      expect(() => own.decode([384])).to.throw(RangeError, /id 384/);
      expect(() => hf.decode([-1])).to.throw(RangeError, /id -1/);
    });
  });

  describe('BPE trainer and writers', () => {
    it('reproduces the committed fixture byte for byte from corpus.txt', async () => {
      const model = trainByteLevelBpe(await corpusLines(), 384, ['<|endoftext|>']);
      const dir = join(scratch, 'retrained');
      await writeGpt2Vocab(dir, model.vocab, model.merges);
      await writeGpt2TokenizerJson(dir, model);
      for (const file of ['vocab.json', 'merges.txt', 'tokenizer.json']) {
        expect(await readFile(join(dir, file), 'utf8'), file).to.equal(await readFile(fixture('bpe', file), 'utf8'));
      }
    });

    it('lays out specials, then the 256 bytes, then merges, up to vocabSize', async () => {
      const model = trainByteLevelBpe(await corpusLines(), 300, ['<|endoftext|>', '<|pad|>']);
      expect(model.vocab.size).to.equal(300);
      expect(model.vocab.get('<|endoftext|>')).to.equal(0);
      expect(model.vocab.get('<|pad|>')).to.equal(1);
      expect(model.vocab.get('!')).to.equal(2 + 0x21);
      expect(model.vocab.get('Ġ')).to.equal(2 + 0x20);
      expect(model.merges.length).to.be.at.least(300 - 258);
      for (const [a, b] of model.merges) expect(model.vocab.has(a + b)).to.equal(true);
    });

    it('does not depend on the order of the corpus (deterministic tie-break)', async () => {
      const lines = await corpusLines();
      const a = trainByteLevelBpe(lines, 360);
      const b = trainByteLevelBpe([...lines].reverse(), 360);
      expect([...b.vocab]).to.deep.equal([...a.vocab]);
      expect(b.merges).to.deep.equal(a.merges);
    });

    it('stops early when the corpus has no pairs left, and refuses a vocabSize below the base', () => {
      const model = trainByteLevelBpe(['ab ab'], 1000);
      expect(model.merges.map((m) => m.join(' '))).to.deep.equal(['a b', 'Ġ ab']);
      expect(model.vocab.size).to.equal(259);
      expect(() => trainByteLevelBpe(['x'], 256)).to.throw(RangeError, /below the 257 base tokens/);
    });

    it('learns nothing from special tokens in the corpus', () => {
      const model = trainByteLevelBpe(['<|endoftext|><|endoftext|><|endoftext|>'], 400);
      expect(model.merges).to.deep.equal([]);
    });

    it('writes extra special tokens to added_tokens.json, which the loader matches literally', async () => {
      const model = trainByteLevelBpe(await corpusLines(), 320, ['<|endoftext|>', '<|pad|>']);
      const dir = join(scratch, 'with-pad');
      await writeGpt2Vocab(dir, model.vocab, model.merges, model.specialTokens);
      const tok = await loadTokenizer(dir);
      expect(tok.kind).to.equal('gpt2-bpe');
      expect(tok.specialTokens).to.deep.equal({ bos: 0, eos: 0, pad: 1 });
      expect(tok.encode('x<|pad|><|pad|>')).to.deep.equal([tok.tokenToId('x'), 1, 1]);
      const hf = new HfTokenizer(gpt2TokenizerJson(model));
      for (const text of BPE_TEXTS) expect(hf.encode(text + '<|pad|>'), text).to.deep.equal(tok.encode(text + '<|pad|>'));
    });

    it('matches the HF library on a freshly trained in-memory model too', async () => {
      const model = trainByteLevelBpe([...(await corpusLines()), ...BPE_TEXTS], 420);
      const own = new Gpt2BpeTokenizer(model);
      const hf = new HfTokenizer(gpt2TokenizerJson(model));
      for (const text of BPE_TEXTS) expect(own.encode(text), JSON.stringify(text)).to.deep.equal(hf.encode(text));
    });
  });

  // Hand-written expectations for the uncased fixture vocabulary (test/fixtures/tokenizers/bert-uncased/vocab.txt).
  const UNCASED_CASES: readonly (readonly [string, readonly string[]])[] = [
    ['Hello, World!', ['hello', ',', 'world', '!']],
    ['The café résumé was naïve.', ['the', 'cafe', 'res', '##ume', 'was', 'na', '##ive', '.']],
    ['Tokenizations work; unplayable zebras!', ['token', '##ization', '##s', 'work', ';', 'un', '##play', '##able', '[UNK]', '!']],
    ['I saw a [MASK] in 東京.', ['i', 'saw', 'a', '[MASK]', 'in', '東', '京', '.']],
    ["don't stop-me now", ['don', "'", 't', 'stop', '-', 'me', 'now']],
    ['  hello\t\tworld \u0000\u200b!\n', ['hello', 'world', '!']],
    ['HELLO [MASK]? [mask]', ['hello', '[MASK]', '?', '[', 'mask', ']']],
    ['Playing played plays', ['play', '##ing', 'play', '##ed', 'play', '##s']],
    ['$50.05 + 3 = 8', ['$', '5', '##0', '.', '0', '##5', '+', '3', '=', '8']],
    ['€10 price', ['[UNK]', 'price']], // € is a symbol (Sc), not punctuation: "€10" stays one word
    ['hello[SEP]world[CLS]', ['hello', '[SEP]', 'world', '[CLS]']],
    ['', []],
    ['\u00a0\u3000 ', []],
  ];

  const CASED_CASES: readonly (readonly [string, readonly string[]])[] = [
    ['Hello, World!', ['Hello', ',', 'World', '!']],
    ['Café résumé', ['Café', 'résumé']],
    ['HELLO hello', ['H', '##EL', '##LO', 'hello']],
    ['The [MASK].', ['The', '[MASK]', '.']],
    ['cafe Cafe', ['[UNK]', '[UNK]']],
  ];

  describe('BERT WordPiece', () => {
    let uncased: BertWordPieceTokenizer;
    let cased: BertWordPieceTokenizer;
    before(async () => {
      uncased = await loadBertTokenizer(fixture('bert-uncased'));
      cased = await loadBertTokenizer(fixture('bert-cased'));
    });

    it('loadTokenizer reads vocab.txt, lower-casing unless tokenizer_config.json says otherwise', async () => {
      const u = await loadTokenizer(fixture('bert-uncased'));
      const c = await loadTokenizer(fixture('bert-cased'));
      expect(u.kind).to.equal('bert-wordpiece');
      expect(u.vocabSize).to.equal(69);
      expect(u.specialTokens).to.deep.equal({ pad: 0, unk: 1, cls: 2, sep: 3, mask: 4 });
      expect(uncased.lowerCase).to.equal(true);
      expect(cased.lowerCase).to.equal(false);
      expect(c.encode('Hello')).to.deep.equal([8]);
    });

    it('tokenizes uncased text as written by hand (accents, punctuation, ##, [UNK], CJK, [MASK])', () => {
      for (const [text, tokens] of UNCASED_CASES) {
        expect(uncased.tokenize(text), JSON.stringify(text)).to.deep.equal(tokens);
        expect(uncased.encode(text)).to.deep.equal(tokens.map((t) => uncased.tokenToId(t)));
      }
    });

    it('tokenizes cased text as written by hand (case and accents kept)', () => {
      for (const [text, tokens] of CASED_CASES) expect(cased.tokenize(text), JSON.stringify(text)).to.deep.equal(tokens);
    });

    it('makes a word over 100 characters one [UNK]', () => {
      expect(uncased.tokenize('0'.repeat(100))).to.deep.equal(['0', ...Array<string>(99).fill('##0')]);
      expect(uncased.tokenize('0'.repeat(101))).to.deep.equal(['[UNK]']);
    });

    it('encodes pairs as [CLS] a [SEP] b [SEP] with segment ids', () => {
      const id = (t: string): number => uncased.tokenToId(t)!;
      expect(uncased.encodePair('Hello world', 'the café')).to.deep.equal({
        inputIds: [id('[CLS]'), id('hello'), id('world'), id('[SEP]'), id('the'), id('cafe'), id('[SEP]')],
        tokenTypeIds: [0, 0, 0, 0, 1, 1, 1],
      });
      expect(uncased.encodePair('hello')).to.deep.equal({ inputIds: [2, id('hello'), 3], tokenTypeIds: [0, 0, 0] });
    });

    it('decodes by joining tokens and removing " ##"', () => {
      expect(uncased.decode(uncased.encode('Tokenizations work, unplayable!'))).to.equal('tokenizations work , unplayable !');
      expect(uncased.decode(uncased.encodePair('a', 'b').inputIds)).to.equal('[CLS] a [SEP] [UNK] [SEP]');
      expect(() => uncased.decode([69])).to.throw(RangeError, /id 69/);
    });

    for (const [name, lowerCase, cases] of [['uncased', true, UNCASED_CASES], ['cased', false, CASED_CASES]] as const) {
      it(`agrees with @huggingface/tokenizers on a tokenizer.json for the same ${name} vocabulary`, async () => {
        const own = name === 'uncased' ? uncased : cased;
        const tokens = (await readFile(fixture(`bert-${name}`, 'vocab.txt'), 'utf8')).trimEnd().split('\n');
        const dir = join(scratch, `hf-bert-${name}`);
        await writeBertTokenizerJson(dir, tokens, { lowerCase });
        const hf = await loadTokenizer(dir);
        expect(hf.kind).to.equal('hf-tokenizer-json');
        expect(hf.specialTokens).to.deep.equal(own.specialTokens);
        const texts = [...cases.map(([text]) => text), '0'.repeat(100), '0'.repeat(101), 'x\u0301y ǅ ﬁ Ωmega 𝔘 한국어'];
        for (const text of texts) {
          expect(hf.encode(text), JSON.stringify(text)).to.deep.equal(own.encode(text));
          expect(hf.encodePair!(text, 'hello world')).to.deep.equal(own.encodePair(text, 'hello world'));
          expect(hf.encodePair!(text)).to.deep.equal(own.encodePair(text));
          expect(hf.decode(own.encode(text))).to.equal(own.decode(own.encode(text)));
        }
      });
    }
  });

  describe('WordPiece vocabulary builder', () => {
    it('puts specials first, then every character alone and as ##, then learned pieces', async () => {
      const lines = await corpusLines();
      const tokens = buildWordPieceVocab(lines, 400);
      expect(tokens.slice(0, 5)).to.deep.equal(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
      expect(tokens.length).to.be.at.most(400);
      expect(new Set(tokens).size).to.equal(tokens.length);
      for (const c of ['a', '東', 'ß', '🙂', ',']) {
        expect(tokens, c).to.include(c);
        expect(tokens, c).to.include('##' + c);
      }
      expect(tokens).to.include('the');
      expect(tokens).to.include('tokens');
      expect(tokens).to.not.include('The'); // lower-cased by default
    });

    it('is deterministic and gives a vocabulary that covers its corpus without [UNK]', async () => {
      const lines = await corpusLines();
      const tokens = buildWordPieceVocab(lines, 300);
      expect(buildWordPieceVocab([...lines].reverse(), 300)).to.deep.equal(tokens);
      const dir = join(scratch, 'built-wordpiece');
      await writeBertVocab(dir, tokens);
      const tok = await loadTokenizer(dir);
      expect(tok.kind).to.equal('bert-wordpiece');
      expect(tok.vocabSize).to.equal(tokens.length);
      for (const line of lines) expect(tok.encode(line), line).to.not.include(tok.specialTokens.unk);
      expect(tok.decode(tok.encode('the model'))).to.equal('the model');
    });

    it('keeps case when asked, and refuses a vocabSize below its alphabet', async () => {
      const tokens = buildWordPieceVocab(['The The the'], 40, { lowerCase: false });
      expect(tokens).to.include('The');
      const dir = join(scratch, 'built-cased');
      await writeBertVocab(dir, tokens, { lowerCase: false });
      expect((await loadTokenizer(dir)).encode('The')).to.deep.equal([tokens.indexOf('The')]);
      expect(() => buildWordPieceVocab(['abc'], 10)).to.throw(RangeError, /below the 11 base tokens/);
    });
  });

  describe('bad files', () => {
    const VOCAB = JSON.stringify({ a: 0, b: 1, ab: 2 });

    it('names the directory and the files looked for when there is no tokenizer', async () => {
      const empty = await dirWith({});
      const e = await rejection(loadTokenizer(empty));
      expect(e).to.be.instanceOf(TokenizerFileError);
      expect(e.message).to.include(empty).and.include('tokenizer.json').and.include('vocab.json + merges.txt').and.include('vocab.txt');
      const half = await dirWith({ 'vocab.json': VOCAB });
      expect((await rejection(loadTokenizer(half))).message).to.include('merges.txt is not');
      expect((await rejection(loadTokenizer(join(scratch, 'nowhere')))).message).to.include('does not exist');
    });

    it('rejects a vocab.json that is not an object of string -> integer, naming the file and key', async () => {
      for (const [text, pattern] of [
        ['[1, 2]', /vocab\.json: at \$: expected/],
        ['{"a": 0, "b": "one"}', /vocab\.json: at \$\.b: expected Int, got "one"/],
        ['{"a": 0, "b": 1.5}', /vocab\.json: at \$\.b: expected Int, got 1\.5/],
        ['{"a": 0, "b": -1}', /vocab\.json: key "b": id -1 is negative/],
        ['{"a": 0, "b": 0}', /vocab\.json: key "b": id 0 is already the id of "a"/],
        ['{"a": 0,', /vocab\.json: not valid JSON/],
        ['{"a": 0, "\u4e00": 1}', /vocab\.json: key "\u4e00": not a byte-level BPE token/],
      ] as const) {
        const dir = await dirWith({ 'vocab.json': text, 'merges.txt': '#version: 0.2\n' });
        const e = await rejection(loadTokenizer(dir));
        expect(e.message, text).to.match(pattern);
        expect(e.message, text).to.include(join(dir, 'vocab.json'));
      }
    });

    it('rejects a merges.txt line without two parts or with tokens outside the vocabulary, naming the line', async () => {
      for (const [text, pattern] of [
        ['#version: 0.2\na b\nab\n', /merges\.txt: line 3: expected two tokens separated by one space, got "ab"/],
        ['a b\na b ab\n', /merges\.txt: line 2: expected two tokens/],
        ['#version: 0.2\n\na b\n', /merges\.txt: line 2: expected two tokens/],
        ['#version: 0.2\na c\n', /merges\.txt: line 2: "c" is not in the vocabulary/],
        ['#version: 0.2\nb a\n', /merges\.txt: line 2: "ba" is not in the vocabulary/],
      ] as const) {
        const dir = await dirWith({ 'vocab.json': VOCAB, 'merges.txt': text });
        expect((await rejection(loadTokenizer(dir))).message, text).to.match(pattern);
      }
      const ok = await loadTokenizer(await dirWith({ 'vocab.json': VOCAB, 'merges.txt': 'a b\r\n' }));
      expect(ok.encode('ab')).to.deep.equal([2]);
    });

    it('rejects an added_tokens.json whose ids clash with vocab.json', async () => {
      const dir = await dirWith({ 'vocab.json': VOCAB, 'merges.txt': '', 'added_tokens.json': '{"<|pad|>": 1}' });
      expect((await rejection(loadTokenizer(dir))).message).to.match(/added_tokens\.json: key "<\|pad\|>": id 1 is already the id of "b"/);
    });

    it('rejects a vocab.txt with duplicate or empty tokens or no [UNK], and a bad tokenizer_config.json', async () => {
      for (const [files, pattern] of [
        [{ 'vocab.txt': '[UNK]\na\nb\na\n' }, /vocab\.txt: line 4: "a" already appears on line 2/],
        [{ 'vocab.txt': '[UNK]\n\nb\n' }, /vocab\.txt: line 2: empty token/],
        [{ 'vocab.txt': '' }, /vocab\.txt: no tokens/],
        [{ 'vocab.txt': 'a\nb\n' }, /vocab\.txt: .*no \[UNK\] token/],
        [{ 'vocab.txt': '[UNK]\n', 'tokenizer_config.json': '{"do_lower_case": "yes"}' }, /tokenizer_config\.json: at \$\.do_lower_case: expected boolean, got "yes"/],
      ] as const) {
        expect((await rejection(loadTokenizer(await dirWith(files)))).message).to.match(pattern);
      }
    });

    it('rejects a tokenizer.json the library cannot use, naming the file', async () => {
      let dir = await dirWith({ 'tokenizer.json': '{"added_tokens": []}' });
      expect((await rejection(loadTokenizer(dir))).message).to.match(/tokenizer\.json: at \$\.model: expected/);
      dir = await dirWith({ 'tokenizer.json': '{"model": {"type": "Nope"}}' });
      const e = await rejection(loadTokenizer(dir));
      expect(e).to.be.instanceOf(TokenizerFileError);
      expect(e.message).to.include(join(dir, 'tokenizer.json')).and.include('Unknown TokenizerModel type');
    });
  });
});
