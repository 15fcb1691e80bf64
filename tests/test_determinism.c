/* SPDX-License-Identifier: MIT */
/* Determinism: the same input and seed give the same bytes
 *  - across runs, compilers and flags: a fixed workload (every format, rule and rounding; Hadamard with
 *    each kind of signs, bf16 rounding, transpose, 2D, calibrated amax, swizzled scales, bf16/f16 inputs,
 *    non-finite blocks; dequantization, fake quantization with the QuEST mask, every GEMM variant,
 *    Hadamard, scale layout conversion) hashes to a pinned digest (GOLDEN below);
 *  - across back ends: fp4_cpu.h (its default and every _scalar/_avx2/_avx512 path compiled in) gives the
 *    workload digest of fp4.h;
 *  - across OpenMP thread counts (1, 2, 3, 7) when built with -fopenmp (.ci/steps/openmp.sh does);
 *  - across memory layout: leading dimensions, buffer offsets and repeated calls change nothing; the
 *    stochastic-rounding stream depends on the seed and the element's index only;
 *  - across work splits: fp4_cpu.h's row-range entry points over any split equal the whole call.
 * If fp4.h's arithmetic changes on purpose, the test prints the new digest to pin. */
#include "fp4.h"
#if defined(__has_include)
#if __has_include("fp4_cpu.h")
#include "fp4_cpu.h"
#endif
#endif
#include "harness.h"
#include "backends.h"
#ifdef _OPENMP
#include <omp.h>
#endif

/* Digest of the workload on fp4.h (scalar reference). */
#define GOLDEN 0x95a8ed084d9f7330ull

/* ---- the workload ---- */
typedef struct fnv {
  uint64_t h;
} fnv;
static void fnv_add(fnv *d, const void *p, size_t n) {
  const unsigned char *b = (const unsigned char *)p;
  size_t i;
  for (i = 0; i < n; i++) d->h = (d->h ^ b[i]) * 1099511628211ull;
}
static void fnv_int(fnv *d, long long v) { fnv_add(d, &v, sizeof v); }

