"""Write the model card (README.md) of the trained small LLaDA model.

Design
------
Everything in the card is computed from the run itself: the arguments, the training
history that train.py keeps (per-step loss and seconds, eval_small accuracy), the final
evaluation result of the checkpoint as written, the tokenizer and the checkpoint files.
write() is called at the end of train.py; it can also be run on a finished run, e.g.
one trained on a GPU by ops/train/gpu_train.sh and evaluated afterwards on the CPU:

  /usr/bin/python3 ops/train/model_card.py --summary RUN/summary.json \
      --eval eval_ref.json [--out models/llada-tiny] [--command "bash ops/train/..."] \
      [--engine-json dllm_eval.json] [--cpu-summary CPU/summary.json \
       --cpu-eval cpu_eval.json --cpu-command "..."]

summary.json is train.py's (it holds the run's arguments, torch version and device),
--eval the output of `ops/train/eval_ref.py --json`, --engine-json the summary that
`dllm eval --json` prints (the C engine on the same items), and the --cpu-* files a run of
the CPU command, reported in its own section.
"""

import argparse
import json
import os
import platform
import sys

import common
from common import Codec, tasks

EXACT_COMMAND = "/usr/bin/python3 ops/train/train.py"


def _loss_table(history, parts=10):
    n = len(history)
    rows = []
    for k in range(parts):
        lo, hi = k * n // parts, (k + 1) * n // parts
        if hi <= lo:
            continue
        seg = history[lo:hi]
        rows.append("| %d-%d | %.3f | %.2f |" % (
            seg[0]["step"], seg[-1]["step"], sum(h["loss"] for h in seg) / len(seg),
            sum(h["s"] for h in seg) / len(seg)))
    return rows


