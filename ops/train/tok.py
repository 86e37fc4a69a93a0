"""Minimal encoder/decoder for a byte-level BPE tokenizer.json (Hugging Face format).

Design
------
The trainer and the reference evaluation need token ids that are exactly what the Hugging
Face `tokenizers` library produces for the repository's tokenizer.json. This module
implements the subset of the format that our tokenizer uses, and refuses anything else
with a clear error instead of silently producing different ids:

  * added tokens: the text is first split on the literal strings of the added tokens
    (longest match first, lstrip/rstrip/single_word must be false); each becomes its id;
  * normalizer: none;
  * pre-tokenizer: ByteLevel (with its GPT-2 regex when use_regex is true) or a Sequence
    of Split(Regex, behavior "Isolated", invert false) and ByteLevel(use_regex false);
  * model: BPE with merges (either "a b" strings or [a, b] pairs), optional
    ignore_merges, no dropout, no continuing-subword prefix / end-of-word suffix;
  * decoder: ByteLevel (bytes back from the GPT-2 byte-to-unicode table).

The pre-tokenizer regexes use Unicode classes (\\p{L}, \\p{N}) that Python's `re` lacks.
They are rewritten to their ASCII equivalents, which is exact only for ASCII text, so
encode() rejects non-ASCII input (our task suite is pure ASCII). ops/train/check_tok.js
compares these ids with the `tokenizers` npm package on the whole evaluation set.
"""

import json
import re


