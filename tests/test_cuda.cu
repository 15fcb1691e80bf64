/* SPDX-License-Identifier: MIT */
/* fp4_cuda.cuh against fp4.h: memcmp of every quantized byte, scale, mask, fake-quantized and
 * dequantized value, Hadamard output and scale-layout conversion, on random tensors of odd sizes for
 * every format, rule and option; the W4A16 GEMV against a float64 product of the dequantized
 * operands (spec §5 bound). Needs a GPU. */
/* Small grid-stride grids (one CTA per SM) so that mid-sized tensors take several iterations and a
 * remainder, and a low chunk limit so that the larger cases below take the general (64-bit) kernel. */
#define FP4__CUDA_FAST_CTAS_PER_SM 1
#define FP4__CUDA_FAST_MAX_CHUNKS (1 << 16)
#include "fp4_cuda.cuh"
#include "harness.h"

#define CK(call)                                                                            \
  do {                                                                                      \
    cudaError_t e_ = (call);                                                                \
    if (e_ != cudaSuccess) {                                                                \
      fprintf(stderr, "%s:%d: CUDA error %s\n", __FILE__, __LINE__, cudaGetErrorString(e_)); \
      exit(2);                                                                              \
    }                                                                                       \
  } while (0)

static void *dmalloc(size_t n) {
  void *p = NULL;
  CK(cudaMalloc(&p, n ? n : 1));
  return p;
}
static void *dcopy(const void *h, size_t n) {
  void *p = dmalloc(n);
  CK(cudaMemcpy(p, h, n, cudaMemcpyHostToDevice));
  return p;
}
static void hcopy(void *h, const void *d, size_t n) { CK(cudaMemcpy(h, d, n, cudaMemcpyDeviceToHost)); }

static long n_cases;
static int verbose_fail = 8;

/* Random input of rows x ld elements (dtype dt) with row magnitudes spread over many binades, some
 * zero blocks, and (when specials) a few NaN / Inf. */
static void *make_input(fp4_dtype dt, int64_t rows, int64_t ld, int specials) {
  size_t n = (size_t)(rows * ld), es = dt == FP4_F32 ? 4 : 2, i;
  unsigned char *h = (unsigned char *)malloc(n * es);
  for (int64_t r = 0; r < rows; r++) {
    double mag = pow(2.0, (double)(int)(h_rand() % 24) - 12.0);
    if (dt == FP4_F16) mag = pow(2.0, (double)(int)(h_rand() % 12) - 6.0);
    else if (h_rand() % 11 == 0) /* extreme block exponents (the bf16 pair path's limits), subnormals */
      mag = pow(2.0, (h_rand() % 2 ? 1.0 : -1.0) * (double)(116 + (int)(h_rand() % 18)));
    int zero_row = h_rand() % 13 == 0;
    for (int64_t c = 0; c < ld; c++) {
      float v = zero_row ? 0.0f : (float)(h_normal() * mag);
      if (h_rand() % 97 == 0) v = (float)(h_rand() % 13) * 0.25f * (float)mag; /* grid ties */
      if (specials && h_rand() % 1500 == 0) {
        int k = (int)(h_rand() % 3);
        v = k == 0 ? NAN : k == 1 ? INFINITY : -INFINITY;
      }
      i = (size_t)(r * ld + c);
      if (dt == FP4_F32) memcpy(h + 4 * i, &v, 4);
      else {
        uint16_t b = dt == FP4_BF16 ? fp4_f32_to_bf16(v) : fp4_f32_to_f16(v);
        memcpy(h + 2 * i, &b, 2);
      }
    }
  }
  return h;
}

static fp4_status host_quantize(fp4_dtype dt, const void *x, int64_t rows, int64_t cols, int64_t ld,
                                const fp4_quant_config *cfg, fp4_tensor *t) {
  if (dt == FP4_F32) return fp4_quantize_f32((const float *)x, rows, cols, ld, cfg, t, NULL, 0);
  if (dt == FP4_BF16) return fp4_quantize_bf16((const uint16_t *)x, rows, cols, ld, cfg, t, NULL, 0);
  return fp4_quantize_f16((const uint16_t *)x, rows, cols, ld, cfg, t, NULL, 0);
}
static fp4_status dev_quantize(fp4_dtype dt, const void *x, int64_t rows, int64_t cols, int64_t ld,
                               const fp4_quant_config *cfg, fp4_tensor *t, void *ws, size_t wsb) {
  if (dt == FP4_F32) return fp4_cuda_quantize_f32((const float *)x, rows, cols, ld, cfg, t, ws, wsb, 0);
  if (dt == FP4_BF16) return fp4_cuda_quantize_bf16((const uint16_t *)x, rows, cols, ld, cfg, t, ws, wsb, 0);
  return fp4_cuda_quantize_f16((const uint16_t *)x, rows, cols, ld, cfg, t, ws, wsb, 0);
}

static int bytes_equal(const void *a, const void *b, size_t n, const char *what, const char *ctx) {
  if (memcmp(a, b, n) == 0) return 1;
  if (verbose_fail > 0) {
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    size_t i = 0;
    while (x[i] == y[i]) i++;
    fprintf(stderr, "  mismatch in %s at byte %zu: host %02x device %02x [%s]\n", what, i, x[i], y[i], ctx);
    verbose_fail--;
  }
  return 0;
}

