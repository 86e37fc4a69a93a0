"""Self-tests of the Python reference (run: /usr/bin/python3 -m unittest ops/reference/test_reference.py
from the repository root, or /usr/bin/python3 ops/reference/test_reference.py).

Design
------
The golden data is only as good as the reference that made it, so the pieces that other
engines must match are checked against independent facts here: the RNG against the
known splitmix64 outputs and its own vectors, safetensors round trips and rejection of
malformed files, BF16 rounding against torch's own bfloat16 cast, RoPE against a direct
complex-number rotation, the model against a float64 re-computation, the sampler's
validation errors and schedule, and the committed golden files against a fresh run.
Each test runs in well under a second.
"""

import json
import os
import struct
import sys
import tempfile
import unittest

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)

import byte_bpe  # noqa: E402
import llada_generate  # noqa: E402
import llada_model  # noqa: E402
import rng  # noqa: E402
import safetensors_io as stio  # noqa: E402

torch.set_num_threads(1)


class TestRng(unittest.TestCase):
    def test_splitmix_known_values(self):
        # splitmix64 with state 0: outputs are mix64(k * golden) for k = 1, 2
        self.assertEqual(rng.mix64(0x9E3779B97F4A7C15), 0xE220A8397B1DCDAF)
        self.assertEqual(rng.mix64((2 * 0x9E3779B97F4A7C15) & rng.MASK64), 0x6E789E6AA1B965F4)

    def test_vectors(self):
        self.assertEqual(rng.rng_u64(0, 0, 0, 0, 0), 0x1957A7604E215178)
        self.assertEqual(rng.rng_u64(42, 0, 3, 17, 5), 0x3968B8DC79AD0D4C)
        self.assertEqual(rng.rng_u64(42, 1, 3, 17, 0), 0x24F733F8A0831E9D)
        self.assertEqual(rng.rng_u64(2 ** 64 - 1, 1, 2 ** 32 - 1, 4095, 126463),
                         0xD5029FA276100B0A)
        self.assertEqual(rng.rng_uniform(42, 0, 3, 17, 5), 0.22425418265054387)

    def test_numpy_matches_scalar(self):
        rng.self_test()

    def test_rejects_bad_args(self):
        for args in ((-1, 0, 0, 0, 0), (2 ** 64, 0, 0, 0, 0), (0, 2 ** 32, 0, 0, 0),
                     (0, 0, 2 ** 32, 0, 0), (0, 0, 0, -1, 0), (True, 0, 0, 0, 0)):
            with self.assertRaises(ValueError):
                rng.rng_u64(*args)


class TestSafetensors(unittest.TestCase):
    def test_round_trip_and_bf16(self):
        a = np.random.RandomState(0).randn(3, 5).astype(np.float32)
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "x.safetensors")
            stio.save(p, {"a": a, "b": a[0]}, dtype="F32", metadata={"k": "v"})
            t, meta, dt = stio.load(p)
            self.assertTrue(np.array_equal(t["a"], a))
            self.assertEqual(meta, {"k": "v"})
            self.assertEqual(dt["b"], "F32")
            with open(p, "rb") as f:
                (n,) = struct.unpack("<Q", f.read(8))
            self.assertEqual(n % 8, 0)
            stio.save(p, {"a": a}, dtype="BF16")
            t, _, dt = stio.load(p)
            self.assertEqual(dt["a"], "BF16")
            want = torch.from_numpy(a).to(torch.bfloat16).float().numpy()
            self.assertTrue(np.array_equal(t["a"], want))

    def test_bf16_rounding_matches_torch(self):
        x = np.random.RandomState(1).randn(10000).astype(np.float32) * 1e3
        x = np.concatenate([x, np.float32([1.00390625, 1.01171875, -0.0, np.inf, 3.4e38])])
        want = torch.from_numpy(x).to(torch.bfloat16).float().numpy()
        self.assertTrue(np.array_equal(stio.round_to_bf16(x), want))

    def _bad(self, header_bytes, data=b""):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "bad.safetensors")
            with open(p, "wb") as f:
                f.write(struct.pack("<Q", len(header_bytes)) + header_bytes + data)
            with self.assertRaises(ValueError):
                stio.load(p)

    def test_rejects_malformed(self):
        self._bad(b"not json")
        self._bad(b"[]")
        self._bad(json.dumps({"a": {"dtype": "F99", "shape": [1],
                                    "data_offsets": [0, 4]}}).encode(), b"\0" * 4)
        self._bad(json.dumps({"a": {"dtype": "F32", "shape": [2],
                                    "data_offsets": [0, 4]}}).encode(), b"\0" * 4)
        self._bad(json.dumps({"a": {"dtype": "F32", "shape": [1],
                                    "data_offsets": [0, 8]}}).encode(), b"\0" * 4)
        self._bad(json.dumps({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                              "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}
                             ).encode(), b"\0" * 8)
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "short.safetensors")
            with open(p, "wb") as f:
                f.write(struct.pack("<Q", 1000) + b"{}")
            with self.assertRaises(ValueError):
                stio.load(p)


