/* SPDX-License-Identifier: MIT */
/* Two-translation-unit link test for fp4_cuda.cuh (built with -rdc=true by `make cuda`): both files
 * include the header and take the address of launchers, so both instantiate every kernel; the
 * program must link without duplicate host or device symbols. Needs no GPU. */
#include "fp4_cuda.cuh"
#include <stdio.h>
size_t link_b_sizes(void);
int main(void) {
  fp4_status (*q)(const uint16_t *, int64_t, int64_t, int64_t, const fp4_quant_config *, fp4_tensor *, void *, size_t,
                  cudaStream_t) = fp4_cuda_quantize_bf16;
  int ok = link_b_sizes() == fp4_cuda_gemv_workspace_size(1, 64, 1024) + FP4_CUDA_QUANTIZE_WS && q != NULL;
  printf("%d passed, %d failed\n", ok, !ok);
  return !ok;
}
