/* SPDX-License-Identifier: MIT */
/* fp4_cpu.h beside ggml's CPU MXFP4 kernels, one thread, same process, same data (PERF.md "Peers in
 * the same run"). Built and run by bench/peers/ggml.sh against a ggml checkout; not part of `make`.
 *
 *   quantize  f32 -> MXFP4, 64 MiB: ggml's from_float (quantize_row_mxfp4) against fp4_cpu_quantize_f32
 *             (FP4_MX_OCP) and fp4.h's scalar reference; GB/s of input read; and how many blocks of the
 *             two libraries carry the same scale and codes (ggml stores element j and j + 16 in byte j,
 *             fp4 elements 2j and 2j + 1: compared after reordering), telling apart codes that differ only
 *             in the sign of a zero.
 *   GEMV      y = W . x, W 8192 x 8192 MXFP4: ggml's vec_dot_mxfp4_q8_0 per row (x quantized to Q8_0
 *             inside the timed call, as ggml's mul_mat does) against fp4_cpu_gemm_w4a16_f32_f32 (f32 x)
 *             and the W4A4 GEMM at M = 1 (x quantized to MXFP4 inside the timed call); GB/s of weight bytes.
 *   GEMM      1024^3: ggml's vec_dot over every (row, column) pair (Q8_0 activations) against
 *             fp4_cpu_gemm_w4a4_f32 (both operands MXFP4, with its workspace); GFLOP/s as 2*M*N*K / time.
 * Every result is also compared with a float64 product of the unquantized inputs (relative Frobenius
 * error), since the two libraries quantize the activations differently (Q8_0 vs FP4). */
#include "fp4_cpu.h"
#include "ggml.h"
#include "ggml-cpu.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench/bench_time.h"

#define REPS 7
typedef void (*work_fn)(void *);
/* median of REPS timed runs after one warm-up */
static double timed(work_fn f, void *arg) {
  double t[REPS + 1];
  int r;
  for (r = 0; r <= REPS; r++) {
    double t0 = now();
    f(arg);
    t[r] = now() - t0;
  }
  qsort(t + 1, REPS, sizeof *t, cmpd);
  return t[1 + REPS / 2];
}
static uint64_t rs = 88172645463325252ull;
static float nrand(void) {
  double u, v;
  rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
  u = ((double)(rs >> 11) + 0.5) * (1.0 / 9007199254740992.0);
  rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
  v = (double)(rs >> 11) * (1.0 / 9007199254740992.0);
  return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}
static void *xmalloc(size_t n) {
  void *p = malloc(n);
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  return p;
}
static void fp4_ok(fp4_status s, const char *what) {
  if (s != FP4_OK) {
    fprintf(stderr, "%s: %s\n", what, fp4_status_string(s));
    exit(1);
  }
}
static double rel_err(const float *y, const double *ref, size_t n) {
  double num = 0, den = 0;
  size_t i;
  for (i = 0; i < n; i++) num += (y[i] - ref[i]) * (y[i] - ref[i]), den += ref[i] * ref[i];
  return sqrt(num / den);
}

/* ---- the work items ---- */
typedef struct job {
  const struct ggml_type_traits_cpu *mx, *q8;
  const float *x, *a;       /* quantize input / activations */
  int64_t rows, cols, M, N, K;
  void *gq, *gw, *gx;       /* ggml: quantized output, weights (MXFP4), activations (Q8_0) */
  size_t gw_row, gx_row;    /* bytes per row */
  fp4_quant_config cfg;
  fp4_tensor t, w, ta;      /* fp4: quantize output, weights, activations */
  void *ws;                 /* fp4_cpu_gemm_workspace_size bytes for the W4A4 GEMM */
  size_t ws_bytes;
  float *y;
} job;

static void ggml_quantize(void *p) {
  job *j = (job *)p;
  int64_t r;
  for (r = 0; r < j->rows; r++)
    j->mx->from_float(j->x + r * j->cols, (char *)j->gq + (size_t)r * j->gw_row, j->cols);
}
static void fp4_cpu_quantize(void *p) {
  job *j = (job *)p;
  fp4_ok(fp4_cpu_quantize_f32(j->x, j->rows, j->cols, j->cols, &j->cfg, &j->t, NULL, 0), "fp4_cpu_quantize_f32");
}
static void fp4_scalar_quantize(void *p) {
  job *j = (job *)p;
  fp4_ok(fp4_quantize_f32(j->x, j->rows, j->cols, j->cols, &j->cfg, &j->t, NULL, 0), "fp4_quantize_f32");
}
/* C[m, n] = A[m, :] . W[n, :] with ggml's dot product; the activations are quantized to Q8_0 first */
static void ggml_matmul(void *p) {
  job *j = (job *)p;
  int64_t m, n;
  for (m = 0; m < j->M; m++) j->q8->from_float(j->a + m * j->K, (char *)j->gx + (size_t)m * j->gx_row, j->K);
  for (m = 0; m < j->M; m++)
    for (n = 0; n < j->N; n++)
      j->mx->vec_dot((int)j->K, &j->y[m * j->N + n], 0, (const char *)j->gw + (size_t)n * j->gw_row, 0,
                     (const char *)j->gx + (size_t)m * j->gx_row, 0, 1);
}
static void fp4_w4a16(void *p) {
  job *j = (job *)p;
  fp4_ok(fp4_cpu_gemm_w4a16_f32_f32(j->a, j->M, j->K, &j->w, 1.0f, 0.0f, j->y, j->N, NULL, 0), "w4a16");
}
static void fp4_w4a4(void *p) {
  job *j = (job *)p;
  fp4_ok(fp4_cpu_quantize_f32(j->a, j->M, j->K, j->K, &j->cfg, &j->ta, NULL, 0), "quantize activations");
  fp4_ok(fp4_cpu_gemm_w4a4_f32(&j->ta, &j->w, 1.0f, 0.0f, j->y, j->N, j->ws, j->ws_bytes), "w4a4");
}

