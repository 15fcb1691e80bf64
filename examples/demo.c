/* SPDX-License-Identifier: MIT */
/*
 * demo.c - choose a recipe: quantize a heavy-tailed layer with every format and scale rule, with and
 * without a Hadamard rotation, and print the relative MSE of activations and weights and the error of
 * the W4A4 GEMM against a float64 GEMM of the unquantized operands.
 *
 * The data is built in: weights W[N,K] drawn from a Student-t distribution (nu = 4, heavy tails), and
 * activations X[M,K] from a Student-t with nu = 5 plus a few outlier channels (columns scaled by 30),
 * the pattern that makes LLM activations hard to quantize. The Hadamard rotation runs along K on both
 * operands with the same signs, so it cancels in the product; the MSE columns measure the error after
 * rotating back.
 *
 * Usage: demo [M N K]   (defaults 64 256 1024)
 */
#include "fp4.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static unsigned long long demo_state = 0x2545F4914F6CDD1Dull;
static double demo_uniform(void) {
  unsigned long long z = (demo_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return ((double)(z >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
static double demo_normal(void) {
  return sqrt(-2.0 * log(demo_uniform())) * cos(6.283185307179586 * demo_uniform());
}
/* Student-t with nu degrees of freedom: z / sqrt(chi2_nu / nu). */
static double demo_student_t(int nu) {
  double c = 0.0;
  int i;
  for (i = 0; i < nu; i++) {
    double z = demo_normal();
    c += z * z;
  }
  return demo_normal() / sqrt(c / nu);
}

typedef struct recipe {
  const char *name;
  fp4_rule rule;
  int hadamard;   /* 0, or the group size */
  int rht_signs;  /* Four Over Six's 16-point signs */
} recipe;

/* Quantize (rows x K) with the recipe; write the dequantized values, rotated back, into y. */
static fp4_status run_quant(const float *x, int64_t rows, int64_t K, const recipe *r, fp4_tensor *t, float *y) {
  fp4_quant_config cfg = fp4_config_default(fp4_rule_format(r->rule));
  fp4_status st;
  cfg.rule = r->rule;
  cfg.hadamard = r->hadamard;
  if (r->rht_signs) {
    cfg.hadamard_signs = FP4_SIGNS_USER;
    fp4_hadamard_signs_rht16(cfg.hadamard_sign_bits);
  }
  st = fp4_quantize_f32(x, rows, K, K, &cfg, t, NULL, 0);
  if (st != FP4_OK) return st;
  st = fp4_dequantize_f32(t, y, K);
  if (st == FP4_OK && r->hadamard)
    st = fp4_hadamard_f32(y, rows, K, K, y, K, r->hadamard, r->rht_signs ? cfg.hadamard_sign_bits : NULL, 1);
  return st;
}

static double rel_mse(const float *ref, const float *y, size_t n) {
  double e = 0.0, s = 0.0;
  size_t i;
  for (i = 0; i < n; i++) {
    double d = (double)y[i] - ref[i];
    e += d * d;
    s += (double)ref[i] * ref[i];
  }
  return e / s;
}

int main(int argc, char **argv) {
  int64_t M = 64, N = 256, K = 1024, i, j, k;
  static const recipe recipes[] = {
      {"MXFP4 OCP", FP4_MX_OCP, 0, 0},
      {"MXFP4 ceil (4/6 paper)", FP4_MX_CEIL, 0, 0},
      {"MXFP4 absmax/3 (QuTLASS)", FP4_MX_ABSMAX3, 0, 0},
      {"MXFP4 QuEST", FP4_MX_QUEST, 0, 0},
      {"MXFP4 adaptive", FP4_MX_ADAPTIVE, 0, 0},
      {"NVFP4 6 (standard)", FP4_NV_6, 0, 0},
      {"NVFP4 4", FP4_NV_4, 0, 0},
      {"NVFP4 4/6 MSE", FP4_NV_4OVER6_MSE, 0, 0},
      {"NVFP4 4/6 MAE", FP4_NV_4OVER6_MAE, 0, 0},
      {"NVFP4 4/6 max-abs", FP4_NV_4OVER6_MAXABS, 0, 0},
      {"MXFP4 OCP + H32", FP4_MX_OCP, 32, 0},
      {"MXFP4 ceil + H32", FP4_MX_CEIL, 32, 0},
      {"MXFP4 absmax/3 + H32", FP4_MX_ABSMAX3, 32, 0},
      {"MXFP4 QuEST + H32", FP4_MX_QUEST, 32, 0},
      {"MXFP4 QuEST + H128", FP4_MX_QUEST, 128, 0},
      {"MXFP4 adaptive + H32", FP4_MX_ADAPTIVE, 32, 0},
      {"NVFP4 6 + RHT16", FP4_NV_6, 16, 1},
      {"NVFP4 4/6 MSE + RHT16", FP4_NV_4OVER6_MSE, 16, 1},
      {"NVFP4 4/6 MSE + H128", FP4_NV_4OVER6_MSE, 128, 0},
  };
  const int nrec = (int)(sizeof recipes / sizeof recipes[0]);
  float *X, *W, *Xq, *Wq, *C;
  double *ref, refn = 0.0;
  uint8_t *xd, *xs, *wd, *ws;
  clock_t t0 = clock();
  if (argc == 4) {
    M = atol(argv[1]);
    N = atol(argv[2]);
    K = atol(argv[3]);
  }
  if (M <= 0 || N <= 0 || K <= 0 || K % 256) {
    fprintf(stderr, "usage: demo [M N K] with K a multiple of 256\n");
    return 2;
  }
  X = (float *)malloc(sizeof(float) * (size_t)(M * K));
  W = (float *)malloc(sizeof(float) * (size_t)(N * K));
  Xq = (float *)malloc(sizeof(float) * (size_t)(M * K));
  Wq = (float *)malloc(sizeof(float) * (size_t)(N * K));
  C = (float *)malloc(sizeof(float) * (size_t)(M * N));
  ref = (double *)malloc(sizeof(double) * (size_t)(M * N));
  xd = (uint8_t *)malloc(fp4_data_bytes(M, K));
  wd = (uint8_t *)malloc(fp4_data_bytes(N, K));
  xs = (uint8_t *)malloc(fp4_scale_bytes(FP4_NVFP4, M, K, FP4_LAYOUT_LINEAR));
  ws = (uint8_t *)malloc(fp4_scale_bytes(FP4_NVFP4, N, K, FP4_LAYOUT_LINEAR));
  if (!X || !W || !Xq || !Wq || !C || !ref || !xd || !wd || !xs || !ws) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }
  for (i = 0; i < N * K; i++) W[i] = (float)(0.02 * demo_student_t(4));
  for (i = 0; i < M; i++)
    for (k = 0; k < K; k++) {
      double v = demo_student_t(5);
      if (k % 97 == 13) v *= 30.0; /* outlier channels */
      X[i * K + k] = (float)v;
    }
  for (i = 0; i < M; i++)
    for (j = 0; j < N; j++) {
      double s = 0.0;
      for (k = 0; k < K; k++) s += (double)X[i * K + k] * W[j * K + k];
      ref[i * N + j] = s;
      refn += s * s;
    }

  printf("fp4 %s demo: X[%lld,%lld] Student-t(5) with outlier channels, W[%lld,%lld] Student-t(4)\n",
         FP4_VERSION_STRING, (long long)M, (long long)K, (long long)N, (long long)K);
  printf("relative MSE = sum (x^ - x)^2 / sum x^2 (after rotating back); GEMM error = ||C - C64|| / ||C64||\n\n");
  printf("| %-26s | %-12s | %-12s | %-12s |\n", "recipe", "rel MSE X", "rel MSE W", "W4A4 GEMM err");
  printf("|%s|%s|%s|%s|\n", "----------------------------", "--------------", "--------------", "----------------");
  for (i = 0; i < nrec; i++) {
    const recipe *r = &recipes[i];
    fp4_tensor tx, tw;
    fp4_status st;
    double e = 0.0;
    fp4_tensor_init(&tx, xd, xs, FP4_LAYOUT_LINEAR);
    fp4_tensor_init(&tw, wd, ws, FP4_LAYOUT_LINEAR);
    st = run_quant(X, M, K, r, &tx, Xq);
    if (st == FP4_OK) st = run_quant(W, N, K, r, &tw, Wq);
    if (st == FP4_OK) st = fp4_gemm_w4a4_f32(&tx, &tw, 1.0f, 0.0f, C, N, NULL, 0);
    if (st != FP4_OK) {
      printf("| %-26s | error: %s\n", r->name, fp4_status_string(st));
      return 1;
    }
    for (j = 0; j < M * N; j++) e += (C[j] - ref[j]) * (C[j] - ref[j]);
    printf("| %-26s | %12.4e | %12.4e | %14.4e |\n", r->name, rel_mse(X, Xq, (size_t)(M * K)),
           rel_mse(W, Wq, (size_t)(N * K)), sqrt(e / refn));
  }
  printf("\n(%.2f s)\n", (double)(clock() - t0) / CLOCKS_PER_SEC);
  free(X);
  free(W);
  free(Xq);
  free(Wq);
  free(C);
  free(ref);
  free(xd);
  free(xs);
  free(wd);
  free(ws);
  return 0;
}
