/* SPDX-License-Identifier: MIT */
/* CUDA GEMMs (spec §5) against fp4.h:
 *  - reproducible W4A4 (fp4_cuda_gemm_w4a4_*): the same bits as fp4_gemm_w4a4_* for MXFP4 and NVFP4,
 *    every tile configuration, odd M/N, K tails (K % 64 != 0, NVFP4 K % 32 == 16), linear and swizzled
 *    scales, alpha/beta, f32/bf16/f16 outputs, extreme and NaN scale codes, and identical bits between
 *    repeated runs;
 *  - W4A16 (fp4_cuda_gemm_w4a16_*): relative Frobenius error against a float64 GEMM of the dequantized
 *    operands <= 1e-5 (f32 output), bf16/f16 outputs equal to the f32 result rounded once, bf16, f16
 *    and f32 activations, every tile configuration;
 *  - Hopper wgmma W4A16 tiles (FP4_CUDA_GEMM_TILE_WG64/128/256: TMA kernel where K % 32 == 0, else the
 *    cp.async kernel (one width, 128); WG_CP: the cp.async kernel by name; on an sm_90 device): the same checks as
 *    W4A16 above for bf16 activations (both formats) and f16 activations (NVFP4); the combinations the
 *    kernel does not take (MXFP4 x f16, f32 activations) return FP4_ERR_UNSUPPORTED; split-K with the
 *    caller's workspace (few output tiles, long K; deterministic reduction) checked the same way;
 *  - Hopper exact MXFP4 (FP8 wgmma kernel, with the workspace; tiles AUTO, WG64, WG128): the same memcmp
 *    against fp4.h for odd M/N, K = 32, 96, 4160 (partial stages, non-word scale loads), tails, both
 *    layouts, alpha/beta, all outputs, random extreme codes, every pair of the codes 0, 1, 127, 200, 254,
 *    255 (random and all-max data: Inf, NaN, subnormal terms), weight codes spread over 1..12 binades
 *    within rows (folded into E4M3, subnormals included, or not), and a launch counter proving which kernel
 *    ran; a workspace too small, overlapping C or misaligned runs the mma.sync kernel (same bits);
 *  - W4A4 _fast on Hopper (bf16 workspace + wgmma): relative Frobenius error against float64 of the
 *    dequantized operands <= 1e-5 (the measured value is printed), bit-identical repeats; without a
 *    workspace the exact kernel's bits; with both operands prepared (ss_case: bf16 NVFP4, folded E4M3
 *    MXFP4): <= 5e-4 (spec section 5), odd M/N, K tails, spread and NaN scales, the automatic choice;
 *  - validation: the same status codes as fp4.h for bad arguments.
 * Needs a GPU (make test-cuda). "test_cuda_gemm sanitize" runs one small case per kernel and path
 * instead (for compute-sanitizer, whose racecheck is too slow for the full set). The test includes
 * the whole fp4_cuda.cuh so that the M <= 16 hand-over to its decode GEMV is the one users get. */
#include "fp4_cuda.cuh"
#include "harness.h"

#include <vector>

#define CU(x)                                                                                   \
  do {                                                                                          \
    cudaError_t e_ = (x);                                                                       \
    if (e_ != cudaSuccess) {                                                                    \
      fprintf(stderr, "%s:%d: CUDA error %s\n", __FILE__, __LINE__, cudaGetErrorString(e_));    \
      exit(2);                                                                                  \
    }                                                                                           \
  } while (0)

static long g_f8_cases = 0; /* W4A4 cases that ran the Hopper FP8 wgmma kernel */

/* A quantized tensor on the host and its copy on the device. */
struct qt {
  fp4_tensor h, d;
  std::vector<uint8_t> data, scales;
};

static void qt_free(qt &t) {
  cudaFree(t.d.data);
  cudaFree(t.d.scales);
}

static void qt_upload(qt &t) {
  t.d = t.h;
  CU(cudaMalloc(&t.d.data, t.data.size()));
  CU(cudaMalloc(&t.d.scales, t.scales.size()));
  CU(cudaMemcpy(t.d.data, t.data.data(), t.data.size(), cudaMemcpyHostToDevice));
  CU(cudaMemcpy(t.d.scales, t.scales.data(), t.scales.size(), cudaMemcpyHostToDevice));
}

/* Quantize a random rows x cols matrix (normal values times a per-row magnitude) with `rule`. */
static qt make_qt(fp4_format f, fp4_rule rule, int64_t rows, int64_t cols, fp4_layout lay, int spread = 0) {
  qt t;
  std::vector<float> x((size_t)(rows * cols));
  for (int64_t r = 0; r < rows; r++) {
    double mag = ldexp(1.0, (int)(h_rand() % 13) - 6);
    for (int64_t c = 0; c < cols; c++) {
      if (spread && c % 32 == 0) mag = ldexp(1.0, (int)(h_rand() % 13) - 6); /* spread: per 32 columns */
      x[(size_t)(r * cols + c)] = (float)(h_normal() * mag);
    }
  }
  if (rows * cols > 4) x[3] = 0.0f;
  t.data.resize(fp4_data_bytes(rows, cols));
  t.scales.resize(fp4_scale_bytes(f, rows, cols, FP4_LAYOUT_LINEAR));
  fp4_tensor_init(&t.h, t.data.data(), t.scales.data(), FP4_LAYOUT_LINEAR);
  fp4_quant_config cfg = fp4_config_default(f);
  cfg.rule = rule;
  fp4_status st = fp4_quantize_f32(x.data(), rows, cols, cols, &cfg, &t.h, NULL, 0);
  CHECK_EQ(FP4_OK, st);
  if (lay == FP4_LAYOUT_SWIZZLED) {
    std::vector<uint8_t> sw(fp4_scale_bytes(f, rows, cols, FP4_LAYOUT_SWIZZLED));
    CHECK_EQ(FP4_OK, fp4_scales_to_swizzled(t.scales.data(), rows, cols / fp4_format_block(f), sw.data()));
    t.scales = sw;
    t.h.scales = t.scales.data();
    t.h.scale_layout = FP4_LAYOUT_SWIZZLED;
  }
  t.h.data = t.data.data();
  return t;
}

/* Overwrite scale codes with extreme values (set linear-layout tensors only). */
static void poke_scales(qt &t, int side_a) {
  static const uint8_t mx_a[] = {0, 1, 60, 127, 200, 231, 232, 240, 254, 255};
  static const uint8_t mx_b[] = {0, 3, 100, 127, 130, 250, 254, 255};
  static const uint8_t nv[] = {0x00, 0x01, 0x08, 0x7E, 0x7F, 0x80, 0x85, 0xFE, 0xFF, 0x38};
  for (size_t i = 0; i < t.scales.size(); i++) {
    if (h_rand() % 8) continue;
    if (t.h.format == FP4_MXFP4)
      t.scales[i] = side_a ? mx_a[h_rand() % sizeof mx_a] : mx_b[h_rand() % sizeof mx_b];
    else
      t.scales[i] = nv[h_rand() % sizeof nv];
  }
}

static size_t dt_size(fp4_dtype t) { return t == FP4_F32 ? 4 : 2; }

static fp4_status host_w4a4(const qt &A, const qt &B, float alpha, float beta, void *C, fp4_dtype ct, int64_t ldc) {
  if (ct == FP4_F32) return fp4_gemm_w4a4_f32(&A.h, &B.h, alpha, beta, (float *)C, ldc, NULL, 0);
  if (ct == FP4_BF16) return fp4_gemm_w4a4_bf16(&A.h, &B.h, alpha, beta, (uint16_t *)C, ldc, NULL, 0);
  return fp4_gemm_w4a4_f16(&A.h, &B.h, alpha, beta, (uint16_t *)C, ldc, NULL, 0);
}

