/* SPDX-License-Identifier: MIT */
/* CUDA benchmarks (PERF.md): quantize bandwidth against a device-to-device cudaMemcpy, and the W4A16
 * decode GEMV against cuBLAS BF16 (cublasGemmEx), both baselines measured in the same run. CUDA
 * events, warm-up, median of many runs, buffers rotated beyond the L2, random (non-zero) data.
 * Usage: bench_cuda [quant|gemv|all] [once]   ("once": one run per kernel, no warm-up: for a profiler;
 * "gemv" measures the copy baseline alone, then the GEMV) */
#include "fp4_cuda.cuh"
#include <cublas_v2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CK(call)                                                                                   \
  do {                                                                                             \
    cudaError_t e_ = (call);                                                                       \
    if (e_ != cudaSuccess) {                                                                       \
      fprintf(stderr, "%s:%d: CUDA error %s\n", __FILE__, __LINE__, cudaGetErrorString(e_));       \
      exit(2);                                                                                     \
    }                                                                                              \
  } while (0)
#define CF(call)                                                                                   \
  do {                                                                                             \
    fp4_status s_ = (call);                                                                        \
    if (s_ != FP4_OK) {                                                                            \
      fprintf(stderr, "%s:%d: fp4 error %s\n", __FILE__, __LINE__, fp4_status_string(s_));         \
      exit(2);                                                                                     \
    }                                                                                              \
  } while (0)
#define CB(call)                                                                                   \
  do {                                                                                             \
    cublasStatus_t s_ = (call);                                                                    \
    if (s_ != CUBLAS_STATUS_SUCCESS) {                                                             \
      fprintf(stderr, "%s:%d: cuBLAS error %d\n", __FILE__, __LINE__, (int)s_);                   \
      exit(2);                                                                                     \
    }                                                                                              \
  } while (0)

static int cmpf(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return x < y ? -1 : x > y;
}

static int once; /* profiler mode: no warm-up, one run */

/* Median time in microseconds of fn(i) over reps runs (each timed alone with events), after warm-up. */
template <class F> static float time_us(F fn, int warm, int reps) {
  if (once) {
    warm = 0;
    reps = 1;
  }
  cudaEvent_t *ev = (cudaEvent_t *)malloc(sizeof(cudaEvent_t) * 2 * reps);
  float *t = (float *)malloc(sizeof(float) * reps), med;
  for (int i = 0; i < warm; i++) fn(i);
  CK(cudaGetLastError());
  for (int i = 0; i < 2 * reps; i++) CK(cudaEventCreate(&ev[i]));
  for (int i = 0; i < reps; i++) {
    CK(cudaEventRecord(ev[2 * i]));
    fn(warm + i);
    CK(cudaEventRecord(ev[2 * i + 1]));
  }
  CK(cudaEventSynchronize(ev[2 * reps - 1]));
  CK(cudaGetLastError());
  for (int i = 0; i < reps; i++) {
    CK(cudaEventElapsedTime(&t[i], ev[2 * i], ev[2 * i + 1]));
    t[i] *= 1000.0f;
  }
  qsort(t, (size_t)reps, sizeof(float), cmpf);
  med = t[reps / 2];
  for (int i = 0; i < 2 * reps; i++) CK(cudaEventDestroy(ev[i]));
  free(ev);
  free(t);
  return med;
}

/* Fill n bf16 values with N(0, 1)-ish random numbers on the device (a quick hash, not zeros). */
static __global__ void fill_bf16(uint16_t *p, size_t n, uint32_t seed) {
  size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  for (; i < n; i += (size_t)gridDim.x * blockDim.x) {
    uint32_t w[4];
    fp4_philox4x32_10(seed, i, w);
    float u = ((float)(w[0] >> 8) + 0.5f) * (1.0f / 16777216.0f), v = (float)(w[1] >> 8) * (1.0f / 16777216.0f);
    float g = sqrtf(-2.0f * logf(u)) * cospif(2.0f * v);
    p[i] = fp4_f32_to_bf16(g * (1.0f + (float)(w[2] & 7)));
  }
}

static double copy_gbs;

