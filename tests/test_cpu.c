/* SPDX-License-Identifier: MIT */
/* fp4_cpu.h against fp4.h: every compiled path (scalar, AVX2, AVX-512) must give the reference's
 * bytes for quantize (every format, rule and option: Hadamard, signs, bf16 rounding, stochastic
 * rounding, transpose, 2D, calibrated amax, bf16 / f16 input, swizzled scales), fake quantize,
 * dequantize, Hadamard, the row-range API and the W4A4 GEMM (spec §5, bit-exact); W4A16 within the
 * spec's 1e-5 relative Frobenius bound of a float64 product. Random shapes with odd row counts,
 * tails, leading dimensions and misaligned (element-offset) pointers; non-finite and extreme values. */
// FP4_TEST_FLAGS: -mavx2 -mfma -mf16c
#include "fp4_cpu.h"
#include "harness.h"
#if defined(_OPENMP)
#include <omp.h>
#endif

static int n_isa;
static fp4_cpu_isa isas[FP4_CPU_ISA_COUNT];

static int64_t rnd(int64_t n) { return (int64_t)(h_rand() % (uint64_t)n); }

/* x: rows x ld values of type dt with occasional special values. */
static void fill(void *x, fp4_dtype dt, int64_t n, int specials, double scale) {
  int64_t i;
  double blk = 1.0;
  for (i = 0; i < n; i++) {
    float v;
    /* with specials, some 16-value runs shrink by up to 2^-30 (small and subnormal E4M3 scales) */
    if (i % 16 == 0) blk = specials && h_rand() % 4 == 0 ? ldexp(1.0, -(int)(h_rand() % 31)) : 1.0;
    v = (float)(h_normal() * scale * blk);
    uint32_t kind = (uint32_t)(h_rand() % 1000);
    if (specials && kind < 3) v = kind == 0 ? fp4__nan() : kind == 1 ? INFINITY : -INFINITY;
    else if (specials && kind < 20) v = 0.0f;
    else if (specials && kind < 25) v = -0.0f;
    else if (specials && kind < 30) v = (float)(h_normal() * 1e-30);
    else if (specials && kind < 32) v = (float)(h_normal() * 1e30);
    if (dt == FP4_F32) ((float *)x)[i] = v;
    else if (dt == FP4_BF16) ((uint16_t *)x)[i] = fp4_f32_to_bf16(v);
    else ((uint16_t *)x)[i] = fp4_f32_to_f16(v);
  }
}

static fp4_status quant_ref(const void *x, fp4_dtype dt, int64_t r, int64_t c, int64_t ld, const fp4_quant_config *cfg,
                            fp4_tensor *t) {
  if (dt == FP4_F32) return fp4_quantize_f32((const float *)x, r, c, ld, cfg, t, NULL, 0);
  if (dt == FP4_BF16) return fp4_quantize_bf16((const uint16_t *)x, r, c, ld, cfg, t, NULL, 0);
  return fp4_quantize_f16((const uint16_t *)x, r, c, ld, cfg, t, NULL, 0);
}

static fp4_status quant_isa(fp4_cpu_isa isa, const void *x, fp4_dtype dt, int64_t r, int64_t c, int64_t ld,
                            const fp4_quant_config *cfg, fp4_tensor *t) {
#define Q(S)                                                                                     \
  if (dt == FP4_F32) return fp4_cpu_quantize_f32##S((const float *)x, r, c, ld, cfg, t, NULL, 0); \
  if (dt == FP4_BF16) return fp4_cpu_quantize_bf16##S((const uint16_t *)x, r, c, ld, cfg, t, NULL, 0); \
  return fp4_cpu_quantize_f16##S((const uint16_t *)x, r, c, ld, cfg, t, NULL, 0);
#if FP4_CPU_HAVE_AVX512
  if (isa == FP4_CPU_AVX512) { Q(_avx512) }
#endif
#if FP4_CPU_HAVE_AVX2
  if (isa == FP4_CPU_AVX2) { Q(_avx2) }
#endif
  (void)isa;
  Q(_scalar)
#undef Q
}

static fp4_status fake_isa(fp4_cpu_isa isa, const float *x, int64_t r, int64_t c, int64_t ld, const fp4_quant_config *cfg,
                           float *y, int64_t ldy, uint8_t *mask) {
#if FP4_CPU_HAVE_AVX512
  if (isa == FP4_CPU_AVX512) return fp4_cpu_fake_quantize_f32_avx512(x, r, c, ld, cfg, y, ldy, mask, NULL, 0);
#endif
#if FP4_CPU_HAVE_AVX2
  if (isa == FP4_CPU_AVX2) return fp4_cpu_fake_quantize_f32_avx2(x, r, c, ld, cfg, y, ldy, mask, NULL, 0);
#endif
  (void)isa;
  return fp4_cpu_fake_quantize_f32_scalar(x, r, c, ld, cfg, y, ldy, mask, NULL, 0);
}

static fp4_status deq_isa(fp4_cpu_isa isa, const fp4_tensor *t, void *y, fp4_dtype dt, int64_t ldy) {
#define D(S)                                                                   \
  if (dt == FP4_F32) return fp4_cpu_dequantize_f32##S(t, (float *)y, ldy);     \
  if (dt == FP4_BF16) return fp4_cpu_dequantize_bf16##S(t, (uint16_t *)y, ldy); \
  return fp4_cpu_dequantize_f16##S(t, (uint16_t *)y, ldy);
#if FP4_CPU_HAVE_AVX512
  if (isa == FP4_CPU_AVX512) { D(_avx512) }
#endif
#if FP4_CPU_HAVE_AVX2
  if (isa == FP4_CPU_AVX2) { D(_avx2) }
#endif
  (void)isa;
  D(_scalar)
#undef D
}