/* Random old C contents (finite values of the output type). */
static std::vector<uint8_t> random_c(int64_t M, int64_t ldc, fp4_dtype ct) {
  std::vector<uint8_t> c((size_t)(M * ldc) * dt_size(ct));
  for (int64_t i = 0; i < M * ldc; i++) fp4__store(c.data(), ct, i, (float)h_normal());
  return c;
}

/* Workspace modes of w4a4_case: none, fp4_cuda_gemm_workspace_size bytes (Hopper MXFP4: the FP8 wgmma
 * kernel), one byte too small, overlapping C, misaligned (the last three: the mma.sync kernel). */
enum { WS_NONE, WS_FULL, WS_SMALL, WS_OVERLAP, WS_MISALIGNED };

/* One reproducible W4A4 case: device bits == fp4.h bits, twice. codes >= 0: every scale code of A is
 * codes & 255, of B codes >> 8; maxdata: every element code +-6 (A rows alternate in sign), so each
 * block sum is +-4608; spread >= 0 (MXFP4): B's codes random in [124, 124 + spread], A's in [115, 118]
 * (the FP8 wgmma kernel folds a warp's weight codes within 8 of their largest into E4M3, subnormals
 * included, and promotes wider spreads unfolded). */
static void w4a4_case(fp4_format f, fp4_rule rule, int M, int N, int K, fp4_layout lay, float alpha, float beta,
                      fp4_dtype ct, int tile, int poke, int wsmode = WS_NONE, int codes = -1, int maxdata = 0,
                      int spread = -1) {
  qt A = make_qt(f, rule, M, K, FP4_LAYOUT_LINEAR), B = make_qt(f, rule, N, K, FP4_LAYOUT_LINEAR);
  if (poke) {
    poke_scales(A, 1);
    poke_scales(B, 0);
  }
  if (codes >= 0) {
    for (auto &c : A.scales) c = (uint8_t)(codes & 0xFF);
    for (auto &c : B.scales) c = (uint8_t)(codes >> 8);
  }
  if (spread >= 0) {
    for (auto &c : A.scales) c = (uint8_t)(115 + h_rand() % 4);
    for (auto &c : B.scales) c = (uint8_t)(124 + h_rand() % (spread + 1));
  }
  if (maxdata) {
    for (size_t i = 0; i < A.data.size(); i++) A.data[i] = (i / (size_t)(K / 2)) % 2 ? 0xFF : 0x77;
    for (auto &c : B.data) c = 0x77;
  }
  if (lay == FP4_LAYOUT_SWIZZLED) { /* swizzle after poking so both layouts see the same codes */
    for (qt *t : {&A, &B}) {
      int64_t sc = t->h.cols / fp4_format_block(f);
      std::vector<uint8_t> sw(fp4_scale_bytes(f, t->h.rows, t->h.cols, FP4_LAYOUT_SWIZZLED));
      CHECK_EQ(FP4_OK, fp4_scales_to_swizzled(t->scales.data(), t->h.rows, sc, sw.data()));
      t->scales = sw;
      t->h.scales = t->scales.data();
      t->h.scale_layout = FP4_LAYOUT_SWIZZLED;
    }
  }
  qt_upload(A);
  qt_upload(B);
  const int64_t ldc = N + (h_rand() % 3);
  std::vector<uint8_t> c0 = random_c(M, ldc, ct), ref = c0, got(c0.size()), got2(c0.size());
  CHECK_EQ(FP4_OK, host_w4a4(A, B, alpha, beta, ref.data(), ct, ldc));
  void *dc, *wsa = NULL, *ws = NULL;
  const size_t need = (size_t)M * K;
  size_t wsb = 0;
  CU(cudaMalloc(&dc, c0.size() > need ? c0.size() : need));
  if (wsmode == WS_FULL) wsb = fp4_cuda_gemm_workspace_size(M, N, K);
  if (wsmode == WS_SMALL) wsb = need - 1;
  if (wsmode == WS_MISALIGNED) wsb = need + 8;
  if (wsb) {
    CU(cudaMalloc(&wsa, wsb + 8));
    ws = wsmode == WS_MISALIGNED ? (void *)((char *)wsa + 8) : wsa;
  }
  if (wsmode == WS_OVERLAP) ws = dc, wsb = need; /* overlaps C: not used */
  const int f8 = wsmode == WS_FULL && f == FP4_MXFP4 && fp4__cuda_gemm_has_wgmma() &&
                 (tile == FP4_CUDA_GEMM_TILE_AUTO || tile == FP4_CUDA_GEMM_TILE_WG64 || tile == FP4_CUDA_GEMM_TILE_WG128);
  const long runs0 = fp4__cuda_gemm_f8wg_runs(0);
  for (int rep = 0; rep < 2; rep++) {
    CU(cudaMemcpy(dc, c0.data(), c0.size(), cudaMemcpyHostToDevice));
    fp4_status st = fp4__cuda_gemm_w4a4(&A.d, &B.d, alpha, beta, dc, ct, ldc, ws, wsb, 0, FP4_CUDA_GEMM_W4A4_EXACT, tile);
    CHECK_EQ(FP4_OK, st);
    CU(cudaDeviceSynchronize());
    CU(cudaMemcpy(rep ? got2.data() : got.data(), dc, c0.size(), cudaMemcpyDeviceToHost));
  }
  /* which kernel ran: the FP8 wgmma one exactly where it applies */
  CHECK_EQ(f8 ? 2L : 0L, fp4__cuda_gemm_f8wg_runs(0) - runs0);
  if (f8) g_f8_cases++;
  cudaFree(wsa);
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < ref.size(); i += dt_size(ct))
    if (memcmp(&ref[i], &got[i], dt_size(ct))) {
      /* NaN payloads may differ between host and device: any NaN matches any NaN */
      int64_t e = (int64_t)(i / dt_size(ct));
      float x = fp4__load(ref.data(), ct, e), y = fp4__load(got.data(), ct, e);
      if (x != x && y != y) continue;
      if (!bad) first = i / dt_size(ct);
      bad++;
    }
  if (bad) {
    float x = fp4__load(ref.data(), ct, (int64_t)first), y = fp4__load(got.data(), ct, (int64_t)first);
    fprintf(stderr, "w4a4 %s M=%d N=%d K=%d layout=%d out=%d tile=%d poke=%d ws=%d codes=%d max=%d: %zu mismatches, "
            "first at (%lld,%lld): ref %.9g got %.9g\n", fp4_format_name(f), M, N, K, (int)lay, (int)ct, tile, poke,
            wsmode, codes, maxdata, bad,
            (long long)(first / ldc), (long long)(first % ldc), (double)x, (double)y);
  }
  CHECK_EQ(0, bad);
  CHECK(memcmp(got.data(), got2.data(), got.size()) == 0);
  H_DIGEST(ref.data(), ref.size());
  cudaFree(dc);
  qt_free(A);
  qt_free(B);
}