def write(a, summary, res, codec, prompt_lens, argv, command=None, engine=None, cpu=None,
          extra_md=None):
    """a: the run's arguments; summary: train.py's summary; res: evaluation result of the
    checkpoint as written (reference sampler); command: the command line shown (default:
    train.py with argv); engine: `dllm eval --json` summary or None; cpu: None or a dict
    {command, summary, res} of a CPU run of the CPU command; extra_md: markdown put
    before the limitations (other runs, the history of the model)."""
    a = vars(a) if not isinstance(a, dict) else a
    out = a["out"]
    on_gpu = str(a.get("device", "cpu")).startswith("cuda")
    cfg = json.load(open(os.path.join(out, "config.json")))
    st_size = os.path.getsize(os.path.join(out, "model.safetensors"))
    hist = summary["history"]
    evals = [(h["step"], h["eval_small"]) for h in hist if "eval_small" in h]
    cmd = command or (EXACT_COMMAND + ("" if not argv else " " + " ".join(argv)))
    mins = summary["train_seconds"] / 60.0
    L = []
    w = L.append
    w("# llada-tiny: a small LLaDA-architecture masked diffusion model\n")
    w("A %.2fM-parameter masked diffusion language model in exactly the architecture and "
      "checkpoint format of GSAI-ML/LLaDA-8B-Instruct (bidirectional transformer, RoPE, "
      "RMSNorm, SwiGLU, no biases, untied LM head; same tensor names, config keys, "
      "tokenizer files and chat template), trained from scratch %s with LLaDA's "
      "SFT objective on the task suite of `ops/tasks/`. It exists so that the engine's "
      "main command, the cache-policy quality checks and the prompt-slot work have a real, "
      "trained model without downloads. It is not a general language model: it only knows "
      "the seven task formats below.\n" % (
          summary["params"] / 1e6,
          "on a GPU (%s)" % summary.get("device_name", "cuda") if on_gpu else "on the CPU"))
    w("## Files\n")
    w("| file | content |\n|---|---|")
    w("| config.json | LLaDA config keys (`model_type` llada, `block_type` llama, ...) |")
    w("| model.safetensors | %d tensors, bf16, %d bytes (HF names "
      "`model.transformer.wte.weight`, `model.transformer.blocks.{i}.q_proj.weight`, ...) |"
      % (2 + 9 * cfg["n_layers"] + 1, st_size))
    w("| tokenizer.json | byte-level BPE, %d ids (HF `tokenizers` format) |" % codec.vocab_size)
    w("| tokenizer_config.json | special tokens and the LLaDA-Instruct chat template |\n")
    w("## Architecture\n")
    w("| key | value |\n|---|---|")
    for k in ("d_model", "n_layers", "n_heads", "n_kv_heads", "mlp_hidden_size",
              "vocab_size", "rope_theta", "rms_norm_eps", "max_sequence_length",
              "mask_token_id", "eos_token_id", "pad_token_id", "torch_dtype"):
        w("| %s | %s |" % (k, cfg.get(k)))
    w("| parameters | %d |\n" % summary["params"])
    w("## Tokenizer\n")
    w("Byte-level BPE (Llama-3 pre-tokenizer regex, ByteLevel, %d merges) trained by "
      "`ops/train/bpe_fallback.py` on plain-text training chats of the suite (once; later "
      "runs reuse it with `--tokenizer`, so ids never change). Every run of "
      "digits in that corpus was cut to its first digit, so no multi-digit token exists "
      "and numbers are spelled digit by digit. Special tokens (added, special): "
      "`<|endoftext|>` %d (EOS and pad), `<|startoftext|>` %d (BOS), `<|mdm_mask|>` %d "
      "(mask), `<|start_header_id|>` %d, `<|end_header_id|>` %d, `<|eot_id|>` %d (EOT). "
      "The ids the trainer used were checked against the HF `tokenizers` library "
      "(`ops/train/check_tok.py`).\n" % (
          len(codec.tok.ranks), codec.eos, codec.bos, codec.mask,
          codec.tok.token_id("<|start_header_id|>"), codec.tok.token_id("<|end_header_id|>"),
          codec.eot))
    w("## Data\n")
    w("`ops/tasks/tasks.py`: every item is a chat with the same shared system prompt "
      "(%d tokens), a user message and a short answer. Prompts (with the chat template) "
      "are %d-%d tokens, mean %.0f, on the evaluation split. Tasks: `add` / `sub` (3-digit "
      "operands with a 3-digit result), `word` (templated two-number word problems, 2-digit "
      "numbers and result), `copy`, `reverse`, "
      "`sort` (3-6 letters), `lookup` (a table of %d-%d `name: code` lines, the code of "
      "one name). Training items come from the `train` split stream (seed %d), drawn with "
      "weights %s; items whose text occurs in `ops/tasks/eval_split.jsonl` or "
      "`eval_small.jsonl` (split `eval`, seed 1) are skipped, so train and evaluation never "
      "overlap. %d sequences were seen (%d steps x batch %d).\n" % (
          len(codec.tok.encode(tasks.SYSTEM_PROMPT)), min(prompt_lens), max(prompt_lens),
          sum(prompt_lens) / len(prompt_lens), tasks.LOOKUP_MIN, tasks.LOOKUP_MAX,
          a["seed"], json.dumps(a.get("task_weights") or tasks.TRAIN_WEIGHTS),
          summary["steps_done"] * a["batch"], summary["steps_done"], a["batch"]))
    if a.get("tasks"):
        w("This run trained only the tasks %s (`--tasks`).\n"
          % ", ".join("`%s`" % t for t in a["tasks"].split(",")))
    if a.get("lookup_rows"):
        w("Training lookup tables had %d-%d rows (`--lookup-rows`; the evaluation's keep "
          "%d-%d).\n" % (a["lookup_rows"][0], a["lookup_rows"][1], tasks.LOOKUP_MIN,
                          tasks.LOOKUP_MAX))
    if a.get("stages"):
        prev = 0
        parts = []
        for end, names in a["stages"]:
            parts.append("steps %d-%d: %s" % (prev + 1, end, names.replace(",", ", ")))
            prev = end
        parts.append("from step %d: %s" % (prev + 1, a["tasks"].replace(",", ", ")
                                           if a.get("tasks") else "all tasks"))
        w("Task curriculum (`--task-stages`; copying by position is what every task builds "
          "on, and a small model forms it only when a task forces it): %s.\n"
          % "; ".join(parts))
    if a.get("drop_system_steps"):
        w("Curriculum: at step s a training batch omits the system turn with probability "
          "max(0, 1 - s / %d), so the model first learns the tasks on short prompts, then with "
          "the long shared system prompt (RoPE attention sees only relative positions, which "
          "the system turn does not change between the user message and the answer); every "
          "row after step %d, and every evaluation prompt, has it.\n"
          % (a["drop_system_steps"], a["drop_system_steps"]))
    w("Format (LLaDA-Instruct chat template, LLaDA SFT response layout): "
      "`<|startoftext|><|start_header_id|>system<|end_header_id|>\\n\\n{system}<|eot_id|>"
      "<|start_header_id|>user<|end_header_id|>\\n\\n{user}<|eot_id|><|start_header_id|>"
      "assistant<|end_header_id|>\\n\\n` then the answer, `<|eot_id|>`, and `<|endoftext|>` "
      "up to gen_length = %d tokens: every training row is exactly prompt + gen_length "
      "tokens, the canvas the sampler sees; rows are right-padded to the batch's longest "
      "and the padding is masked out of attention.\n" % a["gen_length"])
    w("## Training\n")
    w("Objective: LLaDA SFT. Per row t ~ U(0,1) (stratified over the batch), p = (1-1e-3) t "
      "+ 1e-3; each response token (answer, EOT, EOS padding) is masked with probability p, "
      "the prompt never; loss = %s. AdamW (betas 0.9/0.98, weight decay %g on "
      "matrices), lr %g, %d warmup steps, cosine decay to 10%% %s, gradient clip %g, %s, "
      "init N(0, 0.02) (output projections / sqrt(2 n_layers)), seed %d.\n"
      % ("sum of cross-entropy over masked tokens / p, divided by the response length, "
         "averaged over rows" if a.get("loss_weighting", "inv_t") == "inv_t" else
         "mean cross-entropy over the masked tokens (no 1/t weight)",
         a["weight_decay"], a["lr"], a["warmup"],
         "over the time limit (`--time-schedule`)" if a.get("time_schedule") else
         "over the planned steps", a.get("clip", 1.0),
         "fp32 parameters with bf16 autocast" if a.get("amp") else "fp32", a["seed"]))
    w("Command (from the repository root):\n")
    w("```\n%s\n```\n" % cmd)
    w("Steps done: %d of %d planned; training time %.1f min (%.3f s/step mean) on %s; "
      "torch %s.\n" % (
          summary["steps_done"], summary["steps_planned"], mins,
          summary["train_seconds"] / max(1, summary["steps_done"]),
          summary.get("device_name", platform.machine() + " CPU, shared 2-core build machine"),
          summary.get("torch", __import__("torch").__version__)))
    w("Loss (mean over each tenth of the run):\n")
    w("| steps | mean loss | s/step |\n|---|---|---|")
    L.extend(_loss_table(hist))
    w("")
    if evals:
        w("Exact match on `ops/tasks/eval_small.jsonl` during training: " +
          ", ".join("step %d: %.3f" % e for e in evals) + ".\n")
    w("## Evaluation\n")
    w("Held-out `ops/tasks/eval_split.jsonl` (%d items, %s per task), reference sampler "
      "`ops/reference/llada_generate.py` (no cache), temperature 0, low-confidence "
      "remasking, gen_length %d, block_length %d, steps %d; output decoded with "
      "skip-special-tokens; exact match after stripping whitespace. Checkpoint as written "
      "(bf16 weights). Command:\n" % (
          res["n"], "/".join(sorted({str(v["n"]) for v in res["per_task"].values()})),
          res["gen_length"], res["block_length"], res["steps"]))
    w("```\n/usr/bin/python3 ops/train/eval_ref.py --model models/llada-tiny "
      "--items ops/tasks/eval_split.jsonl\n```\n")
    w("| task | accuracy | correct / n |\n|---|---|---|")
    for k, v in res["per_task"].items():
        w("| %s | %.3f | %d / %d |" % (k, v["acc"], v["correct"], v["n"]))
    w("| **overall** | **%.3f** | %d / %d |\n" % (
        res["overall"], sum(v["correct"] for v in res["per_task"].values()), res["n"]))
    if engine is not None:
        w("The C engine (`build/bin/dllm eval --model models/llada-tiny --tasks "
          "ops/tasks/eval_split.jsonl --gen-length 8 --block-length 8 --steps 8`, fp32 CPU "
          "backend, no cache) on the same items: accuracy %.3f (%d items)%s.\n" % (
              engine["accuracy"], engine["items"],
              ", the same as the reference" if abs(engine["accuracy"] - res["overall"]) < 1e-12
              else " (reference %.3f)" % res["overall"]))
    preds = res.get("predictions") or []
    if preds:
        w("Answer shape (prediction has the same number of characters as the answer, i.e. "
          "the model got the length / format right even when the content is wrong):\n")
        w("| task | same length | example (answer -> prediction) |\n|---|---|---|")
        for k in res["per_task"]:
            ps = [p for p in preds if p["task"] == k]
            same = sum(len(p["prediction"].strip()) == len(p["answer"]) for p in ps)
            ex = ps[0] if ps else None
            w("| %s | %d / %d | `%s` -> `%s` |" % (k, same, len(ps), ex["answer"],
                                                  ex["prediction"].strip()) if ex else "")
        w("")
    if cpu is not None:
        cs, cr = cpu["summary"], cpu["res"]
        w("## Training on the CPU\n")
        w("%s The CPU command (the 2-core build machine, Debian's torch):\n" % (
            "The shipped weights were trained on a GPU (above). " if on_gpu else ""))
        w("```\n%s\n```\n" % cpu["command"])
        w("A run of it, measured: %d steps in %.1f min of training (%.3f s/step, %s), "
          "exact match on `%s` %.3f: %s.%s\n" % (
              cs["steps_done"], cs["train_seconds"] / 60.0,
              cs["train_seconds"] / max(1, cs["steps_done"]),
              cs.get("device_name", "cpu"), os.path.basename(cr.get("items", "eval")),
              cr["overall"], ", ".join("%s %.2f" % (k, v["acc"])
                                       for k, v in cr["per_task"].items()),
              (" " + cpu["note"]) if cpu.get("note") else ""))
    if extra_md:
        w(extra_md.rstrip() + "\n")
    weak = [k for k, v in res["per_task"].items() if v["acc"] < 0.8]
    w("## Limitations\n")
    if res["overall"] < 0.05:
        w("**This model does not solve the tasks** (exact match %.1f%%, target 80%%). In the "
          "CPU budget of this run it learned the response format (answer length, EOT, EOS "
          "padding) but not the content: its answers barely depend on the user message. "
          "It is still a genuinely trained LLaDA-format checkpoint (useful for loading, "
          "format, speed and cache-versus-no-cache agreement tests), but quality "
          "measurements need a longer-trained model. " % (100 * res["overall"]))
    elif weak:
        w("Below 80%% exact match at this size and training budget: %s. " % ", ".join(
            "%s (%.0f%%)" % (k, 100 * res["per_task"][k]["acc"]) for k in weak))
    w("The model only knows the formats above and the one shared system prompt; any other "
      "input gives meaningless output.\n")
    with open(os.path.join(out, "README.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(L))


def _load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def main(argv=None):
    ap = argparse.ArgumentParser(description="(Re)write the model card of a finished run.")
    ap.add_argument("--summary", required=True, help="train.py's summary.json of the run")
    ap.add_argument("--eval", required=True, help="ops/train/eval_ref.py --json output "
                    "(ops/tasks/eval_split.jsonl, the checkpoint as written)")
    ap.add_argument("--out", default=None, help="model directory (default: the run's --out)")
    ap.add_argument("--command", default="", help="the command line of the run, verbatim")
    ap.add_argument("--engine-json", default="", help="`dllm eval --json` summary")
    ap.add_argument("--cpu-summary", default="")
    ap.add_argument("--cpu-eval", default="")
    ap.add_argument("--cpu-command", default="")
    ap.add_argument("--cpu-note", default="")
    ap.add_argument("--extra-md", default="", help="markdown file put before the "
                    "limitations (other runs, history)")
    a = ap.parse_args(argv)
    try:
        summary = _load_json(a.summary)
        res = _load_json(a.eval)
        engine = _load_json(a.engine_json) if a.engine_json else None
        cpu = None
        if a.cpu_summary:
            cpu = {"summary": _load_json(a.cpu_summary), "res": _load_json(a.cpu_eval),
                   "command": a.cpu_command, "note": a.cpu_note}
    except (OSError, ValueError) as e:
        sys.stderr.write("model_card.py: error: %s\n" % e)
        return 2
    if "args" not in summary:
        sys.stderr.write("model_card.py: error: %s has no \"args\" (a summary.json of an "
                         "older train.py)\n" % a.summary)
        return 2
    args = summary["args"]
    if a.out:
        args["out"] = a.out
    codec = Codec(os.path.join(args["out"], "tokenizer.json"))
    items = tasks.load_jsonl(os.path.join(common.ROOT, "ops", "tasks", "eval_split.jsonl"))
    lens = [len(codec.prompt_ids(it)) for it in items]
    extra = None
    if a.extra_md:
        with open(a.extra_md, encoding="utf-8") as f:
            extra = f.read()
    write(args, summary, res, codec, lens, [], command=a.command or None, engine=engine,
          cpu=cpu, extra_md=extra)
    print("wrote %s" % os.path.join(args["out"], "README.md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
