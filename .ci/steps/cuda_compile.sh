#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Compile the CUDA header, tests, benchmarks and examples for sm_90a, sm_100a and sm_120a.
set -u
command -v nvcc >/dev/null 2>&1 || { echo "nvcc not found"; exit 1; }
[ -f fp4_cuda.cuh ] || { echo "no fp4_cuda.cuh yet"; echo "0 passed, 0 failed"; exit 0; }
make cuda -j2