/* W4A16: f32 output against float64 of the dequantized operands; 16-bit outputs = f32 result rounded. */
static void w4a16_case(fp4_format f, fp4_rule rule, fp4_dtype at, int M, int N, int K, fp4_layout lay, float alpha,
                       float beta, int tile, int use_ws = 0) {
  qt B = make_qt(f, rule, N, K, lay);
  qt_upload(B);
  if (tile >= FP4_CUDA_GEMM_TILE_WG64 && (at == FP4_F32 || (at == FP4_F16 && f == FP4_MXFP4))) {
    void *dx, *dy;
    CU(cudaMalloc(&dx, (size_t)M * K * 4));
    CU(cudaMalloc(&dy, (size_t)M * N * 4));
    CHECK_EQ(FP4_ERR_UNSUPPORTED, fp4__cuda_gemm_w4a16(dx, at, M, K, &B.d, 1.0f, 0.0f, dy, FP4_F32, N, NULL, 0, 0, tile));
    cudaFree(dx);
    cudaFree(dy);
    qt_free(B);
    return;
  }
  const int64_t lda = K + (at == FP4_F32 ? 4 : 8) * (int64_t)(h_rand() % 2);
  std::vector<uint8_t> a((size_t)(M * lda) * dt_size(at));
  for (int64_t i = 0; i < M * lda; i++) fp4__store(a.data(), at, i, (float)h_normal());
  std::vector<float> bd((size_t)N * K);
  CHECK_EQ(FP4_OK, fp4_dequantize_f32(&B.h, bd.data(), K));
  const int64_t ldc = N;
  std::vector<uint8_t> c0 = random_c(M, ldc, FP4_F32);
  double num = 0, den = 0;
  for (int m = 0; m < M; m++)
    for (int n = 0; n < N; n++) {
      double s = 0;
      for (int k = 0; k < K; k++) s += (double)fp4__load(a.data(), at, (int64_t)m * lda + k) * bd[(size_t)n * K + k];
      s = (double)alpha * s + (double)beta * fp4__load(c0.data(), FP4_F32, (int64_t)m * ldc + n);
      den += s * s;
      (void)num;
    }
  void *da, *dc, *ws = NULL;
  const size_t wsb = use_ws ? fp4_cuda_gemm_workspace_size(M, N, K) : 0; /* Hopper: split-K partials */
  if (wsb) CU(cudaMalloc(&ws, wsb));
  CU(cudaMalloc(&da, a.size()));
  CU(cudaMalloc(&dc, c0.size()));
  CU(cudaMemcpy(da, a.data(), a.size(), cudaMemcpyHostToDevice));
  std::vector<float> c32((size_t)(M * ldc)), c32b((size_t)(M * ldc));
  for (int rep = 0; rep < 2; rep++) {
    CU(cudaMemcpy(dc, c0.data(), c0.size(), cudaMemcpyHostToDevice));
    CHECK_EQ(FP4_OK, fp4__cuda_gemm_w4a16(da, at, M, lda, &B.d, alpha, beta, dc, FP4_F32, ldc, ws, wsb, 0, tile));
    CU(cudaDeviceSynchronize());
    CU(cudaMemcpy(rep ? c32b.data() : c32.data(), dc, c0.size(), cudaMemcpyDeviceToHost));
  }
  CHECK(memcmp(c32.data(), c32b.data(), c32.size() * 4) == 0);
  for (int m = 0; m < M; m++)
    for (int n = 0; n < N; n++) {
      double s = 0;
      for (int k = 0; k < K; k++) s += (double)fp4__load(a.data(), at, (int64_t)m * lda + k) * bd[(size_t)n * K + k];
      s = (double)alpha * s + (double)beta * fp4__load(c0.data(), FP4_F32, (int64_t)m * ldc + n);
      double e = (double)c32[(size_t)(m * ldc + n)] - s;
      num += e * e;
    }
  double rel = den > 0 ? sqrt(num / den) : sqrt(num);
  if (rel > 1e-5)
    fprintf(stderr, "w4a16 %s act=%d M=%d N=%d K=%d tile=%d ws=%d: rel %.3g\n", fp4_format_name(f), (int)at, M, N, K, tile,
            use_ws, rel);
  CHECK_LE(rel, 1e-5);
  /* 16-bit outputs (beta = 0): the f32 result rounded once */
  for (fp4_dtype ct : {FP4_BF16, FP4_F16}) {
    std::vector<uint16_t> c16((size_t)(M * ldc));
    CHECK_EQ(FP4_OK, fp4__cuda_gemm_w4a16(da, at, M, lda, &B.d, alpha, 0.0f, dc, FP4_F32, ldc, ws, wsb, 0, tile));
    CU(cudaMemcpy(c32.data(), dc, c32.size() * 4, cudaMemcpyDeviceToHost));
    CHECK_EQ(FP4_OK, fp4__cuda_gemm_w4a16(da, at, M, lda, &B.d, alpha, 0.0f, dc, ct, ldc, ws, wsb, 0, tile));
    CU(cudaMemcpy(c16.data(), dc, c16.size() * 2, cudaMemcpyDeviceToHost));
    size_t bad = 0;
    for (size_t i = 0; i < c16.size(); i++) {
      uint16_t e = ct == FP4_BF16 ? fp4_f32_to_bf16(c32[i]) : fp4_f32_to_f16(c32[i]);
      bad += e != c16[i];
    }
    CHECK_EQ(0, bad);
  }
  cudaFree(da);
  cudaFree(dc);
  cudaFree(ws);
  qt_free(B);
}

static void validation(void) {
  qt A = make_qt(FP4_MXFP4, FP4_MX_OCP, 8, 64, FP4_LAYOUT_LINEAR), B = make_qt(FP4_MXFP4, FP4_MX_OCP, 8, 64, FP4_LAYOUT_LINEAR);
  qt Bn = make_qt(FP4_NVFP4, FP4_NV_6, 8, 64, FP4_LAYOUT_LINEAR);
  qt_upload(A);
  qt_upload(B);
  qt_upload(Bn);
  float *dc;
  CU(cudaMalloc(&dc, 8 * 8 * 4 + 16));
  CHECK_EQ(FP4_OK, fp4_cuda_gemm_w4a4_f32(&A.d, &B.d, 1.0f, 0.0f, dc, 8, NULL, 0, 0));
  CHECK_EQ(FP4_ERR_NULL, fp4_cuda_gemm_w4a4_f32(NULL, &B.d, 1.0f, 0.0f, dc, 8, NULL, 0, 0));
  CHECK_EQ(FP4_ERR_NULL, fp4_cuda_gemm_w4a4_f32(&A.d, &B.d, 1.0f, 0.0f, NULL, 8, NULL, 0, 0));
  CHECK_EQ(FP4_ERR_UNSUPPORTED, fp4_cuda_gemm_w4a4_f32(&A.d, &Bn.d, 1.0f, 0.0f, dc, 8, NULL, 0, 0));
  CHECK_EQ(FP4_ERR_LD, fp4_cuda_gemm_w4a4_f32(&A.d, &B.d, 1.0f, 0.0f, dc, 7, NULL, 0, 0));
  CHECK_EQ(FP4_ERR_ALIGN, fp4_cuda_gemm_w4a4_f32(&A.d, &B.d, 1.0f, 0.0f, (float *)((char *)dc + 2), 8, NULL, 0, 0));
  CHECK_EQ(FP4_ERR_ALIAS, fp4_cuda_gemm_w4a4_f32(&A.d, &B.d, 1.0f, 0.0f, (float *)B.d.data, 8, NULL, 0, 0));
  fp4_tensor bad = A.d;
  bad.cols = 48;
  CHECK_EQ(FP4_ERR_SHAPE, fp4_cuda_gemm_w4a4_f32(&bad, &B.d, 1.0f, 0.0f, dc, 8, NULL, 0, 0));
  bad = A.d;
  bad.format = (fp4_format)7;
  CHECK_EQ(FP4_ERR_ENUM, fp4_cuda_gemm_w4a4_f32(&bad, &B.d, 1.0f, 0.0f, dc, 8, NULL, 0, 0));
  bad = A.d;
  bad.rows = 0;
  CHECK_EQ(FP4_ERR_SIZE, fp4_cuda_gemm_w4a4_f32(&bad, &B.d, 1.0f, 0.0f, dc, 8, NULL, 0, 0));
  bad = A.d;
  bad.data += 4; /* packed rows need 8-byte aligned bases */
  CHECK_EQ(FP4_ERR_ALIGN, fp4_cuda_gemm_w4a4_f32(&bad, &B.d, 1.0f, 0.0f, dc, 8, NULL, 0, 0));
  uint16_t *dx;
  CU(cudaMalloc(&dx, 8 * 72 * 2));
  CU(cudaMemset(dx, 0, 8 * 72 * 2)); /* the one call that runs reads it (compute-sanitizer initcheck) */
  CHECK_EQ(FP4_OK, fp4_cuda_gemm_w4a16_bf16_f32(dx, 8, 64, &B.d, 1.0f, 0.0f, dc, 8, NULL, 0, 0));
  CHECK_EQ(FP4_ERR_LD, fp4_cuda_gemm_w4a16_bf16_f32(dx, 8, 32, &B.d, 1.0f, 0.0f, dc, 8, NULL, 0, 0));
  CHECK_EQ(FP4_ERR_ALIGN, fp4_cuda_gemm_w4a16_bf16_f32(dx, 8, 68, &B.d, 1.0f, 0.0f, dc, 8, NULL, 0, 0));
  CHECK_EQ(FP4_ERR_ALIGN, fp4_cuda_gemm_w4a16_bf16_f32(dx + 1, 8, 64, &B.d, 1.0f, 0.0f, dc, 8, NULL, 0, 0));
  CHECK_EQ(FP4_ERR_SIZE, fp4_cuda_gemm_w4a16_bf16_f32(dx, 0, 64, &B.d, 1.0f, 0.0f, dc, 8, NULL, 0, 0));
  CHECK_EQ(FP4_ERR_NULL, fp4_cuda_gemm_w4a16_bf16_f32(NULL, 8, 64, &B.d, 1.0f, 0.0f, dc, 8, NULL, 0, 0));
  CHECK_EQ(FP4_ERR_ARG, fp4__cuda_gemm_w4a4(&A.d, &B.d, 1.0f, 0.0f, dc, FP4_F32, 8, NULL, 0, 0, 5, -1));
  CU(cudaDeviceSynchronize());
  cudaFree(dx);
  cudaFree(dc);
  qt_free(A);
  qt_free(B);
  qt_free(Bn);
}

