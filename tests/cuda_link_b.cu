/* SPDX-License-Identifier: MIT */
#include "fp4_cuda.cuh"
size_t link_b_sizes(void) {
  fp4_status (*g)(const uint16_t *, int64_t, int64_t, const fp4_tensor *, float, float, uint16_t *, int64_t, void *,
                  size_t, cudaStream_t) = fp4_cuda_gemv_w4a16_bf16_bf16;
  return (g ? fp4_cuda_gemv_workspace_size(1, 64, 1024) : 1) + fp4_cuda_quantize_workspace_size(1, 32, NULL);
}