/* The copy baseline: a device-to-device cudaMemcpy of xb bytes, x -> y; sets copy_gbs, returns us. */
static float time_copy(const void *x, void *y, size_t xb) {
  float tc = time_us([&](int) { CK(cudaMemcpyAsync(y, x, xb, cudaMemcpyDeviceToDevice, 0)); }, 5, 30);
  copy_gbs = 2.0 * (double)xb / (tc * 1e3);
  return tc;
}

static void bench_quant(void) {
  const int64_t rows = 8192, cols = 16384; /* 256 MiB of bf16 */
  const size_t n = (size_t)(rows * cols), xb = n * 2;
  uint16_t *x;
  void *y, *ws;
  uint8_t *q, *s;
  CK(cudaMalloc(&x, xb));
  CK(cudaMalloc(&y, xb));
  CK(cudaMalloc(&q, n / 2));
  CK(cudaMalloc(&s, n / 16 + 4096));
  CK(cudaMalloc(&ws, FP4_CUDA_QUANTIZE_WS));
  fill_bf16<<<4096, 256>>>(x, n, 1234);
  CK(cudaDeviceSynchronize());
  float tc = time_copy(x, y, xb);
  printf("\n## quantize, bf16 input %lld x %lld (%.0f MiB), H100 (one buffer of 5x the L2)\n", (long long)rows,
         (long long)cols, xb / 1048576.0);
  printf("device-to-device cudaMemcpy: %.1f us, %.0f GB/s (read + write)\n\n", tc, copy_gbs);
  printf("| config | us | GB/s (read + write) | of copy |\n|---|---|---|---|\n");
  struct {
    const char *name;
    fp4_format f;
    fp4_rule r;
    int had, has_amax, sr, layout, transpose, two_d;
  } cs[] = {
      {"MXFP4 OCP", FP4_MXFP4, FP4_MX_OCP, 0, 0, 0, 0, 0, 0},
      {"MXFP4 OCP, swizzled scales", FP4_MXFP4, FP4_MX_OCP, 0, 0, 0, 1, 0, 0},
      {"MXFP4 CEIL", FP4_MXFP4, FP4_MX_CEIL, 0, 0, 0, 0, 0, 0},
      {"MXFP4 ABSMAX3", FP4_MXFP4, FP4_MX_ABSMAX3, 0, 0, 0, 0, 0, 0},
      {"MXFP4 QUEST + Hadamard 128", FP4_MXFP4, FP4_MX_QUEST, 128, 0, 0, 0, 0, 0},
      {"MXFP4 ADAPTIVE", FP4_MXFP4, FP4_MX_ADAPTIVE, 0, 0, 0, 0, 0, 0},
      {"MXFP4 OCP + Hadamard 32", FP4_MXFP4, FP4_MX_OCP, 32, 0, 0, 0, 0, 0},
      {"MXFP4 OCP + Hadamard 128", FP4_MXFP4, FP4_MX_OCP, 128, 0, 0, 0, 0, 0},
      {"NVFP4 NV_6, given amax", FP4_NVFP4, FP4_NV_6, 0, 1, 0, 0, 0, 0},
      {"NVFP4 NV_6, amax computed (2 passes)", FP4_NVFP4, FP4_NV_6, 0, 0, 0, 0, 0, 0},
      {"NVFP4 4/6 MSE, given amax", FP4_NVFP4, FP4_NV_4OVER6_MSE, 0, 1, 0, 0, 0, 0},
      {"NVFP4 4/6 MSE, amax computed (2 passes)", FP4_NVFP4, FP4_NV_4OVER6_MSE, 0, 0, 0, 0, 0, 0},
      {"NVFP4 4/6 MSE + RHT 16, given amax", FP4_NVFP4, FP4_NV_4OVER6_MSE, 16, 1, 0, 0, 0, 0},
      {"NVFP4 NV_6 + Hadamard 128, given amax", FP4_NVFP4, FP4_NV_6, 128, 1, 0, 0, 0, 0},
      {"NVFP4 4/6 MSE + Hadamard 128, amax computed", FP4_NVFP4, FP4_NV_4OVER6_MSE, 128, 0, 0, 0, 0, 0},
      {"NVFP4 NV_6 stochastic rounding, given amax", FP4_NVFP4, FP4_NV_6, 0, 1, 1, 0, 0, 0},
      {"NVFP4 NV_6 transposed, given amax", FP4_NVFP4, FP4_NV_6, 0, 1, 0, 0, 1, 0},
      {"NVFP4 4/6 MSE 2D, given amax", FP4_NVFP4, FP4_NV_4OVER6_MSE, 0, 1, 0, 0, 0, 1},
  };
  for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
    fp4_quant_config cfg = fp4_config_default(cs[i].f);
    fp4_tensor t;
    cfg.rule = cs[i].r;
    cfg.hadamard = cs[i].had;
    cfg.hadamard_signs = cs[i].had == 16 ? FP4_SIGNS_RANDOM : FP4_SIGNS_NONE;
    cfg.hadamard_bf16 = cs[i].had == 16;
    cfg.has_amax = cs[i].has_amax;
    cfg.amax = 30.0f;
    cfg.rounding = cs[i].sr ? FP4_ROUND_STOCHASTIC : FP4_ROUND_NEAREST;
    cfg.transpose = cs[i].transpose;
    cfg.scale_2d = cs[i].two_d;
    cfg.seed = 42;
    fp4_tensor_init(&t, q, s, (fp4_layout)cs[i].layout);
    double bytes = (double)xb + n / 2 + n / fp4_format_block(cs[i].f);
    float tq = time_us([&](int) { CF(fp4_cuda_quantize_bf16(x, rows, cols, cols, &cfg, &t, ws, FP4_CUDA_QUANTIZE_WS, 0)); },
                       3, cs[i].two_d || cs[i].transpose ? 5 : 20);
    fp4_status st = fp4_cuda_quantize_result(&t, ws, 0);
    double gbs = bytes / (tq * 1e3);
    printf("| %s | %.1f | %.0f | %.0f%% |%s\n", cs[i].name, tq, gbs, 100.0 * gbs / copy_gbs,
           st == FP4_OK ? "" : " (status not ok)");
  }
  CK(cudaFree(x));
  CK(cudaFree(y));
  CK(cudaFree(q));
  CK(cudaFree(s));
  CK(cudaFree(ws));
}