/* One quantize case: host reference vs device, every output byte. */
static void quant_case(fp4_dtype dt, const fp4_quant_config *cfg, fp4_layout layout, int64_t rows, int64_t cols,
                       int specials, int with_mask) {
  int64_t ld = cols + (int64_t)(h_rand() % 3) * (dt == FP4_F32 ? 4 : 8); /* sometimes padded rows */
  if (h_rand() % 5 == 0) ld = cols + 1; /* rows not 16-byte aligned: the general kernel */
  int64_t R = cfg->transpose ? cols : rows, C = cfg->transpose ? rows : cols;
  size_t es = dt == FP4_F32 ? 4 : 2, nx = (size_t)(rows * ld) * es;
  size_t db = fp4_data_bytes(R, C), sb = fp4_scale_bytes(cfg->format, R, C, layout), mb = fp4_mask_bytes(R, C);
  void *hx = make_input(dt, rows, ld, specials);
  uint8_t *hq = (uint8_t *)malloc(db), *hs = (uint8_t *)malloc(sb), *hm = (uint8_t *)malloc(mb + 1);
  uint8_t *gq = (uint8_t *)malloc(db), *gs = (uint8_t *)malloc(sb), *gm = (uint8_t *)malloc(mb + 1);
  void *dx = dcopy(hx, nx);
  uint8_t *dq = (uint8_t *)dmalloc(db), *ds = (uint8_t *)dmalloc(sb), *dm = (uint8_t *)dmalloc(mb + 1);
  size_t wsb = fp4_cuda_quantize_workspace_size(rows, cols, cfg);
  void *ws = dmalloc(wsb);
  fp4_tensor ht, dt_;
  fp4_status hst, dst, dres;
  char ctx[256];
  snprintf(ctx, sizeof ctx, "%s %s dt=%d %lldx%lld ld=%lld had=%d signs=%d bf16=%d sr=%d T=%d 2d=%d amax=%d lay=%d",
           fp4_format_name(cfg->format), fp4_rule_name(cfg->rule), (int)dt, (long long)rows, (long long)cols,
           (long long)ld, cfg->hadamard, (int)cfg->hadamard_signs, cfg->hadamard_bf16, (int)cfg->rounding,
           cfg->transpose, cfg->scale_2d, cfg->has_amax, (int)layout);
  memset(hq, 0xA5, db);
  memset(hs, 0x5A, sb);
  memset(hm, 0x33, mb + 1);
  CK(cudaMemset(dq, 0xA5, db));
  CK(cudaMemset(ds, 0x5A, sb));
  CK(cudaMemset(dm, 0x33, mb + 1));
  fp4_tensor_init(&ht, hq, hs, layout);
  fp4_tensor_init(&dt_, dq, ds, layout);
  if (with_mask) {
    ht.mask = hm;
    dt_.mask = dm;
  }
  hst = host_quantize(dt, hx, rows, cols, ld, cfg, &ht);
  dst = dev_quantize(dt, dx, rows, cols, ld, cfg, &dt_, ws, wsb);
  dres = dst == FP4_OK ? fp4_cuda_quantize_result(&dt_, ws, 0) : dst;
  CK(cudaDeviceSynchronize());
  hcopy(gq, dq, db);
  hcopy(gs, ds, sb);
  hcopy(gm, dm, mb + 1);
  n_cases++;
  H_DIGEST(gq, db);
  {
    int ok = hst == dres;
    if (!ok && verbose_fail-- > 0) fprintf(stderr, "  status host %d device %d [%s]\n", (int)hst, (int)dres, ctx);
    CHECK(ok);
    if (hst == FP4_OK || hst == FP4_ERR_NONFINITE) {
      CHECK(bytes_equal(hq, gq, db, "data", ctx));
      CHECK(bytes_equal(hs, gs, sb, "scales", ctx));
      if (with_mask) CHECK(bytes_equal(hm, gm, mb + 1, "mask", ctx));
      CHECK_FEQ(ht.tensor_scale, dt_.tensor_scale);
      CHECK_FEQ(ht.amax, dt_.amax);
      CHECK_EQ(ht.rows, dt_.rows);
      CHECK_EQ(ht.cols, dt_.cols);
    } else {
      CHECK(bytes_equal(hq, gq, db, "data (untouched)", ctx));
    }
  }
  /* fake quantize (f32 input only, as in fp4.h) */
  if (dt == FP4_F32 && (hst == FP4_OK || hst == FP4_ERR_NONFINITE)) {
    int64_t ldy = C + 1;
    size_t yb = (size_t)(R * ldy) * 4;
    float *hy = (float *)malloc(yb), *gy = (float *)malloc(yb);
    float *dy = (float *)dmalloc(yb);
    memset(hy, 0x7E, yb);
    CK(cudaMemset(dy, 0x7E, yb));
    memset(hm, 0x33, mb + 1);
    CK(cudaMemset(dm, 0x33, mb + 1));
    hst = fp4_fake_quantize_f32((const float *)hx, rows, cols, ld, cfg, hy, ldy, with_mask ? hm : NULL, NULL, 0);
    dst = fp4_cuda_fake_quantize_f32((const float *)dx, rows, cols, ld, cfg, dy, ldy, with_mask ? dm : NULL, ws, wsb, 0);
    dres = dst == FP4_OK ? fp4_cuda_quantize_result(NULL, ws, 0) : dst;
    hcopy(gy, dy, yb);
    hcopy(gm, dm, mb + 1);
    CHECK_EQ(hst, dres);
    CHECK(bytes_equal(hy, gy, yb, "fake-quantized values", ctx));
    if (with_mask) CHECK(bytes_equal(hm, gm, mb + 1, "fake mask", ctx));
    CK(cudaFree(dy));
    free(hy);
    free(gy);
  }
  /* dequantize the host tensor on the device, every output type */
  if (hst == FP4_OK || hst == FP4_ERR_NONFINITE) {
    int64_t ldy = C + 2;
    for (int ot = 0; ot < 3; ot++) {
      size_t oes = ot == 0 ? 4 : 2, yb = (size_t)(R * ldy) * oes;
      unsigned char *hy = (unsigned char *)malloc(yb), *gy = (unsigned char *)malloc(yb);
      void *dy = dmalloc(yb);
      fp4_tensor dd = ht;
      memset(hy, 0x11, yb);
      CK(cudaMemset(dy, 0x11, yb));
      CK(cudaMemcpy(dq, hq, db, cudaMemcpyHostToDevice));
      CK(cudaMemcpy(ds, hs, sb, cudaMemcpyHostToDevice));
      dd.data = dq;
      dd.scales = ds;
      dd.mask = NULL;
      if (ot == 0) {
        CHECK_EQ(FP4_OK, fp4_dequantize_f32(&ht, (float *)hy, ldy));
        CHECK_EQ(FP4_OK, fp4_cuda_dequantize_f32(&dd, (float *)dy, ldy, 0));
      } else if (ot == 1) {
        CHECK_EQ(FP4_OK, fp4_dequantize_bf16(&ht, (uint16_t *)hy, ldy));
        CHECK_EQ(FP4_OK, fp4_cuda_dequantize_bf16(&dd, (uint16_t *)dy, ldy, 0));
      } else {
        CHECK_EQ(FP4_OK, fp4_dequantize_f16(&ht, (uint16_t *)hy, ldy));
        CHECK_EQ(FP4_OK, fp4_cuda_dequantize_f16(&dd, (uint16_t *)dy, ldy, 0));
      }
      hcopy(gy, dy, yb);
      CHECK(bytes_equal(hy, gy, yb, "dequantized", ctx));
      CK(cudaFree(dy));
      free(hy);
      free(gy);
    }
  }
  CK(cudaFree(dx));
  CK(cudaFree(dq));
  CK(cudaFree(ds));
  CK(cudaFree(dm));
  CK(cudaFree(ws));
  free(hx);
  free(hq);
  free(hs);
  free(hm);
  free(gq);
  free(gs);
  free(gm);
}