static fp4_status deq_ref(const fp4_tensor *t, void *y, fp4_dtype dt, int64_t ldy) {
  if (dt == FP4_F32) return fp4_dequantize_f32(t, (float *)y, ldy);
  if (dt == FP4_BF16) return fp4_dequantize_bf16(t, (uint16_t *)y, ldy);
  return fp4_dequantize_f16(t, (uint16_t *)y, ldy);
}

static fp4_status had_isa(fp4_cpu_isa isa, const float *x, int64_t r, int64_t c, int64_t ld, float *y, int64_t ldy,
                          int g, const uint32_t *s, int inv) {
#if FP4_CPU_HAVE_AVX512
  if (isa == FP4_CPU_AVX512) return fp4_cpu_hadamard_f32_avx512(x, r, c, ld, y, ldy, g, s, inv);
#endif
#if FP4_CPU_HAVE_AVX2
  if (isa == FP4_CPU_AVX2) return fp4_cpu_hadamard_f32_avx2(x, r, c, ld, y, ldy, g, s, inv);
#endif
  (void)isa;
  return fp4_cpu_hadamard_f32_scalar(x, r, c, ld, y, ldy, g, s, inv);
}

typedef struct qcase {
  fp4_quant_config cfg;
  fp4_dtype dt;
  fp4_layout layout;
  int64_t rows, cols, ld;
  int specials;
} qcase;

static const char *dtname(fp4_dtype d) { return d == FP4_F32 ? "f32" : d == FP4_BF16 ? "bf16" : "f16"; }

static void describe(const qcase *c) {
  fprintf(stderr, "  case: %s rule %s %s %lldx%lld ld %lld had %d signs %d bf16 %d sr %d T %d 2d %d amax %d layout %d\n",
          fp4_format_name(c->cfg.format), fp4_rule_name(c->cfg.rule), dtname(c->dt), (long long)c->rows,
          (long long)c->cols, (long long)c->ld, c->cfg.hadamard, (int)c->cfg.hadamard_signs, c->cfg.hadamard_bf16,
          (int)c->cfg.rounding, c->cfg.transpose, c->cfg.scale_2d, c->cfg.has_amax, (int)c->layout);
}

/* One quantization case through the reference and every path: status, header, data, scales, mask;
 * then fake quantize (f32 input) and dequantize into every output type. */
static void run_case(const qcase *c) {
  int64_t R = c->cfg.transpose ? c->cols : c->rows, Cc = c->cfg.transpose ? c->rows : c->cols;
  size_t es = c->dt == FP4_F32 ? 4 : 2, xn = (size_t)((c->rows - 1) * c->ld + c->cols);
  size_t db = fp4_data_bytes(R, Cc), sb = fp4_scale_bytes(c->cfg.format, R, Cc, c->layout), mb = fp4_mask_bytes(R, Cc);
  char *xraw = (char *)malloc(xn * es + 64), *x = xraw + es; /* misaligned by one element from malloc's */
  uint8_t *d0 = (uint8_t *)malloc(db), *s0 = (uint8_t *)malloc(sb), *m0 = (uint8_t *)malloc(mb + 1);
  uint8_t *d1 = (uint8_t *)malloc(db), *s1 = (uint8_t *)malloc(sb), *m1 = (uint8_t *)malloc(mb + 1);
  int quest = c->cfg.rule == FP4_MX_QUEST, i, fails = (int)h_fail;
  fp4_tensor t0, t1;
  fp4_status st0, st1;
  fill(x, c->dt, (int64_t)xn, c->specials, c->cfg.format == FP4_NVFP4 && c->cfg.has_amax ? 1.0 : 1.0);
  memset(s0, 0xAB, sb);
  fp4_tensor_init(&t0, d0, s0, c->layout);
  t0.mask = quest ? m0 : NULL;
  st0 = quant_ref(x, c->dt, c->rows, c->cols, c->ld, &c->cfg, &t0);
  CHECK(st0 == FP4_OK || st0 == FP4_ERR_NONFINITE);
  if (st0 == FP4_OK || st0 == FP4_ERR_NONFINITE) {
    H_DIGEST(d0, db);
    H_DIGEST(s0, sb);
  }
  for (i = 0; i < n_isa; i++) {
    memset(d1, 0x5A, db);
    memset(s1, 0xAB, sb);
    fp4_tensor_init(&t1, d1, s1, c->layout);
    t1.mask = quest ? m1 : NULL;
    st1 = quant_isa(isas[i], x, c->dt, c->rows, c->cols, c->ld, &c->cfg, &t1);
    CHECK_EQ(st0, st1);
    CHECK(memcmp(d0, d1, db) == 0);
    CHECK(memcmp(s0, s1, sb) == 0);
    if (quest) CHECK(memcmp(m0, m1, mb) == 0);
    CHECK_FEQ(t0.tensor_scale, t1.tensor_scale);
    CHECK_FEQ(t0.amax, t1.amax);
    CHECK_EQ(t0.rows, t1.rows);
    CHECK_EQ(t0.cols, t1.cols);
    CHECK_EQ(t0.rule, t1.rule);
  }
  /* dequantize the reference tensor into each type */
  if (st0 == FP4_OK || st0 == FP4_ERR_NONFINITE) {
    int dt;
    int64_t ldy = Cc + rnd(3);
    size_t yn = (size_t)((R - 1) * ldy + Cc);
    char *y0 = (char *)malloc(yn * 4 + 8), *y1 = (char *)malloc(yn * 4 + 8);
    for (dt = 0; dt < 3; dt++) {
      size_t ys = dt == FP4_F32 ? 4 : 2;
      memset(y0, 0, yn * ys);
      CHECK_EQ(FP4_OK, deq_ref(&t0, y0, (fp4_dtype)dt, ldy));
      for (i = 0; i < n_isa; i++) {
        memset(y1, 0, yn * ys);
        CHECK_EQ(FP4_OK, deq_isa(isas[i], &t0, y1, (fp4_dtype)dt, ldy));
        CHECK(memcmp(y0, y1, yn * ys) == 0);
      }
    }
    free(y0);
    free(y1);
  }
  /* fake quantize (f32 input only) */
  if (c->dt == FP4_F32) {
    int64_t ldy = Cc + rnd(2);
    size_t yn = (size_t)((R - 1) * ldy + Cc);
    float *y0 = (float *)calloc(yn, 4), *y1 = (float *)calloc(yn, 4);
    st0 = fp4_fake_quantize_f32((const float *)x, c->rows, c->cols, c->ld, &c->cfg, y0, ldy, quest ? m0 : NULL, NULL, 0);
    for (i = 0; i < n_isa; i++) {
      memset(y1, 0, yn * 4);
      st1 = fake_isa(isas[i], (const float *)x, c->rows, c->cols, c->ld, &c->cfg, y1, ldy, quest ? m1 : NULL);
      CHECK_EQ(st0, st1);
      CHECK(memcmp(y0, y1, yn * 4) == 0);
      if (quest) CHECK(memcmp(m0, m1, mb) == 0);
    }
    free(y0);
    free(y1);
  }
  if ((int)h_fail != fails) describe(c);
  free(xraw);
  free(d0);
  free(s0);
  free(m0);
  free(d1);
  free(s1);
  free(m1);
}

