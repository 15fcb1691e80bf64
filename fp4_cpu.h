/* SPDX-License-Identifier: MIT */
/*
 * fp4_cpu.h - SIMD CPU back end for fp4.h: AVX-512, AVX2 and the scalar reference as fallback.
 *
 * Same entry points as fp4.h with the fp4_cpu_ prefix and the same signatures (switching is a prefix
 * change), same output bytes for every input, rule, option and seed (spec §3-§5). The hot cases
 * (round to nearest; OCP, CEIL, ABSMAX3, NV_6, NV_4 and the three Four Over Six rules; f32, bf16 and
 * f16 input; with or without Hadamard and its bf16 rounding) run vectorized; the rest (stochastic
 * rounding, QUEST, ADAPTIVE, transpose, 2D scaling) runs through fp4.h's block functions.
 *
 * Usage:
 *     #include "fp4_cpu.h"          // includes fp4.h; build with -mavx2 -mf16c, or -march=native
 *     fp4_quant_config cfg = fp4_config_default(FP4_NVFP4);
 *     fp4_tensor t; fp4_tensor_init(&t, q, s, FP4_LAYOUT_LINEAR);
 *     fp4_status st = fp4_cpu_quantize_f32(x, rows, cols, cols, &cfg, &t, NULL, 0);
 *     fp4_cpu_gemm_w4a16_f32_f32(act, 1, K, &t, 1.0f, 0.0f, out, N, NULL, 0);   // decode GEMV
 *     // own thread pool: NVFP4 needs the tensor amax first, then any split of rows
 *     float a = 0; fp4_cpu_amax_f32(x, rows, cols, cols, &cfg, r0, r1, &a);    // per thread, then max
 *     cfg.has_amax = 1; cfg.amax = a;
 *     fp4_cpu_quantize_rows_f32(x, rows, cols, cols, &cfg, &t, r0, r1);
 *
 * Contents (search for the banners):
 *     ==== configuration ====   ISA selection, kill switches, FP4_CPU_FORCE_ISA
 *     ==== declarations ====    the public API beyond fp4.h's names
 *     ==== vocabulary ====      per-ISA helpers (a few intrinsics each)
 *     ==== common ====          validation, scalar (reference) row kernels
 *     ==== kernels ====         the per-ISA kernels, one body re-included per ISA (==== body ====)
 *     ==== dispatch ====        ranges, OpenMP, public entry points and the _scalar/_avx2/_avx512 variants
 *
 * Threading: every kernel runs on a row range (quantize: rows of the quantized tensor; dequantize:
 * rows; GEMM: output columns n, i.e. rows of B), so callers can use their own pool; compiled with
 * -fopenmp the whole-tensor entry points split their work with OpenMP (no other dependency).
 * Stack: the W4A4 GEMM without workspace keeps its operand tiles on the stack (about 60 KB with
 * AVX2, 100 KB with AVX-512 per call), the W4A16 GEMM for M <= 16 about 70 KB, the rest a few KB;
 * threads with small stacks should call the scalar variants.
 * Workspace: the whole-tensor W4A4 GEMMs pack both operands once per call into caller memory of
 * fp4_cpu_gemm_workspace_size(M, N, K) bytes when given (faster; same bits), else per chunk.
 *
 * Exactness: quantize, dequantize, fake quantize, Hadamard and the W4A4 GEMM give fp4.h's bytes on
 * every path (spec §5's reproducible W4A4: lanes are output columns, each summing its blocks in K
 * order). The W4A16 GEMMs use fp32 FMA with their own summation order: within spec §5's bound
 * (relative Frobenius error 1e-5 against float64), not bit-identical to fp4.h.
 * NaN payloads: fp4_cpu_hadamard_f32 of a NaN input may carry a different NaN payload than fp4.h
 * (non-finite blocks in quantization are defined by spec §4 and are identical).
 */
#if !defined(FP4__CPU_BODY)
#ifndef FP4_CPU_H
#define FP4_CPU_H

#include "fp4.h"

/* ==== configuration ==== */
/* FP4_NO_AVX512, FP4_NO_AVX2: compile those paths out even when the compiler targets them.
 * FP4_CPU_FORCE_ISA: FP4_CPU_SCALAR, FP4_CPU_AVX2 or FP4_CPU_AVX512 - the path the unsuffixed entry
 *                    points take (default: the best one compiled in).
 * FP4_CPU_SELF:      this file's name as #include sees it (the kernel body re-includes it per ISA). */
#ifndef FP4_CPU_SELF
#define FP4_CPU_SELF "fp4_cpu.h"
#endif
/* FP4_CPU_DISPATCH: (gcc / clang, x86) also compile the AVX2 and AVX-512 (+VNNI) paths when the
 *                    compiler does not target them, through target attributes, and let the
 *                    unsuffixed entry points pick the best path the running CPU supports (CPUID and
 *                    XGETBV on every call; no global state). */
#if defined(FP4_CPU_DISPATCH) && (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define FP4__DISPATCH 1
#else
#define FP4__DISPATCH 0
#endif
#if !defined(FP4_NO_AVX2) && ((defined(__AVX2__) && defined(__F16C__)) || FP4__DISPATCH)
#define FP4_CPU_HAVE_AVX2 1
#else
#define FP4_CPU_HAVE_AVX2 0
#endif
#if !defined(FP4_NO_AVX512) && FP4_CPU_HAVE_AVX2 &&                                                  \
    ((defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)) || FP4__DISPATCH)
#define FP4_CPU_HAVE_AVX512 1
#else
#define FP4_CPU_HAVE_AVX512 0
#endif
#if FP4_CPU_HAVE_AVX512 && (defined(__AVX512VNNI__) || FP4__DISPATCH)
#define FP4_CPU_HAVE_VNNI 1
#else
#define FP4_CPU_HAVE_VNNI 0
#endif
#if FP4_CPU_HAVE_AVX2
#include <immintrin.h>
#endif
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif
/* Target regions for the per-ISA code (empty unless FP4_CPU_DISPATCH). */
#if FP4__DISPATCH && defined(__clang__)
#define FP4__TARGET_AVX2 \
  _Pragma("clang attribute push(__attribute__((target(\"avx2,fma,f16c\"))), apply_to = function)")
#define FP4__TARGET_AVX512 \
  _Pragma("clang attribute push(__attribute__((target(\"avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni\"))), apply_to = function)")
#define FP4__TARGET_END _Pragma("clang attribute pop")
#elif FP4__DISPATCH
#define FP4__TARGET_AVX2 _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma,f16c\")")
#define FP4__TARGET_AVX512 \
  _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni\")")
#define FP4__TARGET_END _Pragma("GCC pop_options")
#else
#define FP4__TARGET_AVX2
#define FP4__TARGET_AVX512
#define FP4__TARGET_END
#endif

/* X(NAME, suffix): the instruction-set paths, best last */
#define FP4_CPU_ISA_LIST(X) \
  X(SCALAR, scalar)         \
  X(AVX2, avx2)             \
  X(AVX512, avx512)

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fp4_cpu_isa {
#define FP4__X(name, suf) FP4_CPU_##name,
  FP4_CPU_ISA_LIST(FP4__X)
#undef FP4__X
  FP4_CPU_ISA_COUNT
} fp4_cpu_isa;

#ifndef FP4_CPU_FORCE_ISA
#if FP4__DISPATCH
#define FP4_CPU_FORCE_ISA fp4_cpu_isa_best()
#elif FP4_CPU_HAVE_AVX512
#define FP4_CPU_FORCE_ISA FP4_CPU_AVX512
#elif FP4_CPU_HAVE_AVX2
#define FP4_CPU_FORCE_ISA FP4_CPU_AVX2
#else
#define FP4_CPU_FORCE_ISA FP4_CPU_SCALAR
#endif
#endif

/* ==== declarations ==== */
/* fp4_cpu_isa_name; fp4_cpu_isa_compiled(isa): is that path in this build (scalar always is). */
FP4_API const char *fp4_cpu_isa_name(fp4_cpu_isa isa);
FP4_API int fp4_cpu_isa_compiled(fp4_cpu_isa isa);
/* fp4_cpu_isa_supported(isa): does the running CPU (and OS) support that path (CPUID, XGETBV);
 * fp4_cpu_isa_best(): the best path both compiled in and supported. */
FP4_API int fp4_cpu_isa_supported(fp4_cpu_isa isa);
FP4_API fp4_cpu_isa fp4_cpu_isa_best(void);
/* The same tensor API as fp4.h (spec §4, §5), prefixed fp4_cpu_:
 *   fp4_cpu_quantize_{f32,bf16,f16}, fp4_cpu_dequantize_{f32,bf16,f16}, fp4_cpu_fake_quantize_f32,
 *   fp4_cpu_hadamard_f32, fp4_cpu_gemm_w4a4_{f32,bf16,f16}, fp4_cpu_gemm_w4a16_{f32,bf16,f16}_{f32,bf16,f16},
 *   fp4_cpu_quantize_workspace_size, fp4_cpu_gemm_workspace_size;
 * each also with the suffix _scalar, _avx2, _avx512 (those compiled in) to force a path.
 * Row ranges for callers' own threads (single-threaded, no OpenMP inside):
 *   fp4_cpu_amax_{f32,bf16,f16}(x, rows, cols, ldx, cfg, row_begin, row_end, float *amax)
 *       max |value| (finite, after transpose / Hadamard / bf16 rounding) over quantized rows
 *       [row_begin, row_end); *amax is max-ed into, so start it at 0.
 *   fp4_cpu_quantize_rows_{f32,bf16,f16}(x, rows, cols, ldx, cfg, out, row_begin, row_end)
 *       quantize rows [row_begin, row_end) of the quantized tensor; NVFP4 needs cfg->has_amax
 *       (the whole tensor's amax); 2D scaling needs row_begin a multiple of 16 and row_end too, or
 *       row_end = rows of the quantized tensor. Every call fills out's header fields alike.
 *   fp4_cpu_dequantize_rows_{f32,bf16,f16}(t, y, ldy, row_begin, row_end)
 *   fp4_cpu_gemm_w4a4_{o}_cols(A, B, alpha, beta, C, ldc, n_begin, n_end)
 *   fp4_cpu_gemm_w4a16_{a}_{o}_cols(A, M, lda, B, alpha, beta, C, ldc, n_begin, n_end)
 *       columns [n_begin, n_end) of C. */

#ifdef __cplusplus
}
#endif

/* ==== vocabulary ==== */
/* A few helpers per ISA; the kernel body (==== body ====) is written once against these names and
 * re-included per ISA. FP4__W: lanes of fp32. Float products that feed an add pass through
 * FP4__VBAR (an empty asm) so that no compiler contracts them into an FMA (STYLE: float discipline). */
#if FP4_CPU_HAVE_AVX2
FP4__TARGET_AVX2
#ifdef __cplusplus
extern "C" {
#endif
/* E2M1 code (spec §1) of each lane without compares per midpoint: a = min(|y|, 6) (NaN gives 6, so
 * 7 with the sign, as fp4_e2m1_from_float); a < 1: round(2a) to nearest even (the 0.5 steps);
 * a >= 1: the float's exponent and first mantissa bit, rounded to nearest even on the bits (steps
 * 0.5, 1, 2 in [1, 2), [2, 4), [4, 6]): code = that 9-bit field - 252. The sign bit goes to bit 3. */
static inline __m256i fp4__e2m1_avx2(__m256 y) {
  __m256 a = _mm256_min_ps(_mm256_and_ps(y, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF))), _mm256_set1_ps(6.0f));
  __m256i b = _mm256_castps_si256(a);
  __m256i hi = _mm256_sub_epi32(
      _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(b, _mm256_set1_epi32(0x1FFFFF)),
                                         _mm256_and_si256(_mm256_srli_epi32(b, 22), _mm256_set1_epi32(1))),
                        22),
      _mm256_set1_epi32(252));
  __m256i lo = _mm256_cvttps_epi32(_mm256_round_ps(_mm256_add_ps(a, a), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  __m256i c = _mm256_blendv_epi8(hi, lo, _mm256_cmpgt_epi32(_mm256_set1_epi32(0x3F800000), b));
  return _mm256_or_si256(c, _mm256_and_si256(_mm256_srli_epi32(_mm256_castps_si256(y), 28), _mm256_set1_epi32(8)));
}
/* 8 codes (0..15 in int32 lanes) to 4 packed bytes, element 2j in the low nibble. */
static inline void fp4__pack_avx2(__m256i c, uint8_t *dst) {
  __m256i t = _mm256_or_si256(c, _mm256_srli_epi64(c, 28));
  __m256i s = _mm256_shuffle_epi8(t, _mm256_setr_epi8(0, 8, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                                      0, 8, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1));
  uint32_t lo = (uint32_t)_mm_cvtsi128_si32(_mm256_castsi256_si128(s));
  uint32_t hi = (uint32_t)_mm_cvtsi128_si32(_mm256_extracti128_si256(s, 1));
  uint32_t w = (lo & 0xFFFFu) | (hi << 16);
  memcpy(dst, &w, 4);
}
/* 16 codes (two vectors, element order) to 8 packed bytes: saturating packs to bytes, adjacent
 * pairs joined by one u8 x s8 dot product (c_even + 16 c_odd), then the two 128-bit halves interleaved. */
static inline void fp4__pack2_avx2(__m256i c0, __m256i c1, uint8_t *dst) {
  __m256i w = _mm256_packus_epi32(c0, c1);
  __m256i b = _mm256_packus_epi16(w, w);
  __m256i j = _mm256_maddubs_epi16(b, _mm256_set1_epi16(0x1001));
  __m256i k = _mm256_packus_epi16(j, j);
  _mm_storel_epi64((__m128i *)dst, _mm_unpacklo_epi16(_mm256_castsi256_si128(k), _mm256_extracti128_si256(k, 1)));
}
/* 16 packed bytes to 32 code bytes in element order. */
static inline void fp4__nibbles_sse(__m128i b, __m128i *lo, __m128i *hi) {
  __m128i m = _mm_set1_epi8(0x0F), l = _mm_and_si128(b, m), h = _mm_and_si128(_mm_srli_epi16(b, 4), m);
  *lo = _mm_unpacklo_epi8(l, h);
  *hi = _mm_unpackhi_epi8(l, h);
}
/* 4 packed bytes to 8 codes in int32 lanes. */
static inline __m256i fp4__unpack_avx2(const uint8_t *src) {
  int32_t w;
  __m128i lo, hi;
  memcpy(&w, src, 4);
  fp4__nibbles_sse(_mm_cvtsi32_si128(w), &lo, &hi);
  (void)hi;
  return _mm256_cvtepu8_epi32(lo);
}
/* 16 packed bytes to 32 codes in four int32 vectors. */
static inline void fp4__unpack32_avx2(const uint8_t *src, __m256i *c) {
  __m128i lo, hi;
  fp4__nibbles_sse(_mm_loadu_si128((const __m128i *)src), &lo, &hi);
  c[0] = _mm256_cvtepu8_epi32(lo);
  c[1] = _mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8));
  c[2] = _mm256_cvtepu8_epi32(hi);
  c[3] = _mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8));
}
/* E2M1 value of each code (a table of the 8 magnitudes, then the sign). */
static inline __m256 fp4__e2m1f_avx2(__m256i c) {
  __m256 m = _mm256_permutevar8x32_ps(_mm256_setr_ps(0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f), c);
  return _mm256_castsi256_ps(
      _mm256_or_si256(_mm256_castps_si256(m), _mm256_slli_epi32(_mm256_and_si256(c, _mm256_set1_epi32(8)), 28)));
}
static inline uint32_t fp4__hmaxu_avx2(__m256i v) {
  __m128i m = _mm_max_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  m = _mm_max_epi32(m, _mm_shuffle_epi32(m, 0x4E));
  m = _mm_max_epi32(m, _mm_shuffle_epi32(m, 0xB1));
  return (uint32_t)_mm_cvtsi128_si32(m);
}
static inline float fp4__hsum_avx2(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
static inline __m256 fp4__ldbf16_avx2(const uint16_t *p) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}
static inline __m256 fp4__ldf16_avx2(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
/* f32 -> bf16 bits (RNE, quiet NaN) in int32 lanes, as fp4_f32_to_bf16. */
static inline __m256i fp4__bf16bits_avx2(__m256 v) {
  __m256i b = _mm256_castps_si256(v), one = _mm256_set1_epi32(1);
  __m256i r = _mm256_srli_epi32(
      _mm256_add_epi32(_mm256_add_epi32(b, _mm256_set1_epi32(0x7FFF)), _mm256_and_si256(_mm256_srli_epi32(b, 16), one)), 16);
  __m256i q = _mm256_or_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(0x40));
  __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(b, _mm256_set1_epi32(0x7FFFFFFF)), _mm256_set1_epi32(0x7F800000));
  return _mm256_blendv_epi8(r, q, nan);
}
static inline __m256 fp4__bf16rt_avx2(__m256 v) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(fp4__bf16bits_avx2(v), 16));
}
static inline void fp4__stbf16_avx2(uint16_t *p, __m256 v) {
  __m256i r = fp4__bf16bits_avx2(v);
  _mm_storeu_si128((__m128i *)p, _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1)));
}
static inline void fp4__stf16_avx2(uint16_t *p, __m256 v) {
  _mm_storeu_si128((__m128i *)p, _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
}
/* Sign masks for lanes i .. i+7 from a 256-bit sign set (bit set: d_i = -1). */
static inline __m256 fp4__signs_avx2(const uint32_t *sp, int i) {
  __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  __m256i v = _mm256_set1_epi32((int)((sp[i >> 5] >> (i & 31)) & 0xFFu));
  return _mm256_castsi256_ps(
      _mm256_and_si256(_mm256_cmpeq_epi32(_mm256_and_si256(v, bit), bit), _mm256_set1_epi32((int)0x80000000u)));
}
/* The Walsh-Hadamard butterflies with h = 1, 2, 4 inside one vector (a' = a + b, b' = a - b). */
static inline __m256 fp4__bfly_avx2(__m256 v) {
  __m256 lo = _mm256_moveldup_ps(v), hi = _mm256_movehdup_ps(v);
  v = _mm256_blend_ps(_mm256_add_ps(lo, hi), _mm256_sub_ps(lo, hi), 0xAA);
  lo = _mm256_shuffle_ps(v, v, 0x44);
  hi = _mm256_shuffle_ps(v, v, 0xEE);
  v = _mm256_blend_ps(_mm256_add_ps(lo, hi), _mm256_sub_ps(lo, hi), 0xCC);
  lo = _mm256_permute2f128_ps(v, v, 0x00);
  hi = _mm256_permute2f128_ps(v, v, 0x11);
  return _mm256_blend_ps(_mm256_add_ps(lo, hi), _mm256_sub_ps(lo, hi), 0xF0);
}
/* E4M3 code of each lane, as fp4_e4m3_from_float (RNE, saturating, NaN 0x7F); the subnormal
 * range rounds |x| * 2^9 to an integer (ties to even), as the scalar code does by hand. */
static inline __m256i fp4__e4m3_avx2(__m256 x) {
  __m256i b = _mm256_castps_si256(x), a = _mm256_and_si256(b, _mm256_set1_epi32(0x7FFFFFFF));
  __m256i s = _mm256_and_si256(_mm256_srli_epi32(b, 24), _mm256_set1_epi32(0x80));
  __m256i nrm = _mm256_sub_epi32(
      _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(a, _mm256_set1_epi32(0x7FFFF)),
                                         _mm256_and_si256(_mm256_srli_epi32(a, 20), _mm256_set1_epi32(1))),
                        20),
      _mm256_set1_epi32(120 << 3));
  __m256i sub = _mm256_cvttps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_castsi256_ps(a), _mm256_set1_ps(512.0f)),
                                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  __m256i r = _mm256_blendv_epi8(sub, nrm, _mm256_cmpgt_epi32(a, _mm256_set1_epi32(0x3C7FFFFF)));
  r = _mm256_blendv_epi8(r, _mm256_set1_epi32(0x7E), _mm256_cmpgt_epi32(a, _mm256_set1_epi32(0x43E80000)));
  r = _mm256_or_si256(r, s);
  return _mm256_blendv_epi8(r, _mm256_set1_epi32(0x7F), _mm256_cmpgt_epi32(a, _mm256_set1_epi32(0x7F800000)));
}
/* E4M3 value of each code (0..255 in int32 lanes), as fp4_e4m3_to_float. */
static inline __m256 fp4__e4m3f_avx2(__m256i c) {
  __m256i e = _mm256_and_si256(_mm256_srli_epi32(c, 3), _mm256_set1_epi32(15)), m = _mm256_and_si256(c, _mm256_set1_epi32(7));
  __m256 nrm = _mm256_castsi256_ps(
      _mm256_or_si256(_mm256_slli_epi32(_mm256_add_epi32(e, _mm256_set1_epi32(120)), 23), _mm256_slli_epi32(m, 20)));
  __m256 sub = _mm256_mul_ps(_mm256_cvtepi32_ps(m), _mm256_set1_ps(0.001953125f));
  __m256 v = _mm256_blendv_ps(nrm, sub, _mm256_castsi256_ps(_mm256_cmpeq_epi32(e, _mm256_setzero_si256())));
  v = _mm256_or_ps(v, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_and_si256(c, _mm256_set1_epi32(0x80)), 24)));
  return _mm256_blendv_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FC00000)),
                          _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(c, _mm256_set1_epi32(0x7F)),
                                                                 _mm256_set1_epi32(0x7F))));
}
/* x where v != 0, else +0. */
static inline __m256 fp4__nzkeep_avx2(__m256 x, __m256 v) {
  return _mm256_and_ps(x, _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_NEQ_UQ));
}
/* Four u8 x s8 products summed into each int32 lane (vpdpbusd without VNNI; no saturation for the
 * operands here: |u| <= 24, |s| <= 12). */
