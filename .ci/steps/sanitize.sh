#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every tests/test_*.c under AddressSanitizer + UndefinedBehaviorSanitizer (`make test-sanitize`: clang,
# or gcc where clang is missing; -fno-sanitize-recover=all, leak detection on). Prints the summed
# "N passed, N failed" of tests/run.sh.
set -u
cd "$(dirname "$0")/../.."
make -s BUILD="${BUILD:-build}" test-sanitize
