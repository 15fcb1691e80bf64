#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# FP4 training example at the CI size: a two-layer MLP trained in f32 and with each FP4 recipe
# (examples/train_linear.c); it exits non-zero if an FP4 run fails to converge.
set -u
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
make -s BUILD="$B" "$B/examples/train_linear" >/dev/null || { echo "build of examples/train_linear failed"; echo "0 passed, 1 failed"; exit 1; }
if "./$B/examples/train_linear" --small; then echo "1 passed, 0 failed"; exit 0; fi
echo "0 passed, 1 failed"
exit 1
