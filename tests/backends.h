/* SPDX-License-Identifier: MIT */
/* The CPU back ends as a table of entry points, for the tests that run one workload on each of them:
 * fp4.h, then fp4_cpu.h's default and every path compiled in (_scalar, _avx2, _avx512), when fp4_cpu.h
 * was included before this file. */
#ifndef FP4_TESTS_BACKENDS_H
#define FP4_TESTS_BACKENDS_H
#include "fp4.h"

#define BACKEND_W4A16(A, O) fp4_status (*w4a16_##A##_##O)(const A##_t *, int64_t, int64_t, const fp4_tensor *, \
                                                            float, float, O##_t *, int64_t, void *, size_t);
typedef float f32_t;
typedef uint16_t bf16_t;
typedef uint16_t f16_t;

typedef struct backend {
  const char *name;
  size_t (*qws)(int64_t, int64_t, const fp4_quant_config *);
  fp4_status (*q_f32)(const float *, int64_t, int64_t, int64_t, const fp4_quant_config *, fp4_tensor *, void *,
                      size_t);
  fp4_status (*q_bf16)(const uint16_t *, int64_t, int64_t, int64_t, const fp4_quant_config *, fp4_tensor *,
                       void *, size_t);
  fp4_status (*q_f16)(const uint16_t *, int64_t, int64_t, int64_t, const fp4_quant_config *, fp4_tensor *,
                      void *, size_t);
  fp4_status (*dq_f32)(const fp4_tensor *, float *, int64_t);
  fp4_status (*dq_bf16)(const fp4_tensor *, uint16_t *, int64_t);
  fp4_status (*dq_f16)(const fp4_tensor *, uint16_t *, int64_t);
  fp4_status (*fake_f32)(const float *, int64_t, int64_t, int64_t, const fp4_quant_config *, float *, int64_t,
                         uint8_t *, void *, size_t);
  fp4_status (*had_f32)(const float *, int64_t, int64_t, int64_t, float *, int64_t, int, const uint32_t *, int);
  size_t (*gws)(int64_t, int64_t, int64_t);
  fp4_status (*w4a4_f32)(const fp4_tensor *, const fp4_tensor *, float, float, float *, int64_t, void *, size_t);
  fp4_status (*w4a4_bf16)(const fp4_tensor *, const fp4_tensor *, float, float, uint16_t *, int64_t, void *,
                          size_t);
  fp4_status (*w4a4_f16)(const fp4_tensor *, const fp4_tensor *, float, float, uint16_t *, int64_t, void *,
                         size_t);
  BACKEND_W4A16(f32, f32) BACKEND_W4A16(f32, bf16) BACKEND_W4A16(f32, f16)
  BACKEND_W4A16(bf16, f32) BACKEND_W4A16(bf16, bf16) BACKEND_W4A16(bf16, f16)
  BACKEND_W4A16(f16, f32) BACKEND_W4A16(f16, bf16) BACKEND_W4A16(f16, f16)
} backend;

#define BACKEND(P, S)                                                                                          \
  {                                                                                                            \
    #P #S, P##quantize_workspace_size, P##quantize_f32##S, P##quantize_bf16##S, P##quantize_f16##S,            \
        P##dequantize_f32##S, P##dequantize_bf16##S, P##dequantize_f16##S, P##fake_quantize_f32##S,            \
        P##hadamard_f32##S, P##gemm_workspace_size, P##gemm_w4a4_f32##S, P##gemm_w4a4_bf16##S,                 \
        P##gemm_w4a4_f16##S, P##gemm_w4a16_f32_f32##S, P##gemm_w4a16_f32_bf16##S, P##gemm_w4a16_f32_f16##S,    \
        P##gemm_w4a16_bf16_f32##S, P##gemm_w4a16_bf16_bf16##S, P##gemm_w4a16_bf16_f16##S,                      \
        P##gemm_w4a16_f16_f32##S, P##gemm_w4a16_f16_bf16##S, P##gemm_w4a16_f16_f16##S                          \
  }
static const backend backends[] = {
    BACKEND(fp4_, ),
#ifdef FP4_CPU_H
    BACKEND(fp4_cpu_, ),
    BACKEND(fp4_cpu_, _scalar),
#if FP4_CPU_HAVE_AVX2
    BACKEND(fp4_cpu_, _avx2),
#endif
#if FP4_CPU_HAVE_AVX512
    BACKEND(fp4_cpu_, _avx512),
#endif
#endif
};
#define NBACKENDS ((int)(sizeof backends / sizeof backends[0]))

#endif
