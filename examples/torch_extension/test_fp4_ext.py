# SPDX-License-Identifier: MIT
"""Build the fp4 PyTorch extension (fp4_ext.cu) with torch.utils.cpp_extension.load and check it.

    python examples/torch_extension/test_fp4_ext.py          # from the repository root, on a CUDA GPU

For each recipe the GPU result (fp4_cuda.cuh) is compared with the extension's own CPU path (the scalar
reference fp4.h): quantized bytes, scales and tensor scale identical; the reproducible W4A4 GEMM
identical bit for bit; W4A16 and the fast W4A4 within spec section 5's bounds of a float64 product of the
dequantized operands. It also shows an FP4 linear layer as a torch.nn.Module. Prints "N passed, N failed"
and exits non-zero on failure. The build needs nvcc and a CUDA-enabled PyTorch; it targets the GPU's
own architecture (sm_90a, sm_100a or sm_120a).
"""
import os
import sys

import torch
from torch.utils.cpp_extension import load

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)


def build():
    major, minor = torch.cuda.get_device_capability()
    arch = {(9, 0): "90a", (10, 0): "100a", (10, 3): "103a", (12, 0): "120a", (12, 1): "121a"}.get((major, minor))
    if arch is None:
        arch = "%d%d" % (major, minor)
    return load(
        name="fp4_ext",
        sources=[os.path.join(HERE, "fp4_ext.cu")],
        extra_include_paths=[ROOT],
        extra_cflags=["-O2"],
        extra_cuda_cflags=["-O3", "-gencode=arch=compute_%s,code=sm_%s" % (arch, arch)],
        verbose=False,
    )


class FP4Linear(torch.nn.Module):
    """y = x W^T + b with W quantized once; activations quantized per call (W4A4) or not (W4A16)."""

    def __init__(self, ext, linear, rule="nv_4over6_mse", w4a4=True):
        super().__init__()
        self.ext, self.rule, self.w4a4 = ext, rule, w4a4
        self.w = ext.quantize(linear.weight.detach().contiguous(), rule)
        self.bias = None if linear.bias is None else linear.bias.detach().float()

    def forward(self, x):
        if self.w4a4:
            a = self.ext.quantize(x.contiguous(), self.rule)
            y = self.ext.gemm_w4a4(*a, *self.w, rule=self.rule)
        else:
            y = self.ext.gemm_w4a16(x.contiguous(), *self.w, rule=self.rule)
        return y if self.bias is None else y + self.bias


def rel(y, ref):
    return (torch.linalg.norm(y.double() - ref) / torch.linalg.norm(ref)).item()


def main():
    if not torch.cuda.is_available():
        print("needs a CUDA GPU")
        return 1
    ext = build()
    print("fp4 %s extension on %s" % (ext.version, torch.cuda.get_device_name()))
    torch.manual_seed(0)
    M, N, K = 64, 512, 1024
    w = (0.02 * torch.randn(N, K)).to(torch.bfloat16)
    x = torch.randn(M, K)
    x[:, 7::61] *= 20.0  # outlier channels
    x = x.to(torch.bfloat16)
    recipes = [
        dict(rule="mx_ocp"),
        dict(rule="mx_quest", hadamard=128),
        dict(rule="nv_6"),
        dict(rule="nv_4over6_mse"),
        dict(rule="nv_4over6_mse", hadamard=16, rht16=True, bf16_rotate=True),
        dict(rule="nv_4over6_mse", scale_2d=True),
    ]
    for r in recipes:
        name = " ".join("%s=%s" % kv for kv in r.items())
        for t, tname in ((w, "W"), (x, "X")):
            g = ext.quantize(t.cuda(), **r)
            c = ext.quantize(t, **r)
            check(torch.equal(g[0].cpu(), c[0]), "%s: %s codes differ from fp4.h" % (name, tname))
            check(torch.equal(g[1].cpu(), c[1]), "%s: %s scales differ from fp4.h" % (name, tname))
            check(g[2] == c[2] and g[3] == c[3], "%s: %s tensor scale/amax differ" % (name, tname))
            # float32 and float16 inputs of the same values give the same bytes
            g32 = ext.quantize(t.float().cuda(), **r)
            check(torch.equal(g32[0].cpu(), c[0]) and torch.equal(g32[1].cpu(), c[1]), "%s: %s f32 input" % (name, tname))
        # a calibrated amax gives the same bytes as the computed one
        gx = ext.quantize(x.cuda(), **r)
        if r["rule"].startswith("nv_"):
            cal = ext.quantize(x.cuda(), amax=gx[3], **r)
            check(torch.equal(cal[0], gx[0]) and torch.equal(cal[1], gx[1]), "%s: calibrated amax" % name)
        gw, cw, cx = ext.quantize(w.cuda(), **r), ext.quantize(w, **r), ext.quantize(x, **r)
        # GEMMs (W4A4 needs both operands in the same format; the rotation cancels in the product)
        rule = r["rule"]
        y_gpu = ext.gemm_w4a4(*gx, *gw, rule=rule).cpu()
        y_cpu = ext.gemm_w4a4(*cx, *cw, rule=rule)
        check(torch.equal(y_gpu, y_cpu), "%s: W4A4 exact differs from fp4.h" % name)
        xd = ext.dequantize(*cx, rule=rule).double()
        wd = ext.dequantize(*cw, rule=rule).double()
        ref_dq = xd @ wd.T
        e_fast = rel(ext.gemm_w4a4(*gx, *gw, rule=rule, fast=True).cpu(), ref_dq)
        check(e_fast <= 5e-4, "%s: W4A4 fast error %.3g > 5e-4" % (name, e_fast))
        check(torch.equal(ext.dequantize(*gw, rule=rule).cpu(), ext.dequantize(*cw, rule=rule)), "%s: dequantize" % name)
        e16 = float("nan")
        if not r.get("hadamard"):
            y16 = ext.gemm_w4a16(x.cuda(), *gw, rule=rule).cpu()
            e16 = rel(y16, x.double() @ wd.T)
            check(e16 <= 1e-5, "%s: W4A16 error %.3g > 1e-5" % (name, e16))
        e_q = rel(y_gpu, x.double() @ w.double().T)
        print("%-58s W4A4 err vs float %.4e  fast vs dequant %.2e  W4A16 vs dequant %.2e" % (name, e_q, e_fast, e16))
    # an FP4 linear layer as a module
    lin = torch.nn.Linear(K, N).cuda().to(torch.bfloat16)
    xs = x.cuda()
    ref = lin(xs).double()
    for w4a4 in (True, False):
        y = FP4Linear(ext, lin, w4a4=w4a4)(xs)
        e = rel(y, ref)
        print("FP4Linear %s: relative error vs the bf16 layer %.4e" % ("W4A4" if w4a4 else "W4A16", e))
        check(e < 0.3, "FP4Linear error %.3g" % e)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
