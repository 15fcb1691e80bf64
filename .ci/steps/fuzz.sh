#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The libFuzzer harnesses of fuzz/ (fuzz/README.md), built with clang -fsanitize=fuzzer,address,undefined
# and run for FUZZ_SECONDS each (default 60), FUZZ_JOBS at a time (default 2, the CI's cores), starting
# from the seed corpus fuzz/corpus/<name>. Installs clang and its runtime libraries (libFuzzer, ASan,
# UBSan) where they are missing. A harness passes when it ends without a crash, leak, timeout or failed
# property; a failure prints the report and keeps the input under $BUILD/fuzz/artifacts/.
# Ends with "N passed, N failed".
. "$(dirname "$0")/../lib.sh"
B=${BUILD:-build}
S=${FUZZ_SECONDS:-60}
J=${FUZZ_JOBS:-2}
CCZ=${FUZZ_CC:-clang}

apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@") >/dev/null 2>&1
}
# Can $CCZ build and run a libFuzzer target with ASan and UBSan?
libfuzzer_ok() {
  printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$t/probe.c"
  "$CCZ" -fsanitize=fuzzer,address,undefined "$t/probe.c" -o "$t/probe" >"$t/probe.log" 2>&1 &&
    "$t/probe" -runs=1 >>"$t/probe.log" 2>&1
}
command -v "$CCZ" >/dev/null 2>&1 || apt_install clang || true
if ! libfuzzer_ok; then
  # Debian 12 and Ubuntu 24.04 ship libFuzzer and the sanitizer runtimes in libclang-rt-<major>-dev,
  # only a Recommends of clang (so missing under --no-install-recommends)
  v=$("$CCZ" -dumpversion 2>/dev/null | cut -d. -f1)
  if [ -n "$v" ] && command -v dpkg >/dev/null 2>&1 && ! dpkg -s "libclang-rt-$v-dev" >/dev/null 2>&1; then
    apt_install "libclang-rt-$v-dev" || true
  fi
fi
if ! libfuzzer_ok; then
  echo "FAIL: libFuzzer does not work with $CCZ:"; tail -n 5 "$t/probe.log"
  echo "0 passed, 1 failed"; exit 1
fi
if ! make -s BUILD="$B" FUZZ_CC="$CCZ" fuzz-build >"$t/build.log" 2>&1; then
  tail -n 30 "$t/build.log"; echo "FAIL: building the harnesses"; echo "0 passed, 1 failed"; exit 1
fi

mkdir -p "$B/fuzz/artifacts"
run_one() {
  local h=$1
  mkdir -p "fuzz/corpus-run/$h" "fuzz/corpus/$h"
  "./$B/fuzz/$h" -max_total_time="$S" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$B/fuzz/artifacts/$h-" "fuzz/corpus-run/$h" "fuzz/corpus/$h" >"$t/$h.log" 2>&1
  echo $? >"$t/$h.rc"
}
harnesses=$(for f in fuzz/fuzz_*.c; do [ -f "$f" ] && basename "$f" .c; done)
for h in $harnesses; do
  run_one "$h" &
  while [ "$(jobs -rp | wc -l)" -ge "$J" ]; do wait -n; done
done
wait
for h in $harnesses; do
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$t/$h.log" | tail -n 1)
  if [ "$(cat "$t/$h.rc" 2>/dev/null)" = 0 ]; then
    ok "$h: ${runs:-?} inputs in $S s"
  else
    ko "$h:"; grep -v '^#\|^INFO\|^\s*$' "$t/$h.log" | tail -n 40
  fi
done
finish
