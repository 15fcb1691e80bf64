/* SPDX-License-Identifier: MIT */
/* Properties on random tensors (fresh seeds, Gaussian and heavy-tailed data, odd row counts):
 *  - quantize == the independent model of test_ref.h, byte for byte, over random configurations
 *    (format, rule, rounding, Hadamard group and signs, bf16 rounding, 2D, transpose, amax, f32 / bf16 /
 *    f16 input, non-finite values); the model quantizes a materialized matrix with an explicit Philox
 *    counter per element, so a transposed run is checked against "quantize the materialized X^T with
 *    counter = source index";
 *  - transposed quantization == quantizing the materialized transpose (round to nearest, every rule);
 *  - 2D scales of X and X^T agree; 4/6 never has a larger block error than the 6-candidate alone;
 *  - dequantize(quantize(x)) error within each format's derived bound, saturation characterized;
 *  - Hadamard forward == model, forward then inverse within a stated bound;
 *  - bf16 / f16 inputs == f32 input with the same values; swizzled layout; fake quantize. */
#include "harness.h"
#include "test_ref.h"

static long mism;
#define MISMATCH(fmt, ...)                                                     \
  do {                                                                         \
    if (mism++ < 5) fprintf(stderr, "  mismatch: " fmt "\n", __VA_ARGS__);     \
  } while (0)

static int rnd(int n) { return (int)(h_rand() % (uint64_t)n); }

/* Random data: Gaussian at a random scale, heavy-tailed (log-normal magnitudes), or with zero blocks. */
static float gen(int kind, double sc) {
  double z = h_normal();
  if (kind == 0) return (float)(z * sc);
  if (kind == 1) return (float)(z * exp(h_normal() * 2.5) * sc);
  if (kind == 3) return (float)((double)((int)(h_rand() % 49) - 24) * sc); /* a lattice: many exact ties */
  return (h_rand() & 3) ? 0.0f : (float)(z * sc);
}

static const int groups[6] = {0, 16, 32, 64, 128, 256};

static fp4_quant_config random_cfg(void) {
  fp4_quant_config c = fp4_config_default(rnd(2) ? FP4_NVFP4 : FP4_MXFP4);
  int i;
  if (c.format == FP4_MXFP4) c.rule = (fp4_rule)(rnd(6) == 0 ? 0 : FP4_MX_OCP + rnd(5));
  else c.rule = (fp4_rule)(rnd(6) == 0 ? 0 : FP4_NV_6 + rnd(5));
  c.rounding = rnd(2) ? FP4_ROUND_STOCHASTIC : FP4_ROUND_NEAREST;
  c.seed = h_rand();
  c.hadamard = rnd(2) ? 0 : groups[1 + rnd(5)];
  c.hadamard_signs = (fp4_signs)rnd(3);
  for (i = 0; i < 8; i++) c.hadamard_sign_bits[i] = (uint32_t)h_rand();
  c.hadamard_bf16 = rnd(3) == 0;
  c.scale_2d = c.format == FP4_NVFP4 && rnd(3) == 0;
  c.transpose = rnd(2);
  return c;
}

