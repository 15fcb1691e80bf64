/* SPDX-License-Identifier: MIT */
/*
 * gemm_cuda.cu - a quantized linear layer on the GPU, Y = X W^T, with fp4_cuda.cuh:
 *   - the weights W[N,K] (bf16) are quantized once on the device; fp4_cuda_quantize_result waits for it
 *     and fetches the NVFP4 tensor scale that the device computed;
 *   - the activations X[M,K] (bf16) are quantized on every call, either with a dynamic amax (one
 *     fp4_cuda_quantize_result sync per call) or with a calibrated amax (cfg.has_amax: no sync at all);
 *   - W4A4: fp4_cuda_gemm_w4a4_f32 (reproducible: fp4.h's bits) and fp4_cuda_gemm_w4a4_fast_f32 (the
 *     device's native FP4 MMA where it has one); W4A16: fp4_cuda_gemm_w4a16_bf16_f32 on the bf16
 *     activations (rotated first with fp4_cuda_hadamard_f32 when the recipe has a Hadamard group).
 * Every device result is checked against the scalar reference fp4.h on the host: quantized bytes and
 * tensor scales equal, the reproducible W4A4 output equal bit for bit, W4A16 within 1e-5 and the fast
 * W4A4 within 5e-4 of a float64 product of the dequantized operands (spec §5). Times are medians of 20
 * launches (CUDA events), printed for information.
 *
 * Usage: gemm_cuda [M N K]   (defaults 128 1024 2048; K a multiple of 128). Needs a CUDA GPU
 * (sm_90a, sm_100a or sm_120a builds); exits non-zero when a check fails.
 */
#include "fp4_cuda.cuh"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <vector>

#define CUDA_OK(call)                                                                         \
  do {                                                                                        \
    cudaError_t e_ = (call);                                                                  \
    if (e_ != cudaSuccess) {                                                                  \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      exit(1);                                                                                \
    }                                                                                         \
  } while (0)
#define FP4_OK_(call)                                                                          \
  do {                                                                                         \
    fp4_status s_ = (call);                                                                    \
    if (s_ != FP4_OK) {                                                                        \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, fp4_status_string(s_));    \
      exit(1);                                                                                 \
    }                                                                                          \
  } while (0)

/* A quantized tensor whose buffers live on the device, and its host copy. */
struct dev_tensor {
  fp4_tensor t;
  size_t data_bytes, scale_bytes;
};

static dev_tensor dev_tensor_alloc(fp4_format f, int64_t rows, int64_t cols) {
  dev_tensor d;
  uint8_t *q, *s;
  d.data_bytes = fp4_data_bytes(rows, cols);
  d.scale_bytes = fp4_scale_bytes(f, rows, cols, FP4_LAYOUT_LINEAR);
  CUDA_OK(cudaMalloc(&q, d.data_bytes));
  CUDA_OK(cudaMalloc(&s, d.scale_bytes));
  fp4_tensor_init(&d.t, q, s, FP4_LAYOUT_LINEAR);
  return d;
}

static void dev_tensor_free(dev_tensor *d) {
  cudaFree(d->t.data);
  cudaFree(d->t.scales);
}