/* Copy baseline alone (for a GEMV-only run): device-to-device cudaMemcpy of 256 MiB. */
static void bench_copy(void) {
  const size_t xb = (size_t)256 << 20;
  void *x, *y;
  CK(cudaMalloc(&x, xb));
  CK(cudaMalloc(&y, xb));
  fill_bf16<<<4096, 256>>>((uint16_t *)x, xb / 2, 1234);
  CK(cudaDeviceSynchronize());
  float tc = time_copy(x, y, xb);
  printf("device-to-device cudaMemcpy of 256 MiB: %.1f us, %.0f GB/s (read + write)\n", tc, copy_gbs);
  CK(cudaFree(x));
  CK(cudaFree(y));
}

static void bench_gemv(void) {
  cublasHandle_t h;
  const int64_t shapes[3][2] = {{8192, 8192}, {28672, 8192}, {8192, 28672}};
  const int Ms[3] = {1, 4, 16};
  CB(cublasCreate(&h));
  printf("\n## W4A16 decode GEMV, bf16 activations and output, vs cuBLAS BF16 (cublasGemmEx)\n");
  printf("kernel: tensor cores, %d warps x 16 rows per CTA, %d K steps in flight, >= %d CTAs per SM "
         "(M = 1 NVFP4: CUDA cores, %d rows per warp)\n",
         FP4__GEMV_WARPS, FP4__GEMV_U, FP4__GEMV_MINB, FP4__GEMV1_R);
  printf("weight buffers rotated (> 2x the 50 MB L2 per set); TB/s counts weight data + scale bytes\n\n");
  printf("| M | N x K | cuBLAS BF16 us | NVFP4 us | x cuBLAS | TB/s | of copy | MXFP4 us | x cuBLAS | TB/s | of copy |\n");
  printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (int si = 0; si < 3; si++) {
    int64_t N = shapes[si][0], K = shapes[si][1];
    size_t wb16 = (size_t)(N * K) * 2;
    int nb16 = wb16 >= (size_t)256 << 20 ? 2 : 3;
    int nq = (int)((size_t)(300u << 20) / ((size_t)(N * K) / 2)) + 1;
    uint16_t *w16[3], *a, *c;
    uint8_t *qd[16][2], *qs[16][2];
    fp4_tensor tq[16][2];
    void *ws = NULL, *qws;
    size_t wsb = 0;
    if (nq > 16) nq = 16;
    for (int i = 0; i < nb16; i++) {
      CK(cudaMalloc(&w16[i], wb16));
      fill_bf16<<<4096, 256>>>(w16[i], (size_t)(N * K), 7 + i);
    }
    CK(cudaMalloc(&a, (size_t)(16 * K) * 2));
    CK(cudaMalloc(&c, (size_t)(16 * N) * 2));
    CK(cudaMalloc(&qws, FP4_CUDA_QUANTIZE_WS));
    fill_bf16<<<256, 256>>>(a, (size_t)(16 * K), 99);
    for (int i = 0; i < nq; i++)
      for (int f = 0; f < 2; f++) {
        fp4_format fm = f ? FP4_MXFP4 : FP4_NVFP4;
        fp4_quant_config cfg = fp4_config_default(fm);
        CK(cudaMalloc(&qd[i][f], (size_t)(N * K) / 2));
        CK(cudaMalloc(&qs[i][f], (size_t)(N * K) / 16));
        fp4_tensor_init(&tq[i][f], qd[i][f], qs[i][f], FP4_LAYOUT_LINEAR);
        CF(fp4_cuda_quantize_bf16(w16[i % nb16], N, K, K, &cfg, &tq[i][f], qws, FP4_CUDA_QUANTIZE_WS, 0));
        CF(fp4_cuda_quantize_result(&tq[i][f], qws, 0));
      }
    for (int mi = 0; mi < 3; mi++) {
      size_t need = fp4_cuda_gemv_workspace_size(Ms[mi], N, K);
      if (need > wsb) {
        if (ws) CK(cudaFree(ws));
        CK(cudaMalloc(&ws, need));
        wsb = need;
      }
    }
    for (int mi = 0; mi < 3; mi++) {
      int M = Ms[mi];
      float one = 1.0f, zero = 0.0f, tf[2];
      float tb = time_us(
          [&](int i) {
            CB(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)N, M, (int)K, &one, w16[i % nb16], CUDA_R_16BF, (int)K, a,
                            CUDA_R_16BF, (int)K, &zero, c, CUDA_R_16BF, (int)N, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
          },
          10, 60);
      for (int f = 0; f < 2; f++)
        tf[f] = time_us(
            [&](int i) {
              CF(fp4_cuda_gemv_w4a16_bf16_bf16(a, M, K, &tq[i % nq][f], 1.0f, 0.0f, c, N, ws, wsb, 0));
            },
            10, 100);
      double bnv = (double)(N * K) / 2 + (double)(N * K) / 16, bmx = (double)(N * K) / 2 + (double)(N * K) / 32;
      printf("| %d | %lldx%lld | %.1f | %.1f | %.2f | %.2f | %.0f%% | %.1f | %.2f | %.2f | %.0f%% |\n", M, (long long)N,
             (long long)K, tb, tf[0], tb / tf[0], bnv / (tf[0] * 1e6), 100.0 * bnv / (tf[0] * 1e3) / copy_gbs, tf[1],
             tb / tf[1], bmx / (tf[1] * 1e6), 100.0 * bmx / (tf[1] * 1e3) / copy_gbs);
    }
    for (int i = 0; i < nb16; i++) CK(cudaFree(w16[i]));
    for (int i = 0; i < nq; i++)
      for (int f = 0; f < 2; f++) {
        CK(cudaFree(qd[i][f]));
        CK(cudaFree(qs[i][f]));
      }
    CK(cudaFree(a));
    CK(cudaFree(c));
    CK(cudaFree(qws));
    if (ws) CK(cudaFree(ws));
  }
  CB(cublasDestroy(h));
}

int main(int argc, char **argv) {
  const char *what = argc > 1 ? argv[1] : "all";
  once = argc > 2 && !strcmp(argv[2], "once");
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  printf("device: %s, %d SMs, L2 %d MB\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20);
  if (!strcmp(what, "quant") || !strcmp(what, "all")) bench_quant(); /* measures the copy baseline too */
  if (!strcmp(what, "gemv")) bench_copy();
  if (!strcmp(what, "gemv") || !strcmp(what, "all")) bench_gemv();
  return 0;
}
