/* SPDX-License-Identifier: MIT */
/* Benchmark of the CUDA GEMMs against cuBLAS in the same run (PERF.md):
 *   W4A4 (reproducible and _fast, MXFP4 and NVFP4, bf16 output; on Hopper also the exact MXFP4 FP8 wgmma
 *   kernel with the workspace, automatic and by width) vs cuBLAS BF16 (cublasGemmEx) and FP8 E4M3
 *   (cublasLt, bf16 output): M = N = K = 4096 and 8192, and prefill shapes M = 128..2048 with
 *   N x K = 8192x8192, 28672x8192, 8192x28672;
 *   W4A16 (bf16 activations, MXFP4 / NVFP4 weights, bf16 output) vs cuBLAS BF16 at M = 1 .. 8192: the
 *   automatic choice, and for M > 1 also the mma.sync kernel and the Hopper wgmma tiles by name (with the
 *   workspace of fp4_cuda_gemm_workspace_size, which enables split-K; "_nows": without it).
 * Inputs are random (never zeros); each operand rotates among enough buffers to exceed the L2 several
 * times; every launch is timed with CUDA events after warm-up, and the median is reported.
 * On Hopper the two W4A4 _fast paths also run by name (both operands prepared, "fast_ss_*", with its error
 * against float64 on sampled outputs; A in bf16 with register-decoded weights, "fast_rs_256").
 * Usage: bench_cuda_gemm [quick|w4a4|w4a4all|shape M N K|ss M N K|exact M N K]   ("quick": fewer shapes;
 * "w4a4": the quick W4A4 shapes only; "w4a4all": every W4A4 shape only; "shape": one W4A4 shape; "ss": two
 * calls of the SS path per format, "exact": two of the exact MXFP4 one with the workspace, for a profiler).
 * Prints one table row per kernel and shape; weight_GB/s is the weight operand's bytes (FP4 codes + scales;
 * bf16 / fp8 for cuBLAS) over the time. */
// FP4_TEST_FLAGS: -lcublasLt
#include "fp4.h"
#include "fp4_cuda.cuh" /* the whole header: W4A16 at M <= 16 hands over to its decode GEMV */

#include <cublasLt.h>
#include <cublas_v2.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#define CU(x)                                                                                 \
  do {                                                                                        \
    cudaError_t e_ = (x);                                                                     \
    if (e_ != cudaSuccess) {                                                                  \
      fprintf(stderr, "%s:%d: CUDA error %s\n", __FILE__, __LINE__, cudaGetErrorString(e_));  \
      exit(2);                                                                                \
    }                                                                                         \
  } while (0)
#define CB(x)                                                                                 \
  do {                                                                                        \
    int s_ = (int)(x);                                                                        \
    if (s_ != 0) {                                                                            \
      fprintf(stderr, "%s:%d: cuBLAS status %d\n", __FILE__, __LINE__, s_);                   \
      exit(2);                                                                                \
    }                                                                                         \
  } while (0)
#define FS(x)                                                                                 \
  do {                                                                                        \
    fp4_status s_ = (x);                                                                      \
    if (s_ != FP4_OK) {                                                                       \
      fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, fp4_status_string(s_));              \
      exit(2);                                                                                \
    }                                                                                         \
  } while (0)

/* Fill with hashed bytes; `kind`: 0 any byte, 1 bf16 normal(ish) values, 2 MX scale codes 120..134,
 * 3 NVFP4 E4M3 scale codes 0x30..0x4F, 4 E4M3 values in [-2, 2], 5 MX scale codes 126..128 (the spread of
 * real weights: bench/RESULTS.md). */
__global__ void fill_kernel(uint8_t *p, size_t n, uint32_t seed, int kind) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    uint32_t h = (uint32_t)i * 0x9E3779B1u ^ seed;
    h ^= h >> 15; h *= 0x2C1B3C6Du; h ^= h >> 12; h *= 0x297A2D39u; h ^= h >> 15;
    uint8_t v = (uint8_t)h;
    if (kind == 1) v = (i & 1) ? (uint8_t)(0x3E + (h & 1) + ((h >> 8) & 0x80)) : (uint8_t)h; /* |x| in [0.125, 0.5) */
    if (kind == 2) v = (uint8_t)(120 + h % 15);
    if (kind == 3) v = (uint8_t)(0x30 + h % 32);
    if (kind == 5) v = (uint8_t)(126 + h % 3);
    if (kind == 4) v = (uint8_t)((h % 0x40) | ((h >> 8) & 0x80));
    p[i] = v;
  }
}
static void fill(void *p, size_t n, uint32_t seed, int kind) {
  fill_kernel<<<1024, 256>>>((uint8_t *)p, n, seed, kind);
  CU(cudaGetLastError());
}

