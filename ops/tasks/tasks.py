"""Task suite for the small LLaDA model: chat items with checkable answers.

Design
------
Every item is a chat of a *shared* system prompt (SYSTEM_PROMPT, 149 tokens with the
shipped tokenizer, the same for every item, so prompt reuse in the engine has something
real to reuse; it was cut from ~325 tokens so that training fits the CPU budget), a user
message and the expected answer. Seven task families, all with short answers so that a
tiny model can learn them and exact match is meaningful:

  add      "Compute 347 + 289."                      -> "636"       (3 digits, see below)
  sub      "Compute 812 - 347."                      -> "465"       (3 digits)
  word     templated word problems on two numbers    -> "37"        (2 digits, + or -)
  copy     "Copy the list: q d k a m"                -> "q d k a m" (3-6 letters)
  reverse  "Reverse the list: q d k a m"             -> "m a k d q"
  sort     "Sort the list: q d k a m"                -> "a d k m q" (distinct letters)
  lookup   a table of 10-18 "name: number" lines (a long user message, 70-130
           tokens) then "What is the code of owl?"   -> "377"

Fixed-width arithmetic: the operands of add and sub are 3-digit numbers drawn so that the
result has 3 digits too (a + b <= 999, a - b >= 100), and the word problems' numbers and
results are 2-digit (a + b <= 99, a - b >= 10). Carries inside the number remain (347 +
289 = 636). Why: with free widths (2-3 digit operands, 2-4 digit results) the answer's
k-th digit sits at a different distance from the operand digits it depends on in every
item, and a 1M-parameter masked diffusion model did not learn that alignment in the CPU
budget (add 3/40, sub 1/40 after 191k add/sub sequences); with fixed widths the same run
reaches 16/40 / 26/40 after 64k (ops/train/README.md, "What the later stages add").

Determinism: item i of a stream is built from random.Random("<split>:<seed>:<i>") only,
so a (split, seed, index) triple always gives the same item, on any machine and Python 3
version (string seeds are hashed with SHA-512 by the random module, not with the
per-process salted hash()). The task of item i is TASKS[i % len(TASKS)] for the
evaluation splits (balanced per task) and drawn with TRAIN_WEIGHTS for training.

Train/eval separation: the evaluation files are generated from the "eval" split; the
training stream uses the "train" split and, in addition, skips every item whose
(task, user) text occurs in an evaluation file (exclusion by exact text), so the two never
overlap even by chance collision.

Training-only overrides (ops/train/train.py): parse_task_weights() reads --tasks specs such
as "word:8,add:1" (relative frequencies; a task without a weight gets TRAIN_WEIGHTS'), and
gen_task(..., lookup_rows=(lo, hi)) draws lookup tables of lo-hi rows (--lookup-rows, a
table-size curriculum). The evaluation files never use either.

Scoring: score(task, prediction, answer) is exact match after stripping surrounding
whitespace (the task name is validated but does not change the rule).

CLI:
  python3 ops/tasks/tasks.py --split eval --seed 1 --n 280 --out ops/tasks/eval_split.jsonl
  writes JSONL lines {"id","task","system","user","answer"}.
"""

import argparse
import json
import random
import sys

TASKS = ["add", "sub", "word", "copy", "reverse", "sort", "lookup"]

# Relative frequency of each task in the training stream (arithmetic is the hardest
# to learn, so it is drawn more often).
TRAIN_WEIGHTS = {"add": 3, "sub": 3, "word": 2, "copy": 1, "reverse": 2, "sort": 2,
                 "lookup": 2}

SYSTEM_PROMPT = (
    "You are Tiny, a small assistant inside the dllm engine. Reply with the answer "
    "only: no words, no explanation, no punctuation after it.\n"
    "- Sums and differences of whole numbers: write the result as digits.\n"
    "- Word problems about a person and some things: write only the final number.\n"
    "- Copy a list of letters: the same letters in the same order.\n"
    "- Reverse a list of letters: the letters from the last to the first.\n"
    "- Sort a list of letters: the letters from a to z.\n"
    "Write letters separated by single spaces.\n"
    "- Lookup: given a table of names with a code number on each line, write the code "
    "of the asked name exactly as in the table.\n"
    "Stop as soon as the answer is complete."
)

LETTERS = "abcdefghijklmnopqrstuvwxyz"

NAMES = ["Tom", "Ann", "Sam", "Mia", "Ben", "Eva", "Max", "Lily", "Jack", "Emma",
         "Leo", "Zoe", "Noah", "Ella", "Omar", "Nina"]
