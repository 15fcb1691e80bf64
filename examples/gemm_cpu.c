/* SPDX-License-Identifier: MIT */
/*
 * gemm_cpu.c - a quantized linear layer end to end on the CPU, Y = X W^T + b:
 *   - the weights W[N,K] are quantized once (at load time),
 *   - the activations X[M,K] are quantized on every call (W4A4) into caller-owned buffers,
 *   - W4A4: both operands FP4, one GEMM with the tensor scales folded into alpha and the bias added
 *     through beta = 1 (Y is pre-filled with b);
 *   - W4A16: weights FP4, activations in f32 or bf16 (the decode path, no activation quantization);
 *   - with a Hadamard rotation along K (both operands, same signs) the rotation cancels in the product:
 *     W4A4 rotates inside the activation quantizer, W4A16 rotates X explicitly with fp4_hadamard_f32.
 * Each result is compared with a float64 GEMM of the unquantized operands (the quantization error)
 * and with a float64 GEMM of the dequantized operands (the GEMM's own error, within 1e-5; spec §5).
 *
 * It runs on the SIMD back end (fp4_cpu.h: AVX-512, AVX2 or scalar, whichever the build targets) and
 * checks that its quantized bytes and W4A4 outputs equal the scalar reference fp4.h's, bit for bit.
 *
 * Usage: gemm_cpu [M N K]   (defaults 16 256 1024; K a multiple of 128). Exits non-zero when a GEMM
 * strays from the float64 product of its dequantized operands, or the back ends disagree.
 */
// FP4_TEST_FLAGS: -march=native
#include "fp4_cpu.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The back end: fp4_cpu.h has fp4.h's signatures with the fp4_cpu_ prefix, so switching back to
 * the scalar reference is this one macro: #define FP4_OP(name) fp4_##name */
#define FP4_OP(name) fp4_cpu_##name

/* ---- a quantized linear layer ---- */
typedef struct qlinear {
  int64_t N, K;
  fp4_quant_config wcfg, xcfg; /* weight and activation recipes (same format, same Hadamard) */
  fp4_tensor w;                /* quantized once */
  const float *bias;
  const float *w_src;          /* the unquantized weights (kept only for the reference check) */
} qlinear;

/* Activation buffers, sized for up to max_m rows: the caller owns them; kernels never allocate. */
typedef struct qscratch {
  int64_t max_m;
  uint8_t *xd, *xs;
  float *xrot;
} qscratch;

static fp4_status qlinear_init(qlinear *l, const float *W, int64_t N, int64_t K, const float *bias,
                               const fp4_quant_config *wcfg, const fp4_quant_config *xcfg) {
  memset(l, 0, sizeof *l);
  l->N = N;
  l->K = K;
  l->wcfg = *wcfg;
  l->xcfg = *xcfg;
  l->bias = bias;
  l->w_src = W;
  fp4_tensor_init(&l->w, (uint8_t *)malloc(fp4_data_bytes(N, K)),
                  (uint8_t *)malloc(fp4_scale_bytes(wcfg->format, N, K, FP4_LAYOUT_LINEAR)), FP4_LAYOUT_LINEAR);
  if (!l->w.data || !l->w.scales) return FP4_ERR_NULL;
  return FP4_OP(quantize_f32)(W, N, K, K, wcfg, &l->w, NULL, 0);
}

static void qlinear_free(qlinear *l) {
  free(l->w.data);
  free(l->w.scales);
}

static void fill_bias(const qlinear *l, int64_t M, float *Y) {
  int64_t m;
  for (m = 0; m < M; m++) memcpy(Y + m * l->N, l->bias, (size_t)l->N * sizeof *Y);
}

/* W4A4: quantize X (with the layer's activation recipe) and run the FP4 x FP4 GEMM; Y[M,N] += b. */
static fp4_status qlinear_w4a4(const qlinear *l, const float *X, int64_t M, float *Y, qscratch *s,
                               fp4_tensor *xq_out) {
  fp4_tensor xq;
  fp4_status st;
  if (M > s->max_m) return FP4_ERR_WORKSPACE;
  fp4_tensor_init(&xq, s->xd, s->xs, FP4_LAYOUT_LINEAR);
  st = FP4_OP(quantize_f32)(X, M, l->K, l->K, &l->xcfg, &xq, NULL, 0);
  if (st != FP4_OK) return st;
  fill_bias(l, M, Y);
  st = FP4_OP(gemm_w4a4_f32)(&xq, &l->w, 1.0f, 1.0f, Y, l->N, NULL, 0);
  if (xq_out) *xq_out = xq;
  return st;
}

