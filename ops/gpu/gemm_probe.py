"""Skinny bf16 GEMM bandwidth through PyTorch (cuBLAS) on the GPU: the reference point
for the engine's projection GEMMs at batch 1 (ops/gpu/README.md). Prints GB/s of weight
read per shape, fp32 and bf16 outputs."""
import torch

dev = "cuda"
for (m, n, k) in [(8, 4096, 4096), (64, 4096, 4096), (64, 12288, 4096), (64, 4096, 12288),
                  (256, 4096, 4096), (8, 126464, 4096), (1149, 12288, 4096)]:
    ws = [torch.randn(n, k, device=dev, dtype=torch.bfloat16) for _ in range(4)]
    x = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
    for out in ("bf16", "fp32"):
        f = (lambda w: x @ w.T) if out == "bf16" else (lambda w: torch.mm(x, w.T, out_dtype=torch.float32))
        try:
            for w in ws:
                f(w)
        except Exception as e:  # noqa: BLE001 - out_dtype may not exist
            print("  %s: %s" % (out, e))
            continue
        torch.cuda.synchronize()
        e0, e1 = torch.cuda.Event(True), torch.cuda.Event(True)
        e0.record()
        for i in range(40):
            f(ws[i % 4])
        e1.record()
        torch.cuda.synchronize()
        ms = e0.elapsed_time(e1) / 40
        print("m %5d n %6d k %5d out %s: %8.1f us  %7.0f GB/s weights  %6.1f TFLOP/s"
              % (m, n, k, out, 1e3 * ms, n * k * 2 / ms / 1e6, 2 * m * n * k / ms / 1e9))