static const size_t ROTATE_BYTES = (size_t)256 << 20; /* > 5x the H100's 50 MB L2 per operand */
static int nrot(size_t bytes) { return (int)std::min<size_t>(16, std::max<size_t>(2, (ROTATE_BYTES + bytes - 1) / bytes)); }

/* A set of rotated device buffers of one operand. */
struct rot {
  std::vector<void *> p;
  size_t bytes = 0;
  void alloc(size_t b, int kind, uint32_t seed) {
    bytes = b;
    int n = nrot(b);
    for (int i = 0; i < n; i++) {
      void *q;
      CU(cudaMalloc(&q, b));
      fill(q, b, seed + 977u * i, kind);
      p.push_back(q);
    }
  }
  void *at(int i) const { return p[i % p.size()]; }
  void release() {
    for (void *q : p) cudaFree(q);
    p.clear();
  }
};

/* Median time in microseconds of `fn(i)` over warm-up + timed launches. */
template <typename F>
static double time_us(F fn) {
  cudaEvent_t a, b;
  CU(cudaEventCreate(&a));
  CU(cudaEventCreate(&b));
  for (int i = 0; i < 3; i++) fn(i);
  CU(cudaDeviceSynchronize());
  CU(cudaEventRecord(a));
  fn(3);
  CU(cudaEventRecord(b));
  CU(cudaEventSynchronize(b));
  float once;
  CU(cudaEventElapsedTime(&once, a, b));
  int reps = (int)std::min(50.0, std::max(7.0, 300.0 / std::max(0.001f, once)));
  std::vector<float> t;
  for (int i = 0; i < reps; i++) {
    CU(cudaEventRecord(a));
    fn(4 + i);
    CU(cudaEventRecord(b));
    CU(cudaEventSynchronize(b));
    float ms;
    CU(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms);
  }
  CU(cudaGetLastError());
  std::sort(t.begin(), t.end());
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return 1000.0 * t[t.size() / 2];
}

static cublasHandle_t g_blas;
static cublasLtHandle_t g_lt;
static void *g_ltws;
static const size_t LTWS = (size_t)64 << 20;