/* ---- one random case against the model ---- */
static void run_case(fp4_quant_config cfg, int64_t rows, int64_t cols, int kind, int dtype, int nonfinite) {
  int64_t ldx = cols + (rnd(3) == 0 ? rnd(5) : 0), R = cfg.transpose ? cols : rows, C = cfg.transpose ? rows : cols;
  int64_t i, r, c, n = R * C;
  int blk = cfg.format == FP4_NVFP4 ? 16 : 32, quest = fp4_rule_resolve(cfg.format, cfg.rule) == FP4_MX_QUEST;
  size_t db = (size_t)n / 2, sb = (size_t)(n / blk), swb = fp4_scale_bytes(cfg.format, R, C, FP4_LAYOUT_SWIZZLED);
  float *x = (float *)malloc((size_t)(rows * ldx) * sizeof(float)), *q = (float *)malloc((size_t)n * sizeof(float));
  float *y = (float *)malloc((size_t)n * sizeof(float)), *z = (float *)malloc((size_t)n * sizeof(float));
  uint16_t *x16 = (uint16_t *)malloc((size_t)(rows * ldx) * 2), *y16 = (uint16_t *)malloc((size_t)n * 2);
  uint64_t *ctr = (uint64_t *)malloc((size_t)n * sizeof(uint64_t));
  uint8_t *d = (uint8_t *)malloc(db), *s = (uint8_t *)malloc(sb), *md = (uint8_t *)malloc(db), *ms = (uint8_t *)malloc(sb);
  uint8_t *sw = (uint8_t *)malloc(swb), *sw2 = (uint8_t *)malloc(swb), *mask = (uint8_t *)malloc((size_t)n / 8 + 1);
  uint8_t *mmask = (uint8_t *)malloc((size_t)n / 8 + 1), *fmask = (uint8_t *)malloc((size_t)n / 8 + 1), *d2 = (uint8_t *)malloc(db);
  double sc = ldexp(1.0, rnd(41) - 20);
  fp4_tensor t, t2;
  fp4_status st, want;
  float ts, am;
  int bad;
  for (i = 0; i < rows * ldx; i++) {
    if (dtype == 1) { /* bf16 bits with exponents near the scale */
      x16[i] = r_bf16_enc(gen(kind, sc));
      x[i] = r_bf16_to_f32(x16[i]);
    } else if (dtype == 2) { /* f16: random finite bit patterns */
      x16[i] = (uint16_t)(h_rand() & 0xFFFF);
      if (((x16[i] >> 10) & 0x1F) == 0x1F) x16[i] &= 0xBFFF;
      x[i] = (float)r_f16_val(x16[i]);
    } else
      x[i] = gen(kind, sc);
  }
  if (nonfinite)
    for (i = 0; i < 3; i++) {
      int64_t k = rnd((int)rows) * ldx + rnd((int)cols);
      x[k] = i == 0 ? NAN : i == 1 ? INFINITY : -INFINITY;
      if (dtype == 1) x16[k] = (uint16_t)(i == 0 ? 0x7FC0 : i == 1 ? 0x7F80 : 0xFF80);
      if (dtype == 2) x16[k] = (uint16_t)(i == 0 ? 0x7E00 : i == 1 ? 0x7C00 : 0xFC00);
    }
  if (cfg.format == FP4_NVFP4 && rnd(5) == 0) { /* a calibrated amax */
    cfg.has_amax = 1;
    cfg.amax = (float)(sc * (0.5 + h_uniform() * 4));
  }
  /* the materialized tensor to quantize, and each element's Philox counter (its source index) */
  for (r = 0; r < R; r++)
    for (c = 0; c < C; c++) {
      int64_t sr = cfg.transpose ? c : r, scn = cfg.transpose ? r : c;
      q[r * C + c] = x[sr * ldx + scn];
      ctr[r * C + c] = (uint64_t)(sr * cols + scn);
    }
  memset(d, 0x5A, db);
  memset(s, 0x5A, sb);
  fp4_tensor_init(&t, d, s, FP4_LAYOUT_LINEAR);
  t.mask = quest ? mask : NULL;
  if (dtype == 1) st = fp4_quantize_bf16(x16, rows, cols, ldx, &cfg, &t, NULL, 0);
  else if (dtype == 2) st = fp4_quantize_f16(x16, rows, cols, ldx, &cfg, &t, NULL, 0);
  else st = fp4_quantize_f32(x, rows, cols, ldx, &cfg, &t, NULL, 0);
  bad = r_quantize(q, R, C, cfg.rounding == FP4_ROUND_STOCHASTIC ? ctr : NULL, cfg.transpose, &cfg, md, ms,
                   quest ? mmask : NULL, &ts, &am);
  want = bad ? FP4_ERR_NONFINITE : FP4_OK;
  if (cfg.format == FP4_NVFP4 && am != 0 && am < 7.88860905e-31f) want = FP4_ERR_RANGE;
  CHECK_EQ(want, st);
  if (st != want || st == FP4_ERR_RANGE) goto done;
  H_DIGEST(d, db);
  H_DIGEST(s, sb);
  CHECK_EQ(R, t.rows);
  CHECK_EQ(C, t.cols);
  CHECK_EQ(fp4_rule_resolve(cfg.format, cfg.rule), t.rule);
  mism = 0;
  for (i = 0; i < (int64_t)db; i++)
    if (d[i] != md[i]) MISMATCH("data byte %ld: 0x%02x, model 0x%02x", (long)i, d[i], md[i]);
  for (i = 0; i < (int64_t)sb; i++)
    if (s[i] != ms[i]) MISMATCH("scale %ld: 0x%02x, model 0x%02x", (long)i, s[i], ms[i]);
  if (quest) {
    H_DIGEST(mask, (size_t)n / 8);
    for (i = 0; i < n / 8; i++)
      if (mask[i] != mmask[i]) MISMATCH("mask byte %ld: 0x%02x, model 0x%02x", (long)i, mask[i], mmask[i]);
  }
  if (mism)
    fprintf(stderr, "  case: fmt %d rule %d sr %d g %d signs %d bf16 %d 2d %d T %d amax %d/%g dtype %d %ldx%ld\n",
            cfg.format, cfg.rule, cfg.rounding, cfg.hadamard, cfg.hadamard_signs, cfg.hadamard_bf16, cfg.scale_2d,
            cfg.transpose, cfg.has_amax, (double)cfg.amax, dtype, (long)rows, (long)cols);
  CHECK_EQ(0, mism);
  CHECK_FEQ(ts, t.tensor_scale);
  CHECK_FEQ(am, t.amax);
  /* a 16-bit input equals the f32 input holding the same values */
  if (dtype) {
    fp4_tensor_init(&t2, d2, ms, FP4_LAYOUT_LINEAR);
    t2.mask = quest ? fmask : NULL;
    CHECK_EQ(st, fp4_quantize_f32(x, rows, cols, ldx, &cfg, &t2, NULL, 0));
    CHECK(memcmp(d2, d, db) == 0 && memcmp(ms, s, sb) == 0);
    CHECK_FEQ(t.tensor_scale, t2.tensor_scale);
  }
  /* straight into the swizzled layout == linear then converted (padding zero) */
  memset(sw, 0xAA, swb);
  fp4_tensor_init(&t2, d2, sw, FP4_LAYOUT_SWIZZLED);
  CHECK_EQ(st, dtype == 1   ? fp4_quantize_bf16(x16, rows, cols, ldx, &cfg, &t2, NULL, 0)
               : dtype == 2 ? fp4_quantize_f16(x16, rows, cols, ldx, &cfg, &t2, NULL, 0)
                            : fp4_quantize_f32(x, rows, cols, ldx, &cfg, &t2, NULL, 0));
  CHECK_EQ(FP4_OK, fp4_scales_to_swizzled(s, R, C / blk, sw2));
  CHECK(memcmp(sw, sw2, swb) == 0);
  CHECK(memcmp(d2, d, db) == 0);
  H_DIGEST(sw, swb);
  /* dequantization: f32 from either layout agree; bf16 / f16 are the RNE roundings of the f32 */
  CHECK_EQ(FP4_OK, fp4_dequantize_f32(&t, y, C));
  CHECK_EQ(FP4_OK, fp4_dequantize_f32(&t2, z, C));
  CHECK(memcmp(y, z, (size_t)n * sizeof(float)) == 0);
  H_DIGEST(y, (size_t)n * sizeof(float));
  mism = 0;
  for (i = 0; i < n; i++) {
    double want_v = r_deq(cfg.format, t.rule, d, s, C, t.tensor_scale, i / C, i % C);
    int scale_nan = cfg.format == FP4_NVFP4 ? (s[i / blk] & 0x7F) == 0x7F : s[i / blk] == 0xFF;
    if (scale_nan ? y[i] == y[i] : (double)y[i] != (double)(float)want_v)
      MISMATCH("dequant %ld: %a want %a", (long)i, (double)y[i], want_v);
  }
  CHECK_EQ(0, mism);
  CHECK_EQ(FP4_OK, fp4_dequantize_bf16(&t, y16, C));
  H_DIGEST(y16, (size_t)n * 2);
  mism = 0;
  for (i = 0; i < n; i++)
    if (y[i] == y[i] ? r_bf16_val(y16[i]) != r_bf16_round(y[i]) : r_bf16_val(y16[i]) == r_bf16_val(y16[i]))
      MISMATCH("bf16 dequant %ld", (long)i);
  CHECK_EQ(FP4_OK, fp4_dequantize_f16(&t, y16, C));
  H_DIGEST(y16, (size_t)n * 2);
  for (i = 0; i < n; i++)
    if (y[i] == y[i] ? r_f16_val(y16[i]) != r_f16_round(y[i]) : r_f16_val(y16[i]) == r_f16_val(y16[i]))
      MISMATCH("f16 dequant %ld", (long)i);
  CHECK_EQ(0, mism);
  /* fake quantize == quantize + dequantize (and the same mask) */
  if (!dtype) {
    CHECK_EQ(st, fp4_fake_quantize_f32(x, rows, cols, ldx, &cfg, z, C, quest ? fmask : NULL, NULL, 0));
    CHECK(memcmp(y, z, (size_t)n * sizeof(float)) == 0);
    if (quest) CHECK(memcmp(fmask, mask, (size_t)n / 8) == 0);
  }
done:
  free(x); free(q); free(y); free(z); free(x16); free(y16); free(ctr); free(d); free(s); free(md); free(ms);
  free(sw); free(sw2); free(mask); free(mmask); free(fmask); free(d2);
}