static const int groups[] = {0, 16, 32, 64, 128, 256};

static void random_case(qcase *c, int fast_only) {
  fp4_rule rules_mx[] = {FP4_MX_OCP, FP4_MX_CEIL, FP4_MX_ABSMAX3, FP4_MX_QUEST, FP4_MX_ADAPTIVE, FP4_RULE_DEFAULT};
  fp4_rule rules_nv[] = {FP4_NV_6, FP4_NV_4, FP4_NV_4OVER6_MSE, FP4_NV_4OVER6_MAE, FP4_NV_4OVER6_MAXABS, FP4_RULE_DEFAULT};
  int L, i;
  memset(c, 0, sizeof *c);
  c->cfg.format = h_rand() & 1 ? FP4_NVFP4 : FP4_MXFP4;
  c->cfg.rule = c->cfg.format == FP4_NVFP4 ? rules_nv[rnd(6)] : rules_mx[rnd(fast_only ? 3 : 6)];
  if (c->cfg.rule == FP4_RULE_DEFAULT && fast_only) c->cfg.rule = FP4_RULE_DEFAULT;
  c->dt = (fp4_dtype)rnd(3);
  c->layout = rnd(3) == 0 ? FP4_LAYOUT_SWIZZLED : FP4_LAYOUT_LINEAR;
  c->cfg.hadamard = groups[rnd(6)];
  if (c->cfg.hadamard) {
    c->cfg.hadamard_signs = (fp4_signs)rnd(3);
    for (i = 0; i < 8; i++) c->cfg.hadamard_sign_bits[i] = (uint32_t)h_rand();
    c->cfg.hadamard_bf16 = (int)rnd(2);
  }
  c->cfg.seed = h_rand();
  if (!fast_only) {
    c->cfg.rounding = rnd(4) == 0 ? FP4_ROUND_STOCHASTIC : FP4_ROUND_NEAREST;
    c->cfg.transpose = rnd(5) == 0;
    if (c->cfg.format == FP4_NVFP4) c->cfg.scale_2d = rnd(5) == 0;
  }
  if (c->cfg.format == FP4_NVFP4 && rnd(5) == 0) {
    c->cfg.has_amax = 1;
    c->cfg.amax = (float)(0.5 + h_uniform() * 4.0);
  }
  L = fp4_format_block(c->cfg.format);
  if (c->cfg.hadamard > L) L = c->cfg.hadamard;
  /* quantized columns a multiple of L, 1..640 */
  {
    int64_t qc = L * (1 + rnd(640 / L > 1 ? 640 / L : 1)), qr = 1 + rnd(37);
    if (c->cfg.transpose) {
      c->rows = qc;
      c->cols = qr;
    } else {
      c->rows = qr;
      c->cols = qc;
    }
  }
  c->ld = c->cols + (rnd(3) == 0 ? rnd(9) : 0);
  c->specials = rnd(4) == 0;
}

