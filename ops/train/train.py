"""Train the small LLaDA-architecture masked diffusion model that ships with the repo.

Design
------
One command does everything (see ops/train/README.md):

  1. tokenizer: if <work>/tokenizer.json is missing, build a corpus from the training
     split of the task suite and train a byte-level BPE tokenizer on it with
     ops/train/bpe_fallback.py (default; ops/tokenizer/train_bpe.py was not available
     when the shipped model was trained) or --tokenizer-trainer ops-tokenizer. In that corpus every run of
     digits is cut to its first digit, so BPE learns no multi-digit tokens and numbers
     are always spelled digit by digit (arithmetic is learnable at this size);
  2. data: an endless, deterministic stream of training items (ops/tasks/tasks.py,
     split "train", items of the committed evaluation files excluded by exact text).
     Step s uses pool s // POOL of POOL * batch consecutive stream items, sorted by
     length and cut into POOL batches, visited in a seeded order; so the batch of a step
     is a pure function of (seed, step) and a resumed run sees the same data;
  3. objective (LLaDA SFT): sequence = chat prompt + response, response = answer ids,
     <|eot_id|>, <|endoftext|> padding to gen_length; every row is exactly prompt +
     gen_length tokens (the sampler's canvas), right-padded to the batch's longest row
     with padding masked out of attention (never trained on). Per row t ~ U(0,1)
     (stratified over the batch), p = (1 - eps) t + eps, every response token is replaced by <|mdm_mask|> with
     probability p, the prompt is never masked; loss = sum over masked tokens of
     CE / p, divided by the row's response length, averaged over rows;
  4. model: ops/reference/llada_model.LLaDAModel (bidirectional, RoPE, RMSNorm, SwiGLU,
     no biases, untied head), fp32 on the CPU (--device cuda: bf16 autocast with --amp,
     batches from --data-workers processes), AdamW, linear warmup + cosine decay
     (over the steps, or the time limit with --time-schedule), gradient clipping; the
     LM head is applied only at masked positions;
     curricula: --tasks (a subset of tasks, TASK:WEIGHT for their frequencies),
     --task-stages (a subset of tasks up to a step), --drop-system-steps (batches
     without the shared system prompt early on), --lookup-rows (the table size of
     training lookups), --init-from (a later stage from an earlier stage's weights);
  5. every --ckpt-every steps: a resumable state in <work>/state.pt and a usable
     checkpoint (bf16, HF LLaDA layout) in --out; every --eval-every steps the exact-match
     accuracy on ops/tasks/eval_small.jsonl (batched sampler by default, on the device);
  6. at the end: the checkpoint, then the full evaluation (ops/tasks/eval_split.jsonl)
     of the checkpoint as written (bf16 weights), then the model card --out/README.md.

Reproducibility: torch.manual_seed(seed) before init, per-step mask noise from a torch
Generator seeded with (seed, step), data as above; with the same thread count a run is
bit-for-bit repeatable (float summation order depends on the thread count).
"""

import argparse
import contextlib
import json
import math
import os
import random
import shutil
import subprocess
import sys
import time

# On a shared machine OpenMP's default active spin-waiting makes every torch op wait for
# descheduled threads (measured: ~4x slower steps under load); must be set before torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch
import torch.nn.functional as F

import common
from common import Codec, hidden_states, lm, tasks

POOL = 8
EPS = 1e-3


def log(msg, fh=None):
    line = time.strftime("%H:%M:%S ") + msg
    print(line, flush=True)
    if fh is not None:
        fh.write(line + "\n")
        fh.flush()


# --------------------------------------------------------------------------- tokenizer

def tokenizer_corpus(path, seed, n_items, exclude):
    """Corpus text for BPE training: training chats as plain text (role names, user
    message, answer; the shared system prompt once per 20 items, "system" with it),
    every digit run cut to its first digit."""
    import re
    digits = re.compile(r"[0-9]+")
    short = lambda s: digits.sub(lambda m: m.group(0)[0], s)  # noqa: E731
    with open(path, "w", encoding="utf-8") as f:
        for k, (_, it) in zip(range(n_items), tasks.train_stream(seed + 7919, exclude)):
            if k % 20 == 0:   # the shared system prompt (in every chat) at 1/20 weight
                f.write("system\n\n" + short(it["system"]) + "\n")
            f.write(short("user\n\n" + it["user"] + "\nassistant\n\n" + it["answer"]) + "\n")


