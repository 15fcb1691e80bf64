#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The test driver behind `make test` (and `make test-sanitize` with --sanitize).
#  1. compile matrix: every header as C99, C11 and C++17 with gcc and clang, -Wall -Wextra -Wpedantic -Werror;
#  2. two-translation-unit link test;
#  3. every tests/test_*.c built twice - strict C99 with -ffp-contract=off, and gnu11 -march=native with
#     -ffp-contract=fast (FMA contraction allowed) - run with the same seed; both must pass and print
#     the same digest of their output bytes.
# A test file may add flags with a line "// FP4_TEST_FLAGS: <flags>" (e.g. -fopenmp).
# Ends with "N passed, N failed" summed over everything.
set -u
cd "$(dirname "$0")/.."
B=${BUILD:-build}/tests
mkdir -p "$B"
CC=${CC:-gcc}
SAN=0
[ "${1:-}" = "--sanitize" ] && SAN=1
pass=0; fail=0
ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "FAIL: $*"; }
# add the counts of a "N passed, N failed" line in file $1
addcounts() {
  local l p f
  l=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
  if [ -z "$l" ]; then ko "$2 printed no count line"; return 1; fi
  p=${l%% passed*}; f=${l#*passed, }; f=${f%% failed*}
  pass=$((pass + p)); fail=$((fail + f))
  [ "$f" -eq 0 ]
}
SEED=${FP4_TEST_SEED:-$(date +%s)}
export FP4_TEST_SEED=$SEED
echo "seed for this run: $SEED"
WARN="-Wall -Wextra -Wpedantic -Werror"
HEADERS="fp4.h"
[ -f fp4_cpu.h ] && HEADERS="$HEADERS fp4_cpu.h"

if [ $SAN -eq 0 ]; then
  compilers="gcc g++"
  command -v clang >/dev/null 2>&1 && compilers="$compilers clang clang++"
  for h in $HEADERS; do
    for cc in $compilers; do
      case $cc in *++) stds="c++17"; lang=c++ ;; *) stds="c99 c11"; lang=c ;; esac
      for std in $stds; do
        if printf '#include "%s"\nint main(void){return 0;}\n' "$h" |
           $cc -std=$std -x $lang $WARN -I. -c -o /dev/null - 2>"$B/compile.log"; then ok
        else ko "$h as $std with $cc"; head -n 5 "$B/compile.log"; fi
      done
    done
    # multi-include: the header twice in one translation unit
    if printf '#include "%s"\n#include "%s"\nint main(void){return 0;}\n' "$h" "$h" |
       gcc -std=c99 -x c $WARN -I. -c -o /dev/null - 2>"$B/compile.log"; then ok; else ko "$h included twice"; fi
  done
  lk=""; [ -f fp4_cpu.h ] && lk="-DFP4_LINK_CPU"
  if gcc -std=c99 $WARN -O1 $lk -I. tests/link_a.c tests/link_b.c -o "$B/link" -lm 2>"$B/link.log" && "$B/link" >"$B/link.out"; then
    addcounts "$B/link.out" link
  else ko "two-translation-unit link test"; cat "$B/link.log"; fi
fi

for src in tests/test_*.c; do
  [ -f "$src" ] || continue
  name=$(basename "$src" .c)
  extra=$(sed -n 's,^// FP4_TEST_FLAGS: *,,p' "$src" | head -n 1)
  if [ $SAN -eq 1 ]; then
    SCC=clang; command -v clang >/dev/null 2>&1 || SCC=gcc
    if $SCC -std=gnu11 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
         -I. -Itests $extra "$src" -o "$B/$name.san" -lm 2>"$B/$name.san.log"; then
      ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 "$B/$name.san" >"$B/$name.san.out" 2>&1
      rc=$?
      addcounts "$B/$name.san.out" "$name (sanitized)" || true
      [ $rc -eq 0 ] || { ko "$name under ASan+UBSan exited $rc"; tail -n 20 "$B/$name.san.out"; }
    else ko "$name sanitizer build"; head -n 20 "$B/$name.san.log"; fi
    continue
  fi
  built=1
  $CC -std=c99 -O2 -ffp-contract=off $WARN -I. -Itests $extra "$src" -o "$B/$name.strict" -lm 2>"$B/$name.strict.log" ||
    { ko "$name strict C99 build"; head -n 20 "$B/$name.strict.log"; built=0; }
  $CC -std=gnu11 -O2 -march=native -ffp-contract=fast -I. -Itests $extra "$src" -o "$B/$name.fast" -lm 2>"$B/$name.fast.log" ||
    { ko "$name -march=native -ffp-contract=fast build"; head -n 20 "$B/$name.fast.log"; built=0; }
  [ $built -eq 1 ] || continue
  "$B/$name.strict" >"$B/$name.strict.out" 2>&1; rc1=$?
  "$B/$name.fast" >"$B/$name.fast.out" 2>&1; rc2=$?
  addcounts "$B/$name.strict.out" "$name" || true
  [ $rc1 -eq 0 ] || { echo "--- $name (strict) exited $rc1:"; grep -E 'FAIL|rror' "$B/$name.strict.out" | head -n 30; }
  # the contracted build must agree: its own pass/fail and the digest
  if [ $rc2 -eq 0 ]; then ok; else ko "$name (fp-contract=fast) exited $rc2"; grep -E 'FAIL|rror' "$B/$name.fast.out" | head -n 10; fi
  d1=$(grep '^digest:' "$B/$name.strict.out"); d2=$(grep '^digest:' "$B/$name.fast.out")
  if [ -n "$d1" ] && [ "$d1" = "$d2" ]; then ok; else ko "$name: output bytes differ with FMA contraction ($d1 vs $d2)"; fi
  echo "$name: $(grep -E '^[0-9]+ passed' "$B/$name.strict.out" | tail -n 1)"
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