/* cuBLAS BF16: C[M,N] (row-major) = X[M,K] . W[N,K]^T, i.e. column-major C^T = W^T(op T) . X. */
static void blas_bf16(const void *X, const void *W, void *C, int M, int N, int K) {
  const float one = 1.0f, zero = 0.0f;
  CB(cublasGemmEx(g_blas, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &one, W, CUDA_R_16BF, K, X, CUDA_R_16BF, K, &zero, C,
                  CUDA_R_16BF, N, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

/* cuBLAS FP8 (E4M3 x E4M3 -> bf16, fp32 accumulate) through cublasLt, the same TN shape. */
struct lt_fp8 {
  cublasLtMatmulDesc_t op;
  cublasLtMatrixLayout_t la, lb, lc;
  cublasLtMatmulAlgo_t algo;
  bool ok = false;
  void init(int M, int N, int K) {
    CB(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasOperation_t t = CUBLAS_OP_T, n = CUBLAS_OP_N;
    CB(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof t));
    CB(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &n, sizeof n));
    CB(cublasLtMatrixLayoutCreate(&la, CUDA_R_8F_E4M3, K, N, K));
    CB(cublasLtMatrixLayoutCreate(&lb, CUDA_R_8F_E4M3, K, M, K));
    CB(cublasLtMatrixLayoutCreate(&lc, CUDA_R_16BF, N, M, N));
    cublasLtMatmulPreference_t pref;
    CB(cublasLtMatmulPreferenceCreate(&pref));
    CB(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &LTWS, sizeof LTWS));
    cublasLtMatmulHeuristicResult_t res;
    int got = 0;
    if (cublasLtMatmulAlgoGetHeuristic(g_lt, op, la, lb, lc, lc, pref, 1, &res, &got) == CUBLAS_STATUS_SUCCESS && got) {
      algo = res.algo;
      ok = true;
    }
    cublasLtMatmulPreferenceDestroy(pref);
  }
  void run(const void *X, const void *W, void *C) {
    const float one = 1.0f, zero = 0.0f;
    CB(cublasLtMatmul(g_lt, op, &one, W, la, X, lb, &zero, C, lc, C, lc, &algo, g_ltws, LTWS, 0));
  }
  void done() {
    cublasLtMatrixLayoutDestroy(la);
    cublasLtMatrixLayoutDestroy(lb);
    cublasLtMatrixLayoutDestroy(lc);
    cublasLtMatmulDescDestroy(op);
  }
};

/* One table row; wb: bytes of the weight operand B (its data and scales), read once per call. */
static void row(const char *what, int M, int N, int K, double us, double base_us, double wb) {
  double tf = 2.0 * M * N * (double)K / (us * 1e-6) / 1e12;
  printf("%-22s %6d %6d %6d %10.1f %9.1f %8.2fx %10.0f\n", what, M, N, K, us, tf, base_us / us, wb / (us * 1e-6) / 1e9);
  fflush(stdout);
}

/* Bytes of an N x K FP4 operand: packed codes and one scale byte per block. */
static double fp4_bytes(fp4_format f, int N, int K) { return (double)N * K / 2 + (double)N * (K / fp4_format_block(f)); }

/* Quantized operand views over rotated buffers. */
static fp4_tensor view(fp4_format f, int rows, int K, const rot &d, const rot &s, int i) {
  fp4_tensor t;
  fp4_tensor_init(&t, (uint8_t *)d.at(i), (uint8_t *)s.at(i), FP4_LAYOUT_LINEAR);
  t.format = f;
  t.rule = f == FP4_MXFP4 ? FP4_MX_OCP : FP4_NV_6;
  t.rows = rows;
  t.cols = K;
  t.tensor_scale = 1.0f;
  return t;
}

/* Relative Frobenius error of a W4A4 f32 result c32 (M x N, device) against float64 of the dequantized
 * operands (fp4.h), over 32 sampled rows x 64 sampled columns. */
static double w4a4_sample_err(const fp4_tensor &A, const fp4_tensor &B, const float *c32) {
  const int64_t M = A.rows, N = B.rows, K = A.cols, blk = fp4_format_block(A.format);
  const int RS = 32, CS = 64;
  std::vector<double> ar((size_t)RS * K), br((size_t)CS * K);
  std::vector<int64_t> ms(RS), ns(CS);
  auto rows = [&](const fp4_tensor &T, const std::vector<int64_t> &idx, std::vector<double> &out) {
    std::vector<uint8_t> d((size_t)K / 2), s((size_t)(K / blk));
    std::vector<float> y((size_t)K);
    for (size_t i = 0; i < idx.size(); i++) {
      CU(cudaMemcpy(d.data(), T.data + idx[i] * (K / 2), d.size(), cudaMemcpyDeviceToHost));
      CU(cudaMemcpy(s.data(), T.scales + idx[i] * (K / blk), s.size(), cudaMemcpyDeviceToHost));
      fp4_tensor h = T;
      h.data = d.data();
      h.scales = s.data();
      h.rows = 1;
      FS(fp4_dequantize_f32(&h, y.data(), K));
      for (int64_t k = 0; k < K; k++) out[i * K + k] = y[(size_t)k];
    }
  };
  for (int i = 0; i < RS; i++) ms[i] = (int64_t)((uint64_t)(i * 2654435761u) % (uint64_t)M);
  for (int i = 0; i < CS; i++) ns[i] = (int64_t)((uint64_t)(i * 2246822519u + 7u) % (uint64_t)N);
  rows(A, ms, ar);
  rows(B, ns, br);
  double num = 0, den = 0;
  for (int i = 0; i < RS; i++)
    for (int j = 0; j < CS; j++) {
      double s = 0;
      for (int64_t k = 0; k < K; k++) s += ar[i * K + k] * br[j * K + k];
      float v;
      CU(cudaMemcpy(&v, c32 + ms[i] * N + ns[j], 4, cudaMemcpyDeviceToHost));
      num += (v - s) * (v - s), den += s * s;
    }
  return sqrt(num / den);
}

static void w4a4_shape(int M, int N, int K) {
  rot xb, wb, x8, w8, c;
  xb.alloc((size_t)M * K * 2, 1, 11);
  wb.alloc((size_t)N * K * 2, 1, 12);
  c.alloc((size_t)M * N * 2, 0, 13);
  double base = time_us([&](int i) { blas_bf16(xb.at(i), wb.at(i), c.at(0), M, N, K); });
  row("cublas_bf16", M, N, K, base, base, 2.0 * N * K);
  xb.release();
  wb.release();
  x8.alloc((size_t)M * K, 4, 14);
  w8.alloc((size_t)N * K, 4, 15);
  lt_fp8 lt;
  lt.init(M, N, K);
  if (lt.ok) row("cublaslt_fp8_e4m3", M, N, K, time_us([&](int i) { lt.run(x8.at(i), w8.at(i), c.at(0)); }), base,
                (double)N * K);
  else printf("cublaslt_fp8_e4m3: no algorithm\n");
  lt.done();
  x8.release();
  w8.release();
  for (int fi = 0; fi < 2; fi++) {
    fp4_format f = fi ? FP4_NVFP4 : FP4_MXFP4;
    int blk = fp4_format_block(f);
    rot ad, as, bd, bs;
    ad.alloc((size_t)M * K / 2, 0, 21);
    as.alloc((size_t)M * (K / blk), fi ? 3 : 2, 22);
    bd.alloc((size_t)N * K / 2, 0, 23);
    bs.alloc((size_t)N * (K / blk), fi ? 3 : 2, 24);
    double us = time_us([&](int i) {
      fp4_tensor A = view(f, M, K, ad, as, i), B = view(f, N, K, bd, bs, i);
      FS(fp4_cuda_gemm_w4a4_bf16(&A, &B, 1.0f, 0.0f, (uint16_t *)c.at(0), N, NULL, 0, 0));
    });
    row(fi ? "w4a4_nvfp4_exact" : "w4a4_mxfp4_exact", M, N, K, us, base, fp4_bytes(f, N, K));
    void *ws;
    const size_t wsb = fp4_cuda_gemm_workspace_size(M, N, K);
    CU(cudaMalloc(&ws, wsb));
    us = time_us([&](int i) {
      fp4_tensor A = view(f, M, K, ad, as, i), B = view(f, N, K, bd, bs, i);
      FS(fp4_cuda_gemm_w4a4_fast_bf16(&A, &B, 1.0f, 0.0f, (uint16_t *)c.at(0), N, ws, wsb, 0));
    });
    row(fi ? "w4a4_nvfp4_fast" : "w4a4_mxfp4_fast", M, N, K, us, base, fp4_bytes(f, N, K));
    if (fp4__cuda_gemm_has_wgmma()) {
      /* the two Hopper _fast paths by name: both operands prepared (SS, its workspace), and A -> bf16 with
       * the weights decoded in registers (the wgmma W4A16 kernel, 256 wide) */
      const size_t need = fp4__cuda_gemm_ss_layout(!fi, M, N, K).total, wsb2 = need > wsb ? need : wsb;
      void *ws2;
      CU(cudaMalloc(&ws2, wsb2));
      const long r0 = fp4__cuda_gemm_ss_runs(0);
      double u = time_us([&](int i) {
        fp4_tensor A = view(f, M, K, ad, as, i), B = view(f, N, K, bd, bs, i);
        FS(fp4__cuda_gemm_w4a4(&A, &B, 1.0f, 0.0f, c.at(0), FP4_BF16, N, ws2, wsb2, 0,
                               FP4_CUDA_GEMM_W4A4_NATIVE, FP4_CUDA_GEMM_TILE_SS));
      });
      if (fp4__cuda_gemm_ss_runs(0) == r0) printf("(the SS path did not run)\n");
      row(fi ? "  fast_ss_bf16" : "  fast_ss_e4m3", M, N, K, u, base, fp4_bytes(f, N, K));
      { /* its error at this shape: f32 output, sampled against float64 */
        float *c32;
        CU(cudaMalloc(&c32, (size_t)M * N * 4));
        fp4_tensor A = view(f, M, K, ad, as, 0), B = view(f, N, K, bd, bs, 0);
        FS(fp4__cuda_gemm_w4a4(&A, &B, 1.0f, 0.0f, c32, FP4_F32, N, ws2, wsb2, 0,
                               FP4_CUDA_GEMM_W4A4_NATIVE, FP4_CUDA_GEMM_TILE_SS));
        CU(cudaDeviceSynchronize());
        printf("  (fast_ss rel. Frobenius error vs float64, 32 x 64 sampled outputs: %.3g)\n", w4a4_sample_err(A, B, c32));
        cudaFree(c32);
      }
      u = time_us([&](int i) {
        fp4_tensor A = view(f, M, K, ad, as, i), B = view(f, N, K, bd, bs, i);
        FS(fp4__cuda_gemm_w4a4(&A, &B, 1.0f, 0.0f, c.at(0), FP4_BF16, N, ws2, wsb2, 0,
                               FP4_CUDA_GEMM_W4A4_NATIVE, FP4_CUDA_GEMM_TILE_WG256));
      });
      row("  fast_rs_256", M, N, K, u, base, fp4_bytes(f, N, K));
      cudaFree(ws2);
    }
    if (!fi && fp4__cuda_gemm_has_wgmma()) {
      /* Hopper exact MXFP4 with the workspace: the FP8 wgmma kernel (E4M3 prepass of A included), automatic
       * width and both widths by name; "_fast_bf16path": the bf16 dequantize + wgmma W4A16 path by name */
      const std::pair<const char *, int> ex[3] = {{"w4a4_mxfp4_exact_ws", FP4_CUDA_GEMM_TILE_AUTO},
                                                  {"  f8wgmma_64", FP4_CUDA_GEMM_TILE_WG64},
                                                  {"  f8wgmma_128", FP4_CUDA_GEMM_TILE_WG128}};
      for (const auto &t : ex) {
        const long r0 = fp4__cuda_gemm_f8wg_runs(0);
        double u = time_us([&](int i) {
          fp4_tensor A = view(f, M, K, ad, as, i), B = view(f, N, K, bd, bs, i);
          FS(fp4__cuda_gemm_w4a4(&A, &B, 1.0f, 0.0f, c.at(0), FP4_BF16, N, ws, wsb, 0, FP4_CUDA_GEMM_W4A4_EXACT, t.second));
        });
        if (fp4__cuda_gemm_f8wg_runs(0) == r0) printf("(the FP8 wgmma kernel did not run)\n");
        row(t.first, M, N, K, u, base, fp4_bytes(f, N, K));
      }
      { /* weight scale codes 126..128, as close as real weights' (the codes 120..134 above, drawn
         * independently per row, spread 16 weight rows wider than 8: the kernel's two-step promotion) */
        rot bn;
        bn.alloc((size_t)N * (K / blk), 5, 25);
        double u = time_us([&](int i) {
          fp4_tensor A = view(f, M, K, ad, as, i), B = view(f, N, K, bd, bn, i);
          FS(fp4__cuda_gemm_w4a4(&A, &B, 1.0f, 0.0f, c.at(0), FP4_BF16, N, ws, wsb, 0, FP4_CUDA_GEMM_W4A4_EXACT,
                                 FP4_CUDA_GEMM_TILE_AUTO));
        });
        row("  exact_ws_narrow_scales", M, N, K, u, base, fp4_bytes(f, N, K));
        bn.release();
      }
      if (FP4__CG_F8WG_FAST) { /* the bf16 path the _fast name no longer takes for MXFP4 */
        double u = time_us([&](int i) {
          fp4_tensor A = view(f, M, K, ad, as, i), B = view(f, N, K, bd, bs, i);
          FS(fp4__cuda_gemm_w4a4(&A, &B, 1.0f, 0.0f, c.at(0), FP4_BF16, N, ws, wsb, 0, FP4_CUDA_GEMM_W4A4_NATIVE,
                                 FP4_CUDA_GEMM_TILE_WG256));
        });
        row("  fast_bf16path_256", M, N, K, u, base, fp4_bytes(f, N, K));
      }
    }
    cudaFree(ws);
    ad.release(); as.release(); bd.release(); bs.release();
  }
  c.release();
}

/* "ss M N K": the Hopper _fast path with both operands prepared, two calls per format (for a profiler). */
static void ss_only(int M, int N, int K, bool exact) {
  rot ad, as, bd, bs, c;
  c.alloc((size_t)M * N * 2, 0, 13);
  for (int fi = 0; fi < (exact ? 1 : 2); fi++) {
    fp4_format f = fi ? FP4_NVFP4 : FP4_MXFP4;
    int blk = fp4_format_block(f);
    ad.alloc((size_t)M * K / 2, 0, 21);
    as.alloc((size_t)M * (K / blk), fi ? 3 : 2, 22);
    bd.alloc((size_t)N * K / 2, 0, 23);
    bs.alloc((size_t)N * (K / blk), fi ? 3 : 2, 24);
    const size_t need = exact ? fp4_cuda_gemm_workspace_size(M, N, K) : fp4__cuda_gemm_ss_layout(!fi, M, N, K).total;
    void *ws;
    CU(cudaMalloc(&ws, need));
    for (int i = 0; i < 2; i++) {
      fp4_tensor A = view(f, M, K, ad, as, i), B = view(f, N, K, bd, bs, i);
      FS(fp4__cuda_gemm_w4a4(&A, &B, 1.0f, 0.0f, c.at(0), FP4_BF16, N, ws, need, 0,
                             exact ? FP4_CUDA_GEMM_W4A4_EXACT : FP4_CUDA_GEMM_W4A4_NATIVE,
                             exact ? FP4_CUDA_GEMM_TILE_AUTO : FP4_CUDA_GEMM_TILE_SS));
    }
    CU(cudaDeviceSynchronize());
    cudaFree(ws);
    ad.release(); as.release(); bd.release(); bs.release();
  }
  c.release();
}

static void w4a16_shape(int M, int N, int K) {
  rot xb, wb, c;
  xb.alloc((size_t)M * K * 2, 1, 31);
  wb.alloc((size_t)N * K * 2, 1, 32);
  c.alloc((size_t)M * N * 2, 0, 33);
  double base = time_us([&](int i) { blas_bf16(xb.at(i), wb.at(i), c.at(0), M, N, K); });
  row("cublas_bf16", M, N, K, base, base, 2.0 * N * K);
  wb.release();
  for (int fi = 0; fi < 2; fi++) {
    fp4_format f = fi ? FP4_NVFP4 : FP4_MXFP4;
    int blk = fp4_format_block(f);
    rot bd, bs;
    void *ws; /* the documented workspace (Hopper: split-K partials at small M) */
    const size_t wsb = fp4_cuda_gemm_workspace_size(M, N, K);
    CU(cudaMalloc(&ws, wsb));
    bd.alloc((size_t)N * K / 2, 0, 41);
    bs.alloc((size_t)N * (K / blk), fi ? 3 : 2, 42);
    double us = time_us([&](int i) {
      fp4_tensor B = view(f, N, K, bd, bs, i);
      FS(fp4_cuda_gemm_w4a16_bf16_bf16((const uint16_t *)xb.at(i), M, K, &B, 1.0f, 0.0f, (uint16_t *)c.at(0), N, ws,
                                        wsb, 0));
    });
    row(fi ? "w4a16_nvfp4_bf16" : "w4a16_mxfp4_bf16", M, N, K, us, base, fp4_bytes(f, N, K));
    /* by name: the mma.sync kernel (its former automatic tile) and the wgmma tiles */
    std::vector<std::pair<const char *, int>> named;
    if (M > 1) {
      const int big = (M + 127) / 128 * ((N + 127) / 128) >= 2 * 132;
      named.push_back({"  mma.sync", M <= 16 ? FP4_CUDA_GEMM_TILE_16x128 : big ? FP4_CUDA_GEMM_TILE_128x128 : FP4_CUDA_GEMM_TILE_64x128});
      if (fp4__cuda_gemm_has_wgmma()) {
        if (M <= 256) named.push_back({"  wgmma_64", FP4_CUDA_GEMM_TILE_WG64});
        if (M <= 64) named.push_back({"  wgmma_64_nows", -FP4_CUDA_GEMM_TILE_WG64}); /* no workspace: no split-K */
        named.push_back({"  wgmma_128", FP4_CUDA_GEMM_TILE_WG128});
        if (M >= 256) named.push_back({"  wgmma_256", FP4_CUDA_GEMM_TILE_WG256});
        if (M >= 4096) named.push_back({"  wgmma_128_cp.async", FP4_CUDA_GEMM_TILE_WG_CP});
      }
    }
    for (auto &t : named) {
      double u = time_us([&](int i) {
        fp4_tensor B = view(f, N, K, bd, bs, i);
        const int tl = t.second < 0 ? -t.second : t.second;
        FS(fp4__cuda_gemm_w4a16(xb.at(i), FP4_BF16, M, K, &B, 1.0f, 0.0f, c.at(0), FP4_BF16, N, t.second < 0 ? NULL : ws,
                                t.second < 0 ? 0 : wsb, 0, tl));
      });
      row(t.first, M, N, K, u, base, fp4_bytes(f, N, K));
    }
    if (fi && M >= 1024) { /* f16 activations (NVFP4 only on the wgmma path); same bytes, reinterpreted */
      double u = time_us([&](int i) {
        fp4_tensor B = view(f, N, K, bd, bs, i);
        FS(fp4_cuda_gemm_w4a16_f16_f16((const uint16_t *)xb.at(i), M, K, &B, 1.0f, 0.0f, (uint16_t *)c.at(0), N, ws,
                                       wsb, 0));
      });
      row("w4a16_nvfp4_f16", M, N, K, u, base, fp4_bytes(f, N, K));
    }
    bd.release(); bs.release();
    cudaFree(ws);
  }
  xb.release();
  c.release();
}

int main(int argc, char **argv) {
  /* "w4a4": the quick W4A4 shapes alone; "w4a4all": every W4A4 shape alone */
  const bool w4a4_only = argc > 1 && (!strcmp(argv[1], "w4a4") || !strcmp(argv[1], "w4a4all"));
  const bool quick = (argc > 1 && !strcmp(argv[1], "w4a4")) || (argc > 1 && !strcmp(argv[1], "quick"));
  cudaDeviceProp prop;
  CU(cudaGetDeviceProperties(&prop, 0));
  printf("device: %s (sm_%d%d, %d SMs, L2 %d MB)\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount,
         prop.l2CacheSize >> 20);
  CB(cublasCreate(&g_blas));
  CB(cublasLtCreate(&g_lt));
  CU(cudaMalloc(&g_ltws, LTWS));
  if (argc > 4 && (!strcmp(argv[1], "ss") || !strcmp(argv[1], "exact"))) {
    ss_only(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), !strcmp(argv[1], "exact"));
    return 0;
  }
  printf("%-22s %6s %6s %6s %10s %9s %9s %10s\n", "kernel", "M", "N", "K", "median_us", "TFLOP/s", "vs_bf16",
         "weight_GB/s");
  if (argc > 4 && !strcmp(argv[1], "shape")) { /* one W4A4 shape, every row */
    w4a4_shape(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
    return 0;
  }
  printf("# W4A4 square\n");
  w4a4_shape(4096, 4096, 4096);
  w4a4_shape(8192, 8192, 8192);
  const int nk[3][2] = {{8192, 8192}, {28672, 8192}, {8192, 28672}};
  printf("# W4A4 prefill\n");
  for (int s = 0; s < 3; s++)
    for (int M = 128; M <= 2048; M *= 2) {
      if (quick && M != 128 && M != 2048) continue;
      w4a4_shape(M, nk[s][0], nk[s][1]);
    }
  if (w4a4_only) return 0;
  printf("# W4A16 (bf16 activations)\n");
  const int ms[7] = {1, 16, 64, 256, 1024, 4096, 8192};
  for (int s = 0; s < 3; s++)
    for (int i = 0; i < 7; i++) {
      if (quick && (i % 2)) continue;
      w4a16_shape(ms[i], nk[s][0], nk[s][1]);
    }
  cudaFree(g_ltws);
  cublasLtDestroy(g_lt);
  cublasDestroy(g_blas);
  return 0;
}