/* The row-range API, split into random pieces, gives the whole-tensor bytes. */
static void test_rows(void) {
  int it;
  for (it = 0; it < 40; it++) {
    qcase c;
    int64_t R, Cc, rb;
    size_t db, sb;
    uint8_t *d0, *s0, *d1, *s1;
    float amax = 0.0f, *x;
    fp4_tensor t0, t1;
    fp4_status st0, st = FP4_OK, st1;
    random_case(&c, 0);
    c.dt = FP4_F32;
    c.specials = 0;
    R = c.cfg.transpose ? c.cols : c.rows;
    Cc = c.cfg.transpose ? c.rows : c.cols;
    db = fp4_data_bytes(R, Cc);
    sb = fp4_scale_bytes(c.cfg.format, R, Cc, c.layout);
    x = (float *)malloc((size_t)(c.rows * c.ld) * 4);
    d0 = (uint8_t *)malloc(db);
    s0 = (uint8_t *)malloc(sb);
    d1 = (uint8_t *)malloc(db);
    s1 = (uint8_t *)malloc(sb);
    memset(s0, 0x77, sb);
    memset(s1, 0x99, sb);
    fill(x, FP4_F32, c.rows * c.ld, 0, 1.0);
    fp4_tensor_init(&t0, d0, s0, c.layout);
    fp4_tensor_init(&t1, d1, s1, c.layout);
    if (c.cfg.rule == FP4_MX_QUEST) c.cfg.rule = FP4_MX_OCP;
    st0 = fp4_quantize_f32(x, c.rows, c.cols, c.ld, &c.cfg, &t0, NULL, 0);
    if (c.cfg.format == FP4_NVFP4 && !c.cfg.has_amax) {
      for (rb = 0; rb < R; rb += 5) CHECK_EQ(FP4_OK, fp4_cpu_amax_f32(x, c.rows, c.cols, c.ld, &c.cfg, rb, rb + 5 < R ? rb + 5 : R, &amax));
      c.cfg.has_amax = 1;
      c.cfg.amax = amax;
      CHECK_FEQ(t0.amax, amax);
    }
    for (rb = 0; rb < R;) {
      int64_t re = rb + (c.cfg.scale_2d ? 16 : 1 + rnd(7));
      if (re > R) re = R;
      st1 = fp4_cpu_quantize_rows_f32(x, c.rows, c.cols, c.ld, &c.cfg, &t1, rb, re);
      CHECK(st1 == FP4_OK || st1 == FP4_ERR_NONFINITE);
      if (st1 != FP4_OK) st = st1;
      rb = re;
    }
    CHECK_EQ(st0, st);
    CHECK(memcmp(d0, d1, db) == 0);
    CHECK(memcmp(s0, s1, sb) == 0);
    CHECK_FEQ(t0.tensor_scale, t1.tensor_scale);
    free(x);
    free(d0);
    free(s0);
    free(d1);
    free(s1);
  }
}

static void test_hadamard(void) {
  int it, i;
  for (it = 0; it < 40; it++) {
    int g = groups[1 + rnd(5)], inv = (int)rnd(2), sg = (int)rnd(2);
    int64_t rows = 1 + rnd(9), cols = g * (1 + rnd(3)), ld = cols + rnd(3);
    size_t n = (size_t)(rows * ld);
    float *x = (float *)malloc(n * 4 + 4), *y0 = (float *)calloc(n, 4), *y1 = (float *)calloc(n, 4);
    uint32_t bits[8];
    for (i = 0; i < 8; i++) bits[i] = (uint32_t)h_rand();
    fill(x + 1, FP4_F32, (int64_t)n, 0, 1.0);
    CHECK_EQ(FP4_OK, fp4_hadamard_f32(x + 1, rows, cols, ld, y0, ld, g, sg ? bits : NULL, inv));
    H_DIGEST(y0, n * 4);
    for (i = 0; i < n_isa; i++) {
      memset(y1, 0, n * 4);
      CHECK_EQ(FP4_OK, had_isa(isas[i], x + 1, rows, cols, ld, y1, ld, g, sg ? bits : NULL, inv));
      CHECK(memcmp(y0, y1, n * 4) == 0);
    }
    /* in place */
    memcpy(y1, x + 1, n * 4);
    CHECK_EQ(FP4_OK, fp4_cpu_hadamard_f32(y1, rows, cols, ld, y1, ld, g, sg ? bits : NULL, inv));
    for (i = 0; i < rows; i++) CHECK(memcmp(y0 + i * ld, y1 + i * ld, (size_t)cols * 4) == 0);
    free(x);
    free(y0);
    free(y1);
  }
}

/* The vector E2M1 rounding on exactly scaled values: MXFP4 OCP blocks whose first element is 4
 * (scale 2^0, so y = x): every tie and its neighbouring floats, every binade below 8 down to the
 * subnormals, both signs and zeros; the bytes must equal fp4.h's. */
static void test_e2m1_grid(void) {
  static const float ties[] = {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f, 7.0f};
  const int64_t rows = 2048, cols = 64;
  float *x = (float *)malloc((size_t)(rows * cols) * 4);
  uint8_t *d0 = (uint8_t *)malloc((size_t)(rows * cols / 2)), *d1 = (uint8_t *)malloc((size_t)(rows * cols / 2));
  uint8_t s0[2048 * 2], s1[2048 * 2];
  fp4_quant_config cfg = fp4_config_default(FP4_MXFP4);
  fp4_tensor t0, t1;
  int64_t i, n = 0;
  int k, isa;
  cfg.rule = FP4_MX_OCP;
  for (i = 0; i < rows * cols; i++) {
    float v;
    if (i % 32 == 0) {
      x[i] = 4.0f;
      continue;
    }
    if (n < 15 * 9) { /* ties and neighbours: -4 .. +4 ulps */
      uint32_t b;
      v = ties[n / 9];
      memcpy(&b, &v, 4);
      b = b + (uint32_t)(n % 9) - 4u;
      memcpy(&v, &b, 4);
    } else { /* random significand, exponent -149 .. 2 */
      uint32_t b = (uint32_t)h_rand() & 0x7FFFFFu, e = (uint32_t)(h_rand() % 130);
      b |= e << 23;
      memcpy(&v, &b, 4);
      if (fabsf(v) >= 8.0f) v = 7.5f;
    }
    if (h_rand() & 1) v = -v;
    if (n % 97 == 5) v = n % 2 ? 0.0f : -0.0f;
    x[i] = v;
    n++;
  }
  fp4_tensor_init(&t0, d0, s0, FP4_LAYOUT_LINEAR);
  CHECK_EQ(FP4_OK, fp4_quantize_f32(x, rows, cols, cols, &cfg, &t0, NULL, 0));
  for (k = 0; k < (int)sizeof s0; k++) CHECK_EQ(s0[k], 127); /* scale 2^0 everywhere */
  for (isa = 0; isa < n_isa; isa++) {
    fp4_tensor_init(&t1, d1, s1, FP4_LAYOUT_LINEAR);
    CHECK_EQ(FP4_OK, quant_isa(isas[isa], x, FP4_F32, rows, cols, cols, &cfg, &t1));
    CHECK(memcmp(d0, d1, (size_t)(rows * cols / 2)) == 0);
  }
  free(x);
  free(d0);
  free(d1);
}

