#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Compile the CUDA header for sm_90a, sm_100a and sm_120a (tests/cuda_header.cu), and the CUDA tests,
# benchmarks, examples and the two-translation-unit link test for sm_90a. NVCC_OPT (set by .ci/run) lowers the
# device optimization level: this is a compile check; the device runs full-optimization builds.
# Also checks that a translation unit which only includes the headers compiles no kernel (the launchers
# are templates, fp4_cuda.cuh "FP4__CUDA_LAZY"), while tests/cuda_header.cu compiles them all.
. "$(dirname "$0")/../lib.sh"
command -v nvcc >/dev/null 2>&1 || { echo "nvcc not found"; exit 1; }
[ -f fp4_cuda.cuh ] || { echo "no fp4_cuda.cuh yet"; echo "0 passed, 0 failed"; exit 0; }
if make cuda -j2 >"$t/make.log" 2>&1; then ok "make cuda"; else tail -n 40 "$t/make.log"; ko "make cuda"; fi
"${BUILD:-build}/tests/cuda_link" 2>&1 | grep -q '^1 passed, 0 failed' && ok "two-translation-unit link test" ||
  ko "two-translation-unit link test"
entries() { grep -c '^\(\.visible \|\.weak \)\?\.entry ' "$1"; }
printf '#include "fp4_cuda.cuh"\n' >"$t/plain.cu"
if nvcc -std=c++17 -Werror all-warnings -gencode=arch=compute_90a,code=sm_90a -I. -ptx "$t/plain.cu" -o "$t/plain.ptx" 2>"$t/plain.log"; then
  n=$(entries "$t/plain.ptx")
  [ "$n" -eq 0 ] && ok "including fp4_cuda.cuh alone compiles no kernel" || ko "including fp4_cuda.cuh alone compiles $n kernels"
else cat "$t/plain.log"; ko "plain include of fp4_cuda.cuh"; fi
if nvcc -std=c++17 -Werror all-warnings ${NVCC_OPT:-} -gencode=arch=compute_90a,code=sm_90a -I. -ptx tests/cuda_header.cu -o "$t/all.ptx" 2>"$t/all.log"; then
  n=$(entries "$t/all.ptx")
  [ "$n" -ge 100 ] && ok "tests/cuda_header.cu compiles every kernel ($n)" || ko "tests/cuda_header.cu compiles only $n kernels"
else cat "$t/all.log"; ko "tests/cuda_header.cu to PTX"; fi
finish