/* float64 of alpha * A.B^T + beta * C0 on the dequantized operands (f32 C0, pitch ldc): M x N, pitch N. */
static std::vector<double> w4a4_ref64(const qt &A, const qt &B, float alpha, float beta, const std::vector<uint8_t> &c0,
                                      int64_t ldc) {
  const int64_t M = A.h.rows, N = B.h.rows, K = A.h.cols;
  std::vector<float> ad((size_t)(M * K)), bd((size_t)(N * K));
  CHECK_EQ(FP4_OK, fp4_dequantize_f32(&A.h, ad.data(), K));
  CHECK_EQ(FP4_OK, fp4_dequantize_f32(&B.h, bd.data(), K));
  std::vector<double> r((size_t)(M * N));
  for (int64_t m = 0; m < M; m++)
    for (int64_t n = 0; n < N; n++) {
      double s = 0;
      for (int64_t k = 0; k < K; k++) s += (double)ad[(size_t)(m * K + k)] * bd[(size_t)(n * K + k)];
      r[(size_t)(m * N + n)] = (double)alpha * s + (double)beta * fp4__load(c0.data(), FP4_F32, m * ldc + n);
    }
  return r;
}

/* The _fast names. Without a workspace on Hopper (and on devices without native FP4 MMA or wgmma) they
 * run the exact kernel (same bits). With fp4_cuda_gemm_workspace_size bytes on Hopper: A dequantized to
 * bf16 + the wgmma kernel, checked against float64 of the dequantized operands (<= 1e-5, f32 output; the
 * error is printed), 16-bit outputs = the f32 result rounded once, repeats bit-identical. On Blackwell,
 * within spec §5's 5e-4 of the exact result. */
static double g_fast_err_max = 0.0;
static void fast_case(fp4_format f, int M, int N, int K, fp4_layout lay, float alpha, float beta) {
  qt A = make_qt(f, fp4_rule_resolve(f, FP4_RULE_DEFAULT), M, K, lay);
  qt B = make_qt(f, fp4_rule_resolve(f, FP4_RULE_DEFAULT), N, K, lay);
  qt_upload(A);
  qt_upload(B);
  const int64_t ldc = N + (int64_t)(h_rand() % 3);
  std::vector<uint8_t> c0 = random_c(M, ldc, FP4_F32);
  float *d1, *d2;
  void *ws;
  const size_t wsb = fp4_cuda_gemm_workspace_size(M, N, K);
  CHECK(wsb >= (size_t)M * K * 2);
  CU(cudaMalloc(&d1, c0.size()));
  CU(cudaMalloc(&d2, c0.size()));
  CU(cudaMalloc(&ws, wsb));
  std::vector<float> x((size_t)M * ldc), y((size_t)M * ldc), y2((size_t)M * ldc);
  CU(cudaMemcpy(d1, c0.data(), c0.size(), cudaMemcpyHostToDevice));
  CHECK_EQ(FP4_OK, fp4_cuda_gemm_w4a4_f32(&A.d, &B.d, alpha, beta, d1, ldc, NULL, 0, 0));
  CU(cudaMemcpy(x.data(), d1, x.size() * 4, cudaMemcpyDeviceToHost));
  /* no workspace: the exact kernel below Blackwell */
  CU(cudaMemcpy(d2, c0.data(), c0.size(), cudaMemcpyHostToDevice));
  CHECK_EQ(FP4_OK, fp4_cuda_gemm_w4a4_fast_f32(&A.d, &B.d, alpha, beta, d2, ldc, NULL, 0, 0));
  CU(cudaMemcpy(y.data(), d2, y.size() * 4, cudaMemcpyDeviceToHost));
  if (fp4__cuda_gemm_major() < 10) CHECK(memcmp(x.data(), y.data(), x.size() * 4) == 0);
  /* with the workspace, twice */
  for (int rep = 0; rep < 2; rep++) {
    CU(cudaMemcpy(d2, c0.data(), c0.size(), cudaMemcpyHostToDevice));
    CHECK_EQ(FP4_OK, fp4_cuda_gemm_w4a4_fast_f32(&A.d, &B.d, alpha, beta, d2, ldc, ws, wsb, 0));
    CU(cudaDeviceSynchronize());
    CU(cudaMemcpy(rep ? y2.data() : y.data(), d2, y.size() * 4, cudaMemcpyDeviceToHost));
  }
  CHECK(memcmp(y.data(), y2.data(), y.size() * 4) == 0);
  if (FP4__CG_F8WG_FAST && f == FP4_MXFP4 && fp4__cuda_gemm_has_wgmma()) /* Hopper MXFP4 _fast: the exact kernel */
    CHECK(memcmp(x.data(), y.data(), x.size() * 4) == 0);
  if (fp4__cuda_gemm_major() >= 10) {
    double num = 0, den = 0;
    for (size_t i = 0; i < x.size(); i++) num += ((double)x[i] - y[i]) * ((double)x[i] - y[i]), den += (double)x[i] * x[i];
    CHECK_LE(sqrt(num / den), 5e-4);
  } else {
    const std::vector<double> ref = w4a4_ref64(A, B, alpha, beta, c0, ldc);
    double num = 0, den = 0, nx = 0;
    for (int m = 0; m < M; m++)
      for (int n = 0; n < N; n++) {
        const double s = ref[(size_t)m * N + n];
        const double e = (double)y[(size_t)m * ldc + n] - s, ex = (double)x[(size_t)m * ldc + n] - s;
        num += e * e, den += s * s, nx += ex * ex;
      }
    const double rel = sqrt(num / den);
    if (rel > g_fast_err_max) g_fast_err_max = rel;
    printf("w4a4_fast %s M=%d N=%d K=%d: rel. Frobenius error vs float64 %.3g (exact kernel %.3g)\n",
           fp4_format_name(f), M, N, K, rel, sqrt(nx / den));
    CHECK_LE(rel, 1e-5);
    /* 16-bit outputs (beta = 0): the f32 result rounded once */
    CHECK_EQ(FP4_OK, fp4_cuda_gemm_w4a4_fast_f32(&A.d, &B.d, alpha, 0.0f, d2, ldc, ws, wsb, 0));
    CU(cudaMemcpy(y.data(), d2, y.size() * 4, cudaMemcpyDeviceToHost));
    std::vector<uint16_t> h((size_t)M * ldc);
    CHECK_EQ(FP4_OK, fp4_cuda_gemm_w4a4_fast_bf16(&A.d, &B.d, alpha, 0.0f, (uint16_t *)d1, ldc, ws, wsb, 0));
    CU(cudaMemcpy(h.data(), d1, h.size() * 2, cudaMemcpyDeviceToHost));
    size_t bad = 0;
    for (int m = 0; m < M; m++)
      for (int n = 0; n < N; n++) bad += h[(size_t)m * ldc + n] != fp4_f32_to_bf16(y[(size_t)m * ldc + n]);
    CHECK_EQ(0, bad);
  }
  cudaFree(ws);
  cudaFree(d1);
  cudaFree(d2);
  qt_free(A);
  qt_free(B);
}

