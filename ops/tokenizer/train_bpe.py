#!/usr/bin/python3
"""Train a byte-level BPE tokenizer and write it as Hugging Face tokenizer.json.

The output loads in the HF `tokenizers` library and in dllm's C tokenizer
(engine/tokenizer.c) and gives the same ids in both. It is the tokenizer format of
LLaDA-8B-Instruct: a BPE model over the GPT-2 byte-level alphabet, the Llama-3 split
regex as pre-tokenizer, a ByteLevel decoder, and LLaDA's special tokens added after the
learned vocabulary.

Usage:
    /usr/bin/python3 ops/tokenizer/train_bpe.py --vocab-size 4096 --out DIR corpus.txt ...
    cat *.md | /usr/bin/python3 ops/tokenizer/train_bpe.py --vocab-size 2048 --out DIR -

Writes DIR/tokenizer.json and DIR/tokenizer_config.json.

Algorithm (deterministic):
  1. Split the corpus into words with the pre-tokenizer regex (implemented here with
     unicodedata, no third-party `regex` module: the scanners below follow the regex's
     leftmost-first alternation and backtracking exactly), map each word to bytes and count
     distinct words.
  2. Start from the 256 byte symbols (ids 0..255 in byte order).
  3. Repeatedly merge the most frequent adjacent pair (counts weighted by word frequency);
     ties are broken by the smaller (left bytes, right bytes) pair, lexicographically. Pair
     counts are updated incrementally from the words that contain the merged pair, and a
     lazy max-heap finds the best pair.
  4. Stop at --vocab-size (which counts the special and extra added tokens too) or when
     the best pair occurs fewer than --min-frequency times.
A merge whose result already is a token (two merge paths to the same bytes) reuses that
token's id, as the HF trainer does; the merge is still listed.

Only the Python 3 standard library is used.

SPDX-License-Identifier: Apache-2.0
"""

import argparse
import heapq
import json
import os
import sys
import unicodedata
from collections import Counter

# LLaDA's special tokens (algorithms.md 13.6), in the order they get ids after the vocab.
LLADA_SPECIALS = [
    "<|startoftext|>",  # BOS
    "<|endoftext|>",  # EOS (also the pad token)
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<|mdm_mask|>",  # MASK
]

LLAMA3_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
    r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# Oniguruma's \s (the HF library's regex engine): the Unicode White_Space property.
WHITE_SPACE = frozenset(
    [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F,
     0x3000] + list(range(0x2000, 0x200B)))

LLAMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content']"
    " + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{% endif %}"
)


def _is_l(ch):
    return unicodedata.category(ch)[0] == "L"


def _is_n(ch):
    return unicodedata.category(ch)[0] == "N"


def _is_ws(ch):
    return ord(ch) in WHITE_SPACE


def _is_other(ch):
    """[^\\s\\p{L}\\p{N}]"""
    return not _is_ws(ch) and not _is_l(ch) and not _is_n(ch)


def _run(text, j, pred):
    n = len(text)
    while j < n and pred(text[j]):
        j += 1
    return j


def _whitespace_tail(text, i, line_breaks):
    """[\\s*[\\r\\n]+ |] \\s+(?!\\S) | \\s+ at i (text[i] is whitespace); returns the end.
    line_breaks: whether the \\s*[\\r\\n]+ alternative (Llama-3, not GPT-2) comes first."""
    n = len(text)
    j = _run(text, i, _is_ws)
    last_nl = -1
    if line_breaks:
        for k in range(i, j):
            if text[k] in "\r\n":
                last_nl = k
    if last_nl >= 0:  # \s*[\r\n]+: greedy \s* backs off to the last line break
        return last_nl + 1
    if j == n:  # \s+(?!\S) at the end of the text
        return j
    if j - 1 > i:  # \s+(?!\S): leave the last space for the next word
        return j - 1
    return j  # \s+