static void test_quantize(void) {
  static const fp4_rule rules[] = {FP4_MX_OCP,   FP4_MX_CEIL,   FP4_MX_ABSMAX3,      FP4_MX_QUEST,       FP4_MX_ADAPTIVE,
                                   FP4_NV_6,     FP4_NV_4,      FP4_NV_4OVER6_MSE,   FP4_NV_4OVER6_MAE,  FP4_NV_4OVER6_MAXABS};
  static const int groups[] = {0, 16, 32, 64, 128, 256};
  long before = h_fail;
  for (int ri = 0; ri < 10; ri++) {
    fp4_rule rule = rules[ri];
    fp4_format f = fp4_rule_format(rule);
    for (int variant = 0; variant < 14; variant++) {
      fp4_quant_config cfg = fp4_config_default(f);
      fp4_dtype dt = (fp4_dtype)(variant % 3);
      fp4_layout layout = (fp4_layout)((variant / 3) % 2);
      int64_t rows, cols, L, block = fp4_format_block(f);
      cfg.rule = rule;
      cfg.seed = h_rand();
      cfg.hadamard = groups[variant % 6];
      if (cfg.hadamard) {
        cfg.hadamard_signs = (fp4_signs)(variant % 3);
        for (int i = 0; i < 8; i++) cfg.hadamard_sign_bits[i] = (uint32_t)h_rand();
        cfg.hadamard_bf16 = variant % 4 == 1;
      }
      cfg.rounding = variant % 5 == 2 ? FP4_ROUND_STOCHASTIC : FP4_ROUND_NEAREST;
      cfg.transpose = variant % 7 == 3 || variant == 10;
      if (f == FP4_NVFP4) {
        cfg.scale_2d = variant % 4 == 3 || variant == 12;
        if (variant % 6 == 4) {
          cfg.has_amax = 1;
          cfg.amax = (float)(h_uniform() * 8.0);
        }
      }
      L = cfg.hadamard > block ? cfg.hadamard : block;
      /* odd sizes: the quantized axis a multiple of L, the other anything */
      {
        int64_t qa = L * (1 + (int64_t)(h_rand() % (L >= 128 ? 3 : 7))), oa = 1 + (int64_t)(h_rand() % 67);
        /* transpose: Q = X^T, so the quantized axis runs down X's rows */
        rows = cfg.transpose ? qa : oa;
        cols = cfg.transpose ? oa : qa;
      }
      quant_case(dt, &cfg, layout, rows, cols, variant == 5 || variant == 13, rule == FP4_MX_QUEST);
    }
  }
  /* a large-ish NVFP4 tensor (many CTAs, the amax reduction across the grid) */
  {
    fp4_quant_config cfg = fp4_config_default(FP4_NVFP4);
    cfg.rule = FP4_NV_4OVER6_MSE;
    quant_case(FP4_BF16, &cfg, FP4_LAYOUT_LINEAR, 517, 1024, 0, 0);
    cfg.hadamard = 128;
    cfg.hadamard_signs = FP4_SIGNS_RANDOM;
    quant_case(FP4_BF16, &cfg, FP4_LAYOUT_SWIZZLED, 300, 768, 0, 0);
    cfg.transpose = 1; /* transposed chunks across a Hadamard group */
    quant_case(FP4_BF16, &cfg, FP4_LAYOUT_LINEAR, 384, 77, 1, 0);
    cfg.hadamard = 0;
    cfg.scale_2d = 1; /* 2D: partial strips and partial CTA widths, both orientations */
    quant_case(FP4_F32, &cfg, FP4_LAYOUT_LINEAR, 208, 53, 1, 0);
    cfg.transpose = 0;
    cfg.rounding = FP4_ROUND_STOCHASTIC;
    quant_case(FP4_F16, &cfg, FP4_LAYOUT_SWIZZLED, 37, 336, 1, 0);
  }
  /* the fast kernel over several grid-stride iterations with a remainder (more than 132 * 256 chunks of
   * 32 values), every dtype and kind; then past FP4__CUDA_FAST_MAX_CHUNKS (the general kernel) */
  {
    static const fp4_rule fr[] = {FP4_MX_OCP, FP4_MX_CEIL, FP4_MX_ABSMAX3, FP4_NV_6, FP4_NV_4, FP4_NV_4OVER6_MSE,
                                  FP4_NV_4OVER6_MAE, FP4_NV_4OVER6_MAXABS};
    for (int i = 0; i < 8; i++) {
      fp4_quant_config cfg = fp4_config_default(fp4_rule_format(fr[i]));
      cfg.rule = fr[i];
      if (i == 4) {
        cfg.has_amax = 1;
        cfg.amax = 3.0f;
      }
      quant_case((fp4_dtype)(i % 3), &cfg, (fp4_layout)(i % 2), 701 + 2 * i, 1536, i == 5, 0);
    }
    fp4_quant_config cfg = fp4_config_default(FP4_MXFP4);
    quant_case(FP4_BF16, &cfg, FP4_LAYOUT_LINEAR, 2053, 1024, 0, 0);
    cfg = fp4_config_default(FP4_NVFP4);
    cfg.rule = FP4_NV_4OVER6_MSE;
    quant_case(FP4_F32, &cfg, FP4_LAYOUT_SWIZZLED, 1031, 2080, 0, 0);
    cfg.hadamard_bf16 = 1; /* bf16 rounding: the fast kernel for bf16 input only */
    quant_case(FP4_BF16, &cfg, FP4_LAYOUT_LINEAR, 93, 640, 1, 0);
    quant_case(FP4_F16, &cfg, FP4_LAYOUT_LINEAR, 93, 640, 1, 0);
  }
  printf("quantize: %ld cases, %ld failures\n", n_cases, h_fail - before);
}