/* float64 reference C = A . W^T on the unquantized inputs */
static void reference(const float *A, const float *W, int64_t M, int64_t N, int64_t K, double *C) {
  int64_t m, n, k;
  for (m = 0; m < M; m++)
    for (n = 0; n < N; n++) {
      double s = 0;
      for (k = 0; k < K; k++) s += (double)A[m * K + k] * W[n * K + k];
      C[m * N + n] = s;
    }
}

/* ggml block (e, qs[16]: elements j | j + 16 << 4) against fp4's (scale byte; codes 2j | 2j + 1 << 4) */
static void compare_bytes(const job *j) {
  const int64_t nb = j->rows * j->cols / 32;
  int64_t b, same_blocks = 0, diff_scales = 0, diff_codes = 0, signed_zero = 0;
  for (b = 0; b < nb; b++) {
    const uint8_t *g = (const uint8_t *)j->gq + b * 17;
    const uint8_t *q = j->t.data + b * 16;
    int e, diff = 0;
    if (g[0] != j->t.scales[b]) diff_scales++, diff = 1;
    for (e = 0; e < 32; e++) {
      int cg = e < 16 ? g[1 + e] & 15 : g[1 + e - 16] >> 4;
      int cq = e & 1 ? q[e / 2] >> 4 : q[e / 2] & 15;
      if (cg == cq) continue;
      diff = 1;
      if ((cg | cq) == 8 && !(cg & cq)) signed_zero++; /* one +0 (0x0), the other -0 (0x8) */
      else diff_codes++;
    }
    same_blocks += !diff;
  }
  printf("  bytes: %lld of %lld blocks identical; %lld scales differ; of %lld element codes %lld differ only in\n"
         "  the sign of zero (spec: small negatives give 0x8, ggml writes 0x0) and %lld otherwise\n",
         (long long)same_blocks, (long long)nb, (long long)diff_scales, (long long)(nb * 32), (long long)signed_zero,
         (long long)diff_codes);
}

