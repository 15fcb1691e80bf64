#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run the self-checking CPU examples: gemm_cpu exits non-zero when a GEMM strays from the float64 product
# of its dequantized operands (also at sizes that are not powers of two).
set -u
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
pass=0; fail=0
make -s "$B/examples/gemm_cpu" || { echo "0 passed, 1 failed"; exit 1; }
for args in "" "3 40 384" "1 16 128"; do
  # shellcheck disable=SC2086
  if "$B/examples/gemm_cpu" $args >/tmp/gemm_cpu.$$ 2>&1; then pass=$((pass + 1)); echo "ok: gemm_cpu $args"
  else fail=$((fail + 1)); echo "FAIL: gemm_cpu $args"; cat /tmp/gemm_cpu.$$; fi
done
rm -f /tmp/gemm_cpu.$$
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