/* The branch-free E2M1 rounding and decoding of the quantize kernels against fp4.h's codec, and the
 * Four Over Six error's division by 1536 against __fdiv_rn: every one of the 2^32 floats on the device,
 * all 16 codes for the decoder. */
static __global__ void e2m1_all_kernel(unsigned long long *bad) {
  unsigned long long n = 0, nd = 0, nm = 0;
  for (uint64_t b = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; b < (1ull << 32); b += (uint64_t)gridDim.x * blockDim.x) {
    float x = __uint_as_float((uint32_t)b), rv;
    uint32_t c = fp4_e2m1_from_float(x), m = fp4__cuda_e2m1_mag(fp4__fabs(x), &rv);
    n += fp4__cuda_e2m1(x) != c;
    nd += __float_as_uint(fp4__cuda_div1536(x)) != __float_as_uint(__fdiv_rn(x, 1536.0f));
    nm += m != (c & 7u) || __float_as_uint(rv) != __float_as_uint(fp4_e2m1_to_float((uint8_t)(c & 7u)));
  }
  if (n) atomicAdd(bad, n);
  if (nd) atomicAdd(bad + 1, nd);
  if (nm) atomicAdd(bad + 2, nm);
}

/* The bf16 pair MXFP4 rounding (fp4__cuda_mx_bf16x8) for every finite bf16 and every block exponent it
 * takes, against fp4_e2m1_from_float(x * 2^-e). */
static __global__ void mx_bf16_all_kernel(unsigned long long *bad) {
  unsigned long long n = 0;
  for (uint32_t k = blockIdx.x * blockDim.x + threadIdx.x; k < 244u * 65536u; k += gridDim.x * blockDim.x) {
    int e = -124 + (int)(k / 65536u);
    uint32_t lo = k % 65536u, hi = lo ^ 0x8001u; /* every bf16 in each half */
    uint32_t E2 = (uint32_t)(e + 127) << 7, S2 = ((uint32_t)(e + 129) << 7) | 0x40u, wd = lo | (hi << 16);
    uint32_t q = fp4__cuda_mx_bf16x8(make_uint4(wd, wd, wd, wd), E2 * 0x10001u, S2 * 0x10001u);
    float m = fp4__exp2i(-e);
    if ((lo & 0x7F80u) == 0x7F80u || (hi & 0x7F80u) == 0x7F80u) continue;
    uint32_t want = fp4_e2m1_from_float(fp4_bf16_to_f32((uint16_t)lo) * m) |
                    ((uint32_t)fp4_e2m1_from_float(fp4_bf16_to_f32((uint16_t)hi) * m) << 4);
    n += q != want * 0x01010101u;
  }
  if (n) atomicAdd(bad, n);
}

