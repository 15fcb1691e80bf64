#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fp4_cpu.h with instruction-set flags (tests/run.sh compiles the headers without any): the header as
# C99, C11 and C++17 with gcc and clang at -Wall -Wextra -Wpedantic -Werror with no ISA flags, with
# AVX2 (-mavx2 -mfma -mf16c), with AVX-512 (F, BW, VL, VNNI, VBMI), with AVX-512 minus VNNI and with
# FP4_CPU_DISPATCH (runtime dispatch through target attributes); then
# tests/test_cpu.c built for AVX-512 (run only where the CPU has it) and with -fopenmp.
# Ends with "N passed, N failed".
OK_QUIET=1
. "$(dirname "$0")/../lib.sh"
B=${BUILD:-build}/tests
mkdir -p "$B"
WARN="-Wall -Wextra -Wpedantic -Werror"
A512="-mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512vnni -mavx512vbmi"
compilers="gcc g++"
command -v clang >/dev/null 2>&1 && compilers="$compilers clang clang++"
for isa in "" "-mavx2 -mfma -mf16c" "$A512" "$A512 -mno-avx512vnni" "-DFP4_CPU_DISPATCH" "-mavx2 -mfma -mf16c -DFP4_CPU_DISPATCH"; do
  for cc in $compilers; do
    case $cc in *++) stds="c++17"; lang=c++ ;; *) stds="c99 c11"; lang=c ;; esac
    for std in $stds; do
      if printf '#include "fp4_cpu.h"\nint main(void){return fp4_cpu_isa_compiled(FP4_CPU_FORCE_ISA) ? 0 : 1;}\n' |
         $cc -std=$std -x $lang $WARN $isa -I. -c -o /dev/null - 2>"$B/cpu_isa.log"; then ok
      else ko "fp4_cpu.h as $std with $cc [$isa]"; head -n 5 "$B/cpu_isa.log"; fi
    done
  done
done
if gcc -std=gnu11 -O2 $WARN $A512 -I. -Itests tests/test_cpu.c -o "$B/test_cpu.avx512" -lm 2>"$B/cpu_isa.log"; then
  ok
  if grep -q avx512vl /proc/cpuinfo 2>/dev/null; then
    if "./$B/test_cpu.avx512" >"$B/test_cpu.avx512.out" 2>&1; then ok; else ko "test_cpu (AVX-512)"; tail -n 5 "$B/test_cpu.avx512.out"; fi
  else echo "no AVX-512 here: test_cpu built for it, not run"; fi
else ko "test_cpu AVX-512 build"; head -n 5 "$B/cpu_isa.log"; fi
if gcc -std=gnu11 -O2 $WARN -mavx2 -mfma -mf16c -fopenmp -I. -Itests tests/test_cpu.c -o "$B/test_cpu.omp" -lm 2>"$B/cpu_isa.log" &&
   OMP_WAIT_POLICY=passive "./$B/test_cpu.omp" >"$B/test_cpu.omp.out" 2>&1; then ok
else ko "test_cpu with -fopenmp"; tail -n 5 "$B/test_cpu.omp.out" "$B/cpu_isa.log" 2>/dev/null; fi
finish
