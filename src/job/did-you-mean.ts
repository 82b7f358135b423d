/**
 * "unknown key 'delet' (did you mean 'delete'?)": the closest known name to
 * a misspelt one, for job file diagnostics. Pure.
 */

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}

/** Closest candidate, comparing case- and separator-insensitively so "max_delete" finds "maxDelete". */
export function suggest(input: string, candidates: Iterable<string>): string | undefined {
  const norm = (s: string): string => s.toLowerCase().replace(/[-_\s]/g, '');
  const n = norm(input);
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = editDistance(n, norm(c));
    const limit = Math.max(1, Math.floor(Math.max(n.length, c.length) / 3));
    if (d <= limit && d < bestDist) {
      best = c;
      bestDist = d;
    }
  }
  return best;
}

/** " (did you mean 'x'?)", or "" when nothing is close. */
export function didYouMean(input: string, candidates: Iterable<string>): string {
  const s = suggest(input, candidates);
  return s ? ` (did you mean '${s}'?)` : '';
}
