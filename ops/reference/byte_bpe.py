"""The small byte-level BPE tokenizer of the test checkpoints, and an encoder for it.

Design
------
The random test checkpoints need a real HF-format tokenizer.json that exercises the same
code paths as LLaDA's (Llama-3 style) tokenizer, but small: the vocabulary is

    ids 0..255            the 256 byte symbols, id = byte value, spelled with the GPT-2
                          byte-to-unicode mapping (printable bytes map to themselves,
                          the others to U+0100 + n in byte order)
    ids 256..256+M-1      one token per merge, in merge (rank) order
    ids 256+M..           the LLaDA special tokens, as added special tokens only (not in
                          model.vocab, like Llama-3): <|endoftext|> (eos),
                          <|startoftext|> (bos), <|mdm_mask|> (mask),
                          <|start_header_id|>, <|end_header_id|>, <|eot_id|>

pre_tokenizer: Sequence[Split(Llama-3 regex, Isolated), ByteLevel(add_prefix_space=false,
use_regex=false)]; decoder: ByteLevel; model: BPE, ignore_merges false, no unk, no
byte fallback; no normalizer, no post-processor (nothing is added on encode).

encode() is an independent Python implementation used to compute the ids of the golden
prompts (e.g. the chat template). Python's `re` has no \\p{L}/\\p{N}, so encode() accepts
only ASCII text (ValueError otherwise), for which the Llama-3 regex is exactly the
ASCII translation used here (\\p{L} -> [A-Za-z], \\p{N} -> [0-9], re.ASCII so that \\s is
[ \\t\\n\\v\\f\\r], matching the Unicode White_Space set restricted to ASCII). The ids were
checked against the HF `tokenizers` library (npm) when the golden data was made.
"""

import re

LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

# The Llama-3 regex restricted to ASCII input (see the module docstring).
_ASCII_REGEX = re.compile(
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\nA-Za-z0-9]?[A-Za-z]+|[0-9]{1,3}|"
    r" ?[^\sA-Za-z0-9]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    re.ASCII)

SPECIALS = ["<|endoftext|>", "<|startoftext|>", "<|mdm_mask|>",
            "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]

# A handful of merges, so that merge handling (ranks, chained merges, a merge across a
# newline pair) is exercised. Symbols are in the byte-to-unicode alphabet: "Ġ" = space,
# "Ċ" = "\n".
MERGES = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("Ġ", "a"), ("e", "r"),
          ("o", "n"), ("Ġ", "s"), ("r", "e"), ("a", "t"), ("Ċ", "Ċ"), ("Ġ", "w"),
          ("Ġ", "in")]


def bytes_to_unicode():
    """GPT-2 byte -> printable unicode char mapping (list indexed by byte)."""
    keep = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) +
            list(range(ord("®"), ord("ÿ") + 1)))
    out = [None] * 256
    n = 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + n)
            n += 1
    return out


BYTE_SYMS = bytes_to_unicode()


def build_vocab():
    """Returns (vocab dict symbol -> id, merges list, specials dict content -> id)."""
    vocab = {BYTE_SYMS[b]: b for b in range(256)}
    for a, b in MERGES:
        if a not in vocab or b not in vocab:
            raise ValueError("merge %r %r uses an unknown symbol" % (a, b))
        if a + b in vocab:
            raise ValueError("merge result %r already in vocab" % (a + b))
        vocab[a + b] = len(vocab)
    specials = {}
    for s in SPECIALS:
        specials[s] = len(vocab) + len(specials)
    return vocab, list(MERGES), specials


def tokenizer_json():
    """The tokenizer.json content as a dict."""
    vocab, merges, specials = build_vocab()
    added = [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for s, i in specials.items()]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": LLAMA3_REGEX},
                 "behavior": "Isolated", "invert": False},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                 "use_regex": False},
            ],
        },
        "post_processor": None,
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
            "ignore_merges": False,
            "vocab": vocab,
            "merges": ["%s %s" % (a, b) for a, b in merges],
        },
    }


def vocab_size():
    vocab, _, specials = build_vocab()
    return len(vocab) + len(specials)


def special_id(name):
    _, _, specials = build_vocab()
    if name not in specials:
        raise ValueError("unknown special token %r" % name)
    return specials[name]


def _bpe(symbols, ranks):
    """Apply merges by lowest rank until none applies."""
    while len(symbols) > 1:
        best = None
        for i in range(len(symbols) - 1):
            r = ranks.get((symbols[i], symbols[i + 1]))
            if r is not None and (best is None or r < best[0]):
                best = (r, i)
        if best is None:
            break
        r, _ = best
        a, b = symbols[best[1]], symbols[best[1] + 1]
        out = []
        i = 0
        while i < len(symbols):  # merge every occurrence of this pair, left to right
            if i < len(symbols) - 1 and symbols[i] == a and symbols[i + 1] == b:
                out.append(a + b)
                i += 2
            else:
                out.append(symbols[i])
                i += 1
        symbols = out
    return symbols


def encode(text):
    """ASCII text (special-token strings allowed anywhere) -> list of ids."""
    if not isinstance(text, str):
        raise ValueError("encode: text must be a str")
    if any(ord(c) > 127 for c in text):
        raise ValueError("encode: only ASCII text is supported by the Python encoder")
    vocab, merges, specials = build_vocab()
    ranks = {m: i for i, m in enumerate(merges)}
    split = re.compile("(" + "|".join(re.escape(s) for s in SPECIALS) + ")")
    ids = []
    for part in split.split(text):
        if not part:
            continue
        if part in specials:
            ids.append(specials[part])
            continue
        for piece in _ASCII_REGEX.findall(part):
            syms = [BYTE_SYMS[b] for b in piece.encode("utf-8")]
            for s in _bpe(syms, ranks):
                ids.append(vocab[s])
    return ids


def decode(ids, skip_special_tokens=False):
    vocab, _, specials = build_vocab()
    inv = {i: s for s, i in vocab.items()}
    inv_sp = {i: s for s, i in specials.items()}
    byte_of = {c: b for b, c in enumerate(BYTE_SYMS)}
    out = bytearray()
    for i in ids:
        if i in inv_sp:
            if not skip_special_tokens:
                out += inv_sp[i].encode("utf-8")
        elif i in inv:
            out += bytes(byte_of[c] for c in inv[i])
        else:
            raise ValueError("decode: id %d out of range" % i)
    return out.decode("utf-8", errors="replace")


def chat_prompt(msg):
    """The LLaDA-Instruct chat template for one user message (docs/algorithms.md 13.6)."""
    return ("<|startoftext|><|start_header_id|>user<|end_header_id|>\n\n" + msg +
            "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