OBJECTS = ["apples", "books", "coins", "cards", "pens", "stamps", "shells", "eggs",
           "marbles", "cookies", "stickers", "flowers"]

LOOKUP_KEYS = ["fox", "owl", "cat", "dog", "bee", "elk", "ant", "bat", "cow", "eel",
               "hen", "pig", "rat", "yak", "ape", "emu", "gnu", "jay", "koi", "ram",
               "bear", "crab", "deer", "duck", "frog", "goat", "hare", "lion", "mole",
               "moth", "mule", "newt", "seal", "swan", "toad", "wolf", "worm", "wren",
               "lamb", "lynx", "mink", "puma", "slug", "tuna", "boar", "calf", "colt",
               "crow", "dove", "gull", "hawk", "kite", "lark", "orca", "pony", "rook",
               "snail", "tiger", "zebra", "otter"]

LOOKUP_MIN, LOOKUP_MAX = 10, 18


def pick_train_task(rng):
    """A task drawn with TRAIN_WEIGHTS (the training stream's choice)."""
    names = list(TRAIN_WEIGHTS)
    return rng.choices(names, weights=[TRAIN_WEIGHTS[n] for n in names], k=1)[0]


def parse_task_weights(spec):
    """"add,sub" or "word:8,add:1" -> {task: weight}; a task without a weight gets
    TRAIN_WEIGHTS[task]. Raises ValueError on an unknown task, a bad or
    non-positive weight, or a task named twice."""
    out = {}
    for part in spec.split(","):
        name, sep, w = part.partition(":")
        if name not in TRAIN_WEIGHTS:
            raise ValueError("unknown task %r (known: %s)"
                             % (name, ",".join(TRAIN_WEIGHTS)))
        if name in out:
            raise ValueError("task %r named twice" % name)
        if sep:
            try:
                weight = float(w)
            except ValueError:
                raise ValueError("bad weight %r for task %s" % (w, name)) from None
            if not weight > 0 or weight == float("inf"):
                raise ValueError("weight of %s must be a positive number, got %r" % (name, w))
        else:
            weight = TRAIN_WEIGHTS[name]
        out[name] = weight
    return out


def gen_task(task, rng, lookup_rows=None):
    """Return (user, answer) for one item of `task` drawn from rng. lookup_rows (lo, hi)
    overrides the table size of lookup items (a training curriculum; the evaluation
    files always use LOOKUP_MIN..LOOKUP_MAX)."""
    if task == "add":   # 3-digit operands and result (module docstring)
        a = rng.randint(100, 899)
        b = rng.randint(100, 999 - a)
        return "Compute %d + %d." % (a, b), str(a + b)
    if task == "sub":
        a = rng.randint(200, 999)
        b = rng.randint(100, a - 100)
        return "Compute %d - %d." % (a, b), str(a - b)
    if task == "word":
        name = rng.choice(NAMES)
        obj = rng.choice(OBJECTS)
        kind = rng.randrange(4)
        # 2-digit numbers and results (module docstring)
        a = rng.randint(10, 89) if kind in (0, 2) else rng.randint(20, 99)
        if kind == 0:
            b = rng.randint(10, 99 - a)
            u = ("%s has %d %s. %s gets %d more %s. How many %s does %s have now?"
                 % (name, a, obj, name, b, obj, obj, name))
            return u, str(a + b)
        if kind == 1:
            b = rng.randint(10, a - 10)
            u = ("%s has %d %s and gives %d of them away. How many %s does %s have left?"
                 % (name, a, obj, b, obj, name))
            return u, str(a - b)
        if kind == 2:
            b = rng.randint(10, 99 - a)
            u = ("A box holds %d %s and a bag holds %d %s. How many %s are there in all?"
                 % (a, obj, b, obj, obj))
            return u, str(a + b)
        b = rng.randint(10, a - 10)
        u = ("%s had %d %s and lost %d. How many %s are left?" % (name, a, obj, b, obj))
        return u, str(a - b)
    if task in ("copy", "reverse", "sort"):
        n = rng.randint(3, 6)
        if task == "sort":
            items = rng.sample(LETTERS, n)
        else:
            items = [rng.choice(LETTERS) for _ in range(n)]
        shown = " ".join(items)
        if task == "copy":
            return "Copy the list: %s" % shown, shown
        if task == "reverse":
            return "Reverse the list: %s" % shown, " ".join(reversed(items))
        return "Sort the list: %s" % shown, " ".join(sorted(items))
    if task == "lookup":
        lo, hi = lookup_rows or (LOOKUP_MIN, LOOKUP_MAX)
        n = rng.randint(lo, hi)
        keys = rng.sample(LOOKUP_KEYS, n)
        vals = [rng.randint(100, 999) for _ in range(n)]
        q = rng.randrange(n)
        table = "\n".join("%s: %d" % (k, v) for k, v in zip(keys, vals))
        u = "Here is a table of codes.\n%s\nWhat is the code of %s?" % (table, keys[q])
        return u, str(vals[q])
    raise ValueError("unknown task %r (known: %s)" % (task, ", ".join(TASKS)))


