// "Did you mean" suggestions for misspelt keys and values. Hand-written because
// the project has no string-distance dependency and this needs twenty lines.

/**
 * Returns the candidate closest to `input` by edit distance (an adjacent swap
 * counts as one edit, case is ignored), or undefined when none is close enough
 * to be a likely typo.
 */
export function closestMatch(input: string, candidates: readonly string[]): string | undefined {
  const allowed = input.length <= 4 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = allowed + 1;
  for (const candidate of candidates) {
    const distance = editDistance(input.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }

  return best;
}

/** Returns ` (did you mean "x"?)` for a near miss, else an empty string. */
export function didYouMean(input: string, candidates: readonly string[]): string {
  const match = closestMatch(input, candidates);

  return match === undefined ? '' : ` (did you mean ${JSON.stringify(match)}?)`;
}

// Optimal string alignment distance: Levenshtein plus adjacent transpositions.
function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    rows.push([i, ...Array.from({ length: b.length }, (_, j) => (i === 0 ? j + 1 : 0))]);
  }

  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = rows[i]!;
      const above = rows[i - 1]!;
      row[j] = Math.min(above[j]! + 1, row[j - 1]! + 1, above[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j]!, rows[i - 2]![j - 2]! + 1);
      }
    }
  }

  return rows[a.length]![b.length]!;
}
