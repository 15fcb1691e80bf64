#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SASS evidence for the CUDA GEMMs (fp4_cuda_gemm.inl): builds the W4A4 kernels for sm_90a, sm_100a and
# sm_120a and greps `cuobjdump -fun <kernel> -sass`, one kernel and one architecture at a time:
#   sm_120a: the native kernels issue OMMA.SF.16864 (NVFP4: .UE4M3.4X, MXFP4: .E8), the exact ones don't;
#   sm_100a: the tcgen05 kernels issue UTCOMMA (NVFP4 .4X) and UTCCP (scales smem -> TMEM);
#   sm_90a:  no FP4 MMA anywhere; the exact kernels run IMMA (s8 mma.sync), the Hopper exact MXFP4 one
#            QGMMA (E4M3 wgmma, register A) with UTMALDG and no local memory; the Hopper W4A16 / W4A4
#            _fast kernels run HGMMA (wgmma, bf16 and f16, register A; the TMA one UTMALDG), the _fast kernel
#            with both operands prepared HGMMA (bf16) or QGMMA (E4M3) with both operands from shared memory,
#            and their sm_100a/sm_120a builds (never launched there) hold none.
# Patterns as in BLACKWELL.md §5. Installs nvidia-cuda-cuobjdump / nvidia-cuda-nvdisasm with pip when
# missing (a pip-built toolkit ships neither). No GPU needed. Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
NVCC=${NVCC:-nvcc}
command -v "$NVCC" >/dev/null 2>&1 || { echo "nvcc not found"; echo "0 passed, 0 failed"; exit 0; }
[ -f fp4_cuda_gemm.inl ] || { echo "no fp4_cuda_gemm.inl"; echo "0 passed, 0 failed"; exit 0; }
work=$(mktemp -d "${TMPDIR:-/tmp}/fp4sass.XXXXXX")
have_tools() { command -v cuobjdump >/dev/null 2>&1 && command -v nvdisasm >/dev/null 2>&1; }
if ! have_tools; then
  for d in /usr/local/cuda/bin "$HOME/.cache/fp4-cuda-tools/nvidia/cu13/bin" \
           $(python3 -c 'import site; print(" ".join(p + "/nvidia/cu13/bin" for p in site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null); do
    if [ -x "$d/cuobjdump" ] && [ -x "$d/nvdisasm" ]; then PATH="$d:$PATH"; break; fi
  done
fi
if ! have_tools; then
  tools="$HOME/.cache/fp4-cuda-tools"
  echo "installing nvidia-cuda-cuobjdump + nvidia-cuda-nvdisasm into $tools" >&2
  python3 -m pip install -q --target "$tools" 'nvidia-cuda-cuobjdump>=13,<14' 'nvidia-cuda-nvdisasm>=13,<14' >&2 || true
  PATH="$tools/nvidia/cu13/bin:$PATH"
fi
have_tools || { echo "FAIL: cuobjdump/nvdisasm unavailable"; echo "0 passed, 1 failed"; exit 1; }

cat >"$work/k.cu" <<'CU'
#include "fp4.h"
#include "fp4_cuda_gemm.inl"
/* every W4A4 engine, both formats: exact (ENGINE 0), sm_120 native (ENGINE 1), sm_100 tcgen05 */
void *fp4_sass_kernels[] = {
    (void *)fp4__cuda_gemm_w4a4_kernel<FP4_MXFP4, 2, 4, 4, 4, FP4__CG_EXACT>,
    (void *)fp4__cuda_gemm_w4a4_kernel<FP4_NVFP4, 2, 4, 4, 4, FP4__CG_EXACT>,
    (void *)fp4__cuda_gemm_w4a4_kernel<FP4_MXFP4, 2, 4, 4, 4, FP4__CG_SM120>,
    (void *)fp4__cuda_gemm_w4a4_kernel<FP4_NVFP4, 2, 4, 4, 4, FP4__CG_SM120>,
    (void *)fp4__cuda_gemm_w4a4_tcgen05_kernel<FP4_MXFP4>,
    (void *)fp4__cuda_gemm_w4a4_tcgen05_kernel<FP4_NVFP4>,
    (void *)fp4__cuda_gemm_w4a16_wgmma_kernel<FP4_NVFP4, 1, 128>,
    (void *)fp4__cuda_gemm_w4a16_wgmma_kernel<FP4_MXFP4, 1, 128>,
    (void *)fp4__cuda_gemm_w4a16_wgmma_kernel<FP4_NVFP4, 0, 128>,
    (void *)fp4__cuda_gemm_w4a16_tma_kernel<FP4_NVFP4, 1, 256, 0>,
    (void *)fp4__cuda_gemm_w4a16_tma_kernel<FP4_MXFP4, 1, 128, 1>,
    (void *)fp4__cuda_gemm_w4a4_f8wg_kernel<128>,
    (void *)fp4__cuda_gemm_w4a4_f8wg_kernel<64>,
    (void *)fp4__cuda_gemm_ss_kernel<0>,
    (void *)fp4__cuda_gemm_ss_kernel<1>,
};
CU
g() { echo "-gencode=arch=compute_$1,code=sm_$1"; }
pass=0; fail=0
ok() { echo "PASS: $*"; pass=$((pass + 1)); }
ko() { echo "FAIL: $*"; fail=$((fail + 1)); }
if $NVCC -O3 -std=c++17 -Werror all-warnings ${NVCC_OPT:-} --threads 2 $(g 90a) $(g 100a) $(g 120a) -I. -c "$work/k.cu" -o "$work/k.o" >"$work/build.log" 2>&1; then
  ok "GEMM kernels build for sm_90a, sm_100a, sm_120a"
else
  ko "build (see below)"; head -n 20 "$work/build.log"; echo "$pass passed, $fail failed"; exit 1
fi
# fn ARCH REGEX: mangled names of the kernels matching REGEX in that arch's cubin (symbol table, cached)
fn() {
  [ -f "$work/names.$1" ] || cuobjdump -arch "$1" -elf "$work/k.o" | grep -oE '_Z[0-9]+fp4__cuda_gemm_[A-Za-z0-9_]+' | sort -u >"$work/names.$1"
  grep -E "$2" "$work/names.$1"
}
# sass ARCH NAME: the SASS of one kernel
sass() { cuobjdump -arch "$1" -fun "$2" -sass "$work/k.o"; }
P_OMMA='(^|[^A-Z])OMMA\.SF\.16864\.F32\.E2M1\.E2M1\.'
P_OMMA_NV="${P_OMMA}UE4M3\.4X"
P_OMMA_MX="${P_OMMA}E8([^.A-Z]|$)"
P_UTCOMMA='UTCOMMA(\.2CTA)?(\.4X|\.BLOCK16)?[ ;]'
P_ANYFP4='(^|[^A-Z])OMMA|UTCOMMA|UTCCP|UTCQMMA|QMMA\.SF'
# expect ARCH KERNEL-REGEX what PATTERN (must match) / expect_no ... (must not match)
expect() {
  local n; n=$(fn "$1" "$2" | head -n 1)
  if [ -z "$n" ]; then ko "$1: no kernel /$2/"; return; fi
  if sass "$1" "$n" | grep -qE "$4"; then ok "$1 $3 has /$4/"; else ko "$1 $3 lacks /$4/"; fi
}
expect_no() {
  local n; n=$(fn "$1" "$2" | head -n 1)
  if [ -z "$n" ]; then ko "$1: no kernel /$2/"; return; fi
  if sass "$1" "$n" | grep -qE "$4"; then ko "$1 $3 has /$4/"; else ok "$1 $3 has no /$4/"; fi
}
EX_MX='w4a4_kernelILi0E.*Li0EEv'; EX_NV='w4a4_kernelILi1E.*Li0EEv'
S120_MX='w4a4_kernelILi0E.*Li1EEv'; S120_NV='w4a4_kernelILi1E.*Li1EEv'
TC_MX='tcgen05_kernelILi0EEv'; TC_NV='tcgen05_kernelILi1EEv'
# the regexes above follow the Itanium mangling of the template arguments; show what was found
for a in sm_90a sm_100a sm_120a; do echo "INFO: $a: $(fn $a "fp4__cuda_gemm_w4a4" | wc -l) W4A4 kernels"; done
expect sm_120a "$S120_NV" "sm120 NVFP4 kernel" "$P_OMMA_NV"
expect sm_120a "$S120_MX" "sm120 MXFP4 kernel" "$P_OMMA_MX"
expect_no sm_120a "$EX_NV" "exact NVFP4 kernel" "$P_ANYFP4"
expect sm_120a "$EX_MX" "exact MXFP4 kernel" 'IMMA'
expect sm_100a "$TC_NV" "tcgen05 NVFP4 kernel" 'UTCOMMA\.4X'
expect sm_100a "$TC_MX" "tcgen05 MXFP4 kernel" "$P_UTCOMMA"
expect_no sm_100a "$TC_MX" "tcgen05 MXFP4 kernel" 'UTCOMMA\.4X'
expect sm_100a "$TC_NV" "tcgen05 NVFP4 kernel" 'UTCCP\.'
expect_no sm_100a "$S120_NV" "sm120 NVFP4 kernel" "$P_ANYFP4"
for k in "$EX_MX" "$EX_NV" "$S120_MX" "$S120_NV" "$TC_MX" "$TC_NV"; do expect_no sm_90a "$k" "/$k/" "$P_ANYFP4"; done
expect sm_90a "$EX_MX" "exact MXFP4 kernel" 'IMMA\.16832\.S8\.S8'
expect sm_90a "$EX_NV" "exact NVFP4 kernel" 'IMMA\.16816\.S8\.S8'
WG_NV='w4a16_wgmma_kernelILi1ELi1ELi128EEv'; WG_MX='w4a16_wgmma_kernelILi0ELi1ELi128EEv'; WG_H='w4a16_wgmma_kernelILi1ELi0ELi128EEv'
for a in sm_90a sm_100a sm_120a; do echo "INFO: $a: $(fn $a "fp4__cuda_gemm_w4a16_wgmma" | wc -l) wgmma kernels"; done
expect sm_90a "$WG_NV" "wgmma NVFP4 bf16 kernel" 'HGMMA\.64x128x16\.F32\.BF16 '
expect sm_90a "$WG_MX" "wgmma MXFP4 bf16 kernel" 'HGMMA\.64x128x16\.F32\.BF16 '
expect sm_90a "$WG_H" "wgmma NVFP4 f16 kernel" 'HGMMA\.64x128x16\.F32 '
TMA_NV='w4a16_tma_kernelILi1ELi1ELi256ELi0EEv'; TMA_MX='w4a16_tma_kernelILi0ELi1ELi128ELi1EEv'
expect sm_90a "$TMA_NV" "TMA wgmma NVFP4 kernel" 'HGMMA\.64x256x16\.F32\.BF16 '
expect sm_90a "$TMA_NV" "TMA wgmma NVFP4 kernel" 'UTMALDG\.2D'
expect sm_90a "$TMA_MX" "TMA wgmma MXFP4 promoted kernel" 'HGMMA\.64x128x16\.F32\.BF16 '
# no local memory in the wgmma kernels: only meaningful in optimized builds (at -Xcicc -O1 the main-loop
# lambdas stay calls, and their register arrays go through local memory)
case " ${NVCC_OPT:-} " in
  *" -O1 "*|*" -O0 "*) echo "INFO: local-memory checks skipped (NVCC_OPT=${NVCC_OPT:-})" ;;
  *) expect_no sm_90a "$WG_NV" "wgmma NVFP4 bf16 kernel" 'LDL|STL'
     expect_no sm_90a "$TMA_NV" "TMA wgmma NVFP4 kernel" 'LDL|STL' ;;