/* The device tensor's bytes equal those of the host tensor h (data, scales, tensor scale). */
static bool same_bytes(const dev_tensor &d, const fp4_tensor &h) {
  std::vector<uint8_t> q(d.data_bytes), s(d.scale_bytes);
  CUDA_OK(cudaMemcpy(q.data(), d.t.data, d.data_bytes, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(s.data(), d.t.scales, d.scale_bytes, cudaMemcpyDeviceToHost));
  return !memcmp(q.data(), h.data, d.data_bytes) && !memcmp(s.data(), h.scales, d.scale_bytes) &&
         !memcmp(&d.t.tensor_scale, &h.tensor_scale, 4);
}

/* ||C - R|| / ||R|| with R in float64 */
static double rel_err(const std::vector<float> &C, const std::vector<double> &R) {
  double e = 0.0, r = 0.0;
  for (size_t i = 0; i < C.size(); i++) {
    e += (C[i] - R[i]) * (C[i] - R[i]);
    r += R[i] * R[i];
  }
  return sqrt(e / r);
}

/* R[M,N] = A[M,K] B[N,K]^T in float64 */
static std::vector<double> gemm64(const std::vector<float> &A, const std::vector<float> &B, int64_t M, int64_t N,
                                  int64_t K) {
  std::vector<double> R((size_t)(M * N));
  for (int64_t m = 0; m < M; m++)
    for (int64_t n = 0; n < N; n++) {
      double s = 0.0;
      for (int64_t k = 0; k < K; k++) s += (double)A[(size_t)(m * K + k)] * B[(size_t)(n * K + k)];
      R[(size_t)(m * N + n)] = s;
    }
  return R;
}

/* Median time in microseconds of 20 runs of f (after 3 warm-up runs). */
template <typename F> static double time_us(F f, cudaStream_t st) {
  cudaEvent_t a, b;
  std::vector<float> ms;
  CUDA_OK(cudaEventCreate(&a));
  CUDA_OK(cudaEventCreate(&b));
  for (int i = 0; i < 23; i++) {
    CUDA_OK(cudaEventRecord(a, st));
    f();
    CUDA_OK(cudaEventRecord(b, st));
    CUDA_OK(cudaEventSynchronize(b));
    float t = 0.0f;
    CUDA_OK(cudaEventElapsedTime(&t, a, b));
    if (i >= 3) ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return 1000.0 * ms[ms.size() / 2];
}

static unsigned long long rng = 0x853C49E6748FEA9Bull;
static double normal(void) {
  double u, v;
  rng = rng * 6364136223846793005ull + 1442695040888963407ull;
  u = ((double)(rng >> 11) + 0.5) * (1.0 / 9007199254740992.0);
  rng = rng * 6364136223846793005ull + 1442695040888963407ull;
  v = (double)(rng >> 11) * (1.0 / 9007199254740992.0);
  return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

int main(int argc, char **argv) {
  int64_t M = 128, N = 1024, K = 2048;
  struct recipe {
    const char *name;
    fp4_rule rule;
    int hadamard, rht16;
  };
  static const recipe recipes[] = {
      {"MXFP4 OCP", FP4_MX_OCP, 0, 0},
      {"NVFP4 (standard)", FP4_NV_6, 0, 0},
      {"NVFP4 4/6 MSE + RHT16", FP4_NV_4OVER6_MSE, 16, 1},
  };
  int ndev = 0, bad = 0;
  cudaDeviceProp prop;
  cudaStream_t stream;
  if (argc == 4) {
    M = atol(argv[1]);
    N = atol(argv[2]);
    K = atol(argv[3]);
  }
  if (M <= 0 || N <= 0 || K <= 0 || K % 128) {
    fprintf(stderr, "usage: gemm_cuda [M N K] with K a multiple of 128\n");
    return 2;
  }
  if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
    fprintf(stderr, "gemm_cuda needs a CUDA GPU\n");
    return 1;
  }
  CUDA_OK(cudaGetDeviceProperties(&prop, 0));
  CUDA_OK(cudaStreamCreate(&stream));

  /* host data: bf16 weights ~ N(0, 0.02^2), bf16 activations with a few outlier channels */
  std::vector<uint16_t> Wb((size_t)(N * K)), Xb((size_t)(M * K));
  std::vector<float> Wf(Wb.size()), Xf(Xb.size());
  for (size_t i = 0; i < Wb.size(); i++) Wf[i] = fp4_bf16_to_f32(Wb[i] = fp4_f32_to_bf16((float)(0.02 * normal())));
  for (size_t i = 0; i < Xb.size(); i++)
    Xf[i] = fp4_bf16_to_f32(Xb[i] = fp4_f32_to_bf16((float)(normal() * ((int64_t)i % K % 61 == 7 ? 20.0 : 1.0))));
  std::vector<double> ref = gemm64(Xf, Wf, M, N, K);

  /* device buffers: inputs, a rotated copy of X (W4A16 with Hadamard), outputs, workspaces */
  uint16_t *dW, *dX;
  float *dXf, *dXrot, *dY;
  void *wsG = NULL;
  size_t wsg = fp4_cuda_gemm_workspace_size(M, N, K);
  CUDA_OK(cudaMalloc(&dW, Wb.size() * 2));
  CUDA_OK(cudaMalloc(&dX, Xb.size() * 2));
  CUDA_OK(cudaMalloc(&dXf, Xf.size() * 4));
  CUDA_OK(cudaMalloc(&dXrot, Xf.size() * 4));
  CUDA_OK(cudaMalloc(&dY, (size_t)(M * N) * 4));
  if (wsg) CUDA_OK(cudaMalloc(&wsG, wsg));
  CUDA_OK(cudaMemcpy(dW, Wb.data(), Wb.size() * 2, cudaMemcpyHostToDevice));
  CUDA_OK(cudaMemcpy(dX, Xb.data(), Xb.size() * 2, cudaMemcpyHostToDevice));
  CUDA_OK(cudaMemcpy(dXf, Xf.data(), Xf.size() * 4, cudaMemcpyHostToDevice));

  printf("fp4 %s on %s (sm_%d%d): Y[%lld,%lld] = X[%lld,%lld] W[%lld,%lld]^T, bf16 inputs\n", FP4_VERSION_STRING,
         prop.name, prop.major, prop.minor, (long long)M, (long long)N, (long long)M, (long long)K, (long long)N,
         (long long)K);
  printf("error = ||Y - Y64|| / ||Y64||: vs the unquantized layer, and vs the dequantized operands\n\n");
  printf("| %-22s | %-22s | %-11s | %-11s | %-10s | %-9s |\n", "recipe", "step", "vs float", "vs dequant",
         "check", "time us");
  printf("|------------------------|------------------------|-------------|-------------|------------|-----------|\n");
  for (const recipe &r : recipes) {
    fp4_format fmt = fp4_rule_format(r.rule);
    fp4_quant_config cfg = fp4_config_default(fmt);
    cfg.rule = r.rule;
    cfg.hadamard = r.hadamard;
    if (r.rht16) {
      cfg.hadamard_signs = FP4_SIGNS_USER;
      fp4_hadamard_signs_rht16(cfg.hadamard_sign_bits);
    }
    const uint32_t *signs = r.rht16 ? cfg.hadamard_sign_bits : NULL;
    /* quantize workspaces: one per tensor, since each holds its tensor's device-side amax and status */
    void *wsW, *wsX;
    size_t wsq = std::max(fp4_cuda_quantize_workspace_size(N, K, &cfg), fp4_cuda_quantize_workspace_size(M, K, &cfg));
    CUDA_OK(cudaMalloc(&wsW, wsq));
    CUDA_OK(cudaMalloc(&wsX, wsq));
    dev_tensor w = dev_tensor_alloc(fmt, N, K), x = dev_tensor_alloc(fmt, M, K);
    std::vector<uint8_t> hwd(w.data_bytes), hws(w.scale_bytes), hxd(x.data_bytes), hxs(x.scale_bytes);
    fp4_tensor hw, hx;
    fp4_tensor_init(&hw, hwd.data(), hws.data(), FP4_LAYOUT_LINEAR);
    fp4_tensor_init(&hx, hxd.data(), hxs.data(), FP4_LAYOUT_LINEAR);
    std::vector<float> Y((size_t)(M * N)), Yh((size_t)(M * N)), Wd(Wf.size()), Xd(Xf.size());

    /* weights, once: quantize on the device, wait, fetch the tensor scale; compare with fp4.h */
    double tw = time_us([&] { FP4_OK_(fp4_cuda_quantize_bf16(dW, N, K, K, &cfg, &w.t, wsW, wsq, stream)); }, stream);
    FP4_OK_(fp4_cuda_quantize_result(&w.t, wsW, stream));
    FP4_OK_(fp4_quantize_bf16(Wb.data(), N, K, K, &cfg, &hw, NULL, 0));
    bool ok = same_bytes(w, hw);
    bad |= !ok;
    FP4_OK_(fp4_dequantize_f32(&hw, Wd.data(), K));
    printf("| %-22s | %-22s | %11s | %11s | %-10s | %9.1f |\n", r.name, "quantize W (once)", "", "",
           ok ? "= fp4.h" : "MISMATCH", tw);

    /* activations, dynamic amax: quantize, then one sync for the device-computed tensor scale */
    double tx = time_us(
        [&] {
          FP4_OK_(fp4_cuda_quantize_bf16(dX, M, K, K, &cfg, &x.t, wsX, wsq, stream));
          FP4_OK_(fp4_cuda_quantize_result(&x.t, wsX, stream));
        },
        stream);
    FP4_OK_(fp4_quantize_bf16(Xb.data(), M, K, K, &cfg, &hx, NULL, 0));
    ok = same_bytes(x, hx);
    bad |= !ok;
    FP4_OK_(fp4_dequantize_f32(&hx, Xd.data(), K));
    printf("| %-22s | %-22s | %11s | %11s | %-10s | %9.1f |\n", r.name, "quantize X (dynamic)", "", "",
           ok ? "= fp4.h" : "MISMATCH", tx);

    /* activations, calibrated amax (here: the one just measured): no host sync in the call */
    if (fmt == FP4_NVFP4) {
      fp4_quant_config cal = cfg;
      cal.has_amax = 1;
      cal.amax = hx.amax;
      double tc = time_us([&] { FP4_OK_(fp4_cuda_quantize_bf16(dX, M, K, K, &cal, &x.t, wsX, wsq, stream)); }, stream);
      FP4_OK_(fp4_cuda_quantize_result(&x.t, wsX, stream));
      ok = same_bytes(x, hx);
      bad |= !ok;
      printf("| %-22s | %-22s | %11s | %11s | %-10s | %9.1f |\n", r.name, "quantize X (calibrated)", "", "",
             ok ? "= fp4.h" : "MISMATCH", tc);
    }

    /* W4A4, reproducible: fp4.h's bits */
    std::vector<double> refd = gemm64(Xd, Wd, M, N, K);
    double tg = time_us([&] { FP4_OK_(fp4_cuda_gemm_w4a4_f32(&x.t, &w.t, 1.0f, 0.0f, dY, N, wsG, wsg, stream)); }, stream);
    CUDA_OK(cudaMemcpy(Y.data(), dY, Y.size() * 4, cudaMemcpyDeviceToHost));
    FP4_OK_(fp4_gemm_w4a4_f32(&hx, &hw, 1.0f, 0.0f, Yh.data(), N, NULL, 0));
    ok = !memcmp(Y.data(), Yh.data(), Y.size() * 4);
    bad |= !ok;
    printf("| %-22s | %-22s | %11.4e | %11.4e | %-10s | %9.1f |\n", r.name, "W4A4 exact", rel_err(Y, ref),
           rel_err(Y, refd), ok ? "= fp4.h" : "MISMATCH", tg);

    /* W4A4, fast: the native FP4 MMA where the device has one; 5e-4 of the dequantized product */
    tg = time_us([&] { FP4_OK_(fp4_cuda_gemm_w4a4_fast_f32(&x.t, &w.t, 1.0f, 0.0f, dY, N, wsG, wsg, stream)); }, stream);
    CUDA_OK(cudaMemcpy(Y.data(), dY, Y.size() * 4, cudaMemcpyDeviceToHost));
    double e = rel_err(Y, refd);
    ok = e <= 5e-4;
    bad |= !ok;
    printf("| %-22s | %-22s | %11.4e | %11.4e | %-10s | %9.1f |\n", r.name, "W4A4 fast", rel_err(Y, ref), e,
           ok ? "<= 5e-4" : "TOO LARGE", tg);

    /* W4A16 on bf16 activations (rotated on the device first when the weights are rotated) */
    if (r.hadamard) {
      tg = time_us(
          [&] {
            FP4_OK_(fp4_cuda_hadamard_f32(dXf, M, K, K, dXrot, K, r.hadamard, signs, 0, stream));
            FP4_OK_(fp4_cuda_gemm_w4a16_f32_f32(dXrot, M, K, &w.t, 1.0f, 0.0f, dY, N, wsG, wsg, stream));
          },
          stream);
      std::vector<float> Xr(Xf.size());
      FP4_OK_(fp4_hadamard_f32(Xf.data(), M, K, K, Xr.data(), K, r.hadamard, signs, 0));
      refd = gemm64(Xr, Wd, M, N, K);
    } else {
      tg = time_us([&] { FP4_OK_(fp4_cuda_gemm_w4a16_bf16_f32(dX, M, K, &w.t, 1.0f, 0.0f, dY, N, wsG, wsg, stream)); },
                   stream);
      refd = gemm64(Xf, Wd, M, N, K);
    }
    CUDA_OK(cudaMemcpy(Y.data(), dY, Y.size() * 4, cudaMemcpyDeviceToHost));
    e = rel_err(Y, refd);
    ok = e <= 1e-5;
    bad |= !ok;
    printf("| %-22s | %-22s | %11.4e | %11.4e | %-10s | %9.1f |\n", r.name,
           r.hadamard ? "Hadamard X + W4A16 f32" : "W4A16 bf16", rel_err(Y, ref), e, ok ? "<= 1e-5" : "TOO LARGE", tg);
    dev_tensor_free(&w);
    dev_tensor_free(&x);
    cudaFree(wsW);
    cudaFree(wsX);
  }
  printf("\n%s\n", bad ? "FAIL: a device result differs from fp4.h or exceeds its error bound"
                       : "every device result matches fp4.h (bytes, W4A4 bits) or its error bound");
  cudaFree(dW);
  cudaFree(dX);
  cudaFree(dXf);
  cudaFree(dXrot);
  cudaFree(dY);
  cudaFree(wsG);
  cudaStreamDestroy(stream);
  return bad;
}
