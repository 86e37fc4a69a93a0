"""Fallback byte-level BPE trainer (used only when ops/tokenizer/train_bpe.py is absent).

Design
------
Writes a tokenizer.json in the same layout as the repository's other small tokenizers
(ops/reference/byte_bpe.py): ids 0..255 are the 256 byte symbols (GPT-2 byte-to-unicode
spelling, id = byte value), ids 256.. one token per merge in rank order, then LLaDA's
special tokens as added special tokens (not in model.vocab): <|endoftext|>,
<|startoftext|>, <|mdm_mask|>, <|start_header_id|>, <|end_header_id|>, <|eot_id|>.
Pre-tokenizer: Sequence[Split(Llama-3 regex, Isolated), ByteLevel(use_regex=false)],
decoder ByteLevel, BPE without unk / byte fallback / ignore_merges.

Training is classic BPE over the pre-tokenized word counts of the corpus (ASCII only,
the Llama-3 regex in its exact ASCII form): repeatedly merge the most frequent adjacent
pair (ties: the lexicographically smallest pair, so the result is deterministic) until
the vocabulary reaches the target size or no pair occurs at least min_frequency times.

  /usr/bin/python3 ops/train/bpe_fallback.py --corpus FILE --vocab-size 2048 --out DIR
"""

import argparse
import collections
import json
import os
import sys

from tok import bytes_to_unicode, _ascii_regex

LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
SPECIALS = ["<|endoftext|>", "<|startoftext|>", "<|mdm_mask|>",
            "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]


def train(text, vocab_size, min_frequency=2):
    if not text.isascii():
        raise ValueError("corpus must be ASCII")
    if vocab_size < 256 + len(SPECIALS):
        raise ValueError("vocab size must be >= %d" % (256 + len(SPECIALS)))
    b2u = bytes_to_unicode()
    rx = _ascii_regex(LLAMA3_REGEX)
    counts = collections.Counter(m.group(0) for m in rx.finditer(text))
    words = [[b2u[b] for b in w.encode()] for w in counts]
    freqs = list(counts.values())
    merges = []
    n_merges = vocab_size - 256 - len(SPECIALS)
    while len(merges) < n_merges:
        pairs = collections.Counter()
        for w, f in zip(words, freqs):
            for i in range(len(w) - 1):
                pairs[(w[i], w[i + 1])] += f
        if not pairs:
            break
        best_n = max(pairs.values())
        if best_n < min_frequency:
            break
        best = min(p for p, n in pairs.items() if n == best_n)
        merges.append(best)
        a, b = best
        for w in words:
            i = 0
            while i < len(w) - 1:
                if w[i] == a and w[i + 1] == b:
                    w[i:i + 2] = [a + b]
                i += 1
    return merges


def tokenizer_json(merges):
    b2u = bytes_to_unicode()
    vocab = {b2u[b]: b for b in range(256)}
    for a, b in merges:
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
    nid = len(vocab)
    added = []
    for s in SPECIALS:
        added.append({"id": nid, "content": s, "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": False, "special": True})
        nid += 1
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": LLAMA3_REGEX}, "behavior": "Isolated",
             "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
             "use_regex": False}]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [[a, b] for a, b in merges]},
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description="Train a small byte-level BPE tokenizer.")
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--vocab-size", type=int, required=True)
    ap.add_argument("--out", required=True, help="output directory")
    a = ap.parse_args(argv)
    try:
        with open(a.corpus, "r", encoding="utf-8") as f:
            text = f.read()
        merges = train(text, a.vocab_size)
    except (OSError, ValueError) as e:
        sys.stderr.write("bpe_fallback.py: error: %s\n" % e)
        return 2
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(merges), f, ensure_ascii=False, indent=1)
    print("wrote %s: %d merges" % (os.path.join(a.out, "tokenizer.json"), len(merges)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
