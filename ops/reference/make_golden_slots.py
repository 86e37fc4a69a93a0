"""Regenerate the prompt-slot golden traces with one command.

    /usr/bin/python3 ops/reference/make_golden_slots.py [--root DIR]

Writes tests/data/golden/traces_prompt_slots.json: dLLM-Cache generations on the 4-layer
checkpoint tests/data/tiny-llada-4l (written by make_golden_dllm.py; read here, not
rewritten) whose first `slot_prefix` prompt tokens come from a prompt slot
(prompt_slots.py), in traces_dllm.json's format plus "slot_prefix" and "build_rows". The
C engine (test_slots) must reproduce every step exactly in fp32, both when it builds the
slot and when it finds it built. Checks, failing loudly:

  * slot_prefix = 0 semantics: with the slot forced to cover nothing the trace equals
    dllm_cache.generate() (the subclass changes only the first forward);
  * robustness: the smallest argmax/selection decision gap of every case (log units) and
    the smallest V-verify angle gap must be >= make_golden_dllm's thresholds, so fp32
    rounding differences between PyTorch and the C engine cannot flip a decision;
  * determinism: the document is computed twice and must be identical.
"""

import argparse
import math
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import byte_bpe  # noqa: E402
import dllm_cache  # noqa: E402
import llada_model  # noqa: E402
import make_golden  # noqa: E402
import make_golden_dllm  # noqa: E402
import prompt_slots  # noqa: E402


def cases():
    sp = make_golden.specials()
    enc = byte_bpe.encode
    p1 = enc(byte_bpe.chat_prompt("What is the capital of France?"))
    p2 = enc(byte_bpe.chat_prompt("Write a poem about the sea."))

    def P(gen, steps, block, kp, kr, rho, l0=True, cfg=0.0, ci=0, temperature=0.0, seed=0):
        return {"gen_length": gen, "steps": steps, "block_length": block,
                "temperature": temperature, "cfg_scale": cfg, "remasking": "low_confidence",
                "seed": seed, "logits_eos_inf": False, "confidence_eos_eot_inf": False,
                "cache": {"policy": "dllm", "kp": kp, "kr": kr, "rho": rho,
                          "layer0_refresh": l0, "cfg_interval": ci}}

    p4 = enc(byte_bpe.chat_prompt("Hi"))
    return [
        ("slot12_kp100_kr5_rho0.25", p1, 12, P(16, 16, 8, 100, 5, 0.25)),
        ("slot20_kp3_kr2_rho0.25_b4", p1, 20, P(16, 16, 4, 3, 2, 0.25)),
        ("slot25_kp3_kr2_rho0.25_b4", p2, 25, P(16, 16, 4, 3, 2, 0.25)),
        ("slot_all_kp4_kr1", p2, len(p2), P(16, 16, 8, 4, 1, 0.0)),
        ("slot12_hi_kp4_kr1", p4, 12, P(16, 16, 8, 4, 1, 0.0)),
        ("slot20_l0off_kp3_kr5_rho0", p1, 20, P(16, 16, 8, 3, 5, 0.0, l0=False)),
        ("slot12_t0.8_kp100_kr5_rho0.25", p1, 12, P(16, 16, 16, 100, 5, 0.25,
                                                     temperature=0.8, seed=31)),
        ("slot30_cfg1.0_ci3", p1, 30, P(16, 16, 8, 100, 5, 0.25, cfg=1.0, ci=3)),
    ]


def run(model, prompt, S, params, diagnostics=True):
    sp = make_golden.specials()
    c = params["cache"]
    return prompt_slots.generate(
        model, prompt, S, gen_length=params["gen_length"], steps=params["steps"],
        block_length=params["block_length"], mask_id=sp["<|mdm_mask|>"],
        eos_id=sp["<|endoftext|>"], eot_id=sp["<|eot_id|>"], vocab_size=byte_bpe.vocab_size(),
        temperature=params["temperature"], cfg_scale=params["cfg_scale"],
        remasking=params["remasking"], seed=params["seed"], kp=c["kp"], kr=c["kr"],
        rho=c["rho"], layer0_refresh=c["layer0_refresh"], cfg_interval=c["cfg_interval"],
        diagnostics=diagnostics)


def build_doc(model):
    out = []
    worst = {"log": math.inf, "angle": math.inf}
    for name, prompt, S, params in cases():
        res = run(model, prompt, S, params)
        ga = min(min(g["argmax"] for g in res["gaps"]), min(g["select"] for g in res["gaps"]))
        gang = res["cos_gap"][1]
        if ga < make_golden_dllm.MIN_GAP_LOG or gang < make_golden_dllm.MIN_GAP_ANGLE:
            raise AssertionError("%s: fragile decision (log gap %.3g, angle gap %.3g)"
                                 % (name, ga, gang))
        worst["log"] = min(worst["log"], ga)
        worst["angle"] = min(worst["angle"], gang)
        out.append({"name": name, "checkpoint": make_golden_dllm.CKPT, "prompt_ids": prompt,
                    "slot_prefix": S, "params": params, "trace": res["trace"],
                    "output_ids": res["token_ids"], "steps": len(res["trace"]),
                    "forwards": res["forwards"], "rows": res["rows"],
                    "build_rows": res["build_rows"]})
    return {"generator": "ops/reference/make_golden_slots.py", "cases": out}, worst


def main(argv=None):
    ap = argparse.ArgumentParser(description="regenerate the prompt-slot golden traces")
    ap.add_argument("--root", default=os.path.abspath(os.path.join(HERE, "..", "..")))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    data = os.path.join(args.root, "tests", "data")
    model, _ = llada_model.load_checkpoint(os.path.join(data, make_golden_dllm.CKPT))

    # the subclass changes only the first conditional forward: with an empty slot it is
    # the plain dLLM-Cache forward, trace for trace
    import llada_generate
    sp = make_golden.specials()
    name, prompt, S, params = cases()[0]
    c = params["cache"]
    nl, d = model.config.n_layers, model.config.d_model
    empty = {"S": 0, "rows": 0}
    for k in "KVAF":
        empty[k] = [torch.zeros(0, d) for _ in range(nl)]
    fwd = prompt_slots.PromptSlotForward(model, len(prompt), params["gen_length"],
                                         sp["<|mdm_mask|>"], empty, policy="dllm", kp=c["kp"],
                                         kr=c["kr"], rho=c["rho"],
                                         layer0_refresh=c["layer0_refresh"])
    res0 = llada_generate.generate(
        fwd, prompt, gen_length=params["gen_length"], steps=params["steps"],
        block_length=params["block_length"], mask_id=sp["<|mdm_mask|>"],
        eos_id=sp["<|endoftext|>"], eot_id=sp["<|eot_id|>"], vocab_size=byte_bpe.vocab_size())
    if res0["trace"] != make_golden_dllm.run(model, prompt, params)["trace"]:
        raise AssertionError("an empty slot changes the dLLM-Cache trace")

    doc, worst = build_doc(model)
    doc2, _ = build_doc(model)
    text = make_golden.dumps_compact(doc) + "\n"
    if text != make_golden.dumps_compact(doc2) + "\n":
        raise AssertionError("two runs differ: not deterministic")
    make_golden.write_text(os.path.join(data, "golden", "traces_prompt_slots.json"), text)
    print("traces_prompt_slots.json: %d cases; smallest decision gap %.3g (log), V-verify "
          "angle gap %.3g rad" % (len(doc["cases"]), worst["log"], worst["angle"]))


if __name__ == "__main__":
    main()
