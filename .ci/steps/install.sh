#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Packaging: `make install` (PREFIX, DESTDIR) and CMake's install into temporary prefixes, then a small
# consumer (tests/install/) built through pkg-config, find_package(fp4) and add_subdirectory; version
# checks against fp4.h; `make uninstall` leaves nothing behind. Ends with "N passed, N failed".
. "$(dirname "$0")/../lib.sh"
ver=$(sed -n 's/^#define FP4_VERSION_MAJOR //p' fp4.h).$(sed -n 's/^#define FP4_VERSION_MINOR //p' fp4.h).$(sed -n 's/^#define FP4_VERSION_PATCH //p' fp4.h)
major=${ver%%.*}; mm=${ver%.*}
headers=""; for h in fp4.h fp4_cpu.h fp4_cuda.cuh fp4_*.inl; do [ -f "$h" ] && headers="$headers $h"; done
cpu=""; [ -f fp4_cpu.h ] && cpu="-DFP4_CONSUMER_CPU"
have_pc=0; command -v pkg-config >/dev/null 2>&1 && have_pc=1
have_cmake=0; command -v cmake >/dev/null 2>&1 && have_cmake=1
[ $have_pc -eq 1 ] || ko "pkg-config not installed"
[ $have_cmake -eq 1 ] || ko "cmake not installed"

# check_prefix NAME PREFIX: the installed files, then consumers through pkg-config and find_package
check_prefix() {
  local name=$1 p=$2 h
  for h in $headers; do
    if cmp -s "$h" "$p/include/$h"; then ok "$name: include/$h"; else ko "$name: include/$h missing or differs"; fi
  done
  for f in share/pkgconfig/fp4.pc share/cmake/fp4/fp4Config.cmake share/cmake/fp4/fp4ConfigVersion.cmake \
           share/cmake/fp4/fp4Targets.cmake; do
    [ -f "$p/$f" ] && ok "$name: $f" || ko "$name: $f missing"
  done
  if [ $have_pc -eq 1 ]; then
    local pcv cf
    pcv=$(PKG_CONFIG_PATH="$p/share/pkgconfig" pkg-config --modversion fp4 2>&1)
    [ "$pcv" = "$ver" ] && ok "$name: pkg-config --modversion $pcv" || ko "$name: pkg-config version '$pcv' != $ver"
    [ -z "$(PKG_CONFIG_PATH="$p/share/pkgconfig" pkg-config --libs fp4)" ] && ok "$name: fp4.pc has no Libs" ||
      ko "$name: fp4.pc has Libs"
    cf=$(PKG_CONFIG_PATH="$p/share/pkgconfig" pkg-config --cflags fp4)
    # shellcheck disable=SC2086
    if cc -std=c99 -Wall -Wextra -Wpedantic -Werror $cf $cpu -DFP4_EXPECT_VERSION="\"$ver\"" \
         tests/install/consumer.c -o "$t/pc_consumer" -lm 2>"$t/log" && "$t/pc_consumer"; then
      ok "$name: pkg-config consumer ($cf)"
    else ko "$name: pkg-config consumer"; head -n 20 "$t/log"; fi
  fi
  # everything the installed CUDA header includes was installed with it (preprocessing resolves every
  # #include; the compile itself is .ci/steps/cuda_compile.sh's job, and the copies are identical)
  if [ -f fp4_cuda.cuh ] && command -v nvcc >/dev/null 2>&1; then
    printf '#include "fp4_cuda.cuh"\nint main(void) { return fp4_format_block(FP4_NVFP4) != 16; }\n' >"$t/cuda_consumer.cu"
    # parts included through __has_include must be there too
    [ -f fp4_cuda_gemm.inl ] && printf '#ifndef FP4_CUDA_GEMM_INL\n#error fp4_cuda_gemm.inl was not installed\n#endif\n' >>"$t/cuda_consumer.cu"
    if nvcc -std=c++17 -E -I"$p/include" "$t/cuda_consumer.cu" -o "$t/cuda_consumer.ii" 2>"$t/log"; then
      ok "$name: the installed fp4_cuda.cuh finds all its includes"
    else ko "$name: the installed fp4_cuda.cuh misses an include"; head -n 20 "$t/log"; fi
  fi
  if [ $have_cmake -eq 1 ]; then
    local b=$t/cm_$name
    rm -rf "$b"
    if cmake -S tests/install -B "$b" -DCMAKE_PREFIX_PATH="$p" -DFP4_REQUEST_VERSION="$mm" \
         -DFP4_EXPECT_VERSION="$ver" >"$t/log" 2>&1 && cmake --build "$b" >>"$t/log" 2>&1 && "$b/consumer"; then
      ok "$name: find_package(fp4 $mm) consumer"
    else ko "$name: find_package(fp4 $mm) consumer"; tail -n 20 "$t/log"; fi
    # versions that must be refused: a newer minor, the next major, and (0.x) an older minor
    local bad
    for bad in "$major.$((${mm#*.} + 1))" "$((major + 1)).0" $([ "$major" = 0 ] && [ "${mm#*.}" -gt 0 ] && echo "0.$((${mm#*.} - 1))"); do
      rm -rf "$b"
      if cmake -S tests/install -B "$b" -DCMAKE_PREFIX_PATH="$p" -DFP4_REQUEST_VERSION="$bad" >"$t/log" 2>&1; then
        ko "$name: find_package(fp4 $bad) accepted version $ver"
      else ok "$name: find_package(fp4 $bad) refused"; fi
    done
  fi
}