static void test_model(void) {
  int k;
  for (k = 0; k < 360; k++) {
    fp4_quant_config c = random_cfg();
    int blk = c.format == FP4_NVFP4 ? 16 : 32, L = c.hadamard > blk ? c.hadamard : blk;
    int64_t qc = (int64_t)L * (1 + rnd(c.hadamard >= 128 ? 2 : 4)), qr = 1 + 2 * rnd(20); /* odd rows */
    if (c.scale_2d && rnd(2)) qr = 16 * (1 + rnd(3)) + (rnd(2) ? 0 : 5);
    if (c.transpose) run_case(c, qc, qr, rnd(4), rnd(3), rnd(8) == 0);
    else run_case(c, qr, qc, rnd(4), rnd(3), rnd(8) == 0);
  }
}

/* ---- transposed == materialized transpose (round to nearest), every format, rule and 2D ---- */
static void test_transpose(void) {
  enum { RX = 64, CX = 96 };
  static float x[RX * CX], xt[CX * RX];
  static uint8_t d1[RX * CX / 2], d2[RX * CX / 2], s1[RX * CX / 16], s2[RX * CX / 16];
  fp4_rule r;
  int i, j, pass;
  for (pass = 0; pass < 2; pass++)
    for (r = FP4_MX_OCP; r < FP4_RULE_COUNT; r = (fp4_rule)(r + 1)) {
      fp4_format f = r <= FP4_MX_ADAPTIVE ? FP4_MXFP4 : FP4_NVFP4;
      fp4_quant_config c = fp4_config_default(f);
      fp4_tensor t1, t2;
      for (i = 0; i < RX * CX; i++) x[i] = gen(pass, 1.0);
      for (i = 0; i < RX; i++)
        for (j = 0; j < CX; j++) xt[j * RX + i] = x[i * CX + j];
      c.rule = r;
      c.scale_2d = f == FP4_NVFP4 && pass;
      c.hadamard = pass ? 32 : 0;
      c.transpose = 1;
      fp4_tensor_init(&t1, d1, s1, FP4_LAYOUT_LINEAR);
      fp4_tensor_init(&t2, d2, s2, FP4_LAYOUT_LINEAR);
      CHECK_EQ(FP4_OK, fp4_quantize_f32(x, RX, CX, CX, &c, &t1, NULL, 0));
      c.transpose = 0;
      CHECK_EQ(FP4_OK, fp4_quantize_f32(xt, CX, RX, RX, &c, &t2, NULL, 0));
      CHECK(t1.rows == CX && t1.cols == RX);
      CHECK(memcmp(d1, d2, sizeof d1) == 0);
      CHECK(memcmp(s1, s2, (size_t)CX * RX / fp4_format_block(f)) == 0);
      CHECK_FEQ(t2.tensor_scale, t1.tensor_scale);
      H_DIGEST(d1, sizeof d1);
    }
}

