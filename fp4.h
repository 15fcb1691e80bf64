/* SPDX-License-Identifier: MIT */
/*
 * fp4.h - portable scalar reference for FP4 (E2M1) quantization: MXFP4 and NVFP4.
 *
 * Header-only, C99 (also C++), standard headers only. Every rounding rule lives here once; the SIMD
 * back end (fp4_cpu.h) and the CUDA back end (fp4_cuda.cuh) call these functions and must produce the
 * same bytes. Semantics: SPEC.md (cited below as "spec §n").
 *
 * Usage:
 *     #include "fp4.h"
 *     fp4_quant_config cfg = fp4_config_default(FP4_NVFP4);   // standard NVFP4, RNE, amax computed
 *     cfg.rule = FP4_NV_4OVER6_MSE;                            // Four Over Six
 *     uint8_t *q = malloc(fp4_data_bytes(rows, cols));
 *     uint8_t *s = malloc(fp4_scale_bytes(FP4_NVFP4, rows, cols, FP4_LAYOUT_LINEAR));
 *     fp4_tensor t; fp4_tensor_init(&t, q, s, FP4_LAYOUT_LINEAR);
 *     fp4_status st = fp4_quantize_f32(x, rows, cols, cols, &cfg, &t, NULL, 0);
 *     if (st != FP4_OK) fprintf(stderr, "%s\n", fp4_status_string(st));
 *     fp4_dequantize_f32(&t, y, cols);                         // y = (q * s) * S_dec
 *
 * Contents (search for the banners):
 *     ==== configuration ====   FP4_API, FP4_HD
 *     ==== lists ====           X-macros: status codes, formats, rules
 *     ==== types ====           fp4_quant_config, fp4_tensor
 *     ==== declarations ====    the public API at a glance
 *     ==== bits ====            bit casts, exact powers of two, unfused multiply
 *     ==== codecs ====          E2M1, E4M3, E8M0, bf16, f16
 *     ==== philox ====          Philox4x32-10
 *     ==== hadamard ====        block Walsh-Hadamard transform
 *     ==== mxfp4 ====           MX scale rules, block quantizer
 *     ==== nvfp4 ====           NV tensor scale, 4/6 selection, block quantizer
 *     ==== layout ====          scale offsets, 128x4 swizzle
 *     ==== tensor ====          validation, quantize, dequantize, fake quantize, Hadamard
 *     ==== gemm ====            reproducible W4A4 and W4A16 reference GEMMs
 */
#ifndef FP4_H
#define FP4_H

/* ==== configuration ==== */
/* FP4_API: linkage of host functions (default static inline: vendor-safe, no symbol clashes).
 * FP4_HD:  linkage of functions shared with CUDA device code. */
#ifndef FP4_API
#define FP4_API static inline
#endif
#ifndef FP4_HD
#if defined(__CUDACC__)
#define FP4_HD static __host__ __device__ __forceinline__
#else
#define FP4_HD static inline
#endif
#endif

#define FP4_VERSION_MAJOR 0
#define FP4_VERSION_MINOR 1
#define FP4_VERSION_PATCH 0
#define FP4__STR2(x) #x
#define FP4__STR(x) FP4__STR2(x)
#define FP4_VERSION_STRING \
  FP4__STR(FP4_VERSION_MAJOR) "." FP4__STR(FP4_VERSION_MINOR) "." FP4__STR(FP4_VERSION_PATCH)
#define FP4_VERSION_NUMBER (FP4_VERSION_MAJOR * 10000 + FP4_VERSION_MINOR * 100 + FP4_VERSION_PATCH)

#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

/* ==== lists ==== */
/* X(name, message) */
#define FP4_STATUS_LIST(X)                                                      \
  X(OK, "ok")                                                                   \
  X(ERR_NULL, "null pointer")                                                   \
  X(ERR_SIZE, "zero or negative size")                                          \
  X(ERR_SHAPE, "size is not a multiple of the block or the Hadamard group")     \
  X(ERR_LD, "leading dimension smaller than the row")                           \
  X(ERR_OVERFLOW, "size overflows")                                             \
  X(ERR_ENUM, "unknown enum value")                                             \
  X(ERR_UNSUPPORTED, "unsupported combination of options")                      \
  X(ERR_ALIGN, "misaligned buffer")                                             \
  X(ERR_ALIAS, "output buffer overlaps an input buffer")                        \
  X(ERR_ARG, "invalid argument value")                                          \
  X(ERR_RANGE, "tensor amax too small for an fp32 tensor scale")                \
  X(ERR_WORKSPACE, "workspace too small")                                       \
  X(ERR_NONFINITE, "non-finite input: those blocks carry a NaN scale")          \
  X(ERR_DEVICE, "device error")

/* X(name, block size, tensor-scale constant K (0: none), divisor D, lower-case name) */
#define FP4_FORMAT_LIST(X) \
  X(MXFP4, 32, "mxfp4")    \
  X(NVFP4, 16, "nvfp4")

/* X(name, format, K, D, lower-case name); spec §3 */
#define FP4_RULE_LIST(X)                                        \
  X(MX_OCP, MXFP4, 0.0f, 0.0f, "mx_ocp")                         \
  X(MX_CEIL, MXFP4, 0.0f, 0.0f, "mx_ceil")                       \
  X(MX_ABSMAX3, MXFP4, 0.0f, 0.0f, "mx_absmax3")                 \
  X(MX_QUEST, MXFP4, 0.0f, 0.0f, "mx_quest")                     \
  X(MX_ADAPTIVE, MXFP4, 0.0f, 0.0f, "mx_adaptive")               \
  X(NV_6, NVFP4, 2688.0f, 6.0f, "nv_6")                          \
  X(NV_4, NVFP4, 1792.0f, 4.0f, "nv_4")                          \
  X(NV_4OVER6_MSE, NVFP4, 1536.0f, 6.0f, "nv_4over6_mse")        \
  X(NV_4OVER6_MAE, NVFP4, 1536.0f, 6.0f, "nv_4over6_mae")        \
  X(NV_4OVER6_MAXABS, NVFP4, 1536.0f, 6.0f, "nv_4over6_maxabs")