/* Validation answers the reference's status codes. */
static void test_errors(void) {
  float x[64] = {0}, y[64];
  uint8_t d[32], s[4];
  fp4_tensor t;
  fp4_quant_config cfg = fp4_config_default(FP4_MXFP4);
  fp4_tensor_init(&t, d, s, FP4_LAYOUT_LINEAR);
  CHECK_EQ(fp4_quantize_f32(NULL, 1, 32, 32, &cfg, &t, NULL, 0), fp4_cpu_quantize_f32(NULL, 1, 32, 32, &cfg, &t, NULL, 0));
  CHECK_EQ(fp4_quantize_f32(x, 0, 32, 32, &cfg, &t, NULL, 0), fp4_cpu_quantize_f32(x, 0, 32, 32, &cfg, &t, NULL, 0));
  CHECK_EQ(fp4_quantize_f32(x, 1, 33, 33, &cfg, &t, NULL, 0), fp4_cpu_quantize_f32(x, 1, 33, 33, &cfg, &t, NULL, 0));
  CHECK_EQ(fp4_quantize_f32(x, 1, 32, 16, &cfg, &t, NULL, 0), fp4_cpu_quantize_f32(x, 1, 32, 16, &cfg, &t, NULL, 0));
  cfg.rule = FP4_NV_6;
  CHECK_EQ(fp4_quantize_f32(x, 1, 32, 32, &cfg, &t, NULL, 0), fp4_cpu_quantize_f32(x, 1, 32, 32, &cfg, &t, NULL, 0));
  cfg = fp4_config_default(FP4_NVFP4);
  x[3] = 1e-35f;
  CHECK_EQ(FP4_ERR_RANGE, fp4_cpu_quantize_f32(x, 1, 32, 32, &cfg, &t, NULL, 0));
  CHECK_EQ(FP4_ERR_ARG, fp4_cpu_quantize_rows_f32(x, 1, 32, 32, &cfg, &t, 0, 1)); /* NVFP4 needs amax */
  cfg.has_amax = 1;
  cfg.amax = 1.0f;
  CHECK_EQ(FP4_ERR_ARG, fp4_cpu_quantize_rows_f32(x, 1, 32, 32, &cfg, &t, 0, 2));
  CHECK_EQ(FP4_OK, fp4_cpu_quantize_f32(x, 1, 32, 32, &cfg, &t, NULL, 0));
  CHECK_EQ(fp4_dequantize_f32(&t, (float *)(void *)d, 32), fp4_cpu_dequantize_f32(&t, (float *)(void *)d, 32));
  CHECK_EQ(fp4_hadamard_f32(x, 1, 24, 24, y, 24, 16, NULL, 0), fp4_cpu_hadamard_f32(x, 1, 24, 24, y, 24, 16, NULL, 0));
  CHECK_EQ(fp4_hadamard_f32(x, 1, 32, 32, y, 32, 8, NULL, 0), fp4_cpu_hadamard_f32(x, 1, 32, 32, y, 32, 8, NULL, 0));
}

/* ---- GEMMs ---- */
typedef struct qmat {
  fp4_tensor t;
  uint8_t *d, *s;
} qmat;

static void qmat_make(qmat *q, fp4_format f, fp4_rule rule, int64_t rows, int64_t K, fp4_layout lay, double scale) {
  float *x = (float *)malloc((size_t)(rows * K) * 4);
  fp4_quant_config cfg = fp4_config_default(f);
  cfg.rule = rule;
  fill(x, FP4_F32, rows * K, 0, scale);
  q->d = (uint8_t *)malloc(fp4_data_bytes(rows, K));
  q->s = (uint8_t *)malloc(fp4_scale_bytes(f, rows, K, lay));
  fp4_tensor_init(&q->t, q->d, q->s, lay);
  CHECK_EQ(FP4_OK, fp4_quantize_f32(x, rows, K, K, &cfg, &q->t, NULL, 0));
  free(x);
}

static void qmat_free(qmat *q) {
  free(q->d);
  free(q->s);
}

static fp4_status w4a4_isa(fp4_cpu_isa isa, const fp4_tensor *A, const fp4_tensor *B, float al, float be, void *C,
                           fp4_dtype ct, int64_t ldc, void *ws, size_t wsb) {
#define G(S)                                                                                          \
  if (ct == FP4_F32) return fp4_cpu_gemm_w4a4_f32##S(A, B, al, be, (float *)C, ldc, ws, wsb);        \
  if (ct == FP4_BF16) return fp4_cpu_gemm_w4a4_bf16##S(A, B, al, be, (uint16_t *)C, ldc, ws, wsb);   \
  return fp4_cpu_gemm_w4a4_f16##S(A, B, al, be, (uint16_t *)C, ldc, ws, wsb);
#if FP4_CPU_HAVE_AVX512
  if (isa == FP4_CPU_AVX512) { G(_avx512) }
#endif
#if FP4_CPU_HAVE_AVX2
  if (isa == FP4_CPU_AVX2) { G(_avx2) }
#endif
  (void)isa;
  G(_scalar)
#undef G
}

