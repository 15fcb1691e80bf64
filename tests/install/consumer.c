/* SPDX-License-Identifier: MIT */
/* A consumer of an installed fp4 (built by .ci/steps/install.sh through pkg-config, find_package and
 * add_subdirectory): includes the installed headers, quantizes one block and checks the version. */
#include "fp4.h"
#ifdef FP4_CONSUMER_CPU
#include "fp4_cpu.h"
#endif
#include <stdio.h>
#include <string.h>

int main(void) {
  float x[32], y[32];
  uint8_t q[16], s[1];
  fp4_tensor t;
  fp4_quant_config cfg = fp4_config_default(FP4_MXFP4);
  int i, ok;
  for (i = 0; i < 32; i++) x[i] = (float)(i - 16) * 0.25f;
  fp4_tensor_init(&t, q, s, FP4_LAYOUT_LINEAR);
  ok = fp4_quantize_f32(x, 1, 32, 32, &cfg, &t, NULL, 0) == FP4_OK && fp4_dequantize_f32(&t, y, 32) == FP4_OK;
  ok = ok && y[0] == -4.0f && y[20] == 1.0f;
#ifdef FP4_EXPECT_VERSION
  ok = ok && strcmp(FP4_VERSION_STRING, FP4_EXPECT_VERSION) == 0;
#endif
  printf("fp4 %s consumer: %s\n", FP4_VERSION_STRING, ok ? "ok" : "FAILED");
  return !ok;
}
