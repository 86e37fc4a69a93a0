#!/usr/bin/env python3
"""test_cpu_train.py -- the documented training command (ops/train/cpu_train.sh) is intact.

The recipe of the shipped weights is a chain of time-limited ops/train/train.py runs. A
real run takes two hours and PyTorch, so this test runs the script with $PYTHON pointing at
a recorder (a small script that logs its arguments and exits 0) and checks what the
script would run, with nothing but the standard library:
  * seven train.py runs, stage N working in build/llada-tiny-train/stageN;
  * stage 1 starts from random weights, every later stage from the previous stage's
    checkpoint, and the last one writes --out;
  * every flag is one that train.py declares, and every --tasks / --task-stages spec
    parses with ops/tasks/tasks.py (the parser train.py uses);
  * the default stage minutes add up to under the 2-hour budget, and --stageN-min
    overrides reach the right stage;
  * bad arguments exit 2 without running anything.
The script runs in a temporary directory that links the repository's ops/ and models/,
so nothing is written into the source tree.

SPDX-License-Identifier: Apache-2.0
"""
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "ops", "tasks"))
import tasks  # noqa: E402

SCRIPT = os.path.join(ROOT, "ops", "train", "cpu_train.sh")
BUDGET_MIN = 120.0
RECORDER = """#!/usr/bin/env python3
import json, os, sys
with open(os.environ["ARGLOG"], "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
"""


def fail(msg):
    print("FAIL test_cpu_train: " + msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def train_flags():
    """The long options train.py declares (read from its source: importing it needs torch)."""
    with open(os.path.join(ROOT, "ops", "train", "train.py"), encoding="utf-8") as f:
        flags = set(re.findall(r'add_argument\(\s*"(--[a-z0-9-]+)"', f.read()))
    check(len(flags) > 20, "could not read train.py's options (found %d)" % len(flags))
    return flags


def parse_run(argv, known):
    """['ops/train/train.py', '--a', 'v', '--flag', ...] -> {'--a': 'v', '--flag': True}"""
    check(argv and argv[0] == "ops/train/train.py", "not a train.py run: %s" % argv)
    opts, i = {}, 1
    while i < len(argv):
        k = argv[i]
        check(k in known, "train.py has no option %s (run %s)" % (k, argv))
        check(k not in opts, "option %s given twice (run %s)" % (k, argv))
        if i + 1 < len(argv) and not argv[i + 1].startswith("--"):
            opts[k], i = argv[i + 1], i + 2
        else:
            opts[k], i = True, i + 1
    return opts


def run_script(tmp, args):
    log = os.path.join(tmp, "args.jsonl")
    if os.path.exists(log):
        os.unlink(log)
    env = dict(os.environ, PYTHON=os.path.join(tmp, "recorder.py"), ARGLOG=log)
    r = subprocess.run(["bash", SCRIPT] + args, cwd=tmp, env=env, capture_output=True,
                       text=True, timeout=60)
    runs = []
    if os.path.exists(log):
        with open(log, encoding="utf-8") as f:
            runs = [json.loads(line) for line in f]
    return r, runs


def main():
    known = train_flags()
    with tempfile.TemporaryDirectory() as tmp:
        for d in ("ops", "models"):
            os.symlink(os.path.join(ROOT, d), os.path.join(tmp, d))
        with open(os.path.join(tmp, "recorder.py"), "w") as f:
            f.write(RECORDER)
        os.chmod(os.path.join(tmp, "recorder.py"), 0o755)
        out = os.path.join(tmp, "out-model")

        r, runs = run_script(tmp, ["--out", out])
        check(r.returncode == 0, "cpu_train.sh failed (%d): %s" % (r.returncode, r.stderr))
        check(len(runs) == 7, "expected 7 train.py runs, got %d" % len(runs))
        work = "build/llada-tiny-train"
        total = 0.0
        prev_out = None
        for n, argv in enumerate(runs, 1):
            o = parse_run(argv, known)
            check(o.get("--work") == "%s/stage%d" % (work, n), "stage %d --work %s"
                  % (n, o.get("--work")))
            check(o.get("--tokenizer") == work + "/tokenizer.json",
                  "stage %d does not use the shipped tokenizer's copy" % n)
            check(o.get("--init-from") == prev_out, "stage %d starts from %s, not %s"
                  % (n, o.get("--init-from"), prev_out))
            want_out = out if n == 7 else "%s/stage%d/model" % (work, n)
            check(o.get("--out") == want_out, "stage %d writes %s, not %s"
                  % (n, o.get("--out"), want_out))
            check(o.get("--skip-final-eval") is True, "stage %d would evaluate in its time" % n)
            specs = [o["--tasks"]] if "--tasks" in o else []
            for part in filter(None, o.get("--task-stages", "").split("/")):
                names, _, end = part.rpartition(":")
                check(end.isdigit(), "stage %d --task-stages %s: no end step" % (n, part))
                specs.append(names)
            for spec in specs:
                try:
                    tasks.parse_task_weights(spec)
                except ValueError as e:
                    fail("stage %d task spec %s: %s" % (n, spec, e))
            total += float(o["--time-limit-min"])
            prev_out = o["--out"]
        check(0 < total < BUDGET_MIN, "default stages take %.1f min, not under %.0f"
              % (total, BUDGET_MIN))
        check(os.path.isfile(os.path.join(tmp, work, "tokenizer.json")),
              "the tokenizer was not copied into the work directory")

        # overrides reach their stage and no other
        r, runs = run_script(tmp, ["--stage6-min", "3", "--stage1-min", "0.5", "--out", out])
        check(r.returncode == 0, "cpu_train.sh with overrides failed: %s" % r.stderr)
        mins = [parse_run(a, known)["--time-limit-min"] for a in runs]
        check(mins[0] == "0.5" and mins[5] == "3", "overrides gave stage minutes %s" % mins)

        # bad arguments: exit 2, nothing run
        for bad in (["--stage6-min", "x"], ["--stage2-min", "-1"], ["--stage3-min", "0"],
                    ["--stage4-min", "0.0"], ["--stage5-min", "1.2.3"], ["--stage1-min", "."],
                    ["--bogus"], ["--out"], ["--stage7-min"]):
            r, runs = run_script(tmp, bad)
            check(r.returncode == 2 and not runs, "cpu_train.sh %s: exit %d, %d runs"
                  % (" ".join(bad), r.returncode, len(runs)))
    print("PASS test_cpu_train (7 stages, %.1f min of the %.0f-min budget)" % (total, BUDGET_MIN))


if __name__ == "__main__":
    main()