# 1. make install into a prefix, and a DESTDIR-staged install
if make -s install PREFIX="$t/make" >"$t/log" 2>&1; then ok "make install PREFIX=..."; else ko "make install"; cat "$t/log"; fi
check_prefix make "$t/make"
if make -s install PREFIX=/opt/fp4 DESTDIR="$t/stage" >"$t/log" 2>&1 && [ -f "$t/stage/opt/fp4/include/fp4.h" ] &&
   grep -q '^includedir=/opt/fp4/include$' "$t/stage/opt/fp4/share/pkgconfig/fp4.pc" &&
   grep -q '"/opt/fp4/include"' "$t/stage/opt/fp4/share/cmake/fp4/fp4Targets.cmake"; then
  ok "make install DESTDIR=... (staged files carry the final paths)"
else ko "make install DESTDIR=..."; cat "$t/log"; fi
if make -s uninstall PREFIX="$t/make" >"$t/log" 2>&1 && [ -z "$(find "$t/make" -type f)" ]; then
  ok "make uninstall removes every file"
else ko "make uninstall left: $(find "$t/make" -type f | tr '\n' ' ')"; fi

# 2. CMake's install (relocatable: installed, then moved elsewhere)
if [ $have_cmake -eq 1 ]; then
  if cmake -S . -B "$t/build" >"$t/log" 2>&1 && cmake --install "$t/build" --prefix "$t/cmake" >>"$t/log" 2>&1; then
    ok "cmake --install"
    if grep -q 'CMake Warning' "$t/log"; then ko "cmake configure warns"; grep -A5 'CMake Warning' "$t/log"; else ok "cmake configure without warnings"; fi
    mv "$t/cmake" "$t/moved"
    check_prefix cmake "$t/moved"
  else ko "cmake --install"; tail -n 20 "$t/log"; fi
  # 3. add_subdirectory of the source tree
  if cmake -S tests/install -B "$t/sub" -DFP4_SOURCE_DIR="$PWD" -DFP4_EXPECT_VERSION="$ver" >"$t/log" 2>&1 &&
     cmake --build "$t/sub" >>"$t/log" 2>&1 && "$t/sub/consumer"; then
    ok "add_subdirectory consumer"
  else ko "add_subdirectory consumer"; tail -n 20 "$t/log"; fi
fi
finish