def _llama3_end(text, i):
    """End of the Llama-3 regex match that starts at i (leftmost-first alternation)."""
    n = len(text)
    c = text[i]
    if c == "'" and i + 1 < n:  # (?i:'s|'t|'re|'ve|'m|'ll|'d)
        for alt in ("s", "t", "re", "ve", "m", "ll", "d"):
            seg = text[i + 1:i + 1 + len(alt)]
            if len(seg) == len(alt) and all(a.casefold() == b for a, b in zip(seg, alt)):
                return i + 1 + len(alt)
    if _is_l(c):  # [^\r\n\p{L}\p{N}]?\p{L}+ without the optional char
        return _run(text, i, _is_l)
    if c not in "\r\n" and not _is_n(c) and i + 1 < n and _is_l(text[i + 1]):
        return _run(text, i + 1, _is_l)
    if _is_n(c):  # \p{N}{1,3}
        j = i
        while j < n and j - i < 3 and _is_n(text[j]):
            j += 1
        return j
    j = i + 1 if (c == " " and i + 1 < n and _is_other(text[i + 1])) else i
    if _is_other(text[j]):  # ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        k = _run(text, j, _is_other)
        return _run(text, k, lambda ch: ch in "\r\n")
    if _is_ws(c):
        return _whitespace_tail(text, i, True)
    return i + 1  # unreachable: every character matches one alternative


def _gpt2_end(text, i):
    """End of the GPT-2 regex match at i:
    's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"""
    n = len(text)
    c = text[i]
    if c == "'":
        for alt in ("s", "t", "re", "ve", "m", "ll", "d"):
            if text.startswith(alt, i + 1):
                return i + 1 + len(alt)
    nxt = text[i + 1] if i + 1 < n else ""
    for pred in (_is_l, _is_n, _is_other):
        if c == " " and nxt and pred(nxt):
            return _run(text, i + 1, pred)
        if pred(c):
            return _run(text, i, pred)
    return _whitespace_tail(text, i, False)


def pretokenize(text, style):
    """Splits text into the words the pre-tokenizer regex produces (behavior Isolated)."""
    end_fn = _llama3_end if style == "llama3" else _gpt2_end
    words = []
    i, n = 0, len(text)
    while i < n:
        j = end_fn(text, i)
        words.append(text[i:j])
        i = j
    return words