/* ---- 2D: the scales of X and X^T agree (tile (I, J) of X is tile (J, I) of X^T), SR included ---- */
static void test_2d(void) {
  enum { RX = 48, CX = 80 };
  static float x[RX * CX];
  static uint8_t d1[RX * CX / 2], d2[RX * CX / 2], s1[RX * CX / 16], s2[RX * CX / 16];
  fp4_rule r;
  int i, j, bad;
  for (r = FP4_NV_6; r < FP4_RULE_COUNT; r = (fp4_rule)(r + 1)) {
    fp4_quant_config c = fp4_config_default(FP4_NVFP4);
    fp4_tensor t1, t2;
    for (i = 0; i < RX * CX; i++) x[i] = gen(1, 1.0);
    c.rule = r;
    c.scale_2d = 1;
    c.rounding = (r & 1) ? FP4_ROUND_STOCHASTIC : FP4_ROUND_NEAREST;
    c.seed = h_rand();
    fp4_tensor_init(&t1, d1, s1, FP4_LAYOUT_LINEAR);
    fp4_tensor_init(&t2, d2, s2, FP4_LAYOUT_LINEAR);
    CHECK_EQ(FP4_OK, fp4_quantize_f32(x, RX, CX, CX, &c, &t1, NULL, 0));
    c.transpose = 1;
    CHECK_EQ(FP4_OK, fp4_quantize_f32(x, RX, CX, CX, &c, &t2, NULL, 0));
    bad = 0;
    /* X: rows RX, scale columns CX/16; X^T: rows CX, scale columns RX/16 */
    for (i = 0; i < RX; i++)
      for (j = 0; j < CX / 16; j++) {
        uint8_t a = s1[i * (CX / 16) + j];
        if (a != s1[(i / 16 * 16) * (CX / 16) + j]) bad++;       /* one scale per tile */
        if (a != s2[(j * 16 + i % 16) * (RX / 16) + i / 16]) bad++; /* same as the transposed tile */
      }
    CHECK_EQ(0, bad);
    /* the codes of X^T's quantization are the transpose of X's (same words, same scale per tile) */
    bad = 0;
    for (i = 0; i < RX; i++)
      for (j = 0; j < CX; j++)
        if (r_code(d1, CX, i, j) != r_code(d2, RX, j, i)) bad++;
    CHECK_EQ(0, bad);
    H_DIGEST(s1, sizeof s1);
    H_DIGEST(s2, sizeof s2);
  }
}