def ensure_tokenizer(work, vocab_size, seed, exclude, logf, which):
    path = os.path.join(work, "tokenizer.json")
    if os.path.isfile(path):
        return path
    corpus = os.path.join(work, "tokenizer_corpus.txt")
    tokenizer_corpus(corpus, seed, 20000, exclude)
    if which == "ops-tokenizer":
        trainer = os.path.join(common.ROOT, "ops", "tokenizer", "train_bpe.py")
        if not os.path.isfile(trainer):
            raise SystemExit("train.py: %s is missing" % trainer)
        cmd = TOKENIZER_CMD(trainer, corpus, vocab_size, work)
    else:
        cmd = [sys.executable, os.path.join(common.HERE, "bpe_fallback.py"), "--corpus",
               corpus, "--vocab-size", str(vocab_size), "--out", work]
    log("training tokenizer: " + " ".join(cmd), logf)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("train.py: tokenizer training failed:\n" + r.stdout + r.stderr)
    if not os.path.isfile(path):
        raise SystemExit("train.py: tokenizer trainer did not write %s" % path)
    return path


def TOKENIZER_CMD(trainer, corpus, vocab_size, outdir):
    return [sys.executable, trainer, "--vocab-size", str(vocab_size), "--out", outdir, corpus]


# --------------------------------------------------------------------------- data

def item_for(seed, index, task_weights, lookup_rows=None):
    """Training item `index`: tasks.make_item("train", seed, index), or, when a task
    subset is trained (--tasks), an item of a task drawn from that subset with the same
    per-index seeding (so still a pure function of (seed, index)); lookup_rows (lo, hi)
    sets the table size of lookup items (--lookup-rows)."""
    if task_weights is None and lookup_rows is None:
        return tasks.make_item("train", seed, index)
    rng = random.Random("train:%d:%d" % (seed, index))
    if task_weights is None:
        task = tasks.pick_train_task(rng)
    else:
        names = sorted(task_weights)
        task = rng.choices(names, weights=[task_weights[n] for n in names], k=1)[0]
    user, answer = tasks.gen_task(task, rng, lookup_rows)
    return {"id": "train-%d-%d" % (seed, index), "task": task,
            "system": tasks.SYSTEM_PROMPT, "user": user, "answer": answer}


