/* SPDX-License-Identifier: MIT */
/* Reference GEMMs (spec §5). W4A4 (MXFP4 and NVFP4, several rules per operand incl. ABSMAX3, SR,
 * f32 / bf16 / f16 outputs, alpha / beta, ldc > N, linear and swizzled scales, K up to 16384):
 *  - bit for bit against the independent model of the reproducible arithmetic in test_ref.h;
 *  - relative Frobenius error <= 1e-5 (f32 output) against a float64 GEMM of the dequantized operands.
 * W4A16 (f32 / bf16 / f16 activations, every output type): <= 1e-5 against float64 for f32 output,
 * and the 16-bit outputs are the RNE roundings of the f32 result. */
#include "harness.h"
#include "test_ref.h"

static int rnd(int n) { return (int)(h_rand() % (uint64_t)n); }

typedef struct qtensor {
  fp4_tensor t;
  uint8_t *data, *scales, *sw;
  int64_t rows, cols;
} qtensor;

static void quant(qtensor *q, const float *x, int64_t rows, int64_t cols, fp4_format f, fp4_rule rule, int sr) {
  fp4_quant_config c = fp4_config_default(f);
  fp4_status st;
  c.rule = rule;
  c.rounding = sr ? FP4_ROUND_STOCHASTIC : FP4_ROUND_NEAREST;
  c.seed = h_rand();
  q->rows = rows;
  q->cols = cols;
  q->data = (uint8_t *)malloc(fp4_data_bytes(rows, cols));
  q->scales = (uint8_t *)malloc(fp4_scale_bytes(f, rows, cols, FP4_LAYOUT_LINEAR));
  q->sw = (uint8_t *)malloc(fp4_scale_bytes(f, rows, cols, FP4_LAYOUT_SWIZZLED));
  fp4_tensor_init(&q->t, q->data, q->scales, FP4_LAYOUT_LINEAR);
  st = fp4_quantize_f32(x, rows, cols, cols, &c, &q->t, NULL, 0);
  CHECK(st == FP4_OK || st == FP4_ERR_NONFINITE);
  CHECK_EQ(FP4_OK, fp4_scales_to_swizzled(q->scales, rows, cols / fp4_format_block(f), q->sw));
  H_DIGEST(q->data, fp4_data_bytes(rows, cols));
  H_DIGEST(q->scales, fp4_scale_bytes(f, rows, cols, FP4_LAYOUT_LINEAR));
}
static void qfree(qtensor *q) {
  free(q->data);
  free(q->scales);
  free(q->sw);
}
/* the same tensor viewed through its swizzled scales */
static fp4_tensor swz(const qtensor *q) {
  fp4_tensor t = q->t;
  t.scales = q->sw;
  t.scale_layout = FP4_LAYOUT_SWIZZLED;
  return t;
}

static double deq(const qtensor *q, int64_t r, int64_t c) {
  return r_deq(q->t.format, q->t.rule, q->data, q->scales, q->cols, q->t.tensor_scale, r, c);
}

static fp4_rule pick_rule(fp4_format f) {
  if (f == FP4_MXFP4) {
    static const fp4_rule mx[5] = {FP4_MX_OCP, FP4_MX_CEIL, FP4_MX_ABSMAX3, FP4_MX_QUEST, FP4_MX_ADAPTIVE};
    return mx[rnd(5)];
  } else {
    static const fp4_rule nv[5] = {FP4_NV_6, FP4_NV_4, FP4_NV_4OVER6_MSE, FP4_NV_4OVER6_MAE, FP4_NV_4OVER6_MAXABS};
    return nv[rnd(5)];
  }
}

static float gen(int heavy) {
  double z = h_normal();
  return heavy ? (float)(z * exp(h_normal())) : (float)z;
}