static const uint32_t *signs_of(const fp4_quant_config *c) {
  return c->hadamard_signs == FP4_SIGNS_USER ? c->hadamard_sign_bits : NULL;
}

/* W4A16 with f32 activations: the weights live in the rotated domain, so rotate X the same way. */
static fp4_status qlinear_w4a16_f32(const qlinear *l, const float *X, int64_t M, float *Y, qscratch *s) {
  fp4_status st;
  if (M > s->max_m) return FP4_ERR_WORKSPACE;
  if (l->wcfg.hadamard) {
    st = FP4_OP(hadamard_f32)(X, M, l->K, l->K, s->xrot, l->K, l->wcfg.hadamard, signs_of(&l->wcfg), 0);
    if (st != FP4_OK) return st;
    X = s->xrot;
  }
  fill_bias(l, M, Y);
  return FP4_OP(gemm_w4a16_f32_f32)(X, M, l->K, &l->w, 1.0f, 1.0f, Y, l->N, NULL, 0);
}

/* W4A16 with bf16 activations (as a model would hold them). */
static fp4_status qlinear_w4a16_bf16(const qlinear *l, const uint16_t *X, int64_t M, float *Y) {
  fill_bias(l, M, Y);
  return FP4_OP(gemm_w4a16_bf16_f32)(X, M, l->K, &l->w, 1.0f, 1.0f, Y, l->N, NULL, 0);
}

/* The scalar reference fp4.h on the same inputs: weight and activation bytes, scales, tensor scales
 * and the W4A4 output must be identical (spec §5: the SIMD GEMMs keep the reference's arithmetic). */
static fp4_status reference_check(const qlinear *l, const fp4_tensor *xq, const float *X, int64_t M,
                                  const float *Y, int *bad) {
  fp4_tensor w, x;
  fp4_status st;
  size_t wd = fp4_data_bytes(l->N, l->K), xd = fp4_data_bytes(M, l->K);
  size_t ws = fp4_scale_bytes(l->w.format, l->N, l->K, FP4_LAYOUT_LINEAR);
  size_t xs = fp4_scale_bytes(l->w.format, M, l->K, FP4_LAYOUT_LINEAR);
  float *Yr = (float *)malloc((size_t)(M * l->N) * sizeof *Yr);
  fp4_tensor_init(&w, (uint8_t *)malloc(wd), (uint8_t *)malloc(ws), FP4_LAYOUT_LINEAR);
  fp4_tensor_init(&x, (uint8_t *)malloc(xd), (uint8_t *)malloc(xs), FP4_LAYOUT_LINEAR);
  st = !Yr || !w.data || !w.scales || !x.data || !x.scales ? FP4_ERR_NULL : FP4_OK;
  if (st == FP4_OK) st = fp4_quantize_f32(l->w_src, l->N, l->K, l->K, &l->wcfg, &w, NULL, 0);
  if (st == FP4_OK) st = fp4_quantize_f32(X, M, l->K, l->K, &l->xcfg, &x, NULL, 0);
  if (st == FP4_OK) {
    fill_bias(l, M, Yr);
    st = fp4_gemm_w4a4_f32(&x, &w, 1.0f, 1.0f, Yr, l->N, NULL, 0);
  }
  if (st == FP4_OK && (memcmp(w.data, l->w.data, wd) || memcmp(w.scales, l->w.scales, ws) ||
                       memcmp(x.data, xq->data, xd) || memcmp(x.scales, xq->scales, xs) ||
                       memcmp(&w.tensor_scale, &l->w.tensor_scale, 4) || memcmp(&x.tensor_scale, &xq->tensor_scale, 4) ||
                       memcmp(Yr, Y, (size_t)(M * l->N) * sizeof *Y))) {
    printf("FAIL: fp4_cpu.h and fp4.h disagree\n");
    *bad = 1;
  }
  free(Yr);
  free(w.data);
  free(w.scales);
  free(x.data);
  free(x.scales);
  return st;
}

