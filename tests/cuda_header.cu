/* SPDX-License-Identifier: MIT */
/* Compile check of the whole CUDA header: `make cuda-header` builds this object for sm_90a, sm_100a and
 * sm_120a. A translation unit compiles the kernels of the entry points it uses (fp4_cuda.cuh,
 * FP4__CUDA_LAZY), so this one uses every entry point that launches a kernel: that compiles every
 * kernel of the header for each architecture. */
#include "fp4_cuda.cuh"

#define FP4_EACH_OUT(X, a) X(a##_f32) X(a##_bf16) X(a##_f16)
#define FP4_EACH_ACT_OUT(X, a) FP4_EACH_OUT(X, a##_f32) FP4_EACH_OUT(X, a##_bf16) FP4_EACH_OUT(X, a##_f16)
#define FP4_USE(name) (void)&name<>;

/* Never called: its body instantiates every launcher, and with them every kernel. */
void fp4_cuda_header_compile_all(void);
void fp4_cuda_header_compile_all(void) {
  FP4_EACH_OUT(FP4_USE, fp4_cuda_quantize)
  FP4_USE(fp4_cuda_fake_quantize_f32)
  FP4_EACH_OUT(FP4_USE, fp4_cuda_dequantize)
  FP4_USE(fp4_cuda_hadamard_f32)
  FP4_USE(fp4_cuda_scales_to_swizzled)
  FP4_USE(fp4_cuda_scales_to_linear)
  FP4_EACH_ACT_OUT(FP4_USE, fp4_cuda_gemv_w4a16)
  FP4_EACH_OUT(FP4_USE, fp4_cuda_gemm_w4a4)
  FP4_EACH_OUT(FP4_USE, fp4_cuda_gemm_w4a4_fast)
  FP4_EACH_ACT_OUT(FP4_USE, fp4_cuda_gemm_w4a16)
}
