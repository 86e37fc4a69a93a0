#!/usr/bin/env python3
"""test_tasks.py -- the task suite (ops/tasks/tasks.py) and its committed evaluation files.

Checks, with nothing but the standard library:
  * the committed ops/tasks/eval_split.jsonl and eval_small.jsonl are exactly what the
    generator writes for (split eval, seed 1, n 280 / 42), so the files, the model card's
    numbers and the generator cannot drift apart;
  * every evaluation item's answer is right by the task's own rule (recomputed here from
    the user message, not taken from the generator): arithmetic with the fixed widths of
    the suite (3-digit operands and results for add/sub, 2-digit for word problems),
    copy/reverse/sort of the listed letters, the asked code of the lookup table;
  * the training stream is deterministic and never yields an evaluation item;
  * the training-only overrides (task weights, lookup table size) parse, reject bad
    specs and still give right answers;
  * score() and load_jsonl() reject what they must.
Exit status 0 on success, 1 with a message on the first failure.

SPDX-License-Identifier: Apache-2.0
"""
import json
import os
import random
import re
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "ops", "tasks"))
import tasks  # noqa: E402

TASK_DIR = os.path.join(ROOT, "ops", "tasks")


def fail(msg):
    sys.stderr.write("FAIL: %s\n" % msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def expected_answer(it, rows=(tasks.LOOKUP_MIN, tasks.LOOKUP_MAX)):
    """The answer recomputed from the user text by the task's rule; rows = the allowed
    lookup table sizes."""
    t, u = it["task"], it["user"]
    if t in ("add", "sub"):
        m = re.fullmatch(r"Compute (\d+) ([+-]) (\d+)\.", u)
        check(m is not None, "%s: unexpected %s text %r" % (it["id"], t, u))
        a, op, b = int(m.group(1)), m.group(2), int(m.group(3))
        check(op == ("+" if t == "add" else "-"), "%s: operator %s for %s" % (it["id"], op, t))
        r = a + b if op == "+" else a - b
        check(all(100 <= v <= 999 for v in (a, b, r)),
              "%s: %s is not 3-digit operands with a 3-digit result" % (it["id"], u))
        return str(r)
    if t == "word":
        nums = [int(x) for x in re.findall(r"\d+", u)]
        check(len(nums) == 2, "%s: word problem without two numbers: %r" % (it["id"], u))
        a, b = nums
        sub = any(w in u for w in ("away", "lost", "left"))
        r = a - b if sub else a + b
        check(all(10 <= v <= 99 for v in (a, b, r)),
              "%s: %r is not 2-digit numbers with a 2-digit result" % (it["id"], u))
        return str(r)
    if t in ("copy", "reverse", "sort"):
        letters = u.split(": ", 1)[1].split(" ")
        check(3 <= len(letters) <= 6 and all(len(c) == 1 and c.islower() for c in letters),
              "%s: bad list %r" % (it["id"], u))
        if t == "reverse":
            letters = letters[::-1]
        elif t == "sort":
            check(len(set(letters)) == len(letters), "%s: sort list repeats" % it["id"])
            letters = sorted(letters)
        return " ".join(letters)
    if t == "lookup":
        lines = u.split("\n")
        q = re.fullmatch(r"What is the code of (\w+)\?", lines[-1])
        check(q is not None and lines[0] == "Here is a table of codes.",
              "%s: bad lookup text" % it["id"])
        table = dict(ln.split(": ") for ln in lines[1:-1])
        check(rows[0] <= len(table) <= rows[1] and
              len(table) == len(lines) - 2, "%s: table of %d rows" % (it["id"], len(table)))
        return table[q.group(1)]
    fail("%s: unknown task %r" % (it["id"], t))


def main():
    committed = {}
    for name, n in (("eval_split.jsonl", 280), ("eval_small.jsonl", 42)):
        path = os.path.join(TASK_DIR, name)
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, name)
            check(tasks.main(["--split", "eval", "--seed", "1", "--n", str(n), "--out", out])
                  == 0, "generator failed")
            with open(out, "rb") as f, open(path, "rb") as g:
                check(f.read() == g.read(), "%s differs from `tasks.py --split eval --seed 1 "
                      "--n %d`: regenerate it (and the golden and the model card)" % (name, n))
        committed[name] = tasks.load_jsonl(path)
    items = committed["eval_split.jsonl"]
    check(committed["eval_small.jsonl"] == items[:42], "eval_small is not eval_split[:42]")
    per = {}
    for it in items:
        per[it["task"]] = per.get(it["task"], 0) + 1
        check(it["system"] == tasks.SYSTEM_PROMPT, "%s: not the shared system prompt" % it["id"])
        want = expected_answer(it)
        check(it["answer"] == want, "%s: answer %r, rule gives %r" % (it["id"], it["answer"],
                                                                      want))
        check(tasks.score(it["task"], " " + want + "\n", it["answer"]) == 1, "score strip")
    check(per == {t: 40 for t in tasks.TASKS}, "eval_split is not 40 items per task: %s" % per)

    # the training stream: deterministic, never an evaluation item, every task present
    excl = {tasks.item_key(it) for it in items}
    first = [it for _, it in zip(range(3), tasks.train_stream(1234, excl))]
    again = [it for _, it in zip(range(3), tasks.train_stream(1234, excl))]
    check(first == again, "the training stream is not deterministic")
    seen = set()
    for _, (i, it) in zip(range(30000), tasks.train_stream(1234, excl)):
        check(tasks.item_key(it) not in excl, "training item %d is an evaluation item" % i)
        check(it["answer"] == expected_answer(it), "training item %d: wrong answer" % i)
        seen.add(it["task"])
    check(seen == set(tasks.TASKS), "training stream misses tasks: %s" % seen)

    # training-only overrides (ops/train/train.py --tasks TASK:WEIGHT, --lookup-rows)
    w = tasks.parse_task_weights("word:8,add:1.5,lookup")
    check(w == {"word": 8.0, "add": 1.5, "lookup": tasks.TRAIN_WEIGHTS["lookup"]},
          "parse_task_weights gave %s" % w)
    for bad in ("", "wrd", "word:0", "word:-1", "word:x", "word:", "word,word", "word:inf",
                "word:nan"):
        try:
            tasks.parse_task_weights(bad)
        except ValueError:
            continue
        fail("parse_task_weights accepted %r" % bad)
    sizes = set()
    for i in range(300):
        rng = random.Random("rows:%d" % i)
        u, ans = tasks.gen_task("lookup", rng, (2, 4))
        it = {"id": "rows-%d" % i, "task": "lookup", "user": u, "answer": ans}
        check(expected_answer(it, rows=(2, 4)) == ans, "lookup_rows item %d: wrong" % i)
        sizes.add(len(u.split("\n")) - 2)
    check(sizes == {2, 3, 4}, "lookup_rows (2, 4) gave table sizes %s" % sorted(sizes))

    # rejections
    check(tasks.score("add", "636", "637") == 0, "score accepted a wrong answer")
    for bad in (lambda: tasks.score("mul", "1", "1"), lambda: tasks.score("add", None, "1"),
                lambda: tasks.make_item("test", 1, 0), lambda: tasks.gen_task("mul", None)):
        try:
            bad()
        except ValueError:
            continue
        fail("a bad call did not raise ValueError")
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        f.write('{"id": "x", "task": "add"}\n')
    try:
        tasks.load_jsonl(f.name)
        fail("load_jsonl accepted an item without its keys")
    except ValueError as e:
        check("missing" in str(e), "load_jsonl message: %s" % e)
    finally:
        os.unlink(f.name)
    print("PASS test_tasks (%d evaluation items, 30000 training items)" % len(items))


if __name__ == "__main__":
    main()