int main(void) {
  job j;
  float *w;
  double *ref, t;
  int64_t i;
  memset(&j, 0, sizeof j);
  ggml_cpu_init();
  j.mx = ggml_get_type_traits_cpu(GGML_TYPE_MXFP4);
  j.q8 = ggml_get_type_traits_cpu(GGML_TYPE_Q8_0);
  if (!j.mx || !j.mx->from_float || !j.mx->vec_dot || j.mx->vec_dot_type != GGML_TYPE_Q8_0) {
    fprintf(stderr, "this ggml has no CPU MXFP4 x Q8_0 kernels\n");
    return 1;
  }
  j.cfg = fp4_config_default(FP4_MXFP4);
  j.cfg.rule = FP4_MX_OCP;
  printf("fp4 %s (fp4_cpu path %s) beside ggml %s, 1 thread\n", FP4_VERSION_STRING,
         fp4_cpu_isa_name(FP4_CPU_FORCE_ISA), ggml_version());

  /* quantize: 64 MiB of f32, rows of 4096 */
  j.rows = 4096, j.cols = 4096;
  {
    float *x = (float *)xmalloc((size_t)(j.rows * j.cols) * 4);
    const double gb = (double)(j.rows * j.cols) * 4 / 1e9;
    for (i = 0; i < j.rows * j.cols; i++) x[i] = nrand();
    j.x = x;
    j.gw_row = ggml_row_size(GGML_TYPE_MXFP4, j.cols);
    j.gq = xmalloc(j.gw_row * (size_t)j.rows);
    j.t.data = (uint8_t *)xmalloc(fp4_data_bytes(j.rows, j.cols));
    j.t.scales = (uint8_t *)xmalloc(fp4_scale_bytes(FP4_MXFP4, j.rows, j.cols, FP4_LAYOUT_LINEAR));
    printf("quantize f32 -> MXFP4, %lld x %lld (64 MiB)\n", (long long)j.rows, (long long)j.cols);
    t = timed(ggml_quantize, &j);
    printf("  %-44s %8.2f ms %7.2f GB/s\n", "ggml quantize_row_mxfp4", t * 1e3, gb / t);
    t = timed(fp4_scalar_quantize, &j);
    printf("  %-44s %8.2f ms %7.2f GB/s\n", "fp4.h fp4_quantize_f32 (scalar reference)", t * 1e3, gb / t);
    t = timed(fp4_cpu_quantize, &j);
    printf("  %-44s %8.2f ms %7.2f GB/s\n", "fp4_cpu.h fp4_cpu_quantize_f32", t * 1e3, gb / t);
    compare_bytes(&j);
    free(x), free(j.gq), free(j.t.data), free(j.t.scales);
  }

  /* GEMV (M = 1, 8192 x 8192) and GEMM (1024^3) */
  {
    static const int64_t shapes[2][3] = {{1, 8192, 8192}, {1024, 1024, 1024}};
    int s;
    for (s = 0; s < 2; s++) {
      float *a, *y;
      double wbytes, flops;
      j.M = shapes[s][0], j.N = shapes[s][1], j.K = shapes[s][2];
      a = (float *)xmalloc((size_t)(j.M * j.K) * 4);
      w = (float *)xmalloc((size_t)(j.N * j.K) * 4);
      y = (float *)xmalloc((size_t)(j.M * j.N) * 4);
      ref = (double *)xmalloc((size_t)(j.M * j.N) * 8);
      for (i = 0; i < j.M * j.K; i++) a[i] = nrand();
      for (i = 0; i < j.N * j.K; i++) w[i] = 0.02f * nrand();
      reference(a, w, j.M, j.N, j.K, ref);
      j.a = a, j.y = y;
      j.gw_row = ggml_row_size(GGML_TYPE_MXFP4, j.K);
      j.gx_row = ggml_row_size(GGML_TYPE_Q8_0, j.K);
      j.gw = xmalloc(j.gw_row * (size_t)j.N);
      j.gx = xmalloc(j.gx_row * (size_t)j.M);
      for (i = 0; i < j.N; i++) j.mx->from_float(w + i * j.K, (char *)j.gw + (size_t)i * j.gw_row, j.K);
      j.w.data = (uint8_t *)xmalloc(fp4_data_bytes(j.N, j.K));
      j.w.scales = (uint8_t *)xmalloc(fp4_scale_bytes(FP4_MXFP4, j.N, j.K, FP4_LAYOUT_LINEAR));
      j.ta.data = (uint8_t *)xmalloc(fp4_data_bytes(j.M, j.K));
      j.ta.scales = (uint8_t *)xmalloc(fp4_scale_bytes(FP4_MXFP4, j.M, j.K, FP4_LAYOUT_LINEAR));
      fp4_ok(fp4_cpu_quantize_f32(w, j.N, j.K, j.K, &j.cfg, &j.w, NULL, 0), "quantize weights");
      j.ws_bytes = fp4_cpu_gemm_workspace_size(j.M, j.N, j.K);
      j.ws = j.ws_bytes ? xmalloc(j.ws_bytes) : NULL;
      wbytes = (double)(fp4_data_bytes(j.N, j.K) + fp4_scale_bytes(FP4_MXFP4, j.N, j.K, FP4_LAYOUT_LINEAR)) / 1e9;
      flops = 2.0 * (double)j.M * (double)j.N * (double)j.K / 1e9;
      printf("%s M=%lld N=%lld K=%lld (MXFP4 weights %.1f MB)\n", j.M == 1 ? "GEMV" : "GEMM", (long long)j.M,
             (long long)j.N, (long long)j.K, wbytes * 1e3);
      t = timed(ggml_matmul, &j);
      printf("  %-44s %8.3f ms %7.2f GB/s %8.1f GFLOP/s  err %.3e\n", "ggml vec_dot_mxfp4_q8_0 (Q8_0 activations)",
             t * 1e3, wbytes / t, flops / t, rel_err(y, ref, (size_t)(j.M * j.N)));
      if (j.M == 1) {
        t = timed(fp4_w4a16, &j);
        printf("  %-44s %8.3f ms %7.2f GB/s %8.1f GFLOP/s  err %.3e\n", "fp4_cpu_gemm_w4a16_f32_f32 (f32 act.)",
               t * 1e3, wbytes / t, flops / t, rel_err(y, ref, (size_t)(j.M * j.N)));
      }
      t = timed(fp4_w4a4, &j);
      printf("  %-44s %8.3f ms %7.2f GB/s %8.1f GFLOP/s  err %.3e\n", "fp4_cpu W4A4 (MXFP4 act., incl. quantize)",
             t * 1e3, wbytes / t, flops / t, rel_err(y, ref, (size_t)(j.M * j.N)));
      free(a), free(w), free(y), free(ref), free(j.gw), free(j.gx);
      free(j.w.data), free(j.w.scales), free(j.ta.data), free(j.ta.scales), free(j.ws);
    }
  }
  return 0;
}
