"""Compare ops/train/tok.py with the HF `tokenizers` library on a task file.

Design
------
Runs check_tok.js (node + the npm `tokenizers` package, found through NODE_PATH) on the
items, encodes the same prompt and answer strings with the Python encoder used for
training and evaluation, and exits non-zero on the first difference. This is how the
claim "the training ids are the ids HF produces for this tokenizer.json" is checked.

  NODE_PATH=/tmp/tk/node_modules /usr/bin/python3 ops/train/check_tok.py \\
      models/llada-tiny/tokenizer.json ops/tasks/eval_split.jsonl
"""

import json
import os
import subprocess
import sys

from common import Codec, tasks, HERE


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: check_tok.py TOKENIZER_JSON ITEMS_JSONL\n")
        return 2
    tok_path, items_path = argv
    try:
        items = tasks.load_jsonl(items_path)
        codec = Codec(tok_path)
    except ValueError as e:
        sys.stderr.write("check_tok.py: error: %s\n" % e)
        return 2
    r = subprocess.run(["node", os.path.join(HERE, "check_tok.js"), tok_path, items_path],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write("check_tok.py: node failed:\n%s" % r.stderr)
        return 2
    lines = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    if len(lines) != len(items):
        sys.stderr.write("check_tok.py: node returned %d lines for %d items\n"
                         % (len(lines), len(items)))
        return 1
    for it, hf in zip(items, lines):
        p = codec.prompt_ids(it)
        a = codec.tok.encode(it["answer"])
        if p != hf["prompt_ids"] or a != hf["answer_ids"]:
            sys.stderr.write("MISMATCH on %s\n python %s\n hf     %s\n" % (
                it["id"], (p, a), (hf["prompt_ids"], hf["answer_ids"])))
            return 1
    print("ok: %d items, python ids == HF tokenizers ids" % len(items))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