/* One W4A4 case: A[M,K], B[N,K]; out 0 f32, 1 bf16, 2 f16. */
static void w4a4_case(fp4_format f, fp4_rule ra, fp4_rule rb, int64_t M, int64_t N, int64_t K, int out, float alpha,
                      float beta, int heavy, int sr, int nan_in_a) {
  int64_t ldc = N + (rnd(2) ? rnd(4) : 0), i, m, n, k;
  float *a = (float *)malloc((size_t)(M * K) * 4), *b = (float *)malloc((size_t)(N * K) * 4);
  float *cold = (float *)malloc((size_t)(M * N) * 4), *cref = (float *)malloc((size_t)(M * N) * 4);
  float *c32 = (float *)malloc((size_t)(M * ldc) * 4), *c32s = (float *)malloc((size_t)(M * ldc) * 4);
  uint16_t *c16 = (uint16_t *)malloc((size_t)(M * ldc) * 2), *c16s = (uint16_t *)malloc((size_t)(M * ldc) * 2);
  qtensor A, B;
  fp4_tensor As, Bs;
  double num = 0, den = 0;
  long bad = 0;
  for (i = 0; i < M * K; i++) a[i] = gen(heavy);
  for (i = 0; i < N * K; i++) b[i] = gen(heavy);
  if (nan_in_a) a[(M / 2) * K + rnd((int)K)] = NAN;
  quant(&A, a, M, K, f, ra, sr);
  quant(&B, b, N, K, f, rb, sr);
  As = swz(&A);
  Bs = swz(&B);
  /* old C: representable in the output type so that the model reads the same values */
  for (m = 0; m < M; m++)
    for (n = 0; n < N; n++) {
      float v = gen(0);
      if (out == 1) v = (float)r_bf16_round(v);
      if (out == 2) v = (float)r_f16_round(v);
      cold[m * N + n] = v;
    }
  for (i = 0; i < M * ldc; i++) {
    c32[i] = beta != 0 ? 0.0f : NAN; /* beta == 0: C is not read */
    c16[i] = beta != 0 ? 0 : 0x7FC0;
  }
  for (m = 0; m < M; m++)
    for (n = 0; n < N; n++) {
      if (beta != 0) c32[m * ldc + n] = cold[m * N + n];
      if (out == 1 && beta != 0) c16[m * ldc + n] = (uint16_t)(r_bits(cold[m * N + n]) >> 16);
      if (out == 2 && beta != 0) c16[m * ldc + n] = fp4_f32_to_f16(cold[m * N + n]); /* exact: representable */
    }
  memcpy(c32s, c32, (size_t)(M * ldc) * 4);
  memcpy(c16s, c16, (size_t)(M * ldc) * 2);
  if (out == 0) {
    CHECK_EQ(FP4_OK, fp4_gemm_w4a4_f32(&A.t, &B.t, alpha, beta, c32, ldc, NULL, 0));
    CHECK_EQ(FP4_OK, fp4_gemm_w4a4_f32(&As, &Bs, alpha, beta, c32s, ldc, NULL, 0));
    CHECK(memcmp(c32, c32s, (size_t)(M * ldc) * 4) == 0);
    H_DIGEST(c32, (size_t)(M * ldc) * 4);
  } else {
    fp4_status (*fn)(const fp4_tensor *, const fp4_tensor *, float, float, uint16_t *, int64_t, void *, size_t) =
        out == 1 ? fp4_gemm_w4a4_bf16 : fp4_gemm_w4a4_f16;
    CHECK_EQ(FP4_OK, fn(&A.t, &B.t, alpha, beta, c16, ldc, NULL, 0));
    CHECK_EQ(FP4_OK, fn(&As, &Bs, alpha, beta, c16s, ldc, NULL, 0));
    CHECK(memcmp(c16, c16s, (size_t)(M * ldc) * 2) == 0);
    H_DIGEST(c16, (size_t)(M * ldc) * 2);
  }
  /* the model of the reproducible arithmetic */
  r_gemm_w4a4(f, M, N, K, A.data, A.scales, A.t.tensor_scale, B.data, B.scales, B.t.tensor_scale, alpha, beta, cold,
              cref);
  for (m = 0; m < M; m++)
    for (n = 0; n < N; n++) {
      float want = cref[m * N + n];
      int ok;
      if (out == 0) ok = r_bits(c32[m * ldc + n]) == r_bits(want) || (want != want && c32[m * ldc + n] != c32[m * ldc + n]);
      else {
        double got = out == 1 ? r_bf16_val(c16[m * ldc + n]) : r_f16_val(c16[m * ldc + n]);
        double w = out == 1 ? r_bf16_round(want) : r_f16_round(want);
        ok = want != want ? got != got : (got == w && !signbit(got) == !signbit(w));
      }
      if (!ok && bad++ < 3)
        fprintf(stderr, "  w4a4 f%d rules %d/%d out %d C[%ld,%ld]: model %a\n", f, ra, rb, out, (long)m, (long)n, (double)want);
    }
  CHECK_EQ(0, bad);
  /* ldc padding untouched */
  bad = 0;
  for (m = 0; m < M; m++)
    for (n = N; n < ldc; n++)
      if (out == 0 ? r_bits(c32[m * ldc + n]) != r_bits(beta != 0 ? 0.0f : NAN) : c16[m * ldc + n] != (beta != 0 ? 0 : 0x7FC0))
        bad++;
  CHECK_EQ(0, bad);
  /* float64 GEMM of the dequantized operands (rows with a NaN block are NaN and left out) */
  if (out == 0) {
    double *da = (double *)malloc((size_t)(M * K) * 8), *dbv = (double *)malloc((size_t)(N * K) * 8);
    for (m = 0; m < M; m++)
      for (k = 0; k < K; k++) da[m * K + k] = deq(&A, m, k);
    for (n = 0; n < N; n++)
      for (k = 0; k < K; k++) dbv[n * K + k] = deq(&B, n, k);
    for (m = 0; m < M; m++) {
      int row_nan = 0;
      for (k = 0; k < K; k++)
        if (da[m * K + k] != da[m * K + k]) row_nan = 1;
      for (n = 0; n < N; n++) {
        double s = 0, ref, got = c32[m * ldc + n];
        if (row_nan) {
          CHECK(got != got);
          continue;
        }
        for (k = 0; k < K; k++) s += da[m * K + k] * dbv[n * K + k];
        ref = (double)alpha * s + (double)beta * cold[m * N + n];
        num += (got - ref) * (got - ref);
        den += ref * ref;
      }
    }
    if (den > 0) CHECK_LE(sqrt(num / den), 1e-5);
    free(da);
    free(dbv);
  }
  qfree(&A);
  qfree(&B);
  free(a); free(b); free(cold); free(cref); free(c32); free(c32s); free(c16); free(c16s);
}