/* ---- error bounds of dequantize(quantize(x)) ---- */
/* half the grid step at |y| (y on the E2M1 scale) */
static double halfstep(double a) { return a <= 2 ? 0.25 : a <= 4 ? 0.5 : 1.0; }

static void test_bounds(void) {
  enum { ROWS = 37, COLS = 256 };
  static float x[ROWS * COLS], y[ROWS * COLS];
  static uint8_t d[ROWS * COLS / 2], s[ROWS * COLS / 16], mask[ROWS * COLS / 8];
  fp4_rule r;
  int kind, sr;
  for (kind = 0; kind < 2; kind++)
    for (sr = 0; sr < 2; sr++)
      for (r = FP4_MX_OCP; r < FP4_RULE_COUNT; r = (fp4_rule)(r + 1)) {
        fp4_format f = r <= FP4_MX_ADAPTIVE ? FP4_MXFP4 : FP4_NVFP4;
        fp4_quant_config c = fp4_config_default(f);
        int blk = fp4_format_block(f), i, nb = COLS / blk, b;
        long over = 0, sat_bad = 0, mask_bad = 0, sats = 0;
        double sc = ldexp(1.0, rnd(21) - 10), worst = 0;
        fp4_tensor t;
        r_nv nv;
        c.rule = r;
        c.rounding = sr ? FP4_ROUND_STOCHASTIC : FP4_ROUND_NEAREST;
        c.seed = h_rand();
        for (i = 0; i < ROWS * COLS; i++) x[i] = gen(kind, sc);
        fp4_tensor_init(&t, d, s, FP4_LAYOUT_LINEAR);
        t.mask = r == FP4_MX_QUEST ? mask : NULL;
        CHECK_EQ(FP4_OK, fp4_quantize_f32(x, ROWS, COLS, COLS, &c, &t, NULL, 0));
        CHECK_EQ(FP4_OK, fp4_dequantize_f32(&t, y, COLS));
        H_DIGEST(d, sizeof d);
        nv = r_nv_make(r, t.amax);
        for (b = 0; b < ROWS * nb; b++) {
          const float *xb = x + b * blk, *yb = y + b * blk;
          double bmax = 0, unit, shp = 0;
          for (i = 0; i < blk; i++) bmax = fabs((double)xb[i]) > bmax ? fabs((double)xb[i]) : bmax;
          if (f == FP4_MXFP4) unit = r_e8m0_val(s[b]) / (r == FP4_MX_ABSMAX3 ? 3.0 : 1.0);
          else {
            unit = r_e4m3_val(s[b]) * (double)t.tensor_scale;
            shp = bmax / nv.D * (double)nv.S_enc;
          }
          for (i = 0; i < blk; i++) {
            double xv = xb[i], yv = yb[i], err = fabs(xv - yv), yy, tol;
            if (f == FP4_NVFP4 && unit == 0) { /* the scale underflowed: shp below half of 2^-9 */
              if (yv != 0 || shp > ldexp(1.0, -10) * (1 + 1e-6)) over++;
              continue;
            }
            yy = fabs(xv) / unit;
            if (r == FP4_MX_QUEST && ((mask[(b * blk + i) / 8] >> ((b * blk + i) % 8)) & 1) != (fabs(xv) / r_e8m0_val(s[b]) < 6))
              mask_bad++;
            if (yy > 6 * (1 + 1e-6)) { /* saturation: x^ = +-6 unit, and only where the rule allows it */
              sats++;
              if (fabs(fabs(yv) - 6 * unit) > 6 * unit * 1e-6 || (yv < 0) != (xv < 0)) sat_bad++;
              if (r == FP4_MX_OCP && yy >= 8) sat_bad++;
              if (r == FP4_MX_ADAPTIVE && yy >= 8) sat_bad++;
              if (r == FP4_MX_CEIL || r == FP4_MX_ABSMAX3 || r == FP4_NV_4) sat_bad++;
              if (f == FP4_NVFP4 && r_e4m3_val(s[b]) >= 0.015625 && yy > 6.375 * (1 + 1e-5)) sat_bad++;
              if (f == FP4_NVFP4 && r_e4m3_val(s[b]) >= shp * (1 + 1e-6) && r != FP4_NV_4 &&
                  r_e4m3_val(s[b]) < 1.5 * shp * (1 - 1e-6))
                sat_bad++; /* a 6-candidate scale that did not round down cannot saturate */
              continue;
            }
            /* round to nearest: half a step; stochastic: a full step (unit * 2 * halfstep) */
            tol = unit * halfstep(yy * (1 + 1e-6)) * (sr ? 2 : 1) * (1 + 1e-5);
            if (f == FP4_NVFP4 || r == FP4_MX_ABSMAX3) tol += unit * 6 * 4e-7 + fabs(xv) * 4e-7;
            if (err > tol) {
              if (over < 3) fprintf(stderr, "  bound: rule %d x %a x^ %a unit %a\n", r, xv, yv, unit);
              over++;
            }
            if (err / unit > worst) worst = err / unit;
          }
        }
        CHECK_EQ(0, over);
        CHECK_EQ(0, sat_bad);
        CHECK_EQ(0, mask_bad);
        CHECK_LE(worst, sr ? 2.0 * (1 + 1e-5) + 3e-6 : 1.0 * (1 + 1e-5) + 3e-6);
        (void)sats;
      }
}

