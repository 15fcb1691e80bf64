/* SPDX-License-Identifier: MIT */
/* tests/test_cpu.c again with FP4_CPU_DISPATCH: the AVX2 and AVX-512 paths compiled through target
 * attributes (no ISA flags in the strict build), each path the CPU supports checked against fp4.h,
 * and the unsuffixed entry points on the best supported path. */
// FP4_TEST_FLAGS: -DFP4_CPU_DISPATCH
#include "test_cpu.c"