def bytes_to_unicode():
    """GPT-2's byte -> printable character map (the ByteLevel alphabet)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = list(bs)
    extra = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


class Trainer:
    """Incremental BPE trainer over a counter of words (tuples of token ids)."""

    def __init__(self, word_counts):
        self.tok_bytes = [bytes([b]) for b in range(256)]
        self.id_of = {tb: i for i, tb in enumerate(self.tok_bytes)}
        self.words = [list(w) for w in word_counts]
        self.freqs = [word_counts[w] for w in word_counts]
        self.pair_counts = Counter()
        self.where = {}
        for wi, w in enumerate(self.words):
            f = self.freqs[wi]
            for p in zip(w, w[1:]):
                self.pair_counts[p] += f
                self.where.setdefault(p, set()).add(wi)
        self.heap = [self._entry(p, c) for p, c in self.pair_counts.items()]
        heapq.heapify(self.heap)
        self.merges = []

    def _entry(self, pair, count):
        return (-count, self.tok_bytes[pair[0]], self.tok_bytes[pair[1]], pair)

    def _best(self):
        while self.heap:
            neg, _, _, pair = self.heap[0]
            if self.pair_counts.get(pair, 0) == -neg and -neg > 0:
                return pair, -neg
            heapq.heappop(self.heap)
        return None, 0

    @staticmethod
    def _merge_word(w, a, b, new):
        out, i, n = [], 0, len(w)
        while i < n:
            if i + 1 < n and w[i] == a and w[i + 1] == b:
                out.append(new)
                i += 2
            else:
                out.append(w[i])
                i += 1
        return out

    def step(self, min_frequency):
        """Performs one merge; returns False when no pair reaches min_frequency."""
        pair, count = self._best()
        if pair is None or count < min_frequency:
            return False
        a, b = pair
        merged = self.tok_bytes[a] + self.tok_bytes[b]
        new = self.id_of.get(merged)
        if new is None:
            new = len(self.tok_bytes)
            self.tok_bytes.append(merged)
            self.id_of[merged] = new
        self.merges.append((a, b))
        changed = set()
        for wi in sorted(self.where.pop(pair, ())):
            w = self.words[wi]
            nw = self._merge_word(w, a, b, new)
            if len(nw) == len(w):
                continue
            f = self.freqs[wi]
            for p in zip(w, w[1:]):
                self.pair_counts[p] -= f
                changed.add(p)
            for p in zip(nw, nw[1:]):
                self.pair_counts[p] += f
                changed.add(p)
                self.where.setdefault(p, set()).add(wi)
            self.words[wi] = nw
        for p in changed:
            c = self.pair_counts[p]
            if c > 0:
                heapq.heappush(self.heap, self._entry(p, c))
            else:
                del self.pair_counts[p]
        self.pair_counts.pop(pair, None)
        return True


def read_corpus(paths):
    parts = []
    for path in paths:
        if path == "-":
            parts.append(sys.stdin.buffer.read().decode("utf-8"))
        else:
            with open(path, "rb") as f:
                data = f.read()
            try:
                parts.append(data.decode("utf-8"))
            except UnicodeDecodeError as e:
                raise SystemExit(f"train_bpe: {path}: not UTF-8 ({e}); "
                                 "hint: convert the corpus to UTF-8 first")
    return parts


def build_tokenizer_json(args, vocab_strings, merges, added):
    vocab = {s: i for i, s in enumerate(vocab_strings)}
    if args.merges_format == "pairs":
        merges_json = [[vocab_strings[a], vocab_strings[b]] for a, b in merges]
    else:
        merges_json = [f"{vocab_strings[a]} {vocab_strings[b]}" for a, b in merges]
    if args.pretokenizer == "llama3":
        pre = {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": LLAMA3_REGEX}, "behavior": "Isolated",
                 "invert": False},
                {"type": "ByteLevel", "add_prefix_space": args.add_prefix_space,
                 "trim_offsets": True, "use_regex": False},
            ],
        }
    else:
        pre = {"type": "ByteLevel", "add_prefix_space": args.add_prefix_space,
               "trim_offsets": True, "use_regex": True}
    bos = "<|startoftext|>"
    if any(t["content"] == bos for t in added):
        bos_id = next(t["id"] for t in added if t["content"] == bos)
        post = {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": bos, "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": bos, "type_id": 1}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {bos: {"id": bos, "ids": [bos_id], "tokens": [bos]}},
        }
    else:
        post = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                "use_regex": True}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": pre,
        "post_processor": post,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": args.ignore_merges,
            "vocab": vocab,
            "merges": merges_json,
        },
    }


def build_config(args, added):
    have = {t["content"] for t in added}

    def tok(s):
        return s if s in have else None

    return {
        "add_bos_token": False,
        "add_eos_token": False,
        "bos_token": tok("<|startoftext|>"),
        "eos_token": tok("<|endoftext|>"),
        "pad_token": tok("<|endoftext|>"),
        "mask_token": tok("<|mdm_mask|>"),
        "clean_up_tokenization_spaces": False,
        "model_max_length": args.model_max_length,
        "tokenizer_class": "PreTrainedTokenizerFast",
        "chat_template": LLAMA3_CHAT_TEMPLATE,
        "added_tokens_decoder": {
            str(t["id"]): {k: t[k] for k in ("content", "single_word", "lstrip", "rstrip",
                                             "normalized", "special")}
            for t in added
        },
    }


def parse_added_token(spec):
    try:
        d = json.loads(spec)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"--added-token: not JSON ({e})")
    if not isinstance(d, dict) or not isinstance(d.get("content"), str) or not d["content"]:
        raise argparse.ArgumentTypeError('--added-token: expected {"content": "...", ...}')
    special = bool(d.get("special", False))
    return {
        "content": d["content"],
        "single_word": bool(d.get("single_word", False)),
        "lstrip": bool(d.get("lstrip", False)),
        "rstrip": bool(d.get("rstrip", False)),
        "normalized": bool(d.get("normalized", not special)),
        "special": special,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="""examples:
  # the LLaDA-style tokenizer of the small model (Llama-3 split, 4096 ids incl. specials)
  /usr/bin/python3 ops/tokenizer/train_bpe.py --vocab-size 4096 --out models/tiny docs/*.md
  # GPT-2 style pre-tokenizer, merges as [a, b] pairs, a non-special added token
  /usr/bin/python3 ops/tokenizer/train_bpe.py --pretokenizer gpt2 --merges-format pairs \\
      --vocab-size 600 --added-token '{"content": "<tool>", "lstrip": true}' --out d a.txt

The vocabulary is: 256 byte tokens (ids 0..255 in byte order), then the learned merges,
then the LLaDA specials (%s) unless --no-specials, then
--reserved-tokens <|reserved_token_N|> specials, then the --added-token entries.
""" % ", ".join(LLADA_SPECIALS))
    ap.add_argument("inputs", nargs="+", metavar="FILE",
                    help="UTF-8 corpus files ('-' reads stdin)")
    ap.add_argument("--vocab-size", type=int, required=True,
                    help="total number of ids, special and added tokens included")
    ap.add_argument("--out", required=True, metavar="DIR",
                    help="output directory (created if needed)")
    ap.add_argument("--min-frequency", type=int, default=2,
                    help="stop when the best pair occurs fewer times (default 2)")
    ap.add_argument("--pretokenizer", choices=("llama3", "gpt2"), default="llama3",
                    help="llama3: Sequence[Split(Llama-3 regex), ByteLevel(use_regex=false)] "
                         "(default); gpt2: ByteLevel(use_regex=true)")
    ap.add_argument("--merges-format", choices=("strings", "pairs"), default="strings",
                    help='merges as "a b" strings (default) or ["a", "b"] pairs')
    ap.add_argument("--add-prefix-space", action="store_true",
                    help="ByteLevel add_prefix_space=true (default false)")
    ap.add_argument("--no-ignore-merges", dest="ignore_merges", action="store_false",
                    help="write ignore_merges=false (default true, as Llama-3)")
    ap.add_argument("--no-specials", action="store_true", help="do not add the LLaDA specials")
    ap.add_argument("--reserved-tokens", type=int, default=0, metavar="N",
                    help="add N special <|reserved_token_i|> tokens")
    ap.add_argument("--added-token", type=parse_added_token, action="append", default=[],
                    metavar="JSON",
                    help='extra added token: {"content": "...", "special": false, '
                         '"lstrip": .., "rstrip": .., "single_word": .., "normalized": ..}')
    ap.add_argument("--model-max-length", type=int, default=4096,
                    help="model_max_length in tokenizer_config.json (default 4096)")
    args = ap.parse_args(argv)

    specials = [] if args.no_specials else list(LLADA_SPECIALS)
    specials += [f"<|reserved_token_{i}|>" for i in range(args.reserved_tokens)]
    extra = args.added_token
    n_added = len(specials) + len(extra)
    target = args.vocab_size - n_added
    if target < 256:
        ap.error(f"--vocab-size {args.vocab_size} leaves {target} model ids; need >= 256 "
                 f"(256 bytes) plus {n_added} added tokens")
    contents = specials + [t["content"] for t in extra]
    if len(set(contents)) != len(contents):
        ap.error("added tokens must be distinct")

    b2u = bytes_to_unicode()
    counts = Counter()
    for text in read_corpus(args.inputs):
        if args.add_prefix_space and not text.startswith(" "):
            text = " " + text  # what ByteLevel(add_prefix_space) does to each input
        for w in pretokenize(text, args.pretokenizer):
            counts[tuple(w.encode("utf-8"))] += 1

    trainer = Trainer(counts)
    while len(trainer.tok_bytes) < target:
        if not trainer.step(args.min_frequency):
            break
    vocab_strings = ["".join(b2u[b] for b in tb) for tb in trainer.tok_bytes]
    vocab_set = set(vocab_strings)
    base = len(vocab_strings)
    added = []
    for i, content in enumerate(specials):
        if content in vocab_set:
            ap.error(f"special {content!r} collides with a learned token")
        added.append({"id": base + i, "content": content, "single_word": False,
                      "lstrip": False, "rstrip": False, "normalized": False, "special": True})
    for j, t in enumerate(extra):
        if t["content"] in vocab_set:
            ap.error(f"added token {t['content']!r} collides with a learned token")
        added.append(dict({"id": base + len(specials) + j}, **t))

    os.makedirs(args.out, exist_ok=True)
    tj = build_tokenizer_json(args, vocab_strings, trainer.merges, added)
    with open(os.path.join(args.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tj, f, ensure_ascii=False, indent=1)
        f.write("\n")
    with open(os.path.join(args.out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(build_config(args, added), f, ensure_ascii=False, indent=2)
        f.write("\n")
    print(f"train_bpe: {len(counts)} distinct words, {len(trainer.merges)} merges, "
          f"{base} model ids + {len(added)} added tokens -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