static fp4_status w4a4_ref(const fp4_tensor *A, const fp4_tensor *B, float al, float be, void *C, fp4_dtype ct,
                           int64_t ldc) {
  if (ct == FP4_F32) return fp4_gemm_w4a4_f32(A, B, al, be, (float *)C, ldc, NULL, 0);
  if (ct == FP4_BF16) return fp4_gemm_w4a4_bf16(A, B, al, be, (uint16_t *)C, ldc, NULL, 0);
  return fp4_gemm_w4a4_f16(A, B, al, be, (uint16_t *)C, ldc, NULL, 0);
}

static void test_w4a4(void) {
  int it, i;
  for (it = 0; it < 60; it++) {
    fp4_format f = h_rand() & 1 ? FP4_NVFP4 : FP4_MXFP4;
    fp4_rule ra = f == FP4_NVFP4 ? (rnd(2) ? FP4_NV_6 : FP4_NV_4OVER6_MSE) : (rnd(2) ? FP4_MX_OCP : FP4_MX_ABSMAX3);
    fp4_rule rb = f == FP4_NVFP4 ? FP4_NV_6 : (rnd(2) ? FP4_MX_OCP : FP4_MX_ABSMAX3);
    int blk = fp4_format_block(f);
    int64_t M = 1 + rnd(it < 10 ? 3 : 70), N = 1 + rnd(it < 10 ? 5 : 150), K = blk * (1 + rnd(it % 7 == 0 ? 40 : 12));
    int64_t ldc;
    fp4_layout la = rnd(3) == 0 ? FP4_LAYOUT_SWIZZLED : FP4_LAYOUT_LINEAR, lb = rnd(3) == 0 ? FP4_LAYOUT_SWIZZLED : FP4_LAYOUT_LINEAR;
    qmat A, B;
    size_t cn;
    char *c0, *c1, *cinit, *cthr, *ws;
    size_t wsn;
    float al, be;
    int ct, fails = (int)h_fail;
    if (it % 13 == 3) M = 129 + rnd(20); /* more than one tile of rows */
    ldc = N + rnd(3);
    cn = (size_t)((M - 1) * ldc + N);
    c0 = (char *)malloc(cn * 4);
    c1 = (char *)malloc(cn * 4);
    cinit = (char *)malloc(cn * 4);
    cthr = (char *)malloc(cn * 4);
    wsn = fp4_cpu_gemm_workspace_size(M, N, K);
    CHECK(wsn > 0);
    ws = (char *)malloc(wsn + 3);
    al = (float)(0.5 + h_uniform());
    be = rnd(3) == 0 ? (float)h_uniform() : 0.0f;
    qmat_make(&A, f, ra, M, K, la, rnd(4) == 0 ? 1e-20 : 1.0);
    qmat_make(&B, f, rb, N, K, lb, rnd(4) == 0 ? 1e25 : 1.0);
    /* extreme and NaN scale codes reach the lane-by-lane path */
    if (f == FP4_MXFP4 && it % 5 == 1) {
      size_t sbn = fp4_scale_bytes(f, M, K, la);
      for (i = 0; i < 4; i++) A.s[rnd((int64_t)sbn)] = (uint8_t)(i == 0 ? 0xFF : i == 1 ? 0 : i == 2 ? 254 : 3);
    }
    if (f == FP4_NVFP4 && it % 5 == 2) A.s[rnd((int64_t)fp4_scale_bytes(f, M, K, la))] = 0x7F;
    /* and on B: one tile of a call on the lane-by-lane path, the others on the FMA promotion */
    if (f == FP4_MXFP4 && it % 5 == 3) {
      size_t sbn = fp4_scale_bytes(f, N, K, lb);
      for (i = 0; i < 3; i++) B.s[rnd((int64_t)sbn)] = (uint8_t)(i == 0 ? 0xFF : i == 1 ? 250 : 1);
    }
    if (f == FP4_NVFP4 && it % 5 == 4) {
      size_t sbn = fp4_scale_bytes(f, N, K, lb);
      B.s[rnd((int64_t)sbn)] = 0xFF;
      B.s[rnd((int64_t)sbn)] = 0x80;
    }
    for (ct = 0; ct < 3; ct++) {
      size_t es = ct == FP4_F32 ? 4 : 2;
      fill(cinit, (fp4_dtype)ct, (int64_t)cn, 0, 1.0);
      memcpy(c0, cinit, cn * es);
      CHECK_EQ(FP4_OK, w4a4_ref(&A.t, &B.t, al, be, c0, (fp4_dtype)ct, ldc));
      H_DIGEST(c0, cn * es);
      for (i = 0; i < n_isa; i++) {
        /* without workspace (per-chunk repacking), with enough (operands packed once: aligned or
         * not), and one byte short (the per-chunk path again) */
        int mode;
        for (mode = 0; mode < 4; mode++) {
          memcpy(c1, cinit, cn * es);
          if (mode == 0) CHECK_EQ(FP4_OK, w4a4_isa(isas[i], &A.t, &B.t, al, be, c1, (fp4_dtype)ct, ldc, NULL, 0));
          else
            CHECK_EQ(FP4_OK, w4a4_isa(isas[i], &A.t, &B.t, al, be, c1, (fp4_dtype)ct, ldc, ws + (mode == 2 ? 3 : 0),
                                      mode == 3 ? wsn - 1 : wsn));
          CHECK(memcmp(c0, c1, cn * es) == 0);
        }
      }
    }
#if defined(_OPENMP)
    /* thread counts: the same bits from 1, 2, 3 and 16 threads (disjoint output tiles) */
    if (it % 4 == 0) {
      static const int nth[] = {1, 2, 3, 16};
      int ti;
      char *cf = (char *)malloc(cn * 4);
      fill(cf, FP4_F32, (int64_t)cn, 0, 1.0);
      memcpy(cthr, cf, cn * 4);
      CHECK_EQ(FP4_OK, fp4_gemm_w4a4_f32(&A.t, &B.t, al, be, (float *)(void *)cthr, ldc, NULL, 0));
      for (ti = 0; ti < 4; ti++) {
        omp_set_num_threads(nth[ti]);
        memcpy(c1, cf, cn * 4);
        CHECK_EQ(FP4_OK, fp4_cpu_gemm_w4a4_f32(&A.t, &B.t, al, be, (float *)(void *)c1, ldc, ws, wsn));
        CHECK(memcmp(cthr, c1, cn * 4) == 0);
      }
      omp_set_num_threads(omp_get_num_procs());
      free(cf);
    }
#endif
    /* column ranges */
    {
      int64_t n0;
      memcpy(c1, cinit, cn * 2);
      for (n0 = 0; n0 < N; n0 += 7)
        CHECK_EQ(FP4_OK, fp4_cpu_gemm_w4a4_f16_cols(&A.t, &B.t, al, be, (uint16_t *)(void *)c1, ldc, n0, n0 + 7 < N ? n0 + 7 : N));
      CHECK(memcmp(c0, c1, cn * 2) == 0);
    }
    if ((int)h_fail != fails)
      fprintf(stderr, "  w4a4 case: %s M %lld N %lld K %lld\n", fp4_format_name(f), (long long)M, (long long)N, (long long)K);
    qmat_free(&A);
    qmat_free(&B);
    free(c0);
    free(c1);
    free(cinit);
    free(cthr);
    free(ws);
  }
}