static void test_e2m1(void) {
  unsigned long long *d = (unsigned long long *)dmalloc(32), h[4] = {1, 1, 1, 1};
  CK(cudaMemset(d, 0, 32));
  e2m1_all_kernel<<<1024, 256>>>(d);
  mx_bf16_all_kernel<<<1024, 256>>>(d + 3);
  CK(cudaGetLastError());
  hcopy(h, d, 32);
  CHECK_EQ(0, (long long)h[0]);
  CHECK_EQ(0, (long long)h[1]);
  CHECK_EQ(0, (long long)h[2]);
  CHECK_EQ(0, (long long)h[3]);
  CK(cudaFree(d));
  for (uint32_t c = 0; c < 16; c++) {
    float a = fp4__cuda_e2m1_value(c), b = fp4_e2m1_to_float((uint8_t)c);
    CHECK(memcmp(&a, &b, 4) == 0);
  }
}

/* Tiny NVFP4 amax: host and device both answer FP4_ERR_RANGE (computed on the device). */
static void test_range(void) {
  float hx[32];
  for (int i = 0; i < 32; i++) hx[i] = 1e-35f * (float)(i + 1);
  float *dx = (float *)dcopy(hx, sizeof hx);
  uint8_t q[16], s[2], *dq = (uint8_t *)dmalloc(16), *ds = (uint8_t *)dmalloc(2);
  void *ws = dmalloc(FP4_CUDA_QUANTIZE_WS);
  fp4_quant_config cfg = fp4_config_default(FP4_NVFP4);
  fp4_tensor ht, dt;
  fp4_tensor_init(&ht, q, s, FP4_LAYOUT_LINEAR);
  fp4_tensor_init(&dt, dq, ds, FP4_LAYOUT_LINEAR);
  CHECK_EQ(FP4_ERR_RANGE, fp4_quantize_f32(hx, 1, 32, 32, &cfg, &ht, NULL, 0));
  CHECK_EQ(FP4_OK, fp4_cuda_quantize_f32(dx, 1, 32, 32, &cfg, &dt, ws, FP4_CUDA_QUANTIZE_WS, 0));
  CHECK_EQ(FP4_ERR_RANGE, fp4_cuda_quantize_result(&dt, ws, 0));
  /* validation */
  CHECK_EQ(FP4_ERR_NULL, fp4_cuda_quantize_f32(NULL, 1, 32, 32, &cfg, &dt, ws, FP4_CUDA_QUANTIZE_WS, 0));
  CHECK_EQ(FP4_ERR_SIZE, fp4_cuda_quantize_f32(dx, 0, 32, 32, &cfg, &dt, ws, FP4_CUDA_QUANTIZE_WS, 0));
  CHECK_EQ(FP4_ERR_SHAPE, fp4_cuda_quantize_f32(dx, 1, 24, 24, &cfg, &dt, ws, FP4_CUDA_QUANTIZE_WS, 0));
  CHECK_EQ(FP4_ERR_LD, fp4_cuda_quantize_f32(dx, 1, 32, 16, &cfg, &dt, ws, FP4_CUDA_QUANTIZE_WS, 0));
  CHECK_EQ(FP4_ERR_WORKSPACE, fp4_cuda_quantize_f32(dx, 1, 32, 32, &cfg, &dt, ws, 4, 0));
  CHECK_EQ(FP4_ERR_ALIGN, fp4_cuda_quantize_f32((const float *)((char *)dx + 2), 1, 16, 16, &cfg, &dt, ws,
                                                FP4_CUDA_QUANTIZE_WS, 0));
  cfg.rule = FP4_MX_OCP;
  CHECK_EQ(FP4_ERR_UNSUPPORTED, fp4_cuda_quantize_f32(dx, 1, 32, 32, &cfg, &dt, ws, FP4_CUDA_QUANTIZE_WS, 0));
  CK(cudaDeviceSynchronize());
  CK(cudaFree(dx));
  CK(cudaFree(dq));
  CK(cudaFree(ds));
  CK(cudaFree(ws));
}

static void test_hadamard(void) {
  static const int groups[] = {16, 32, 64, 128, 256};
  for (int gi = 0; gi < 5; gi++)
    for (int inv = 0; inv < 2; inv++)
      for (int sg = 0; sg < 2; sg++) {
        int g = groups[gi];
        int64_t rows = 1 + (int64_t)(h_rand() % 37), cols = g * (1 + (int64_t)(h_rand() % 4)), ld = cols + 3;
        size_t n = (size_t)(rows * ld);
        float *hx = (float *)malloc(n * 4), *hy = (float *)malloc(n * 4), *gy = (float *)malloc(n * 4);
        uint32_t bits[8];
        for (size_t i = 0; i < n; i++) hx[i] = (float)h_normal();
        for (int i = 0; i < 8; i++) bits[i] = (uint32_t)h_rand();
        memset(hy, 0, n * 4);
        float *dx = (float *)dcopy(hx, n * 4), *dy = (float *)dcopy(hy, n * 4);
        CHECK_EQ(FP4_OK, fp4_hadamard_f32(hx, rows, cols, ld, hy, ld, g, sg ? bits : NULL, inv));
        CHECK_EQ(FP4_OK, fp4_cuda_hadamard_f32(dx, rows, cols, ld, dy, ld, g, sg ? bits : NULL, inv, 0));
        hcopy(gy, dy, n * 4);
        CHECK(bytes_equal(hy, gy, n * 4, "hadamard", "hadamard"));
        /* in place */
        CHECK_EQ(FP4_OK, fp4_cuda_hadamard_f32(dx, rows, cols, ld, dx, ld, g, sg ? bits : NULL, inv, 0));
        hcopy(gy, dx, n * 4);
        for (int64_t r = 0; r < rows; r++)
          for (int64_t c = cols; c < ld; c++) hy[r * ld + c] = hx[r * ld + c];
        CHECK(bytes_equal(hy, gy, n * 4, "hadamard in place", "hadamard"));
        CK(cudaFree(dx));
        CK(cudaFree(dy));
        free(hx);
        free(hy);
        free(gy);
      }
}