def make_item(split, seed, index):
    """Item `index` of the stream (split, seed); deterministic."""
    if split not in ("train", "eval"):
        raise ValueError("split must be 'train' or 'eval', got %r" % (split,))
    rng = random.Random("%s:%d:%d" % (split, seed, index))
    task = TASKS[index % len(TASKS)] if split == "eval" else pick_train_task(rng)
    user, answer = gen_task(task, rng)
    return {"id": "%s-%d-%d" % (split, seed, index), "task": task,
            "system": SYSTEM_PROMPT, "user": user, "answer": answer}


def item_key(item):
    return item["task"] + "\x00" + item["user"]


def generate(split, seed, n, exclude=None):
    """n distinct items of (split, seed); skips exact duplicates and anything in
    `exclude` (a set of item_key strings)."""
    if n < 0:
        raise ValueError("n must be >= 0")
    seen = set(exclude or ())
    out, i = [], 0
    while len(out) < n:
        it = make_item(split, seed, i)
        i += 1
        k = item_key(it)
        if k in seen:
            continue
        seen.add(k)
        out.append(it)
        if i > 100 * n + 1000:
            raise RuntimeError("could not generate %d distinct items" % n)
    return out


def train_stream(seed, exclude):
    """Infinite deterministic training stream (index, item), skipping excluded items."""
    i = 0
    while True:
        it = make_item("train", seed, i)
        if item_key(it) not in exclude:
            yield i, it
        i += 1


def score(task, prediction, answer):
    """Exact match after stripping surrounding whitespace -> 1 or 0."""
    if task not in TASKS:
        raise ValueError("unknown task %r" % (task,))
    if not isinstance(prediction, str) or not isinstance(answer, str):
        raise ValueError("prediction and answer must be strings")
    return 1 if prediction.strip() == answer.strip() else 0


REQUIRED_KEYS = ("id", "task", "system", "user", "answer")


def load_jsonl(path):
    """Read and validate a JSONL file of items."""
    items = []
    try:
        f = open(path, "r", encoding="utf-8")
    except OSError as e:
        raise ValueError("cannot open %s: %s" % (path, e))
    with f:
        for ln, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                it = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError("%s:%d: bad JSON: %s" % (path, ln, e))
            if not isinstance(it, dict):
                raise ValueError("%s:%d: not a JSON object" % (path, ln))
            for k in REQUIRED_KEYS:
                if not isinstance(it.get(k), str):
                    raise ValueError("%s:%d: missing or non-string key %r" % (path, ln, k))
            if it["task"] not in TASKS:
                raise ValueError("%s:%d: unknown task %r" % (path, ln, it["task"]))
            items.append(it)
    if not items:
        raise ValueError("%s: no items" % path)
    return items


def write_jsonl(path, items):
    with open(path, "w", encoding="utf-8") as f:
        for it in items:
            f.write(json.dumps({k: it[k] for k in REQUIRED_KEYS}, ensure_ascii=False) + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description="Generate task-suite items as JSONL.")
    ap.add_argument("--split", required=True, choices=["train", "eval"])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--n", type=int, required=True, help="number of items (>= 1)")
    ap.add_argument("--out", required=True, help="output JSONL path ('-' for stdout)")
    ap.add_argument("--exclude", action="append", default=[],
                    help="JSONL file whose items must not appear (repeatable)")
    a = ap.parse_args(argv)
    if a.n < 1 or a.n > 10_000_000:
        ap.error("--n must be in [1, 10000000]")
    excl = set()
    for p in a.exclude:
        excl.update(item_key(it) for it in load_jsonl(p))
    items = generate(a.split, a.seed, a.n, excl)
    if a.out == "-":
        for it in items:
            sys.stdout.write(json.dumps(it, ensure_ascii=False) + "\n")
    else:
        write_jsonl(a.out, items)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ValueError as e:
        sys.stderr.write("tasks.py: error: %s\n" % e)
        sys.exit(2)
