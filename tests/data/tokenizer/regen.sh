#!/bin/sh
# Regenerates the tokenizer fixtures with ops/tokenizer/train_bpe.py (deterministic: the
# same inputs give byte-identical files). The corpus is the project design docs
# (/work/shared/docs/*.md at the time of writing; pass another directory as $1) plus
# corpus_extra.txt (multilingual text, emoji, code, numbers, whitespace runs).
#   llama3/  LLaDA-style: Sequence[Split(Llama-3 regex), ByteLevel], 4096 ids, merges as
#            "a b" strings, ignore_merges, TemplateProcessing post-processor, LLaDA specials
#   gpt2/    ByteLevel(use_regex, add_prefix_space), 800 ids, merges as [a, b] pairs,
#            ignore_merges false, non-special added tokens with lstrip/rstrip/single_word/
#            normalized, a special token containing spaces, a non-ASCII added token
# usage: tests/data/tokenizer/regen.sh [DOCS_DIR]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
docs=${1:-/work/shared/docs}
train="/usr/bin/python3 $root/ops/tokenizer/train_bpe.py"
$train --vocab-size 4096 --out "$here/llama3" "$docs"/*.md "$here/corpus_extra.txt"
$train --vocab-size 800 --pretokenizer gpt2 --merges-format pairs --add-prefix-space \
  --no-ignore-merges --out "$here/gpt2" \
  --added-token '{"content":"<tool>","special":false,"lstrip":true,"rstrip":true,"normalized":false}' \
  --added-token '{"content":"USER","special":false,"single_word":true,"normalized":false}' \
  --added-token '{"content":"<|eot","special":false,"normalized":true}' \
  --added-token '{"content":"<norm>","special":false}' \
  --added-token '{"content":" <sp> ","special":true,"normalized":false}' \
  --added-token '{"content":"ünï","special":false,"normalized":false}' \
  "$docs/design.md" "$here/corpus_extra.txt"
