import { expect } from 'chai';
import {
  accuracy, corpusBleu, entitiesOf, entityF1, exactMatch, lcsLength, macroF1, normalizeAnswer, perClassF1, rougeL, rougeLSentence, squadScores, tokenF1, tokenize13a,
} from '../src/pipelines/metrics/index.js';

const close = (a: number, b: number, what = 'value'): void => {
  expect(a, what).to.be.closeTo(b, 1e-12);
};

describe('metrics', () => {
  describe('classification', () => {
    it('accuracy', () => {
      expect(accuracy([1, 2, 3, 1], [1, 2, 2, 2])).to.equal(0.5);
      expect(accuracy([], [])).to.equal(0);
      expect(() => accuracy([1], [])).to.throw('1 predictions for 0 gold');
    });
    it('macro-F1 averages over classes present in gold or predictions', () => {
      // a: P 1, R 1/2; b: P 1/2, R 1; c: never predicted; d: never gold.
      close(macroF1(['a', 'b', 'b', 'd'], ['a', 'a', 'b', 'c']), (2 / 3 + 2 / 3 + 0 + 0) / 4);
      const per = perClassF1(['a', 'b', 'b', 'd'], ['a', 'a', 'b', 'c']);
      expect(per.get('b')).to.deep.equal({ precision: 0.5, recall: 1, f1: 2 / 3, support: 1 });
      expect(per.get('d')!.support).to.equal(0);
      expect(macroF1([0, 1], [0, 1])).to.equal(1);
    });
  });

  describe('entity F1 (seqeval default mode)', () => {
    it('reads entities with conlleval chunk rules', () => {
      const spans = (tags: string[]) => entitiesOf(tags).map((e) => `${e.type}:${e.start}-${e.end}`);
      expect(spans(['B-PER', 'I-PER', 'O', 'B-LOC'])).to.deep.equal(['PER:0-1', 'LOC:3-3']);
      expect(spans(['O', 'I-PER', 'I-PER', 'O'])).to.deep.equal(['PER:1-2']); // I- after O opens an entity
      expect(spans(['I-PER', 'I-PER'])).to.deep.equal(['PER:0-1']); // ... so does I- at the start
      expect(spans(['B-PER', 'I-LOC'])).to.deep.equal(['PER:0-0', 'LOC:1-1']); // a type change splits
      expect(spans(['B-PER', 'B-PER', 'I-PER'])).to.deep.equal(['PER:0-0', 'PER:1-2']);
      expect(spans(['S-PER', 'B-LOC', 'E-LOC', 'O'])).to.deep.equal(['PER:0-0', 'LOC:1-2']); // IOBES
      expect(spans(['O', 'O'])).to.deep.equal([]);
    });
    it('micro P/R/F1 over exact (type, start, end) matches, per type too', () => {
      const gold = [['B-PER', 'I-PER', 'O', 'B-LOC'], ['B-ORG', 'O']];
      const pred = [['B-PER', 'I-PER', 'O', 'B-ORG'], ['I-ORG', 'O']];
      const s = entityF1(pred, gold);
      close(s.precision, 2 / 3);
      close(s.recall, 2 / 3);
      close(s.f1, 2 / 3);
      expect(s.byType.get('PER')).to.deep.equal({ precision: 1, recall: 1, f1: 1, support: 1 });
      expect(s.byType.get('LOC')).to.deep.equal({ precision: 0, recall: 0, f1: 0, support: 1 });
      close(s.byType.get('ORG')!.f1, 2 / 3);
    });
    it('a partial span is a miss; no entities anywhere scores 0; lengths must agree', () => {
      const s = entityF1([['B-PER', 'O']], [['B-PER', 'I-PER']]);
      expect([s.precision, s.recall, s.f1]).to.deep.equal([0, 0, 0]);
      expect(entityF1([['O']], [['O']]).f1).to.equal(0);
      expect(() => entityF1([['O']], [['O', 'O']])).to.throw('sentence 0 has 1 predicted tags for 2 gold');
    });
  });

  describe('SQuAD', () => {
    it('normalizes as the official script', () => {
      expect(normalizeAnswer("The  Cat's, hat!")).to.equal('cats hat');
      expect(normalizeAnswer('An apple a day')).to.equal('apple day');
      expect(normalizeAnswer('théan éan')).to.equal('théan éan'); // articles only as whole (Unicode) words
      expect(normalizeAnswer('théâtre, the end')).to.equal('théâtre end');
    });
    it('exact match and token F1 take the best gold answer', () => {
      expect(exactMatch('the cats hat', ['dog', "Cat's hat."])).to.equal(1);
      expect(exactMatch('cat', ['cats'])).to.equal(0);
      close(tokenF1('a red big car', ['the big red truck']), 2 / 3); // 2 common of 3 and 3
      close(tokenF1('big car', ['x', 'a big red car']), 0.8); // P 1, R 2/3
      expect(tokenF1('red red', ['red'])).to.be.closeTo(2 / 3, 1e-12); // counts are clipped
      expect(tokenF1('the', [''])).to.equal(1); // empty matches only empty
      expect(tokenF1('x', [''])).to.equal(0);
    });
    it('averages over examples', () => {
      const s = squadScores(['cats hat', 'a red big car'], [["The Cat's hat"], ['the big red truck']]);
      close(s.exactMatch, 0.5);
      close(s.f1, (1 + 2 / 3) / 2);
    });
  });

  describe('BLEU', () => {
    it('tokenizes like sacrebleu 13a', () => {
      expect(tokenize13a("Hello, world! It's 3.5-4 km.")).to.deep.equal(['Hello', ',', 'world', '!', "It's", '3.5', '-', '4', 'km', '.']);
      expect(tokenize13a('a&amp;b (c) 1,000')).to.deep.equal(['a', '&', 'b', '(', 'c', ')', '1,000']);
    });
    it('corpus BLEU: clipped precisions, no smoothing gives 0 when an order has no match, exp smoothing', () => {
      const r = corpusBleu(['the cat sat on the mat'], [['the cat is on the mat']]);
      expect(r.precisions).to.deep.equal([5 / 6, 3 / 5, 1 / 4, 0]);
      expect(r.score).to.equal(0);
      const s = corpusBleu(['the cat sat on the mat'], [['the cat is on the mat']], { smoothing: 'exp' });
      close(s.precisions[3], 1 / 6); // 1 / (2 * 3 four-grams)
      close(s.score, Math.pow((5 / 6) * (3 / 5) * (1 / 4) * (1 / 6), 1 / 4));
    });
    it('sums counts over the corpus and applies the brevity penalty', () => {
      const r = corpusBleu(['a b c d e', 'w x y z'], [['a b c d e f g h'], ['w x y z']]);
      expect(r.precisions).to.deep.equal([1, 1, 1, 1]);
      expect([r.sysLength, r.refLength]).to.deep.equal([9, 12]);
      close(r.brevityPenalty, Math.exp(1 - 12 / 9));
      close(r.score, Math.exp(1 - 12 / 9));
    });
    it('multiple references: counts clip to the best reference; length is the closest (ties: shorter)', () => {
      const r = corpusBleu(['a b c d'], [['a b c d e', 'x y z']]);
      expect(r.refLength).to.equal(3);
      expect(r.score).to.equal(1);
      expect(corpusBleu(['a b'], [['a b']]).score).to.equal(0); // no 3-grams at all
    });
  });

  describe('ROUGE-L', () => {
    it('F from the LCS per sentence, averaged', () => {
      expect(lcsLength(['a', 'b', 'c', 'd'], ['b', 'x', 'd'])).to.equal(2);
      close(rougeLSentence('the cat sat on the mat', 'the cat is on the mat').f1, 5 / 6);
      const s2 = rougeLSentence('A B C', 'a x b y'); // LCS 2: P 2/3, R 1/2
      close(s2.f1, 4 / 7);
      close(rougeL(['the cat sat on the mat', 'A B C'], ['the cat is on the mat', 'a x b y']).f1, (5 / 6 + 4 / 7) / 2);
    });
    it('lowercases, drops punctuation, takes the best of several references; empty scores 0', () => {
      expect(rougeLSentence('Hello, World!', 'hello world').f1).to.equal(1);
      expect(rougeL(['a b'], [['x', 'a b']]).f1).to.equal(1);
      expect(rougeLSentence('', 'a').f1).to.equal(0);
    });
  });
});
