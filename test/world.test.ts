import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildWorldDatasets, classification, CONLL_FILES, datasetVocabulary, E2E_FILES, factStatements, generateWorld, gptPrefix,
  GLUE_FILES, NER_LABELS, parseMr, pretrainCorpus, probing, RELATIONS, ratingPolarity, relationSpec, SPLITS, tableToText,
  worldFacts, writeWorldDatasets, type WorldDatasets, type WorldDatasetOptions,
} from '../src/pipelines/world/index.js';

const SMALL: WorldDatasetOptions = {
  corpus: { sentences: 3000 },
  tableToText: { train: 60, dev: 10, test: 10 },
  classification: { train: 60, dev: 20, test: 20 },
  ner: { train: 60, dev: 20, test: 20 },
};

describe('synthetic world', () => {
  let d: WorldDatasets;
  let corpusText: string;
  before(() => {
    d = buildWorldDatasets(7);
    corpusText = '\n' + d.corpus.join('\n') + '\n';
  });

  describe('determinism', () => {
    it('gives identical output for the same seed', () => {
      expect(buildWorldDatasets(3, SMALL)).to.deep.equal(buildWorldDatasets(3, SMALL));
    });

    it('gives different output for a different seed', () => {
      const a = buildWorldDatasets(3, SMALL), b = buildWorldDatasets(4, SMALL);
      expect(a.world).to.not.deep.equal(b.world);
      expect(a.corpus).to.not.deep.equal(b.corpus);
      expect(a.tableToText.train).to.not.deep.equal(b.tableToText.train);
      // The corpus seed can be varied on its own.
      const w = generateWorld(3);
      expect(pretrainCorpus(w, { sentences: 2000, seed: 1 })).to.not.deep.equal(pretrainCorpus(w, { sentences: 2000, seed: 2 }));
    });

    it('rejects impossible sizes', () => {
      expect(() => generateWorld(1, { restaurants: 1 })).to.throw(/restaurants/);
      expect(() => pretrainCorpus(generateWorld(1), { sentences: 100 })).to.throw(/cannot state/);
      expect(() => tableToText(generateWorld(1), { split: 'dev', sizes: { train: 10, dev: 100000, test: 10 } })).to.throw(/distinct/);
    });
  });

  describe('text', () => {
    it('keeps the whole vocabulary small', () => {
      expect(datasetVocabulary(d).size).to.be.at.most(600);
    });

    it('uses lowercase ASCII words and basic punctuation, sentences of at most 64 words', () => {
      const bad = d.corpus.filter((s) => !/^[a-z0-9.,?' -]+$/.test(s) || s.split(' ').some((w) => w === ''));
      expect(bad.slice(0, 3)).to.deep.equal([]);
      expect(Math.max(...d.corpus.map((s) => s.split(' ').length))).to.be.at.most(64);
      const refs = SPLITS.flatMap((s) => d.tableToText[s].flatMap((r) => r.references));
      expect(Math.max(...refs.map((s) => s.split(' ').length))).to.be.at.most(64);
    });

    it('has at least 15 corpus templates per relation, disjoint from the query templates', () => {
      for (const r of RELATIONS) {
        expect(new Set(r.corpus).size, r.id).to.be.at.least(15);
        for (const q of r.queries) expect(r.corpus, r.id).to.not.include(q);
      }
    });
  });

  describe('table-to-text', () => {
    it('splits by venue', () => {
      const names = SPLITS.map((s) => new Set(d.tableToText[s].map((r) => r.attributes.name)));
      expect(d.tableToText.train.length).to.equal(600);
      expect(d.tableToText.dev.length).to.equal(100);
      for (let i = 0; i < 3; i++) for (let j = i + 1; j < 3; j++) for (const n of names[i]) expect(names[j].has(n), n).to.equal(false);
    });

    it('has distinct MRs with E2E syntax, 1-3 references mentioning name, food and near', () => {
      for (const s of SPLITS) {
        const mrs = d.tableToText[s].map((r) => r.mr);
        expect(new Set(mrs).size).to.equal(mrs.length);
        for (const r of d.tableToText[s]) {
          expect(r.mr).to.match(/^name\[[a-z ]+\](, [A-Za-z ]+\[[a-z0-9 -]+\])+$/);
          expect(parseMr(r.mr)).to.deep.equal(r.attributes);
          expect(r.references.length).to.be.within(1, 3);
          for (const ref of r.references) {
            for (const v of [r.attributes.name, r.attributes.food, r.attributes.near]) if (v) expect(` ${ref} `, r.mr).to.include(` ${v} `);
          }
        }
      }
    });

    it('agrees with the world', () => {
      const byName = new Map(d.world.restaurants.map((r) => [r.name, r]));
      for (const r of d.tableToText.train) {
        const v = byName.get(r.attributes.name)!;
        if (r.attributes.food) expect(r.attributes.food).to.equal(v.food);
        if (r.attributes['customer rating']) expect(r.attributes['customer rating']).to.equal(v.customerRating);
      }
    });
  });

  describe('probing', () => {
    it('splits facts per relation with no fact in two splits', () => {
      const keys = SPLITS.map((s) => d.probing[s].map((p) => `${p.relation}|${p.subject}`));
      const all = keys.flat();
      expect(new Set(all).size).to.equal(all.length);
      expect(all.length).to.equal(worldFacts(d.world).length);
      for (const s of SPLITS) for (const r of RELATIONS) expect(d.probing[s].some((p) => p.relation === r.id), `${s} ${r.id}`).to.equal(true);
      expect(all.length).to.be.within(250, 400);
    });

    it('asks for single-word objects through [MASK] and GPT prompts', () => {
      for (const p of SPLITS.flatMap((s) => d.probing[s])) {
        expect(p.object).to.match(/^[a-z]+$/);
        expect(p.manualPrompt).to.equal(p.templates[0]);
        p.masked.forEach((m, i) => {
          expect(m.split('[MASK]').length, m).to.equal(2);
          expect(m).to.include(p.subject);
          expect(m.replace('[MASK]', p.object).startsWith(`${p.prompts[i]} ${p.object}`), m).to.equal(true);
        });
      }
    });

    it('states every fact in the corpus at least twice', () => {
      const counts = new Map<string, number>();
      for (const s of d.corpus) counts.set(s, (counts.get(s) ?? 0) + 1);
      for (const f of worldFacts(d.world)) {
        const n = factStatements(d.world, f).reduce((a, s) => a + (counts.get(s) ?? 0), 0);
        expect(n, `${f.subject} ${f.relation} ${f.object}`).to.be.at.least(2);
      }
    });

    it('never uses a query phrasing in the corpus', () => {
      const esc = (w: string) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      for (const r of RELATIONS) {
        const subjects = worldFacts(d.world).filter((f) => f.relation === r.id).map((f) => esc(f.subject));
        for (const q of r.queries) {
          // The GPT prompt (everything before [Y]) with any subject of the relation ...
          const prefix = gptPrefix(q).split(' ').map((w) => (w === '[X]' ? `(?:${subjects.join('|')})` : esc(w))).join(' ');
          expect(new RegExp(`(?<=[\\n ])${prefix}(?=[\\n ])`).test(corpusText), q).to.equal(false);
          // ... and every literal run of two or more words between slots.
          for (const run of q.split(/\s*\[[A-Z]+\]\s*/).filter((x) => x.split(' ').length >= 2)) {
            expect(corpusText.includes(` ${run} `) || corpusText.includes(`\n${run} `), `"${run}" of ${q}`).to.equal(false);
          }
        }
      }
    });

    it('has query templates usable by GPT-2 ([X] before a bare [Y])', () => {
      for (const r of RELATIONS) {
        for (const q of r.queries) {
          expect(q.indexOf('[X]'), q).to.be.lessThan(q.indexOf('[Y]'));
          expect(q).to.not.match(/\[Y\./);
        }
      }
      expect(relationSpec('P19').queries[0]).to.equal('the birthplace of [X] is [Y] .');
    });

    it('splits the same way on every call', () => {
      expect(probing(d.world, { split: 'test' })).to.deep.equal(d.probing.test);
    });
  });

  describe('classification', () => {
    it('balances labels within 10% in every split', () => {
      for (const task of ['sentiment', 'topic'] as const) {
        for (const s of SPLITS) {
          const ex = d.classification[task][s];
          const labels = task === 'sentiment' ? 2 : 3;
          const counts = Array.from({ length: labels }, (_, l) => ex.filter((e) => e.label === l).length);
          const mean = ex.length / labels;
          for (const c of counts) expect(Math.abs(c / mean - 1), `${task} ${s}`).to.be.at.most(0.1);
        }
      }
    });

    it('shares no sentence across splits and numbers examples', () => {
      for (const task of ['sentiment', 'topic'] as const) {
        const all = SPLITS.flatMap((s) => d.classification[task][s].map((e) => e.sentence));
        expect(new Set(all).size).to.equal(all.length);
        expect(d.classification[task].train.map((e) => e.idx)).to.deep.equal(d.classification[task].train.map((_, i) => i));
      }
      expect(d.classification.sentiment.train.length).to.equal(1000);
    });

    it('names only venues whose rating agrees with the review', () => {
      for (const e of d.classification.sentiment.train) {
        for (const r of d.world.restaurants) {
          if (e.sentence.includes(` ${r.name} `)) expect(ratingPolarity(r.customerRating)).to.equal(e.label === 1 ? 'positive' : 'negative');
        }
      }
    });

    it('honours sizes', () => {
      const ex = classification(d.world, { split: 'dev', task: 'topic', sizes: { train: 10, dev: 31, test: 5 } });
      expect(ex.length).to.equal(31);
    });
  });

  describe('NER', () => {
    it('has valid BIO tags aligned with tokens, spanning world names', () => {
      const names: Record<string, Set<string>> = {
        PER: new Set(d.world.people.map((p) => p.name)),
        LOC: new Set([...d.world.cities, ...d.world.countries].map((c) => c.name)),
        ORG: new Set(d.world.restaurants.map((r) => r.name)),
        MISC: new Set([...d.world.countries.map((c) => c.demonym), 'italian', 'french', 'chinese', 'indian', 'japanese', 'english', 'mexican', 'thai']),
      };
      const seen = new Set<string>();
      for (const n of SPLITS.flatMap((s) => d.ner[s])) {
        expect(n.tags.length).to.equal(n.tokens.length);
        let span: string[] = [], type = '';
        const close = () => {
          if (span.length) expect(names[type].has(span.join(' ')), `${type} ${span.join(' ')}`).to.equal(true);
          span = [];
        };
        n.tags.forEach((t, i) => {
          expect(NER_LABELS).to.include(t);
          if (t.startsWith('I-')) {
            expect(n.tags[i - 1], n.tokens.join(' ')).to.be.oneOf([`B-${t.slice(2)}`, `I-${t.slice(2)}`]);
            span.push(n.tokens[i]);
            return;
          }
          close();
          if (t.startsWith('B-')) {
            type = t.slice(2);
            seen.add(type);
            span = [n.tokens[i]];
          }
        });
        close();
      }
      expect([...seen].sort()).to.deep.equal(['LOC', 'MISC', 'ORG', 'PER']);
    });

    it('shares no sentence across splits', () => {
      const all = SPLITS.flatMap((s) => d.ner[s].map((n) => n.tokens.join(' ')));
      expect(new Set(all).size).to.equal(all.length);
      expect(d.ner.train.length).to.equal(1000);
    });
  });

  describe('files', () => {
    let dir: string;
    before(async () => { dir = await mkdtemp(join(tmpdir(), 'pg-world-')); });
    after(async () => { await rm(dir, { recursive: true, force: true }); });

    it('writes data sets that parse back', async () => {
      const written = await writeWorldDatasets(dir, 3, SMALL);
      const data = buildWorldDatasets(3, SMALL);
      const read = (rel: string) => readFile(join(dir, rel), 'utf8');
      expect(written.stats.vocabularySize).to.be.at.most(600);

      expect((await read('corpus.txt')).split('\n')).to.deep.equal([...data.corpus, '']);

      for (const s of SPLITS) {
        // E2E CSV: header mr,ref; one row per reference; RFC 4180 quoting.
        const rows = parseCsv(await read(`e2e/${E2E_FILES[s]}`));
        expect(rows[0]).to.deep.equal(['mr', 'ref']);
        expect(rows.slice(1)).to.deep.equal(data.tableToText[s].flatMap((r) => r.references.map((ref) => [r.mr, ref])));

        // LAMA JSONL, one file per relation.
        let facts = 0;
        for (const r of RELATIONS) {
          for (const line of nonEmptyLines(await read(`lama/${r.id}/${s}.jsonl`))) {
            const o = JSON.parse(line) as Record<string, unknown>;
            expect(Object.keys(o).sort()).to.deep.equal(['masked_sentences', 'obj_label', 'predicate_id', 'sub_label', 'template']);
            expect(o.predicate_id).to.equal(r.id);
            expect(o.template).to.equal(r.queries[0]);
            expect((o.masked_sentences as string[]).every((m) => m.includes('[MASK]'))).to.equal(true);
            facts++;
          }
        }
        expect(facts).to.equal(data.probing[s].length);

        // SuperGLUE-style JSONL.
        for (const task of ['sentiment', 'topic'] as const) {
          const rowsJ = nonEmptyLines(await read(`${task}/${GLUE_FILES[s]}`)).map((l) => JSON.parse(l) as unknown);
          expect(rowsJ).to.deep.equal(data.classification[task][s].map((e) => ({ idx: e.idx, sentence: e.sentence, label: e.label })));
        }

        // CoNLL-2003: -DOCSTART- documents, a blank line after every sentence, 4 columns.
        const conll = await read(`conll2003/${CONLL_FILES[s]}`);
        expect(conll.startsWith('-DOCSTART- -X- -X- O\n\n')).to.equal(true);
        expect(conll.endsWith('\n\n')).to.equal(true);
        const sentences = conll.split('\n\n').map((b) => b.split('\n').filter((l) => l !== '')).filter((b) => b.length && !b[0].startsWith('-DOCSTART-'));
        expect(sentences.map((b) => b.map((l) => l.split(' ')))).to.deep.equal(data.ner[s].map((n) => n.tokens.map((t, i) => [t, 'X', 'O', n.tags[i]])));
      }
      const relations = nonEmptyLines(await read('lama/relations.jsonl')).map((l) => JSON.parse(l) as { relation: string });
      expect(relations.map((r) => r.relation)).to.deep.equal(RELATIONS.map((r) => r.id));
      expect(JSON.parse(await read('world.json'))).to.deep.equal(JSON.parse(JSON.stringify(data.world)));
    });
  });
});

function nonEmptyLines(s: string): string[] {
  return s.split('\n').filter((l) => l !== '');
}

/** Minimal RFC 4180 reader (quoted fields, doubled quotes, embedded commas and newlines). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [], field = '', quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; }
    else if (c === '\n') { row.push(field); rows.push(row); row = []; field = ''; }
    else if (c !== '\r') field += c;
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  return rows;
}