/* Host checks of the kernels' building blocks (they run without a GPU too):
 *  - the nibble decoders (int8, E4M3, bf16, f16), exhaustively over 65536 inputs (4 codes each), against
 *    fp4.h's codecs;
 *  - the exact engine's promotion, for every pair of scale codes of each format and a set of block sums
 *    T, against acc + fp4_w4a4_block_term (spec §5), bit for bit (any NaN matches any NaN). */
static int same_float(float a, float b) { return memcmp(&a, &b, 4) == 0 || (a != a && b != b); }

static void host_building_blocks(void) {
  size_t bad_s8 = 0, bad_e8 = 0, bad_bf = 0, bad_h = 0;
  for (uint32_t x = 0; x < 65536; x++) {
    uint32_t v = fp4__cuda_gemm_e2m1x4_s8(x), b0, b1, h0, h1;
    const uint32_t e8 = fp4__cuda_gemm_e2m1x4_sm8(x, FP4__CG_E4M3_LO, FP4__CG_E4M3_HI);
    fp4__cuda_gemm_e2m1x4_h16<1>(x, b0, b1);
    fp4__cuda_gemm_e2m1x4_h16<0>(x, h0, h1);
    for (int i = 0; i < 4; i++) {
      uint8_t code = (uint8_t)((x >> (4 * i)) & 15u);
      bad_s8 += (int8_t)(v >> (8 * i)) != fp4_e2m1_to_int2(code);
      bad_e8 += !same_float(fp4_e4m3_to_float((uint8_t)(e8 >> (8 * i))), fp4_e2m1_to_float(code));
      uint16_t bb = (uint16_t)((i < 2 ? b0 : b1) >> (16 * (i & 1)));
      uint16_t hh = (uint16_t)((i < 2 ? h0 : h1) >> (16 * (i & 1)));
      bad_bf += bb != fp4_f32_to_bf16(fp4_e2m1_to_float(code));
      bad_h += hh != fp4_f32_to_f16(fp4_e2m1_to_float(code));
    }
  }
  CHECK_EQ(0, bad_s8);
  CHECK_EQ(0, bad_e8);
  CHECK_EQ(0, bad_bf);
  CHECK_EQ(0, bad_h);
  /* wgmma path: the byte gather (byte l of each word), the 16-bit scale pairs of every code */
  size_t bad_g = 0, bad_sc = 0;
  for (int t = 0; t < 1000; t++) {
    uint32_t w[8], u0, u1;
    for (int i = 0; i < 8; i++) w[i] = h_rand();
    for (int l = 0; l < 4; l++) {
      fp4__cuda_gemm_gather4(w, l, u0, u1);
      for (int i = 0; i < 8; i++) bad_g += ((i < 4 ? u0 : u1) >> (8 * (i & 3)) & 0xFFu) != ((w[i] >> (8 * l)) & 0xFFu);
    }
  }
  for (int c = 0; c < 256; c++) {
    const uint32_t mx = fp4__cuda_gemm_scale_h2<FP4_MXFP4, 1>((uint8_t)c), nb = fp4__cuda_gemm_scale_h2<FP4_NVFP4, 1>((uint8_t)c);
    const uint32_t nh = fp4__cuda_gemm_scale_h2<FP4_NVFP4, 0>((uint8_t)c);
    const float vm = fp4__cuda_gemm_e8m0_f((uint8_t)c, 0), vn = fp4_e4m3_to_float((uint8_t)c);
    bad_sc += (mx & 0xFFFFu) != fp4_f32_to_bf16(vm) && !(vm != vm && (mx & 0x7FFFu) > 0x7F80u);
    bad_sc += (mx >> 16) != (mx & 0xFFFFu);
    bad_sc += !same_float(fp4_bf16_to_f32((uint16_t)nb), vn) || !same_float(fp4_f16_to_f32((uint16_t)nh), vn);
  }
  CHECK_EQ(0, bad_g);
  CHECK_EQ(0, bad_sc);
  static const int32_t Ts[] = {0, 1, -1, 3, -5, 7, 12, -144, 1000, -1001, 2047, 4095, 4607, -4608, 4608};
  const float accs[] = {0.0f, 1.0f, -3.5f, 1e-30f, -7e20f, 1.17549435e-38f, 3e-40f, 123456.789f};
  for (int fi = 0; fi < 2; fi++) {
    const int fmt = fi ? FP4_NVFP4 : FP4_MXFP4;
    size_t bad = 0, n = 0;
    for (int ea = 0; ea < 256; ea++) {
      if (fmt == FP4_MXFP4 && fp4__cuda_gemm_mx_slow((uint8_t)ea)) continue; /* scalar path there */
      const float2 fa = fp4__cuda_gemm_row_factor(fmt, (uint8_t)ea);
      for (int eb = 0; eb < 256; eb++) {
        const float fb = fp4__cuda_gemm_col_factor(fmt, (uint8_t)eb);
        for (int32_t T : Ts)
          for (float acc : accs) {
            float want = acc + fp4_w4a4_block_term((fp4_format)fmt, T, (uint8_t)ea, (uint8_t)eb);
            float got = fp4__cuda_gemm_promote(fmt, acc, FP4__CG_MAGIC + T, fa, fb);
            n++;
            if (!same_float(want, got)) {
              if (!bad)
                fprintf(stderr, "promote %s ea=%d eb=%d T=%d acc=%g: want %.9g got %.9g\n", fi ? "nvfp4" : "mxfp4", ea,
                        eb, (int)T, (double)acc, (double)want, (double)got);
              bad++;
            }
          }
      }
    }
    CHECK_EQ(0, bad);
    CHECK(n > 100000);
  }
}