/* ---- 4/6 never loses to its own 6-candidate (NV_6 arithmetic with K = 1536) ---- */
static void test_4over6(void) {
  enum { ROWS = 33, COLS = 512 };
  static float x[ROWS * COLS];
  static uint8_t d[ROWS * COLS / 2], s[ROWS * COLS / 16];
  fp4_rule r;
  int kind;
  for (kind = 0; kind < 2; kind++)
    for (r = FP4_NV_4OVER6_MSE; r <= FP4_NV_4OVER6_MAXABS; r = (fp4_rule)(r + 1)) {
      fp4_quant_config c = fp4_config_default(FP4_NVFP4);
      fp4_tensor t;
      r_nv nv;
      int b, i, worse = 0, worse64 = 0, fours = 0;
      c.rule = r;
      for (i = 0; i < ROWS * COLS; i++) x[i] = gen(kind ? 3 : 1, 1.0);
      if (kind) { /* lattice data under a calibrated amax that makes S_dec inexact: many near-ties */
        c.has_amax = 1;
        c.amax = 23.7f;
      }
      fp4_tensor_init(&t, d, s, FP4_LAYOUT_LINEAR);
      CHECK_EQ(FP4_OK, fp4_quantize_f32(x, ROWS, COLS, COLS, &c, &t, NULL, 0));
      H_DIGEST(d, sizeof d);
      nv = r_nv_make(r, t.amax);
      {
        uint8_t md[ROWS * COLS / 2], ms[ROWS * COLS / 16];
        float ts, am;
        r_quantize(x, ROWS, COLS, NULL, 0, &c, md, ms, NULL, &ts, &am);
        CHECK(memcmp(md, d, sizeof md) == 0 && memcmp(ms, s, sizeof ms) == 0);
      }
      for (b = 0; b < ROWS * COLS / 16; b++) {
        const float *xb = x + b * 16;
        float bmax = 0, inv6, e_lib = 0, e_6 = 0;
        double l64 = 0, s64 = 0;
        uint8_t s6, s4;
        for (i = 0; i < 16; i++) bmax = fabsf(xb[i]) > bmax ? fabsf(xb[i]) : bmax;
        s6 = r_e4m3_enc(r_mul(bmax / 6.0f, nv.S_enc)); /* NV_6's rule with K = 1536 */
        (void)s4;
        inv6 = r_nv_inv(&nv, s6);
        for (i = 0; i < 16; i++) {
          uint8_t q6 = r_nv_code(xb[i], inv6, NULL, 0), ql = (uint8_t)r_code(d, COLS, 0, b * 16 + i);
          double dl = r_e2m1_val(ql) * r_e4m3_val(s[b]) * (double)nv.amax / 1536.0 - xb[i];
          double d6 = r_e2m1_val(q6) * r_e4m3_val(s6) * (double)nv.amax / 1536.0 - xb[i];
          e_lib = r_nv_err(&nv, e_lib, xb[i], ql, s[b]);
          e_6 = r_nv_err(&nv, e_6, xb[i], q6, s6);
          if (r == FP4_NV_4OVER6_MSE) { l64 += dl * dl; s64 += d6 * d6; }
          else if (r == FP4_NV_4OVER6_MAE) { l64 += fabs(dl); s64 += fabs(d6); }
          else { l64 = fabs(dl) > l64 ? fabs(dl) : l64; s64 = fabs(d6) > s64 ? fabs(d6) : s64; }
        }
        if (s[b] != s6) fours++;
        if (e_lib > e_6) worse++;
        if (l64 > s64 * (1 + 1e-5)) worse64++;
      }
      CHECK_EQ(0, worse);
      CHECK_EQ(0, worse64);
      CHECK(fours > 0); /* the 4-candidate does win somewhere */
    }
}

