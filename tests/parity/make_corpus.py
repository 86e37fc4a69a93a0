#!/usr/bin/python3
"""Writes tests/parity/corpus.jsonl: the texts the tokenizer parity check encodes.

One JSON object per line, {"text": "..."}. Hand-picked cases (scripts, emoji and ZWJ
sequences, combining marks, digits, contractions, whitespace runs including "\\r\\n" and
the Unicode spaces whose class differs between regex engines, added/special token strings
embedded in text, long words) followed by seeded random mixtures of them. No NUL
characters and no lone surrogates (they cannot round-trip through the JSON tools).
Deterministic: rerunning gives the same file.

Also writes unicode_sweep.jsonl: every 7th code point from U+0080 up that is assigned in
Python's Unicode database (14.0 on Debian 12, the version of Debian's PCRE2 10.42), 64 per
line with letters and spaces between them, so that the regex classes (\\p{L}, \\p{N}, \\s,
\\w, \\b, ...) are compared against the HF library's Oniguruma on every script. Characters
assigned after Unicode 14 are left out on purpose: PCRE2 10.42 does not know them (the
library's Oniguruma has Unicode 16 tables), see engine/tokenizer_pretok.c.

usage: /usr/bin/python3 tests/parity/make_corpus.py [OUTDIR]   (default: next to this file)

SPDX-License-Identifier: Apache-2.0
"""

import json
import os
import random
import sys
import unicodedata

