// The diff every policy change records in its audit event: an RFC 6902 JSON Patch from the previous
// version to the new one. Objects are compared member by member; an array that changed is replaced
// whole (a valid, readable patch: app lists and Wi-Fi networks are read as a unit).

export type JsonPatchOp =
  | { op: 'add'; path: string; value: unknown }
  | { op: 'remove'; path: string }
  | { op: 'replace'; path: string; value: unknown };

/** RFC 6901 section 3: "~" is "~0", "/" is "~1". */
function escapeToken(k: string): string {
  return k.replace(/~/g, '~0').replace(/\//g, '~1');
}

function unescapeToken(t: string): string {
  return t.replace(/~1/g, '/').replace(/~0/g, '~');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

/** The patch that turns `before` into `after` (both JSON values). */
export function diffJson(before: unknown, after: unknown, path = ''): JsonPatchOp[] {
  if (deepEqual(before, after)) return [];
  if (!isPlainObject(before) || !isPlainObject(after)) return [{ op: 'replace', path, value: structuredClone(after) }];
  const ops: JsonPatchOp[] = [];
  for (const k of Object.keys(before)) {
    if (!(k in after)) ops.push({ op: 'remove', path: `${path}/${escapeToken(k)}` });
  }
  for (const k of Object.keys(after)) {
    const p = `${path}/${escapeToken(k)}`;
    if (!(k in before)) ops.push({ op: 'add', path: p, value: structuredClone(after[k]) });
    else ops.push(...diffJson(before[k], after[k], p));
  }
  return ops;
}

/** Applies add/remove/replace operations (what diffJson makes) to a copy of `doc`. */
export function applyJsonPatch<T>(doc: T, ops: JsonPatchOp[]): T {
  let root: unknown = structuredClone(doc);
  for (const op of ops) {
    if (op.path === '') {
      if (op.op === 'remove') throw new Error('cannot remove the document root');
      root = structuredClone(op.value);
      continue;
    }
    const tokens = op.path.slice(1).split('/').map(unescapeToken);
    let parent = root as Record<string, unknown> | unknown[];
    for (const t of tokens.slice(0, -1)) {
      const next = (parent as Record<string, unknown>)[t];
      if (next === null || typeof next !== 'object') throw new Error(`patch path ${op.path} does not exist`);
      parent = next as Record<string, unknown>;
    }
    const last = tokens[tokens.length - 1];
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (op.op === 'add') parent.splice(i, 0, structuredClone(op.value));
      else if (op.op === 'remove') parent.splice(i, 1);
      else parent[i] = structuredClone(op.value);
    } else {
      if (op.op === 'remove') {
        if (!(last in parent)) throw new Error(`patch path ${op.path} does not exist`);
        delete parent[last];
      } else {
        if (op.op === 'replace' && !(last in parent)) throw new Error(`patch path ${op.path} does not exist`);
        parent[last] = structuredClone(op.value);
      }
    }
  }
  return root as T;
}