/* ---- Hadamard ---- */
static void test_hadamard(void) {
  enum { ROWS = 5, COLS = 512 };
  static float x[ROWS * COLS], y[ROWS * COLS], z[ROWS * COLS], m[ROWS * COLS];
  uint32_t bits[8], rb[8];
  int gi, sg, i, j;
  static const int rht[16] = {0, 0, 0, 1, 0, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1};
  /* the rht16 signs and the seed-drawn signs */
  fp4_hadamard_signs_rht16(bits);
  for (i = 0; i < 16; i++) CHECK_EQ(rht[i], (int)((bits[0] >> i) & 1));
  CHECK_EQ(0, (int)(bits[0] >> 16));
  for (i = 1; i < 8; i++) CHECK_EQ(0, bits[i]);
  for (gi = 1; gi < 6; gi++) {
    uint64_t seed = h_rand();
    fp4_hadamard_signs_from_seed(seed, groups[gi], bits);
    r_signs_from_seed(seed, groups[gi], rb);
    CHECK(memcmp(bits, rb, sizeof bits) == 0);
  }
  for (gi = 1; gi < 6; gi++)
    for (sg = 0; sg < 2; sg++) {
      int g = groups[gi], L = 0;
      double worst = 0, bound;
      long bad = 0, diff = 0;
      for (i = 0; i < 8; i++) bits[i] = (uint32_t)h_rand();
      for (i = g; i > 1; i /= 2) L++;
      for (i = 0; i < ROWS * COLS; i++) x[i] = gen(i % 2, 1.0);
      CHECK_EQ(FP4_OK, fp4_hadamard_f32(x, ROWS, COLS, COLS, y, COLS, g, sg ? bits : NULL, 0));
      memcpy(m, x, sizeof x);
      for (i = 0; i < ROWS * COLS; i += g) r_hadamard(m + i, g, sg ? bits : NULL, 0);
      CHECK(memcmp(m, y, sizeof y) == 0); /* forward == the spec's butterflies, bit for bit */
      H_DIGEST(y, sizeof y);
      CHECK_EQ(FP4_OK, fp4_hadamard_f32(y, ROWS, COLS, COLS, z, COLS, g, sg ? bits : NULL, 1));
      /* in place gives the same */
      memcpy(m, y, sizeof y);
      CHECK_EQ(FP4_OK, fp4_hadamard_f32(m, ROWS, COLS, COLS, m, COLS, g, sg ? bits : NULL, 1));
      CHECK(memcmp(m, z, sizeof z) == 0);
      /* Bound: H/sqrt(g) is orthogonal. Each of the L = log2(g) butterfly stages rounds each entry with
       * relative error <= u = 2^-24, so a stage adds at most u * ||v||_2 in 2-norm and later stages
       * carry it with gain sqrt(2) per stage, as they do the signal; the final multiply by fp32(1/sqrt g)
       * adds u (rounding) + u (the constant's own error). Forward and inverse together:
       * ||x^ - x||_2 <= (2L + 4) u ||x||_2 to first order; we allow (2L + 6) u ||x_group||_2 per element. */
      for (i = 0; i < ROWS * COLS; i += g) {
        double nrm = 0;
        for (j = 0; j < g; j++) nrm += (double)x[i + j] * x[i + j];
        nrm = sqrt(nrm);
        bound = (2 * L + 6) * ldexp(1.0, -24) * nrm;
        for (j = 0; j < g; j++) {
          double e = fabs((double)z[i + j] - x[i + j]);
          if (e > bound) bad++;
          if (nrm > 0 && e / (ldexp(1.0, -24) * nrm) > worst) worst = e / (ldexp(1.0, -24) * nrm);
          if (z[i + j] != x[i + j]) diff++;
        }
      }
      CHECK_EQ(0, bad);
      printf("hadamard g=%d signs=%d: round trip, worst |x^ - x| = %.2f u ||x_group||_2 (bound %d), %ld of %d elements not exact\n",
             g, sg, worst, 2 * L + 6, diff, ROWS * COLS);
    }
  /* the normalization constants are fp32(1/sqrt(g)): a vector e_0 maps to that constant */
  for (gi = 1; gi < 6; gi++) {
    float v[256] = {0}, w[256];
    v[0] = 1.0f;
    CHECK_EQ(FP4_OK, fp4_hadamard_f32(v, 1, groups[gi], groups[gi], w, groups[gi], groups[gi], NULL, 0));
    CHECK_FEQ((float)(1.0 / sqrt((double)groups[gi])), w[groups[gi] - 1]);
  }
}

