/* SPDX-License-Identifier: MIT */
/* Two-translation-unit link test for fp4_cuda.cuh (built with -rdc=true by `make cuda`): both files
 * include the header and compile the same kernels (tests/cuda_link.h); the program must link without
 * duplicate host or device symbols. Needs no GPU. */
#include "cuda_link.h"
#include <stdio.h>
size_t link_b_sizes(void);
int main(void) {
  int ok = link_b_sizes() == fp4_cuda_gemv_workspace_size(1, 64, 1024) + FP4_CUDA_QUANTIZE_WS && link_launchers();
  printf("%d passed, %d failed\n", ok, !ok);
  return !ok;
}