static void test_w4a4(void) {
  int k, f;
  /* random shapes, rules, outputs, alpha / beta */
  for (k = 0; k < 120; k++) {
    fp4_format fm = rnd(2) ? FP4_NVFP4 : FP4_MXFP4;
    int blk = fp4_format_block(fm);
    fp4_rule ra = pick_rule(fm), rb = rnd(2) ? ra : pick_rule(fm);
    float alpha = rnd(3) ? (float)(h_normal() * 2) : 1.0f, beta = rnd(2) ? 0.0f : (float)h_normal();
    w4a4_case(fm, ra, rb, 1 + rnd(9), 1 + rnd(9), (int64_t)blk * (1 + rnd(24)), rnd(3), alpha, beta, rnd(2),
              rnd(4) == 0, rnd(10) == 0);
  }
  /* ABSMAX3 on both sides with every output type, and long K up to 16384 */
  for (f = 0; f < 3; f++) w4a4_case(FP4_MXFP4, FP4_MX_ABSMAX3, FP4_MX_ABSMAX3, 5, 7, 512, f, 0.75f, 0.5f, 0, 0, 0);
  for (f = 0; f < 2; f++) {
    fp4_format fm = f ? FP4_NVFP4 : FP4_MXFP4;
    w4a4_case(fm, f ? FP4_NV_6 : FP4_MX_OCP, f ? FP4_NV_4OVER6_MSE : FP4_MX_ABSMAX3, 3, 5, 16384, 0, 1.0f, 0.0f, 0, 0, 0);
    w4a4_case(fm, pick_rule(fm), pick_rule(fm), 2, 3, 8192, 0, -1.5f, 2.0f, 1, 1, 0);
  }
}

/* ---- W4A16 ---- */
static fp4_status w4a16(int at, int out, const void *A, int64_t M, int64_t lda, const fp4_tensor *B, float alpha,
                        float beta, void *C, int64_t ldc) {
  if (at == 0) {
    if (out == 0) return fp4_gemm_w4a16_f32_f32((const float *)A, M, lda, B, alpha, beta, (float *)C, ldc, NULL, 0);
    if (out == 1) return fp4_gemm_w4a16_f32_bf16((const float *)A, M, lda, B, alpha, beta, (uint16_t *)C, ldc, NULL, 0);
    return fp4_gemm_w4a16_f32_f16((const float *)A, M, lda, B, alpha, beta, (uint16_t *)C, ldc, NULL, 0);
  }
  if (at == 1) {
    if (out == 0) return fp4_gemm_w4a16_bf16_f32((const uint16_t *)A, M, lda, B, alpha, beta, (float *)C, ldc, NULL, 0);
    if (out == 1) return fp4_gemm_w4a16_bf16_bf16((const uint16_t *)A, M, lda, B, alpha, beta, (uint16_t *)C, ldc, NULL, 0);
    return fp4_gemm_w4a16_bf16_f16((const uint16_t *)A, M, lda, B, alpha, beta, (uint16_t *)C, ldc, NULL, 0);
  }
  if (out == 0) return fp4_gemm_w4a16_f16_f32((const uint16_t *)A, M, lda, B, alpha, beta, (float *)C, ldc, NULL, 0);
  if (out == 1) return fp4_gemm_w4a16_f16_bf16((const uint16_t *)A, M, lda, B, alpha, beta, (uint16_t *)C, ldc, NULL, 0);
  return fp4_gemm_w4a16_f16_f16((const uint16_t *)A, M, lda, B, alpha, beta, (uint16_t *)C, ldc, NULL, 0);
}