/* ---- swizzled scale layout (spec §2) ---- */
static void test_swizzle(void) {
  int k;
  for (k = 0; k < 60; k++) {
    int64_t rows = 1 + rnd(k < 30 ? 40 : 400), sc = 1 + rnd(11), cp = (sc + 3) / 4 * 4, rp = (rows + 127) / 128 * 128;
    size_t n = (size_t)(rp * cp), i;
    uint8_t *lin = (uint8_t *)malloc((size_t)(rows * sc)), *sw = (uint8_t *)malloc(n), *back = (uint8_t *)malloc((size_t)(rows * sc));
    uint8_t *hit = (uint8_t *)calloc(n, 1);
    int64_t r, c;
    long bad = 0;
    for (i = 0; i < (size_t)(rows * sc); i++) lin[i] = (uint8_t)(1 + rnd(255));
    memset(sw, 0xAA, n);
    CHECK_EQ(n, fp4_scale_bytes(FP4_MXFP4, rows, sc * 32, FP4_LAYOUT_SWIZZLED));
    CHECK_EQ(n, fp4_scale_bytes(FP4_NVFP4, rows, sc * 16, FP4_LAYOUT_SWIZZLED));
    CHECK_EQ(FP4_OK, fp4_scales_to_swizzled(lin, rows, sc, sw));
    for (r = 0; r < rows; r++)
      for (c = 0; c < sc; c++) {
        size_t off = (size_t)(((r / 128) * (cp / 4) + c / 4) * 512 + (r % 32) * 16 + ((r % 128) / 32) * 4 + c % 4);
        if (fp4_swizzle_offset(r, c, sc) != off || off >= n || sw[off] != lin[r * sc + c] || hit[off]) bad++;
        hit[off] = 1;
      }
    for (i = 0; i < n; i++)
      if (!hit[i] && sw[i] != 0) bad++; /* padding is zero */
    CHECK_EQ(0, bad);
    memset(back, 0, (size_t)(rows * sc));
    CHECK_EQ(FP4_OK, fp4_scales_to_linear(sw, rows, sc, back));
    CHECK(memcmp(back, lin, (size_t)(rows * sc)) == 0);
    H_DIGEST(sw, n);
    free(lin); free(sw); free(back); free(hit);
  }
}

int main(void) {
  h_rand_state = h_seed();
  test_swizzle();
  test_hadamard();
  test_transpose();
  test_2d();
  test_4over6();
  test_bounds();
  test_model();
  return h_finish();
}