/* W4A16: relative Frobenius error against float64 of the dequantized weights (f32 output). */
static void test_w4a16(void) {
  int it, i, at;
  for (it = 0; it < 30; it++) {
    fp4_format f = h_rand() & 1 ? FP4_NVFP4 : FP4_MXFP4;
    int blk = fp4_format_block(f);
    int64_t M = 1 + rnd(it < 10 ? 3 : 17), N = 1 + rnd(90), K = blk * (1 + rnd(it == 0 ? 1024 : 40)), lda, m, n, k;
    qmat B;
    float *w, *c;
    void *a;
    double *ref;
    uint16_t *c16;
    if (it == 1) { /* several rows over more than one decoded chunk of the weight row */
      M = 5 + rnd(12);
      K = 4096 + 64 * (1 + rnd(8));
    }
    if (it == 2 || it == 3) { /* M <= 4 streaming: several K chunks and a short last one, N > 64 */
      M = 1 + rnd(4);
      K = 64 * (17 + rnd(40));
      N = 65 + rnd(30);
    }
    lda = K + rnd(3);
    w = (float *)malloc((size_t)(N * K) * 4);
    c = (float *)malloc((size_t)(M * N) * 4);
    a = malloc((size_t)(M * lda) * 4 + 4);
    ref = (double *)malloc((size_t)(M * N) * 8);
    c16 = (uint16_t *)malloc((size_t)(M * N) * 2);
    qmat_make(&B, f, f == FP4_NVFP4 ? FP4_NV_6 : FP4_MX_OCP, N, K, rnd(2) ? FP4_LAYOUT_LINEAR : FP4_LAYOUT_SWIZZLED, 1.0);
    CHECK_EQ(FP4_OK, fp4_dequantize_f32(&B.t, w, K));
    for (at = 0; at < 3; at++) {
      double num = 0, den = 0;
      fill(a, (fp4_dtype)at, M * lda, 0, 1.0);
      for (m = 0; m < M; m++)
        for (n = 0; n < N; n++) {
          double s = 0;
          for (k = 0; k < K; k++) s += (double)fp4__load(a, (fp4_dtype)at, m * lda + k) * (double)w[n * K + k];
          ref[m * N + n] = s * 0.75;
        }
      for (i = 0; i <= n_isa; i++) {
        fp4_status st;
        fp4_cpu_isa isa = i < n_isa ? isas[i] : FP4_CPU_FORCE_ISA;
        (void)isa;
        num = den = 0;
        if (at == FP4_F32) {
          if (i == n_isa) st = fp4_cpu_gemm_w4a16_f32_f32_cols((const float *)a, M, lda, &B.t, 0.75f, 0.0f, c, N, 0, N);
#if FP4_CPU_HAVE_AVX512
          else if (isa == FP4_CPU_AVX512) st = fp4_cpu_gemm_w4a16_f32_f32_avx512((const float *)a, M, lda, &B.t, 0.75f, 0.0f, c, N, NULL, 0);
#endif
#if FP4_CPU_HAVE_AVX2
          else if (isa == FP4_CPU_AVX2) st = fp4_cpu_gemm_w4a16_f32_f32_avx2((const float *)a, M, lda, &B.t, 0.75f, 0.0f, c, N, NULL, 0);
#endif
          else st = fp4_cpu_gemm_w4a16_f32_f32_scalar((const float *)a, M, lda, &B.t, 0.75f, 0.0f, c, N, NULL, 0);
        } else {
          const uint16_t *a16 = (const uint16_t *)a;
          if (i == n_isa) st = at == FP4_BF16 ? fp4_cpu_gemm_w4a16_bf16_f32_cols(a16, M, lda, &B.t, 0.75f, 0.0f, c, N, 0, N)
                                              : fp4_cpu_gemm_w4a16_f16_f32_cols(a16, M, lda, &B.t, 0.75f, 0.0f, c, N, 0, N);
#if FP4_CPU_HAVE_AVX512
          else if (isa == FP4_CPU_AVX512)
            st = at == FP4_BF16 ? fp4_cpu_gemm_w4a16_bf16_f32_avx512(a16, M, lda, &B.t, 0.75f, 0.0f, c, N, NULL, 0)
                                : fp4_cpu_gemm_w4a16_f16_f32_avx512(a16, M, lda, &B.t, 0.75f, 0.0f, c, N, NULL, 0);
#endif
#if FP4_CPU_HAVE_AVX2
          else if (isa == FP4_CPU_AVX2)
            st = at == FP4_BF16 ? fp4_cpu_gemm_w4a16_bf16_f32_avx2(a16, M, lda, &B.t, 0.75f, 0.0f, c, N, NULL, 0)
                                : fp4_cpu_gemm_w4a16_f16_f32_avx2(a16, M, lda, &B.t, 0.75f, 0.0f, c, N, NULL, 0);
#endif
          else st = at == FP4_BF16 ? fp4_cpu_gemm_w4a16_bf16_f32_scalar(a16, M, lda, &B.t, 0.75f, 0.0f, c, N, NULL, 0)
                                   : fp4_cpu_gemm_w4a16_f16_f32_scalar(a16, M, lda, &B.t, 0.75f, 0.0f, c, N, NULL, 0);
        }
        CHECK_EQ(FP4_OK, st);
        for (m = 0; m < M * N; m++) {
          double d = (double)c[m] - ref[m];
          num += d * d;
          den += ref[m] * ref[m];
        }
        CHECK_LE(sqrt(num / (den > 0 ? den : 1)), 1e-5);
      }
      /* bf16 output: within one bf16 rounding of the f32 result */
      CHECK_EQ(FP4_OK, fp4_cpu_gemm_w4a16_f32_bf16((const float *)a, M, lda, &B.t, 0.75f, 0.0f, c16, N, NULL, 0));
      if (at == FP4_F32) {
        CHECK_EQ(FP4_OK, fp4_cpu_gemm_w4a16_f32_f32((const float *)a, M, lda, &B.t, 0.75f, 0.0f, c, N, NULL, 0));
        for (m = 0; m < M * N; m++) CHECK_LE(fabs((double)fp4_bf16_to_f32(c16[m]) - c[m]), fabs((double)c[m]) * 0.0079 + 1e-30);
      }
    }
    qmat_free(&B);
    free(w);
    free(c);
    free(a);
    free(ref);
    free(c16);
  }
}

