/* SPDX-License-Identifier: MIT */
/* Two-translation-unit link test: both files include the headers; the program must link without
 * duplicate symbols and both copies must agree. */
#include "fp4.h"
#ifdef FP4_LINK_CPU
#include "fp4_cpu.h"
#endif
#include <stdio.h>
int link_b_code(float x);
int main(void) {
  int ok = link_b_code(2.6f) == fp4_e2m1_from_float(2.6f);
  printf("%d passed, %d failed\n", ok, !ok);
  return !ok;
}
