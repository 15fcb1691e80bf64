#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Compile the CUDA header for sm_90a, sm_100a and sm_120a (tests/cuda_header.cu), and the CUDA tests,
# benchmarks, examples and the two-translation-unit link test for sm_90a. NVCC_OPT (set by .ci/run) lowers the
# device optimization level: this is a compile check; the device runs full-optimization builds.
set -u
command -v nvcc >/dev/null 2>&1 || { echo "nvcc not found"; exit 1; }
[ -f fp4_cuda.cuh ] || { echo "no fp4_cuda.cuh yet"; echo "0 passed, 0 failed"; exit 0; }
make cuda -j2