def tiny_config():
    return llada_model.LLaDAConfig(d_model=32, n_layers=2, n_heads=4, mlp_hidden_size=40,
                                   vocab_size=50, max_sequence_length=64,
                                   rope_theta=10000.0, rms_norm_eps=1e-5,
                                   mask_token_id=49, eos_token_id=48, pad_token_id=48)


class TestModel(unittest.TestCase):
    def test_rope_is_a_rotation_of_half_split_pairs(self):
        hd = 8
        x = torch.randn(1, 1, 5, hd)
        cos, sin = llada_model.rope_cos_sin(torch.arange(5), hd, 10000.0)
        y = llada_model.apply_rope(x, cos, sin)
        for p in range(5):
            for i in range(hd // 2):
                ang = p * (1.0 / (10000.0 ** (2 * i / hd)))
                z = complex(x[0, 0, p, i], x[0, 0, p, i + hd // 2]) * complex(
                    np.cos(ang), np.sin(ang))
                self.assertAlmostEqual(float(y[0, 0, p, i]), z.real, places=4)
                self.assertAlmostEqual(float(y[0, 0, p, i + hd // 2]), z.imag, places=4)

    def test_forward_matches_float64_and_is_batched(self):
        m = llada_model.init_random_(llada_model.LLaDAModel(tiny_config()), 3).eval()
        ids = torch.randint(0, 50, (2, 7))
        with torch.no_grad():
            y = m(ids)
            y1 = m(ids[1:])
            # independent float64 recomputation from the HF tensors
            W = {k: v.double() for k, v in m.state_dict_hf().items()}
            x = W["model.transformer.wte.weight"][ids[0]]
            T, H, hd = 7, 4, 8
            pos = np.arange(T)

            def rms(x, w):
                return x / torch.sqrt((x * x).mean(-1, keepdim=True) + 1e-5) * w

            def rope(q):
                out = q.clone()
                for p in range(T):
                    for i in range(hd // 2):
                        a = pos[p] / 10000.0 ** (2 * i / hd)
                        c, s = np.cos(a), np.sin(a)
                        u, v = q[:, p, i].clone(), q[:, p, i + hd // 2].clone()
                        out[:, p, i] = u * c - v * s
                        out[:, p, i + hd // 2] = v * c + u * s
                return out
            for b in range(2):
                pre = "model.transformer.blocks.%d." % b
                h = rms(x, W[pre + "attn_norm.weight"])
                q = (h @ W[pre + "q_proj.weight"].T).view(T, H, hd).transpose(0, 1)
                k = (h @ W[pre + "k_proj.weight"].T).view(T, H, hd).transpose(0, 1)
                v = (h @ W[pre + "v_proj.weight"].T).view(T, H, hd).transpose(0, 1)
                q, k = rope(q), rope(k)
                a = torch.softmax(q @ k.transpose(-1, -2) / np.sqrt(hd), -1) @ v
                x = x + a.transpose(0, 1).reshape(T, 32) @ W[pre + "attn_out.weight"].T
                z = rms(x, W[pre + "ff_norm.weight"])
                g = z @ W[pre + "ff_proj.weight"].T
                x = x + (g * torch.sigmoid(g) * (z @ W[pre + "up_proj.weight"].T)) @ \
                    W[pre + "ff_out.weight"].T
            ref = rms(x, W["model.transformer.ln_f.weight"]) @ \
                W["model.transformer.ff_out.weight"].T
        self.assertEqual(tuple(y.shape), (2, 7, 50))
        self.assertLess(float((y[0].double() - ref).abs().max()), 1e-4)
        self.assertLess(float((y[1] - y1[0]).abs().max()), 1e-5)

    def test_checkpoint_round_trip_and_validation(self):
        m = llada_model.init_random_(llada_model.LLaDAModel(tiny_config()), 4)
        tok = byte_bpe.tokenizer_json()
        tok = json.loads(json.dumps(tok))
        # remap the specials of the tiny config onto ids that exist in this tokenizer
        tok["added_tokens"] = [{"id": 48, "content": "<|endoftext|>", "special": True},
                               {"id": 49, "content": "<|mdm_mask|>", "special": True}]
        with tempfile.TemporaryDirectory() as d:
            llada_model.write_checkpoint(d, m, {}, tok, "F32", shards=3)
            m2, _ = llada_model.load_checkpoint(d)
            for k, v in m.state_dict_hf().items():
                self.assertTrue(torch.equal(v, m2.state_dict_hf()[k]))
            with open(os.path.join(d, "config.json"), encoding="utf-8") as f:
                cfg = json.load(f)
            for key, val in (("n_kv_heads", 2), ("weight_tying", True),
                             ("block_type", "sequential"), ("mask_token_id", 50)):
                bad = dict(cfg)
                bad[key] = val
                with self.assertRaises(ValueError):
                    llada_model.LLaDAConfig.from_dict(bad)
            os.remove(os.path.join(d, "model-00002-of-00003.safetensors"))
            with self.assertRaises((ValueError, OSError)):
                llada_model.load_checkpoint(d)


class TestSampler(unittest.TestCase):
    def setUp(self):
        self.m = llada_model.init_random_(llada_model.LLaDAModel(tiny_config()), 5).eval()
        self.fwd = llada_generate.torch_forward(self.m)
        self.kw = dict(mask_id=49, eos_id=48, eot_id=47, vocab_size=50)

    def run_(self, prompt, **kw):
        args = dict(self.kw)
        args.update(kw)
        return llada_generate.generate(self.fwd, prompt, **args)

    def test_validation(self):
        for kw in (dict(gen_length=10, steps=10, block_length=4),
                   dict(gen_length=8, steps=3, block_length=4),
                   dict(gen_length=8, steps=0, block_length=8),
                   dict(gen_length=0, steps=1, block_length=1),
                   dict(gen_length=8, steps=8, block_length=8, temperature=-1.0),
                   dict(gen_length=8, steps=8, block_length=8, temperature=float("nan")),
                   dict(gen_length=8, steps=8, block_length=8, remasking="top"),
                   dict(gen_length=8, steps=8, block_length=8, seed=2 ** 64)):
            with self.assertRaises(ValueError):
                self.run_([1, 2], **kw)
        with self.assertRaises(ValueError):
            self.run_([1, 49], gen_length=8, steps=8, block_length=8)
        with self.assertRaises(ValueError):
            self.run_([], gen_length=8, steps=8, block_length=8)

    def test_schedule_and_counts(self):
        r = self.run_([1, 2, 3], gen_length=12, steps=5, block_length=12, cfg_scale=0.5)
        self.assertEqual((r["steps"], r["forwards"]), (5, 10))
        counts = []
        prev = [49] * 12
        for row in r["trace"]:
            counts.append(sum(1 for a, b in zip(prev, row) if a != b))
            prev = row
        self.assertEqual(counts, [3, 3, 2, 2, 2])
        self.assertNotIn(49, r["token_ids"])

    def test_semi_ar_only_commits_inside_block(self):
        r = self.run_([1], gen_length=8, steps=4, block_length=2, temperature=1.0, seed=9)
        for s, row in enumerate(r["trace"]):
            done = [p for p in range(8) if row[p] != 49]
            self.assertEqual(done, list(range(2 * (s + 1))))

    def test_seed_matters_and_is_reproducible(self):
        kw = dict(gen_length=8, steps=8, block_length=8, temperature=1.0)
        a = self.run_([1, 2], seed=1, **kw)
        b = self.run_([1, 2], seed=1, **kw)
        c = self.run_([1, 2], seed=2, **kw)
        self.assertEqual(a, b)
        self.assertNotEqual(a["trace"], c["trace"])


class TestGolden(unittest.TestCase):
    def test_logits_files_match_a_fresh_forward(self):
        gdir = os.path.join(ROOT, "tests", "data", "golden")
        with open(os.path.join(gdir, "logits.json"), encoding="utf-8") as f:
            doc = json.load(f)
        models = {}
        for c in doc["cases"]:
            if c["checkpoint"] not in models:
                models[c["checkpoint"]] = llada_model.load_checkpoint(
                    os.path.join(ROOT, "tests", "data", c["checkpoint"]))[0]
            g = np.fromfile(os.path.join(gdir, c["file"]), dtype="<f4").reshape(
                c["rows"], c["vocab"])
            with torch.no_grad():
                y = models[c["checkpoint"]](torch.tensor([c["ids"]]))[0].numpy()
            self.assertTrue(np.array_equal(g, y), c["name"])

    def test_chat_prompt_ids(self):
        ids = byte_bpe.encode(byte_bpe.chat_prompt("Hi"))
        sp = {s: byte_bpe.special_id(s) for s in byte_bpe.SPECIALS}
        self.assertEqual(ids[:3], [sp["<|startoftext|>"], sp["<|start_header_id|>"], ord("u")])
        self.assertEqual(ids[-1], 256 + byte_bpe.MERGES.index(("Ċ", "Ċ")))
        self.assertEqual(byte_bpe.decode(ids), byte_bpe.chat_prompt("Hi"))


class TestCachePolicies(unittest.TestCase):
    """Sparse-dLLM's keep selection and d2Cache's density and nucleus on hand-made inputs."""

    def test_sparse_keep_selection(self):
        import sparse_dllm
        stat = np.array([5, 0, 0, 9, 9, 1, 0, 0, 0, 3], dtype=np.float32)
        # block rows 4..5 cut out; the others [5,0,0,9,0,0,0,3] (rows 0-3, 6-9) pooled with
        # window 3 as one sequence: [5,5,9,9,9,0,3,3]; row 6 inherits row 3's 9 across the
        # block, as in the official code
        kept, _ = sparse_dllm.select_kept(stat, 4, 6, 3, 3)
        self.assertEqual(kept, [2, 3, 6])
        kept, _ = sparse_dllm.select_kept(stat, 4, 6, 1, 3)
        self.assertEqual(kept, [0, 3, 9])      # no pooling: 9, 5, 3
        self.assertEqual(sparse_dllm.keep_count(40, 8, 0.5), 16)
        for bad in ((0.0, 3), (1.5, 3), (0.5, 2), (0.5, 0)):
            with self.assertRaises(ValueError):
                sparse_dllm.validate(*bad)

    def test_d2_density_and_nucleus(self):
        import d2cache
        known = np.array([True, False, False, True, False, False, False, False])
        a, b = d2cache.density(known, 2.0), d2cache.density_fft(known, 2.0)
        self.assertLess(float(np.abs(a - b).max()), 1e-12)
        self.assertGreater(a[1], a[6])        # near decoded rows and the prompt: higher
        imp = np.array([0.5, 0.05, 0.3, 0.15])
        rows, _ = d2cache.nucleus(imp, np.array([False, False, True, False]), 0.8)
        self.assertEqual(rows, [0])            # shares .714, then .214: .93 > .8 stops
        rows, _ = d2cache.nucleus(imp, np.array([False, False, True, False]), 0.01)
        self.assertEqual(rows, [0])            # at least one row
        for bad in ((0, 0.1, 10.0, 0, True), (32, 1.5, 10.0, 0, True),
                    (32, 0.1, 0.0, 0, True), (32, 0.1, 10.0, -1, True)):
            with self.assertRaises(ValueError):
                d2cache.validate(*bad)


if __name__ == "__main__":
    unittest.main()