/* ==== types ==== */
#ifdef __cplusplus
extern "C" {
#endif

typedef enum fp4_status {
#define FP4__X(name, msg) FP4_##name,
  FP4_STATUS_LIST(FP4__X)
#undef FP4__X
  FP4_STATUS_COUNT
} fp4_status;

typedef enum fp4_format {
#define FP4__X(name, block, lname) FP4_##name,
  FP4_FORMAT_LIST(FP4__X)
#undef FP4__X
  FP4_FORMAT_COUNT
} fp4_format;

/* FP4_RULE_DEFAULT (0) resolves to the format's standard rule: FP4_MX_OCP or FP4_NV_6. */
typedef enum fp4_rule {
  FP4_RULE_DEFAULT = 0,
#define FP4__X(name, fmt, K, D, lname) FP4_##name,
  FP4_RULE_LIST(FP4__X)
#undef FP4__X
  FP4_RULE_COUNT
} fp4_rule;

typedef enum fp4_rounding { FP4_ROUND_NEAREST = 0, FP4_ROUND_STOCHASTIC, FP4_ROUNDING_COUNT } fp4_rounding;

/* Hadamard signs d_i: none, the caller's bits (hadamard_sign_bits, bit i set = -1), or drawn from
 * the seed (Philox word 2, counter i: negative when its top bit is set). */
typedef enum fp4_signs { FP4_SIGNS_NONE = 0, FP4_SIGNS_USER, FP4_SIGNS_RANDOM, FP4_SIGNS_COUNT } fp4_signs;

/* Scale storage: row-major [rows, cols/block], or the 128x4 tensor-core swizzle (spec §2). */
typedef enum fp4_layout { FP4_LAYOUT_LINEAR = 0, FP4_LAYOUT_SWIZZLED, FP4_LAYOUT_COUNT } fp4_layout;

/* Element types of unquantized inputs and outputs (bf16 and f16 travel as uint16_t bit patterns). */
typedef enum fp4_dtype { FP4_F32 = 0, FP4_BF16, FP4_F16, FP4_DTYPE_COUNT } fp4_dtype;

/* What to quantize and how. A zero-initialized struct is valid: MXFP4, OCP rule, round to nearest,
 * no Hadamard, no transpose, amax computed. */
typedef struct fp4_quant_config {
  fp4_format format;
  fp4_rule rule;             /* must belong to format, or FP4_RULE_DEFAULT */
  fp4_rounding rounding;
  uint64_t seed;             /* Philox key: stochastic rounding, random Hadamard signs */
  int hadamard;              /* 0 (off) or the group size 16, 32, 64, 128, 256 */
  fp4_signs hadamard_signs;
  uint32_t hadamard_sign_bits[8]; /* FP4_SIGNS_USER: bit i (word i/32, bit i%32) set means d_i = -1 */
  int hadamard_bf16;         /* round the rotated values to bf16 (RNE) before amax and quantization */
  int scale_2d;              /* NVFP4: one scale per 16x16 tile of the source tensor */
  int transpose;             /* quantize X^T: blocks run down the columns of X */
  int has_amax;              /* NVFP4: use amax below instead of computing it */
  float amax;
} fp4_quant_config;

/* A quantized tensor: rows x cols logical elements (after any transpose), row-major packed codes
 * (element 2j in the low nibble), one scale byte per block, and the tensor decode scale. The caller
 * owns the buffers; quantization fills every field but the buffers and the layout. */
typedef struct fp4_tensor {
  fp4_format format;
  fp4_rule rule;             /* the rule used (decoders need it only for FP4_MX_ABSMAX3's 1/3) */
  int64_t rows, cols;
  uint8_t *data;             /* rows * cols / 2 bytes */
  uint8_t *scales;           /* fp4_scale_bytes(format, rows, cols, scale_layout) bytes */
  fp4_layout scale_layout;
  float tensor_scale;        /* NVFP4: S_dec; MXFP4: 1, or 1/3 for FP4_MX_ABSMAX3 */
  float amax;                /* NVFP4: the amax used (0 for MXFP4) */
  uint8_t *mask;             /* optional, FP4_MX_QUEST: not-clipped bits, rows * cols / 8 bytes */
} fp4_tensor;

/* ==== declarations ==== */
/* codecs (spec §1) */
FP4_HD uint8_t fp4_e2m1_from_float(float x);
FP4_HD float fp4_e2m1_to_float(uint8_t code);
FP4_HD uint8_t fp4_e4m3_from_float(float x);
FP4_HD float fp4_e4m3_to_float(uint8_t code);
FP4_HD float fp4_e8m0_to_float(uint8_t code);
FP4_HD uint16_t fp4_f32_to_bf16(float x);
FP4_HD float fp4_bf16_to_f32(uint16_t h);
FP4_HD uint16_t fp4_f32_to_f16(float x);
FP4_HD float fp4_f16_to_f32(uint16_t h);
/* names */
FP4_API const char *fp4_status_string(fp4_status s);
FP4_API const char *fp4_format_name(fp4_format f);
FP4_API const char *fp4_rule_name(fp4_rule r);
FP4_HD int fp4_format_block(fp4_format f);
FP4_HD fp4_format fp4_rule_format(fp4_rule r);
FP4_HD fp4_rule fp4_rule_resolve(fp4_format f, fp4_rule r);
/* sizes */
FP4_API fp4_quant_config fp4_config_default(fp4_format f);
FP4_API void fp4_tensor_init(fp4_tensor *t, uint8_t *data, uint8_t *scales, fp4_layout layout);
FP4_API size_t fp4_data_bytes(int64_t rows, int64_t cols);
FP4_API size_t fp4_scale_bytes(fp4_format f, int64_t rows, int64_t cols, fp4_layout layout);
FP4_API size_t fp4_mask_bytes(int64_t rows, int64_t cols);
/* scale layout (spec §2) */
FP4_HD size_t fp4_swizzle_offset(int64_t r, int64_t c, int64_t scale_cols);
FP4_API fp4_status fp4_scales_to_swizzled(const uint8_t *lin, int64_t rows, int64_t scale_cols, uint8_t *sw);
FP4_API fp4_status fp4_scales_to_linear(const uint8_t *sw, int64_t rows, int64_t scale_cols, uint8_t *lin);
/* tensors (spec §4); the workspace arguments exist for parity with the other back ends */
FP4_API size_t fp4_quantize_workspace_size(int64_t rows, int64_t cols, const fp4_quant_config *cfg);
FP4_API fp4_status fp4_quantize_f32(const float *x, int64_t rows, int64_t cols, int64_t ldx,
                                    const fp4_quant_config *cfg, fp4_tensor *out, void *ws, size_t ws_bytes);
FP4_API fp4_status fp4_quantize_bf16(const uint16_t *x, int64_t rows, int64_t cols, int64_t ldx,
                                     const fp4_quant_config *cfg, fp4_tensor *out, void *ws, size_t ws_bytes);
FP4_API fp4_status fp4_quantize_f16(const uint16_t *x, int64_t rows, int64_t cols, int64_t ldx,
                                    const fp4_quant_config *cfg, fp4_tensor *out, void *ws, size_t ws_bytes);
FP4_API fp4_status fp4_dequantize_f32(const fp4_tensor *t, float *y, int64_t ldy);
FP4_API fp4_status fp4_dequantize_bf16(const fp4_tensor *t, uint16_t *y, int64_t ldy);
FP4_API fp4_status fp4_dequantize_f16(const fp4_tensor *t, uint16_t *y, int64_t ldy);
/* quantize then dequantize: y has the quantized tensor's shape (transposed if asked) and stays in the
 * rotated domain when a Hadamard group is set; mask as in fp4_tensor (may be NULL). */
FP4_API fp4_status fp4_fake_quantize_f32(const float *x, int64_t rows, int64_t cols, int64_t ldx,
                                         const fp4_quant_config *cfg, float *y, int64_t ldy, uint8_t *mask,
                                         void *ws, size_t ws_bytes);
FP4_API fp4_status fp4_hadamard_f32(const float *x, int64_t rows, int64_t cols, int64_t ldx, float *y,
                                    int64_t ldy, int group, const uint32_t *sign_bits, int inverse);
/* GEMM (spec §5): C[M,N] = alpha * A[M,K] . B[N,K]^T + beta * C */
FP4_API size_t fp4_gemm_workspace_size(int64_t M, int64_t N, int64_t K);
FP4_API fp4_status fp4_gemm_w4a4_f32(const fp4_tensor *A, const fp4_tensor *B, float alpha, float beta,
                                     float *C, int64_t ldc, void *ws, size_t ws_bytes);
/* fp4_gemm_w4a4_{bf16,f16} and fp4_gemm_w4a16_{f32,bf16,f16}_{f32,bf16,f16} (activation, output)
 * are stamped out in the ==== gemm ==== section. */

#ifdef __cplusplus
}
#endif

/* ==== bits ==== */
#ifdef __cplusplus
extern "C" {
#endif

FP4_HD uint32_t fp4__bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}
FP4_HD float fp4__float(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}
FP4_HD float fp4__fabs(float f) { return fp4__float(fp4__bits(f) & 0x7FFFFFFFu); }
FP4_HD int fp4__isfinite(float f) { return (fp4__bits(f) & 0x7F800000u) != 0x7F800000u; }
FP4_HD float fp4__nan(void) { return fp4__float(0x7FC00000u); }
/* IEEE square root, correctly rounded on every back end. */
FP4_HD float fp4__sqrt(float x) {
#if defined(__CUDA_ARCH__)
  return __fsqrt_rn(x);
#else
  return sqrtf(x);
#endif
}

/* 2^e exactly, for e in [-149, 127] (subnormal below -126). */
FP4_HD float fp4__exp2i(int e) {
  return e >= -126 ? fp4__float((uint32_t)(e + 127) << 23) : fp4__float(1u << (e + 149));
}

/* floor(log2(a)) from the bits, for finite a > 0 (subnormals included). */
FP4_HD int fp4__floor_log2(float a) {
  uint32_t b = fp4__bits(a) & 0x7FFFFFFFu;
  int e = (int)(b >> 23);
  uint32_t m;
  int k;
  if (e) return e - 127;
  m = b & 0x7FFFFFu;
  k = -127;
  while (!(m & 0x400000u)) {
    m <<= 1;
    k--;
  }
  return k;
}

/* A product rounded on its own, never contracted into an FMA with a following add (STYLE: compilers
 * disagree on contraction). The empty asm hides the value from the optimizer. */
FP4_HD float fp4__mul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  float p = a * b;
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
  __asm__("" : "+x"(p));
#elif (defined(__GNUC__) || defined(__clang__)) && defined(__aarch64__)
  __asm__("" : "+w"(p));
#else
  volatile float v = p;
  p = v;
#endif
  return p;
#endif
}

/* ==== codecs ==== */
/* E2M1 round to nearest even by thresholds at the midpoints (spec §1). NaN fails every comparison
 * and lands on 7 (6.0) with its sign, like +-Inf. */
FP4_HD uint8_t fp4_e2m1_from_float(float x) {
  uint8_t s = (uint8_t)((fp4__bits(x) >> 28) & 0x8u);
  float a = fp4__fabs(x);
  uint8_t c;
  if (a <= 0.25f) c = 0;
  else if (a < 0.75f) c = 1;
  else if (a <= 1.25f) c = 2;
  else if (a < 1.75f) c = 3;
  else if (a <= 2.5f) c = 4;
  else if (a < 3.5f) c = 5;
  else if (a <= 5.0f) c = 6;
  else c = 7;
  return (uint8_t)(s | c);
}

FP4_HD float fp4_e2m1_to_float(uint8_t code) {
  /* magnitude = 0.5 * {0,1,2,3,4,6,8,12}[c & 7] */
  uint32_t c = code & 7u;
  float m = c < 4 ? 0.5f * (float)c : (float)(1u << (c / 2 - 1)) * (c & 1u ? 1.5f : 1.0f);
  return (code & 8u) ? -m : m;
}

/* Stochastic E2M1 (spec §3): lo <= |y| <= hi adjacent grid points, up iff (r >> 8) < frac * 2^24.
 * Every step is exact: |y| - lo is exact (Sterbenz), hi - lo is a power of two. */
FP4_HD uint8_t fp4__e2m1_sr(float y, uint32_t r) {
  uint8_t s = (uint8_t)((fp4__bits(y) >> 28) & 0x8u);
  float a = fp4__fabs(y), lo, hi;
  uint8_t c;
  if (!(a < 6.0f)) return (uint8_t)(s | 7u);
  if (a < 2.0f) {
    if (a < 1.0f) {
      if (a < 0.5f) { lo = 0.0f; hi = 0.5f; c = 0; }
      else { lo = 0.5f; hi = 1.0f; c = 1; }
    } else {
      if (a < 1.5f) { lo = 1.0f; hi = 1.5f; c = 2; }
      else { lo = 1.5f; hi = 2.0f; c = 3; }
    }
  } else {
    if (a < 3.0f) { lo = 2.0f; hi = 3.0f; c = 4; }
    else if (a < 4.0f) { lo = 3.0f; hi = 4.0f; c = 5; }
    else { lo = 4.0f; hi = 6.0f; c = 6; }
  }
  if ((float)(r >> 8) < ((a - lo) / (hi - lo)) * 16777216.0f) c++;
  return (uint8_t)(s | c);
}

/* One element: nearest (sr == 0) or stochastic with the word r. */
FP4_HD uint8_t fp4__e2m1_round(float y, int sr, uint32_t r) {
  return sr ? fp4__e2m1_sr(y, r) : fp4_e2m1_from_float(y);
}

/* FP8 E4M3 (bias 7, max 448, subnormals m * 2^-9, 0x7F NaN): RNE, saturating (spec §1). */
FP4_HD uint8_t fp4_e4m3_from_float(float x) {
  uint32_t b = fp4__bits(x);
  uint8_t s = (uint8_t)((b >> 24) & 0x80u);
  uint32_t a = b & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return 0x7F;           /* NaN */
  if (a > 0x43E80000u) return (uint8_t)(s | 0x7Eu); /* > 464 (and Inf): saturate to 448 */
  if (a >= 0x3C800000u) {                     /* >= 2^-6: normal, round the mantissa to 3 bits */
    uint32_t r = (a + 0x7FFFFu + ((a >> 20) & 1u)) >> 20;
    return (uint8_t)(s | (r - (120u << 3)));
  } else {                                    /* subnormal: m = round(|x| * 2^9), exact scaling */
    float v = fp4__float(a) * 512.0f;
    uint32_t m = (uint32_t)v;                 /* truncation, v < 8 */
    float f = v - (float)m;                   /* exact */
    if (f > 0.5f || (f == 0.5f && (m & 1u))) m++;
    return (uint8_t)(s | m);
  }
}

