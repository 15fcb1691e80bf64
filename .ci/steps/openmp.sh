#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/test_determinism.c built with -fopenmp (gcc, -march=native): fp4_cpu.h's OpenMP-split entry
# points give the bytes of fp4.h with 1, 2, 3 and 7 threads (and W4A16 its own bytes at every thread
# count). Passive waiting keeps oversubscribed runs fast on a 2-core machine. Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
B=${BUILD:-build}/tests
mkdir -p "$B"
if ! gcc -std=gnu11 -O2 -march=native -fopenmp -Wall -Wextra -I. -Itests tests/test_determinism.c \
     -o "$B/test_determinism.omp" -lm; then
  echo "FAIL: build with -fopenmp"; echo "0 passed, 1 failed"; exit 1
fi
OMP_WAIT_POLICY=passive "./$B/test_determinism.omp"