class Batches:
    """Batch of step s = rows of pool s // POOL (see the module docstring). Every row is
    exactly prompt + gen_length response tokens, as the sampler's canvas is at inference;
    rows are right-padded to the batch's longest row and the padding is masked out of
    attention (hidden_states(lengths=...)), never trained on.
    drop_system_steps N > 0: curriculum, the rows of step s omit the shared system prompt
    with probability max(0, 1 - s / N) (a tiny model first learns the tasks on short prompts,
    then to ignore the long constant system prompt; the user message and the answer keep
    the same relative positions, which is all RoPE attention sees)."""

    def __init__(self, codec, seed, batch, gen_length, exclude, task_weights=None,
                 drop_system_steps=0, stages=(), lookup_rows=None):
        self.codec, self.seed, self.batch = codec, seed, batch
        self.lookup_rows = lookup_rows   # (lo, hi) rows of training lookup tables
        self.gen_length, self.exclude = gen_length, exclude
        self.task_weights, self.drop_system_steps = task_weights, drop_system_steps
        self.stages = stages   # ((end_step, task_weights), ...) ascending
        self._pool_id, self._pool = None, None

    def _make_pool(self, j):
        n = POOL * self.batch
        rows = []
        weights = self.task_weights
        for end, w in self.stages:   # task curriculum: the first stage not yet over
            if j * POOL < end:
                weights = w
                break
        for i in range(j * n, (j + 1) * n):
            it = item_for(self.seed, i, weights, self.lookup_rows)
            if tasks.item_key(it) in self.exclude:
                continue
            rows.append((it, self.codec.response_ids(it["answer"], self.gen_length)))
        rows.sort(key=lambda r: len(self.codec.prompt_ids(r[0])))
        k = len(rows)
        chunks = [rows[c * k // POOL:(c + 1) * k // POOL] for c in range(POOL)]
        random.Random("pool:%d:%d" % (self.seed, j)).shuffle(chunks)
        return chunks

    def get(self, step):
        """-> ids (B, T) long, resp (B, T) bool (the response positions), lengths (B,)."""
        j = step // POOL
        if self._pool_id != j:
            self._pool, self._pool_id = self._make_pool(j), j
        p_drop = 0.0
        if self.drop_system_steps > 0:
            p_drop = max(0.0, 1.0 - step / self.drop_system_steps)
        # one draw per batch (not per row): a batch is all short or all long prompts, so
        # short batches are not padded to the length of one row with the system turn
        keep = not (random.Random("sys:%d:%d" % (self.seed, step)).random() < p_drop)
        seqs = [(self.codec.prompt_ids(it, with_system=keep), r)
                for it, r in self._pool[step % POOL]]
        T = max(len(p) + len(r) for p, r in seqs)
        ids = torch.full((len(seqs), T), self.codec.eos, dtype=torch.long)
        resp = torch.zeros((len(seqs), T), dtype=torch.bool)
        lengths = torch.zeros(len(seqs), dtype=torch.long)
        for b, (p, r) in enumerate(seqs):
            ids[b, :len(p)] = torch.tensor(p)
            ids[b, len(p):len(p) + len(r)] = torch.tensor(r)
            resp[b, len(p):len(p) + len(r)] = True
            lengths[b] = len(p) + len(r)
        return ids, resp, lengths


class Prefetcher:
    """Batches.get() in worker processes (--data-workers N > 0), for a fast device whose
    steps would otherwise wait on Python tokenization. Worker k builds whole pools (the
    POOL consecutive steps of pool j); at most 2 N pools are in flight. The batches are
    the very ones Batches.get() returns in the main process (pure functions of step)."""

    def __init__(self, batches, start, workers):
        import multiprocessing as mp
        self.batches, self.next_pool = batches, start // POOL
        self.ctx_pool = mp.get_context("fork").Pool(workers, initializer=_worker_init,
                                                    initargs=(batches,))
        self.inflight, self.cache = {}, {}
        self.window = 2 * workers

    def _fill(self):
        while len(self.inflight) < self.window:
            self.inflight[self.next_pool] = self.ctx_pool.apply_async(
                _worker_pool, (self.next_pool,))
            self.next_pool += 1

    def get(self, step):
        j = step // POOL
        if j not in self.cache:
            self._fill()
            if j not in self.inflight:   # a jump backwards: build it here
                return self.batches.get(step)
            self.cache = {j: self.inflight.pop(j).get()}
        return self.cache[j][step % POOL]

    def close(self):
        self.ctx_pool.terminate()
        self.ctx_pool.join()


_WORKER_BATCHES = None


def _worker_init(batches):
    global _WORKER_BATCHES
    torch.set_num_threads(1)
    _WORKER_BATCHES = batches


def _worker_pool(j):
    return [_WORKER_BATCHES.get(s) for s in range(j * POOL, (j + 1) * POOL)]


def llada_loss(model, ids, resp, lengths, mask_id, gen, weighting="inv_t", amp=False):
    """LLaDA SFT loss on one batch (tensors on the model's device; the noise is drawn on
    the CPU from `gen`, so it does not depend on the device); returns (loss, masked count).
    weighting inv_t: LLaDA's sum of CE / p over masked tokens / response length, mean over
    rows; none: plain mean CE over the masked tokens (lower variance)."""
    B = ids.shape[0]
    dev = ids.device
    u = torch.rand((), generator=gen)
    t = (u + torch.arange(B, dtype=torch.float32) / B) % 1.0   # (B,) stratified U(0,1)
    p = (1 - EPS) * t + EPS                                     # (B,)
    m = (torch.rand(ids.shape, generator=gen) < p[:, None]).to(dev) & resp   # (B, T)
    p = p.to(dev)
    noisy = torch.where(m, torch.full_like(ids, mask_id), ids)
    ctx = torch.autocast("cuda", dtype=torch.bfloat16) if amp else contextlib.nullcontext()
    with ctx:
        h = hidden_states(model, noisy, lengths)                 # (B, T, D)
        logits = model.transformer.ff_out(h[m])                 # (M, V)
    ce = F.cross_entropy(logits.float(), ids[m], reduction="none")   # (M,)
    if weighting == "none":
        return ce.mean(), int(m.sum())
    w = (1.0 / p)[:, None].expand_as(ids)[m]
    row = torch.arange(B, device=dev)[:, None].expand_as(ids)[m]
    per_row = torch.zeros(B, device=dev).index_add(0, row, ce * w)
    loss = (per_row / resp.sum(1).float()).mean()
    return loss, int(m.sum())


# --------------------------------------------------------------------------- model

def init_weights(model, seed):
    torch.manual_seed(seed)
    n_layers = model.config.n_layers
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or "ln_f" in name:
                p.fill_(1.0)
            elif name.endswith("attn_out.weight") or (".blocks." in name and
                                                       name.endswith("ff_out.weight")):
                p.normal_(0.0, 0.02 / math.sqrt(2 * n_layers))
            else:
                p.normal_(0.0, 0.02)


def lr_at(step, frac, lr, warmup):
    """Linear warmup over `warmup` steps, then cosine decay to 10% as the run's progress
    `frac` (0..1, steps done / planned or time used / time limit) goes to 1."""
    if step < warmup:
        return lr * (step + 1) / warmup
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, max(0.0, frac)))))