esac
# Hopper exact MXFP4 W4A4: E4M3 wgmma (register A: a register operand, not gdesc, first) fed by TMA, in
# both widths
F8_128='w4a4_f8wg_kernelILi128EEv'; F8_64='w4a4_f8wg_kernelILi64EEv'
expect sm_90a "$F8_128" "FP8 wgmma exact MXFP4 kernel (128)" 'QGMMA\.64x128x32\.F32\.E4M3\.E4M3 R[0-9]+, R[0-9]+, gdesc'
expect sm_90a "$F8_64" "FP8 wgmma exact MXFP4 kernel (64)" 'QGMMA\.64x64x32\.F32\.E4M3\.E4M3 R[0-9]+, R[0-9]+, gdesc'
expect sm_90a "$F8_128" "FP8 wgmma exact MXFP4 kernel (128)" 'UTMALDG\.2D'
expect_no sm_90a "$F8_128" "FP8 wgmma exact MXFP4 kernel (128)" "$P_ANYFP4"
case " ${NVCC_OPT:-} " in
  *" -O1 "*|*" -O0 "*) ;;
  *) expect_no sm_90a "$F8_128" "FP8 wgmma exact MXFP4 kernel (128)" 'LDL|STL'
     expect_no sm_90a "$F8_64" "FP8 wgmma exact MXFP4 kernel (64)" 'LDL|STL' ;;