FP4_HD float fp4_e4m3_to_float(uint8_t code) {
  uint32_t e = (code >> 3) & 0xFu, m = code & 7u;
  float v;
  if ((code & 0x7Fu) == 0x7Fu) return fp4__nan();
  v = e ? fp4__float(((e + 120u) << 23) | (m << 20)) : (float)m * 0.001953125f; /* m * 2^-9 */
  return (code & 0x80u) ? -v : v;
}

FP4_HD float fp4_e8m0_to_float(uint8_t code) {
  if (code == 0xFFu) return fp4__nan();
  return code ? fp4__float((uint32_t)code << 23) : fp4__float(0x00400000u); /* 2^-127 */
}

FP4_HD float fp4_bf16_to_f32(uint16_t h) { return fp4__float((uint32_t)h << 16); }

FP4_HD uint16_t fp4_f32_to_bf16(float x) {
  uint32_t b = fp4__bits(x);
  if ((b & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((b >> 16) | 0x40u); /* quiet NaN */
  return (uint16_t)((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16);
}

FP4_HD float fp4_f16_to_f32(uint16_t h) {
  uint32_t s = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
  if (e == 0x1Fu) return fp4__float(s | 0x7F800000u | (m << 13));
  if (e == 0) {
    float v = (float)m * 5.9604644775390625e-8f; /* m * 2^-24, exact */
    return s ? -v : v;
  }
  return fp4__float(s | ((e + 112u) << 23) | (m << 13));
}

FP4_HD uint16_t fp4_f32_to_f16(float x) {
  uint32_t b = fp4__bits(x);
  uint16_t s = (uint16_t)((b >> 16) & 0x8000u);
  uint32_t a = b & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return (uint16_t)(s | 0x7E00u | ((a >> 13) & 0x3FFu)); /* quiet NaN */
  if (a >= 0x477FF000u) return (uint16_t)(s | 0x7C00u);                      /* >= 65520: Inf */
  if (a >= 0x38800000u) {                                                    /* normal half */
    uint32_t r = a + 0xFFFu + ((a >> 13) & 1u) - (112u << 23);
    return (uint16_t)(s | (r >> 13));
  }
  if (a < 0x33000000u) return s; /* below 2^-25: rounds to zero */
  {
    int e = (int)(a >> 23);
    uint32_t m = (a & 0x7FFFFFu) | 0x800000u, sh = (uint32_t)(126 - e);
    uint32_t q = m >> sh, rem = m & ((1u << sh) - 1u), half = 1u << (sh - 1u);
    if (rem > half || (rem == half && (q & 1u))) q++;
    return (uint16_t)(s | q);
  }
}

/* Load element i of an unquantized input of type dt, exactly converted to f32. */
FP4_HD float fp4__load(const void *p, fp4_dtype dt, int64_t i) {
  if (dt == FP4_F32) return ((const float *)p)[i];
  if (dt == FP4_BF16) return fp4_bf16_to_f32(((const uint16_t *)p)[i]);
  return fp4_f16_to_f32(((const uint16_t *)p)[i]);
}

/* Store v (rounded RNE for 16-bit types) as element i of an output of type dt. */
FP4_HD void fp4__store(void *p, fp4_dtype dt, int64_t i, float v) {
  if (dt == FP4_F32) ((float *)p)[i] = v;
  else if (dt == FP4_BF16) ((uint16_t *)p)[i] = fp4_f32_to_bf16(v);
  else ((uint16_t *)p)[i] = fp4_f32_to_f16(v);
}

/* ==== philox ==== */
/* Philox4x32-10 (Salmon et al., SC'11); key = seed, counter = {idx lo, idx hi, 0, 0}. */
FP4_HD void fp4_philox4x32_10(uint64_t seed, uint64_t counter, uint32_t out[4]) {
  uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
  int i;
  for (i = 0; i < 10; i++) {
    uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
    c1 = (uint32_t)p1;
    c3 = (uint32_t)p0;
    c0 = n0;
    c2 = n2;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/* ==== hadamard ==== */
FP4_HD int fp4__hadamard_group_ok(int g) { return g == 16 || g == 32 || g == 64 || g == 128 || g == 256; }

/* fp32(1/sqrt(g)) for the legal groups. */
FP4_HD float fp4__hadamard_norm(int g) {
  switch (g) {
  case 16: return 0.25f;
  case 32: return 0.176776695296636881f;
  case 64: return 0.125f;
  case 128: return 0.0883883476483184405f;
  default: return 0.0625f;
  }
}

FP4_HD int fp4__sign_neg(const uint32_t *bits, int i) { return bits && ((bits[i >> 5] >> (i & 31)) & 1u); }

/* Signs drawn from the seed: d_i = -1 when the top bit of Philox word 2 at counter i is set. */
FP4_API void fp4_hadamard_signs_from_seed(uint64_t seed, int group, uint32_t bits[8]) {
  int i;
  uint32_t w[4];
  for (i = 0; i < 8; i++) bits[i] = 0;
  for (i = 0; i < group && i < 256; i++) {
    fp4_philox4x32_10(seed, (uint64_t)i, w);
    if (w[2] >> 31) bits[i >> 5] |= 1u << (i & 31);
  }
}

/* Four Over Six's RHT signs (g = 16): [+,+,+,-,+,-,-,-,-,-,-,+,-,+,-,-]. */
FP4_API void fp4_hadamard_signs_rht16(uint32_t bits[8]) {
  static const int neg[16] = {0, 0, 0, 1, 0, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1};
  int i;
  for (i = 0; i < 8; i++) bits[i] = 0;
  for (i = 0; i < 16; i++)
    if (neg[i]) bits[0] |= 1u << i;
}

/* In place on v[0..g): forward = signs, butterflies (h = 1, 2, 4, ...; a' = a + b, b' = a - b),
 * times fp32(1/sqrt(g)); inverse = butterflies, scale, then signs (spec §3). */
FP4_HD void fp4_hadamard_group(float *v, int g, const uint32_t *sign_bits, int inverse) {
  int h, i, j;
  float n = fp4__hadamard_norm(g);
  if (!inverse)
    for (i = 0; i < g; i++)
      if (fp4__sign_neg(sign_bits, i)) v[i] = -v[i];
  for (h = 1; h < g; h <<= 1)
    for (i = 0; i < g; i += 2 * h)
      for (j = i; j < i + h; j++) {
        float a = v[j], b = v[j + h];
        v[j] = a + b;
        v[j + h] = a - b;
      }
  for (i = 0; i < g; i++) v[i] = fp4__mul(v[i], n); /* unfused: later adds must not absorb it */
  if (inverse)
    for (i = 0; i < g; i++)
      if (fp4__sign_neg(sign_bits, i)) v[i] = -v[i];
}

/* ==== mxfp4 ==== */
/* Sum of squared errors of codes q against x, d_i = q_i * 2^e (exact), err = err + t*t unfused. */
FP4_HD float fp4__mx_sse(const float *x, const uint8_t *q, int e) {
  float err = 0.0f, p = fp4__exp2i(e);
  int i;
  for (i = 0; i < 32; i++) {
    float t = fp4__mul(fp4_e2m1_to_float(q[i]), p) - x[i];
    err = err + fp4__mul(t, t);
  }
  return err;
}

/* Quantize y_i = x_i * 2^-e (exact scaling; spec §3) into unpacked codes q[32]. */
FP4_HD void fp4__mx_codes(const float *x, int e, const uint32_t *r, uint8_t *q) {
  float m = fp4__exp2i(-e);
  int i;
  for (i = 0; i < 32; i++) q[i] = fp4__e2m1_round(x[i] * m, r != 0, r ? r[i] : 0u);
}

/* The E8M0 code a rule gives a block with max |x| = amax (finite, > 0), before element rounding.
 * (QUEST needs the values, not amax: see fp4__quest_exp.) */
FP4_HD int fp4__mx_exp(fp4_rule rule, float amax) {
  int e;
  if (rule == FP4_MX_CEIL) {
    uint32_t t = fp4__bits(amax / 6.0f);
    e = (int)(t >> 23) + ((t & 0x7FFFFFu) != 0) - 127;
    return e;
  }
  if (rule == FP4_MX_ABSMAX3) return fp4__floor_log2(amax + 1e-8f);
  e = fp4__floor_log2(amax) - 2; /* OCP, ADAPTIVE */
  return e < -127 ? -127 : e > 127 ? 127 : e;
}

/* QuEST scale exponent (spec §3) from the block's sequential sums s1 = sum x_i, s2 = sum x_i*x_i (no
 * FMA; fp4__quest_exp forms them): s = 2^floor(log2(t)). A variance whose t overflows to +Inf takes
 * the largest scale, 2^127 (spec is silent; documented choice). The CUDA back end forms the sums
 * across lanes in the same order and calls this. */
FP4_HD int fp4__quest_exp_sums(float s1, float s2) {
  float mean, var, t;
  mean = s1 * 0.03125f;
  var = fp4__mul(s2, 0.03125f) - fp4__mul(mean, mean);
  if (!(var >= 0.0f)) return 0; /* negative or NaN: s = 1 */
  t = fp4__mul(fp4__sqrt(var), 0.48707976f) + 1e-8f;
  if (!fp4__isfinite(t)) return 127;
  return fp4__floor_log2(t);
}
FP4_HD int fp4__quest_exp(const float *x) {
  float s1 = 0.0f, s2 = 0.0f;
  int i;
  for (i = 0; i < 32; i++) {
    s1 = s1 + x[i];
    s2 = s2 + fp4__mul(x[i], x[i]);
  }
  return fp4__quest_exp_sums(s1, s2);
}

/* Pack 2n unpacked codes, element 2j in the low nibble (spec §1). */
FP4_HD void fp4__pack(const uint8_t *c, int n, uint8_t *q) {
  int j;
  for (j = 0; j < n / 2; j++) q[j] = (uint8_t)((c[2 * j] & 0xFu) | (c[2 * j + 1] << 4));
}

/* Quantize one MXFP4 block of 32 values (spec §3). r0, r1: NULL for round to nearest, else each
 * element's Philox words 0 and 1 (ADAPTIVE draws word 1 for its e+1 candidate, as Four Over Six does
 * for its 4-candidate). q: 16 packed bytes. mask: NULL or 4 bytes of QUEST not-clipped bits.
 * Returns the E8M0 code; 0xFF (NaN) with zero codes when the block holds a NaN or an Inf.
 * An all-zero block gets element codes 0 under every rule. */
FP4_HD uint8_t fp4_mx_quantize_block(const float *x, fp4_rule rule, const uint32_t *r0, const uint32_t *r1,
                                     uint8_t *q, uint8_t *mask) {
  uint8_t c[32];
  float amax = 0.0f;
  int i, e;
  for (i = 0; i < 32; i++) {
    float a = fp4__fabs(x[i]);
    if (!fp4__isfinite(a)) {
      for (i = 0; i < 16; i++) q[i] = 0;
      if (mask)
        for (i = 0; i < 4; i++) mask[i] = 0;
      return 0xFF;
    }
    amax = a > amax ? a : amax;
  }
  if (rule == FP4_MX_QUEST) {
    float m;
    e = fp4__quest_exp(x);
    m = fp4__exp2i(-e);
    if (mask)
      for (i = 0; i < 4; i++) mask[i] = 0;
    for (i = 0; i < 32; i++) {
      float y = x[i] * m;
      c[i] = amax == 0.0f ? 0 : fp4__e2m1_round(y, r0 != 0, r0 ? r0[i] : 0u);
      if (mask && fp4__fabs(y) < 6.0f) mask[i >> 3] = (uint8_t)(mask[i >> 3] | (1u << (i & 7)));
    }
  } else if (amax == 0.0f) {
    e = rule == FP4_MX_ABSMAX3 ? fp4__floor_log2(1e-8f) : -127;
    for (i = 0; i < 32; i++) c[i] = 0;
  } else if (rule == FP4_MX_ABSMAX3) {
    float m;
    e = fp4__mx_exp(rule, amax);
    m = fp4__exp2i(-e);
    for (i = 0; i < 32; i++) c[i] = fp4__e2m1_round((x[i] * m) * 3.0f, r0 != 0, r0 ? r0[i] : 0u);
  } else if (rule == FP4_MX_ADAPTIVE) {
    uint8_t c1[32];
    e = fp4__mx_exp(FP4_MX_OCP, amax); /* <= 125, so e + 1 is a valid code */
    fp4__mx_codes(x, e, r0, c);
    fp4__mx_codes(x, e + 1, r1, c1);
    if (!(fp4__mx_sse(x, c1, e + 1) > fp4__mx_sse(x, c, e))) { /* ties go to e + 1 */
      e = e + 1;
      for (i = 0; i < 32; i++) c[i] = c1[i];
    }
  } else {
    e = fp4__mx_exp(rule, amax);
    fp4__mx_codes(x, e, r0, c);
  }
  fp4__pack(c, 32, q);
  return (uint8_t)(e + 127);
}

/* ==== nvfp4 ==== */
/* Tensor-level NVFP4 scale (spec §3): S_enc = K / amax, S_dec = 1 / S_enc; amax == 0 gives S_dec = 0. */
typedef struct fp4_nv_scale {
  float amax, K, D, S_enc, S_dec;
  int metric; /* 0: single candidate; 1: 4/6 MSE; 2: 4/6 MAE; 3: 4/6 MAXABS */
} fp4_nv_scale;

/* Smallest amax with a usable fp32 tensor scale: below it 1 / (S_dec * s) overflows for small
 * block scales. Quantization answers FP4_ERR_RANGE (spec is silent; documented choice). */
#define FP4_NV_AMAX_MIN 7.88860905e-31f /* 2^-100 */

FP4_HD fp4_nv_scale fp4_nv_scale_make(fp4_rule rule, float amax) {
  fp4_nv_scale t;
  t.amax = amax;
  t.K = 2688.0f;
  t.D = 6.0f;
  switch (rule) {
#define FP4__X(name, fmt, K_, D_, lname) \
  case FP4_##name: t.K = K_; t.D = D_; break;
    FP4_RULE_LIST(FP4__X)
#undef FP4__X
  default: break;
  }
  t.metric = rule == FP4_NV_4OVER6_MSE ? 1 : rule == FP4_NV_4OVER6_MAE ? 2 : rule == FP4_NV_4OVER6_MAXABS ? 3 : 0;
  if (amax == 0.0f) {
    t.S_enc = 0.0f;
    t.S_dec = 0.0f;
  } else {
    t.S_enc = t.K / amax;
    t.S_dec = 1.0f / t.S_enc;
  }
  return t;
}

/* The candidate E4M3 scale codes of a block (or 2D tile) with max |x| = bmax: s6, and for the 4/6
 * rules s4 = e4m3(shp * 1.5) (else s4 = s6). */
FP4_HD void fp4_nv_candidates(const fp4_nv_scale *ts, float bmax, uint8_t *s6, uint8_t *s4) {
  float shp;
  if (ts->amax == 0.0f) {
    *s6 = *s4 = 0;
    return;
  }
  shp = (bmax / ts->D) * ts->S_enc;
  *s6 = fp4_e4m3_from_float(shp);
  *s4 = ts->metric ? fp4_e4m3_from_float(shp * 1.5f) : *s6;
}

/* 1 / (S_dec * s) for a scale code, or 0 when s == 0 (then every element is +0). */
FP4_HD float fp4_nv_inv(const fp4_nv_scale *ts, uint8_t s) {
  float sv = fp4_e4m3_to_float(s);
  return sv != 0.0f && ts->S_dec != 0.0f ? 1.0f / (ts->S_dec * sv) : 0.0f;
}

/* One element's code: y = x * inv, or +0 when the scale is 0. */
FP4_HD uint8_t fp4_nv_code(float x, float inv, int sr, uint32_t r) {
  return fp4__e2m1_round(inv != 0.0f ? x * inv : 0.0f, sr, r);
}

/* Add one element's error to err: d = ((q * s) * amax) / K, then MSE err + t*t, MAE err + |t|, or
 * MAXABS max(err, |t|), in the caller's order (spec §3). */
FP4_HD float fp4_nv_err_add(const fp4_nv_scale *ts, float err, float x, uint8_t q, float sv) {
  float d = ((fp4_e2m1_to_float(q) * sv) * ts->amax) / ts->K, t = d - x, a = fp4__fabs(t);
  if (ts->metric == 1) return err + fp4__mul(t, t);
  if (ts->metric == 2) return err + a;
  return a > err ? a : err;
}

/* Quantize one NVFP4 block of 16 values (spec §3). r0, r1: NULL, or the elements' Philox words 0
 * (6-candidate) and 1 (4-candidate). q: 8 packed bytes. Returns the E4M3 scale code; 0x7F (NaN)
 * with zero codes when the block is not finite. */
FP4_HD uint8_t fp4_nv_quantize_block(const float *x, const fp4_nv_scale *ts, const uint32_t *r0,
                                     const uint32_t *r1, uint8_t *q) {
  uint8_t c[16], c4[16], s6, s4;
  float bmax = 0.0f, inv;
  int i;
  for (i = 0; i < 16; i++) {
    float a = fp4__fabs(x[i]);
    if (!fp4__isfinite(a)) {
      for (i = 0; i < 8; i++) q[i] = 0;
      return 0x7F;
    }
    bmax = a > bmax ? a : bmax;
  }
  fp4_nv_candidates(ts, bmax, &s6, &s4);
  inv = fp4_nv_inv(ts, s6);
  for (i = 0; i < 16; i++) c[i] = fp4_nv_code(x[i], inv, r0 != 0, r0 ? r0[i] : 0u);
  if (ts->metric) {
    float e6 = 0.0f, e4 = 0.0f, v6 = fp4_e4m3_to_float(s6), v4 = fp4_e4m3_to_float(s4);
    float inv4 = fp4_nv_inv(ts, s4);
    for (i = 0; i < 16; i++) {
      c4[i] = fp4_nv_code(x[i], inv4, r1 != 0, r1 ? r1[i] : 0u);
      e6 = fp4_nv_err_add(ts, e6, x[i], c[i], v6);
      e4 = fp4_nv_err_add(ts, e4, x[i], c4[i], v4);
    }
    if (e4 < e6) {
      s6 = s4;
      for (i = 0; i < 16; i++) c[i] = c4[i];
    }
  }
  fp4__pack(c, 16, q);
  return s6;
}

/* Dequantize one element (spec §3): MXFP4 q * s (ABSMAX3: / 3), NVFP4 (q * s) * S_dec. */
FP4_HD float fp4_dequant_value(fp4_format f, fp4_rule rule, uint8_t code, uint8_t scale, float tensor_scale) {
  float q = fp4_e2m1_to_float(code);
  if (f == FP4_MXFP4) {
    float v = q * fp4_e8m0_to_float(scale);
    return rule == FP4_MX_ABSMAX3 ? v / 3.0f : v;
  }
  return (q * fp4_e4m3_to_float(scale)) * tensor_scale;
}

/* ==== layout ==== */
FP4_HD int fp4_format_block(fp4_format f) { return f == FP4_NVFP4 ? 16 : 32; }

FP4_HD fp4_format fp4_rule_format(fp4_rule r) {
  switch (r) {
#define FP4__X(name, fmt, K_, D_, lname) \
  case FP4_##name: return FP4_##fmt;
    FP4_RULE_LIST(FP4__X)
#undef FP4__X
  default: return FP4_FORMAT_COUNT;
  }
}

FP4_HD fp4_rule fp4_rule_resolve(fp4_format f, fp4_rule r) {
  return r != FP4_RULE_DEFAULT ? r : f == FP4_NVFP4 ? FP4_NV_6 : FP4_MX_OCP;
}

/* Byte offset of scale (r, c) in the 128x4 swizzled layout (spec §2). */
FP4_HD size_t fp4_swizzle_offset(int64_t r, int64_t c, int64_t scale_cols) {
  int64_t cp = (scale_cols + 3) / 4 * 4;
  return (size_t)(((r / 128) * (cp / 4) + c / 4) * 512 + (r % 32) * 16 + ((r % 128) / 32) * 4 + c % 4);
}

FP4_HD size_t fp4__scale_offset(fp4_layout l, int64_t r, int64_t c, int64_t scale_cols) {
  return l == FP4_LAYOUT_SWIZZLED ? fp4_swizzle_offset(r, c, scale_cols) : (size_t)(r * scale_cols + c);
}

/* ==== tensor ==== */
FP4_API const char *fp4_status_string(fp4_status s) {
  switch (s) {
#define FP4__X(name, msg) \
  case FP4_##name: return msg;
    FP4_STATUS_LIST(FP4__X)
#undef FP4__X
  default: return "unknown status";
  }
}

FP4_API const char *fp4_format_name(fp4_format f) {
  switch (f) {
#define FP4__X(name, block, lname) \
  case FP4_##name: return lname;
    FP4_FORMAT_LIST(FP4__X)
#undef FP4__X
  default: return "unknown";
  }
}

FP4_API const char *fp4_rule_name(fp4_rule r) {
  switch (r) {
  case FP4_RULE_DEFAULT: return "default";
#define FP4__X(name, fmt, K_, D_, lname) \
  case FP4_##name: return lname;
    FP4_RULE_LIST(FP4__X)
#undef FP4__X
  default: return "unknown";
  }
}

FP4_API fp4_quant_config fp4_config_default(fp4_format f) {
  fp4_quant_config c;
  memset(&c, 0, sizeof c);
  c.format = f;
  return c;
}

FP4_API void fp4_tensor_init(fp4_tensor *t, uint8_t *data, uint8_t *scales, fp4_layout layout) {
  if (!t) return;
  memset(t, 0, sizeof *t);
  t->tensor_scale = 1.0f;
  t->data = data;
  t->scales = scales;
  t->scale_layout = layout;
}

/* Byte counts; 0 for sizes that no call accepts (non-positive, or rows * cols beyond 2^56). */
FP4_API int fp4__dims_valid(int64_t rows, int64_t cols) {
  return rows > 0 && cols > 0 && rows <= ((int64_t)1 << 56) / cols;
}
FP4_API size_t fp4_data_bytes(int64_t rows, int64_t cols) {
  return fp4__dims_valid(rows, cols) ? (size_t)(rows * (cols / 2)) : 0;
}
FP4_API size_t fp4_mask_bytes(int64_t rows, int64_t cols) {
  return fp4__dims_valid(rows, cols) ? (size_t)(rows * (cols / 8)) : 0;
}
FP4_API size_t fp4_scale_bytes(fp4_format f, int64_t rows, int64_t cols, fp4_layout layout) {
  int64_t sc = cols / fp4_format_block(f);
  if (!fp4__dims_valid(rows, cols) || (unsigned)f >= FP4_FORMAT_COUNT) return 0;
  if (layout == FP4_LAYOUT_SWIZZLED) return (size_t)((rows + 127) / 128 * 128 * ((sc + 3) / 4 * 4));
  return (size_t)(rows * sc);
}

/* -- validation helpers (spec §4) -- */
#define FP4__MAX_ELEMS ((int64_t)1 << 56) /* leaves headroom for every byte count below */

/* rows, cols > 0, ld >= cols, and (rows - 1) * ld + cols within bounds. */
FP4_API fp4_status fp4__check_dims(int64_t rows, int64_t cols, int64_t ld) {
  if (rows <= 0 || cols <= 0) return FP4_ERR_SIZE;
  if (ld < cols) return FP4_ERR_LD;
  if (rows > FP4__MAX_ELEMS / ld || (uint64_t)(rows * ld) > (uint64_t)(SIZE_MAX / 8)) return FP4_ERR_OVERFLOW;
  return FP4_OK;
}

/* Do [a, a + na) and [b, b + nb) overlap? (bytes; a NULL range never overlaps) */
FP4_API int fp4__overlap(const void *a, size_t na, const void *b, size_t nb) {
  uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
  if (!a || !b || !na || !nb) return 0;
  return x < y + nb && y < x + na;
}

FP4_API size_t fp4__dtype_size(fp4_dtype dt) { return dt == FP4_F32 ? 4 : 2; }

/* Bytes spanned by a rows x cols matrix with leading dimension ld. */
FP4_API size_t fp4__span(int64_t rows, int64_t cols, int64_t ld, fp4_dtype dt) {
  return (size_t)((rows - 1) * ld + cols) * fp4__dtype_size(dt);
}

FP4_API fp4_status fp4__check_config(const fp4_quant_config *c, fp4_rule *rule) {
  fp4_rule r;
  if ((unsigned)c->format >= FP4_FORMAT_COUNT || (unsigned)c->rule >= FP4_RULE_COUNT ||
      (unsigned)c->rounding >= FP4_ROUNDING_COUNT || (unsigned)c->hadamard_signs >= FP4_SIGNS_COUNT)
    return FP4_ERR_ENUM;
  r = fp4_rule_resolve(c->format, c->rule);
  if (fp4_rule_format(r) != c->format) return FP4_ERR_UNSUPPORTED;
  if (c->hadamard != 0 && !fp4__hadamard_group_ok(c->hadamard)) return FP4_ERR_ARG;
  if (c->scale_2d && c->format != FP4_NVFP4) return FP4_ERR_UNSUPPORTED;
  if (c->has_amax) {
    if (c->format != FP4_NVFP4) return FP4_ERR_UNSUPPORTED;
    if (!fp4__isfinite(c->amax) || !(c->amax >= 0.0f)) return FP4_ERR_ARG;
  }
  *rule = r;
  return FP4_OK;
}

/* -- quantization core, shared by quantize and fake quantize -- */
typedef struct fp4__qctx {
  const void *x;
  fp4_dtype dt;
  int64_t ldx, xcols; /* source: row-major X with xcols columns */
  int transpose;
  int64_t R, C;       /* quantized tensor Q (= X or X^T) */
  fp4_format fmt;
  fp4_rule rule;
  int block, g, L, sr, bf16;
  uint64_t seed;
  uint32_t signs[8];
  const uint32_t *sp; /* signs or NULL */
  fp4_nv_scale ts;
} fp4__qctx;

/* Source linear index of Q[r][c] (the Philox counter, spec §3). */
FP4_API uint64_t fp4__src_index(const fp4__qctx *q, int64_t r, int64_t c) {
  return q->transpose ? (uint64_t)(c * q->xcols + r) : (uint64_t)(r * q->xcols + c);
}

/* Q[r][c0 .. c0 + L), converted to f32, rotated per Hadamard group, rounded to bf16 if asked. */
FP4_API void fp4__load_segment(const fp4__qctx *q, int64_t r, int64_t c0, float *v) {
  int i;
  for (i = 0; i < q->L; i++)
    v[i] = fp4__load(q->x, q->dt, q->transpose ? (c0 + i) * q->ldx + r : r * q->ldx + c0 + i);
  if (q->g)
    for (i = 0; i < q->L; i += q->g) fp4_hadamard_group(v + i, q->g, q->sp, 0);
  if (q->bf16)
    for (i = 0; i < q->L; i++) v[i] = fp4_bf16_to_f32(fp4_f32_to_bf16(v[i]));
}

/* Philox words 0 and 1 for n elements of Q row r starting at column c0. */
FP4_API void fp4__draw(const fp4__qctx *q, int64_t r, int64_t c0, int n, uint32_t *r0, uint32_t *r1) {
  int i;
  uint32_t w[4];
  for (i = 0; i < n; i++) {
    fp4_philox4x32_10(q->seed, fp4__src_index(q, r, c0 + i), w);
    r0[i] = w[0];
    r1[i] = w[1];
  }
}

/* Where the quantized blocks go: a tensor (quantize) or dequantized values (fake quantize). */
typedef struct fp4__sink {
  fp4_tensor *t;      /* quantize */
  float *y;           /* fake quantize */
  int64_t ldy;
  uint8_t *mask;      /* optional QUEST mask, rows * cols / 8 bytes */
  fp4_layout layout;
} fp4__sink;

/* Emit block (r, c0 .. c0 + block) with packed codes pq and scale code s. */
FP4_API void fp4__emit(const fp4__qctx *q, const fp4__sink *k, int64_t r, int64_t c0, const uint8_t *pq, uint8_t s) {
  int i, nb = q->block;
  if (k->t) {
    memcpy(k->t->data + r * (q->C / 2) + c0 / 2, pq, (size_t)nb / 2);
    k->t->scales[fp4__scale_offset(k->layout, r, c0 / nb, q->C / nb)] = s;
  } else {
    for (i = 0; i < nb; i++)
      k->y[r * k->ldy + c0 + i] =
          fp4_dequant_value(q->fmt, q->rule, (uint8_t)((pq[i / 2] >> (4 * (i & 1))) & 0xFu), s, q->ts.S_dec);
  }
}

/* The 2D path (NVFP4, spec §3) for the 16-row strips starting in [rb, re) (rb a multiple of 16): one scale per 16x16 source tile, chosen over all its values with
 * the 4/6 error summed in source row-major order, then each row block quantized with it. */
FP4_API int fp4__quantize_2d(const fp4__qctx *q, const fp4__sink *k, int64_t rb, int64_t re) {
  float v[16][256];
  uint32_t r0[16][256], r1[16][256];
  int64_t rs, c0;
  int nonfinite = 0;
  for (rs = rb; rs < re; rs += 16) {
    int nr = q->R - rs < 16 ? (int)(q->R - rs) : 16, i, j, tcol;
    for (c0 = 0; c0 < q->C; c0 += q->L) {
      for (i = 0; i < nr; i++) {
        fp4__load_segment(q, rs + i, c0, v[i]);
        if (q->sr) fp4__draw(q, rs + i, c0, q->L, r0[i], r1[i]);
      }
      for (tcol = 0; tcol < q->L; tcol += 16) {
        float bmax = 0.0f, inv;
        int bad = 0, outer, inner, four = 0;
        uint8_t s6, s4, s, c[16], pq[8];
        for (i = 0; i < nr; i++)
          for (j = 0; j < 16; j++) {
            float a = fp4__fabs(v[i][tcol + j]);
            if (!fp4__isfinite(a)) bad = 1;
            else if (a > bmax) bmax = a;
          }
        if (bad) {
          memset(pq, 0, sizeof pq);
          for (i = 0; i < nr; i++) fp4__emit(q, k, rs + i, c0 + tcol, pq, 0x7F);
          nonfinite = 1;
          continue;
        }
        fp4_nv_candidates(&q->ts, bmax, &s6, &s4);
        if (q->ts.metric) {
          float e6 = 0.0f, e4 = 0.0f, v6 = fp4_e4m3_to_float(s6), v4 = fp4_e4m3_to_float(s4);
          float inv6 = fp4_nv_inv(&q->ts, s6), inv4 = fp4_nv_inv(&q->ts, s4);
          /* source row-major: Q rows outer unless Q is the transpose (then Q columns outer) */
          int no = q->transpose ? 16 : nr, ni = q->transpose ? nr : 16;
          for (outer = 0; outer < no; outer++)
            for (inner = 0; inner < ni; inner++) {
              int ii = q->transpose ? inner : outer, jj = q->transpose ? outer : inner;
              float x = v[ii][tcol + jj];
              e6 = fp4_nv_err_add(&q->ts, e6, x, fp4_nv_code(x, inv6, q->sr, q->sr ? r0[ii][tcol + jj] : 0u), v6);
              e4 = fp4_nv_err_add(&q->ts, e4, x, fp4_nv_code(x, inv4, q->sr, q->sr ? r1[ii][tcol + jj] : 0u), v4);
            }
          four = e4 < e6;
        }
        s = four ? s4 : s6;
        inv = fp4_nv_inv(&q->ts, s);
        for (i = 0; i < nr; i++) {
          for (j = 0; j < 16; j++)
            c[j] = fp4_nv_code(v[i][tcol + j], inv, q->sr, !q->sr ? 0u : four ? r1[i][tcol + j] : r0[i][tcol + j]);
          fp4__pack(c, 16, pq);
          fp4__emit(q, k, rs + i, c0 + tcol, pq, s);
        }
      }
    }
  }
  return nonfinite;
}

/* The 1D path for quantized rows [rb, re): blocks in order, each through the block quantizer.
 * Returns 1 if a block was not finite. */
FP4_API int fp4__quantize_rows(const fp4__qctx *q, const fp4__sink *k, int64_t rb, int64_t re) {
  float seg[256];
  uint32_t r0[256], r1[256];
  int64_t r, c0;
  int nonfinite = 0;
  for (r = rb; r < re; r++)
    for (c0 = 0; c0 < q->C; c0 += q->L) {
      int b;
      fp4__load_segment(q, r, c0, seg);
      if (q->sr) fp4__draw(q, r, c0, q->L, r0, r1);
      for (b = 0; b < q->L; b += q->block) {
        uint8_t pq[16], s;
        uint8_t *m = k->mask ? k->mask + r * (q->C / 8) + (c0 + b) / 8 : 0;
        if (q->fmt == FP4_MXFP4)
          s = fp4_mx_quantize_block(seg + b, q->rule, q->sr ? r0 + b : 0, q->sr ? r1 + b : 0, pq, m);
        else s = fp4_nv_quantize_block(seg + b, &q->ts, q->sr ? r0 + b : 0, q->sr ? r1 + b : 0, pq);
        if (q->fmt == FP4_MXFP4 ? s == 0xFFu : (s & 0x7Fu) == 0x7Fu) nonfinite = 1;
        fp4__emit(q, k, r, c0 + b, pq, s);
      }
    }
  return nonfinite;
}

/* Validate, compute amax if needed, and run the quantizer into a sink. */
FP4_API fp4_status fp4__quantize(const void *x, fp4_dtype dt, int64_t rows, int64_t cols, int64_t ldx,
                                 const fp4_quant_config *cfg, const fp4__sink *k) {
  fp4__qctx q;
  fp4_status st;
  float seg[256];
  int64_t r, c0;
  int nonfinite = 0, i;
  if (!x || !cfg) return FP4_ERR_NULL;
  if ((st = fp4__check_config(cfg, &q.rule)) != FP4_OK) return st;
  if ((unsigned)k->layout >= FP4_LAYOUT_COUNT) return FP4_ERR_ENUM;
  if ((st = fp4__check_dims(rows, cols, ldx)) != FP4_OK) return st;
  memset(q.signs, 0, sizeof q.signs);
  q.x = x;
  q.dt = dt;
  q.ldx = ldx;
  q.xcols = cols;
  q.transpose = cfg->transpose != 0;
  q.R = q.transpose ? cols : rows;
  q.C = q.transpose ? rows : cols;
  q.fmt = cfg->format;
  q.block = fp4_format_block(q.fmt);
  q.g = cfg->hadamard;
  q.L = q.g > q.block ? q.g : q.block;
  q.sr = cfg->rounding == FP4_ROUND_STOCHASTIC;
  q.bf16 = cfg->hadamard_bf16 != 0;
  q.seed = cfg->seed;
  q.sp = 0;
  if (q.C % q.L) return FP4_ERR_SHAPE;
  if (k->mask && q.rule != FP4_MX_QUEST) return FP4_ERR_UNSUPPORTED;
  if ((uintptr_t)x % fp4__dtype_size(dt) || (k->y && (uintptr_t)k->y % 4)) return FP4_ERR_ALIGN;
  if (k->y && (st = fp4__check_dims(q.R, q.C, k->ldy)) != FP4_OK) return st;
  {
    size_t xs = fp4__span(rows, cols, ldx, dt);
    if (k->t && (fp4__overlap(x, xs, k->t->data, fp4_data_bytes(q.R, q.C)) ||
                 fp4__overlap(x, xs, k->t->scales, fp4_scale_bytes(q.fmt, q.R, q.C, k->layout)) ||
                 fp4__overlap(k->t->data, fp4_data_bytes(q.R, q.C), k->t->scales,
                              fp4_scale_bytes(q.fmt, q.R, q.C, k->layout))))
      return FP4_ERR_ALIAS;
    if (k->y && fp4__overlap(x, xs, k->y, fp4__span(q.R, q.C, k->ldy, FP4_F32))) return FP4_ERR_ALIAS;
    if (k->mask && fp4__overlap(x, xs, k->mask, fp4_mask_bytes(q.R, q.C))) return FP4_ERR_ALIAS;
    /* the mask must not overlap the other outputs either */
    if (k->mask && ((k->t && (fp4__overlap(k->mask, fp4_mask_bytes(q.R, q.C), k->t->data, fp4_data_bytes(q.R, q.C)) ||
                              fp4__overlap(k->mask, fp4_mask_bytes(q.R, q.C), k->t->scales,
                                           fp4_scale_bytes(q.fmt, q.R, q.C, k->layout)))) ||
                    (k->y && fp4__overlap(k->mask, fp4_mask_bytes(q.R, q.C), k->y, fp4__span(q.R, q.C, k->ldy, FP4_F32)))))
      return FP4_ERR_ALIAS;
  }
  if (q.g && cfg->hadamard_signs == FP4_SIGNS_USER) {
    memcpy(q.signs, cfg->hadamard_sign_bits, sizeof q.signs);
    q.sp = q.signs;
  } else if (q.g && cfg->hadamard_signs == FP4_SIGNS_RANDOM) {
    fp4_hadamard_signs_from_seed(q.seed, q.g, q.signs);
    q.sp = q.signs;
  }
  /* NVFP4 tensor scale: amax over the transformed tensor (finite values), unless given */
  if (q.fmt == FP4_NVFP4) {
    float amax = 0.0f;
    if (cfg->has_amax) amax = cfg->amax;
    else
      for (r = 0; r < q.R; r++)
        for (c0 = 0; c0 < q.C; c0 += q.L) {
          fp4__load_segment(&q, r, c0, seg);
          for (i = 0; i < q.L; i++) {
            float a = fp4__fabs(seg[i]);
            if (fp4__isfinite(a) && a > amax) amax = a;
          }
        }
    if (amax != 0.0f && amax < FP4_NV_AMAX_MIN) return FP4_ERR_RANGE;
    q.ts = fp4_nv_scale_make(q.rule, amax);
  } else {
    q.ts = fp4_nv_scale_make(q.rule, 0.0f);
    q.ts.S_dec = q.rule == FP4_MX_ABSMAX3 ? 1.0f / 3.0f : 1.0f;
  }
  if (k->t) {
    k->t->format = q.fmt;
    k->t->rule = q.rule;
    k->t->rows = q.R;
    k->t->cols = q.C;
    k->t->tensor_scale = q.ts.S_dec;
    k->t->amax = q.fmt == FP4_NVFP4 ? q.ts.amax : 0.0f;
    /* swizzled scales: the padding rows / scale columns are zero bytes, as fp4_scales_to_swizzled
     * gives them (spec §2), so quantizing straight into the layout equals converting afterwards */
    if (k->layout == FP4_LAYOUT_SWIZZLED) memset(k->t->scales, 0, fp4_scale_bytes(q.fmt, q.R, q.C, k->layout));
  }
  nonfinite = cfg->scale_2d ? fp4__quantize_2d(&q, k, 0, q.R) : fp4__quantize_rows(&q, k, 0, q.R);
  return nonfinite ? FP4_ERR_NONFINITE : FP4_OK;
}

FP4_API size_t fp4_quantize_workspace_size(int64_t rows, int64_t cols, const fp4_quant_config *cfg) {
  (void)rows;
  (void)cols;
  (void)cfg;
  return 0;
}

FP4_API fp4_status fp4__quantize_tensor(const void *x, fp4_dtype dt, int64_t rows, int64_t cols, int64_t ldx,
                                        const fp4_quant_config *cfg, fp4_tensor *out) {
  fp4__sink k;
  if (!out || !out->data || !out->scales) return FP4_ERR_NULL;
  memset(&k, 0, sizeof k);
  k.t = out;
  k.mask = out->mask;
  k.layout = out->scale_layout;
  return fp4__quantize(x, dt, rows, cols, ldx, cfg, &k);
}

FP4_API fp4_status fp4_quantize_f32(const float *x, int64_t rows, int64_t cols, int64_t ldx,
                                    const fp4_quant_config *cfg, fp4_tensor *out, void *ws, size_t ws_bytes) {
  (void)ws;
  (void)ws_bytes;
  return fp4__quantize_tensor(x, FP4_F32, rows, cols, ldx, cfg, out);
}
FP4_API fp4_status fp4_quantize_bf16(const uint16_t *x, int64_t rows, int64_t cols, int64_t ldx,
                                     const fp4_quant_config *cfg, fp4_tensor *out, void *ws, size_t ws_bytes) {
  (void)ws;
  (void)ws_bytes;
  return fp4__quantize_tensor(x, FP4_BF16, rows, cols, ldx, cfg, out);
}
FP4_API fp4_status fp4_quantize_f16(const uint16_t *x, int64_t rows, int64_t cols, int64_t ldx,
                                    const fp4_quant_config *cfg, fp4_tensor *out, void *ws, size_t ws_bytes) {
  (void)ws;
  (void)ws_bytes;
  return fp4__quantize_tensor(x, FP4_F16, rows, cols, ldx, cfg, out);
}

FP4_API fp4_status fp4_fake_quantize_f32(const float *x, int64_t rows, int64_t cols, int64_t ldx,
                                         const fp4_quant_config *cfg, float *y, int64_t ldy, uint8_t *mask,
                                         void *ws, size_t ws_bytes) {
  fp4__sink k;
  (void)ws;
  (void)ws_bytes;
  if (!y) return FP4_ERR_NULL;
  memset(&k, 0, sizeof k);
  k.y = y;
  k.ldy = ldy;
  k.mask = mask;
  return fp4__quantize(x, FP4_F32, rows, cols, ldx, cfg, &k);
}

/* Validate a quantized tensor used as an input. */
FP4_API fp4_status fp4__check_tensor(const fp4_tensor *t) {
  if (!t || !t->data || !t->scales) return FP4_ERR_NULL;
  if ((unsigned)t->format >= FP4_FORMAT_COUNT || (unsigned)t->scale_layout >= FP4_LAYOUT_COUNT ||
      (unsigned)t->rule >= FP4_RULE_COUNT)
    return FP4_ERR_ENUM;
  if (t->rows <= 0 || t->cols <= 0) return FP4_ERR_SIZE;
  if (t->cols % fp4_format_block(t->format)) return FP4_ERR_SHAPE;
  if (t->rows > FP4__MAX_ELEMS / t->cols) return FP4_ERR_OVERFLOW;
  return FP4_OK;
}

FP4_API uint8_t fp4__code_at(const fp4_tensor *t, int64_t r, int64_t c) {
  return (uint8_t)((t->data[r * (t->cols / 2) + c / 2] >> (4 * (c & 1))) & 0xFu);
}
FP4_API uint8_t fp4__scale_at(const fp4_tensor *t, int64_t r, int64_t b) {
  return t->scales[fp4__scale_offset(t->scale_layout, r, b, t->cols / fp4_format_block(t->format))];
}

/* Dequantize rows [rb, re) of a validated tensor. */
FP4_API void fp4__dequantize_rows(const fp4_tensor *t, void *y, fp4_dtype dt, int64_t ldy, int64_t rb, int64_t re) {
  int64_t r, c;
  int nb = fp4_format_block(t->format);
  for (r = rb; r < re; r++)
    for (c = 0; c < t->cols; c++)
      fp4__store(y, dt, r * ldy + c,
                 fp4_dequant_value(t->format, t->rule, fp4__code_at(t, r, c), fp4__scale_at(t, r, c / nb),
                                   t->tensor_scale));
}

/* Validate a dequantize call (shared by every back end): the tensor, then y[rows, ldy] of type dt, which
 * must not overlap the tensor's codes or scales. */
FP4_API fp4_status fp4__check_dequantize(const fp4_tensor *t, const void *y, fp4_dtype dt, int64_t ldy) {
  fp4_status st;
  size_t ys;
  if ((st = fp4__check_tensor(t)) != FP4_OK) return st;
  if (!y) return FP4_ERR_NULL;
  if ((st = fp4__check_dims(t->rows, t->cols, ldy)) != FP4_OK) return st;
  if ((uintptr_t)y % fp4__dtype_size(dt)) return FP4_ERR_ALIGN;
  ys = fp4__span(t->rows, t->cols, ldy, dt);
  if (fp4__overlap(y, ys, t->data, fp4_data_bytes(t->rows, t->cols)) ||
      fp4__overlap(y, ys, t->scales, fp4_scale_bytes(t->format, t->rows, t->cols, t->scale_layout)))
    return FP4_ERR_ALIAS;
  return FP4_OK;
}

FP4_API fp4_status fp4__dequantize(const fp4_tensor *t, void *y, fp4_dtype dt, int64_t ldy) {
  fp4_status st = fp4__check_dequantize(t, y, dt, ldy);
  if (st != FP4_OK) return st;
  fp4__dequantize_rows(t, y, dt, ldy, 0, t->rows);
  return FP4_OK;
}

FP4_API fp4_status fp4_dequantize_f32(const fp4_tensor *t, float *y, int64_t ldy) {
  return fp4__dequantize(t, y, FP4_F32, ldy);
}
FP4_API fp4_status fp4_dequantize_bf16(const fp4_tensor *t, uint16_t *y, int64_t ldy) {
  return fp4__dequantize(t, y, FP4_BF16, ldy);
}
FP4_API fp4_status fp4_dequantize_f16(const fp4_tensor *t, uint16_t *y, int64_t ldy) {
  return fp4__dequantize(t, y, FP4_F16, ldy);
}

/* Validate a block Hadamard call (shared by every back end): in place only when x == y and ldx == ldy. */
FP4_API fp4_status fp4__check_hadamard(const float *x, int64_t rows, int64_t cols, int64_t ldx, const float *y,
                                       int64_t ldy, int group) {
  fp4_status st;
  if (!x || !y) return FP4_ERR_NULL;
  if (!fp4__hadamard_group_ok(group)) return FP4_ERR_ARG;
  if ((st = fp4__check_dims(rows, cols, ldx)) != FP4_OK) return st;
  if ((st = fp4__check_dims(rows, cols, ldy)) != FP4_OK) return st;
  if (cols % group) return FP4_ERR_SHAPE;
  if ((uintptr_t)x % 4 || (uintptr_t)y % 4) return FP4_ERR_ALIGN;
  if (!(x == y && ldx == ldy) &&
      fp4__overlap(x, fp4__span(rows, cols, ldx, FP4_F32), y, fp4__span(rows, cols, ldy, FP4_F32)))
    return FP4_ERR_ALIAS;
  return FP4_OK;
}

/* Block Hadamard along the rows (spec §3). In place when x == y and ldx == ldy. */
FP4_API fp4_status fp4_hadamard_f32(const float *x, int64_t rows, int64_t cols, int64_t ldx, float *y,
                                    int64_t ldy, int group, const uint32_t *sign_bits, int inverse) {
  fp4_status st;
  float v[256];
  int64_t r, c;
  int i;
  if ((st = fp4__check_hadamard(x, rows, cols, ldx, y, ldy, group)) != FP4_OK) return st;
  for (r = 0; r < rows; r++)
    for (c = 0; c < cols; c += group) {
      for (i = 0; i < group; i++) v[i] = x[r * ldx + c + i];
      fp4_hadamard_group(v, group, sign_bits, inverse);
      for (i = 0; i < group; i++) y[r * ldy + c + i] = v[i];
    }
  return FP4_OK;
}

/* ==== layout conversion ==== */
FP4_API fp4_status fp4__check_swizzle(const uint8_t *lin, int64_t rows, int64_t scale_cols, const uint8_t *sw) {
  if (!lin || !sw) return FP4_ERR_NULL;
  if (rows <= 0 || scale_cols <= 0) return FP4_ERR_SIZE;
  if (rows > FP4__MAX_ELEMS / scale_cols) return FP4_ERR_OVERFLOW;
  if (fp4__overlap(lin, (size_t)(rows * scale_cols), sw, (size_t)((rows + 127) / 128 * 128 * ((scale_cols + 3) / 4 * 4))))
    return FP4_ERR_ALIAS;
  return FP4_OK;
}

/* Linear [rows, scale_cols] to swizzled (padding filled with zero bytes). */
FP4_API fp4_status fp4_scales_to_swizzled(const uint8_t *lin, int64_t rows, int64_t scale_cols, uint8_t *sw) {
  fp4_status st = fp4__check_swizzle(lin, rows, scale_cols, sw);
  int64_t r, c;
  if (st != FP4_OK) return st;
  memset(sw, 0, (size_t)((rows + 127) / 128 * 128 * ((scale_cols + 3) / 4 * 4)));
  for (r = 0; r < rows; r++)
    for (c = 0; c < scale_cols; c++) sw[fp4_swizzle_offset(r, c, scale_cols)] = lin[r * scale_cols + c];
  return FP4_OK;
}

FP4_API fp4_status fp4_scales_to_linear(const uint8_t *sw, int64_t rows, int64_t scale_cols, uint8_t *lin) {
  fp4_status st = fp4__check_swizzle(lin, rows, scale_cols, sw);
  int64_t r, c;
  if (st != FP4_OK) return st;
  for (r = 0; r < rows; r++)
    for (c = 0; c < scale_cols; c++) lin[r * scale_cols + c] = sw[fp4_swizzle_offset(r, c, scale_cols)];
  return FP4_OK;
}

/* ==== gemm ==== */
/* 2 * E2M1 value, an integer in [-12, 12] (spec §5). */
FP4_HD int fp4_e2m1_to_int2(uint8_t code) {
  int c = code & 7, v = c < 4 ? c : (2 + (c & 1)) << ((c >> 1) - 1); /* 0 1 2 3 4 6 8 12 */
  return (code & 8) ? -v : v;
}

/* (float)T * 2^n for an integer |T| <= 2^24, correctly rounded (exact unless it leaves the normal
 * range), with every product rounded on its own. n in [-256, 254]. */
FP4_HD float fp4__ldexp_int(float t, int n) {
  if (n > 127) return fp4__mul(fp4__mul(t, fp4__exp2i(127)), fp4__exp2i(n - 127));
  if (n < -126) return fp4__mul(fp4__mul(t, fp4__exp2i(n + 126)), fp4__exp2i(-126)); /* first step exact */
  return fp4__mul(t, fp4__exp2i(n));
}

/* One block's contribution t_b from the exact integer dot product T (spec §5). */
FP4_HD float fp4_w4a4_block_term(fp4_format f, int32_t T, uint8_t sa, uint8_t sb) {
  if (f == FP4_MXFP4) {
    if (sa == 0xFFu || sb == 0xFFu) return fp4__nan();
    return fp4__ldexp_int((float)T, (int)sa + (int)sb - 256);
  }
  return fp4__mul(fp4__mul((float)T, fp4_e4m3_to_float(sa) * fp4_e4m3_to_float(sb)), 0.25f);
}

/* C = alpha_eff * acc, then + beta * C_old as a separate rounding when beta != 0 (spec §5). */
FP4_HD float fp4_gemm_epilogue(float alpha_eff, float acc, float beta, float c_old) {
  float c = fp4__mul(alpha_eff, acc);
  return beta != 0.0f ? c + fp4__mul(beta, c_old) : c;
}

FP4_API fp4_status fp4__check_gemm_out(const void *C, fp4_dtype ct, int64_t M, int64_t N, int64_t ldc,
                                       const fp4_tensor *B) {
  fp4_status st;
  if (!C) return FP4_ERR_NULL;
  if ((st = fp4__check_dims(M, N, ldc)) != FP4_OK) return st;
  if ((uintptr_t)C % fp4__dtype_size(ct)) return FP4_ERR_ALIGN;
  {
    size_t cs = fp4__span(M, N, ldc, ct);
    if (fp4__overlap(C, cs, B->data, fp4_data_bytes(B->rows, B->cols)) ||
        fp4__overlap(C, cs, B->scales, fp4_scale_bytes(B->format, B->rows, B->cols, B->scale_layout)))
      return FP4_ERR_ALIAS;
  }
  return FP4_OK;
}

/* The reproducible W4A4 arithmetic (spec §5) for output columns [nb, ne) of validated operands: exact
 * integer block sums, then fp32 in K order, then the epilogue. */
FP4_API void fp4__gemm_w4a4_cols(const fp4_tensor *A, const fp4_tensor *B, float alpha_eff, float beta, void *C,
                                 fp4_dtype ct, int64_t ldc, int64_t nb, int64_t ne) {
  int64_t m, n, b, nbk;
  int blk = fp4_format_block(A->format);
  nbk = A->cols / blk;
  for (m = 0; m < A->rows; m++)
    for (n = nb; n < ne; n++) {
      float acc = 0.0f;
      for (b = 0; b < nbk; b++) {
        int32_t T = 0;
        int k;
        for (k = 0; k < blk; k++)
          T += fp4_e2m1_to_int2(fp4__code_at(A, m, b * blk + k)) * fp4_e2m1_to_int2(fp4__code_at(B, n, b * blk + k));
        acc = acc + fp4_w4a4_block_term(A->format, T, fp4__scale_at(A, m, b), fp4__scale_at(B, n, b));
      }
      fp4__store(C, ct, m * ldc + n,
                 fp4_gemm_epilogue(alpha_eff, acc, beta, beta != 0.0f ? fp4__load(C, ct, m * ldc + n) : 0.0f));
    }
}

FP4_API fp4_status fp4__gemm_w4a4(const fp4_tensor *A, const fp4_tensor *B, float alpha, float beta, void *C,
                                  fp4_dtype ct, int64_t ldc) {
  fp4_status st;
  float alpha_eff;
  if ((st = fp4__check_tensor(A)) != FP4_OK || (st = fp4__check_tensor(B)) != FP4_OK) return st;
  if (A->format != B->format || A->cols != B->cols) return FP4_ERR_UNSUPPORTED;
  if ((st = fp4__check_gemm_out(C, ct, A->rows, B->rows, ldc, B)) != FP4_OK) return st;
  {
    size_t cs = fp4__span(A->rows, B->rows, ldc, ct);
    if (fp4__overlap(C, cs, A->data, fp4_data_bytes(A->rows, A->cols)) ||
        fp4__overlap(C, cs, A->scales, fp4_scale_bytes(A->format, A->rows, A->cols, A->scale_layout)))
      return FP4_ERR_ALIAS;
  }
  alpha_eff = fp4__mul(alpha, A->tensor_scale) * B->tensor_scale;
  fp4__gemm_w4a4_cols(A, B, alpha_eff, beta, C, ct, ldc, 0, B->rows);
  return FP4_OK;
}

/* W4A16 reference for output columns [nb, ne): per scale block an fp32 dot product of the activations
 * with the unscaled E2M1 values, times the block scale, summed in K order; the tensor scale folds into
 * alpha (alpha_eff). */
FP4_API void fp4__gemm_w4a16_cols(const void *A, fp4_dtype at, int64_t M, int64_t lda, const fp4_tensor *B,
                                  float alpha_eff, float beta, void *C, fp4_dtype ct, int64_t ldc, int64_t nb,
                                  int64_t ne) {
  int64_t m, n, b, nbk;
  int blk = fp4_format_block(B->format);
  nbk = B->cols / blk;
  for (m = 0; m < M; m++)
    for (n = nb; n < ne; n++) {
      float acc = 0.0f;
      for (b = 0; b < nbk; b++) {
        float p = 0.0f;
        uint8_t s = fp4__scale_at(B, n, b);
        int k;
        for (k = 0; k < blk; k++)
          p = p + fp4__mul(fp4__load(A, at, m * lda + b * blk + k), fp4_e2m1_to_float(fp4__code_at(B, n, b * blk + k)));
        acc = acc + fp4__mul(p, B->format == FP4_MXFP4 ? fp4_e8m0_to_float(s) : fp4_e4m3_to_float(s));
      }
      fp4__store(C, ct, m * ldc + n,
                 fp4_gemm_epilogue(alpha_eff, acc, beta, beta != 0.0f ? fp4__load(C, ct, m * ldc + n) : 0.0f));
    }
}

FP4_API fp4_status fp4__gemm_w4a16(const void *A, fp4_dtype at, int64_t M, int64_t lda, const fp4_tensor *B,
                                   float alpha, float beta, void *C, fp4_dtype ct, int64_t ldc) {
  fp4_status st;
  float alpha_eff;
  if ((st = fp4__check_tensor(B)) != FP4_OK) return st;
  if (!A) return FP4_ERR_NULL;
  if ((st = fp4__check_dims(M, B->cols, lda)) != FP4_OK) return st;
  if ((uintptr_t)A % fp4__dtype_size(at)) return FP4_ERR_ALIGN;
  if ((st = fp4__check_gemm_out(C, ct, M, B->rows, ldc, B)) != FP4_OK) return st;
  if (fp4__overlap(C, fp4__span(M, B->rows, ldc, ct), A, fp4__span(M, B->cols, lda, at))) return FP4_ERR_ALIAS;
  alpha_eff = alpha * B->tensor_scale;
  fp4__gemm_w4a16_cols(A, at, M, lda, B, alpha_eff, beta, C, ct, ldc, 0, B->rows);
  return FP4_OK;
}

FP4_API size_t fp4_gemm_workspace_size(int64_t M, int64_t N, int64_t K) {
  (void)M;
  (void)N;
  (void)K;
  return 0;
}

/* Stamp out the public GEMM names (STYLE: macros make names and thin wrappers; bodies stay functions).
 * FP4__GEMM_W4A4(out name, out C type, out dtype)
 * FP4__GEMM_W4A16(act name, act C type, act dtype, out name, out C type, out dtype) */
#define FP4__CAT3_(a, b, c) a##b##c
#define FP4__CAT3(a, b, c) FP4__CAT3_(a, b, c)
#define FP4__GEMM_W4A4(ON, OT, ODT)                                                                      \
  FP4_API fp4_status FP4__CAT3(fp4_gemm_w4a4_, ON, )(const fp4_tensor *A, const fp4_tensor *B, float alpha, \
                                                     float beta, OT *C, int64_t ldc, void *ws, size_t ws_bytes) { \
    (void)ws;                                                                                            \
    (void)ws_bytes;                                                                                      \
    return fp4__gemm_w4a4(A, B, alpha, beta, C, ODT, ldc);                                               \
  }
#define FP4__GEMM_W4A16(AN, AT, ADT, ON, OT, ODT)                                                        \
  FP4_API fp4_status FP4__CAT3(fp4_gemm_w4a16_, AN, FP4__CAT3(_, ON, ))(                                \
      const AT *A, int64_t M, int64_t lda, const fp4_tensor *B, float alpha, float beta, OT *C, int64_t ldc, \
      void *ws, size_t ws_bytes) {                                                                       \
    (void)ws;                                                                                            \
    (void)ws_bytes;                                                                                      \
    return fp4__gemm_w4a16(A, ADT, M, lda, B, alpha, beta, C, ODT, ldc);                                 \
  }
#define FP4__GEMM_W4A16_OUTS(AN, AT, ADT)             \
  FP4__GEMM_W4A16(AN, AT, ADT, f32, float, FP4_F32)   \
  FP4__GEMM_W4A16(AN, AT, ADT, bf16, uint16_t, FP4_BF16) \
  FP4__GEMM_W4A16(AN, AT, ADT, f16, uint16_t, FP4_F16)

FP4__GEMM_W4A4(bf16, uint16_t, FP4_BF16)
FP4__GEMM_W4A4(f16, uint16_t, FP4_F16)
FP4__GEMM_W4A16_OUTS(f32, float, FP4_F32)
FP4__GEMM_W4A16_OUTS(bf16, uint16_t, FP4_BF16)
FP4__GEMM_W4A16_OUTS(f16, uint16_t, FP4_F16)

FP4_API fp4_status fp4_gemm_w4a4_f32(const fp4_tensor *A, const fp4_tensor *B, float alpha, float beta, float *C,
                                     int64_t ldc, void *ws, size_t ws_bytes) {
  (void)ws;
  (void)ws_bytes;
  return fp4__gemm_w4a4(A, B, alpha, beta, C, FP4_F32, ldc);
}

#undef FP4__GEMM_W4A4
#undef FP4__GEMM_W4A16
#undef FP4__GEMM_W4A16_OUTS

#ifdef __cplusplus
}
#endif
#endif /* FP4_H */

/*
 * MIT License
 *
 * Copyright (c) 2026 the fp4 authors
 *
 * Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
 * associated documentation files (the "Software"), to deal in the Software without restriction,
 * including without limitation the rights to use, copy, modify, merge, publish, distribute,
 * sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
 * furnished to do so, subject to the following conditions:
 *
 * The above copyright notice and this permission notice shall be included in all copies or
 * substantial portions of the Software.
 *
 * THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
 * NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
 * NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
 * DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT
 * OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
 */