def write_ckpt(out, model, tok_path, logf):
    tmp = out.rstrip("/") + ".tmp"
    if os.path.isdir(tmp):
        shutil.rmtree(tmp)
    os.makedirs(tmp)
    readme = os.path.join(out, "README.md")
    lm.write_checkpoint(tmp, model, {}, tok_path, dtype="BF16")
    os.makedirs(out, exist_ok=True)
    for fn in os.listdir(tmp):   # replace file by file (README.md is kept)
        os.replace(os.path.join(tmp, fn), os.path.join(out, fn))
    shutil.rmtree(tmp)
    log("checkpoint written to %s%s" % (out, "" if os.path.exists(readme) else ""), logf)


# --------------------------------------------------------------------------- main

def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(common.ROOT, "models", "llada-tiny"))
    ap.add_argument("--work", default=os.path.join(common.ROOT, "build", "llada-tiny-train"))
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--n-layers", type=int, default=4)
    ap.add_argument("--n-heads", type=int, default=4)
    ap.add_argument("--mlp-hidden", type=int, default=384)
    ap.add_argument("--rope-theta", type=float, default=500000.0,
                    help="RoPE base (config rope_theta; LLaDA-8B uses 500000)")
    ap.add_argument("--vocab-size", type=int, default=2048,
                    help="target tokenizer size (the trainer may stop earlier)")
    ap.add_argument("--tokenizer-trainer", choices=["ops-train", "ops-tokenizer"],
                    default="ops-train",
                    help="ops-train = ops/train/bpe_fallback.py (used for the shipped "
                         "model), ops-tokenizer = ops/tokenizer/train_bpe.py")
    ap.add_argument("--gen-length", type=int, default=common.DEFAULT_GEN_LENGTH)
    ap.add_argument("--block-length", type=int, default=common.DEFAULT_BLOCK_LENGTH)
    ap.add_argument("--sample-steps", type=int, default=common.DEFAULT_STEPS)
    ap.add_argument("--clip", type=float, default=1.0, help="gradient-norm clip (> 0)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    ap.add_argument("--data-workers", type=int, default=0,
                    help="build batches in N worker processes (for a GPU); 0 = inline")
    ap.add_argument("--amp", action="store_true",
                    help="bf16 autocast on CUDA (params and optimizer stay fp32)")
    ap.add_argument("--tasks", default="",
                    help="comma-separated task subset to train (default: all, with "
                         "tasks.TRAIN_WEIGHTS); e.g. copy,reverse for a quick check; "
                         "TASK:WEIGHT sets a task's relative frequency (word:8,add:1)")
    ap.add_argument("--lookup-rows", dest="lookup_rows_arg", default="",
                    help="LO-HI: training lookup tables get LO-HI rows instead of the "
                         "suite's %d-%d (a table-size curriculum; evaluation items are "
                         "never changed)" % (tasks.LOOKUP_MIN, tasks.LOOKUP_MAX))
    ap.add_argument("--task-stages", default="",
                    help="task curriculum, TASKS:END_STEP stages separated by '/': e.g. "
                         "copy,reverse:600/copy,reverse,sort,lookup:2500 trains only copy "
                         "and reverse (positional copying, which the other tasks build on) "
                         "up to step 600, then those four up to step 2500, then all tasks "
                         "(or --tasks)")
    ap.add_argument("--drop-system-steps", type=int, default=0,
                    help="curriculum: a batch omits the shared system prompt with "
                         "probability max(0, 1 - step / N); 0 = off")
    ap.add_argument("--loss-weighting", choices=["inv_t", "none"], default="inv_t",
                    help="inv_t = LLaDA's 1/t weighted CE (default); none = mean CE")
    ap.add_argument("--tokenizer", default="",
                    help="use this tokenizer.json (copied into --work) instead of "
                         "training one")
    ap.add_argument("--time-schedule", action="store_true",
                    help="with --time-limit-min: the cosine lr decay follows the time "
                         "used (progress = max(steps done / --steps, time / limit)), so "
                         "a time-limited run ends with a fully decayed lr")
    ap.add_argument("--eval-sampler", choices=["batched", "reference"], default="batched",
                    help="sampler of the periodic eval_small check (the final evaluation "
                         "always uses the reference sampler)")
    ap.add_argument("--ckpt-every", type=int, default=100)
    ap.add_argument("--eval-every", type=int, default=400)
    ap.add_argument("--time-limit-min", type=float, default=0.0,
                    help="stop early (with a checkpoint) after this many minutes; 0 = off")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--init-from", default="",
                    help="start from the weights of this checkpoint directory (same "
                         "shape; a new optimizer and schedule), e.g. to continue a "
                         "curriculum stage with other data")
    ap.add_argument("--skip-final-eval", action="store_true")
    a = ap.parse_args(argv)
    a.stages = []
    for part in (a.task_stages.split("/") if a.task_stages else []):
        names, _, end = part.rpartition(":")
        if not names or not end.isdigit() or (a.stages and int(end) <= a.stages[-1][0]):
            ap.error("--task-stages: bad stage %r (want TASKS:END_STEP, END_STEP "
                     "ascending)" % part)
        a.stages.append((int(end), names))
    try:
        a.task_weights = tasks.parse_task_weights(a.tasks) if a.tasks else None
        a.stage_weights = [(end, tasks.parse_task_weights(n)) for end, n in a.stages]
    except ValueError as e:
        ap.error("--tasks / --task-stages: %s" % e)
    a.lookup_rows = None
    if a.lookup_rows_arg:
        lo, _, hi = a.lookup_rows_arg.partition("-")
        nkeys = len(tasks.LOOKUP_KEYS)   # a table's names are distinct keys
        if not (lo.isdigit() and hi.isdigit() and 1 <= int(lo) <= int(hi) <= nkeys):
            ap.error("--lookup-rows: want LO-HI with 1 <= LO <= HI <= %d, got %r"
                     % (nkeys, a.lookup_rows_arg))
        a.lookup_rows = (int(lo), int(hi))
    if a.data_workers < 0:
        ap.error("--data-workers must be >= 0")
    if a.drop_system_steps < 0:
        ap.error("--drop-system-steps must be >= 0")
    if a.time_schedule and not a.time_limit_min > 0:
        ap.error("--time-schedule needs --time-limit-min")
    if a.amp and not a.device.startswith("cuda"):
        ap.error("--amp needs --device cuda")
    if a.tokenizer and not os.path.isfile(a.tokenizer):
        ap.error("--tokenizer %s does not exist" % a.tokenizer)
    for k in ("steps", "batch", "d_model", "n_layers", "n_heads", "mlp_hidden", "vocab_size",
              "gen_length", "block_length", "sample_steps", "threads", "ckpt_every",
              "eval_every"):
        if getattr(a, k) <= 0:
            ap.error("--%s must be positive" % k.replace("_", "-"))
    if not (a.rope_theta > 0 and math.isfinite(a.rope_theta)):
        ap.error("--rope-theta must be positive")
    if not (a.clip > 0):
        ap.error("--clip must be positive")
    if not (0 < a.lr < 1):
        ap.error("--lr must be in (0, 1)")
    if a.warmup < 0 or a.weight_decay < 0 or a.time_limit_min < 0:
        ap.error("--warmup, --weight-decay and --time-limit-min must be >= 0")
    return a


