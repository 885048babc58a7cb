/** Line diff of two flow versions (longest common subsequence), for the versions tab. */

export interface DiffLine {
  kind: "same" | "added" | "removed";
  text: string;
}

/** Pretty JSON with keys sorted, so a diff shows changes rather than reordering. */
export function canonicalJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === "object") {
      return Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  return JSON.stringify(sort(value), null, 2);
}

/** Diff two texts line by line. */
export function diffLines(before: string, after: string): DiffLine[] {
  const a = before.split("\n");
  const b = after.split("\n");
  // lengths[i][j] = LCS length of a[i:] and b[j:]; flows are small, so O(n·m) is fine.
  const lengths: number[][] = Array.from({ length: a.length + 1 }, () => new Array(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i -= 1) {
    for (let j = b.length - 1; j >= 0; j -= 1) {
      lengths[i][j] = a[i] === b[j] ? lengths[i + 1][j + 1] + 1 : Math.max(lengths[i + 1][j], lengths[i][j + 1]);
    }
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      out.push({ kind: "same", text: a[i] });
      i += 1;
      j += 1;
    } else if (j < b.length && (i === a.length || lengths[i][j + 1] >= lengths[i + 1][j])) {
      out.push({ kind: "added", text: b[j] });
      j += 1;
    } else {
      out.push({ kind: "removed", text: a[i] });
      i += 1;
    }
  }
  return out;
}

/** Which steps were added, removed or changed between two flow documents. */
export function stepChanges(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): { added: string[]; removed: string[]; changed: string[] } {
  const stepsOf = (doc: Record<string, unknown>) =>
    (doc.steps && typeof doc.steps === "object" ? doc.steps : {}) as Record<string, unknown>;
  const a = stepsOf(before);
  const b = stepsOf(after);
  return {
    added: Object.keys(b).filter((k) => !(k in a)),
    removed: Object.keys(a).filter((k) => !(k in b)),
    changed: Object.keys(b).filter((k) => k in a && canonicalJson(a[k]) !== canonicalJson(b[k])),
  };
}
