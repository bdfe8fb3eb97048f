// Scope patterns: how transforms name "every layer's attention" (`h.*.attn`) or "layers 2..3".
//
// A pattern is dot-separated like a scope. `*` matches one segment, `**` any number (also none),
// `{2,3}` one of the listed segments. A pattern matches a node inside the module it names:
// `h.*.attn` matches scopes `h.0.attn` and `h.0.attn.c_attn`. Use `exact: true` to require the
// whole scope to match. A RegExp is tested against the whole scope string.

export type ScopePattern = string | RegExp;

export function scopeMatches(scope: string, pattern: ScopePattern, exact = false): boolean {
  if (pattern instanceof RegExp) return pattern.test(scope);
  const segs = scope === '' ? [] : scope.split('.');
  const pats = pattern === '' ? [] : pattern.split('.');
  return matchFrom(segs, 0, pats, 0, exact);
}

function matchFrom(segs: string[], i: number, pats: string[], j: number, exact: boolean): boolean {
  if (j === pats.length) return exact ? i === segs.length : true;
  const p = pats[j];
  if (p === '**') {
    for (let k = i; k <= segs.length; k++) if (matchFrom(segs, k, pats, j + 1, exact)) return true;
    return false;
  }
  if (i === segs.length) return false;
  return segmentMatches(segs[i], p) && matchFrom(segs, i + 1, pats, j + 1, exact);
}

function segmentMatches(seg: string, pat: string): boolean {
  if (pat === '*') return true;
  const alt = /^\{(.*)\}$/.exec(pat);
  if (alt) return alt[1].split(',').includes(seg);
  return seg === pat;
}

/** Joins scope segments, skipping empty ones: joinScope('h.0', 'attn') === 'h.0.attn'. */
export function joinScope(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('.');
}
