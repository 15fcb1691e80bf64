#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fp4_cpu.h beside ggml's CPU MXFP4 kernels (bench/peers/ggml_mxfp4.c), one thread, in one run.
#   bash bench/peers/ggml.sh GGML_DIR [BUILD_DIR]
# GGML_DIR: a checkout of https://github.com/ggml-org/ggml (not part of this repository). Builds its
# CPU back end with CMake (native ISA, no OpenMP, static), then the peer program with the same
# -march=native, and runs it. Needs cmake and a C++ compiler besides the C one.
set -eu
g=${1:?usage: ggml.sh GGML_DIR [BUILD_DIR]}
b=${2:-build/peers}
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$b"
cmake -S "$g" -B "$b/ggml" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DBUILD_SHARED_LIBS=OFF -DGGML_OPENMP=OFF \
  -DGGML_BUILD_TESTS=OFF -DGGML_BUILD_EXAMPLES=OFF >"$b/ggml.cmake.log"
cmake --build "$b/ggml" -j "$(nproc)" --target ggml-cpu >"$b/ggml.build.log"
libs="$(find "$b/ggml" -name libggml-cpu.a | head -n 1) $(find "$b/ggml" -name libggml-base.a | head -n 1)"
${CC:-gcc} -std=gnu11 -O3 -march=native -I"$root" -I"$g/include" "$root/bench/peers/ggml_mxfp4.c" $libs \
  -o "$b/ggml_mxfp4" -lstdc++ -lm -lpthread
echo "ggml $(git -C "$g" log -1 --format='%h %cd' --date=short 2>/dev/null || echo '(not a git checkout)')"
"$b/ggml_mxfp4"