static void test_swizzle(void) {
  for (int it = 0; it < 6; it++) {
    int64_t rows = 1 + (int64_t)(h_rand() % 300), sc = 1 + (int64_t)(h_rand() % 11);
    size_t ln = (size_t)(rows * sc), sn = (size_t)((rows + 127) / 128 * 128 * ((sc + 3) / 4 * 4));
    uint8_t *lin = (uint8_t *)malloc(ln), *sw = (uint8_t *)malloc(sn), *g = (uint8_t *)malloc(sn > ln ? sn : ln);
    for (size_t i = 0; i < ln; i++) lin[i] = (uint8_t)h_rand();
    uint8_t *dl = (uint8_t *)dcopy(lin, ln), *dsw = (uint8_t *)dmalloc(sn);
    CK(cudaMemset(dsw, 0xEE, sn));
    CHECK_EQ(FP4_OK, fp4_scales_to_swizzled(lin, rows, sc, sw));
    CHECK_EQ(FP4_OK, fp4_cuda_scales_to_swizzled(dl, rows, sc, dsw, 0));
    hcopy(g, dsw, sn);
    CHECK(bytes_equal(sw, g, sn, "swizzled", "swizzle"));
    CK(cudaMemset(dl, 0, ln));
    CHECK_EQ(FP4_OK, fp4_cuda_scales_to_linear(dsw, rows, sc, dl, 0));
    hcopy(g, dl, ln);
    CHECK(bytes_equal(lin, g, ln, "linear", "swizzle"));
    CK(cudaFree(dl));
    CK(cudaFree(dsw));
    free(lin);
    free(sw);
    free(g);
  }
}

