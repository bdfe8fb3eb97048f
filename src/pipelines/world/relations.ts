// The world's relations (named by their Wikidata / LAMA property ids) with two disjoint template
// sets each: `corpus` phrasings state facts in the pretraining text; `queries` are held out of it and
// ask for the object in probing (queries[0] is the manual prompt of the discrete-prompt baseline).
// Query templates put [X] before a bare [Y], so the text before [Y] is a GPT-2 prompt.

export type RelationId = 'P19' | 'P27' | 'P106' | 'P551' | 'P17' | 'P2012' | 'P131';

export interface RelationSpec {
  readonly id: RelationId;
  readonly label: string;
  readonly subject: 'person' | 'city' | 'restaurant';
  readonly object: 'city' | 'country' | 'profession' | 'food';
  readonly corpus: readonly string[];
  readonly queries: readonly string[];
}

export const RELATIONS: readonly RelationSpec[] = [
  {
    id: 'P19', label: 'place of birth', subject: 'person', object: 'city',
    corpus: [
      '[X] was born in [Y] .',
      '[X] was born in the city of [Y] .',
      '[Y] is where [X] was born .',
      '[X] was born and raised in [Y] .',
      '[X] comes from [Y] .',
      '[X] is originally from [Y] .',
      'the city of [Y] is the hometown of [X] .',
      "[X] 's hometown is [Y] .",
      '[X] is a native of [Y] .',
      '[X] was born in [Y] many years ago .',
      'long ago , [X] was born in [Y] .',
      'records show that [X] was born in [Y] .',
      '[X] was born in [Y] , a city in [Y.country] .',
      'people say [X] was born in [Y] .',
      'the birth of [X] took place in [Y] .',
      '[X] spent a happy childhood in [Y] , the city of birth .',
    ],
    queries: ['the birthplace of [X] is [Y] .', '[X] entered the world in the town of [Y] .', 'where was [X] born ? in [Y] .'],
  },
  {
    id: 'P27', label: 'country of citizenship', subject: 'person', object: 'country',
    corpus: [
      '[X] is a citizen of [Y] .',
      '[X] holds citizenship in [Y] .',
      '[X] is [Y.dem] .',
      '[X] is a [Y.dem] citizen .',
      '[X] has a passport from [Y] .',
      '[X] carries a [Y.dem] passport .',
      '[X] is a national of [Y] .',
      'by nationality , [X] is [Y.dem] .',
      '[X] has [Y.dem] nationality .',
      '[X] votes in the elections of [Y] .',
      '[X] is proud to be [Y.dem] .',
      '[Y] is the home country of [X] .',
      '[X] was granted citizenship of [Y] .',
      '[X] is one of the citizens of [Y] .',
      '[X] belongs to the nation of [Y] .',
      'the government of [Y] counts [X] as a citizen .',
    ],
    queries: ['the citizenship of [X] is [Y] .', '[X] is legally a subject of [Y] .', 'what country is [X] a citizen of ? [Y] .'],
  },
  {
    id: 'P106', label: 'occupation', subject: 'person', object: 'profession',
    corpus: [
      '[X] is [Y.a] .',
      '[X] works as [Y.a] .',
      '[X] earns a living as [Y.a] .',
      '[X] has worked as [Y.a] for years .',
      '[X] is known as a skilled [Y] .',
      'by trade , [X] is [Y.a] .',
      '[X] trained to become [Y.a] .',
      '[X] is [Y.a] by profession .',
      'everyone knows [X] as [Y.a] .',
      '[X] makes money as [Y.a] .',
      '[X] became [Y.a] at a young age .',
      'as [Y.a] , [X] works hard every day .',
      '[X] is a hard-working [Y] .',
      '[X] spends every day working as [Y.a] .',
      '[X] is [Y.a] and loves the work .',
      '[X] studied for years to be [Y.a] .',
    ],
    queries: ['the profession of [X] is [Y] .', "[X] 's occupation is [Y] .", '[X] has the occupation of [Y] .'],
  },
  {
    id: 'P551', label: 'residence', subject: 'person', object: 'city',
    corpus: [
      '[X] lives in [Y] .',
      '[X] now lives in [Y] .',
      '[X] has a house in [Y] .',
      '[X] resides in [Y] .',
      '[X] moved to [Y] and stayed .',
      'these days , [X] lives in [Y] .',
      '[X] rents a flat in [Y] .',
      'the home of [X] is in [Y] .',
      '[X] has settled in [Y] .',
      '[Y] is where [X] lives now .',
      '[X] lives and works in [Y] .',
      '[X] lives in [Y] , a city in [Y.country] .',
      'you can find [X] at home in [Y] .',
      '[X] spends most days at home in [Y] .',
      '[X] has lived in [Y] for a long time .',
      '[X] bought a home in [Y] .',
    ],
    queries: ['[X] is a resident of [Y] .', 'the current residence of [X] is [Y] .', '[X] keeps an address in [Y] .'],
  },
  {
    id: 'P17', label: 'country', subject: 'city', object: 'country',
    corpus: [
      '[X] is a city in [Y] .',
      '[X] is located in [Y] .',
      '[X] lies in [Y] .',
      'the city of [X] is in [Y] .',
      '[X] is one of the cities of [Y] .',
      '[Y] is the country where [X] lies .',
      '[X] is a large city in [Y] .',
      '[X] , a city in [Y] , has many restaurants .',
      '[X] belongs to [Y] .',
      'travelers to [Y] often visit [X] .',
      '[X] can be found in [Y] .',
      '[X] is a busy city in [Y] .',
      '[X] sits in [Y] .',
      '[Y] includes the city of [X] .',
      '[X] is a [Y.dem] city .',
      '[X] is an old city in [Y] .',
    ],
    queries: ['[X] is part of [Y] .', 'the country containing [X] is [Y] .', 'which nation holds [X] ? [Y] .'],
  },
  {
    id: 'P2012', label: 'cuisine', subject: 'restaurant', object: 'food',
    corpus: [
      '[X] serves [Y] food .',
      '[X] is a place for [Y] food .',
      'at [X] you can eat [Y] food .',
      '[X] offers [Y] dishes .',
      '[X] cooks [Y] meals .',
      'the menu at [X] is [Y] .',
      '[X] specialises in [Y] cooking .',
      '[X] has [Y] food on the menu .',
      'you can get [Y] food at [X] .',
      '[Y] food is served at [X] .',
      'the kitchen at [X] makes [Y] food .',
      '[X] is known for [Y] food .',
      'people go to [X] for [Y] food .',
      '[X] sells [Y] food .',
      '[X] provides [Y] food .',
      'the cooks at [X] prepare [Y] dishes .',
    ],
    queries: ['the cuisine of [X] is [Y] .', '[X] is famous for its [Y] cuisine .', 'what kind of food does [X] have ? [Y] .'],
  },
  {
    id: 'P131', label: 'located in', subject: 'restaurant', object: 'city',
    corpus: [
      '[X] is in [Y] .',
      '[X] is located in [Y] .',
      'you can find [X] in [Y] .',
      '[X] opened in [Y] .',
      '[X] is a venue in [Y] .',
      '[X] stands in [Y] .',
      '[X] does business in [Y] .',
      'the address of [X] is in [Y] .',
      '[X] is situated in [Y] .',
      '[X] welcomes guests in [Y] .',
      'in [Y] there is a place called [X] .',
      '[X] has been open in [Y] for years .',
      'visitors to [Y] can eat at [X] .',
      '[X] is a popular spot in [Y] .',
      '[X] serves customers in [Y] .',
      '[X] is found in [Y] , a city in [Y.country] .',
    ],
    queries: ['the location of [X] is [Y] .', '[X] operates in the city of [Y] .', 'to eat at [X] , travel to [Y] .'],
  },
];

export function relationSpec(id: RelationId): RelationSpec {
  const spec = RELATIONS.find((r) => r.id === id);
  if (!spec) throw new Error(`unknown relation ${id}`);
  return spec;
}

/** The human-written template of the discrete-prompt baseline. */
export function manualPrompt(id: RelationId): string {
  return relationSpec(id).queries[0];
}
