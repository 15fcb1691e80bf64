#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# README.md stays true: every ```c block compiles as C99 with -Wall -Wextra -Wpedantic -Werror under gcc
# (and clang when present) and, where it has a main(), runs and exits 0; every fp4_/FP4_ name it mentions
# exists in a header; every relative link points at a file; the commands it names are Makefile targets.
. "$(dirname "$0")/../lib.sh"
# split the ```c blocks into $t/block_N.c, with the README line where each starts
awk -v dir="$t" '
  /^```c[ \t]*$/ { n++; inb = 1; f = sprintf("%s/block_%d.c", dir, n); printf "" > f; print NR > (f ".line"); next }
  /^```/ && inb { inb = 0; close(f); next }
  inb { print > f }
' README.md
n=$(ls "$t"/block_*.c 2>/dev/null | wc -l)
[ "$n" -gt 0 ] && ok "README.md has $n C blocks" || ko "README.md has no C block"
ccs="gcc"; command -v clang >/dev/null 2>&1 && ccs="gcc clang"
for b in "$t"/block_*.c; do
  [ -f "$b" ] || continue
  line=$(cat "$b.line"); name="C block at README.md:$line"
  for cc in $ccs; do
    if grep -qE '(^|[^a-z_])main *\(' "$b"; then
      if $cc -std=c99 -Wall -Wextra -Wpedantic -Werror -I. "$b" -o "$t/a.out" -lm 2>"$t/log"; then
        if "$t/a.out" >"$t/run" 2>&1; then ok "$name ($cc): compiles and runs: $(head -n 1 "$t/run")"
        else ko "$name ($cc): exits non-zero"; cat "$t/run"; fi
      else ko "$name ($cc): does not compile"; head -n 20 "$t/log"; fi
    else
      if $cc -std=c99 -Wall -Wextra -Wpedantic -Werror -I. -c "$b" -o "$t/a.o" 2>"$t/log"; then ok "$name ($cc): compiles"
      else ko "$name ($cc): does not compile"; head -n 20 "$t/log"; fi
    fi
  done
done
# names: every fp4_xxx / FP4_XXX word (brace families such as fp4_gemm_w4a16_{f32,bf16}_f32 expanded; not
# file names or prefixes such as fp4_cpu_) must be in a header: in its text (macros, literal names) or in
# its preprocessed form (names stamped out by macros), C headers through gcc -E, the CUDA one through nvcc -E
hdrs=$(ls fp4.h fp4_cpu.h fp4_cuda.cuh fp4_*.inl 2>/dev/null)
# shellcheck disable=SC2086
cat $hdrs >"$t/names.txt"
for h in fp4.h fp4_cpu.h; do
  [ -f "$h" ] && printf '#include "%s"\n' "$h" | gcc -std=c99 -E -I. -x c - >>"$t/names.txt" 2>/dev/null
done
if [ -f fp4_cuda.cuh ] && command -v nvcc >/dev/null 2>&1; then
  printf '#include "fp4_cuda.cuh"\n' >"$t/pp.cu"
  nvcc -std=c++17 -E -I. "$t/pp.cu" >>"$t/names.txt" 2>/dev/null
fi
text=$(sed -E 's/fp4[a-z0-9_]*\.(h|cuh|inl|pc|c|cu)\b//g' README.md)
names=$(echo "$text" | grep -oE '\b(fp4|FP4)_[A-Za-z0-9_]*[A-Za-z0-9]\b' | sort -u)
for w in $(echo "$text" | grep -oE '\b(fp4|FP4)_[A-Za-z0-9_]*\{[^}]*\}[A-Za-z0-9_{},]*' | sort -u); do names="$names $(eval echo "$w")"; done
missing=""
for w in $names; do grep -qw -- "$w" "$t/names.txt" || missing="$missing $w"; done
[ -z "$missing" ] && ok "every fp4_/FP4_ name in README.md ($(echo $names | wc -w)) exists in a header" || ko "names in README.md missing from the headers:$missing"
# relative links
bad=""
for l in $(grep -oE '\]\([^)#:]+\)' README.md | sed 's/^](//; s/)$//' | sort -u); do [ -e "$l" ] || bad="$bad $l"; done
[ -z "$bad" ] && ok "every relative link in README.md exists" || ko "broken links:$bad"
# make targets named in README.md
bad=""
for tg in $(grep -oE '`make [a-z-]+' README.md | sed 's/`make //' | sort -u) $(grep -oE '^make [a-z-]+' README.md | sed 's/^make //' | sort -u); do
  grep -qE "^$tg:" Makefile || bad="$bad $tg"
done
[ -z "$bad" ] && ok "every make target named in README.md exists" || ko "make targets missing:$bad"
finish
