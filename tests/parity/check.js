#!/usr/bin/env node
// check.js -- parity of dllm's C tokenizer with the Hugging Face `tokenizers` library.
//
// Runs the library (npm package `tokenizers`, pinned in package.json; install with
// `npm ci --prefix tests/parity`) and tests/tokenize_dump.c on the same tokenizer.json and
// compares, line by line:
//   1. encode(text, addSpecialTokens=false) ids for every corpus line;
//   2. decode(ids, skip_special=false/true) of those ids;
//   3. parse_special=0 ids against the library on the same file with added_tokens emptied
//      (the documented meaning of parse_special=0);
//   4. decode of random id sequences (partial UTF-8, specials, added tokens);
//   5. id <-> token for every id of the vocabulary;
//   6. with --variants: encode + decode on mutated copies of the file that exercise every
//      Split behavior, invert, String patterns, ByteLevel add_prefix_space/use_regex,
//      ignore_merges, byte_fallback, unk_token/fuse_unk, a null pre-tokenizer and the
//      added-token flags.
// Prints the first difference with its text and exits 1; exits 77 (CTest: skipped) when
// the library is not installed.
//
// usage: node check.js --dump BUILD/bin/tokenize_dump --tokenizer T.json --corpus C.jsonl
//                      [--random N] [--variants]
//
// SPDX-License-Identifier: Apache-2.0
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');

let Tokenizer;
try {
  ({ Tokenizer } = require(path.join(__dirname, 'node_modules', 'tokenizers')));
} catch (e) {
  console.log('tokenizers library not installed (' + e.message.split('\n')[0] + ')');
  console.log('hint: npm ci --prefix tests/parity; skipping');
  process.exit(77);
}

function parseArgs(argv) {
  const a = { random: 400 };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--dump') a.dump = argv[++i];
    else if (k === '--tokenizer') a.tokenizer = argv[++i];
    else if (k === '--corpus') a.corpus = argv[++i];
    else if (k === '--random') a.random = parseInt(argv[++i], 10);
    else if (k === '--variants') a.variants = true;
    else throw new Error('unknown argument ' + k);
  }
  if (!a.dump || !a.tokenizer || !a.corpus) {
    throw new Error('usage: check.js --dump BIN --tokenizer T.json --corpus C.jsonl [--random N]');
  }
  return a;
}

function runDump(bin, args) {
  const out = execFileSync(bin, args, { maxBuffer: 1 << 30, encoding: 'utf8' });
  return out.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l));
}

function show(s) {
  const j = JSON.stringify(s);
  return j.length > 300 ? j.slice(0, 300) + '..."' : j;
}

