// Unknown-field detection for rendered Kubernetes objects.
//
// kubernetes-models' validate() checks types and required fields but, like the API
// server's non-strict decoding, accepts field names it does not know: a misspelt
// `topologySpreadConstraint` or `readinessprobe` would pass it and be dropped silently
// by the cluster. The same packages ship TypeScript declarations (.d.ts) that list
// every field of every type, so this module reads them and walks an object against
// them. It understands only the shapes those generated declarations use:
//   "name"?: T;   T = IRef | Array<T> | { [key: string]: T; } | { "a"?: T; ... } |
//                     primitive | literal | union of those.

import fs from "node:fs";
import path from "node:path";

const cache = new Map(); // .d.ts path -> parsed interface (or null for aliases)

function stripComments(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

// Split `text` at top-level occurrences of `sep` (outside <>, {}, (), [] and quotes).
function splitTop(text, sep) {
  const out = [];
  let depth = 0;
  let quote = null;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote && text[i - 1] !== "\\") quote = null;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if ("<{([".includes(c)) depth++;
    else if (">})]".includes(c)) depth--;
    else if (depth === 0 && text.startsWith(sep, i)) {
      out.push(text.slice(start, i));
      start = i + sep.length;
    }
  }
  out.push(text.slice(start));
  return out.map((s) => s.trim()).filter((s) => s.length > 0);
}

// The body of `{ ... }` starting at text[open] === "{".
function braceBody(text, open) {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}") {
      depth--;
      if (depth === 0) return text.slice(open + 1, i);
    }
  }
  throw new Error("unbalanced braces");
}

function parseMembers(body, ctx) {
  const props = new Map();
  for (const member of splitTop(body, ";")) {
    const m = /^"([^"]+)"\??\s*:\s*([\s\S]+)$/.exec(member) || /^([A-Za-z_$][\w$]*)\??\s*:\s*([\s\S]+)$/.exec(member);
    if (!m) continue; // index signatures are handled by parseType
    props.set(m[1], () => parseType(m[2], ctx));
  }
  return { kind: "object", props };
}

function parseType(text, ctx) {
  const t = text.trim();
  const parts = splitTop(t, "|");
  if (parts.length > 1) {
    const shaped = parts.map((p) => parseType(p, ctx)).filter((p) => p.kind !== "leaf");
    return shaped.length === 1 ? shaped[0] : { kind: "leaf" };
  }
  let m = /^Array<([\s\S]+)>$/.exec(t);
  if (m) return { kind: "array", of: parseType(m[1], ctx) };
  if (t.startsWith("{")) {
    const body = braceBody(t, 0);
    m = /^\s*\[\w+: string\]\s*:\s*([\s\S]+?);?\s*$/.exec(body);
    if (m) return { kind: "map", of: parseType(m[1], ctx) };
    return parseMembers(body, ctx);
  }
  if (/^I[\w]*$/.test(t) && ctx.imports.has(t)) return { kind: "ref", file: ctx.imports.get(t) };
  return { kind: "leaf" };
}

function resolveImport(spec, fromFile, nodeModules) {
  if (spec.startsWith(".")) return path.resolve(path.dirname(fromFile), spec.replace(/\.js$/, "") + ".d.ts");
  return path.join(nodeModules, spec.replace(/\.js$/, "") + ".d.ts");
}

function loadInterface(file, nodeModules) {
  if (cache.has(file)) return cache.get(file);
  const text = stripComments(fs.readFileSync(file, "utf8"));
  const imports = new Map();
  for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*"([^"]+)"/g)) {
    for (const name of m[1].split(",").map((s) => s.trim()).filter(Boolean)) {
      imports.set(name.replace(/^type\s+/, ""), resolveImport(m[2], file, nodeModules));
    }
  }
  const head = /export interface \w+(?:\s+extends\s+[\w<>, ]+)?\s*\{/.exec(text);
  const parsed = head ? parseMembers(braceBody(text, head.index + head[0].length - 1), { imports }) : null;
  cache.set(file, parsed);
  return parsed;
}

function resolve(type, nodeModules) {
  if (type.kind !== "ref") return type;
  if (!fs.existsSync(type.file)) throw new Error(`type declaration not found: ${type.file}`);
  return loadInterface(type.file, nodeModules) || { kind: "leaf" };
}

// Returns the list of paths (a.b[0].c) of fields the declarations do not know.
export function unknownFields(obj, dtsFile, nodeModules) {
  const found = [];
  const walk = (value, type, where) => {
    type = resolve(type, nodeModules);
    if (value === null || value === undefined) return;
    if (type.kind === "object") {
      if (typeof value !== "object" || Array.isArray(value)) return; // validate() reports types
      for (const [key, child] of Object.entries(value)) {
        const t = type.props.get(key);
        if (!t) found.push(where ? `${where}.${key}` : key);
        else walk(child, t(), where ? `${where}.${key}` : key);
      }
    } else if (type.kind === "array" && Array.isArray(value)) {
      value.forEach((v, i) => walk(v, type.of, `${where}[${i}]`));
    } else if (type.kind === "map" && typeof value === "object") {
      for (const [key, child] of Object.entries(value)) walk(child, type.of, `${where}.${key}`);
    }
  };
  walk(obj, { kind: "ref", file: dtsFile }, "");
  return found;
}