int main(void) {
  int it;
  h_rand_state = h_seed();
  isas[n_isa++] = FP4_CPU_SCALAR;
  /* the paths compiled in that this CPU runs (FP4_CPU_DISPATCH builds compile them all) */
#if FP4_CPU_HAVE_AVX2
  if (fp4_cpu_isa_supported(FP4_CPU_AVX2)) isas[n_isa++] = FP4_CPU_AVX2;
#endif
#if FP4_CPU_HAVE_AVX512
  if (fp4_cpu_isa_supported(FP4_CPU_AVX512)) isas[n_isa++] = FP4_CPU_AVX512;
#endif
  CHECK(fp4_cpu_isa_compiled(FP4_CPU_FORCE_ISA));
  CHECK(fp4_cpu_isa_supported(FP4_CPU_FORCE_ISA));
  for (it = 0; it < n_isa; it++) fprintf(stderr, "path: %s\n", fp4_cpu_isa_name(isas[it]));
  /* a sweep of the vector path: every rule x input type x Hadamard group */
  {
    fp4_rule rules[] = {FP4_MX_OCP, FP4_MX_CEIL, FP4_MX_ABSMAX3, FP4_NV_6, FP4_NV_4, FP4_NV_4OVER6_MSE, FP4_NV_4OVER6_MAE,
                        FP4_NV_4OVER6_MAXABS};
    int r, dt, g;
    for (r = 0; r < 8; r++)
      for (dt = 0; dt < 3; dt++)
        for (g = 0; g < 6; g++) {
          qcase c;
          memset(&c, 0, sizeof c);
          c.cfg.rule = rules[r];
          c.cfg.format = fp4_rule_format(rules[r]);
          c.cfg.hadamard = groups[g];
          c.cfg.hadamard_signs = g % 3 == 1 ? FP4_SIGNS_RANDOM : g % 3 == 2 ? FP4_SIGNS_USER : FP4_SIGNS_NONE;
          c.cfg.hadamard_sign_bits[0] = 0x1234ABCDu;
          c.cfg.hadamard_bf16 = g && r % 2;
          c.cfg.seed = h_rand();
          c.dt = (fp4_dtype)dt;
          c.layout = (r + g) % 2 ? FP4_LAYOUT_SWIZZLED : FP4_LAYOUT_LINEAR;
          c.rows = 1 + rnd(19);
          c.cols = 256 * (1 + rnd(2)) + (g == 0 ? 32 * rnd(7) : 0);
          c.ld = c.cols + rnd(2);
          c.specials = (r + dt) % 3 == 0;
          run_case(&c);
        }
  }
  for (it = 0; it < 250; it++) {
    qcase c;
    random_case(&c, it % 2);
    run_case(&c);
  }
  test_rows();
  test_hadamard();
  test_e2m1_grid();
  test_errors();
  test_w4a4();
  test_w4a16();
  return h_finish();
}
