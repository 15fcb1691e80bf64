# SPDX-License-Identifier: MIT
"""A GPU peer for the W4A16 GEMMs: gemlite's Triton FP4 weight-only kernels (A16W4_MXFP, A16W4_NVFP)
beside cuBLAS BF16 (torch.matmul) in the same run, bf16 activations, for the shapes of bench_cuda_gemm.

    PYTHONPATH=/path/to/gemlite python3 bench/peers/gemlite_w4a16.py [M ...]

gemlite is not part of this repository (pip download --no-deps gemlite; it needs torch and triton).
Timing: triton.testing.do_bench (median, L2 flushed between runs by do_bench), after one warm-up call that
also compiles and tunes the kernel. The weights of three layers are rotated, so that the FP4 weights
(36 MB at 8192 x 8192) do not stay in the 50 MB L2. Prints one table row per (N x K, M, format).
"""
import sys
import time

import torch
import triton

import gemlite
from gemlite.helper import A16W4_MXFP, A16W4_NVFP

SHAPES = [(8192, 8192), (28672, 8192), (8192, 28672)]
MS = [int(a) for a in sys.argv[1:]] or [1, 16, 64, 256, 1024, 4096, 8192]
ROT = 3


def bench(fns):
    i = [0]

    def step():
        fns[i[0] % len(fns)]()
        i[0] += 1

    return triton.testing.do_bench(step, warmup=25, rep=100, return_mode="median") * 1e-3


def main():
    dev = torch.cuda.get_device_name()
    print("gemlite %s, torch %s, triton %s, %s" % (gemlite.__version__, torch.__version__, triton.__version__, dev))
    print("| format | N x K | M | cuBLAS BF16 us | gemlite us | x cuBLAS | gemlite TFLOP/s | rel. err vs bf16 |")
    print("|---|---|---|---|---|---|---|---|")
    torch.manual_seed(0)
    for N, K in SHAPES:
        ws = [0.02 * torch.randn(N, K, device="cuda", dtype=torch.bfloat16) for _ in range(ROT)]
        for fmt, cls in (("MXFP4", A16W4_MXFP), ("NVFP4", A16W4_NVFP)):
            layers = []
            try:
                for w in ws:
                    lin = torch.nn.Linear(K, N, bias=False, device="cuda", dtype=torch.bfloat16)
                    lin.weight.data.copy_(w)
                    layers.append(cls(device="cuda:0", dtype=torch.bfloat16).from_linear(lin, del_orig=True))
            except Exception as e:  # a format this gemlite cannot build here: say so and go on
                print("| %s | %dx%d | - | gemlite could not build the layer: %s |" % (fmt, N, K, repr(e)[:120]))
                continue
            for M in MS:
                xs = [torch.randn(M, K, device="cuda", dtype=torch.bfloat16) for _ in range(ROT)]
                t0 = time.time()
                try:
                    y = layers[0](xs[0])
                    torch.cuda.synchronize()
                except Exception as e:
                    print("| %s | %dx%d | %d | gemlite failed: %s |" % (fmt, N, K, M, repr(e)[:120]))
                    continue
                ref = xs[0] @ ws[0].T
                err = ((y.float() - ref.float()).norm() / ref.float().norm()).item()
                t_cu = bench([lambda x=x, w=w: x @ w.T for x, w in zip(xs, ws)])
                t_gl = bench([lambda x=x, l=l: l(x) for x, l in zip(xs, layers)])
                print("| %s | %dx%d | %d | %.1f | %.1f | %.2f | %.1f | %.2e |" % (
                    fmt, N, K, M, t_cu * 1e6, t_gl * 1e6, t_cu / t_gl, 2.0 * M * N * K / t_gl / 1e12, err))
                sys.stdout.flush()
                if time.time() - t0 > 120:
                    print("(stopping this shape: compilation and tuning took too long)")
                    break
            del layers
            torch.cuda.empty_cache()
        del ws
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