CASES = [
    "",
    "Hello world",
    "Hello, world! How are you today?",
    " leading space",
    "trailing space ",
    "  two leading, two trailing  ",
    "   ",
    " ",
    "\n",
    "\t",
    "a",
    "The quick brown fox jumps over the lazy dog.",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
    "Diffusion language models unmask tokens step by step.",
    # contractions and apostrophes
    "It's they're we've I'm you'll he'd she's don't",
    "IT'S THEY'RE WE'VE I'M YOU'LL HE'D DON'T",
    "It'S tHeY'Re We'Ve i'M yOu'Ll He'D",
    "'s 't 're 've 'm 'll 'd",
    "'S 'T 'RE 'VE 'M 'LL 'D",
    "'ſ 'ſt long s after apostrophe",
    "rock'n'roll o'clock ma'am y'all",
    "It’s curly ’s apostrophe ‘quoted’",
    "''''' '''s",
    "x's 1's _'s ''s",
    "'",
    "'x 'sx 'llama 'real",
    # digits
    "0", "12", "123", "1234", "12345", "123456", "1234567", "12345678901234567890",
    "3.14159265358979", "1,234,567.89", "1e-10 6.02e+23", "-42 +7 ±3",
    "2024-06-01T12:30:45Z", "0xDEADBEEF 0b101010 0o777",
    "٠١٢٣٤٥٦٧٨٩ ۰۱۲۳۴۵۶۷۸۹", "１２３４５ fullwidth", "²³¹ ½ ¾ ⅓ Ⅻ ⅷ ① ⑳",
    "abc123def456", "v1.2.3-rc4", "a1b2c3d4e5",
    "99 bottles of beer on the wall, 99 bottles of beer.",
    # whitespace runs
    "a  b   c    d     e",
    "a\tb\t\tc\t\t\td",
    "line1\nline2\n\nline4\n\n\n",
    "crlf\r\nline\r\n\r\nend\r\n",
    "cr\ronly\r\r",
    "mixed \t \n \r\n  \t\t\n end",
    "   \n   \n   ",
    "\n\n\n\n",
    "\r\n",
    " \n",
    "\n ",
    "word   \n",
    "word\n   word",
    "tab\tthen\tspace \tand\t newline\n\t",
    "trailing spaces at end     ",
    "    leading spaces at start",
    "nbsp\u00a0between\u00a0words \u00a0 mixed",
    "nel\u0085between\u0085 \u0085words",
    "ls\u2028ps\u2029separators",
    "ideographic\u3000space\u3000\u3000twice",
    "em\u2003en\u2002thin\u2009hair\u200a",
    "mongolian\u180evowel separator",
    "zero\u200bwidth\u200bspace",
    "bom\ufeffinside",
    "vt\u000bff\u000cchars",
    "info\u001cseparators\u001d\u001e\u001f",
    "narrow\u202fnbsp and math\u205fspace",
    "ogham\u1680space",
    # scripts
    "扩散语言模型通过逐步去掩码来生成文本。",
    "大语言模型的推理引擎需要高效的注意力计算。",
    "東京は日本の首都です。ひらがな、カタカナ、漢字。",
    "한국어 문장도 포함합니다. 서울은 대한민국의 수도입니다.",
    "العربية لغة جميلة. مرحبا بالعالم!",
    "بِسْمِ ٱللَّٰهِ ٱلرَّحْمَٰنِ ٱلرَّحِيمِ",
    "עברית נכתבת מימין לשמאל. שָׁלוֹם",
    "Русский язык: Привет, мир! ЁЖИК ёжик",
    "Ελληνικά: Καλημέρα κόσμε! ΣΊΣΥΦΟΣ",
    "हिन्दी: नमस्ते दुनिया! क्षत्रिय",
    "ภาษาไทย: สวัสดีชาวโลก",
    "Tiếng Việt: Xin chào thế giới!",
    "ქართული ენა და Հայերեն լեզու",
    "ግዕዝ ፊደል እና ᏣᎳᎩ",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕄𝕒𝕥𝕙 𝒮𝒸𝓇𝒾𝓅𝓉",
    "𠀀𠀁𪚥 CJK extension B",
    "Ǆǅǆ ǈ titlecase digraphs",
    "ﬁﬂ ligatures ﬀ",
    "Ⓐⓑ ①② Ⅻⅷ ²₃ ¼ circled, roman, super/subscript",
    "a\u200cb a\u200db zero width (non-)joiners",
    "snake_case kebab‿tie ⁀ connector punctuation",
    "x\u0301y \u0903\u0300 marks between letters",
    "the The THE theory other the.",
    "·¼a ¼a ·² a¹ -¾- x¼ Ⅻ·₃ ·ⓐ· ·\u200d· latin-1 numbers vs \\w",
    # combining marks
    "e\u0301 a\u0300 o\u0308 n\u0303",
    "é à ö ñ precomposed",
    "Z\u0351\u0368\u0364a\u0313\u0350l\u0346g\u0352o\u0348 text",
    "a\u0301\u0301\u0301\u0301 stacked",
    "\u0301 leading combining mark",
    "क\u094d\u0937 ज\u094d\u091e",
    # emoji
    "😀 😃 😄 😁",
    "🎉🚀❤️👍🏽",
    "👨‍👩‍👧‍👦 family ZWJ",
    "🏳️‍🌈 rainbow flag",
    "🇩🇪🇯🇵🇺🇸 flags",
    "👩🏽‍💻 technologist",
    "❤\ufe0f vs ❤\ufe0e",
    "emoji😀inside😀words",
    "#️⃣ 1️⃣ keycaps",
    "🧑‍🤝‍🧑 🫠 🫶🏿",
    # punctuation and symbols
    "!!!???...,,,;;;:::",
    "--- === +++ *** ### @@@",
    "«quotes» „German“ “English” 「日本」",
    "→ ← ↑ ↓ ⇒ ∀x∈ℝ: x² ≥ 0",
    "€100 £50 ¥1000 ₹500 $20.00",
    "a.b.c a-b-c a_b_c a/b/c a\\b\\c",
    "(parens) [brackets] {braces} <angles>",
    "__init__ __name__ == '__main__'",
    "email@example.com https://example.com/path?q=1&r=2#frag",
    "C:\\Windows\\System32 /usr/local/bin",
    "....\n\n....\r\n!!!\n",
    "?!\n\n\n?!",
    " ...\n",
    # code
    "int main(void) {\n    return 0;\n}\n",
    "for (size_t i = 0; i < n; i++) { sum += x[i] * w[i]; }",
    "def f(x: int) -> int:\n\treturn x ** 2  # square\n",
    "const s = `template ${x}`; // comment",
    "{\"key\": [1, 2, 3], \"nested\": {\"a\": null}}",
    "SELECT * FROM users WHERE id = 42;",
    "#include <stdio.h>\n#define MAX(a, b) ((a) > (b) ? (a) : (b))",
    "    indented\n        more\n            most",
    "x=1;y=2;z=x+y",
    "if(a&&b||!c){d^=e<<2;}",
    # special and added tokens embedded in text
    "<|endoftext|>",
    "<|startoftext|>Hello",
    "Hello<|eot_id|>",
    "before <|eot_id|> after",
    "<|eot_id|><|eot_id|><|eot_id|>",
    "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
    "<|mdm_mask|><|mdm_mask|> masked <|mdm_mask|>",
    "<|eot_id",
    "<|eot_id|",
    "<<|eot_id|>>",
    "<|EOT_ID|> case differs",
    "<|eot_id |> space inside",
    "text<|endoftext|>text<|startoftext|>text",
    " <|endoftext|> ",
    "\n<|eot_id|>\n",
    "<tool>",
    "call <tool> now",
    "call   <tool>   spaced",
    "x<tool>y",
    "<tool><tool>",
    "\t<tool>\n",
    "USER",
    "USER says hi",
    "the USER",
    "USERS",
    "xUSER",
    "USER_",
    "_USER",
    "USER1",
    "(USER)",
    "USER.USER USER",
    "éUSER",
    "USERé",
    "<|eot",
    "a <|eot b",
    "<|eot<|eot_id|>",
    "<norm>",
    "x<norm>y",
    " <sp> ",
    "a <sp> b",
    "a  <sp>  b",
    "ünï",
    "ünïcode",
    "<tool><|eot_id|> <sp> USER<norm>ünï",
] + [
    # characters whose \\w / \\s class differs between regex engines, right next to added
    # tokens (single_word, lstrip and rstrip look at them)
    c + tok + c
    for c in ["²", "ⓐ", "\u200d", "\u200c", "_", "‿", "\u0301", "Ⅻ", "١", "\u00a0", "\u0085",
              "\u3000", "\u180e", "é", "-", "7"]
    for tok in ["<|eot_id|>", "USER", "<tool>"]
] + [
    "USER\u0301 x", "\u0301USER", "a\u00a0\u00a0<tool>\u0085\u0085b", "x \u2028<tool>\u3000 y",
    # long words
    "a" * 1000,
    "ab" * 500,
    "1" * 500,
    "9876543210" * 30,
    "!" * 300,
    " " * 2000,
    "\n" * 300,
    " \n" * 200,
    "\t" * 100 + "x",
    "antidisestablishmentarianism" * 20,
    "超" * 500,
    "😀" * 200,
    "é" * 300,
    "e\u0301" * 200,
    "Supercalifragilisticexpialidocious",
    "pneumonoultramicroscopicsilicovolcanoconiosis",
    "x" * 5000,
]