/* Hopper _fast with both operands prepared (FP4_CUDA_GEMM_TILE_SS by name, or the automatic choice where
 * fp4__cuda_gemm_ss_pick says, with fp4_cuda_gemm_workspace_size bytes; a launch counter proves it ran): relative
 * Frobenius error against float64 of the dequantized operands <= 5e-4 (spec section 5; NVFP4's exact bf16
 * operands: <= 1e-5 up to K = 4096), printed; bit-identical repeats; bf16 output = the f32 result
 * rounded once. spread: block magnitudes 2^-6 .. 2^6 within rows (MXFP4: the folded exponents differ by
 * up to 12 within a 256-K group). nan_row: one NaN scale code in A's row 1: that row of C is NaN, the
 * others finite. */
static double g_ss_err[2] = {0.0, 0.0};
static long g_ss_cases = 0;
static void ss_case(fp4_format f, int M, int N, int K, fp4_layout lay, float alpha, float beta, int tile, int spread = 0,
                    int nan_row = 0) {
  qt A = make_qt(f, fp4_rule_resolve(f, FP4_RULE_DEFAULT), M, K, lay, spread);
  qt B = make_qt(f, fp4_rule_resolve(f, FP4_RULE_DEFAULT), N, K, lay, spread);
  const int64_t nblk = K / fp4_format_block(f);
  if (nan_row) A.scales[fp4__scale_offset(lay, 1, 0, nblk)] = f == FP4_MXFP4 ? 0xFF : 0x7F;
  qt_upload(A);
  qt_upload(B);
  const int64_t ldc = N + (int64_t)(h_rand() % 3);
  std::vector<uint8_t> c0 = random_c(M, ldc, FP4_F32);
  const size_t need = fp4__cuda_gemm_ss_layout(f == FP4_MXFP4, M, N, K).total;
  const size_t wsb = tile == FP4_CUDA_GEMM_TILE_AUTO ? fp4_cuda_gemm_workspace_size(M, N, K) : need;
  CHECK(wsb >= need);
  float *d;
  void *ws;
  CU(cudaMalloc(&d, c0.size()));
  CU(cudaMalloc(&ws, wsb));
  std::vector<float> y((size_t)M * ldc), y2((size_t)M * ldc);
  for (int rep = 0; rep < 2; rep++) {
    CU(cudaMemcpy(d, c0.data(), c0.size(), cudaMemcpyHostToDevice));
    const long r0 = fp4__cuda_gemm_ss_runs(0);
    if (tile == FP4_CUDA_GEMM_TILE_AUTO)
      CHECK_EQ(FP4_OK, fp4_cuda_gemm_w4a4_fast_f32(&A.d, &B.d, alpha, beta, d, ldc, ws, wsb, 0));
    else
      CHECK_EQ(FP4_OK, fp4__cuda_gemm_w4a4(&A.d, &B.d, alpha, beta, d, FP4_F32, ldc, ws, wsb, 0, FP4_CUDA_GEMM_W4A4_NATIVE, tile));
    CU(cudaDeviceSynchronize());
    CHECK_EQ(r0 + 1, fp4__cuda_gemm_ss_runs(0));
    CU(cudaMemcpy(rep ? y2.data() : y.data(), d, y.size() * 4, cudaMemcpyDeviceToHost));
  }
  CHECK(memcmp(y.data(), y2.data(), y.size() * 4) == 0);
  const std::vector<double> ref = w4a4_ref64(A, B, alpha, beta, c0, ldc);
  double num = 0, den = 0;
  size_t badnan = 0;
  for (int m = 0; m < M; m++)
    for (int n = 0; n < N; n++) {
      const double s = ref[(size_t)m * N + n];
      const double v = y[(size_t)m * ldc + n];
      if (s != s || v != v) {
        badnan += (s != s) != (v != v);
        continue;
      }
      num += (v - s) * (v - s), den += s * s;
    }
  CHECK_EQ(0, badnan);
  if (nan_row) {
    size_t nn = 0;
    for (int n = 0; n < N; n++) nn += y[(size_t)ldc + n] != y[(size_t)ldc + n];
    CHECK_EQ((size_t)N, nn);
  }
  const double rel = sqrt(num / den);
  const int fi = f == FP4_NVFP4;
  if (rel > g_ss_err[fi]) g_ss_err[fi] = rel;
  printf("w4a4_fast ss %s M=%d N=%d K=%d%s: rel. Frobenius error vs float64 %.3g\n", fp4_format_name(f), M, N, K,
         spread ? " (spread scales)" : "", rel);
  CHECK_LE(rel, fi && K <= 4096 ? 1e-5 : 5e-4);
  if (beta == 0.0f) { /* bf16 output: the f32 result rounded once */
    std::vector<uint16_t> h((size_t)M * ldc);
    CHECK_EQ(FP4_OK, fp4__cuda_gemm_w4a4(&A.d, &B.d, alpha, 0.0f, d, FP4_BF16, ldc, ws, wsb, 0, FP4_CUDA_GEMM_W4A4_NATIVE,
                                         FP4_CUDA_GEMM_TILE_SS));
    CU(cudaMemcpy(h.data(), d, h.size() * 2, cudaMemcpyDeviceToHost));
    size_t bad = 0;
    for (int m = 0; m < M; m++)
      for (int n = 0; n < N; n++) {
        const float v = y[(size_t)m * ldc + n];
        bad += v == v && h[(size_t)m * ldc + n] != fp4_f32_to_bf16(v);
      }
    CHECK_EQ(0, bad);
  }
  /* a workspace one byte short: not this path (the automatic choice takes the bf16-A path) */
  {
    const long r0 = fp4__cuda_gemm_ss_runs(0);
    CHECK_EQ(FP4_OK, fp4_cuda_gemm_w4a4_fast_f32(&A.d, &B.d, alpha, 0.0f, d, ldc, ws, need - 1, 0));
    CHECK_EQ(FP4_ERR_ARG, fp4__cuda_gemm_w4a4(&A.d, &B.d, alpha, 0.0f, d, FP4_F32, ldc, ws, need - 1, 0,
                                              FP4_CUDA_GEMM_W4A4_NATIVE, FP4_CUDA_GEMM_TILE_SS));
    CU(cudaDeviceSynchronize());
    CHECK_EQ(r0, fp4__cuda_gemm_ss_runs(0));
  }
  g_ss_cases++;
  cudaFree(d);
  cudaFree(ws);
  qt_free(A);
  qt_free(B);
}

/* One small case per kernel and path (the sanitizer run): W4A4 mma.sync at both tiles, the FP8 wgmma
 * kernel (both widths, K past one stage ring), _fast, W4A16 at every tile and activation type, split-K
 * with its reduction, the TMA kernel's long-K promotion, and the GEMV hand-over. */