static inline __m256i fp4__dot4_avx2(__m256i acc, __m256i u, __m256i s) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
}
/* One block's worth of u8 x s8 products: int16 pair sums (at most 8 * 2 * 24 * 12 = 4608, no
 * overflow), widened to int32 lanes once per block by fp4__macfin. */
static inline __m256i fp4__mac_avx2(__m256i acc, __m256i u, __m256i s) {
  return _mm256_add_epi16(acc, _mm256_maddubs_epi16(u, s));
}
static inline __m256i fp4__macfin_avx2(__m256i acc) { return _mm256_madd_epi16(acc, _mm256_set1_epi16(1)); }
/* W4A16 decode: W packed bytes to int32 lanes (byte j in lane j: codes of elements 2j and 2j + 1);
 * the E2M1 value of the low and of the high nibble of each lane; evens and odds of 2W floats. */
static inline __m256i fp4__ldcodes_avx2(const uint8_t *p) { return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)); }
static inline __m256 fp4__e2m1lo_avx2(__m256i v) {
  __m256 m = _mm256_permutevar8x32_ps(_mm256_setr_ps(0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f), v);
  return _mm256_or_ps(m, _mm256_castsi256_ps(_mm256_and_si256(_mm256_slli_epi32(v, 28), _mm256_set1_epi32((int)0x80000000u))));
}
static inline __m256 fp4__e2m1hi_avx2(__m256i v) {
  __m256 m = _mm256_permutevar8x32_ps(_mm256_setr_ps(0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f), _mm256_srli_epi32(v, 4));
  return _mm256_or_ps(m, _mm256_castsi256_ps(_mm256_and_si256(_mm256_slli_epi32(v, 24), _mm256_set1_epi32((int)0x80000000u))));
}
static inline void fp4__deint_avx2(__m256 a, __m256 b, __m256 *ev, __m256 *od) {
  *ev = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
  *od = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
}
/* E8M0 value of each code (0..255 in int32 lanes), as fp4_e8m0_to_float. */
static inline __m256 fp4__e8m0f_avx2(__m256i c) {
  __m256i b = _mm256_slli_epi32(c, 23);
  b = _mm256_blendv_epi8(b, _mm256_set1_epi32(0x00400000), _mm256_cmpeq_epi32(c, _mm256_setzero_si256()));
  b = _mm256_blendv_epi8(b, _mm256_set1_epi32(0x7FC00000), _mm256_cmpeq_epi32(c, _mm256_set1_epi32(255)));
  return _mm256_castsi256_ps(b);
}
/* Packed W4A4: a block's correction term c = -12 * (sum of the B block), |c| <= 4608, as stored
 * (int16 accumulation: c in the low int16 of its int32 lane, 0 above, so that the int16 pair sums
 * can start from it); the accumulator it starts, and the block's int32 sums at the end. */
static inline int32_t fp4__corpack_avx2(int32_t c) { return (int32_t)((uint32_t)c & 0xFFFFu); }
static inline __m256i fp4__macinit_avx2(__m256i cor) { return cor; }
static inline __m256i fp4__macend_avx2(__m256i acc) { return fp4__macfin_avx2(acc); }
#ifdef __cplusplus
}
#endif
FP4__TARGET_END
#endif /* FP4_CPU_HAVE_AVX2 */

#if FP4_CPU_HAVE_AVX512
FP4__TARGET_AVX512
#ifdef __cplusplus
extern "C" {
#endif
/* As fp4__e2m1_avx2. */
static inline __m512i fp4__e2m1_avx512(__m512 y) {
  __m512 a = _mm512_min_ps(_mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(y), _mm512_set1_epi32(0x7FFFFFFF))),
                           _mm512_set1_ps(6.0f));
  __m512i b = _mm512_castps_si512(a);
  __m512i hi = _mm512_sub_epi32(
      _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(b, _mm512_set1_epi32(0x1FFFFF)),
                                         _mm512_and_si512(_mm512_srli_epi32(b, 22), _mm512_set1_epi32(1))),
                        22),
      _mm512_set1_epi32(252));
  __m512i lo = _mm512_cvt_roundps_epi32(_mm512_add_ps(a, a), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512i c = _mm512_mask_blend_epi32(_mm512_cmplt_epi32_mask(b, _mm512_set1_epi32(0x3F800000)), hi, lo);
  return _mm512_or_si512(c, _mm512_and_si512(_mm512_srli_epi32(_mm512_castps_si512(y), 28), _mm512_set1_epi32(8)));
}
/* 16 codes to 8 packed bytes. */
static inline void fp4__pack_avx512(__m512i c, uint8_t *dst) {
  __m512i t = _mm512_or_si512(c, _mm512_srli_epi64(c, 28));
  _mm_storel_epi64((__m128i *)dst, _mm512_cvtepi64_epi8(t));
}
static inline void fp4__pack2_avx512(__m512i c0, __m512i c1, uint8_t *dst) {
  fp4__pack_avx512(c0, dst);
  fp4__pack_avx512(c1, dst + 8);
}
static inline __m512i fp4__unpack_avx512(const uint8_t *src) {
  __m128i lo, hi;
  fp4__nibbles_sse(_mm_loadl_epi64((const __m128i *)src), &lo, &hi);
  (void)hi;
  return _mm512_cvtepu8_epi32(lo);
}
static inline void fp4__unpack32_avx512(const uint8_t *src, __m512i *c) {
  __m128i lo, hi;
  fp4__nibbles_sse(_mm_loadu_si128((const __m128i *)src), &lo, &hi);
  c[0] = _mm512_cvtepu8_epi32(lo);
  c[1] = _mm512_cvtepu8_epi32(hi);
}
static inline __m512 fp4__e2m1f_avx512(__m512i c) {
  return _mm512_permutexvar_ps(c, _mm512_setr_ps(0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f, -0.0f, -0.5f, -1.0f,
                                                 -1.5f, -2.0f, -3.0f, -4.0f, -6.0f));
}
static inline uint32_t fp4__hmaxu_avx512(__m512i v) { return (uint32_t)_mm512_reduce_max_epi32(v); }
static inline float fp4__hsum_avx512(__m512 v) { return _mm512_reduce_add_ps(v); }
static inline __m512 fp4__ldbf16_avx512(const uint16_t *p) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16));
}
static inline __m512 fp4__ldf16_avx512(const uint16_t *p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}
static inline __m512i fp4__bf16bits_avx512(__m512 v) {
  __m512i b = _mm512_castps_si512(v), one = _mm512_set1_epi32(1);
  __m512i r = _mm512_srli_epi32(
      _mm512_add_epi32(_mm512_add_epi32(b, _mm512_set1_epi32(0x7FFF)), _mm512_and_si512(_mm512_srli_epi32(b, 16), one)), 16);
  __m512i q = _mm512_or_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(0x40));
  __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(b, _mm512_set1_epi32(0x7FFFFFFF)), _mm512_set1_epi32(0x7F800000));
  return _mm512_mask_blend_epi32(nan, r, q);
}
static inline __m512 fp4__bf16rt_avx512(__m512 v) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(fp4__bf16bits_avx512(v), 16));
}
static inline void fp4__stbf16_avx512(uint16_t *p, __m512 v) {
  _mm256_storeu_si256((__m256i *)p, _mm512_cvtepi32_epi16(fp4__bf16bits_avx512(v)));
}
static inline void fp4__stf16_avx512(uint16_t *p, __m512 v) {
  _mm256_storeu_si256((__m256i *)p, _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
}
static inline __m512 fp4__signs_avx512(const uint32_t *sp, int i) {
  __mmask16 k = (__mmask16)((sp[i >> 5] >> (i & 31)) & 0xFFFFu);
  return _mm512_castsi512_ps(_mm512_maskz_mov_epi32(k, _mm512_set1_epi32((int)0x80000000u)));
}
/* Butterflies h = 1, 2, 4, 8 inside one vector. */
static inline __m512 fp4__bfly_avx512(__m512 v) {
  __m512 lo = _mm512_moveldup_ps(v), hi = _mm512_movehdup_ps(v);
  v = _mm512_mask_blend_ps(0xAAAA, _mm512_add_ps(lo, hi), _mm512_sub_ps(lo, hi));
  lo = _mm512_shuffle_ps(v, v, 0x44);
  hi = _mm512_shuffle_ps(v, v, 0xEE);
  v = _mm512_mask_blend_ps(0xCCCC, _mm512_add_ps(lo, hi), _mm512_sub_ps(lo, hi));
  lo = _mm512_shuffle_f32x4(v, v, 0xA0); /* 128-bit lanes 0,0,2,2 */
  hi = _mm512_shuffle_f32x4(v, v, 0xF5); /* 1,1,3,3 */
  v = _mm512_mask_blend_ps(0xF0F0, _mm512_add_ps(lo, hi), _mm512_sub_ps(lo, hi));
  lo = _mm512_shuffle_f32x4(v, v, 0x44); /* 0,1,0,1 */
  hi = _mm512_shuffle_f32x4(v, v, 0xEE); /* 2,3,2,3 */
  return _mm512_mask_blend_ps(0xFF00, _mm512_add_ps(lo, hi), _mm512_sub_ps(lo, hi));
}
static inline __m512i fp4__e4m3_avx512(__m512 x) {
  __m512i b = _mm512_castps_si512(x), a = _mm512_and_si512(b, _mm512_set1_epi32(0x7FFFFFFF));
  __m512i s = _mm512_and_si512(_mm512_srli_epi32(b, 24), _mm512_set1_epi32(0x80));
  __m512i nrm = _mm512_sub_epi32(
      _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(a, _mm512_set1_epi32(0x7FFFF)),
                                         _mm512_and_si512(_mm512_srli_epi32(a, 20), _mm512_set1_epi32(1))),
                        20),
      _mm512_set1_epi32(120 << 3));
  __m512i sub = _mm512_cvttps_epi32(
      _mm512_roundscale_ps(_mm512_mul_ps(_mm512_castsi512_ps(a), _mm512_set1_ps(512.0f)), _MM_FROUND_TO_NEAREST_INT));
  __m512i r = _mm512_mask_blend_epi32(_mm512_cmpgt_epi32_mask(a, _mm512_set1_epi32(0x3C7FFFFF)), sub, nrm);
  r = _mm512_mask_blend_epi32(_mm512_cmpgt_epi32_mask(a, _mm512_set1_epi32(0x43E80000)), r, _mm512_set1_epi32(0x7E));
  r = _mm512_or_si512(r, s);
  return _mm512_mask_blend_epi32(_mm512_cmpgt_epi32_mask(a, _mm512_set1_epi32(0x7F800000)), r, _mm512_set1_epi32(0x7F));
}
static inline __m512 fp4__e4m3f_avx512(__m512i c) {
  __m512i e = _mm512_and_si512(_mm512_srli_epi32(c, 3), _mm512_set1_epi32(15)), m = _mm512_and_si512(c, _mm512_set1_epi32(7));
  __m512i nrm = _mm512_or_si512(_mm512_slli_epi32(_mm512_add_epi32(e, _mm512_set1_epi32(120)), 23), _mm512_slli_epi32(m, 20));
  __m512i sub = _mm512_castps_si512(_mm512_mul_ps(_mm512_cvtepi32_ps(m), _mm512_set1_ps(0.001953125f)));
  __m512i v = _mm512_mask_blend_epi32(_mm512_cmpeq_epi32_mask(e, _mm512_setzero_si512()), nrm, sub);
  v = _mm512_or_si512(v, _mm512_slli_epi32(_mm512_and_si512(c, _mm512_set1_epi32(0x80)), 24));
  v = _mm512_mask_blend_epi32(_mm512_cmpeq_epi32_mask(_mm512_and_si512(c, _mm512_set1_epi32(0x7F)), _mm512_set1_epi32(0x7F)),
                              v, _mm512_set1_epi32(0x7FC00000));
  return _mm512_castsi512_ps(v);
}
static inline __m512 fp4__nzkeep_avx512(__m512 x, __m512 v) {
  return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_NEQ_UQ), x);
}
static inline __m512i fp4__dot4_avx512(__m512i acc, __m512i u, __m512i s) {
#if FP4_CPU_HAVE_VNNI
  return _mm512_dpbusd_epi32(acc, u, s);
#else
  return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(u, s), _mm512_set1_epi16(1)));
#endif
}
/* VNNI: vpdpbusd straight into int32 lanes; otherwise int16 pair sums widened once per block. */
static inline __m512i fp4__mac_avx512(__m512i acc, __m512i u, __m512i s) {
#if FP4_CPU_HAVE_VNNI
  return _mm512_dpbusd_epi32(acc, u, s);
#else
  return _mm512_add_epi16(acc, _mm512_maddubs_epi16(u, s));
#endif
}
static inline __m512i fp4__macfin_avx512(__m512i acc) {
#if FP4_CPU_HAVE_VNNI
  return acc;
#else
  return _mm512_madd_epi16(acc, _mm512_set1_epi16(1));
#endif
}
static inline __m512i fp4__ldcodes_avx512(const uint8_t *p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p)); }
static inline __m512 fp4__e2m1lo_avx512(__m512i v) { return fp4__e2m1f_avx512(v); } /* vpermps reads index bits 0-3 */
static inline __m512 fp4__e2m1hi_avx512(__m512i v) { return fp4__e2m1f_avx512(_mm512_srli_epi32(v, 4)); }
static inline void fp4__deint_avx512(__m512 a, __m512 b, __m512 *ev, __m512 *od) {
  *ev = _mm512_permutex2var_ps(a, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), b);
  *od = _mm512_permutex2var_ps(a, _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), b);
}
static inline __m512 fp4__e8m0f_avx512(__m512i c) {
  __m512i b = _mm512_slli_epi32(c, 23);
  b = _mm512_mask_blend_epi32(_mm512_cmpeq_epi32_mask(c, _mm512_setzero_si512()), b, _mm512_set1_epi32(0x00400000));
  b = _mm512_mask_blend_epi32(_mm512_cmpeq_epi32_mask(c, _mm512_set1_epi32(255)), b, _mm512_set1_epi32(0x7FC00000));
  return _mm512_castsi512_ps(b);
}
/* s[0] in lanes 0-7, s[1] in lanes 8-15. */
static inline __m512 fp4__halves_avx512(const float *s) {
  return _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(s[0]), _mm512_set1_ps(s[1]));
}
/* As fp4__corpack_avx2 (VNNI: int32 accumulation from c itself). */
static inline int32_t fp4__corpack_avx512(int32_t c) {
#if FP4_CPU_HAVE_VNNI
  return c;
#else
  return (int32_t)((uint32_t)c & 0xFFFFu);
#endif
}
static inline __m512i fp4__macinit_avx512(__m512i cor) { return cor; }
static inline __m512i fp4__macend_avx512(__m512i acc) { return fp4__macfin_avx512(acc); }
#ifdef __cplusplus
}
#endif
FP4__TARGET_END
#endif /* FP4_CPU_HAVE_AVX512 */