/* W4A16 GEMV: relative Frobenius error against float64 of the dequantized operands. */
static void gemv_case(fp4_format f, fp4_rule rule, fp4_layout layout, int at, int ot, int64_t M, int64_t N,
                      int64_t K, float alpha, float beta, double wscale) {
  /* lda: 16-byte multiples (fast kernel) or, now and then, one element more (generic kernel) */
  int64_t lda = K + (h_rand() % 5 == 0 ? 1 : (at == FP4_F32 ? 4 : 8) * (int64_t)(h_rand() % 2)),
          ldc = N + (int64_t)(h_rand() % 3);
  size_t db = fp4_data_bytes(N, K), sb = fp4_scale_bytes(f, N, K, layout);
  float *w = (float *)malloc((size_t)(N * K) * 4), *wd = (float *)malloc((size_t)(N * K) * 4);
  uint8_t *q = (uint8_t *)malloc(db), *s = (uint8_t *)malloc(sb);
  fp4_quant_config cfg = fp4_config_default(f);
  fp4_tensor t;
  size_t aes = at == FP4_F32 ? 4 : 2, oes = ot == FP4_F32 ? 4 : 2;
  unsigned char *a = (unsigned char *)malloc((size_t)(M * lda) * aes), *c0 = (unsigned char *)malloc((size_t)(M * ldc) * oes),
                *c1 = (unsigned char *)malloc((size_t)(M * ldc) * oes), *c2 = (unsigned char *)malloc((size_t)(M * ldc) * oes);
  double *ad = (double *)malloc((size_t)(M * K) * 8), num = 0, den = 0;
  char ctx[160];
  snprintf(ctx, sizeof ctx, "%s at=%d ot=%d M=%lld N=%lld K=%lld lda=%lld lay=%d", fp4_rule_name(rule), at, ot,
           (long long)M, (long long)N, (long long)K, (long long)lda, (int)layout);
  for (int64_t i = 0; i < N * K; i++) w[i] = (float)(h_normal() * wscale * (1.0 + (double)((i / K) % 5)));
  cfg.rule = rule;
  memset(s, 0, sb);
  fp4_tensor_init(&t, q, s, layout);
  CHECK_EQ(FP4_OK, fp4_quantize_f32(w, N, K, K, &cfg, &t, NULL, 0));
  CHECK_EQ(FP4_OK, fp4_dequantize_f32(&t, wd, K));
  for (int64_t m = 0; m < M; m++)
    for (int64_t k = 0; k < lda; k++) {
      float v = (float)h_normal();
      size_t i = (size_t)(m * lda + k);
      if (at == FP4_F32) memcpy(a + 4 * i, &v, 4);
      else {
        uint16_t b = at == FP4_BF16 ? fp4_f32_to_bf16(v) : fp4_f32_to_f16(v);
        memcpy(a + 2 * i, &b, 2);
        v = at == FP4_BF16 ? fp4_bf16_to_f32(b) : fp4_f16_to_f32(b);
      }
      if (k < K) ad[m * K + k] = v;
    }
  for (int64_t i = 0; i < M * ldc; i++) {
    float v = (float)h_normal();
    if (ot == FP4_F32) memcpy(c0 + 4 * i, &v, 4);
    else {
      uint16_t b = ot == FP4_BF16 ? fp4_f32_to_bf16(v) : fp4_f32_to_f16(v);
      memcpy(c0 + 2 * i, &b, 2);
    }
  }
  {
    void *da = dcopy(a, (size_t)(M * lda) * aes), *dc = dcopy(c0, (size_t)(M * ldc) * oes);
    uint8_t *dq = (uint8_t *)dcopy(q, db), *ds = (uint8_t *)dcopy(s, sb);
    size_t wsb = fp4_cuda_gemv_workspace_size(M, N, K);
    void *ws = wsb ? dmalloc(wsb) : NULL;
    fp4_tensor dt = t;
    fp4_status st;
    dt.data = dq;
    dt.scales = ds;
#define GV(AN, AT_, ON, OT_) \
  st = fp4_cuda_gemv_w4a16_##AN##_##ON((const AT_ *)da, M, lda, &dt, alpha, beta, (OT_ *)dc, ldc, ws, wsb, 0)
#define GV_O(AN, AT_)                                 \
  if (ot == FP4_F32) GV(AN, AT_, f32, float);         \
  else if (ot == FP4_BF16) GV(AN, AT_, bf16, uint16_t); \
  else GV(AN, AT_, f16, uint16_t)
    for (int rep = 0; rep < 2; rep++) { /* twice: the result must not change (deterministic split-K) */
      if (rep) CK(cudaMemcpy(dc, c0, (size_t)(M * ldc) * oes, cudaMemcpyHostToDevice));
      if (at == FP4_F32) { GV_O(f32, float); }
      else if (at == FP4_BF16) { GV_O(bf16, uint16_t); }
      else { GV_O(f16, uint16_t); }
      CHECK_EQ(FP4_OK, st);
      CK(cudaDeviceSynchronize());
      hcopy(rep ? c2 : c1, dc, (size_t)(M * ldc) * oes);
    }
#undef GV
#undef GV_O
    if (memcmp(c1, c2, (size_t)(M * ldc) * oes)) fprintf(stderr, "  gemv not repeatable [%s]\n", ctx);
    CHECK(memcmp(c1, c2, (size_t)(M * ldc) * oes) == 0);
    CK(cudaFree(da));
    CK(cudaFree(dc));
    CK(cudaFree(dq));
    CK(cudaFree(ds));
    if (ws) CK(cudaFree(ws));
  }
  for (int64_t m = 0; m < M; m++)
    for (int64_t n = 0; n < ldc; n++) {
      size_t i = (size_t)(m * ldc + n);
      double got, old;
      if (ot == FP4_F32) {
        float g, o;
        memcpy(&g, c1 + 4 * i, 4);
        memcpy(&o, c0 + 4 * i, 4);
        got = g;
        old = o;
      } else {
        uint16_t g, o;
        memcpy(&g, c1 + 2 * i, 2);
        memcpy(&o, c0 + 2 * i, 2);
        got = ot == FP4_BF16 ? fp4_bf16_to_f32(g) : fp4_f16_to_f32(g);
        old = ot == FP4_BF16 ? fp4_bf16_to_f32(o) : fp4_f16_to_f32(o);
      }
      if (n >= N) { /* columns past N untouched */
        CHECK(memcmp(c0 + i * oes, c1 + i * oes, oes) == 0);
        continue;
      }
      double ref = 0;
      for (int64_t k = 0; k < K; k++) ref += ad[m * K + k] * (double)wd[n * K + k];
      ref = (double)alpha * ref + (double)beta * old;
      num += (got - ref) * (got - ref);
      den += ref * ref;
    }
  {
    double err = sqrt(num / (den > 0 ? den : 1)), bound = ot == FP4_F32 ? 1e-5 : ot == FP4_BF16 ? 8e-3 : 1e-3;
    if (!(err <= bound)) fprintf(stderr, "  gemv error %.3g > %.3g [%s]\n", err, bound, ctx);
    CHECK_LE(err, bound);
  }
  free(w);
  free(wd);
  free(q);
  free(s);
  free(a);
  free(c0);
  free(c1);
  free(c2);
  free(ad);
}