FRAGMENTS = [
    "Hello", "world", " ", "  ", "\t", "\n", "\r\n", "\n\n", "   \n", "it's", "THEY'RE",
    "123", "4567", "3.14", "😀", "👨‍👩‍👧", "🇯🇵", "模型", "日本語", "한국", "مرحبا",
    "e\u0301", "ö", "ß", "ſ", "'s", "'LL", "<|eot_id|>", "<|endoftext|>", "<tool>", "USER",
    "<|eot", "<norm>", " <sp> ", "ünï", "<|start_header_id|>", "(x)", "->", "==", "/*", "*/",
    "\u00a0", "\u0085", "\u3000", "\u2028", "_", "-", ".", "!!", "?", "model", "Token",
    "mask", "cache", "def", "return", "{", "}", ";", "\"", "'", "`", "#", "@", "$", "%",
]


def random_cases(rng, n):
    out = []
    for _ in range(n):
        k = rng.randint(1, 24)
        out.append("".join(rng.choice(FRAGMENTS) for _ in range(k)))
    return out


def unicode_sweep():
    assert unicodedata.unidata_version == "14.0.0", (
        "regenerate with a Python whose unicodedata is 14.0.0 (Debian 12's python3)")
    cps = [c for c in range(0x80, 0x110000, 7)
           if not 0xD800 <= c <= 0xDFFF and unicodedata.category(chr(c)) not in ("Cn", "Co")]
    lines = []
    for i in range(0, len(cps), 64):
        chunk = cps[i:i + 64]
        lines.append("".join(chr(c) + ("a" if k % 3 == 0 else " " if k % 3 == 1 else "")
                             for k, c in enumerate(chunk)))
    return lines


def write(path, texts):
    with open(path, "w", encoding="utf-8") as f:
        for t in texts:
            assert "\x00" not in t
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
    print(f"make_corpus: {len(texts)} texts -> {path}", file=sys.stderr)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    rng = random.Random(20240601)
    write(os.path.join(out, "corpus.jsonl"), CASES + random_cases(rng, 320))
    write(os.path.join(out, "unicode_sweep.jsonl"), unicode_sweep())


if __name__ == "__main__":
    main()