/* ---- test data and references ---- */
static unsigned long long rng = 0x853C49E6748FEA9Bull;
static double uniform(void) {
  rng = rng * 6364136223846793005ull + 1442695040888963407ull;
  return ((double)(rng >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
static double normal(void) { return sqrt(-2.0 * log(uniform())) * cos(6.283185307179586 * uniform()); }

/* ref[M,N] = A[M,K] B[N,K]^T + bias, in float64 */
static void gemm64(const float *A, const float *B, const float *bias, int64_t M, int64_t N, int64_t K, double *ref) {
  int64_t m, n, k;
  for (m = 0; m < M; m++)
    for (n = 0; n < N; n++) {
      double s = bias[n];
      for (k = 0; k < K; k++) s += (double)A[m * K + k] * B[n * K + k];
      ref[m * N + n] = s;
    }
}

static double rel_err(const float *Y, const double *ref, int64_t n) {
  double e = 0.0, r = 0.0;
  int64_t i;
  for (i = 0; i < n; i++) {
    e += (Y[i] - ref[i]) * (Y[i] - ref[i]);
    r += ref[i] * ref[i];
  }
  return sqrt(e / r);
}

int main(int argc, char **argv) {
  int64_t M = 16, N = 256, K = 1024, i;
  static const struct {
    const char *name;
    fp4_rule rule;
    int hadamard, rht16, w2d;
  } recipes[] = {
      {"MXFP4 OCP", FP4_MX_OCP, 0, 0, 0},
      {"MXFP4 QuEST + H128", FP4_MX_QUEST, 128, 0, 0},
      {"NVFP4 (standard)", FP4_NV_6, 0, 0, 0},
      {"NVFP4 4/6 MSE, 2D weights", FP4_NV_4OVER6_MSE, 0, 0, 1},
      {"NVFP4 4/6 MSE + RHT16", FP4_NV_4OVER6_MSE, 16, 1, 0},
  };
  float *X, *W, *bias, *Y, *Xd, *Wd;
  uint16_t *Xbf;
  double *ref, *refd;
  qscratch s;
  int r, bad = 0;
  if (argc == 4) {
    M = atol(argv[1]);
    N = atol(argv[2]);
    K = atol(argv[3]);
  }
  if (M <= 0 || N <= 0 || K <= 0 || K % 128) {
    fprintf(stderr, "usage: gemm_cpu [M N K] with K a multiple of 128\n");
    return 2;
  }
  X = (float *)malloc((size_t)(M * K) * sizeof *X);
  Xd = (float *)malloc((size_t)(M * K) * sizeof *Xd);
  Xbf = (uint16_t *)malloc((size_t)(M * K) * sizeof *Xbf);
  W = (float *)malloc((size_t)(N * K) * sizeof *W);
  Wd = (float *)malloc((size_t)(N * K) * sizeof *Wd);
  bias = (float *)malloc((size_t)N * sizeof *bias);
  Y = (float *)malloc((size_t)(M * N) * sizeof *Y);
  ref = (double *)malloc((size_t)(M * N) * sizeof *ref);
  refd = (double *)malloc((size_t)(M * N) * sizeof *refd);
  s.max_m = M;
  s.xd = (uint8_t *)malloc(fp4_data_bytes(M, K));
  s.xs = (uint8_t *)malloc(fp4_scale_bytes(FP4_NVFP4, M, K, FP4_LAYOUT_LINEAR)); /* the larger of the two */
  s.xrot = (float *)malloc((size_t)(M * K) * sizeof *s.xrot);
  if (!X || !Xd || !Xbf || !W || !Wd || !bias || !Y || !ref || !refd || !s.xd || !s.xs || !s.xrot) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }
  /* weights ~ N(0, 0.02^2); activations normal with a few outlier channels, rounded to bf16 so that the
   * f32 and bf16 paths see the same values */
  for (i = 0; i < N * K; i++) W[i] = (float)(0.02 * normal());
  for (i = 0; i < N; i++) bias[i] = (float)(0.1 * normal());
  for (i = 0; i < M * K; i++) {
    Xbf[i] = fp4_f32_to_bf16((float)(normal() * (i % K % 61 == 7 ? 20.0 : 1.0)));
    X[i] = fp4_bf16_to_f32(Xbf[i]);
  }
  gemm64(X, W, bias, M, N, K, ref);

  printf("fp4 %s (%s): quantized linear layer Y[%lld,%lld] = X[%lld,%lld] W[%lld,%lld]^T + b\n", FP4_VERSION_STRING,
         fp4_cpu_isa_name(FP4_CPU_FORCE_ISA), (long long)M, (long long)N, (long long)M, (long long)K, (long long)N,
         (long long)K);
  printf("error = ||Y - Y64|| / ||Y64||: vs the unquantized layer, and vs the dequantized operands (GEMM only)\n\n");
  printf("| %-27s | %-10s | %-13s | %-13s |\n", "recipe", "path", "vs float", "vs dequant");
  printf("|-----------------------------|------------|---------------|---------------|\n");
  for (r = 0; r < (int)(sizeof recipes / sizeof recipes[0]); r++) {
    fp4_quant_config wc = fp4_config_default(fp4_rule_format(recipes[r].rule)), xc;
    qlinear l;
    fp4_tensor xq;
    fp4_status st;
    double e1, e2;
    wc.rule = recipes[r].rule;
    wc.hadamard = recipes[r].hadamard;
    if (recipes[r].rht16) {
      wc.hadamard_signs = FP4_SIGNS_USER;
      fp4_hadamard_signs_rht16(wc.hadamard_sign_bits);
    }
    xc = wc;                          /* activations: same format, rule and rotation ... */
    wc.scale_2d = recipes[r].w2d;     /* ... but 16x16 tile scales only for the weights */
    st = qlinear_init(&l, W, N, K, bias, &wc, &xc);
    /* the dequantized weights (rotated back) are what every path multiplies by */
    if (st == FP4_OK) st = fp4_dequantize_f32(&l.w, Wd, K);

    /* W4A4 */
    if (st == FP4_OK) st = qlinear_w4a4(&l, X, M, Y, &s, &xq);
    if (st == FP4_OK) st = fp4_dequantize_f32(&xq, Xd, K);
    /* the scalar reference must give the same bytes and the same W4A4 bits */
    if (st == FP4_OK) st = reference_check(&l, &xq, X, M, Y, &bad);
    if (st != FP4_OK) {
      printf("%s: %s\n", recipes[r].name, fp4_status_string(st));
      return 1;
    }
    /* in the rotated domain the dequantized operands multiply directly (H H^T = I) */
    gemm64(Xd, Wd, bias, M, N, K, refd);
    e1 = rel_err(Y, ref, M * N);
    e2 = rel_err(Y, refd, M * N);
    bad |= !(e2 <= 1e-5);
    printf("| %-27s | %-10s | %13.4e | %13.4e |\n", recipes[r].name, "W4A4", e1, e2);

    /* W4A16, f32 activations */
    if ((st = qlinear_w4a16_f32(&l, X, M, Y, &s)) != FP4_OK) {
      printf("%s: %s\n", recipes[r].name, fp4_status_string(st));
      return 1;
    }
    if (wc.hadamard) {
      gemm64(s.xrot, Wd, bias, M, N, K, refd);
    } else {
      gemm64(X, Wd, bias, M, N, K, refd);
    }
    e1 = rel_err(Y, ref, M * N);
    e2 = rel_err(Y, refd, M * N);
    bad |= !(e2 <= 1e-5);
    printf("| %-27s | %-10s | %13.4e | %13.4e |\n", recipes[r].name, "W4A16 f32", e1, e2);

    /* W4A16, bf16 activations (no rotation in this path: shown for the unrotated recipes) */
    if (!wc.hadamard) {
      if ((st = qlinear_w4a16_bf16(&l, Xbf, M, Y)) != FP4_OK) {
        printf("%s: %s\n", recipes[r].name, fp4_status_string(st));
        return 1;
      }
      e1 = rel_err(Y, ref, M * N);
      e2 = rel_err(Y, refd, M * N);
      bad |= !(e2 <= 1e-5);
      printf("| %-27s | %-10s | %13.4e | %13.4e |\n", recipes[r].name, "W4A16 bf16", e1, e2);
    }
    qlinear_free(&l);
  }
  printf("\n%s\n", bad ? "FAIL: see above, or a GEMM differs from the float64 product of its dequantized operands by more than 1e-5"
                       : "fp4_cpu.h gives fp4.h's bytes and W4A4 bits; every GEMM is within 1e-5 of the float64 product "
                         "of its dequantized operands");
  free(X);
  free(Xd);
  free(Xbf);
  free(W);
  free(Wd);
  free(bias);
  free(Y);
  free(ref);
  free(refd);
  free(s.xd);
  free(s.xs);
  free(s.xrot);
  return bad;
}
