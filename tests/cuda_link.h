/* SPDX-License-Identifier: MIT */
/* Included by both translation units of the CUDA link test: each takes the addresses of the same
 * launchers (quantize, GEMV, W4A4 and W4A16 GEMMs), so each compiles their kernels. */
#include "fp4_cuda.cuh"
static int link_launchers(void) {
  fp4_status (*q)(const uint16_t *, int64_t, int64_t, int64_t, const fp4_quant_config *, fp4_tensor *, void *, size_t,
                  cudaStream_t) = fp4_cuda_quantize_bf16;
  fp4_status (*g)(const uint16_t *, int64_t, int64_t, const fp4_tensor *, float, float, uint16_t *, int64_t, void *,
                  size_t, cudaStream_t) = fp4_cuda_gemv_w4a16_bf16_bf16;
  fp4_status (*w)(const fp4_tensor *, const fp4_tensor *, float, float, float *, int64_t, void *, size_t,
                  cudaStream_t) = fp4_cuda_gemm_w4a4_f32;
  fp4_status (*h)(const uint16_t *, int64_t, int64_t, const fp4_tensor *, float, float, uint16_t *, int64_t, void *,
                  size_t, cudaStream_t) = fp4_cuda_gemm_w4a16_bf16_bf16;
  return q && g && w && h;
}