static void test_gemv(void) {
  static const fp4_rule rules[] = {FP4_MX_OCP, FP4_NV_6, FP4_MX_ABSMAX3, FP4_NV_4OVER6_MSE};
  /* every M in 1..16 (one or two n-tiles), every activation and output type, both formats and layouts,
   * split-K on (K = 8192, small N) and off, K tails at block granularity (not a multiple of the 128-wide
   * step; NVFP4 K = 16 * odd takes the generic kernel) */
  for (int i = 0; i < 48; i++) {
    fp4_rule rule = rules[i % 4];
    fp4_format f = fp4_rule_format(rule);
    int64_t M = 1 + (i * 7) % 16, N = 1 + (int64_t)(h_rand() % 300), K;
    int at = (int)((i / 4) % 3), ot = (int)((i / 2) % 3);
    switch (i % 5) {
    case 0: K = 8192; break;                /* split-K when N is small */
    case 1: K = 32 * (1 + (int64_t)(h_rand() % 40)); break;
    case 2: K = f == FP4_NVFP4 ? 16 * (2 * (int64_t)(h_rand() % 20) + 1) : 32 * (1 + (int64_t)(h_rand() % 9)); break;
    case 3: K = 4096; N = 700; break;
    default: K = 1024 + 32 * (int64_t)(h_rand() % 8); break;
    }
    gemv_case(f, rule, (fp4_layout)(i % 2), at, ot, M, N, K, i % 3 == 0 ? 1.0f : 0.75f, i % 4 == 1 ? 0.5f : 0.0f,
              1.0);
  }
  /* large and small block scales (MXFP4 codes above 128 take the second factor) */
  gemv_case(FP4_MXFP4, FP4_MX_OCP, FP4_LAYOUT_LINEAR, FP4_BF16, FP4_F32, 3, 129, 2048, 1.0f, 0.0f, 1e20);
  gemv_case(FP4_MXFP4, FP4_MX_OCP, FP4_LAYOUT_LINEAR, FP4_F16, FP4_F32, 1, 64, 1024, 1.0f, 0.0f, 1e-20);
  gemv_case(FP4_NVFP4, FP4_NV_6, FP4_LAYOUT_LINEAR, FP4_BF16, FP4_F32, 16, 333, 2048, 1.0f, 0.0f, 1e-12);
  /* the same block-scale extremes with f16 and f32 activations (MXFP4 2^(e - e0) factors in f16) */
  gemv_case(FP4_MXFP4, FP4_MX_OCP, FP4_LAYOUT_LINEAR, FP4_F16, FP4_F32, 9, 129, 2048, 1.0f, 0.0f, 1e20);
  gemv_case(FP4_MXFP4, FP4_MX_OCP, FP4_LAYOUT_SWIZZLED, FP4_F32, FP4_F32, 12, 200, 1024, 1.0f, 0.0f, 1e-20);
  gemv_case(FP4_NVFP4, FP4_NV_6, FP4_LAYOUT_SWIZZLED, FP4_F16, FP4_F32, 7, 250, 4096, 1.0f, 0.5f, 1e-12);
  /* large N x K: several staged passes per CTA (f32), split-K with many splits */
  gemv_case(FP4_NVFP4, FP4_NV_6, FP4_LAYOUT_LINEAR, FP4_F32, FP4_F32, 16, 130, 16384, 1.0f, 0.0f, 1.0);
  gemv_case(FP4_MXFP4, FP4_MX_OCP, FP4_LAYOUT_LINEAR, FP4_BF16, FP4_BF16, 1, 1000, 4000, 1.0f, 0.0f, 1.0);
  /* M = 1 with NVFP4 weights and 16-bit activations (the CUDA-core kernel): split-K and not, both
   * layouts, K not a multiple of 128, beta, small block scales */
  gemv_case(FP4_NVFP4, FP4_NV_6, FP4_LAYOUT_LINEAR, FP4_BF16, FP4_F32, 1, 77, 8192, 1.0f, 0.5f, 1.0);
  gemv_case(FP4_NVFP4, FP4_NV_4OVER6_MSE, FP4_LAYOUT_SWIZZLED, FP4_F16, FP4_BF16, 1, 700, 4096, 0.75f, 0.0f, 1.0);
  gemv_case(FP4_NVFP4, FP4_NV_6, FP4_LAYOUT_LINEAR, FP4_BF16, FP4_F32, 1, 333, 2048, 1.0f, 0.0f, 1e-12);
  gemv_case(FP4_NVFP4, FP4_NV_6, FP4_LAYOUT_SWIZZLED, FP4_F16, FP4_F32, 1, 130, 4160, 1.0f, 0.25f, 1e12);
  /* M = 1 with MXFP4 weights (the tensor-core kernel): split-K and not, both layouts, K not a multiple of
   * 128, beta, block-scale codes far above and below 127 */
  gemv_case(FP4_MXFP4, FP4_MX_OCP, FP4_LAYOUT_LINEAR, FP4_BF16, FP4_F32, 1, 77, 8192, 1.0f, 0.5f, 1.0);
  gemv_case(FP4_MXFP4, FP4_MX_ABSMAX3, FP4_LAYOUT_SWIZZLED, FP4_F16, FP4_BF16, 1, 700, 4096, 0.75f, 0.0f, 1.0);
  gemv_case(FP4_MXFP4, FP4_MX_OCP, FP4_LAYOUT_LINEAR, FP4_BF16, FP4_F32, 1, 129, 2048, 1.0f, 0.0f, 1e20);
  gemv_case(FP4_MXFP4, FP4_MX_OCP, FP4_LAYOUT_SWIZZLED, FP4_F16, FP4_F32, 1, 130, 4160, 1.0f, 0.25f, 1e-20);
  gemv_case(FP4_MXFP4, FP4_MX_OCP, FP4_LAYOUT_LINEAR, FP4_BF16, FP4_BF16, 1, 300, 1056, 1.0f, 0.0f, 1e30);
}

int main(void) {
  int dev = 0;
  cudaDeviceProp prop;
  h_rand_state ^= h_seed();
  if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&prop, dev) != cudaSuccess) {
    printf("no CUDA device\n0 passed, 1 failed\n");
    return 1;
  }
  printf("device: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
  test_e2m1();
  test_quantize();
  test_range();
  test_hadamard();
  test_swizzle();
  test_gemv();
  CK(cudaDeviceSynchronize());
  return h_finish();
}