static void sanitize_set(void) {
  for (int fi = 0; fi < 2; fi++) {
    const fp4_format f = fi ? FP4_NVFP4 : FP4_MXFP4;
    const fp4_rule r = fi ? FP4_NV_6 : FP4_MX_OCP;
    const int kq = fi ? 16 : 32;
    for (int tile = 0; tile < 2; tile++)
      w4a4_case(f, r, 37, 53, 3 * kq, FP4_LAYOUT_LINEAR, 1.0f, 0.5f, FP4_F32, tile, 1);
    if (!fi) {
      w4a4_case(f, r, 70, 150, 544, FP4_LAYOUT_LINEAR, -1.5f, 0.5f, FP4_BF16, FP4_CUDA_GEMM_TILE_WG64, 0, WS_FULL);
      w4a4_case(f, r, 129, 131, 1056, FP4_LAYOUT_SWIZZLED, 1.0f, 0.0f, FP4_F32, FP4_CUDA_GEMM_TILE_WG128, 1, WS_FULL);
    }
    fast_case(f, 100, 130, 512 + kq, FP4_LAYOUT_LINEAR, 1.0f, 0.5f);
    if (fp4__cuda_gemm_has_wgmma()) {
      ss_case(f, 130, 260, 512 + 2 * kq, FP4_LAYOUT_LINEAR, 1.0f, 0.5f, FP4_CUDA_GEMM_TILE_SS);
      if (!fi) ss_case(f, 1280, 1700, 256, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, FP4_CUDA_GEMM_TILE_SS); /* CTAs loop over tiles */
    }
    const fp4_dtype acts[3] = {FP4_BF16, FP4_F16, FP4_F32};
    for (int ai = 0; ai < 3; ai++)
      for (int tile = 0; tile < FP4_CUDA_GEMM_TILE_COUNT; tile++)
        w4a16_case(f, r, acts[ai], 33, 70, 7 * kq, FP4_LAYOUT_SWIZZLED, 0.5f, 0.25f, tile);
    if (fp4__cuda_gemm_has_wgmma()) {
      for (int tile = FP4_CUDA_GEMM_TILE_WG64; tile <= FP4_CUDA_GEMM_TILE_WG_CP; tile++)
        w4a16_case(f, r, FP4_BF16, 150, 140, 512 + kq, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, tile);
      w4a16_case(f, r, FP4_BF16, 300, 260, 512, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, FP4_CUDA_GEMM_TILE_WG256);
      w4a16_case(f, r, fi ? FP4_F16 : FP4_BF16, 17, 250, 4096 + 2 * kq, FP4_LAYOUT_SWIZZLED, -0.5f, 0.75f,
                 FP4_CUDA_GEMM_TILE_WG64, 1);
      w4a16_case(f, r, FP4_BF16, 20, 130, 8448, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, FP4_CUDA_GEMM_TILE_WG128);
    }
    w4a16_case(f, r, FP4_BF16, 1, 300, 2048, FP4_LAYOUT_LINEAR, 1.0f, 0.5f, FP4_CUDA_GEMM_TILE_AUTO, 1);
    w4a16_case(f, r, FP4_F16, 7, 200, 1024 + kq, FP4_LAYOUT_SWIZZLED, 1.0f, 0.0f, FP4_CUDA_GEMM_TILE_AUTO, 1);
  }
}

