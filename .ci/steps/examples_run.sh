#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run the self-checking CPU examples: gemm_cpu exits non-zero when a GEMM strays from the float64 product
# of its dequantized operands (also at sizes that are not powers of two).
. "$(dirname "$0")/../lib.sh"
B=${BUILD:-build}
make -s "$B/examples/gemm_cpu" || { ko "build gemm_cpu"; finish; }
for args in "" "3 40 384" "1 16 128"; do
  # shellcheck disable=SC2086
  if "$B/examples/gemm_cpu" $args >"$t/out" 2>&1; then ok "gemm_cpu $args"
  else ko "gemm_cpu $args"; cat "$t/out"; fi
done
finish