function firstDiff(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

// Deterministic PRNG (mulberry32) for the random decode sequences.
function rng(seed) {
  return function () {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function clone(x) {
  return JSON.parse(JSON.stringify(x));
}

// Yields [name, spec] pairs: mutated copies of the tokenizer.json object `base`.
function* variants(base) {
  const bl = (prefix, useRegex) => ({ type: 'ByteLevel', add_prefix_space: prefix, trim_offsets: true, use_regex: useRegex });
  const split = (pattern, behavior, invert) => ({ type: 'Split', pattern, behavior, invert });
  let v = clone(base);
  v.model.ignore_merges = !base.model.ignore_merges;
  yield ['ignore_merges flipped', v];
  for (const behavior of ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous']) {
    for (const invert of [false, true]) {
      v = clone(base);
      v.pre_tokenizer = { type: 'Sequence', pretokenizers: [
        split({ Regex: '\\s+|\\p{P}' }, behavior, invert), bl(false, false)] };
      yield [`Split ${behavior} invert=${invert}`, v];
    }
  }
  v = clone(base);
  v.pre_tokenizer = { type: 'Sequence', pretokenizers: [
    split({ String: '<' }, 'MergedWithNext', false), split({ String: 'e' }, 'Removed', false),
    bl(true, true)] };
  yield ['String patterns + ByteLevel(prefix, regex)', v];
  v = clone(base);
  v.pre_tokenizer = bl(false, true);
  yield ['ByteLevel(use_regex) alone', v];
  v = clone(base);
  v.pre_tokenizer = { type: 'Sequence', pretokenizers: [bl(false, false),
    split({ Regex: 'Ġ|\\d' }, 'MergedWithNext', false)] };
  yield ['Split after ByteLevel', v];
  v = clone(base);
  v.pre_tokenizer = { type: 'Sequence', pretokenizers: [
    split({ Regex: '(?i:\\bthe\\b)|\\w+|[^\\w\\s]+' }, 'Isolated', false), bl(true, false)] };
  yield ['\\w \\b case-insensitive split + prefix', v];
  v = clone(base);
  v.pre_tokenizer = null;
  yield ['pre_tokenizer null', v];
  for (const [flag, val] of [['lstrip', true], ['rstrip', true], ['single_word', true], ['normalized', true]]) {
    v = clone(base);
    for (const t of v.added_tokens) t[flag] = val;
    yield [`all added tokens ${flag}=${val}`, v];
  }
  v = clone(base);
  v.added_tokens = v.added_tokens.slice().reverse().map((t, k) => Object.assign(t, { id: 100000 + 7 * k }));
  yield ['added tokens with ids the library reassigns', v];
  // vocab changes: added tokens dropped (their ids would shift)
  const maxId = Math.max(...Object.values(base.model.vocab));
  v = clone(base);
  v.added_tokens = [];
  v.pre_tokenizer = null;
  v.model.byte_fallback = true;
  for (let b = 0; b < 256; b++) {
    v.model.vocab['<0x' + b.toString(16).toUpperCase().padStart(2, '0') + '>'] = maxId + 1 + b;
  }
  yield ['byte_fallback, no pre-tokenizer', v];
  for (const fuse of [false, true]) {
    v = clone(base);
    v.added_tokens = [];
    v.pre_tokenizer = null;
    v.model.vocab['<unk>'] = maxId + 1;
    v.model.unk_token = '<unk>';
    v.model.fuse_unk = fuse;
    yield [`unk_token fuse_unk=${fuse}, no pre-tokenizer`, v];
  }
}

async function main() {
  const a = parseArgs(process.argv);
  const json = fs.readFileSync(a.tokenizer, 'utf8');
  const tok = Tokenizer.fromFile(a.tokenizer);
  const plainSpec = JSON.parse(json);
  plainSpec.added_tokens = [];
  const plain = Tokenizer.fromString(JSON.stringify(plainSpec));
  const texts = fs.readFileSync(a.corpus, 'utf8').split('\n').filter((l) => l.length > 0)
    .map((l) => JSON.parse(l).text);
  const name = path.basename(path.dirname(a.tokenizer));
  let failures = 0;
  const fail = (msg) => {
    failures++;
    if (failures <= 5) console.log('MISMATCH [' + name + '] ' + msg);
  };

  // 1-3: encode / decode / plain encode
  const cFull = runDump(a.dump, [a.tokenizer, '--encode', a.corpus]);
  const cPlain = runDump(a.dump, [a.tokenizer, '--encode', a.corpus, '--plain']);
  if (cFull.length !== texts.length || cPlain.length !== texts.length) {
    fail(`tokenize_dump printed ${cFull.length}/${cPlain.length} lines for ${texts.length} texts`);
  }
  let nIds = 0;
  for (let i = 0; i < texts.length && i < cFull.length; i++) {
    const text = texts[i];
    const enc = await tok.encode(text, null, { addSpecialTokens: false });
    const ids = Array.from(enc.getIds());
    nIds += ids.length;
    const c = cFull[i];
    if (c.error) {
      fail(`line ${i + 1}: C error ${show(c.error)} for text ${show(text)}`);
      continue;
    }
    const d = firstDiff(ids, c.ids);
    if (d >= 0) {
      const toks = enc.getTokens();
      fail(`line ${i + 1} encode: text ${show(text)}\n  first difference at index ${d}: ` +
        `HF ${ids[d]} (${show(toks[d])}) vs C ${c.ids[d]} ` +
        `(${show(c.ids[d] === undefined ? undefined : tok.idToToken(c.ids[d]))})\n` +
        `  HF ids ${JSON.stringify(ids.slice(0, 40))}\n  C  ids ${JSON.stringify(c.ids.slice(0, 40))}`);
      continue;
    }
    for (const [skip, key] of [[false, 'decoded'], [true, 'decoded_skip']]) {
      const hf = await tok.decode(ids, skip);
      if (hf !== c[key]) {
        fail(`line ${i + 1} decode(skip_special=${skip}): text ${show(text)}\n  HF ${show(hf)}\n  C  ${show(c[key])}`);
      }
    }
    const pe = await plain.encode(text, null, { addSpecialTokens: false });
    const pids = Array.from(pe.getIds());
    const pd = firstDiff(pids, cPlain[i].ids || []);
    if (pd >= 0) {
      fail(`line ${i + 1} plain encode (parse_special=0): text ${show(text)}\n  first difference ` +
        `at ${pd}: HF ${pids[pd]} vs C ${(cPlain[i].ids || [])[pd]}`);
    }
  }

  // 4: random id sequences
  const vocabSize = tok.getVocabSize(true);
  const r = rng(20240601);
  const seqs = [];
  for (let k = 0; k < a.random; k++) {
    const len = 1 + Math.floor(r() * 12);
    const s = [];
    for (let j = 0; j < len; j++) {
      // bias towards the byte tokens (partial UTF-8) and the top ids (added tokens)
      const u = r();
      const id = u < 0.4 ? Math.floor(r() * 256)
        : u < 0.55 ? vocabSize - 1 - Math.floor(r() * Math.min(16, vocabSize))
          : Math.floor(r() * vocabSize);
      s.push(id);
    }
    seqs.push(s);
  }
  const tmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dllm-parity-')), 'ids.jsonl');
  fs.writeFileSync(tmp, seqs.map((s) => JSON.stringify(s)).join('\n') + '\n');
  const cDec = runDump(a.dump, [a.tokenizer, '--decode', tmp]);
  fs.rmSync(path.dirname(tmp), { recursive: true, force: true });
  for (let k = 0; k < seqs.length; k++) {
    for (const [skip, key] of [[false, 'decoded'], [true, 'decoded_skip']]) {
      const hf = await tok.decode(seqs[k], skip);
      if (!cDec[k] || hf !== cDec[k][key]) {
        fail(`random decode ${JSON.stringify(seqs[k])} skip=${skip}: HF ${show(hf)} vs C ` +
          `${show(cDec[k] && cDec[k][key])}`);
      }
    }
  }

  // 5: vocabulary
  const cVocab = runDump(a.dump, [a.tokenizer, '--vocab']);
  const cSize = cVocab[0].vocab_size;
  if (cSize !== vocabSize) fail(`vocab size: HF ${vocabSize} vs C ${cSize}`);
  const cTok = new Map(cVocab.slice(1).map(([t, id]) => [id, t]));
  for (let id = 0; id < Math.max(cSize, vocabSize); id++) {
    const hf = tok.idToToken(id);
    const c = cTok.has(id) ? cTok.get(id) : null;
    if (hf !== c) fail(`id_to_token(${id}): HF ${show(hf)} vs C ${show(c)}`);
    else if (hf !== null && tok.tokenToId(hf) !== id) fail(`token_to_id(${show(hf)}) != ${id} in HF`);
  }

  // 6: variants of the file exercising the other code paths
  let nVariants = 0;
  if (a.variants) {
    for (const [vname, spec] of variants(JSON.parse(json))) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dllm-variant-'));
      const file = path.join(dir, 'tokenizer.json');
      fs.writeFileSync(file, JSON.stringify(spec));
      try {
        const vt = Tokenizer.fromString(JSON.stringify(spec));
        let cv;
        try {
          cv = runDump(a.dump, [file, '--encode', a.corpus]);
        } catch (e) {
          fail(`variant ${vname}: tokenize_dump failed: ${String(e.stderr || e.message).trim()}`);
          continue;
        }
        for (let i = 0; i < texts.length; i++) {
          const enc = await vt.encode(texts[i], null, { addSpecialTokens: false });
          const ids = Array.from(enc.getIds());
          const c = cv[i] || { error: 'missing line' };
          if (c.error || firstDiff(ids, c.ids) >= 0) {
            const d = c.error ? 0 : firstDiff(ids, c.ids);
            const lo = Math.max(0, d - 4);
            const tk = (x) => x.map((id) => vt.idToToken(id));
            fail(`variant ${vname} line ${i + 1}: text ${show(texts[i])}\n  first difference at index ${d}:` +
              `\n  HF ${JSON.stringify(ids.slice(lo, d + 8))} ${show(tk(ids.slice(lo, d + 8)))}\n` +
              `  C  ${c.error ? show(c.error) : JSON.stringify(c.ids.slice(lo, d + 8)) + ' ' + show(tk(c.ids.slice(lo, d + 8)))}`);
            break;
          }
          const hf = await vt.decode(ids, false);
          if (hf !== c.decoded) {
            fail(`variant ${vname} line ${i + 1} decode: HF ${show(hf)} vs C ${show(c.decoded)}`);
            break;
          }
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
      nVariants++;
    }
  }

  if (failures > 0) {
    console.log(`[${name}] FAILED: ${failures} mismatches`);
    process.exit(1);
  }
  console.log(`[${name}] OK: ${texts.length} texts (${nIds} ids), plain mode, ` +
    `${seqs.length} random decodes, ${vocabSize} vocab entries, ${nVariants} variants match tokenizers ` +
    `${require(path.join(__dirname, 'node_modules', 'tokenizers', 'package.json')).version}`);
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