def bytes_to_unicode():
    """The GPT-2 byte -> printable unicode character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) \
        + list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def _ascii_regex(pat):
    """Rewrite \\p{L}/\\p{N} (and their negations) for Python re, exact on ASCII text."""
    out, i, in_class = [], 0, False
    while i < len(pat):
        c = pat[i]
        if c == "\\" and i + 1 < len(pat):
            two = pat[i:i + 5]
            if two in ("\\p{L}", "\\p{N}", "\\P{L}", "\\P{N}"):
                rng = "a-zA-Z" if two[3] == "L" else "0-9"
                if two[1] == "P":
                    if in_class:
                        raise ValueError("tokenizer regex: \\P{..} inside [] unsupported")
                    out.append("[^" + rng + "]")
                else:
                    out.append(rng if in_class else "[" + rng + "]")
                i += 5
                continue
            out.append(pat[i:i + 2])
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class:
            in_class = False
        out.append(c)
        i += 1
    return re.compile("".join(out))


class Tokenizer:
    def __init__(self, path_or_dict):
        if isinstance(path_or_dict, dict):
            tj = path_or_dict
        else:
            try:
                with open(path_or_dict, "r", encoding="utf-8") as f:
                    tj = json.load(f)
            except OSError as e:
                raise ValueError("cannot read tokenizer %s: %s" % (path_or_dict, e))
            except json.JSONDecodeError as e:
                raise ValueError("tokenizer %s: bad JSON: %s" % (path_or_dict, e))
        if not isinstance(tj, dict):
            raise ValueError("tokenizer.json: not a JSON object")
        self.json = tj
        if tj.get("normalizer") is not None:
            raise ValueError("tokenizer.json: normalizers are not supported")
        model = tj.get("model") or {}
        if model.get("type") != "BPE":
            raise ValueError("tokenizer.json: model.type must be BPE")
        if model.get("dropout") not in (None, 0, 0.0):
            raise ValueError("tokenizer.json: BPE dropout is not supported")
        if model.get("continuing_subword_prefix") or model.get("end_of_word_suffix"):
            raise ValueError("tokenizer.json: subword prefix/suffix are not supported")
        self.ignore_merges = bool(model.get("ignore_merges", False))
        self.vocab = dict(model["vocab"])
        self.ranks = {}
        for r, m in enumerate(model.get("merges", [])):
            pair = tuple(m.split(" ")) if isinstance(m, str) else tuple(m)
            if len(pair) != 2:
                raise ValueError("tokenizer.json: bad merge %r" % (m,))
            self.ranks.setdefault(pair, r)
        self.added = {}
        self.special_ids = set()
        for t in tj.get("added_tokens", []):
            for k in ("lstrip", "rstrip", "single_word"):
                if t.get(k):
                    raise ValueError("tokenizer.json: added token option %s unsupported" % k)
            self.added[t["content"]] = t["id"]
            if t.get("special"):
                self.special_ids.add(t["id"])
        self.id_to_token = {i: s for s, i in self.vocab.items()}
        self.vocab_ids = set(self.vocab.values())
        for s, i in self.added.items():
            self.id_to_token[i] = s
        self._added_re = None
        if self.added:
            alts = sorted(self.added, key=len, reverse=True)
            self._added_re = re.compile("|".join(re.escape(a) for a in alts))
        self.splits = self._parse_pre(tj.get("pre_tokenizer"))
        dec = tj.get("decoder")
        if not (isinstance(dec, dict) and dec.get("type") == "ByteLevel"):
            raise ValueError("tokenizer.json: decoder must be ByteLevel")
        self.b2u = bytes_to_unicode()
        self.u2b = {u: b for b, u in self.b2u.items()}
        self.cache = {}

    def _parse_pre(self, pre):
        if not isinstance(pre, dict):
            raise ValueError("tokenizer.json: missing pre_tokenizer")
        items = pre["pretokenizers"] if pre.get("type") == "Sequence" else [pre]
        regs, saw_bl = [], False
        for p in items:
            if p.get("type") == "Split":
                pat = p.get("pattern", {})
                if "Regex" not in pat or p.get("behavior") != "Isolated" or p.get("invert"):
                    raise ValueError("tokenizer.json: only Split(Regex, Isolated) supported")
                regs.append(_ascii_regex(pat["Regex"]))
            elif p.get("type") == "ByteLevel":
                if p.get("add_prefix_space"):
                    raise ValueError("tokenizer.json: add_prefix_space unsupported")
                if p.get("use_regex", True):
                    regs.append(_ascii_regex(GPT2_PATTERN))
                saw_bl = True
            else:
                raise ValueError("tokenizer.json: pre-tokenizer %r unsupported" % p.get("type"))
        if not saw_bl:
            raise ValueError("tokenizer.json: no ByteLevel pre-tokenizer")
        return regs

    def _bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        if self.ignore_merges and word in self.vocab:
            out = [self.vocab[word]]
            self.cache[word] = out
            return out
        parts = list(word)
        while len(parts) > 1:
            best, bi = None, -1
            for i in range(len(parts) - 1):
                r = self.ranks.get((parts[i], parts[i + 1]))
                if r is not None and (best is None or r < best):
                    best, bi = r, i
            if best is None:
                break
            parts[bi:bi + 2] = [parts[bi] + parts[bi + 1]]
        try:
            out = [self.vocab[p] for p in parts]
        except KeyError as e:
            raise ValueError("tokenizer: no vocabulary entry for %r" % (e.args[0],))
        self.cache[word] = out
        return out

    def _encode_plain(self, text):
        pieces = [text]
        for rx in self.splits:
            nxt = []
            for p in pieces:
                pos = 0
                for m in rx.finditer(p):
                    if m.start() > pos:
                        nxt.append(p[pos:m.start()])
                    if m.end() > m.start():
                        nxt.append(m.group(0))
                    pos = m.end()
                if pos < len(p):
                    nxt.append(p[pos:])
            pieces = nxt
        ids = []
        for p in pieces:
            ids.extend(self._bpe("".join(self.b2u[b] for b in p.encode("utf-8"))))
        return ids

    def encode(self, text):
        """Text -> ids (no BOS/EOS added), identical to HF tokenizers for ASCII text."""
        if not isinstance(text, str):
            raise ValueError("encode: text must be a string")
        if not text.isascii():
            raise ValueError("encode: only ASCII text is supported by this encoder")
        ids, pos = [], 0
        if self._added_re is not None:
            for m in self._added_re.finditer(text):
                if m.start() > pos:
                    ids.extend(self._encode_plain(text[pos:m.start()]))
                ids.append(self.added[m.group(0)])
                pos = m.end()
        if pos < len(text):
            ids.extend(self._encode_plain(text[pos:]))
        return ids

    def token_id(self, s):
        if s in self.added:
            return self.added[s]
        if s in self.vocab:
            return self.vocab[s]
        raise ValueError("tokenizer has no token %r" % s)

    def decode(self, ids, skip_special_tokens=True):
        out, buf = [], []
        for i in ids:
            i = int(i)
            if i not in self.id_to_token:
                raise ValueError("decode: unknown id %d" % i)
            if skip_special_tokens and i in self.special_ids:
                continue
            s = self.id_to_token[i]
            if s in self.added and i not in self.vocab_ids:
                out.append(bytes(buf).decode("utf-8", errors="replace"))
                buf = []
                out.append(s)
                continue
            buf.extend(self.u2b[c] for c in s)
        out.append(bytes(buf).decode("utf-8", errors="replace"))
        return "".join(out)