static void w4a16_case(fp4_format f, fp4_rule rb, int at, int64_t M, int64_t N, int64_t K, float alpha, float beta) {
  int64_t lda = K + (rnd(2) ? rnd(3) : 0), i, m, n, k;
  float *a = (float *)malloc((size_t)(M * lda) * 4), *b = (float *)malloc((size_t)(N * K) * 4);
  uint16_t *a16 = (uint16_t *)malloc((size_t)(M * lda) * 2), *c16 = (uint16_t *)malloc((size_t)(M * N) * 2);
  float *c32 = (float *)malloc((size_t)(M * N) * 4), *c0 = (float *)malloc((size_t)(M * N) * 4);
  double num = 0, den = 0;
  long bad = 0;
  int out;
  qtensor B;
  for (i = 0; i < M * lda; i++) {
    float v = (float)h_normal();
    if (at == 1) {
      a16[i] = r_bf16_enc(v);
      v = (float)r_bf16_val(a16[i]);
    } else if (at == 2) {
      v = (float)r_f16_round(v);
      a16[i] = fp4_f32_to_f16(v); /* exact: v is an f16 value (the codec is tested on its own) */
    }
    a[i] = v;
  }
  for (i = 0; i < N * K; i++) b[i] = (float)h_normal();
  for (i = 0; i < M * N; i++) c0[i] = (float)r_bf16_round((float)h_normal()); /* representable in bf16 and f16 */
  quant(&B, b, N, K, f, rb, 0);
  /* f32 output against float64 */
  memcpy(c32, c0, (size_t)(M * N) * 4);
  CHECK_EQ(FP4_OK, w4a16(at, 0, at ? (const void *)a16 : (const void *)a, M, lda, &B.t, alpha, beta, c32, N));
  H_DIGEST(c32, (size_t)(M * N) * 4);
  for (m = 0; m < M; m++)
    for (n = 0; n < N; n++) {
      double s = 0, ref;
      for (k = 0; k < K; k++) s += (double)a[m * lda + k] * deq(&B, n, k);
      ref = (double)alpha * s + (double)beta * c0[m * N + n];
      num += (c32[m * N + n] - ref) * (c32[m * N + n] - ref);
      den += ref * ref;
    }
  CHECK_LE(sqrt(num / den), 1e-5);
  /* 16-bit outputs: with beta = 0 they are the RNE roundings of the f32 result */
  for (out = 1; out < 3; out++) {
    float *z = (float *)malloc((size_t)(M * N) * 4);
    for (i = 0; i < M * N; i++) z[i] = NAN, c16[i] = 0x7E00;
    CHECK_EQ(FP4_OK, w4a16(at, 0, at ? (const void *)a16 : (const void *)a, M, lda, &B.t, alpha, 0.0f, z, N));
    CHECK_EQ(FP4_OK, w4a16(at, out, at ? (const void *)a16 : (const void *)a, M, lda, &B.t, alpha, 0.0f, c16, N));
    H_DIGEST(c16, (size_t)(M * N) * 2);
    for (i = 0; i < M * N; i++) {
      double got = out == 1 ? r_bf16_val(c16[i]) : r_f16_val(c16[i]), w = out == 1 ? r_bf16_round(z[i]) : r_f16_round(z[i]);
      if (got != w) bad++;
    }
    free(z);
  }
  CHECK_EQ(0, bad);
  qfree(&B);
  free(a); free(b); free(a16); free(c16); free(c32); free(c0);
}

static void test_w4a16(void) {
  int k, at;
  for (k = 0; k < 60; k++) {
    fp4_format fm = rnd(2) ? FP4_NVFP4 : FP4_MXFP4;
    w4a16_case(fm, pick_rule(fm), rnd(3), 1 + rnd(7), 1 + rnd(9), (int64_t)fp4_format_block(fm) * (1 + rnd(16)),
               rnd(2) ? 1.0f : (float)h_normal(), rnd(2) ? 0.0f : (float)h_normal());
  }
  for (at = 0; at < 3; at++) {
    w4a16_case(FP4_MXFP4, FP4_MX_ABSMAX3, at, 2, 3, 16384, 1.0f, 0.0f);
    w4a16_case(FP4_NVFP4, FP4_NV_4OVER6_MSE, at, 2, 3, 16384, 0.5f, 1.0f);
  }
}

int main(void) {
  h_rand_state = h_seed();
  test_w4a4();
  test_w4a16();
  return h_finish();
}
