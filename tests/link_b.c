/* SPDX-License-Identifier: MIT */
#include "fp4.h"
#ifdef FP4_LINK_CPU
#include "fp4_cpu.h"
#endif
int link_b_code(float x) { return fp4_e2m1_from_float(x); }