esac
expect_no sm_100a "$F8_128" "FP8 wgmma kernel (stub)" 'QGMMA'
# Hopper W4A4 _fast with both operands prepared: both wgmma operands from shared memory (gdesc first)
SS_BF='ss_kernelILi0EEv'; SS_F8='ss_kernelILi1EEv'
expect sm_90a "$SS_BF" "SS wgmma bf16 (NVFP4 _fast) kernel" 'HGMMA\.64x256x16\.F32\.BF16 R[0-9]+, gdesc'
expect sm_90a "$SS_F8" "SS wgmma E4M3 (MXFP4 _fast) kernel" 'QGMMA\.64x128x32\.F32\.E4M3\.E4M3 R[0-9]+, gdesc'
expect sm_90a "$SS_F8" "SS wgmma E4M3 (MXFP4 _fast) kernel" 'UTMALDG\.2D'
expect_no sm_90a "$SS_F8" "SS wgmma E4M3 (MXFP4 _fast) kernel" "$P_ANYFP4"
case " ${NVCC_OPT:-} " in
  *" -O1 "*|*" -O0 "*) ;;
  *) expect_no sm_90a "$SS_BF" "SS wgmma bf16 kernel" 'LDL|STL'
     expect_no sm_90a "$SS_F8" "SS wgmma E4M3 kernel" 'LDL|STL' ;;
esac
expect_no sm_100a "$SS_F8" "SS wgmma E4M3 kernel (stub)" 'QGMMA'
expect_no sm_120a "$SS_BF" "SS wgmma bf16 kernel (stub)" 'HGMMA'
expect_no sm_120a "$F8_128" "FP8 wgmma kernel (stub)" 'QGMMA'
expect_no sm_100a "$TMA_NV" "TMA wgmma kernel (stub)" 'HGMMA'
expect_no sm_100a "$WG_NV" "wgmma kernel (stub)" 'HGMMA'
expect_no sm_120a "$WG_NV" "wgmma kernel (stub)" 'HGMMA'
rm -rf "$work"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