/* ==== common ==== */
#ifdef __cplusplus
extern "C" {
#endif

FP4_API const char *fp4_cpu_isa_name(fp4_cpu_isa isa) {
  switch (isa) {
#define FP4__X(name, suf) \
  case FP4_CPU_##name: return #suf;
    FP4_CPU_ISA_LIST(FP4__X)
#undef FP4__X
  default: return "unknown";
  }
}

FP4_API int fp4_cpu_isa_compiled(fp4_cpu_isa isa) {
  return isa == FP4_CPU_SCALAR || (isa == FP4_CPU_AVX2 && FP4_CPU_HAVE_AVX2) ||
         (isa == FP4_CPU_AVX512 && FP4_CPU_HAVE_AVX512);
}

FP4_API int fp4_cpu_isa_supported(fp4_cpu_isa isa) {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  unsigned a, b, c, d, lo, hi;
  unsigned long long xcr0;
  int avx2, avx512;
  if (isa == FP4_CPU_SCALAR) return 1;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  if (!(c & (1u << 27)) || !(c & (1u << 28)) || !(c & (1u << 12)) || !(c & (1u << 29))) return 0; /* OSXSAVE AVX FMA F16C */
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  xcr0 = ((unsigned long long)hi << 32) | lo;
  if ((xcr0 & 6u) != 6u || !__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
  avx2 = (b >> 5) & 1u;
  avx512 = avx2 && (xcr0 & 0xE6u) == 0xE6u && ((b >> 16) & 1u) && ((b >> 30) & 1u) && ((b >> 31) & 1u) &&
           (!FP4_CPU_HAVE_VNNI || ((c >> 11) & 1u)); /* F, BW, VL (and VNNI when compiled in) */
  return isa == FP4_CPU_AVX2 ? avx2 : isa == FP4_CPU_AVX512 ? avx512 : 0;
#else
  return isa == FP4_CPU_SCALAR;
#endif
}

FP4_API fp4_cpu_isa fp4_cpu_isa_best(void) {
  if (FP4_CPU_HAVE_AVX512 && fp4_cpu_isa_supported(FP4_CPU_AVX512)) return FP4_CPU_AVX512;
  if (FP4_CPU_HAVE_AVX2 && fp4_cpu_isa_supported(FP4_CPU_AVX2)) return FP4_CPU_AVX2;
  return FP4_CPU_SCALAR;
}

/* A validated quantization: fp4.h's context and sink, and whether the vector path applies. */
typedef struct fp4__cpu_job {
  fp4__qctx q;
  fp4__sink k;
  int fast;   /* RNE, no transpose, no 2D, a rule with a vector kernel */
  int has_amax;
} fp4__cpu_job;

/* Validation identical to fp4__quantize (same checks, same order, same status codes), then the
 * context; the NVFP4 tensor scale is set later by fp4__cpu_set_amax. */
FP4_API fp4_status fp4__cpu_setup(const void *x, fp4_dtype dt, int64_t rows, int64_t cols, int64_t ldx,
                                  const fp4_quant_config *cfg, const fp4__sink *k, fp4__cpu_job *j) {
  fp4__qctx *q = &j->q;
  fp4_status st;
  memset(j, 0, sizeof *j);
  if (!x || !cfg) return FP4_ERR_NULL;
  if ((st = fp4__check_config(cfg, &q->rule)) != FP4_OK) return st;
  if ((unsigned)k->layout >= FP4_LAYOUT_COUNT) return FP4_ERR_ENUM;
  if ((st = fp4__check_dims(rows, cols, ldx)) != FP4_OK) return st;
  q->x = x;
  q->dt = dt;
  q->ldx = ldx;
  q->xcols = cols;
  q->transpose = cfg->transpose != 0;
  q->R = q->transpose ? cols : rows;
  q->C = q->transpose ? rows : cols;
  q->fmt = cfg->format;
  q->block = fp4_format_block(q->fmt);
  q->g = cfg->hadamard;
  q->L = q->g > q->block ? q->g : q->block;
  q->sr = cfg->rounding == FP4_ROUND_STOCHASTIC;
  q->bf16 = cfg->hadamard_bf16 != 0;
  q->seed = cfg->seed;
  q->sp = 0;
  if (q->C % q->L) return FP4_ERR_SHAPE;
  if (k->mask && q->rule != FP4_MX_QUEST) return FP4_ERR_UNSUPPORTED;
  if ((uintptr_t)x % fp4__dtype_size(dt) || (k->y && (uintptr_t)k->y % 4)) return FP4_ERR_ALIGN;
  if (k->y && (st = fp4__check_dims(q->R, q->C, k->ldy)) != FP4_OK) return st;
  {
    size_t xs = fp4__span(rows, cols, ldx, dt);
    if (k->t && (fp4__overlap(x, xs, k->t->data, fp4_data_bytes(q->R, q->C)) ||
                 fp4__overlap(x, xs, k->t->scales, fp4_scale_bytes(q->fmt, q->R, q->C, k->layout)) ||
                 fp4__overlap(k->t->data, fp4_data_bytes(q->R, q->C), k->t->scales,
                              fp4_scale_bytes(q->fmt, q->R, q->C, k->layout))))
      return FP4_ERR_ALIAS;
    if (k->y && fp4__overlap(x, xs, k->y, fp4__span(q->R, q->C, k->ldy, FP4_F32))) return FP4_ERR_ALIAS;
    if (k->mask && fp4__overlap(x, xs, k->mask, fp4_mask_bytes(q->R, q->C))) return FP4_ERR_ALIAS;
    /* the mask must not overlap the other outputs either */
    if (k->mask &&
        ((k->t && (fp4__overlap(k->mask, fp4_mask_bytes(q->R, q->C), k->t->data, fp4_data_bytes(q->R, q->C)) ||
                   fp4__overlap(k->mask, fp4_mask_bytes(q->R, q->C), k->t->scales,
                                fp4_scale_bytes(q->fmt, q->R, q->C, k->layout)))) ||
         (k->y && fp4__overlap(k->mask, fp4_mask_bytes(q->R, q->C), k->y, fp4__span(q->R, q->C, k->ldy, FP4_F32)))))
      return FP4_ERR_ALIAS;
  }
  if (q->g && cfg->hadamard_signs == FP4_SIGNS_USER) {
    memcpy(q->signs, cfg->hadamard_sign_bits, sizeof q->signs);
    q->sp = q->signs;
  } else if (q->g && cfg->hadamard_signs == FP4_SIGNS_RANDOM) {
    fp4_hadamard_signs_from_seed(q->seed, q->g, q->signs);
    q->sp = q->signs;
  }
  j->k = *k;
  j->has_amax = cfg->has_amax != 0;
  q->ts = fp4_nv_scale_make(q->rule, cfg->has_amax ? cfg->amax : 0.0f);
  j->fast = !q->sr && !q->transpose && !cfg->scale_2d && !k->mask && q->rule != FP4_MX_QUEST &&
            q->rule != FP4_MX_ADAPTIVE;
  return FP4_OK;
}

/* The tensor scale from amax (spec §3), and the output tensor's header fields. */
FP4_API fp4_status fp4__cpu_set_amax(fp4__cpu_job *j, float amax) {
  fp4__qctx *q = &j->q;
  fp4__sink *k = &j->k;
  if (q->fmt == FP4_NVFP4) {
    if (amax != 0.0f && amax < FP4_NV_AMAX_MIN) return FP4_ERR_RANGE;
    q->ts = fp4_nv_scale_make(q->rule, amax);
  } else {
    q->ts = fp4_nv_scale_make(q->rule, 0.0f);
    q->ts.S_dec = q->rule == FP4_MX_ABSMAX3 ? 1.0f / 3.0f : 1.0f;
  }
  if (k->t) {
    k->t->format = q->fmt;
    k->t->rule = q->rule;
    k->t->rows = q->R;
    k->t->cols = q->C;
    k->t->tensor_scale = q->ts.S_dec;
    k->t->amax = q->fmt == FP4_NVFP4 ? q->ts.amax : 0.0f;
  }
  return FP4_OK;
}

/* Swizzled scales: zero the padding bytes of rows [rb, re) (and the padding rows when re is the
 * last row), as fp4.h's quantizer does for the whole tensor (spec §2). */
FP4_API void fp4__cpu_zero_pad(const fp4__cpu_job *j, int64_t rb, int64_t re) {
  const fp4__qctx *q = &j->q;
  int64_t nbk = q->C / q->block, cp = (nbk + 3) / 4 * 4, rp = (q->R + 127) / 128 * 128, r, c;
  if (!j->k.t || j->k.layout != FP4_LAYOUT_SWIZZLED) return;
  for (r = rb; r < re; r++)
    for (c = nbk; c < cp; c++) j->k.t->scales[fp4_swizzle_offset(r, c, nbk)] = 0;
  if (re == q->R)
    for (r = q->R; r < rp; r++)
      for (c = 0; c < cp; c++) j->k.t->scales[fp4_swizzle_offset(r, c, nbk)] = 0;
}

/* Scalar amax over quantized rows [rb, re): fp4.h's segment loader. */
FP4_API float fp4__cpu_amax_scalar(const fp4__cpu_job *j, int64_t rb, int64_t re) {
  const fp4__qctx *q = &j->q;
  float seg[256], amax = 0.0f;
  int64_t r, c0;
  int i;
  for (r = rb; r < re; r++)
    for (c0 = 0; c0 < q->C; c0 += q->L) {
      fp4__load_segment(q, r, c0, seg);
      for (i = 0; i < q->L; i++) {
        float a = fp4__fabs(seg[i]);
        if (fp4__isfinite(a) && a > amax) amax = a;
      }
    }
  return amax;
}

/* Scalar quantization of rows [rb, re): fp4__quantize's loop. Returns 1 if a block was not finite. */
FP4_API int fp4__cpu_qrange_scalar(const fp4__cpu_job *j, int64_t rb, int64_t re) {
  return fp4__quantize_rows(&j->q, &j->k, rb, re);
}

/* Scalar 2D quantization (NVFP4, spec §3) of the 16-row tiles starting in [rb, re): fp4__quantize_2d. */
FP4_API int fp4__cpu_q2d_scalar(const fp4__cpu_job *j, int64_t rb, int64_t re) {
  return fp4__quantize_2d(&j->q, &j->k, rb, re);
}

/* Store n codes (packed) and n / block scales of quantized row r from column c0 into the tensor. */
FP4_API void fp4__cpu_put(const fp4__cpu_job *j, int64_t r, int64_t c0, int n, const uint8_t *codes,
                          const uint8_t *sc) {
  const fp4__qctx *q = &j->q;
  fp4_tensor *t = j->k.t;
  int64_t nbk = q->C / q->block, b0 = c0 / q->block;
  int i;
  memcpy(t->data + r * (q->C / 2) + c0 / 2, codes, (size_t)n / 2);
  if (j->k.layout == FP4_LAYOUT_LINEAR) memcpy(t->scales + r * nbk + b0, sc, (size_t)(n / q->block));
  else
    for (i = 0; i < n / q->block; i++) t->scales[fp4_swizzle_offset(r, b0 + i, nbk)] = sc[i];
}

/* Scale bytes nb of row r from block b0 (linear: a copy; swizzled: the spec §2 offsets). */
FP4_API void fp4__cpu_row_scales(const fp4_tensor *t, int64_t r, int64_t b0, int nb, uint8_t *out) {
  int64_t nbk = t->cols / fp4_format_block(t->format);
  int i;
  if (t->scale_layout == FP4_LAYOUT_LINEAR) memcpy(out, t->scales + r * nbk + b0, (size_t)nb);
  else
    for (i = 0; i < nb; i++) out[i] = t->scales[fp4_swizzle_offset(r, b0 + i, nbk)];
}

/* Scalar dequantization of rows [rb, re) (fp4__dequantize's loop). */
FP4_API void fp4__cpu_deq_scalar(const fp4_tensor *t, void *y, fp4_dtype dt, int64_t ldy, int64_t rb, int64_t re) {
  fp4__dequantize_rows(t, y, dt, ldy, rb, re);
}

/* Scalar W4A4 (spec §5) of columns [nb, ne): fp4__gemm_w4a4's loop. */
FP4_API void fp4__cpu_w4a4_scalar(const fp4_tensor *A, const fp4_tensor *B, float alpha_eff, float beta, void *C,
                                  fp4_dtype ct, int64_t ldc, int64_t nb, int64_t ne) {
  fp4__gemm_w4a4_cols(A, B, alpha_eff, beta, C, ct, ldc, nb, ne);
}

/* Scalar W4A16 of columns [nb, ne): fp4__gemm_w4a16's loop. */
FP4_API void fp4__cpu_w4a16_scalar(const void *A, fp4_dtype at, int64_t M, int64_t lda, const fp4_tensor *B,
                                   float alpha_eff, float beta, void *C, fp4_dtype ct, int64_t ldc, int64_t nb,
                                   int64_t ne) {
  fp4__gemm_w4a16_cols(A, at, M, lda, B, alpha_eff, beta, C, ct, ldc, nb, ne);
}

/* ---- W4A4 with operands packed once per call (caller workspace, fp4_cpu_gemm_workspace_size) ----
 * A rows as c + 12 (u8), K contiguous, rows padded to a multiple of 8; B in panels of W lanes (W = 8
 * or 16 output columns), 4 consecutive k per int32 lane, columns padded to a multiple of 32; per
 * block the scale terms the microkernel adds (below), and per A row / B panel the range of scale
 * codes, which decides whether a tile may take the FMA promotion. */
typedef struct fp4__w4a4_pack {
  int64_t M, N, K, Mp, Np, nbk; /* nbk = K / block */
  uint8_t *a;                   /* [Mp][K] */
  int32_t *as;                  /* [Mp][nbk] MXFP4: ea << 23; NVFP4: bits of sa */
  uint8_t *asc;                 /* [Mp][nbk] scale codes */
  int32_t *arng;                /* [Mp][2] min, max of the row's codes (MXFP4); a NaN code: -4096, 4096 */
  int8_t *b;                    /* [Np / W][K / 4][W][4] */
  int32_t *bcor;                /* [Np / W][nbk][W] -12 * (sum of the block's B values), fp4__corpack */
  int32_t *bs;                  /* [Np / W][nbk][W] MXFP4: (eb - 129) << 23; NVFP4: bits of sb * 0.25 */
  uint8_t *bsc;                 /* [Np / W][nbk][W] scale codes */
  int32_t *brng;                /* [Np / 8][2] as arng, per panel (indexed by panel of W lanes) */
} fp4__w4a4_pack;

/* Carve the workspace (NULL size: just count). Returns the bytes needed; 0 for sizes no call accepts
 * (K not a multiple of 16) and for sizes this path does not take (overflowing ones, K > 2^30: the
 * decoders count in int), which then run the per-chunk path. */
FP4_API size_t fp4__w4a4_layout(int64_t M, int64_t N, int64_t K, int blk, void *ws, fp4__w4a4_pack *P) {
  const int64_t lim = (int64_t)1 << 40;
  int64_t Mp, Np, nbk;
  size_t off = 0, sz[9], o[9];
  uintptr_t base;
  int i;
  if (M <= 0 || N <= 0 || K <= 0 || K % 16 || M > lim || N > lim || K > ((int64_t)1 << 30)) return 0;
  Mp = (M + 7) / 8 * 8, Np = (N + 31) / 32 * 32, nbk = K / blk;
  if ((double)(Mp + Np) * (double)K * 2.0 > 1e18) return 0;
  sz[0] = (size_t)(Mp * K);
  sz[1] = (size_t)(Mp * nbk) * 4;
  sz[2] = (size_t)(Mp * nbk);
  sz[3] = (size_t)Mp * 8;
  sz[4] = (size_t)(Np * K);
  sz[5] = (size_t)(Np * nbk) * 4;
  sz[6] = (size_t)(Np * nbk) * 4;
  sz[7] = (size_t)(Np * nbk);
  sz[8] = (size_t)(Np / 8) * 8;
  base = (uintptr_t)ws;
  off = (size_t)((64 - base % 64) % 64);
  for (i = 0; i < 9; i++) {
    o[i] = off;
    off += (sz[i] + 63) / 64 * 64;
  }
  if (P) {
    char *w = (char *)ws;
    P->M = M;
    P->N = N;
    P->K = K;
    P->Mp = Mp;
    P->Np = Np;
    P->nbk = nbk;
    P->a = (uint8_t *)(void *)(w + o[0]);
    P->as = (int32_t *)(void *)(w + o[1]);
    P->asc = (uint8_t *)(void *)(w + o[2]);
    P->arng = (int32_t *)(void *)(w + o[3]);
    P->b = (int8_t *)(void *)(w + o[4]);
    P->bcor = (int32_t *)(void *)(w + o[5]);
    P->bs = (int32_t *)(void *)(w + o[6]);
    P->bsc = (uint8_t *)(void *)(w + o[7]);
    P->brng = (int32_t *)(void *)(w + o[8]);
  }
  return off + 64;
}

#if FP4_CPU_HAVE_AVX2
FP4__TARGET_AVX2
/* Decode nbytes packed codes (a multiple of 8) into 2 * nbytes bytes through a 16-entry table. */
static inline void fp4__cpu_decode(const uint8_t *src, int nbytes, uint8_t *dst, __m128i lut) {
  int i;
  __m128i lo, hi;
  for (i = 0; i + 16 <= nbytes; i += 16) {
    fp4__nibbles_sse(_mm_loadu_si128((const __m128i *)(src + i)), &lo, &hi);
    _mm_storeu_si128((__m128i *)(dst + 2 * i), _mm_shuffle_epi8(lut, lo));
    _mm_storeu_si128((__m128i *)(dst + 2 * i + 16), _mm_shuffle_epi8(lut, hi));
  }
  if (i < nbytes) {
    fp4__nibbles_sse(_mm_loadl_epi64((const __m128i *)(src + i)), &lo, &hi);
    _mm_storeu_si128((__m128i *)(dst + 2 * i), _mm_shuffle_epi8(lut, lo));
  }
}
FP4__TARGET_END
#endif

#ifdef __cplusplus
}
#endif

/* ==== kernels ==== */
#if defined(__GNUC__) || defined(__clang__)
#define FP4__ALWAYS static inline __attribute__((always_inline))
#else
#define FP4__ALWAYS static inline
#endif
/* GEMM tiling: K chunk (elements), B panels per tile, A rows per tile. */
#define FP4__KC 256
#define FP4__NP 4
#define FP4__MB 128
#define FP4__W4A4_MG 128 /* packed W4A4: rows per work item (a multiple of every FP4__TR) */
#define FP4__W4A16_KC 512 /* W4A16 with M > 4: weight elements decoded at a time */
#define FP4__CPU_CAT2(a, b) a##_##b
#define FP4__CPU_CAT(a, b) FP4__CPU_CAT2(a, b)
#define FP4__F(name) FP4__CPU_CAT(name, FP4__ISA)

#if FP4_CPU_HAVE_AVX2
#define FP4__CPU_BODY 1
#define FP4__ISA avx2
#define FP4__W 8
#define FP4__TR 4 /* packed W4A4 register tile: rows x panels of W columns */
#define FP4__TP 2
#define FP4__VF __m256
#define FP4__VI __m256i
#define FP4__LDU(p) _mm256_loadu_ps(p)
#define FP4__STU(p, v) _mm256_storeu_ps(p, v)
#define FP4__LDUI(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define FP4__STUI(p, v) _mm256_storeu_si256((__m256i *)(void *)(p), v)
#define FP4__SET1(f) _mm256_set1_ps(f)
#define FP4__SET1I(i) _mm256_set1_epi32(i)
#define FP4__ZEROI() _mm256_setzero_si256()
#define FP4__ADD(a, b) _mm256_add_ps(a, b)
#define FP4__SUB(a, b) _mm256_sub_ps(a, b)
#define FP4__MUL(a, b) _mm256_mul_ps(a, b)
#define FP4__DIV(a, b) _mm256_div_ps(a, b)
#if defined(__FMA__)
#define FP4__FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#else
#define FP4__FMA(a, b, c) _mm256_add_ps(_mm256_mul_ps(a, b), c)
#endif
#define FP4__IADD(a, b) _mm256_add_epi32(a, b)
#define FP4__ISUB(a, b) _mm256_sub_epi32(a, b)
#define FP4__IAND(a, b) _mm256_and_si256(a, b)
#define FP4__IXOR(a, b) _mm256_xor_si256(a, b)
#define FP4__IMAX(a, b) _mm256_max_epi32(a, b)
#define FP4__ILT_KEEP(a, lim) _mm256_and_si256(a, _mm256_cmpgt_epi32(lim, a)) /* a < lim ? a : 0 */
#define FP4__CASTI(v) _mm256_castps_si256(v)
#define FP4__CASTF(v) _mm256_castsi256_ps(v)
#define FP4__CVTI(v) _mm256_cvtepi32_ps(v)
#define FP4__BCAST4(p) _mm256_set1_epi32(fp4__ld32(p))
#define FP4__VBAR(v) __asm__("" : "+x"(v))
FP4__TARGET_AVX2
#include FP4_CPU_SELF
FP4__TARGET_END
#undef FP4__CPU_BODY
#undef FP4__ISA
#undef FP4__W
#undef FP4__TR
#undef FP4__TP
#undef FP4__VF
#undef FP4__VI
#undef FP4__LDU
#undef FP4__STU
#undef FP4__LDUI
#undef FP4__STUI
#undef FP4__SET1
#undef FP4__SET1I
#undef FP4__ZEROI
#undef FP4__ADD
#undef FP4__SUB
#undef FP4__MUL
#undef FP4__DIV
#undef FP4__FMA
#undef FP4__IADD
#undef FP4__ISUB
#undef FP4__IAND
#undef FP4__IXOR
#undef FP4__IMAX
#undef FP4__ILT_KEEP
#undef FP4__CASTI
#undef FP4__CASTF
#undef FP4__CVTI
#undef FP4__BCAST4
#undef FP4__VBAR
#endif

#if FP4_CPU_HAVE_AVX512
#define FP4__CPU_BODY 1
#define FP4__ISA avx512
#define FP4__W 16
#define FP4__TR 8
#define FP4__TP 2
#define FP4__VF __m512
#define FP4__VI __m512i
#define FP4__LDU(p) _mm512_loadu_ps(p)
#define FP4__STU(p, v) _mm512_storeu_ps(p, v)
#define FP4__LDUI(p) _mm512_loadu_si512((const void *)(p))
#define FP4__STUI(p, v) _mm512_storeu_si512((void *)(p), v)
#define FP4__SET1(f) _mm512_set1_ps(f)
#define FP4__SET1I(i) _mm512_set1_epi32(i)
#define FP4__ZEROI() _mm512_setzero_si512()
#define FP4__ADD(a, b) _mm512_add_ps(a, b)
#define FP4__SUB(a, b) _mm512_sub_ps(a, b)
#define FP4__MUL(a, b) _mm512_mul_ps(a, b)
#define FP4__DIV(a, b) _mm512_div_ps(a, b)
#define FP4__FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define FP4__IADD(a, b) _mm512_add_epi32(a, b)
#define FP4__ISUB(a, b) _mm512_sub_epi32(a, b)
#define FP4__IAND(a, b) _mm512_and_si512(a, b)
#define FP4__IXOR(a, b) _mm512_xor_si512(a, b)
#define FP4__IMAX(a, b) _mm512_max_epi32(a, b)
#define FP4__ILT_KEEP(a, lim) _mm512_maskz_mov_epi32(_mm512_cmplt_epi32_mask(a, lim), a)
#define FP4__CASTI(v) _mm512_castps_si512(v)
#define FP4__CASTF(v) _mm512_castsi512_ps(v)
#define FP4__CVTI(v) _mm512_cvtepi32_ps(v)
#define FP4__BCAST4(p) _mm512_set1_epi32(fp4__ld32(p))
#define FP4__VBAR(v) __asm__("" : "+v"(v))
FP4__TARGET_AVX512
#include FP4_CPU_SELF
FP4__TARGET_END
#undef FP4__CPU_BODY
#undef FP4__ISA
#undef FP4__W
#undef FP4__TR
#undef FP4__TP
#undef FP4__VF
#undef FP4__VI
#undef FP4__LDU
#undef FP4__STU
#undef FP4__LDUI
#undef FP4__STUI
#undef FP4__SET1
#undef FP4__SET1I
#undef FP4__ZEROI
#undef FP4__ADD
#undef FP4__SUB
#undef FP4__MUL
#undef FP4__DIV
#undef FP4__FMA
#undef FP4__IADD
#undef FP4__ISUB
#undef FP4__IAND
#undef FP4__IXOR
#undef FP4__IMAX
#undef FP4__ILT_KEEP
#undef FP4__CASTI
#undef FP4__CASTF
#undef FP4__CVTI
#undef FP4__BCAST4
#undef FP4__VBAR
#endif

/* ==== dispatch ==== */
#ifdef __cplusplus
extern "C" {
#endif

#if defined(_OPENMP)
#define FP4__OMP_FOR _Pragma("omp parallel for schedule(dynamic, 1)")
#define FP4__OMP_FOR_OR_NONFINITE _Pragma("omp parallel for schedule(dynamic, 1) reduction(|| : nonfinite)")
#define FP4__OMP_FOR_MAX_AMAX _Pragma("omp parallel for schedule(static) reduction(max : amax)")
#define FP4__OMP_PARALLEL _Pragma("omp parallel")
#define FP4__OMP_FOR_STATIC _Pragma("omp for schedule(static)")
#define FP4__OMP_FOR_DYNAMIC _Pragma("omp for schedule(dynamic, 1)")
#else
#define FP4__OMP_PARALLEL
#define FP4__OMP_FOR_STATIC
#define FP4__OMP_FOR_DYNAMIC
#define FP4__OMP_FOR
#define FP4__OMP_FOR_OR_NONFINITE
#define FP4__OMP_FOR_MAX_AMAX
#endif

FP4_API float fp4__cpu_amax_isa(int isa, const fp4__cpu_job *j, int64_t rb, int64_t re) {
#if FP4_CPU_HAVE_AVX512
  if (isa == FP4_CPU_AVX512 && !j->q.transpose) return fp4__cpu_amax_avx512(j, rb, re);
#endif
#if FP4_CPU_HAVE_AVX2
  if (isa >= FP4_CPU_AVX2 && !j->q.transpose) return fp4__cpu_amax_avx2(j, rb, re);
#endif
  (void)isa;
  return fp4__cpu_amax_scalar(j, rb, re);
}

/* Quantize rows [rb, re) (2D: the tiles starting there). Returns 1 if a block was not finite. */
FP4_API int fp4__cpu_qrange_isa(int isa, const fp4__cpu_job *j, int64_t rb, int64_t re, int scale_2d) {
  if (scale_2d) return fp4__cpu_q2d_scalar(j, rb, re);
#if FP4_CPU_HAVE_AVX512
  if (isa == FP4_CPU_AVX512 && j->fast) return fp4__cpu_qrange_avx512(j, rb, re);
#endif
#if FP4_CPU_HAVE_AVX2
  if (isa >= FP4_CPU_AVX2 && j->fast) return fp4__cpu_qrange_avx2(j, rb, re);
#endif
  (void)isa;
  return fp4__cpu_qrange_scalar(j, rb, re);
}

/* Whole tensor: validate, amax (NVFP4), quantize; OpenMP over rows when compiled in. */
FP4_API fp4_status fp4__cpu_quantize(int isa, const void *x, fp4_dtype dt, int64_t rows, int64_t cols, int64_t ldx,
                                     const fp4_quant_config *cfg, const fp4__sink *k) {
  fp4__cpu_job j;
  fp4_status st = fp4__cpu_setup(x, dt, rows, cols, ldx, cfg, k, &j);
  float amax = 0.0f;
  int64_t R, step, i, n;
  int nonfinite = 0, d2;
  if (st != FP4_OK) return st;
  R = j.q.R;
  d2 = cfg->scale_2d != 0;
  step = d2 ? 16 : 8;
  n = (R + step - 1) / step;
  if (j.q.fmt == FP4_NVFP4) {
    if (j.has_amax) amax = cfg->amax;
    else {
      FP4__OMP_FOR_MAX_AMAX
      for (i = 0; i < n; i++) {
        float a = fp4__cpu_amax_isa(isa, &j, i * step, i * step + step < R ? i * step + step : R);
        amax = a > amax ? a : amax;
      }
    }
  }
  if ((st = fp4__cpu_set_amax(&j, amax)) != FP4_OK) return st;
  if (k->t && k->layout == FP4_LAYOUT_SWIZZLED) memset(k->t->scales, 0, fp4_scale_bytes(j.q.fmt, R, j.q.C, k->layout));
  FP4__OMP_FOR_OR_NONFINITE
  for (i = 0; i < n; i++)
    nonfinite = fp4__cpu_qrange_isa(isa, &j, i * step, i * step + step < R ? i * step + step : R, d2) || nonfinite;
  return nonfinite ? FP4_ERR_NONFINITE : FP4_OK;
}

FP4_API fp4_status fp4__cpu_quantize_tensor(int isa, const void *x, fp4_dtype dt, int64_t rows, int64_t cols,
                                            int64_t ldx, const fp4_quant_config *cfg, fp4_tensor *out) {
  fp4__sink k;
  if (!out || !out->data || !out->scales) return FP4_ERR_NULL;
  memset(&k, 0, sizeof k);
  k.t = out;
  k.mask = out->mask;
  k.layout = out->scale_layout;
  return fp4__cpu_quantize(isa, x, dt, rows, cols, ldx, cfg, &k);
}

FP4_API fp4_status fp4__cpu_fake_quantize(int isa, const float *x, int64_t rows, int64_t cols, int64_t ldx,
                                          const fp4_quant_config *cfg, float *y, int64_t ldy, uint8_t *mask) {
  fp4__sink k;
  if (!y) return FP4_ERR_NULL;
  memset(&k, 0, sizeof k);
  k.y = y;
  k.ldy = ldy;
  k.mask = mask;
  return fp4__cpu_quantize(isa, x, FP4_F32, rows, cols, ldx, cfg, &k);
}

/* Row ranges for callers' threads. */
FP4_API fp4_status fp4__cpu_amax_rows(int isa, const void *x, fp4_dtype dt, int64_t rows, int64_t cols, int64_t ldx,
                                      const fp4_quant_config *cfg, int64_t rb, int64_t re, float *amax) {
  fp4__cpu_job j;
  fp4__sink k;
  fp4_status st;
  float a;
  memset(&k, 0, sizeof k);
  if (!amax) return FP4_ERR_NULL;
  if ((st = fp4__cpu_setup(x, dt, rows, cols, ldx, cfg, &k, &j)) != FP4_OK) return st;
  if (rb < 0 || rb > re || re > j.q.R) return FP4_ERR_ARG;
  a = fp4__cpu_amax_isa(isa, &j, rb, re);
  if (a > *amax) *amax = a;
  return FP4_OK;
}

FP4_API fp4_status fp4__cpu_quantize_rows(int isa, const void *x, fp4_dtype dt, int64_t rows, int64_t cols,
                                          int64_t ldx, const fp4_quant_config *cfg, fp4_tensor *out, int64_t rb,
                                          int64_t re) {
  fp4__cpu_job j;
  fp4__sink k;
  fp4_status st;
  if (!out || !out->data || !out->scales) return FP4_ERR_NULL;
  memset(&k, 0, sizeof k);
  k.t = out;
  k.mask = out->mask;
  k.layout = out->scale_layout;
  if ((st = fp4__cpu_setup(x, dt, rows, cols, ldx, cfg, &k, &j)) != FP4_OK) return st;
  if (rb < 0 || rb > re || re > j.q.R) return FP4_ERR_ARG;
  if (j.q.fmt == FP4_NVFP4 && !j.has_amax) return FP4_ERR_ARG;
  if (cfg->scale_2d && (rb % 16 || (re % 16 && re != j.q.R))) return FP4_ERR_ARG;
  if ((st = fp4__cpu_set_amax(&j, j.q.fmt == FP4_NVFP4 ? cfg->amax : 0.0f)) != FP4_OK) return st;
  fp4__cpu_zero_pad(&j, rb, re);
  return fp4__cpu_qrange_isa(isa, &j, rb, re, cfg->scale_2d != 0) ? FP4_ERR_NONFINITE : FP4_OK;
}

/* Dequantize: fp4__dequantize's validation, then rows [rb, re). */
FP4_API fp4_status fp4__cpu_dequantize(int isa, const fp4_tensor *t, void *y, fp4_dtype dt, int64_t ldy, int64_t rb,
                                       int64_t re, int whole) {
  fp4_status st;
  int64_t i, n, step = 16;
  if ((st = fp4__check_dequantize(t, y, dt, ldy)) != FP4_OK) return st;
  if (whole) {
    rb = 0;
    re = t->rows;
  } else if (rb < 0 || rb > re || re > t->rows)
    return FP4_ERR_ARG;
  n = (re - rb + step - 1) / step;
  (void)isa;
  if (whole) {
    FP4__OMP_FOR
    for (i = 0; i < n; i++) {
      int64_t a = rb + i * step, b = a + step < re ? a + step : re;
#if FP4_CPU_HAVE_AVX512
      if (isa == FP4_CPU_AVX512) { fp4__cpu_deq_avx512(t, y, dt, ldy, a, b); continue; }
#endif
#if FP4_CPU_HAVE_AVX2
      if (isa >= FP4_CPU_AVX2) { fp4__cpu_deq_avx2(t, y, dt, ldy, a, b); continue; }
#endif
      fp4__cpu_deq_scalar(t, y, dt, ldy, a, b);
    }
    return FP4_OK;
  }
#if FP4_CPU_HAVE_AVX512
  if (isa == FP4_CPU_AVX512) { fp4__cpu_deq_avx512(t, y, dt, ldy, rb, re); return FP4_OK; }
#endif
#if FP4_CPU_HAVE_AVX2
  if (isa >= FP4_CPU_AVX2) { fp4__cpu_deq_avx2(t, y, dt, ldy, rb, re); return FP4_OK; }
#endif
  fp4__cpu_deq_scalar(t, y, dt, ldy, rb, re);
  return FP4_OK;
}

FP4_API fp4_status fp4__cpu_hadamard(int isa, const float *x, int64_t rows, int64_t cols, int64_t ldx, float *y,
                                     int64_t ldy, int group, const uint32_t *sign_bits, int inverse) {
  fp4_status st;
  int64_t r;
  if ((st = fp4__check_hadamard(x, rows, cols, ldx, y, ldy, group)) != FP4_OK) return st;
  (void)isa;
  FP4__OMP_FOR
  for (r = 0; r < rows; r++) {
    int64_t c;
    float v[256];
    for (c = 0; c < cols; c += group) {
      int i;
      for (i = 0; i < group; i++) v[i] = x[r * ldx + c + i];
#if FP4_CPU_HAVE_AVX512
      if (isa == FP4_CPU_AVX512) fp4__cpu_had_avx512(v, group, sign_bits, inverse);
      else
#endif
#if FP4_CPU_HAVE_AVX2
      if (isa >= FP4_CPU_AVX2) fp4__cpu_had_avx2(v, group, sign_bits, inverse);
      else
#endif
        fp4_hadamard_group(v, group, sign_bits, inverse);
      for (i = 0; i < group; i++) y[r * ldy + c + i] = v[i];
    }
  }
  return FP4_OK;
}

/* Packed W4A4 stage on the chosen path (see fp4__cpu_w4a4p); stage -1: the number of stage-2 items. */
FP4_API int64_t fp4__cpu_w4a4p_isa(int isa, int stage, int64_t i, const fp4__w4a4_pack *P, const fp4_tensor *A,
                                   const fp4_tensor *B, float alpha_eff, float beta, void *C, fp4_dtype ct,
                                   int64_t ldc) {
#if FP4_CPU_HAVE_AVX512
  if (isa == FP4_CPU_AVX512) {
    if (stage < 0) return fp4__w4a4p_items_avx512(P);
    fp4__cpu_w4a4p_avx512(stage, i, P, A, B, alpha_eff, beta, C, ct, ldc);
    return 0;
  }
#endif
#if FP4_CPU_HAVE_AVX2
  if (stage < 0) return fp4__w4a4p_items_avx2(P);
  fp4__cpu_w4a4p_avx2(stage, i, P, A, B, alpha_eff, beta, C, ct, ldc);
#else
  (void)stage; (void)i; (void)P; (void)A; (void)B; (void)alpha_eff; (void)beta; (void)C; (void)ct; (void)ldc;
#endif
  (void)isa;
  return 0;
}

/* GEMMs: fp4.h's validation, then columns [nb, ne) (whole: all, split over OpenMP threads). The
 * whole-tensor W4A4 on a SIMD path packs both operands once into the caller's workspace when it is
 * large enough (fp4_cpu_gemm_workspace_size) and overlaps no operand; otherwise it repacks per chunk. */
FP4_API fp4_status fp4__cpu_gemm_w4a4(int isa, const fp4_tensor *A, const fp4_tensor *B, float alpha, float beta,
                                      void *C, fp4_dtype ct, int64_t ldc, int64_t nb, int64_t ne, int whole, void *ws,
                                      size_t ws_bytes) {
  fp4_status st;
  float alpha_eff;
  int64_t i, n, step;
  size_t need;
  if ((st = fp4__check_tensor(A)) != FP4_OK || (st = fp4__check_tensor(B)) != FP4_OK) return st;
  if (A->format != B->format || A->cols != B->cols) return FP4_ERR_UNSUPPORTED;
  if ((st = fp4__check_gemm_out(C, ct, A->rows, B->rows, ldc, B)) != FP4_OK) return st;
  {
    size_t cs = fp4__span(A->rows, B->rows, ldc, ct);
    if (fp4__overlap(C, cs, A->data, fp4_data_bytes(A->rows, A->cols)) ||
        fp4__overlap(C, cs, A->scales, fp4_scale_bytes(A->format, A->rows, A->cols, A->scale_layout)))
      return FP4_ERR_ALIAS;
  }
  if (whole) {
    nb = 0;
    ne = B->rows;
  } else if (nb < 0 || nb > ne || ne > B->rows)
    return FP4_ERR_ARG;
  alpha_eff = fp4__mul(alpha, A->tensor_scale) * B->tensor_scale;
  need = fp4__w4a4_layout(A->rows, B->rows, A->cols, fp4_format_block(A->format), NULL, NULL);
  if (whole && isa != FP4_CPU_SCALAR && FP4_CPU_HAVE_AVX2 && ws && need && ws_bytes >= need &&
      !fp4__overlap(ws, ws_bytes, C, fp4__span(A->rows, B->rows, ldc, ct)) &&
      !fp4__overlap(ws, ws_bytes, A->data, fp4_data_bytes(A->rows, A->cols)) &&
      !fp4__overlap(ws, ws_bytes, B->data, fp4_data_bytes(B->rows, B->cols)) &&
      !fp4__overlap(ws, ws_bytes, A->scales, fp4_scale_bytes(A->format, A->rows, A->cols, A->scale_layout)) &&
      !fp4__overlap(ws, ws_bytes, B->scales, fp4_scale_bytes(B->format, B->rows, B->cols, B->scale_layout))) {
    fp4__w4a4_pack P;
    int64_t na, nbp, nit;
    memset(&P, 0, sizeof P);
    fp4__w4a4_layout(A->rows, B->rows, A->cols, fp4_format_block(A->format), ws, &P);
    na = P.Mp / 8;
    nbp = P.Np / 32;
    nit = fp4__cpu_w4a4p_isa(isa, -1, 0, &P, A, B, alpha_eff, beta, C, ct, ldc);
    FP4__OMP_PARALLEL
    {
      int64_t it;
      FP4__OMP_FOR_STATIC
      for (it = 0; it < na; it++) fp4__cpu_w4a4p_isa(isa, 0, it, &P, A, B, alpha_eff, beta, C, ct, ldc);
      FP4__OMP_FOR_STATIC
      for (it = 0; it < nbp; it++) fp4__cpu_w4a4p_isa(isa, 1, it, &P, A, B, alpha_eff, beta, C, ct, ldc);
      FP4__OMP_FOR_DYNAMIC
      for (it = 0; it < nit; it++) fp4__cpu_w4a4p_isa(isa, 2, it, &P, A, B, alpha_eff, beta, C, ct, ldc);
    }
    return FP4_OK;
  }
  step = FP4__NP * 16;
  n = (ne - nb + step - 1) / step;
  (void)isa;
  FP4__OMP_FOR
  for (i = 0; i < n; i++) {
    int64_t a = nb + i * step, b = a + step < ne ? a + step : ne;
#if FP4_CPU_HAVE_AVX512
    if (isa == FP4_CPU_AVX512) { fp4__cpu_w4a4_avx512(A, B, alpha_eff, beta, C, ct, ldc, a, b); continue; }
#endif
#if FP4_CPU_HAVE_AVX2
    if (isa >= FP4_CPU_AVX2) { fp4__cpu_w4a4_avx2(A, B, alpha_eff, beta, C, ct, ldc, a, b); continue; }
#endif
    fp4__cpu_w4a4_scalar(A, B, alpha_eff, beta, C, ct, ldc, a, b);
  }
  return FP4_OK;
}

FP4_API fp4_status fp4__cpu_gemm_w4a16(int isa, const void *A, fp4_dtype at, int64_t M, int64_t lda,
                                       const fp4_tensor *B, float alpha, float beta, void *C, fp4_dtype ct,
                                       int64_t ldc, int64_t nb, int64_t ne, int whole) {
  fp4_status st;
  float alpha_eff;
  int64_t i, n, step = 64;
  if ((st = fp4__check_tensor(B)) != FP4_OK) return st;
  if (!A) return FP4_ERR_NULL;
  if ((st = fp4__check_dims(M, B->cols, lda)) != FP4_OK) return st;
  if ((uintptr_t)A % fp4__dtype_size(at)) return FP4_ERR_ALIGN;
  if ((st = fp4__check_gemm_out(C, ct, M, B->rows, ldc, B)) != FP4_OK) return st;
  if (fp4__overlap(C, fp4__span(M, B->rows, ldc, ct), A, fp4__span(M, B->cols, lda, at))) return FP4_ERR_ALIAS;
  if (whole) {
    nb = 0;
    ne = B->rows;
  } else if (nb < 0 || nb > ne || ne > B->rows)
    return FP4_ERR_ARG;
  alpha_eff = alpha * B->tensor_scale;
  n = (ne - nb + step - 1) / step;
  (void)isa;
  FP4__OMP_FOR
  for (i = 0; i < n; i++) {
    int64_t a = nb + i * step, b = a + step < ne ? a + step : ne;
#if FP4_CPU_HAVE_AVX512
    if (isa == FP4_CPU_AVX512) { fp4__cpu_w4a16_avx512(A, at, M, lda, B, alpha_eff, beta, C, ct, ldc, a, b); continue; }
#endif
#if FP4_CPU_HAVE_AVX2
    if (isa >= FP4_CPU_AVX2) { fp4__cpu_w4a16_avx2(A, at, M, lda, B, alpha_eff, beta, C, ct, ldc, a, b); continue; }
#endif
    fp4__cpu_w4a16_scalar(A, at, M, lda, B, alpha_eff, beta, C, ct, ldc, a, b);
  }
  return FP4_OK;
}

FP4_API size_t fp4_cpu_quantize_workspace_size(int64_t rows, int64_t cols, const fp4_quant_config *cfg) {
  (void)rows;
  (void)cols;
  (void)cfg;
  return 0;
}
/* Bytes of workspace with which the whole-tensor W4A4 GEMMs on a SIMD path pack each operand once
 * (either format; 0 for sizes no call accepts). Less (or NULL) still works, repacking per chunk.
 * The W4A16 GEMMs need none. */
FP4_API size_t fp4_cpu_gemm_workspace_size(int64_t M, int64_t N, int64_t K) {
  return fp4__w4a4_layout(M, N, K, 16, NULL, NULL);
}

/* Public names, stamped per ISA: FP4__CPU_API(suffix, isa expression). The unsuffixed set uses
 * FP4_CPU_FORCE_ISA. */
#define FP4__CPU_Q(S, ISA, DN, DT, DTE)                                                                        \
  FP4_API fp4_status FP4__CAT3(fp4_cpu_quantize_, DN, S)(const DT *x, int64_t rows, int64_t cols, int64_t ldx,  \
                                                        const fp4_quant_config *cfg, fp4_tensor *out, void *ws, \
                                                        size_t ws_bytes) {                                     \
    (void)ws;                                                                                                  \
    (void)ws_bytes;                                                                                            \
    return fp4__cpu_quantize_tensor(ISA, x, DTE, rows, cols, ldx, cfg, out);                                   \
  }                                                                                                            \
  FP4_API fp4_status FP4__CAT3(fp4_cpu_dequantize_, DN, S)(const fp4_tensor *t, DT *y, int64_t ldy) {         \
    return fp4__cpu_dequantize(ISA, t, y, DTE, ldy, 0, 0, 1);                                                  \
  }
#define FP4__CPU_W4A4(S, ISA, ON, OT, ODT)                                                                     \
  FP4_API fp4_status FP4__CAT3(fp4_cpu_gemm_w4a4_, ON, S)(const fp4_tensor *A, const fp4_tensor *B, float alpha, \
                                                         float beta, OT *C, int64_t ldc, void *ws,            \
                                                         size_t ws_bytes) {                                    \
    return fp4__cpu_gemm_w4a4(ISA, A, B, alpha, beta, C, ODT, ldc, 0, 0, 1, ws, ws_bytes);                      \
  }
#define FP4__CPU_W4A16(S, ISA, AN, AT, ADT, ON, OT, ODT)                                                       \
  FP4_API fp4_status FP4__CAT3(fp4_cpu_gemm_w4a16_, AN, FP4__CAT3(_, ON, S))(                                 \
      const AT *A, int64_t M, int64_t lda, const fp4_tensor *B, float alpha, float beta, OT *C, int64_t ldc,  \
      void *ws, size_t ws_bytes) {                                                                             \
    (void)ws;                                                                                                  \
    (void)ws_bytes;                                                                                            \
    return fp4__cpu_gemm_w4a16(ISA, A, ADT, M, lda, B, alpha, beta, C, ODT, ldc, 0, 0, 1);                     \
  }
#define FP4__CPU_W4A16_OUTS(S, ISA, AN, AT, ADT)                 \
  FP4__CPU_W4A16(S, ISA, AN, AT, ADT, f32, float, FP4_F32)       \
  FP4__CPU_W4A16(S, ISA, AN, AT, ADT, bf16, uint16_t, FP4_BF16)  \
  FP4__CPU_W4A16(S, ISA, AN, AT, ADT, f16, uint16_t, FP4_F16)
#define FP4__CPU_API(S, ISA)                                                                                   \
  FP4__CPU_Q(S, ISA, f32, float, FP4_F32)                                                                      \
  FP4__CPU_Q(S, ISA, bf16, uint16_t, FP4_BF16)                                                                 \
  FP4__CPU_Q(S, ISA, f16, uint16_t, FP4_F16)                                                                   \
  FP4_API fp4_status FP4__CAT3(fp4_cpu_fake_quantize_f32, S, )(const float *x, int64_t rows, int64_t cols,    \
                                                               int64_t ldx, const fp4_quant_config *cfg, float *y, \
                                                               int64_t ldy, uint8_t *mask, void *ws,          \
                                                               size_t ws_bytes) {                              \
    (void)ws;                                                                                                  \
    (void)ws_bytes;                                                                                            \
    return fp4__cpu_fake_quantize(ISA, x, rows, cols, ldx, cfg, y, ldy, mask);                                 \
  }                                                                                                            \
  FP4_API fp4_status FP4__CAT3(fp4_cpu_hadamard_f32, S, )(const float *x, int64_t rows, int64_t cols,         \
                                                          int64_t ldx, float *y, int64_t ldy, int group,       \
                                                          const uint32_t *sign_bits, int inverse) {            \
    return fp4__cpu_hadamard(ISA, x, rows, cols, ldx, y, ldy, group, sign_bits, inverse);                      \
  }                                                                                                            \
  FP4__CPU_W4A4(S, ISA, f32, float, FP4_F32)                                                                   \
  FP4__CPU_W4A4(S, ISA, bf16, uint16_t, FP4_BF16)                                                              \
  FP4__CPU_W4A4(S, ISA, f16, uint16_t, FP4_F16)                                                                \
  FP4__CPU_W4A16_OUTS(S, ISA, f32, float, FP4_F32)                                                             \
  FP4__CPU_W4A16_OUTS(S, ISA, bf16, uint16_t, FP4_BF16)                                                        \
  FP4__CPU_W4A16_OUTS(S, ISA, f16, uint16_t, FP4_F16)

FP4__CPU_API(, FP4_CPU_FORCE_ISA)
FP4__CPU_API(_scalar, FP4_CPU_SCALAR)
#if FP4_CPU_HAVE_AVX2
FP4__CPU_API(_avx2, FP4_CPU_AVX2)
#endif
#if FP4_CPU_HAVE_AVX512
FP4__CPU_API(_avx512, FP4_CPU_AVX512)
#endif

/* Row-range entry points (best compiled path, no OpenMP inside). */
#define FP4__CPU_ROWS(DN, DT, DTE)                                                                             \
  FP4_API fp4_status FP4__CAT3(fp4_cpu_amax_, DN, )(const DT *x, int64_t rows, int64_t cols, int64_t ldx,     \
                                                   const fp4_quant_config *cfg, int64_t row_begin,            \
                                                   int64_t row_end, float *amax) {                             \
    return fp4__cpu_amax_rows(FP4_CPU_FORCE_ISA, x, DTE, rows, cols, ldx, cfg, row_begin, row_end, amax);      \
  }                                                                                                            \
  FP4_API fp4_status FP4__CAT3(fp4_cpu_quantize_rows_, DN, )(const DT *x, int64_t rows, int64_t cols,         \
                                                            int64_t ldx, const fp4_quant_config *cfg,         \
                                                            fp4_tensor *out, int64_t row_begin, int64_t row_end) { \
    return fp4__cpu_quantize_rows(FP4_CPU_FORCE_ISA, x, DTE, rows, cols, ldx, cfg, out, row_begin, row_end);   \
  }                                                                                                            \
  FP4_API fp4_status FP4__CAT3(fp4_cpu_dequantize_rows_, DN, )(const fp4_tensor *t, DT *y, int64_t ldy,       \
                                                              int64_t row_begin, int64_t row_end) {            \
    return fp4__cpu_dequantize(FP4_CPU_FORCE_ISA, t, y, DTE, ldy, row_begin, row_end, 0);                      \
  }                                                                                                            \
  FP4_API fp4_status FP4__CAT3(fp4_cpu_gemm_w4a4_, DN, _cols)(const fp4_tensor *A, const fp4_tensor *B,       \
                                                             float alpha, float beta, DT *C, int64_t ldc,     \
                                                             int64_t n_begin, int64_t n_end) {                 \
    return fp4__cpu_gemm_w4a4(FP4_CPU_FORCE_ISA, A, B, alpha, beta, C, DTE, ldc, n_begin, n_end, 0, NULL, 0); \
  }
#define FP4__CPU_W4A16_COLS(AN, AT, ADT, ON, OT, ODT)                                                          \
  FP4_API fp4_status FP4__CAT3(fp4_cpu_gemm_w4a16_, AN, FP4__CAT3(_, ON, _cols))(                             \
      const AT *A, int64_t M, int64_t lda, const fp4_tensor *B, float alpha, float beta, OT *C, int64_t ldc,  \
      int64_t n_begin, int64_t n_end) {                                                                        \
    return fp4__cpu_gemm_w4a16(FP4_CPU_FORCE_ISA, A, ADT, M, lda, B, alpha, beta, C, ODT, ldc, n_begin, n_end, 0); \
  }
#define FP4__CPU_W4A16_COLS_OUTS(AN, AT, ADT)                 \
  FP4__CPU_W4A16_COLS(AN, AT, ADT, f32, float, FP4_F32)       \
  FP4__CPU_W4A16_COLS(AN, AT, ADT, bf16, uint16_t, FP4_BF16)  \
  FP4__CPU_W4A16_COLS(AN, AT, ADT, f16, uint16_t, FP4_F16)

FP4__CPU_ROWS(f32, float, FP4_F32)
FP4__CPU_ROWS(bf16, uint16_t, FP4_BF16)
FP4__CPU_ROWS(f16, uint16_t, FP4_F16)
FP4__CPU_W4A16_COLS_OUTS(f32, float, FP4_F32)
FP4__CPU_W4A16_COLS_OUTS(bf16, uint16_t, FP4_BF16)
FP4__CPU_W4A16_COLS_OUTS(f16, uint16_t, FP4_F16)

#undef FP4__CPU_Q
#undef FP4__CPU_W4A4
#undef FP4__CPU_W4A16
#undef FP4__CPU_W4A16_OUTS
#undef FP4__CPU_API
#undef FP4__CPU_ROWS
#undef FP4__CPU_W4A16_COLS
#undef FP4__CPU_W4A16_COLS_OUTS

#ifdef __cplusplus
}
#endif
#endif /* FP4_CPU_H */

#else /* FP4__CPU_BODY */
/* ==== body ==== */
/* The per-ISA kernels, written once against the vocabulary (FP4__W lanes) and included once per ISA
 * from ==== kernels ====. Names get the ISA suffix through FP4__F(name). */
#ifdef __cplusplus
extern "C" {
#endif

#ifndef FP4__LD32_DEFINED
#define FP4__LD32_DEFINED
static inline int32_t fp4__ld32(const void *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return v;
}
#endif

/* Walsh-Hadamard on g values in place (spec §3; same operations, element by element, as
 * fp4_hadamard_group): signs, butterflies h = 1, 2, ... in Sylvester order, times fp32(1/sqrt(g));
 * the inverse applies the signs last. */
static inline void FP4__F(fp4__cpu_had)(float *v, int g, const uint32_t *sp, int inverse) {
  int i, jv, h, nv = g / FP4__W;
  FP4__VF nrm = FP4__SET1(fp4__hadamard_norm(g));
  if (sp && !inverse)
    for (i = 0; i < nv; i++)
      FP4__STU(v + i * FP4__W, FP4__CASTF(FP4__IXOR(FP4__CASTI(FP4__LDU(v + i * FP4__W)),
                                                    FP4__CASTI(FP4__F(fp4__signs)(sp, i * FP4__W)))));
  for (i = 0; i < nv; i++) FP4__STU(v + i * FP4__W, FP4__F(fp4__bfly)(FP4__LDU(v + i * FP4__W)));
  for (h = 1; h < nv; h <<= 1)
    for (i = 0; i < nv; i += 2 * h)
      for (jv = i; jv < i + h; jv++) {
        FP4__VF a = FP4__LDU(v + jv * FP4__W), b = FP4__LDU(v + (jv + h) * FP4__W);
        FP4__STU(v + jv * FP4__W, FP4__ADD(a, b));
        FP4__STU(v + (jv + h) * FP4__W, FP4__SUB(a, b));
      }
  for (i = 0; i < nv; i++) FP4__STU(v + i * FP4__W, FP4__MUL(FP4__LDU(v + i * FP4__W), nrm));
  if (sp && inverse)
    for (i = 0; i < nv; i++)
      FP4__STU(v + i * FP4__W, FP4__CASTF(FP4__IXOR(FP4__CASTI(FP4__LDU(v + i * FP4__W)),
                                                    FP4__CASTI(FP4__F(fp4__signs)(sp, i * FP4__W)))));
}

/* One Hadamard group of nv vectors in registers: load (converting), signs, butterflies, scale,
 * bf16 rounding if asked, one store; the same operations as fp4__cpu_had and fp4__load_segment. */
FP4__ALWAYS void FP4__F(fp4__had_fused)(const fp4__qctx *q, const void *src, const int nv, float *dst) {
  FP4__VF v[32], nrm = FP4__SET1(fp4__hadamard_norm(nv * FP4__W));
  int i, jv, h;
  for (i = 0; i < nv; i++) {
    if (q->dt == FP4_F32) v[i] = FP4__LDU((const float *)src + i * FP4__W);
    else if (q->dt == FP4_BF16) v[i] = FP4__F(fp4__ldbf16)((const uint16_t *)src + i * FP4__W);
    else v[i] = FP4__F(fp4__ldf16)((const uint16_t *)src + i * FP4__W);
    if (q->sp) v[i] = FP4__CASTF(FP4__IXOR(FP4__CASTI(v[i]), FP4__CASTI(FP4__F(fp4__signs)(q->sp, i * FP4__W))));
    v[i] = FP4__F(fp4__bfly)(v[i]);
  }
  for (h = 1; h < nv; h <<= 1)
    for (i = 0; i < nv; i += 2 * h)
      for (jv = i; jv < i + h; jv++) {
        FP4__VF a = v[jv], b = v[jv + h];
        v[jv] = FP4__ADD(a, b);
        v[jv + h] = FP4__SUB(a, b);
      }
  for (i = 0; i < nv; i++) {
    FP4__VF y = FP4__MUL(v[i], nrm);
    if (q->bf16) y = FP4__F(fp4__bf16rt)(y);
    FP4__STU(dst + i * FP4__W, y);
  }
}

/* n values of quantized row r from column c0 (n a multiple of L), converted, rotated and rounded as
 * fp4__load_segment does. Returns x itself when nothing needs doing. */
static inline const float *FP4__F(fp4__cpu_seg)(const fp4__qctx *q, int64_t r, int64_t c0, int n, float *buf) {
  int i;
  if (q->g) {
    const char *src = (const char *)q->x + (size_t)(r * q->ldx + c0) * fp4__dtype_size(q->dt);
    size_t es = fp4__dtype_size(q->dt);
    for (i = 0; i < n; i += q->g) {
      const void *p = src + (size_t)i * es;
      switch (q->g / FP4__W) {
      case 1: FP4__F(fp4__had_fused)(q, p, 1, buf + i); break;
      case 2: FP4__F(fp4__had_fused)(q, p, 2, buf + i); break;
      case 4: FP4__F(fp4__had_fused)(q, p, 4, buf + i); break;
      case 8: FP4__F(fp4__had_fused)(q, p, 8, buf + i); break;
      case 16: FP4__F(fp4__had_fused)(q, p, 16, buf + i); break;
      default: FP4__F(fp4__had_fused)(q, p, 32, buf + i); break;
      }
    }
    return buf;
  }
  if (q->dt == FP4_F32) {
    const float *s = (const float *)q->x + r * q->ldx + c0;
    if (!q->g && !q->bf16) return s;
    for (i = 0; i < n; i += FP4__W) FP4__STU(buf + i, FP4__LDU(s + i));
  } else {
    const uint16_t *s = (const uint16_t *)q->x + r * q->ldx + c0;
    if (q->dt == FP4_BF16)
      for (i = 0; i < n; i += FP4__W) FP4__STU(buf + i, FP4__F(fp4__ldbf16)(s + i));
    else
      for (i = 0; i < n; i += FP4__W) FP4__STU(buf + i, FP4__F(fp4__ldf16)(s + i));
  }
  if (q->g)
    for (i = 0; i < n; i += q->g) FP4__F(fp4__cpu_had)(buf + i, q->g, q->sp, 0);
  if (q->bf16)
    for (i = 0; i < n; i += FP4__W) FP4__STU(buf + i, FP4__F(fp4__bf16rt)(FP4__LDU(buf + i)));
  return buf;
}

/* Bits of max |x| over n values (n a multiple of W); NaN and Inf compare above every finite value. */
static inline uint32_t FP4__F(fp4__cpu_absmax_bits)(const float *x, int n) {
  FP4__VI m = FP4__ZEROI(), abs = FP4__SET1I(0x7FFFFFFF);
  int i;
  for (i = 0; i < n; i += FP4__W) m = FP4__IMAX(m, FP4__IAND(FP4__CASTI(FP4__LDU(x + i)), abs));
  return FP4__F(fp4__hmaxu)(m);
}

/* 16 codes (16 / W vectors) to 8 packed bytes. */
static inline void FP4__F(fp4__pack16)(const FP4__VI *c, uint8_t *q) {
#if FP4__W == 8
  FP4__F(fp4__pack2)(c[0], c[1], q);
#else
  FP4__F(fp4__pack)(c[0], q);
#endif
}

/* One MXFP4 block (OCP, CEIL, ABSMAX3; round to nearest), as fp4_mx_quantize_block. */
static inline uint8_t FP4__F(fp4__cpu_mx_block)(const float *x, fp4_rule rule, uint8_t *q) {
  uint32_t ab = FP4__F(fp4__cpu_absmax_bits)(x, 32);
  FP4__VF m, three = FP4__SET1(3.0f);
  int e, i;
  if (ab >= 0x7F800000u || ab == 0) {
    memset(q, 0, 16);
    if (ab) return 0xFF;
    return (uint8_t)((rule == FP4_MX_ABSMAX3 ? fp4__floor_log2(1e-8f) : -127) + 127);
  }
  e = fp4__mx_exp(rule, fp4__float(ab));
  m = FP4__SET1(fp4__exp2i(-e));
  for (i = 0; i < 32; i += 2 * FP4__W) {
    FP4__VF y0 = FP4__MUL(FP4__LDU(x + i), m), y1 = FP4__MUL(FP4__LDU(x + i + FP4__W), m);
    if (rule == FP4_MX_ABSMAX3) {
      y0 = FP4__MUL(y0, three);
      y1 = FP4__MUL(y1, three);
    }
    FP4__F(fp4__pack2)(FP4__F(fp4__e2m1)(y0), FP4__F(fp4__e2m1)(y1), q + i / 2);
  }
  return (uint8_t)(e + 127);
}

/* Codes of y = x * inv for 16 values (all +0 when inv == 0), as fp4_nv_code. */
static inline void FP4__F(fp4__cpu_nv_codes)(const float *x, float inv, FP4__VI *c) {
  int i;
  for (i = 0; i < 16 / FP4__W; i++)
    c[i] = inv != 0.0f ? FP4__F(fp4__e2m1)(FP4__MUL(FP4__LDU(x + i * FP4__W), FP4__SET1(inv))) : FP4__ZEROI();
}

/* The Four Over Six error of one candidate (spec §3): d = ((q * s) * amax) / K per element in
 * vectors, then the sum (or max) in element order, as fp4_nv_err_add. */
static inline float FP4__F(fp4__cpu_nv_err)(const fp4_nv_scale *ts, const float *x, const FP4__VI *c, float sv) {
  float t[16], err = 0.0f;
  int i;
  for (i = 0; i < 16 / FP4__W; i++) {
    FP4__VF d = FP4__DIV(FP4__MUL(FP4__MUL(FP4__F(fp4__e2m1f)(c[i]), FP4__SET1(sv)), FP4__SET1(ts->amax)),
                         FP4__SET1(ts->K));
    FP4__VF u = FP4__SUB(d, FP4__LDU(x + i * FP4__W));
    if (ts->metric == 1) u = FP4__MUL(u, u);
    else u = FP4__CASTF(FP4__IAND(FP4__CASTI(u), FP4__SET1I(0x7FFFFFFF)));
    FP4__VBAR(u);
    FP4__STU(t + i * FP4__W, u);
  }
  if (ts->metric == 3)
    for (i = 0; i < 16; i++) err = t[i] > err ? t[i] : err;
  else
    for (i = 0; i < 16; i++) err = err + t[i];
  return err;
}

/* One NVFP4 block (round to nearest, every rule), as fp4_nv_quantize_block. */
static inline uint8_t FP4__F(fp4__cpu_nv_block)(const float *x, const fp4_nv_scale *ts, uint8_t *q) {
  uint32_t ab = FP4__F(fp4__cpu_absmax_bits)(x, 16);
  FP4__VI c[16 / FP4__W], c4[16 / FP4__W];
  uint8_t s6, s4;
  int i;
  if (ab >= 0x7F800000u) {
    memset(q, 0, 8);
    return 0x7F;
  }
  fp4_nv_candidates(ts, fp4__float(ab), &s6, &s4);
  FP4__F(fp4__cpu_nv_codes)(x, fp4_nv_inv(ts, s6), c);
  if (ts->metric) {
    FP4__F(fp4__cpu_nv_codes)(x, fp4_nv_inv(ts, s4), c4);
    if (FP4__F(fp4__cpu_nv_err)(ts, x, c4, fp4_e4m3_to_float(s4)) <
        FP4__F(fp4__cpu_nv_err)(ts, x, c, fp4_e4m3_to_float(s6))) {
      s6 = s4;
      for (i = 0; i < 16 / FP4__W; i++) c[i] = c4[i];
    }
  }
  FP4__F(fp4__pack16)(c, q);
  return s6;
}

/* n values (n a multiple of 16) as NVFP4 blocks: the candidate scales, their values and
 * 1 / (S_dec * s) for W blocks at a time (fp4_nv_candidates, fp4_nv_inv), then each block's codes
 * and Four Over Six choice. Returns 1 if a block was not finite. */
static inline int FP4__F(fp4__cpu_nv_seg)(const fp4_nv_scale *ts, const float *x, int n, uint8_t *codes,
                                          uint8_t *sc) {
  uint32_t ab[32];
  int32_t c6[32], c4[32];
  float i6[32], i4[32], v6[32], v4[32];
  int nb = n / 16, b, i, nonfinite = 0;
  for (b = 0; b < nb; b++) ab[b] = FP4__F(fp4__cpu_absmax_bits)(x + 16 * b, 16);
  for (; b < 32; b++) ab[b] = 0;
  for (b = 0; b < nb; b += FP4__W) {
    FP4__VI abv = FP4__LDUI(ab + b);
    FP4__VF shp = FP4__MUL(FP4__DIV(FP4__CASTF(FP4__ILT_KEEP(abv, FP4__SET1I(0x7F800000))), FP4__SET1(ts->D)),
                           FP4__SET1(ts->S_enc));
    FP4__VI k6 = FP4__F(fp4__e4m3)(shp), k4 = ts->metric ? FP4__F(fp4__e4m3)(FP4__MUL(shp, FP4__SET1(1.5f))) : k6;
    FP4__VF s6, s4;
    if (ts->amax == 0.0f) k6 = k4 = FP4__ZEROI();
    s6 = FP4__F(fp4__e4m3f)(k6);
    s4 = FP4__F(fp4__e4m3f)(k4);
    FP4__STUI(c6 + b, k6);
    FP4__STUI(c4 + b, k4);
    FP4__STU(v6 + b, s6);
    FP4__STU(v4 + b, s4);
    FP4__STU(i6 + b, FP4__F(fp4__nzkeep)(FP4__DIV(FP4__SET1(1.0f), FP4__MUL(FP4__SET1(ts->S_dec), s6)), s6));
    FP4__STU(i4 + b, FP4__F(fp4__nzkeep)(FP4__DIV(FP4__SET1(1.0f), FP4__MUL(FP4__SET1(ts->S_dec), s4)), s4));
  }
  for (b = 0; b < nb; b++) {
    FP4__VI c[16 / FP4__W], c4v[16 / FP4__W];
    uint8_t s = (uint8_t)c6[b];
    const float *xb = x + 16 * b;
    if (ab[b] >= 0x7F800000u) {
      memset(codes + 8 * b, 0, 8);
      sc[b] = 0x7F;
      nonfinite = 1;
      continue;
    }
    FP4__F(fp4__cpu_nv_codes)(xb, ts->S_dec != 0.0f ? i6[b] : 0.0f, c);
    if (ts->metric) {
      FP4__F(fp4__cpu_nv_codes)(xb, ts->S_dec != 0.0f ? i4[b] : 0.0f, c4v);
      if (FP4__F(fp4__cpu_nv_err)(ts, xb, c4v, v4[b]) < FP4__F(fp4__cpu_nv_err)(ts, xb, c, v6[b])) {
        s = (uint8_t)c4[b];
        for (i = 0; i < 16 / FP4__W; i++) c[i] = c4v[i];
      }
    }
    FP4__F(fp4__pack16)(c, codes + 8 * b);
    sc[b] = s;
  }
  return nonfinite;
}

/* Dequantize n values of one row (n a multiple of the block) from packed codes and scale bytes
 * (spec §3: MXFP4 q * s, ABSMAX3 / 3; NVFP4 (q * s) * S_dec) into y (type dt). */
static inline void FP4__F(fp4__cpu_deq_seg)(fp4_format f, fp4_rule rule, float ts, const uint8_t *codes,
                                            const uint8_t *sc, int n, void *y, fp4_dtype dt) {
  int blk = fp4_format_block(f), b, i;
  FP4__VF three = FP4__SET1(3.0f), tsv = FP4__SET1(ts);
  for (b = 0; b < n; b += blk) {
    uint8_t s = sc[b / blk];
    FP4__VF sv = FP4__SET1(f == FP4_MXFP4 ? fp4_e8m0_to_float(s) : fp4_e4m3_to_float(s));
    for (i = b; i < b + blk; i += FP4__W) {
      FP4__VF v = FP4__MUL(FP4__F(fp4__e2m1f)(FP4__F(fp4__unpack)(codes + i / 2)), sv);
      if (f == FP4_MXFP4) {
        if (rule == FP4_MX_ABSMAX3) v = FP4__DIV(v, three);
      } else
        v = FP4__MUL(v, tsv);
      if (dt == FP4_F32) FP4__STU((float *)y + i, v);
      else if (dt == FP4_BF16) FP4__F(fp4__stbf16)((uint16_t *)y + i, v);
      else FP4__F(fp4__stf16)((uint16_t *)y + i, v);
    }
  }
}

/* Max |x| (finite values) over quantized rows [rb, re) (no transpose). */
static inline float FP4__F(fp4__cpu_amax)(const fp4__cpu_job *j, int64_t rb, int64_t re) {
  const fp4__qctx *q = &j->q;
  float buf[256];
  FP4__VI m = FP4__ZEROI(), abs = FP4__SET1I(0x7FFFFFFF), inf = FP4__SET1I(0x7F800000);
  int64_t r, c0;
  for (r = rb; r < re; r++)
    for (c0 = 0; c0 < q->C; c0 += 256) {
      int n = q->C - c0 < 256 ? (int)(q->C - c0) : 256, i;
      const float *s = FP4__F(fp4__cpu_seg)(q, r, c0, n, buf);
      for (i = 0; i < n; i += FP4__W) m = FP4__IMAX(m, FP4__ILT_KEEP(FP4__IAND(FP4__CASTI(FP4__LDU(s + i)), abs), inf));
    }
  return fp4__float(FP4__F(fp4__hmaxu)(m));
}

/* Quantize rows [rb, re) on the vector path (j->fast). Returns 1 if a block was not finite. */
static inline int FP4__F(fp4__cpu_qrange)(const fp4__cpu_job *j, int64_t rb, int64_t re) {
  const fp4__qctx *q = &j->q;
  float buf[256];
  uint8_t codes[128], sc[16];
  int64_t r, c0;
  int nonfinite = 0;
  for (r = rb; r < re; r++)
    for (c0 = 0; c0 < q->C; c0 += 256) {
      int n = q->C - c0 < 256 ? (int)(q->C - c0) : 256, b;
      const float *s = FP4__F(fp4__cpu_seg)(q, r, c0, n, buf);
      if (q->fmt == FP4_MXFP4)
        for (b = 0; b < n; b += 32) {
          sc[b / 32] = FP4__F(fp4__cpu_mx_block)(s + b, q->rule, codes + b / 2);
          nonfinite |= sc[b / 32] == 0xFF;
        }
      else
        nonfinite |= FP4__F(fp4__cpu_nv_seg)(&q->ts, s, n, codes, sc);
      if (j->k.t) fp4__cpu_put(j, r, c0, n, codes, sc);
      else FP4__F(fp4__cpu_deq_seg)(q->fmt, q->rule, q->ts.S_dec, codes, sc, n, j->k.y + r * j->k.ldy + c0, FP4_F32);
    }
  return nonfinite;
}

/* Dequantize rows [rb, re) of a tensor. */
static inline void FP4__F(fp4__cpu_deq)(const fp4_tensor *t, void *y, fp4_dtype dt, int64_t ldy, int64_t rb,
                                        int64_t re) {
  int blk = fp4_format_block(t->format);
  int64_t nbk = t->cols / blk, r, c0;
  size_t es = fp4__dtype_size(dt);
  uint8_t sc[16];
  for (r = rb; r < re; r++)
    for (c0 = 0; c0 < t->cols; c0 += 256) {
      int n = t->cols - c0 < 256 ? (int)(t->cols - c0) : 256, i;
      fp4__cpu_row_scales(t, r, c0 / blk, n / blk, sc);
      (void)i;
      FP4__F(fp4__cpu_deq_seg)(t->format, t->rule, t->tensor_scale, t->data + r * (t->cols / 2) + c0 / 2, sc, n,
                               (char *)y + (size_t)(r * ldy + c0) * es, dt);
    }
  (void)nbk;
}

FP4__ALWAYS FP4__VF FP4__F(fp4__lda)(const void *A, const fp4_dtype at, int64_t i) {
  if (at == FP4_F32) return FP4__LDU((const float *)A + i);
  if (at == FP4_BF16) return FP4__F(fp4__ldbf16)((const uint16_t *)A + i);
  return FP4__F(fp4__ldf16)((const uint16_t *)A + i);
}

/* ---- W4A4 (spec §5, reproducible): lanes are output columns n, each lane sums its blocks in K
 * order. Integer block sums T_b come from u8 x s8 dot products: A as c + 12 in [0, 24], B as c in
 * [-12, 12] laid out 4 k per int32 lane, minus 12 * sum(B block); then t_b and the fp32 sum. ---- */
typedef struct FP4__F(fp4__w4a4_tile) {
  int8_t b[FP4__NP][FP4__KC / 4][FP4__W][4]; /* B panels, 4 k per lane */
  int32_t corr[FP4__NP][FP4__KC / 16][FP4__W]; /* 12 * sum of the block's B values */
  int32_t bexp[FP4__NP][FP4__KC / 16][FP4__W]; /* MXFP4: (eb - 129) << 23; NVFP4: bits of sb * 0.25 */
  uint8_t bsc[FP4__NP][FP4__KC / 16][FP4__W]; /* B scale codes */
  uint8_t a[FP4__MB][FP4__KC];                /* A rows as c + 12 */
  uint8_t asc[FP4__MB][FP4__KC / 16];         /* A scale codes */
  float acc[FP4__MB][FP4__NP * FP4__W];
} FP4__F(fp4__w4a4_tile);

/* Block terms for one block of one row and one panel, lane by lane through fp4_w4a4_block_term (the
 * rare cases: a NaN scale, or an exponent sum outside the normal range). */
static inline FP4__VF FP4__F(fp4__w4a4_slow)(fp4_format f, FP4__VI T, uint8_t sa, const uint8_t *sb) {
  int32_t t[FP4__W];
  float v[FP4__W];
  int l;
  FP4__STUI(t, T);
  for (l = 0; l < FP4__W; l++) v[l] = fp4_w4a4_block_term(f, t[l], sa, sb[l]);
  return FP4__LDU(v);
}

/* C[i0 .. i0 + n) = alpha_eff * acc (+ beta * C as its own rounding), as fp4_gemm_epilogue. */
static inline void FP4__F(fp4__epilogue)(const float *acc, int64_t n, float alpha_eff, float beta, void *C,
                                         fp4_dtype ct, int64_t i0) {
  FP4__VF al = FP4__SET1(alpha_eff), be = FP4__SET1(beta);
  int64_t i;
  for (i = 0; i + FP4__W <= n; i += FP4__W) {
    FP4__VF v = FP4__MUL(al, FP4__LDU(acc + i));
    if (beta != 0.0f) {
      FP4__VF o = FP4__MUL(be, FP4__F(fp4__lda)(C, ct, i0 + i));
      FP4__VBAR(o);
      v = FP4__ADD(v, o);
    }
    if (ct == FP4_F32) FP4__STU((float *)C + i0 + i, v);
    else if (ct == FP4_BF16) FP4__F(fp4__stbf16)((uint16_t *)C + i0 + i, v);
    else FP4__F(fp4__stf16)((uint16_t *)C + i0 + i, v);
  }
  for (; i < n; i++)
    fp4__store(C, ct, i0 + i, fp4_gemm_epilogue(alpha_eff, acc[i], beta, beta != 0.0f ? fp4__load(C, ct, i0 + i) : 0.0f));
}

/* Columns [nb, ne), at most FP4__NP * FP4__W of them. */
static inline void FP4__F(fp4__cpu_w4a4_tile)(const fp4_tensor *A, const fp4_tensor *B, float alpha_eff, float beta,
                                              void *C, fp4_dtype ct, int64_t ldc, int64_t nb, int64_t ne) {
  FP4__F(fp4__w4a4_tile) tile, *T = &tile;
  const fp4_format f = A->format;
  const int blk = fp4_format_block(f), gpb = blk / 4;
  const int64_t K = A->cols, M = A->rows, nbkK = K / blk;
  const int np = (int)((ne - nb + FP4__W - 1) / FP4__W);
  const __m128i lutA = _mm_setr_epi8(12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0);
  const __m128i lutB = _mm_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
  int64_t m0, k0;
  for (m0 = 0; m0 < M; m0 += FP4__MB) {
    const int mb = M - m0 < FP4__MB ? (int)(M - m0) : FP4__MB;
    int mm, p, l;
    for (mm = 0; mm < mb; mm++)
      for (l = 0; l < FP4__NP * FP4__W; l++) T->acc[mm][l] = 0.0f;
    for (k0 = 0; k0 < K; k0 += FP4__KC) {
      const int kc = K - k0 < FP4__KC ? (int)(K - k0) : FP4__KC, nbk = kc / blk;
      int amin = 255, amax = 0, anan = 0, bmin = 255, bmax = 0, bnan = 0, fast, b;
      /* B panels: decode, sums, scales, then 4-k groups into lanes */
      for (p = 0; p < np; p++)
        for (l = 0; l < FP4__W; l++) {
          int64_t n = nb + p * FP4__W + l;
          int8_t row[FP4__KC];
          int g;
          uint8_t bs[FP4__KC / 16];
          if (n < ne) {
            fp4__cpu_decode(B->data + n * (K / 2) + k0 / 2, kc / 2, (uint8_t *)row, lutB);
            fp4__cpu_row_scales(B, n, k0 / blk, nbk, bs);
          } else {
            memset(row, 0, (size_t)kc);
            memset(bs, f == FP4_MXFP4 ? 127 : 0x38, (size_t)nbk);
          }
          for (b = 0; b < nbk; b++) {
            uint8_t sb = bs[b];
            T->bsc[p][b][l] = sb;
            if (f == FP4_MXFP4) {
              T->bexp[p][b][l] = (int32_t)((uint32_t)(sb - 129) << 23);
              if (sb == 0xFF) bnan = 1;
              bmin = sb < bmin ? sb : bmin;
              bmax = sb > bmax ? sb : bmax;
            } else {
              float q = fp4_e4m3_to_float(sb) * 0.25f;
              memcpy(&T->bexp[p][b][l], &q, 4);
            }
          }
          for (g = 0; g < kc / 4; g++) memcpy(T->b[p][g][l], row + 4 * g, 4);
        }
      /* 12 * (sum of each lane's B block), with the same dot products */
      for (p = 0; p < np; p++)
        for (b = 0; b < nbk; b++) {
          FP4__VI cs = FP4__ZEROI(), twelve = FP4__SET1I(0x0C0C0C0C);
          int g;
          for (g = 0; g < gpb; g++) cs = FP4__F(fp4__dot4)(cs, twelve, FP4__LDUI(&T->b[p][b * gpb + g][0][0]));
          FP4__STUI(T->corr[p][b], cs);
        }
      for (mm = 0; mm < mb; mm++) {
        fp4__cpu_decode(A->data + (m0 + mm) * (K / 2) + k0 / 2, kc / 2, T->a[mm], lutA);
        fp4__cpu_row_scales(A, m0 + mm, k0 / blk, nbk, T->asc[mm]);
        for (b = 0; b < nbk; b++) {
          uint8_t sa = T->asc[mm][b];
          if (sa == 0xFF) anan = 1;
          amin = sa < amin ? sa : amin;
          amax = sa > amax ? sa : amax;
        }
      }
      /* every t_b of the chunk is one exact multiply by 2^(ea + eb - 256) (normal range, no NaN) */
      fast = f != FP4_MXFP4 || (!anan && !bnan && amin + bmin >= 130 && amax + bmax <= 383);
      for (mm = 0; mm < mb; mm += 2) {
        const int m1 = mm + 1 < mb ? mm + 1 : mm;
        for (p = 0; p < np; p += 2) {
          const int p1 = p + 1 < np ? p + 1 : p;
          FP4__VF c00 = FP4__LDU(&T->acc[mm][p * FP4__W]), c01 = FP4__LDU(&T->acc[mm][p1 * FP4__W]);
          FP4__VF c10 = FP4__LDU(&T->acc[m1][p * FP4__W]), c11 = FP4__LDU(&T->acc[m1][p1 * FP4__W]);
          for (b = 0; b < nbk; b++) {
            FP4__VI t00 = FP4__ZEROI(), t01 = FP4__ZEROI(), t10 = FP4__ZEROI(), t11 = FP4__ZEROI();
            const uint8_t *a0 = T->a[mm] + b * blk, *a1 = T->a[m1] + b * blk;
            const int8_t *b0 = &T->b[p][b * gpb][0][0], *b1 = &T->b[p1][b * gpb][0][0];
            FP4__VI cr0 = FP4__LDUI(T->corr[p][b]), cr1 = FP4__LDUI(T->corr[p1][b]);
            FP4__VF v00, v01, v10, v11;
            int g;
            for (g = 0; g < gpb; g++) {
              FP4__VI x0 = FP4__BCAST4(a0 + 4 * g), x1 = FP4__BCAST4(a1 + 4 * g);
              FP4__VI y0 = FP4__LDUI(b0 + g * FP4__W * 4), y1 = FP4__LDUI(b1 + g * FP4__W * 4);
              t00 = FP4__F(fp4__mac)(t00, x0, y0);
              t01 = FP4__F(fp4__mac)(t01, x0, y1);
              t10 = FP4__F(fp4__mac)(t10, x1, y0);
              t11 = FP4__F(fp4__mac)(t11, x1, y1);
            }
            t00 = FP4__ISUB(FP4__F(fp4__macfin)(t00), cr0);
            t01 = FP4__ISUB(FP4__F(fp4__macfin)(t01), cr1);
            t10 = FP4__ISUB(FP4__F(fp4__macfin)(t10), cr0);
            t11 = FP4__ISUB(FP4__F(fp4__macfin)(t11), cr1);
            if (f == FP4_MXFP4 && fast) {
              FP4__VI e0 = FP4__SET1I((int32_t)((uint32_t)T->asc[mm][b] << 23));
              FP4__VI e1 = FP4__SET1I((int32_t)((uint32_t)T->asc[m1][b] << 23));
              FP4__VI be0 = FP4__LDUI(T->bexp[p][b]), be1 = FP4__LDUI(T->bexp[p1][b]);
              v00 = FP4__MUL(FP4__CVTI(t00), FP4__CASTF(FP4__IADD(be0, e0)));
              v01 = FP4__MUL(FP4__CVTI(t01), FP4__CASTF(FP4__IADD(be1, e0)));
              v10 = FP4__MUL(FP4__CVTI(t10), FP4__CASTF(FP4__IADD(be0, e1)));
              v11 = FP4__MUL(FP4__CVTI(t11), FP4__CASTF(FP4__IADD(be1, e1)));
            } else if (f == FP4_MXFP4) {
              v00 = FP4__F(fp4__w4a4_slow)(f, t00, T->asc[mm][b], T->bsc[p][b]);
              v01 = FP4__F(fp4__w4a4_slow)(f, t01, T->asc[mm][b], T->bsc[p1][b]);
              v10 = FP4__F(fp4__w4a4_slow)(f, t10, T->asc[m1][b], T->bsc[p][b]);
              v11 = FP4__F(fp4__w4a4_slow)(f, t11, T->asc[m1][b], T->bsc[p1][b]);
            } else {
              /* NVFP4: T * (sa * (sb * 0.25)) - every step exact, so equal to (T * (sa * sb)) * 0.25 */
              FP4__VF s0 = FP4__SET1(fp4_e4m3_to_float(T->asc[mm][b])), s1 = FP4__SET1(fp4_e4m3_to_float(T->asc[m1][b]));
              FP4__VF q0 = FP4__CASTF(FP4__LDUI(T->bexp[p][b])), q1 = FP4__CASTF(FP4__LDUI(T->bexp[p1][b]));
              v00 = FP4__MUL(FP4__CVTI(t00), FP4__MUL(s0, q0));
              v01 = FP4__MUL(FP4__CVTI(t01), FP4__MUL(s0, q1));
              v10 = FP4__MUL(FP4__CVTI(t10), FP4__MUL(s1, q0));
              v11 = FP4__MUL(FP4__CVTI(t11), FP4__MUL(s1, q1));
            }
            FP4__VBAR(v00);
            FP4__VBAR(v01);
            FP4__VBAR(v10);
            FP4__VBAR(v11);
            c00 = FP4__ADD(c00, v00);
            c01 = FP4__ADD(c01, v01);
            c10 = FP4__ADD(c10, v10);
            c11 = FP4__ADD(c11, v11);
          }
          /* duplicated row / panel: stored twice with the same value */
          FP4__STU(&T->acc[mm][p * FP4__W], c00);
          FP4__STU(&T->acc[mm][p1 * FP4__W], c01);
          FP4__STU(&T->acc[m1][p * FP4__W], c10);
          FP4__STU(&T->acc[m1][p1 * FP4__W], c11);
        }
      }
    }
    for (mm = 0; mm < mb; mm++) FP4__F(fp4__epilogue)(T->acc[mm], ne - nb, alpha_eff, beta, C, ct, (m0 + mm) * ldc + nb);
  }
  (void)nbkK;
}

static inline void FP4__F(fp4__cpu_w4a4)(const fp4_tensor *A, const fp4_tensor *B, float alpha_eff, float beta,
                                         void *C, fp4_dtype ct, int64_t ldc, int64_t nb, int64_t ne) {
  int64_t n0;
  for (n0 = nb; n0 < ne; n0 += FP4__NP * FP4__W)
    FP4__F(fp4__cpu_w4a4_tile)(A, B, alpha_eff, beta, C, ct, ldc, n0,
                               ne - n0 < FP4__NP * FP4__W ? ne : n0 + FP4__NP * FP4__W);
}

/* ---- W4A4 on packed operands (fp4__w4a4_pack): each operand decoded once per call, then a
 * register tile of FP4__TR rows x FP4__TP panels (FP4__TP * FP4__W output columns) over the whole K,
 * the blocks in K order. Promotion per block and output: the exact t_b (spec §5) added by one
 * FMA where the tile's scale codes guarantee that (float)T * scale is exact (MXFP4: ea + eb in
 * [130, 370], no NaN code; NVFP4: no NaN code): then fma(T, s, acc) rounds once, as acc + t_b does.
 * Other tiles take fp4_w4a4_block_term lane by lane. ---- */

/* Pack A rows [m0, m1) (rows at or past M: padding). */
static inline void FP4__F(fp4__w4a4p_pack_a)(const fp4__w4a4_pack *P, const fp4_tensor *A, int64_t m0, int64_t m1) {
  const int mx = A->format == FP4_MXFP4;
  const int64_t K = P->K, nbk = P->nbk;
  const __m128i lutA = _mm_setr_epi8(12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0);
  int64_t m, b;
  for (m = m0; m < m1; m++) {
    uint8_t *sc = P->asc + m * nbk;
    int32_t lo = 4096, hi = -4096;
    if (m < P->M) {
      fp4__cpu_decode(A->data + m * (K / 2), (int)(K / 2), P->a + m * K, lutA);
      fp4__cpu_row_scales(A, m, 0, (int)nbk, sc);
    } else {
      memset(P->a + m * K, 12, (size_t)K);
      memset(sc, mx ? 127 : 0x38, (size_t)nbk);
    }
    for (b = 0; b < nbk; b++) {
      uint8_t s = sc[b];
      if (mx) {
        P->as[m * nbk + b] = (int32_t)((uint32_t)s << 23);
        if (s == 0xFF) lo = -4096, hi = 4096;
        else {
          lo = s < lo ? s : lo;
          hi = s > hi ? s : hi;
        }
      } else {
        float v = fp4_e4m3_to_float(s);
        memcpy(&P->as[m * nbk + b], &v, 4);
        if ((s & 0x7F) == 0x7F) lo = -4096, hi = 4096;
      }
    }
    P->arng[2 * m] = lo;
    P->arng[2 * m + 1] = hi;
  }
}

/* Pack B panel p (FP4__W columns; columns at or past N: code 0, scale 1). */
static inline void FP4__F(fp4__w4a4p_pack_b)(const fp4__w4a4_pack *P, const fp4_tensor *B, int64_t p) {
  const int mx = B->format == FP4_MXFP4, blk = mx ? 32 : 16;
  const int64_t K = P->K, nbk = P->nbk;
  const __m128i lutB = _mm_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
  int8_t *dst = P->b + p * K * FP4__W;
  int32_t lo = 4096, hi = -4096;
  int l;
  for (l = 0; l < FP4__W; l++) {
    const int64_t n = p * FP4__W + l;
    int64_t k0, b;
    for (k0 = 0; k0 < K; k0 += 256) {
      const int kc = K - k0 < 256 ? (int)(K - k0) : 256;
      int8_t row[256];
      int g, k;
      if (n < P->N) fp4__cpu_decode(B->data + n * (K / 2) + k0 / 2, kc / 2, (uint8_t *)row, lutB);
      else memset(row, 0, (size_t)kc);
      for (g = 0; g < kc / 4; g++) memcpy(dst + ((k0 / 4 + g) * FP4__W + l) * 4, row + 4 * g, 4);
      for (b = 0; b < kc / blk; b++) {
        int32_t s = 0;
        for (k = 0; k < blk; k++) s += row[b * blk + k];
        P->bcor[(p * nbk + k0 / blk + b) * FP4__W + l] = FP4__F(fp4__corpack)(-12 * s);
      }
    }
    for (b = 0; b < nbk; b++) {
      uint8_t s = n < P->N ? fp4__scale_at(B, n, b) : (uint8_t)(mx ? 127 : 0x38);
      int64_t i = (p * nbk + b) * FP4__W + l;
      P->bsc[i] = s;
      if (mx) {
        P->bs[i] = (int32_t)((uint32_t)(s - 129) << 23);
        if (s == 0xFF) lo = -4096, hi = 4096;
        else {
          lo = s < lo ? s : lo;
          hi = s > hi ? s : hi;
        }
      } else {
        float v = fp4_e4m3_to_float(s) * 0.25f;
        memcpy(&P->bs[i], &v, 4);
        if ((s & 0x7F) == 0x7F) lo = -4096, hi = 4096;
      }
    }
  }
  P->brng[2 * p] = lo;
  P->brng[2 * p + 1] = hi;
}

/* (float)T, exact for |T| < 2^22: by default through the bits of 1.5 * 2^23 + T, minus 1.5 * 2^23
 * (an integer add and a float subtract, either of the two 512-bit ports, where the conversion
 * instruction would share port 0 with vpdpbusd; measured faster on the device host, bench/RESULTS.md);
 * FP4__W4A4_I2F_MAGIC=0 selects the conversion instruction. Same value either way. */
#ifndef FP4__W4A4_I2F_MAGIC
#define FP4__W4A4_I2F_MAGIC 1
#endif
FP4__ALWAYS FP4__VF FP4__F(fp4__w4a4p_i2f)(FP4__VI t) {
#if FP4__W4A4_I2F_MAGIC
  return FP4__SUB(FP4__CASTF(FP4__IADD(t, FP4__SET1I(0x4B400000))), FP4__SET1(12582912.0f));
#else
  return FP4__CVTI(t);
#endif
}

/* acc[FP4__TR][FP4__TP * FP4__W] = the fp32 block sums of rows m0 .. and panels p0 .. (K order). */
FP4__ALWAYS void FP4__F(fp4__w4a4p_micro)(const fp4__w4a4_pack *P, const fp4_format f, int64_t m0, int64_t p0,
                                          float (*acc)[FP4__TP * FP4__W]) {
  const int blk = f == FP4_MXFP4 ? 32 : 16, gpb = blk / 4;
  const int64_t K = P->K, nbk = P->nbk;
  const uint8_t *a = P->a + m0 * K;
  const int32_t *as = P->as + m0 * nbk;
  int32_t lo = 4096, hi = -4096, tt[FP4__TR][FP4__TP][FP4__W];
  int64_t b;
  int r, p, fast;
  for (r = 0; r < FP4__TR; r++) {
    lo = P->arng[2 * (m0 + r)] < lo ? P->arng[2 * (m0 + r)] : lo;
    hi = P->arng[2 * (m0 + r) + 1] > hi ? P->arng[2 * (m0 + r) + 1] : hi;
    for (p = 0; p < FP4__TP * FP4__W; p++) acc[r][p] = 0.0f;
  }
  fast = 1;
  for (p = 0; p < FP4__TP; p++) {
    const int32_t blo = P->brng[2 * (p0 + p)], bhi = P->brng[2 * (p0 + p) + 1];
    if (f == FP4_MXFP4) fast &= lo >= 0 && blo >= 0 && hi <= 255 && bhi <= 255 && lo + blo >= 130 && hi + bhi <= 370;
    else fast &= lo >= 0 && blo >= 0 && hi <= 255 && bhi <= 255;
  }
  for (b = 0; b < nbk; b++) {
    const int8_t *bb = P->b + (p0 * K + b * blk) * FP4__W;
    const uint8_t *ab = a + b * blk;
    const int32_t *cp0 = P->bcor + (p0 * nbk + b) * FP4__W, *cp1 = P->bcor + ((p0 + 1) * nbk + b) * FP4__W;
    /* named accumulators (an array would live in memory); FP4__TP is 2 */
    FP4__VI t00 = FP4__F(fp4__macinit)(FP4__LDUI(cp0)), t01 = FP4__F(fp4__macinit)(FP4__LDUI(cp1)), t10 = t00, t11 = t01, t20 = t00,
            t21 = t01, t30 = t00, t31 = t01;
#if FP4__TR == 8
    FP4__VI t40 = t00, t41 = t01, t50 = t00, t51 = t01, t60 = t00, t61 = t01, t70 = t00, t71 = t01;
#endif
    int g;
    for (g = 0; g < gpb; g++) {
      const FP4__VI y0 = FP4__LDUI(bb + 4 * g * FP4__W), y1 = FP4__LDUI(bb + (K + 4 * g) * FP4__W);
      FP4__VI x;
/* row r: broadcast 4 A bytes, two dot products; the barrier keeps each chain as written (the
 * compiler would otherwise reassociate the int16 sums and spill) */
#define FP4__W4A4_ROW(r)                          \
  x = FP4__BCAST4(ab + r * K + 4 * g);            \
  t##r##0 = FP4__F(fp4__mac)(t##r##0, x, y0);     \
  t##r##1 = FP4__F(fp4__mac)(t##r##1, x, y1);     \
  FP4__VBAR(t##r##0);                             \
  FP4__VBAR(t##r##1);
      FP4__W4A4_ROW(0)
      FP4__W4A4_ROW(1)
      FP4__W4A4_ROW(2)
      FP4__W4A4_ROW(3)
#if FP4__TR == 8
      FP4__W4A4_ROW(4)
      FP4__W4A4_ROW(5)
      FP4__W4A4_ROW(6)
      FP4__W4A4_ROW(7)
#endif
#undef FP4__W4A4_ROW
    }
    FP4__STUI(tt[0][0], FP4__F(fp4__macend)(t00));
    FP4__STUI(tt[0][1], FP4__F(fp4__macend)(t01));
    FP4__STUI(tt[1][0], FP4__F(fp4__macend)(t10));
    FP4__STUI(tt[1][1], FP4__F(fp4__macend)(t11));
    FP4__STUI(tt[2][0], FP4__F(fp4__macend)(t20));
    FP4__STUI(tt[2][1], FP4__F(fp4__macend)(t21));
    FP4__STUI(tt[3][0], FP4__F(fp4__macend)(t30));
    FP4__STUI(tt[3][1], FP4__F(fp4__macend)(t31));
#if FP4__TR == 8
    FP4__STUI(tt[4][0], FP4__F(fp4__macend)(t40));
    FP4__STUI(tt[4][1], FP4__F(fp4__macend)(t41));
    FP4__STUI(tt[5][0], FP4__F(fp4__macend)(t50));
    FP4__STUI(tt[5][1], FP4__F(fp4__macend)(t51));
    FP4__STUI(tt[6][0], FP4__F(fp4__macend)(t60));
    FP4__STUI(tt[6][1], FP4__F(fp4__macend)(t61));
    FP4__STUI(tt[7][0], FP4__F(fp4__macend)(t70));
    FP4__STUI(tt[7][1], FP4__F(fp4__macend)(t71));
#endif
    if (fast && f == FP4_MXFP4) {
      for (r = 0; r < FP4__TR; r++) {
        FP4__VI e = FP4__SET1I(as[r * nbk + b]);
        for (p = 0; p < FP4__TP; p++) {
          FP4__VF s = FP4__CASTF(FP4__IADD(FP4__LDUI(P->bs + ((p0 + p) * nbk + b) * FP4__W), e));
          FP4__STU(acc[r] + p * FP4__W, FP4__FMA(FP4__F(fp4__w4a4p_i2f)(FP4__LDUI(tt[r][p])), s, FP4__LDU(acc[r] + p * FP4__W)));
        }
      }
    } else if (fast) {
      for (r = 0; r < FP4__TR; r++) {
        FP4__VF e = FP4__CASTF(FP4__SET1I(as[r * nbk + b]));
        for (p = 0; p < FP4__TP; p++) {
          FP4__VF s = FP4__MUL(FP4__CASTF(FP4__LDUI(P->bs + ((p0 + p) * nbk + b) * FP4__W)), e);
          FP4__STU(acc[r] + p * FP4__W, FP4__FMA(FP4__F(fp4__w4a4p_i2f)(FP4__LDUI(tt[r][p])), s, FP4__LDU(acc[r] + p * FP4__W)));
        }
      }
    } else {
      for (r = 0; r < FP4__TR; r++)
        for (p = 0; p < FP4__TP; p++) {
          FP4__VF v = FP4__F(fp4__w4a4_slow)(f, FP4__LDUI(tt[r][p]), P->asc[(m0 + r) * nbk + b],
                                             P->bsc + ((p0 + p) * nbk + b) * FP4__W);
          FP4__VBAR(v);
          FP4__STU(acc[r] + p * FP4__W, FP4__ADD(FP4__LDU(acc[r] + p * FP4__W), v));
        }
    }
  }
}

/* Output rows [m0, m1) x tile columns from panel p0 (clipped to N): microkernels, then the epilogue. */
static inline void FP4__F(fp4__w4a4p_tile)(const fp4__w4a4_pack *P, fp4_format f, float alpha_eff, float beta,
                                           void *C, fp4_dtype ct, int64_t ldc, int64_t m0, int64_t m1, int64_t p0) {
  float acc[FP4__TR][FP4__TP * FP4__W];
  const int64_t n0 = p0 * FP4__W, nn = P->N - n0 < FP4__TP * FP4__W ? P->N - n0 : FP4__TP * FP4__W;
  int64_t m;
  int r;
  for (m = m0; m < m1; m += FP4__TR) {
    if (f == FP4_MXFP4) FP4__F(fp4__w4a4p_micro)(P, FP4_MXFP4, m, p0, acc);
    else FP4__F(fp4__w4a4p_micro)(P, FP4_NVFP4, m, p0, acc);
    for (r = 0; r < FP4__TR && m + r < P->M; r++) FP4__F(fp4__epilogue)(acc[r], nn, alpha_eff, beta, C, ct, (m + r) * ldc + n0);
  }
}

/* One stage of the packed W4A4 for work item i: 0 pack A rows [8i, 8i + 8); 1 pack B panels
 * [(32 / W) i, ...) (32 columns); 2 output tile i (FP4__W4A4_MG rows x FP4__TP panels). */
static inline void FP4__F(fp4__cpu_w4a4p)(int stage, int64_t i, const fp4__w4a4_pack *P, const fp4_tensor *A,
                                          const fp4_tensor *B, float alpha_eff, float beta, void *C, fp4_dtype ct,
                                          int64_t ldc) {
  if (stage == 0) FP4__F(fp4__w4a4p_pack_a)(P, A, 8 * i, 8 * i + 8);
  else if (stage == 1) {
    int64_t p;
    for (p = i * (32 / FP4__W); p < (i + 1) * (32 / FP4__W); p++) FP4__F(fp4__w4a4p_pack_b)(P, B, p);
  } else {
    const int64_t nrg = (P->Mp + FP4__W4A4_MG - 1) / FP4__W4A4_MG, ct0 = i / nrg, rg = i % nrg;
    const int64_t m0 = rg * FP4__W4A4_MG, m1 = m0 + FP4__W4A4_MG < P->Mp ? m0 + FP4__W4A4_MG : P->Mp;
    FP4__F(fp4__w4a4p_tile)(P, A->format, alpha_eff, beta, C, ct, ldc, m0, m1, ct0 * FP4__TP);
  }
}

/* Work items of stage 2. */
static inline int64_t FP4__F(fp4__w4a4p_items)(const fp4__w4a4_pack *P) {
  return P->Np / (FP4__TP * FP4__W) * ((P->Mp + FP4__W4A4_MG - 1) / FP4__W4A4_MG);
}

/* ---- W4A16 (within spec §5's bound, not bit-exact): one weight row at a time, its blocks decoded
 * through a table scaled by the block scale, times up to 4 activation rows, fp32 FMA. ---- */
/* out[0 .. mr) = dot(A rows m0 .., weight row n); at and mr are constants after inlining. */
FP4__ALWAYS void FP4__F(fp4__w4a16_row)(const void *A, const fp4_dtype at, int64_t lda, int64_t m0, const int mr,
                                        const fp4_tensor *B, int64_t n, float *out) {
  const int blk = fp4_format_block(B->format), mx = B->format == FP4_MXFP4;
  const int64_t K = B->cols, nbk = K / blk;
  const uint8_t *bq = B->data + n * (K / 2);
  const uint8_t *sl = B->scale_layout == FP4_LAYOUT_LINEAR ? B->scales + n * nbk : NULL;
  FP4__VF acc[4][2];
  float sv[64];
  int64_t kb, k;
  int j, v, mm;
  for (mm = 0; mm < 4; mm++) acc[mm][0] = acc[mm][1] = FP4__SET1(0.0f);
  for (kb = 0; kb < nbk; kb += 64) {
    const int nb = nbk - kb < 64 ? (int)(nbk - kb) : 64;
    const int64_t kend = (kb + nb) * blk;
    for (j = 0; j < nb; j++) {
      uint8_t s = sl ? sl[kb + j] : fp4__scale_at(B, n, kb + j);
      sv[j] = mx ? fp4_e8m0_to_float(s) : fp4_e4m3_to_float(s);
    }
    for (k = kb * blk; k + 32 <= kend; k += 32) {
      FP4__VI c[32 / FP4__W];
      FP4__F(fp4__unpack32)(bq + k / 2, c);
      for (v = 0; v < 32 / FP4__W; v++) {
        /* the block of vector v (shifts: blk is 32 or 16) */
        const int bi = (int)((mx ? k >> 5 : (k + v * FP4__W) >> 4) - kb);
        FP4__VF w = FP4__MUL(FP4__F(fp4__e2m1f)(c[v]), FP4__SET1(sv[bi]));
        for (mm = 0; mm < mr; mm++)
          acc[mm][v & 1] = FP4__FMA(FP4__F(fp4__lda)(A, at, (m0 + mm) * lda + k + v * FP4__W), w, acc[mm][v & 1]);
      }
    }
    for (; k < kend; k += FP4__W) { /* a 16-element tail (NVFP4) */
      FP4__VF w = FP4__MUL(FP4__F(fp4__e2m1f)(FP4__F(fp4__unpack)(bq + k / 2)), FP4__SET1(sv[(k >> 4) - kb]));
      for (mm = 0; mm < mr; mm++)
        acc[mm][0] = FP4__FMA(FP4__F(fp4__lda)(A, at, (m0 + mm) * lda + k), w, acc[mm][0]);
    }
  }
  for (mm = 0; mm < mr; mm++) out[mm] = FP4__F(fp4__hsum)(FP4__ADD(acc[mm][0], acc[mm][1]));
}

/* Decode weights [k0, k0 + nk) of row n, times their block scales, into w (nk a multiple of 32). */
static inline void FP4__F(fp4__w4a16_decode)(const fp4_tensor *B, int64_t n, int64_t k0, int nk, float *w) {
  const int blk = fp4_format_block(B->format), mx = B->format == FP4_MXFP4;
  const uint8_t *bq = B->data + n * (B->cols / 2);
  uint8_t sc[FP4__W4A16_KC / 16];
  int k, v;
  fp4__cpu_row_scales(B, n, k0 / blk, nk / blk, sc);
  for (k = 0; k < nk; k += 32) {
    FP4__VI c[32 / FP4__W];
    FP4__F(fp4__unpack32)(bq + (k0 + k) / 2, c);
    for (v = 0; v < 32 / FP4__W; v++) {
      uint8_t s = sc[(k + v * FP4__W) / blk];
      FP4__STU(w + k + v * FP4__W,
               FP4__MUL(FP4__F(fp4__e2m1f)(c[v]), FP4__SET1(mx ? fp4_e8m0_to_float(s) : fp4_e4m3_to_float(s))));
    }
  }
}

/* part[0 .. mr) = dot(A rows m0 .. at columns k0 .., decoded weights w[0 .. nk)); mr constant. */
FP4__ALWAYS void FP4__F(fp4__w4a16_dot)(const void *A, const fp4_dtype at, int64_t lda, int64_t m0, const int mr,
                                        const float *w, int64_t k0, int nk, float *part) {
  FP4__VF acc[4][2];
  int k, mm;
  for (mm = 0; mm < 4; mm++) acc[mm][0] = acc[mm][1] = FP4__SET1(0.0f);
  for (k = 0; k < nk; k += 2 * FP4__W) {
    FP4__VF w0 = FP4__LDU(w + k), w1 = FP4__LDU(w + k + FP4__W);
    for (mm = 0; mm < mr; mm++) {
      acc[mm][0] = FP4__FMA(FP4__F(fp4__lda)(A, at, (m0 + mm) * lda + k0 + k), w0, acc[mm][0]);
      acc[mm][1] = FP4__FMA(FP4__F(fp4__lda)(A, at, (m0 + mm) * lda + k0 + k + FP4__W), w1, acc[mm][1]);
    }
  }
  for (mm = 0; mm < mr; mm++) part[mm] = FP4__F(fp4__hsum)(FP4__ADD(acc[mm][0], acc[mm][1]));
}

/* M > 4 rows (up to 64): K chunks outer, a tile of up to 32 weight rows inner, so that the chunk
 * of A (M x FP4__W4A16_KC values) is read from cache by every row of the tile; each weight chunk is
 * decoded once and used by every row of A, 4 rows at a time. sum: [32][64] partial sums. */
FP4__ALWAYS void FP4__F(fp4__w4a16_many)(const void *A, const fp4_dtype at, int64_t M, int64_t lda,
                                         const fp4_tensor *B, int64_t n0, int nt, float (*sum)[64]) {
  float w[FP4__W4A16_KC];
  int64_t k0, K = B->cols, m0;
  int mm, i;
  for (i = 0; i < nt; i++)
    for (m0 = 0; m0 < M; m0++) sum[i][m0] = 0.0f;
  for (k0 = 0; k0 < K; k0 += FP4__W4A16_KC) {
    const int nk = K - k0 < FP4__W4A16_KC ? (int)(K - k0) : FP4__W4A16_KC;
    for (i = 0; i < nt; i++) {
      FP4__F(fp4__w4a16_decode)(B, n0 + i, k0, nk, w);
      for (m0 = 0; m0 < M; m0 += 4) {
        const int mr = M - m0 < 4 ? (int)(M - m0) : 4;
        float part[4];
        if (mr == 4) FP4__F(fp4__w4a16_dot)(A, at, lda, m0, 4, w, k0, nk, part);
        else if (mr == 3) FP4__F(fp4__w4a16_dot)(A, at, lda, m0, 3, w, k0, nk, part);
        else if (mr == 2) FP4__F(fp4__w4a16_dot)(A, at, lda, m0, 2, w, k0, nk, part);
        else FP4__F(fp4__w4a16_dot)(A, at, lda, m0, 1, w, k0, nk, part);
        for (mm = 0; mm < mr; mm++) sum[i][m0 + mm] += part[mm];
      }
    }
  }
}

/* M <= 16, K a multiple of 4W ("stream"): the activations of a K chunk converted to f32 once per
 * work item and split into even and odd elements (act[m]: per group of 2W elements, W evens then
 * W odds), so that W packed weight bytes decode in place (byte j: elements 2j and 2j + 1) into two
 * vectors through the E2M1 table, times the block scales (per lane), then FMA chains for up to 4
 * activation rows (4 chains per row for 1 or 2 rows). Weight rows [n0, n0 + nt), nt <= 64;
 * sum[i][m] += the chunk's dot products of activation rows m0 .. m0 + mr. */
#define FP4__W4A16_SC 1024 /* elements per chunk */
FP4__ALWAYS void FP4__F(fp4__w4a16_stream_rows)(const fp4_tensor *B, const float (*act)[FP4__W4A16_SC], const int mr,
                                                int64_t n0, int nt, int64_t k0, int kc, float (*sum)[16], int m0) {
  const int mx = B->format == FP4_MXFP4, blk = mx ? 32 : 16, nb = kc / blk;
  const int64_t K = B->cols;
  uint8_t scb[FP4__W4A16_SC / 16 + 16];
  float sv[FP4__W4A16_SC / 16 + 16];
  int i, j, g, m;
  memset(scb, 0, sizeof scb);
  for (i = 0; i < nt; i++) {
    const uint8_t *bq = B->data + (n0 + i) * (K / 2) + k0 / 2;
    FP4__VF acc[4][4];
    fp4__cpu_row_scales(B, n0 + i, k0 / blk, nb, scb);
    for (j = 0; j < nb; j += FP4__W)
      FP4__STU(sv + j, mx ? FP4__F(fp4__e8m0f)(FP4__F(fp4__ldcodes)(scb + j)) : FP4__F(fp4__e4m3f)(FP4__F(fp4__ldcodes)(scb + j)));
    for (m = 0; m < 4; m++) acc[m][0] = acc[m][1] = acc[m][2] = acc[m][3] = FP4__SET1(0.0f);
    for (g = 0; g < kc / (2 * FP4__W); g += 2) {
      int h;
      for (h = 0; h < 2; h++) {
        const FP4__VI v = FP4__F(fp4__ldcodes)(bq + (g + h) * FP4__W);
        FP4__VF s, wl, wh;
        const int c = mr <= 2 ? 2 * h : 0; /* 4 chains per row for 1 or 2 rows, else 2 */
#if FP4__W == 16
        if (mx) { /* one block: the 16-entry table scaled once, then two lookups */
          s = _mm512_mul_ps(_mm512_setr_ps(0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f, -0.0f, -0.5f, -1.0f, -1.5f,
                                           -2.0f, -3.0f, -4.0f, -6.0f),
                            _mm512_set1_ps(sv[g + h]));
          wl = _mm512_permutexvar_ps(v, s);
          wh = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), s);
        } else {
          s = FP4__F(fp4__halves)(sv + 2 * (g + h));
          wl = FP4__MUL(FP4__F(fp4__e2m1lo)(v), s);
          wh = FP4__MUL(FP4__F(fp4__e2m1hi)(v), s);
        }
#else
        s = FP4__SET1(sv[mx ? (g + h) >> 1 : g + h]);
        wl = FP4__MUL(FP4__F(fp4__e2m1lo)(v), s);
        wh = FP4__MUL(FP4__F(fp4__e2m1hi)(v), s);
#endif
        for (m = 0; m < mr; m++) {
          const float *ap = act[m] + (g + h) * 2 * FP4__W;
          acc[m][c] = FP4__FMA(FP4__LDU(ap), wl, acc[m][c]);
          acc[m][c + 1] = FP4__FMA(FP4__LDU(ap + FP4__W), wh, acc[m][c + 1]);
        }
      }
    }
    for (m = 0; m < mr; m++)
      sum[i][m0 + m] += FP4__F(fp4__hsum)(FP4__ADD(FP4__ADD(acc[m][0], acc[m][1]), FP4__ADD(acc[m][2], acc[m][3])));
  }
}

FP4__ALWAYS void FP4__F(fp4__w4a16_stream)(const void *A, const fp4_dtype at, int64_t M, int64_t lda,
                                           const fp4_tensor *B, float alpha_eff, float beta, void *C, fp4_dtype ct,
                                           int64_t ldc, int64_t nb, int64_t ne) {
  float act[16][FP4__W4A16_SC], sum[64][16];
  const int64_t K = B->cols;
  int64_t n0, k0, m;
  for (n0 = nb; n0 < ne; n0 += 64) {
    const int nt = ne - n0 < 64 ? (int)(ne - n0) : 64;
    int i;
    for (i = 0; i < nt; i++)
      for (m = 0; m < M; m++) sum[i][m] = 0.0f;
    for (k0 = 0; k0 < K; k0 += FP4__W4A16_SC) {
      const int kc = K - k0 < FP4__W4A16_SC ? (int)(K - k0) : FP4__W4A16_SC;
      int k;
      for (m = 0; m < M; m++)
        for (k = 0; k < kc; k += 2 * FP4__W) {
          FP4__VF ev, od;
          FP4__F(fp4__deint)(FP4__F(fp4__lda)(A, at, m * lda + k0 + k), FP4__F(fp4__lda)(A, at, m * lda + k0 + k + FP4__W),
                             &ev, &od);
          FP4__STU(act[m] + k, ev);
          FP4__STU(act[m] + k + FP4__W, od);
        }
      for (m = 0; m < M; m += 4) {
        const float(*am)[FP4__W4A16_SC] = (const float(*)[FP4__W4A16_SC])act + m;
        if (M - m == 1) FP4__F(fp4__w4a16_stream_rows)(B, am, 1, n0, nt, k0, kc, sum, (int)m);
        else if (M - m == 2) FP4__F(fp4__w4a16_stream_rows)(B, am, 2, n0, nt, k0, kc, sum, (int)m);
        else if (M - m == 3) FP4__F(fp4__w4a16_stream_rows)(B, am, 3, n0, nt, k0, kc, sum, (int)m);
        else FP4__F(fp4__w4a16_stream_rows)(B, am, 4, n0, nt, k0, kc, sum, (int)m);
      }
    }
    for (i = 0; i < nt; i++)
      for (m = 0; m < M; m++)
        fp4__store(C, ct, m * ldc + n0 + i,
                   fp4_gemm_epilogue(alpha_eff, sum[i][m], beta, beta != 0.0f ? fp4__load(C, ct, m * ldc + n0 + i) : 0.0f));
  }
}
#undef FP4__W4A16_SC

FP4__ALWAYS void FP4__F(fp4__w4a16_cols)(const void *A, const fp4_dtype at, int64_t M, int64_t lda,
                                         const fp4_tensor *B, float alpha_eff, float beta, void *C, fp4_dtype ct,
                                         int64_t ldc, int64_t nb, int64_t ne) {
  int64_t n, m0;
  if (M <= 16 && B->cols % (4 * FP4__W) == 0) {
    FP4__F(fp4__w4a16_stream)(A, at, M, lda, B, alpha_eff, beta, C, ct, ldc, nb, ne);
    return;
  }
  if (M > 4 && M <= 64 && B->cols % 32 == 0) {
    float sum[32][64];
    for (n = nb; n < ne; n += 32) {
      const int nt = ne - n < 32 ? (int)(ne - n) : 32;
      int i;
      FP4__F(fp4__w4a16_many)(A, at, M, lda, B, n, nt, sum);
      for (i = 0; i < nt; i++)
        for (m0 = 0; m0 < M; m0++)
          fp4__store(C, ct, m0 * ldc + n + i,
                     fp4_gemm_epilogue(alpha_eff, sum[i][m0], beta,
                                       beta != 0.0f ? fp4__load(C, ct, m0 * ldc + n + i) : 0.0f));
    }
    return;
  }
  for (n = nb; n < ne; n++)
    for (m0 = 0; m0 < M; m0 += 4) {
      int mr = M - m0 < 4 ? (int)(M - m0) : 4, mm;
      float out[4];
      if (mr == 1) FP4__F(fp4__w4a16_row)(A, at, lda, m0, 1, B, n, out);
      else if (mr == 2) FP4__F(fp4__w4a16_row)(A, at, lda, m0, 2, B, n, out);
      else if (mr == 3) FP4__F(fp4__w4a16_row)(A, at, lda, m0, 3, B, n, out);
      else FP4__F(fp4__w4a16_row)(A, at, lda, m0, 4, B, n, out);
      for (mm = 0; mm < mr; mm++) {
        int64_t m = m0 + mm;
        fp4__store(C, ct, m * ldc + n,
                   fp4_gemm_epilogue(alpha_eff, out[mm], beta, beta != 0.0f ? fp4__load(C, ct, m * ldc + n) : 0.0f));
      }
    }
}

static inline void FP4__F(fp4__cpu_w4a16)(const void *A, fp4_dtype at, int64_t M, int64_t lda, const fp4_tensor *B,
                                          float alpha_eff, float beta, void *C, fp4_dtype ct, int64_t ldc, int64_t nb,
                                          int64_t ne) {
  if (at == FP4_F32) FP4__F(fp4__w4a16_cols)(A, FP4_F32, M, lda, B, alpha_eff, beta, C, ct, ldc, nb, ne);
  else if (at == FP4_BF16) FP4__F(fp4__w4a16_cols)(A, FP4_BF16, M, lda, B, alpha_eff, beta, C, ct, ldc, nb, ne);
  else FP4__F(fp4__w4a16_cols)(A, FP4_F16, M, lda, B, alpha_eff, beta, C, ct, ldc, nb, ne);
}

#ifdef __cplusplus
}
#endif
#endif /* FP4__CPU_BODY */

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