/* Fixed inputs, independent of the run's seed: splitmix64 from a constant. */
static uint64_t fixed_state;
static uint64_t fixed_rand(void) {
  uint64_t z = (fixed_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
/* A value with an exact, compiler-independent computation: a 12-bit integer times a power of two. */
static float fixed_value(void) {
  uint64_t r = fixed_rand();
  int m = (int)(r & 0xFFF) - 2048, e = (int)((r >> 12) % 12) - 16;
  return ldexpf((float)m, e);
}

#define WR 64
#define WC 128
#define WN 48
typedef struct inputs {
  float x[WR * WC], xnan[WR * WC], w[WN * WC];
  uint16_t xb[WR * WC], xh[WR * WC];
} inputs;
static inputs in;

static void make_inputs(void) {
  int i;
  fixed_state = 0x0123456789ABCDEFull;
  for (i = 0; i < WR * WC; i++) in.x[i] = fixed_value();
  for (i = 0; i < WN * WC; i++) in.w[i] = fixed_value();
  for (i = 0; i < WR * WC; i++) {
    in.xb[i] = fp4_f32_to_bf16(in.x[i] * 1.001f);
    in.xh[i] = fp4_f32_to_f16(in.x[i] * 0.999f);
  }
  memcpy(in.xnan, in.x, sizeof in.x);
  in.xnan[5 * WC + 40] = (float)NAN;
  in.xnan[17 * WC + 3] = (float)INFINITY;
  in.xnan[40 * WC + 127] = -(float)INFINITY;
}

/* Option sets applied on top of (format, rule, rounding). */
#define NOPT 10
static int option(fp4_quant_config *c, fp4_layout *l, int *src, int k) {
  *l = FP4_LAYOUT_LINEAR;
  *src = 0; /* 0 f32, 1 bf16, 2 f16, 3 f32 with non-finite values */
  switch (k) {
  case 0: break;
  case 1: c->hadamard = 16; c->hadamard_signs = FP4_SIGNS_USER; fp4_hadamard_signs_rht16(c->hadamard_sign_bits); c->hadamard_bf16 = 1; break;
  case 2: c->hadamard = 128; c->hadamard_signs = FP4_SIGNS_RANDOM; break;
  case 3: c->hadamard = 32; *src = 1; break;
  case 4: c->transpose = 1; break;
  case 5: if (c->format != FP4_NVFP4) return 0; c->scale_2d = 1; break;
  case 6: if (c->format != FP4_NVFP4) return 0; c->scale_2d = 1; c->transpose = 1; break;
  case 7: *l = FP4_LAYOUT_SWIZZLED; *src = 2; if (c->format == FP4_NVFP4) { c->has_amax = 1; c->amax = 1.5f; } break;
  case 8: *src = 3; break;
  default: *src = 3; c->hadamard = 64; c->transpose = 1; break;
  }
  return 1;
}

static void digest_tensor(fnv *d, const fp4_tensor *t, fp4_layout l) {
  fnv_add(d, t->data, fp4_data_bytes(t->rows, t->cols));
  fnv_add(d, t->scales, fp4_scale_bytes(t->format, t->rows, t->cols, l));
  fnv_add(d, &t->tensor_scale, 4);
  fnv_add(d, &t->amax, 4);
  fnv_int(d, t->rows);
  fnv_int(d, t->cols);
  fnv_int(d, t->rule);
}

/* Quantize, dequantize and fake quantize under every configuration; digest everything. */
static uint64_t workload_quant(const backend *b) {
  fnv d = {1469598103934665603ull};
  int f, r, rnd, k;
  size_t n = (size_t)WR * WC;
  uint8_t *q = (uint8_t *)malloc(n / 2), *s = (uint8_t *)malloc(4096), *m = (uint8_t *)malloc(n / 8),
          *m2 = (uint8_t *)malloc(n / 8);
  float *y = (float *)malloc(n * 4), *y2 = (float *)malloc(n * 4);
  uint16_t *yh = (uint16_t *)malloc(n * 2);
  for (f = 0; f < FP4_FORMAT_COUNT; f++)
    for (r = 0; r < FP4_RULE_COUNT; r++) {
      if (r != FP4_RULE_DEFAULT && fp4_rule_format((fp4_rule)r) != (fp4_format)f) continue;
      for (rnd = 0; rnd < FP4_ROUNDING_COUNT; rnd++)
        for (k = 0; k < NOPT; k++) {
          fp4_quant_config c = fp4_config_default((fp4_format)f);
          fp4_layout l;
          fp4_tensor t;
          fp4_status st;
          int src, quest;
          c.rule = (fp4_rule)r;
          c.rounding = (fp4_rounding)rnd;
          c.seed = 0x5EED0000ull + (uint64_t)(r * 16 + k);
          if (!option(&c, &l, &src, k)) continue;
          quest = fp4_rule_resolve(c.format, c.rule) == FP4_MX_QUEST;
          memset(q, 0xCC, n / 2);
          memset(s, 0xCC, 4096);
          memset(m, 0xCC, n / 8);
          fp4_tensor_init(&t, q, s, l);
          t.mask = quest ? m : NULL;
          st = src == 1   ? b->q_bf16(in.xb, WR, WC, WC, &c, &t, NULL, 0)
               : src == 2 ? b->q_f16(in.xh, WR, WC, WC, &c, &t, NULL, 0)
                          : b->q_f32(src == 3 ? in.xnan : in.x, WR, WC, WC, &c, &t, NULL, 0);
          fnv_int(&d, st);
          if (st != FP4_OK && st != FP4_ERR_NONFINITE) continue;
          digest_tensor(&d, &t, l);
          if (quest) fnv_add(&d, m, n / 8);
          CHECK_EQ(FP4_OK, b->dq_f32(&t, y, t.cols));
          fnv_add(&d, y, n * 4);
          CHECK_EQ(FP4_OK, (k & 1 ? b->dq_bf16 : b->dq_f16)(&t, yh, t.cols));
          fnv_add(&d, yh, n * 2);
          if (src == 0 || src == 3) {
            /* fake quantize = quantize + dequantize, mask included */
            memset(m2, 0xCC, n / 8);
            CHECK_EQ(st, b->fake_f32(src == 3 ? in.xnan : in.x, WR, WC, WC, &c, y2, t.cols, quest ? m2 : NULL, NULL, 0));
            CHECK(memcmp(y, y2, n * 4) == 0);
            if (quest) CHECK(memcmp(m, m2, n / 8) == 0);
          }
        }
    }
  free(q);
  free(s);
  free(m);
  free(m2);
  free(y);
  free(y2);
  free(yh);
  return d.h;
}

/* Every GEMM variant on quantized operands of both formats; Hadamard; layout conversion. */
static uint64_t workload_gemm(const backend *b, uint64_t *w4a16) {
  fnv d = {1469598103934665603ull}, d16 = {1469598103934665603ull};
  int f, i, g;
  float *C = (float *)malloc((size_t)WR * WN * 4);
  uint16_t *Ch = (uint16_t *)malloc((size_t)WR * WN * 2), *xb = (uint16_t *)malloc((size_t)WR * WC * 2);
  float *h = (float *)malloc((size_t)WR * WC * 4), *h2 = (float *)malloc((size_t)WR * WC * 4);
  for (i = 0; i < WR * WC; i++) xb[i] = fp4_f32_to_bf16(in.x[i]);
  for (f = 0; f < FP4_FORMAT_COUNT; f++) {
    static const fp4_rule rules[2][2] = {{FP4_MX_OCP, FP4_MX_ABSMAX3}, {FP4_NV_6, FP4_NV_4OVER6_MSE}};
    int ri;
    for (ri = 0; ri < 2; ri++) {
      uint8_t qa[WR * WC / 2], sa[WR * WC / 16], qw[WN * WC / 2], sw[2048];
      fp4_tensor A, W;
      fp4_quant_config c = fp4_config_default((fp4_format)f);
      float alpha = 1.25f, beta = ri ? 0.5f : 0.0f;
      c.rule = rules[f][ri];
      fp4_tensor_init(&A, qa, sa, FP4_LAYOUT_LINEAR);
      fp4_tensor_init(&W, qw, sw, ri ? FP4_LAYOUT_SWIZZLED : FP4_LAYOUT_LINEAR);
      CHECK_EQ(FP4_ERR_NONFINITE, fp4_quantize_f32(in.xnan, WR, WC, WC, &c, &A, NULL, 0));
      CHECK_EQ(FP4_OK, fp4_quantize_f32(in.w, WN, WC, WC, &c, &W, NULL, 0));
#define RESET_C()                                                                   \
  do {                                                                              \
    for (i = 0; i < WR * WN; i++) C[i] = (float)(i % 7) - 3.0f;                     \
    for (i = 0; i < WR * WN; i++) Ch[i] = fp4_f32_to_bf16((float)(i % 5) - 2.0f);   \
  } while (0)
      RESET_C();
      CHECK_EQ(FP4_OK, b->w4a4_f32(&A, &W, alpha, beta, C, WN, NULL, 0));
      fnv_add(&d, C, (size_t)WR * WN * 4);
      CHECK_EQ(FP4_OK, b->w4a4_bf16(&A, &W, alpha, beta, Ch, WN, NULL, 0));
      fnv_add(&d, Ch, (size_t)WR * WN * 2);
      RESET_C();
      CHECK_EQ(FP4_OK, b->w4a4_f16(&A, &W, alpha, beta, Ch, WN, NULL, 0));
      fnv_add(&d, Ch, (size_t)WR * WN * 2);
      /* W4A16: the spec fixes no summation order across back ends, so its own digest */
      RESET_C();
      CHECK_EQ(FP4_OK, b->w4a16_f32_f32(in.x, WR, WC, &W, alpha, beta, C, WN, NULL, 0));
      fnv_add(&d16, C, (size_t)WR * WN * 4);
      CHECK_EQ(FP4_OK, b->w4a16_f32_bf16(in.x, WR, WC, &W, alpha, beta, Ch, WN, NULL, 0));
      fnv_add(&d16, Ch, (size_t)WR * WN * 2);
      RESET_C();
      CHECK_EQ(FP4_OK, b->w4a16_bf16_f32(xb, WR, WC, &W, alpha, beta, C, WN, NULL, 0));
      fnv_add(&d16, C, (size_t)WR * WN * 4);
      CHECK_EQ(FP4_OK, b->w4a16_bf16_bf16(xb, WR, WC, &W, alpha, beta, Ch, WN, NULL, 0));
      fnv_add(&d16, Ch, (size_t)WR * WN * 2);
      RESET_C();
      CHECK_EQ(FP4_OK, b->w4a16_f16_f16(in.xh, WR, WC, &W, alpha, beta, Ch, WN, NULL, 0));
      fnv_add(&d16, Ch, (size_t)WR * WN * 2);
      CHECK_EQ(FP4_OK, b->w4a16_f16_f32(in.xh, WR, WC, &W, alpha, beta, C, WN, NULL, 0));
      fnv_add(&d16, C, (size_t)WR * WN * 4);
#undef RESET_C
    }
  }
  for (g = 16; g <= 128; g *= 2) {
    uint32_t signs[8];
    fp4_hadamard_signs_from_seed((uint64_t)g, g, signs);
    CHECK_EQ(FP4_OK, b->had_f32(in.x, WR, WC, WC, h, WC, g, g == 32 ? NULL : signs, 0));
    fnv_add(&d, h, (size_t)WR * WC * 4);
    CHECK_EQ(FP4_OK, b->had_f32(h, WR, WC, WC, h2, WC, g, g == 32 ? NULL : signs, 1));
    fnv_add(&d, h2, (size_t)WR * WC * 4);
  }
  {
    uint8_t lin[200 * 6], swz[256 * 8], back[200 * 6];
    for (i = 0; i < 200 * 6; i++) lin[i] = (uint8_t)(fixed_rand() | 1);
    CHECK_EQ(FP4_OK, fp4_scales_to_swizzled(lin, 200, 6, swz));
    fnv_add(&d, swz, sizeof swz);
    CHECK_EQ(FP4_OK, fp4_scales_to_linear(swz, 200, 6, back));
    CHECK(memcmp(lin, back, sizeof lin) == 0);
  }
  free(C);
  free(Ch);
  free(xb);
  free(h);
  free(h2);
  *w4a16 = d16.h;
  return d.h;
}

/* The workload's digests: quantization (and dequantization, fake quantization), then W4A4 GEMMs with
 * Hadamard and the layout conversion (both bit-exact across back ends, spec §3-§5), then W4A16 (bit-exact
 * within a back end). */
typedef struct digests {
  uint64_t q, g, w16;
} digests;
static digests workload(const backend *b) {
  digests r;
  r.q = workload_quant(b);
  fixed_state = 0xFEDCBA9876543210ull; /* the layout bytes */
  r.g = workload_gemm(b, &r.w16);
  return r;
}
static uint64_t combine(digests d) { return d.q ^ (d.g * 0x9E3779B97F4A7C15ull) ^ (d.w16 * 0xC2B2AE3D27D4EB4Full); }

/* ---- memory layout, repeats and seeds ---- */
static void test_layout_independence(const backend *b) {
  int f, k;
  for (f = 0; f < FP4_FORMAT_COUNT; f++)
    for (k = 0; k < 4; k++) {
      fp4_quant_config c = fp4_config_default((fp4_format)f);
      int64_t rows = 24, cols = 128, ld = cols + 1 + (int64_t)(h_rand() % 40), i, j;
      float *x = (float *)malloc((size_t)(rows * cols) * 4), *xp = (float *)malloc((size_t)(rows * ld) * 4 + 64);
      float *xo;
      uint8_t q1[24 * 64], s1[24 * 8], q2[24 * 64 + 3], s2[24 * 8 + 5], q3[24 * 64], s3[24 * 8];
      fp4_tensor t1, t2, t3;
      fp4_status st1, st2, st3;
      size_t sb;
      c.rule = f == FP4_NVFP4 ? (k & 1 ? FP4_NV_4OVER6_MAE : FP4_NV_4) : (k & 1 ? FP4_MX_ADAPTIVE : FP4_MX_CEIL);
      c.rounding = FP4_ROUND_STOCHASTIC;
      c.seed = h_rand();
      c.hadamard = k >= 2 ? 64 : 0;
      c.hadamard_signs = FP4_SIGNS_RANDOM;
      for (i = 0; i < rows * cols; i++) x[i] = (float)h_normal();
      /* the same values with a leading dimension, at an offset of 4 bytes past 16-byte alignment */
      xo = xp + 1;
      for (i = 0; i < rows; i++)
        for (j = 0; j < ld; j++) xo[i * ld + j] = j < cols ? x[i * cols + j] : (float)NAN; /* never read */
      fp4_tensor_init(&t1, q1, s1, FP4_LAYOUT_LINEAR);
      fp4_tensor_init(&t2, q2 + 3, s2 + 5, FP4_LAYOUT_LINEAR);
      fp4_tensor_init(&t3, q3, s3, FP4_LAYOUT_LINEAR);
      st1 = b->q_f32(x, rows, cols, cols, &c, &t1, NULL, 0);
      st2 = b->q_f32(xo, rows, cols, ld, &c, &t2, NULL, 0);
      CHECK_EQ(FP4_OK, st1);
      CHECK_EQ(st1, st2);
      sb = fp4_scale_bytes(c.format, rows, cols, FP4_LAYOUT_LINEAR);
      CHECK(memcmp(q1, q2 + 3, sizeof q1) == 0 && memcmp(s1, s2 + 5, sb) == 0);
      /* a repeat gives the same bytes; another seed changes the stochastic codes */
      st3 = b->q_f32(x, rows, cols, cols, &c, &t3, NULL, 0);
      CHECK(st3 == st1 && memcmp(q1, q3, sizeof q1) == 0 && memcmp(s1, s3, sb) == 0);
      c.seed ^= 0x100000000ull; /* the key's high word matters too */
      st3 = b->q_f32(x, rows, cols, cols, &c, &t3, NULL, 0);
      CHECK(st3 == FP4_OK && memcmp(q1, q3, sizeof q1) != 0);
      free(x);
      free(xp);
    }
}

#ifdef FP4_CPU_H
/* fp4_cpu.h's row ranges, over random splits, equal the whole-tensor calls. */
static void test_splits(void) {
  int f, trial;
  for (f = 0; f < FP4_FORMAT_COUNT; f++)
    for (trial = 0; trial < 6; trial++) {
      fp4_quant_config c = fp4_config_default((fp4_format)f);
      int64_t rows = 64, cols = 128, R, rb, re, i;
      uint8_t q1[64 * 64], s1[256 * 8], q2[64 * 64], s2[256 * 8];
      float amax = 0.0f, *y1 = (float *)malloc(64 * 128 * 4), *y2 = (float *)malloc(64 * 128 * 4);
      float C1[64 * 64], C2[64 * 64];
      fp4_tensor t1, t2;
      fp4_layout l = trial & 1 ? FP4_LAYOUT_SWIZZLED : FP4_LAYOUT_LINEAR;
      int step = trial >= 4 ? 16 : 1;
      float *x = (float *)malloc((size_t)(rows * cols) * 4);
      for (i = 0; i < rows * cols; i++) x[i] = (float)h_normal();
      c.rule = f == FP4_NVFP4 ? FP4_NV_4OVER6_MSE : FP4_MX_ABSMAX3;
      c.rounding = (fp4_rounding)(trial % 3 == 2);
      c.seed = h_rand();
      c.hadamard = trial >= 2 ? 32 : 0;
      c.scale_2d = trial >= 4 && f == FP4_NVFP4;
      c.transpose = trial == 5;
      R = c.transpose ? cols : rows;
      memset(s1, 0xEE, sizeof s1);
      memset(s2, 0xEE, sizeof s2);
      fp4_tensor_init(&t1, q1, s1, l);
      fp4_tensor_init(&t2, q2, s2, l);
      CHECK_EQ(FP4_OK, fp4_quantize_f32(x, rows, cols, cols, &c, &t1, NULL, 0));
      /* NVFP4: the amax over ranges, then the ranges */
      for (rb = 0; rb < R; rb = re) {
        re = rb + step * (1 + (int64_t)(h_rand() % 5));
        if (re > R) re = R;
        CHECK_EQ(FP4_OK, fp4_cpu_amax_f32(x, rows, cols, cols, &c, rb, re, &amax));
      }
      if (f == FP4_NVFP4) {
        CHECK_FEQ(t1.amax, amax);
        c.has_amax = 1;
        c.amax = amax;
      }
      for (rb = 0; rb < R; rb = re) {
        re = rb + step * (1 + (int64_t)(h_rand() % 5));
        if (re > R) re = R;
        CHECK_EQ(FP4_OK, fp4_cpu_quantize_rows_f32(x, rows, cols, cols, &c, &t2, rb, re));
      }
      CHECK(memcmp(q1, q2, fp4_data_bytes(t1.rows, t1.cols)) == 0);
      CHECK(memcmp(s1, s2, fp4_scale_bytes(t1.format, t1.rows, t1.cols, l)) == 0);
      CHECK_FEQ(t1.tensor_scale, t2.tensor_scale);
      /* dequantize rows and GEMM columns */
      CHECK_EQ(FP4_OK, fp4_dequantize_f32(&t1, y1, t1.cols));
      for (rb = 0; rb < t1.rows; rb = re) {
        re = rb + 1 + (int64_t)(h_rand() % 9);
        if (re > t1.rows) re = t1.rows;
        CHECK_EQ(FP4_OK, fp4_cpu_dequantize_rows_f32(&t2, y2, t2.cols, rb, re));
      }
      CHECK(memcmp(y1, y2, (size_t)(t1.rows * t1.cols) * 4) == 0);
      if (!c.transpose) {
        CHECK_EQ(FP4_OK, fp4_gemm_w4a4_f32(&t1, &t1, 0.75f, 0.0f, C1, rows, NULL, 0));
        for (rb = 0; rb < rows; rb = re) {
          re = rb + 1 + (int64_t)(h_rand() % 17);
          if (re > rows) re = rows;
          CHECK_EQ(FP4_OK, fp4_cpu_gemm_w4a4_f32_cols(&t2, &t2, 0.75f, 0.0f, C2, rows, rb, re));
        }
        CHECK(memcmp(C1, C2, sizeof C1) == 0);
        CHECK_EQ(FP4_OK, fp4_cpu_gemm_w4a16_f32_f32(x, rows, cols, &t1, 0.75f, 0.0f, C1, rows, NULL, 0));
        for (rb = 0; rb < rows; rb = re) {
          re = rb + 1 + (int64_t)(h_rand() % 17);
          if (re > rows) re = rows;
          CHECK_EQ(FP4_OK, fp4_cpu_gemm_w4a16_f32_f32_cols(x, rows, cols, &t2, 0.75f, 0.0f, C2, rows, rb, re));
        }
        CHECK(memcmp(C1, C2, sizeof C1) == 0);
      }
      free(x);
      free(y1);
      free(y2);
    }
}
#endif

int main(void) {
  digests ref, own[NBACKENDS];
  uint64_t all;
  int i;
  h_rand_state = h_seed();
  make_inputs();
  ref = workload(&backends[0]);
  all = combine(ref);
  printf("workload digest (%s): 0x%016" PRIx64 "\n", backends[0].name, all);
  if (all != GOLDEN) fprintf(stderr, "if fp4.h's arithmetic changed on purpose, pin GOLDEN to 0x%016" PRIx64 "\n", all);
  CHECK(all == GOLDEN);
  H_DIGEST(&all, sizeof all);
  for (i = 0; i < NBACKENDS; i++) {
    digests h = i ? workload(&backends[i]) : ref, again = workload(&backends[i]);
    own[i] = h;
    if (h.q != ref.q) fprintf(stderr, "%s: quantization digest differs from fp4.h's\n", backends[i].name);
    if (h.g != ref.g) fprintf(stderr, "%s: W4A4 / Hadamard / layout digest differs from fp4.h's\n", backends[i].name);
    CHECK(h.q == ref.q);
    CHECK(h.g == ref.g);
    CHECK(again.q == h.q && again.g == h.g && again.w16 == h.w16); /* a second run */
    test_layout_independence(&backends[i]);
  }
#ifdef FP4_CPU_H
  test_splits();
#endif
#ifdef _OPENMP
  {
    static const int threads[] = {1, 2, 3, 7};
    int k;
    for (k = 0; k < 4; k++) {
      omp_set_num_threads(threads[k]);
      for (i = 1; i < NBACKENDS; i++) {
        digests h = workload(&backends[i]);
        if (h.q != ref.q || h.g != ref.g || h.w16 != own[i].w16)
          fprintf(stderr, "%s with %d threads: digest differs\n", backends[i].name, threads[k]);
        CHECK(h.q == ref.q && h.g == ref.g && h.w16 == own[i].w16);
      }
    }
    printf("OpenMP: thread counts 1, 2, 3, 7 checked\n");
  }
#endif
  (void)own;
  return h_finish();
}