int main(int argc, char **argv) {
  h_rand_state ^= h_seed();
  host_building_blocks();
  int ndev = 0;
  if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
    printf("no CUDA device\n");
    return h_finish();
  }
  validation();
  if (argc > 1 && !strcmp(argv[1], "sanitize")) {
    sanitize_set();
    printf("sanitize set; exact MXFP4 cases on the FP8 wgmma kernel: %ld\n", g_f8_cases);
    if (fp4__cuda_gemm_has_wgmma()) CHECK(g_f8_cases >= 2);
    return h_finish();
  }
  /* reproducible W4A4 */
  const fp4_dtype outs[3] = {FP4_F32, FP4_BF16, FP4_F16};
  for (int fi = 0; fi < 2; fi++) {
    fp4_format f = fi ? FP4_NVFP4 : FP4_MXFP4;
    fp4_rule r1 = fi ? FP4_NV_6 : FP4_MX_OCP, r2 = fi ? FP4_NV_4OVER6_MSE : FP4_MX_ABSMAX3;
    const int kq = fi ? 16 : 32;
    for (int tile = 0; tile < 2; tile++) {
      w4a4_case(f, r1, 1, 1, kq, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, FP4_F32, tile, 0);
      w4a4_case(f, r1, 37, 53, 3 * kq, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, FP4_F32, tile, 0);
      w4a4_case(f, r2, 130, 67, 5 * kq, FP4_LAYOUT_SWIZZLED, 0.75f, 0.0f, FP4_F32, tile, 0);
      w4a4_case(f, r1, 200, 260, 512, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, FP4_F32, tile, 0);
      w4a4_case(f, r1, 70, 150, 17 * kq, FP4_LAYOUT_LINEAR, -1.5f, 0.5f, outs[tile], tile, 0);
      w4a4_case(f, r2, 90, 33, 256 + kq, FP4_LAYOUT_LINEAR, 2.0f, -1.0f, outs[1 + tile], tile, 0);
      w4a4_case(f, r1, 129, 131, 9 * kq, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, FP4_F32, tile, 1);
      w4a4_case(f, r1, 64, 128, 1024, FP4_LAYOUT_SWIZZLED, 1.0f, 0.0f, FP4_F32, tile, 1);
    }
    if (!fi) { /* Hopper exact MXFP4 (the FP8 wgmma kernel, given the workspace; elsewhere the mma.sync kernel) */
      const int wt[3] = {FP4_CUDA_GEMM_TILE_AUTO, FP4_CUDA_GEMM_TILE_WG64, FP4_CUDA_GEMM_TILE_WG128};
      for (int ti = 0; ti < 3; ti++) {
        const int t = wt[ti];
        w4a4_case(f, r1, 1, 1, 32, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, FP4_F32, t, 0, WS_FULL);
        w4a4_case(f, r1, 37, 53, 96, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, FP4_F32, t, 0, WS_FULL);
        w4a4_case(f, r2, 130, 67, 160, FP4_LAYOUT_SWIZZLED, 0.75f, 0.0f, FP4_F32, t, 0, WS_FULL);
        w4a4_case(f, r1, 200, 260, 512, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, FP4_F32, t, 0, WS_FULL);
        w4a4_case(f, r1, 70, 150, 544, FP4_LAYOUT_LINEAR, -1.5f, 0.5f, outs[ti], t, 0, WS_FULL);
        w4a4_case(f, r2, 90, 33, 288, FP4_LAYOUT_LINEAR, 2.0f, -1.0f, outs[(ti + 1) % 3], t, 0, WS_FULL);
        w4a4_case(f, r1, 129, 131, 288, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, FP4_F32, t, 1, WS_FULL);
        w4a4_case(f, r1, 64, 128, 1024, FP4_LAYOUT_SWIZZLED, 1.0f, 0.0f, FP4_F32, t, 1, WS_FULL);
        w4a4_case(f, r1, 150, 200, 4160, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, FP4_F32, t, 0, WS_FULL);
        w4a4_case(f, r1, 257, 391, 4096, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, outs[ti], t, 1, WS_FULL);
        w4a4_case(f, r2, 333, 129, 4160, FP4_LAYOUT_SWIZZLED, 0.5f, 0.25f, FP4_F32, t, 1, WS_FULL);
      }
      /* every scale code pair from the edges of E8M0 (0, 1, 127, 200, 254, 255), random and all-max data */
      static const int ex[] = {0, 1, 127, 200, 254, 255};
      for (int ca : ex)
        for (int cb : ex) {
          w4a4_case(f, r1, 33, 45, 96, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, FP4_F32, FP4_CUDA_GEMM_TILE_AUTO, 0, WS_FULL,
                    ca | cb << 8);
          w4a4_case(f, r1, 40, 70, 160, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, FP4_F32, FP4_CUDA_GEMM_TILE_WG128, 0, WS_FULL,
                    ca | cb << 8, 1);
        }
      /* weight codes spread within FOLD's reach (8: E4M3 subnormals in the wgmma) and past it */
      for (int sp : {1, 5, 8, 9, 12})
        for (int md = 0; md < 2; md++)
          w4a4_case(f, r1, 150, 200, 1024, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, FP4_F32, FP4_CUDA_GEMM_TILE_AUTO, 0, WS_FULL,
                    -1, md, sp);
      /* no usable workspace: the mma.sync kernel, the same bits */
      for (int wm : {WS_NONE, WS_SMALL, WS_OVERLAP, WS_MISALIGNED}) {
        w4a4_case(f, r1, 100, 130, 512, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, FP4_F32, FP4_CUDA_GEMM_TILE_AUTO, 1, wm);
        w4a4_case(f, r1, 65, 129, 256, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, FP4_BF16, FP4_CUDA_GEMM_TILE_WG128, 0, wm);
      }
    }
    fast_case(f, 100, 200, 512, FP4_LAYOUT_LINEAR, 1.0f, 0.0f);
    fast_case(f, 257, 131, 4 * kq + 1024, FP4_LAYOUT_SWIZZLED, -0.75f, 0.5f);
    fast_case(f, 700, 300, 2048, FP4_LAYOUT_LINEAR, 1.0f, 0.0f);
    if (fp4__cuda_gemm_has_wgmma()) {
      const int SS = FP4_CUDA_GEMM_TILE_SS;
      ss_case(f, 300, 260, 1024 + kq, FP4_LAYOUT_LINEAR, 1.0f, 0.5f, SS);        /* K tail: a partial stage */
      ss_case(f, 257, 131, 512 + 2 * kq, FP4_LAYOUT_SWIZZLED, -0.75f, 0.0f, SS); /* odd M, N */
      ss_case(f, 129, 200, kq, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, SS);               /* one block */
      ss_case(f, 200, 300, 2048, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, SS, 1);          /* spread block scales */
      ss_case(f, 130, 129, 256, FP4_LAYOUT_SWIZZLED, 1.0f, 0.0f, SS, 0, 1);      /* a NaN scale */
      if (fi) /* the automatic choice (fp4__cuda_gemm_ss_pick): NVFP4 from M = 4096, MXFP4 from 512 */
        ss_case(f, 4096, 40, 512, FP4_LAYOUT_LINEAR, 2.0f, 0.0f, FP4_CUDA_GEMM_TILE_AUTO);
      else
        ss_case(f, 512, 136, 512, FP4_LAYOUT_LINEAR, 2.0f, 0.0f, FP4_CUDA_GEMM_TILE_AUTO);
      ss_case(f, 260, 130, 8192 + kq, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, SS);        /* long K */
      ss_case(f, 1280, 1800, 256 + kq, FP4_LAYOUT_LINEAR, 1.0f, 0.5f, SS); /* MXFP4: more tiles than SMs */
    }
  }
  /* W4A16 */
  const fp4_dtype acts[3] = {FP4_BF16, FP4_F16, FP4_F32};
  for (int fi = 0; fi < 2; fi++) {
    fp4_format f = fi ? FP4_NVFP4 : FP4_MXFP4;
    fp4_rule r = fi ? FP4_NV_6 : FP4_MX_OCP;
    const int kq = fi ? 16 : 32;
    std::vector<int> tiles;
    for (int tile = 0; tile < FP4_CUDA_GEMM_TILE_COUNT; tile++) tiles.push_back(tile);
    if (fp4__cuda_gemm_has_wgmma())
      for (int tile = FP4_CUDA_GEMM_TILE_WG64; tile <= FP4_CUDA_GEMM_TILE_WG_CP; tile++) tiles.push_back(tile);
    for (int ai = 0; ai < 3; ai++)
      for (int tile : tiles) {
        w4a16_case(f, r, acts[ai], 1, 40, 2 * kq, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, tile);
        w4a16_case(f, r, acts[ai], 33, 70, 7 * kq, FP4_LAYOUT_SWIZZLED, 0.5f, 0.25f, tile);
        w4a16_case(f, r, acts[ai], 150, 140, 1024 + kq, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, tile);
      }
    w4a16_case(f, r, FP4_BF16, 200, 300, 4096, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, FP4_CUDA_GEMM_TILE_AUTO);
    w4a16_case(f, r, FP4_BF16, 600, 260, 4096 + kq, FP4_LAYOUT_SWIZZLED, -2.0f, 0.5f, FP4_CUDA_GEMM_TILE_AUTO);
    /* M <= 16 with the workspace: the entry point hands over to fp4_cuda.cuh's decode GEMV */
    w4a16_case(f, r, FP4_BF16, 1, 300, 8192, FP4_LAYOUT_LINEAR, 1.0f, 0.5f, FP4_CUDA_GEMM_TILE_AUTO, 1);
    w4a16_case(f, r, FP4_BF16, 5, 300, 8192, FP4_LAYOUT_SWIZZLED, 1.0f, 0.0f, FP4_CUDA_GEMM_TILE_AUTO, 1);
    w4a16_case(f, r, FP4_F32, 16, 200, 1024 + kq, FP4_LAYOUT_LINEAR, 0.5f, 0.0f, FP4_CUDA_GEMM_TILE_AUTO, 1);
    if (fp4__cuda_gemm_has_wgmma()) {
      w4a16_case(f, r, FP4_BF16, 1030, 390, 1024, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, FP4_CUDA_GEMM_TILE_WG256);
      w4a16_case(f, r, fi ? FP4_F16 : FP4_BF16, 77, 129, 16384, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, FP4_CUDA_GEMM_TILE_WG128);
      w4a16_case(f, r, FP4_BF16, 520, 200, 2048, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, FP4_CUDA_GEMM_TILE_WG_CP);
      /* split-K (few output tiles, long K, caller workspace): 2 or 4 splits, K tails, both layouts */
      w4a16_case(f, r, FP4_BF16, 40, 300, 4096, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, FP4_CUDA_GEMM_TILE_WG64, 1);
      w4a16_case(f, r, fi ? FP4_F16 : FP4_BF16, 17, 250, 4096 + 2 * kq, FP4_LAYOUT_SWIZZLED, -0.5f, 0.75f,
                 FP4_CUDA_GEMM_TILE_WG64, 1);
      w4a16_case(f, r, FP4_BF16, 100, 1000, 8192, FP4_LAYOUT_LINEAR, 1.0f, 0.5f, FP4_CUDA_GEMM_TILE_AUTO, 1);
      w4a16_case(f, r, FP4_BF16, 64, 129, 2048, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, FP4_CUDA_GEMM_TILE_WG128, 1);
      /* K > 8192 per CTA: the 128-wide tile with fp32 promotion every 256 K */
      w4a16_case(f, r, FP4_BF16, 90, 140, 16384, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, FP4_CUDA_GEMM_TILE_WG256);
      w4a16_case(f, r, fi ? FP4_F16 : FP4_BF16, 40, 130, 28672, FP4_LAYOUT_LINEAR, 1.0f, 0.0f, FP4_CUDA_GEMM_TILE_AUTO);
    }
  }
  printf("hopper wgmma: %s; max W4A4 _fast error vs float64 %.3g; exact MXFP4 cases on the FP8 wgmma kernel: %ld\n",
         fp4__cuda_gemm_has_wgmma() ? "used" : "not available", g_fast_err_max, g_f8_cases);
  if (fp4__cuda_gemm_has_wgmma()) CHECK(g_f8_cases > 50);
  printf("hopper _fast with both operands prepared: %ld cases, max error vs float64 MXFP4 %.3g, NVFP4 %.3g\n", g_ss_cases,
         g_ss_err[0], g_ss_err[1]);
  if (fp4__cuda_gemm_has_wgmma()) CHECK(g_ss_cases >= 16);
  return h_finish();
}