def main(argv=None):
    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("train.py: --device %s but torch.cuda.is_available() is "
                             "False" % a.device)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    os.makedirs(a.work, exist_ok=True)
    if a.tokenizer and os.path.abspath(a.tokenizer) != os.path.abspath(
            os.path.join(a.work, "tokenizer.json")):
        shutil.copyfile(a.tokenizer, os.path.join(a.work, "tokenizer.json"))
    logf = open(os.path.join(a.work, "train.log"), "a", encoding="utf-8")
    log("args: " + json.dumps(vars(a), sort_keys=True), logf)
    tdir = os.path.join(common.ROOT, "ops", "tasks")
    eval_items = tasks.load_jsonl(os.path.join(tdir, "eval_split.jsonl"))
    small_items = tasks.load_jsonl(os.path.join(tdir, "eval_small.jsonl"))
    exclude = {tasks.item_key(it) for it in eval_items + small_items}

    tok_path = ensure_tokenizer(a.work, a.vocab_size, a.seed, exclude, logf,
                                a.tokenizer_trainer)
    codec = Codec(tok_path)
    log("tokenizer: %d ids, mask %d eos %d eot %d" % (codec.vocab_size, codec.mask, codec.eos,
                                                       codec.eot), logf)
    lens = [len(codec.prompt_ids(it)) for it in eval_items]
    log("eval prompt tokens: min %d mean %.0f max %d; system prompt %d tokens" % (
        min(lens), sum(lens) / len(lens), max(lens),
        len(codec.tok.encode(tasks.SYSTEM_PROMPT))), logf)

    cfg = lm.LLaDAConfig(d_model=a.d_model, n_layers=a.n_layers, n_heads=a.n_heads,
                         mlp_hidden_size=a.mlp_hidden, vocab_size=codec.vocab_size,
                         max_sequence_length=1024, rope_theta=a.rope_theta,
                         mask_token_id=codec.mask,
                         eos_token_id=codec.eos, pad_token_id=codec.eos)
    model = lm.LLaDAModel(cfg)
    init_weights(model, a.seed)
    if a.init_from:
        src, _ = lm.load_checkpoint(a.init_from)
        for k in ("d_model", "n_layers", "n_heads", "mlp_hidden_size", "vocab_size",
                  "rope_theta"):
            if getattr(src.config, k) != getattr(cfg, k):
                raise SystemExit("train.py: --init-from %s has %s %r, this run %r" % (
                    a.init_from, k, getattr(src.config, k), getattr(cfg, k)))
        model.load_state_dict(src.state_dict())
        log("initialised from %s" % a.init_from, logf)
    nparam = sum(p.numel() for p in model.parameters())
    log("model: %d params (d %d, layers %d, heads %d, mlp %d, vocab %d)" % (
        nparam, a.d_model, a.n_layers, a.n_heads, a.mlp_hidden, codec.vocab_size), logf)
    state_path = os.path.join(a.work, "state.pt")
    start, history, train_seconds, st = 0, [], 0.0, None
    if a.resume:
        if not os.path.isfile(state_path):
            raise SystemExit("train.py: --resume but %s does not exist" % state_path)
        st = torch.load(state_path, map_location="cpu")
        model.load_state_dict(st["model"])
        start, history, train_seconds = st["step"], st["history"], st["train_seconds"]
        log("resumed at step %d" % start, logf)

    batches = Batches(codec, a.seed, a.batch, a.gen_length, exclude, a.task_weights,
                      a.drop_system_steps, tuple(a.stage_weights), a.lookup_rows)
    # worker processes are forked before the model touches the GPU (they never use it)
    source = Prefetcher(batches, start, a.data_workers) if a.data_workers else batches
    model.to(dev)
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.98), eps=1e-8)
    if st is not None:
        opt.load_state_dict(st["opt"])   # moves the moments to the parameters' device
        st = None
    eval_sampler = common.generate if a.eval_sampler == "batched" else common.ref_sampler
    if dev.type != "cpu" and a.eval_sampler == "reference":
        raise SystemExit("train.py: --eval-sampler reference runs on the CPU only")

    def save_state(step):
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                    "history": history, "train_seconds": train_seconds,
                    "args": vars(a)}, state_path + ".tmp")
        os.replace(state_path + ".tmp", state_path)
        write_ckpt(a.out, model, tok_path, logf)

    t_run = time.time()
    limit_s = a.time_limit_min * 60
    run_avg, step = None, start
    for step in range(start, a.steps):
        t0 = time.time()
        model.train()
        frac = (step - a.warmup) / max(1, a.steps - a.warmup)
        if a.time_schedule:
            frac = max(frac, (time.time() - t_run) / limit_s)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, frac, a.lr, a.warmup)
        gen = torch.Generator().manual_seed(a.seed * 1000003 + step)
        ids, resp, lengths = source.get(step)
        ids, resp, lengths = ids.to(dev), resp.to(dev), lengths.to(dev)
        loss, nm = llada_loss(model, ids, resp, lengths, codec.mask, gen,
                              a.loss_weighting, a.amp)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip))
        opt.step()
        dt = time.time() - t0
        train_seconds += dt
        lv = float(loss)
        run_avg = lv if run_avg is None else 0.98 * run_avg + 0.02 * lv
        history.append({"step": step + 1, "loss": lv, "s": round(dt, 3),
                        "T": int(ids.shape[1])})
        if (step + 1) % 10 == 0 or step == start:
            log("step %d/%d loss %.4f avg %.4f gnorm %.2f lr %.2e T %d %.2fs/step" % (
                step + 1, a.steps, lv, run_avg, gnorm, opt.param_groups[0]["lr"],
                ids.shape[1], dt), logf)
        done = step + 1 == a.steps
        over = a.time_limit_min > 0 and time.time() - t_run > limit_s
        if (step + 1) % a.ckpt_every == 0 or done or over:
            save_state(step + 1)
        if (step + 1) % a.eval_every == 0 and not done:
            te = time.time()
            r = common.evaluate(model, codec, small_items, a.gen_length, a.block_length,
                                a.sample_steps, sampler=eval_sampler)
            history[-1]["eval_small"] = r["overall"]
            log("eval_small step %d: %.3f %s (%.0fs)" % (step + 1, r["overall"], json.dumps(
                {k: round(v["acc"], 2) for k, v in r["per_task"].items()}),
                time.time() - te), logf)
        if over:
            log("time limit reached at step %d" % (step + 1), logf)
            break
    if source is not batches:
        source.close()
    final_step = step + 1 if a.steps > start else start
    if a.steps <= start:
        log("nothing to train (already at step %d)" % start, logf)
        save_state(start)

    summary = {"steps_done": final_step, "steps_planned": a.steps,
               "train_seconds": round(train_seconds, 1), "params": nparam,
               "args": vars(a), "torch": torch.__version__, "python": sys.version.split()[0],
               "device_name": (torch.cuda.get_device_name(dev) if dev.type == "cuda"
                               else "cpu (%d threads)" % a.threads),
               "history": history}
    with open(os.path.join(a.work, "summary.json"), "w") as f:
        json.dump(summary, f)
    if a.skip_final_eval:
        return 0
    # final evaluation of the checkpoint exactly as written (bf16 weights)
    te = time.time()
    ck, _ = lm.load_checkpoint(a.out)
    res = common.evaluate(ck, codec, eval_items, a.gen_length, a.block_length,
                          a.sample_steps, keep_predictions=True)
    res["eval_seconds"] = round(time.time() - te, 1)
    with open(os.path.join(a.work, "eval_final.json"), "w") as f:
        json.dump(res, f, indent=1)
    log("final eval: %.3f %s" % (res["overall"], json.dumps(
        {k: round(v["acc"], 3) for k, v in res["per_task"].items()})), logf)
    import model_card
    model_card.write(a, summary, res, codec, lens, argv if argv is not None else sys.argv[1:])
    log("model card written", logf)
    return 0


if __name__ == "__main__":
    sys.exit(main())
