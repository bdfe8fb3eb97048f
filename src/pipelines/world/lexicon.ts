// Fixed word lists the world draws its names and values from. Invented place names keep the
// world's facts out of anything a real pretrained model knows; short lists keep the vocabulary small.

export const FIRST_NAMES: readonly string[] = [
  'alice', 'bruno', 'clara', 'dmitri', 'elena', 'felix', 'greta', 'hugo', 'iris', 'jonas', 'kira', 'leon',
  'mira', 'nico', 'olga', 'pavel', 'rosa', 'sami', 'tara', 'ugo', 'vera', 'wim', 'yara', 'zeno',
];

export const LAST_NAMES: readonly string[] = [
  'abel', 'borg', 'castell', 'dorn', 'eker', 'falk', 'gruber', 'holm', 'ivers', 'jansen', 'kemp', 'lund',
  'moser', 'nyberg', 'orsi', 'pratt', 'quill', 'rask', 'strand', 'toft', 'ulm', 'voss', 'wendt', 'zell',
];

export const COUNTRIES: readonly { readonly name: string; readonly demonym: string }[] = [
  { name: 'vespia', demonym: 'vespian' },
  { name: 'norvald', demonym: 'norvaldic' },
  { name: 'ostara', demonym: 'ostaran' },
  { name: 'pelmark', demonym: 'pelmish' },
  { name: 'quintor', demonym: 'quintorian' },
  { name: 'selvane', demonym: 'selvanese' },
  { name: 'tarvia', demonym: 'tarvian' },
  { name: 'ubrecht', demonym: 'ubrechtish' },
];

export const CITY_NAMES: readonly string[] = [
  'lunaria', 'brevik', 'calden', 'dunmore', 'eskar', 'fenwick', 'galmont', 'harrowgate', 'ilsby', 'jorvik',
  'kestral', 'lowden', 'marisca', 'norhaven', 'ostby', 'penrith', 'quellin', 'rosmere', 'saltira', 'tolvane',
  'ulden', 'varno', 'westmark', 'yelding',
];

export const PROFESSIONS: readonly string[] = [
  'baker', 'teacher', 'doctor', 'farmer', 'painter', 'lawyer', 'engineer', 'nurse', 'writer', 'pilot',
  'chef', 'sailor', 'architect', 'dancer', 'singer', 'carpenter',
];

/** Cuisines (E2E `food`), one word each so they can be probing objects. */
export const FOODS: readonly string[] = ['italian', 'french', 'chinese', 'indian', 'japanese', 'english', 'mexican', 'thai'];

/** Restaurant names are "the <adjective> <noun>". */
export const VENUE_ADJECTIVES: readonly string[] = [
  'golden', 'silver', 'red', 'blue', 'green', 'old', 'little', 'royal', 'crooked', 'happy', 'wandering', 'rusty',
  'twin', 'hidden', 'lucky', 'sleepy',
];
export const VENUE_NOUNS: readonly string[] = [
  'fork', 'spoon', 'kettle', 'lantern', 'anchor', 'barrel', 'crown', 'fox', 'goose', 'lion', 'mill', 'oak',
  'plough', 'rose', 'swan', 'wheel',
];
