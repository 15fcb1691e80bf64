/* SPDX-License-Identifier: MIT */
/* An independent model of SPEC.md for the tests: codecs computed in double by nearest-value search
 * or rint on a power-of-two grid, Philox4x32-10 on a full 4-word counter, the Walsh-Hadamard
 * transform, every MX / NV block rule, a tensor quantizer that works on a materialized matrix with an
 * explicit Philox counter per element, and the reproducible W4A4 GEMM of spec §5. Nothing here calls
 * the code under test for a value; it only reuses fp4.h's types and enum names. Products that feed an
 * addition go through r_mul (a volatile store) so the -ffp-contract=fast build cannot fuse them. */
#ifndef FP4_TEST_REF_H
#define FP4_TEST_REF_H
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fp4.h"

static inline float r_mul(float a, float b) {
  volatile float p = a * b;
  return p;
}
static inline float r_add(float a, float b) {
  volatile float s = a + b;
  return s;
}
static inline uint32_t r_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}
static inline float r_float(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}
/* floor(log2(a)) for finite a > 0 (frexp handles subnormals). */
static inline int r_floor_log2(double a) {
  int k;
  frexp(a, &k);
  return k - 1;
}

/* ---- decoders ---- */
static const double r_grid[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
static inline double r_e2m1_val(unsigned code) {
  double m = r_grid[code & 7];
  return (code & 8) ? -m : m;
}
static inline double r_e4m3_calc(unsigned code) {
  unsigned e = (code >> 3) & 15, m = code & 7;
  double v;
  if ((code & 0x7F) == 0x7F) return NAN;
  v = e ? ldexp(1.0 + m / 8.0, (int)e - 7) : ldexp((double)m, -9);
  return (code & 0x80) ? -v : v;
}
static inline double r_e4m3_val(unsigned code) {
  static double tab[256];
  static int init;
  if (!init) {
    unsigned c;
    for (c = 0; c < 256; c++) tab[c] = r_e4m3_calc(c);
    init = 1;
  }
  return tab[code & 255];
}
static inline double r_e8m0_val(unsigned code) { return code == 255 ? NAN : ldexp(1.0, (int)code - 127); }
static inline double r_bf16_val(uint16_t h) {
  int s = h >> 15, e = (h >> 7) & 0xFF, m = h & 0x7F;
  double v;
  if (e == 0xFF) return m ? NAN : (s ? -INFINITY : INFINITY);
  v = e ? ldexp(1.0 + m / 128.0, e - 127) : ldexp((double)m, -133);
  return s ? -v : v;
}
static inline double r_f16_val(uint16_t h) {
  int s = h >> 15, e = (h >> 10) & 0x1F, m = h & 0x3FF;
  double v;
  if (e == 0x1F) return m ? NAN : (s ? -INFINITY : INFINITY);
  v = e ? ldexp(1.0 + m / 1024.0, e - 15) : ldexp((double)m, -24);
  return s ? -v : v;
}

/* ---- encoders ---- */
/* E2M1: the nearest grid value, ties to the even code; beyond 6 (and +-Inf, NaN) code 7. */
static inline uint8_t r_e2m1_enc(float x) {
  uint8_t s = signbit(x) ? 8 : 0, best = 0;
  double a = fabs((double)x), bd = 1e300;
  int c;
  if (!(a <= 6.0)) return (uint8_t)(s | 7);
  for (c = 0; c < 8; c++) {
    double d = fabs(a - r_grid[c]);
    if (d < bd || (d == bd && (c & 1) == 0)) {
      bd = d;
      best = (uint8_t)c;
    }
  }
  return (uint8_t)(s | best);
}
/* E4M3: NaN -> 0x7F; |x| >= 448 (finite or Inf) -> +-448; else the nearest code, ties to even. */
static inline uint8_t r_e4m3_enc(float x) {
  uint8_t s = signbit(x) ? 0x80 : 0, best = 0;
  double a = fabs((double)x), bd = 1e300;
  int c, lo = 0, hi = 0x7E;
  if (x != x) return 0x7F;
  if (a >= 448.0) return (uint8_t)(s | 0x7E);
  /* the codes 0..0x7E are increasing: bisect to the first code with value >= a */
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (r_e4m3_val((unsigned)mid) < a) lo = mid + 1;
    else hi = mid;
  }
  for (c = lo > 0 ? lo - 1 : 0; c <= lo; c++) {
    double d = fabs(a - r_e4m3_val((unsigned)c));
    if (d < bd || (d == bd && (c & 1) == 0)) {
      bd = d;
      best = (uint8_t)c;
    }
  }
  return (uint8_t)(s | best);
}
/* Round |x| to `mbits` significant bits (below 2^emin: fixed step 2^(emin - mbits + 1)), RNE, in
 * double; returns the value with x's sign, or +-Inf above maxv. */
static inline double r_round_fmt(double x, int mbits, int emin, double maxv) {
  double a = fabs(x), q;
  int e;
  if (a == 0) return x;
  e = r_floor_log2(a);
  if (e < emin) e = emin;
  q = ldexp(nearbyint(ldexp(a, mbits - 1 - e)), e - mbits + 1);
  if (q > maxv) q = INFINITY;
  return signbit(x) ? -q : q;
}
static inline double r_bf16_round(float x) { return r_round_fmt(x, 8, -126, 0x1.FEp127); }
static inline double r_f16_round(float x) { return r_round_fmt(x, 11, -14, 65504.0); }
/* bf16 bits of the RNE rounding (finite or Inf x); the model's own encoder. */
static inline uint16_t r_bf16_enc(float x) {
  double q = r_bf16_round(x);
  uint32_t b = r_bits((float)q); /* q has 8 significant bits: exact in float */
  return (uint16_t)(b >> 16);
}
static inline float r_bf16_to_f32(uint16_t h) { return (float)r_bf16_val(h); }

/* ---- Philox4x32-10 on a full counter ---- */
static inline void r_philox(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
  uint32_t x0 = ctr[0], x1 = ctr[1], x2 = ctr[2], x3 = ctr[3], k0 = key[0], k1 = key[1];
  int round;
  for (round = 0; round < 10; round++) {
    uint64_t a = (uint64_t)x0 * 0xD2511F53u, b = (uint64_t)x2 * 0xCD9E8D57u;
    uint32_t y0, y2;
    if (round > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    y0 = (uint32_t)(b >> 32) ^ x1 ^ k0;
    y2 = (uint32_t)(a >> 32) ^ x3 ^ k1;
    x1 = (uint32_t)b;
    x3 = (uint32_t)a;
    x0 = y0;
    x2 = y2;
  }
  out[0] = x0;
  out[1] = x1;
  out[2] = x2;
  out[3] = x3;
}
/* The library's counter form: {idx lo, idx hi, 0, 0}, key = the 64-bit seed. */
static inline uint32_t r_word(uint64_t seed, uint64_t idx, int w) {
  uint32_t c[4], k[2], o[4];
  c[0] = (uint32_t)idx;
  c[1] = (uint32_t)(idx >> 32);
  c[2] = c[3] = 0;
  k[0] = (uint32_t)seed;
  k[1] = (uint32_t)(seed >> 32);
  r_philox(c, k, o);
  return o[w];
}

/* ---- stochastic E2M1 (spec §3) ---- */
static inline uint8_t r_e2m1_sr(float y, uint32_t r) {
  uint8_t s = signbit(y) ? 8 : 0;
  double a = fabs((double)y), lo, hi, frac;
  int c;
  if (!(a < 6.0)) return (uint8_t)(s | 7);
  for (c = 0; c < 7 && !(a < r_grid[c + 1]); c++) {
  }
  lo = r_grid[c];
  hi = r_grid[c + 1];
  frac = (a - lo) / (hi - lo);
  if ((double)(r >> 8) < frac * 16777216.0) c++;
  return (uint8_t)(s | c);
}
static inline uint8_t r_round(float y, const uint32_t *r, int i) { return r ? r_e2m1_sr(y, r[i]) : r_e2m1_enc(y); }

/* ---- Hadamard (spec §3) ---- */
static inline float r_hnorm(int g) { return (float)(1.0 / sqrt((double)g)); }
static inline int r_neg(const uint32_t *bits, int i) { return bits && ((bits[i / 32] >> (i % 32)) & 1u); }
static inline void r_hadamard(float *v, int g, const uint32_t *signs, int inverse) {
  int h, j;
  float n = r_hnorm(g);
  if (!inverse)
    for (j = 0; j < g; j++)
      if (r_neg(signs, j)) v[j] = -v[j];
  for (h = 1; h < g; h *= 2)
    for (j = 0; j < g; j++)
      if (!(j & h)) {
        float a = v[j], b = v[j + h];
        v[j] = a + b;
        v[j + h] = a - b;
      }
  for (j = 0; j < g; j++) v[j] = v[j] * n;
  if (inverse)
    for (j = 0; j < g; j++)
      if (r_neg(signs, j)) v[j] = -v[j];
}
static inline void r_signs_from_seed(uint64_t seed, int g, uint32_t bits[8]) {
  int i;
  memset(bits, 0, 8 * sizeof bits[0]);
  for (i = 0; i < g; i++)
    if (r_word(seed, (uint64_t)i, 2) & 0x80000000u) bits[i / 32] |= 1u << (i % 32);
}

/* ---- MXFP4 block rules (spec §3) ---- */
static inline int r_isfinite(float f) { return fabsf(f) <= FLT_MAX; }

/* SSE of codes q at scale 2^e, err = err + t*t in fp32 (the library's documented choice for ADAPTIVE). */
static inline float r_mx_sse(const float *x, const uint8_t *q, int e) {
  float err = 0.0f;
  int i;
  for (i = 0; i < 32; i++) {
    float d = (float)ldexp(r_e2m1_val(q[i]), e), t = d - x[i];
    err = r_add(err, r_mul(t, t));
  }
  return err;
}
static inline void r_mx_codes(const float *x, int e, const uint32_t *r, uint8_t *q) {
  int i;
  for (i = 0; i < 32; i++) q[i] = r_round((float)ldexp((double)x[i], -e), r, i);
}

/* Returns the E8M0 code; q: 32 unpacked codes; mask: 32 flags (QUEST) or NULL. */
static inline uint8_t r_mx_block(const float *x, fp4_rule rule, const uint32_t *r0, const uint32_t *r1, uint8_t *q,
                          uint8_t *mask) {
  double amax = 0;
  int i, e;
  for (i = 0; i < 32; i++) {
    if (!r_isfinite(x[i])) {
      memset(q, 0, 32);
      if (mask) memset(mask, 0, 32);
      return 0xFF;
    }
    if (fabs((double)x[i]) > amax) amax = fabs((double)x[i]);
  }
  if (mask) memset(mask, 0, 32);
  if (rule == FP4_MX_QUEST) {
    float s1 = 0, s2 = 0, mean, var, t;
    for (i = 0; i < 32; i++) {
      s1 = r_add(s1, x[i]);
      s2 = r_add(s2, r_mul(x[i], x[i]));
    }
    mean = r_mul(s1, 1.0f / 32);
    var = r_mul(s2, 1.0f / 32) - r_mul(mean, mean);
    if (var < 0 || var != var) e = 0;
    else {
      t = r_add(r_mul(sqrtf(var), 0.48707976f), 1e-8f);
      e = t > FLT_MAX ? 127 : r_floor_log2(t);
    }
    for (i = 0; i < 32; i++) {
      float y = (float)ldexp((double)x[i], -e);
      q[i] = amax == 0 ? 0 : r_round(y, r0, i);
      if (mask) mask[i] = fabsf(y) < 6.0f;
    }
    return (uint8_t)(e + 127);
  }
  if (amax == 0) {
    memset(q, 0, 32);
    return rule == FP4_MX_ABSMAX3 ? (uint8_t)(r_floor_log2(1e-8f) + 127) : 0;
  }
  if (rule == FP4_MX_CEIL) {
    volatile float t = (float)amax / 6.0f;
    int k;
    double f = frexp((double)t, &k);
    if (t == 0) e = -127;
    else if (t < FLT_MIN) e = 1 - 127;                 /* subnormal t: code 1 */
    else e = (k - 1) + (f != 0.5 ? 1 : 0);           /* exponent, +1 unless a power of two */
    r_mx_codes(x, e, r0, q);
    return (uint8_t)(e + 127);
  }
  if (rule == FP4_MX_ABSMAX3) {
    float s;
    e = r_floor_log2(r_add((float)amax, 1e-8f));
    s = (float)ldexp(1.0, e);
    for (i = 0; i < 32; i++) q[i] = r_round(r_mul(x[i] / s, 3.0f), r0, i);
    return (uint8_t)(e + 127);
  }
  e = r_floor_log2(amax) - 2;
  if (e < -127) e = -127;
  if (e > 127) e = 127;
  if (rule == FP4_MX_ADAPTIVE) {
    uint8_t q1[32];
    r_mx_codes(x, e, r0, q);
    r_mx_codes(x, e + 1, r1, q1);
    if (r_mx_sse(x, q1, e + 1) <= r_mx_sse(x, q, e)) {
      memcpy(q, q1, 32);
      e++;
    }
    return (uint8_t)(e + 127);
  }
  r_mx_codes(x, e, r0, q);
  return (uint8_t)(e + 127);
}

/* ---- NVFP4 (spec §3) ---- */
typedef struct r_nv {
  float amax, K, D, S_enc, S_dec;
  int metric; /* 0 single, 1 MSE, 2 MAE, 3 MAXABS */
} r_nv;
static inline r_nv r_nv_make(fp4_rule rule, float amax) {
  r_nv t;
  t.amax = amax;
  t.metric = 0;
  t.D = 6;
  if (rule == FP4_NV_4) { t.K = 1792; t.D = 4; }
  else if (rule == FP4_NV_6 || rule == FP4_RULE_DEFAULT) t.K = 2688;
  else {
    t.K = 1536;
    t.metric = rule == FP4_NV_4OVER6_MSE ? 1 : rule == FP4_NV_4OVER6_MAE ? 2 : 3;
  }
  if (amax == 0) t.S_enc = t.S_dec = 0;
  else {
    volatile float se = t.K / amax;
    t.S_enc = se;
    t.S_dec = 1.0f / t.S_enc;
  }
  return t;
}
static inline float r_nv_inv(const r_nv *t, uint8_t s) {
  float sv = (float)r_e4m3_val(s);
  return sv == 0 ? 0.0f : 1.0f / r_mul(t->S_dec, sv);
}
static inline uint8_t r_nv_code(float x, float inv, const uint32_t *r, int i) {
  return r_round(inv != 0 ? r_mul(x, inv) : 0.0f, r, i);
}
static inline float r_nv_err(const r_nv *t, float err, float x, uint8_t q, uint8_t s) {
  volatile float d = r_mul(r_mul((float)r_e2m1_val(q), (float)r_e4m3_val(s)), t->amax) / t->K;
  float e = d - x;
  if (t->metric == 1) return r_add(err, r_mul(e, e));
  if (t->metric == 2) return r_add(err, fabsf(e));
  return fabsf(e) > err ? fabsf(e) : err;
}
/* The two candidates for a block (or tile) maximum. */
static inline void r_nv_cands(const r_nv *t, float bmax, uint8_t *s6, uint8_t *s4) {
  float shp;
  if (t->amax == 0) {
    *s6 = *s4 = 0;
    return;
  }
  shp = r_mul(bmax / t->D, t->S_enc);
  *s6 = r_e4m3_enc(shp);
  *s4 = t->metric ? r_e4m3_enc(r_mul(shp, 1.5f)) : *s6;
}
/* n values x (a block of 16, or a 16x16 tile in error order `ord`), words r0/r1 indexed like x.
 * Returns the scale; q: codes in the order of x. */
static inline uint8_t r_nv_group(const float *x, int n, const int *ord, const r_nv *t, const uint32_t *r0,
                          const uint32_t *r1, uint8_t *q) {
  float bmax = 0, inv6, inv4, e6 = 0, e4 = 0;
  uint8_t s6, s4, q4[256];
  int i;
  for (i = 0; i < n; i++) {
    if (!r_isfinite(x[i])) {
      memset(q, 0, (size_t)n);
      return 0x7F;
    }
    if (fabsf(x[i]) > bmax) bmax = fabsf(x[i]);
  }
  r_nv_cands(t, bmax, &s6, &s4);
  inv6 = r_nv_inv(t, s6);
  for (i = 0; i < n; i++) q[i] = r_nv_code(x[i], inv6, r0, i);
  if (!t->metric) return s6;
  inv4 = r_nv_inv(t, s4);
  for (i = 0; i < n; i++) q4[i] = r_nv_code(x[i], inv4, r1, i);
  for (i = 0; i < n; i++) {
    int j = ord ? ord[i] : i;
    e6 = r_nv_err(t, e6, x[j], q[j], s6);
    e4 = r_nv_err(t, e4, x[j], q4[j], s4);
  }
  if (e4 < e6) {
    memcpy(q, q4, (size_t)n);
    return s4;
  }
  return s6;
}

/* ---- tensor quantizer over a materialized matrix ----
 * Q: R x C row-major values of the tensor to quantize (already transposed if asked), ctr: the Philox
 * counter of each element (R x C; NULL for round to nearest), src_t: the source is Q^T (the 2D error
 * runs down Q's columns). Outputs: data (R*C/2), linear scales (R*C/block), mask (R*C/8) or NULL,
 * *tscale, *amax_out. Returns 1 when some block was not finite. */
static inline int r_quantize(const float *Qin, int64_t R, int64_t C, const uint64_t *ctr, int src_t,
                      const fp4_quant_config *cfg, uint8_t *data, uint8_t *scales, uint8_t *mask, float *tscale,
                      float *amax_out) {
  fp4_format f = cfg->format;
  fp4_rule rule = cfg->rule ? cfg->rule : (f == FP4_NVFP4 ? FP4_NV_6 : FP4_MX_OCP);
  int blk = f == FP4_NVFP4 ? 16 : 32, g = cfg->hadamard, sr = cfg->rounding == FP4_ROUND_STOCHASTIC;
  int64_t n = R * C, i, r, c, b, sc = C / blk;
  float *v = (float *)malloc((size_t)n * sizeof(float));
  uint32_t *w0 = (uint32_t *)malloc((size_t)n * 4), *w1 = (uint32_t *)malloc((size_t)n * 4);
  uint8_t *codes = (uint8_t *)malloc((size_t)n);
  uint32_t signs[8];
  const uint32_t *sp = NULL;
  int bad = 0;
  r_nv t;
  memcpy(v, Qin, (size_t)n * sizeof(float));
  if (g) {
    if (cfg->hadamard_signs == FP4_SIGNS_USER) sp = cfg->hadamard_sign_bits;
    else if (cfg->hadamard_signs == FP4_SIGNS_RANDOM) {
      r_signs_from_seed(cfg->seed, g, signs);
      sp = signs;
    }
    for (r = 0; r < R; r++)
      for (c = 0; c < C; c += g) r_hadamard(v + r * C + c, g, sp, 0);
  }
  if (cfg->hadamard_bf16)
    for (i = 0; i < n; i++)
      if (r_isfinite(v[i])) v[i] = (float)r_bf16_round(v[i]);
  if (sr)
    for (i = 0; i < n; i++) {
      w0[i] = r_word(cfg->seed, ctr[i], 0);
      w1[i] = r_word(cfg->seed, ctr[i], 1);
    }
  if (f == FP4_NVFP4) {
    float amax = 0;
    if (cfg->has_amax) amax = cfg->amax;
    else
      for (i = 0; i < n; i++)
        if (r_isfinite(v[i]) && fabsf(v[i]) > amax) amax = fabsf(v[i]);
    t = r_nv_make(rule, amax);
    *tscale = t.S_dec;
    *amax_out = amax;
  } else {
    *tscale = rule == FP4_MX_ABSMAX3 ? 1.0f / 3.0f : 1.0f;
    *amax_out = 0;
  }
  if (f == FP4_MXFP4) {
    for (r = 0; r < R; r++)
      for (b = 0; b < sc; b++) {
        uint8_t m[32];
        int64_t o = r * C + b * 32;
        scales[r * sc + b] = r_mx_block(v + o, rule, sr ? w0 + o : NULL, sr ? w1 + o : NULL, codes + o, mask ? m : NULL);
        if (scales[r * sc + b] == 0xFF) bad = 1;
        if (mask)
          for (i = 0; i < 32; i++) {
            uint8_t *mb = mask + (o + i) / 8;
            if (i % 8 == 0) *mb = 0;
            if (m[i]) *mb = (uint8_t)(*mb | (1u << ((o + i) % 8)));
          }
      }
  } else if (!cfg->scale_2d) {
    for (r = 0; r < R; r++)
      for (b = 0; b < sc; b++) {
        int64_t o = r * C + b * 16;
        scales[r * sc + b] = r_nv_group(v + o, 16, NULL, &t, sr ? w0 + o : NULL, sr ? w1 + o : NULL, codes + o);
        if (scales[r * sc + b] == 0x7F) bad = 1;
      }
  } else {
    /* gather each 16x16 tile (rows rs.., scale column b) into a flat array, Q row-major */
    int64_t rs;
    for (rs = 0; rs < R; rs += 16)
      for (b = 0; b < sc; b++) {
        float tv[256];
        uint32_t t0[256], t1[256];
        uint8_t tq[256], s;
        int ord[256], nr = R - rs < 16 ? (int)(R - rs) : 16, k = 0, ii, jj;
        for (ii = 0; ii < nr; ii++)
          for (jj = 0; jj < 16; jj++) {
            int64_t o = (rs + ii) * C + b * 16 + jj;
            tv[ii * 16 + jj] = v[o];
            t0[ii * 16 + jj] = sr ? w0[o] : 0;
            t1[ii * 16 + jj] = sr ? w1[o] : 0;
          }
        /* error order: the source tensor's row-major order within the tile */
        if (!src_t)
          for (ii = 0; ii < nr * 16; ii++) ord[k++] = ii;
        else
          for (jj = 0; jj < 16; jj++)
            for (ii = 0; ii < nr; ii++) ord[k++] = ii * 16 + jj;
        s = r_nv_group(tv, nr * 16, ord, &t, sr ? t0 : NULL, sr ? t1 : NULL, tq);
        if (s == 0x7F) bad = 1;
        for (ii = 0; ii < nr; ii++) {
          scales[(rs + ii) * sc + b] = s;
          memcpy(codes + (rs + ii) * C + b * 16, tq + ii * 16, 16);
        }
      }
  }
  for (i = 0; i < n / 2; i++) data[i] = (uint8_t)((codes[2 * i] & 15) | ((codes[2 * i + 1] & 15) << 4));
  free(v);
  free(w0);
  free(w1);
  free(codes);
  return bad;
}

/* ---- reproducible W4A4 (spec §5), from the raw bytes ---- */
static inline int r_int2(unsigned code) { return (int)(2 * r_e2m1_val(code)); }
static inline unsigned r_code(const uint8_t *data, int64_t cols, int64_t r, int64_t c) {
  return (data[r * (cols / 2) + c / 2] >> (4 * (c % 2))) & 15;
}
/* C (f32 results before any 16-bit rounding) for linear scales sa, sb. */
static inline void r_gemm_w4a4(fp4_format f, int64_t M, int64_t N, int64_t K, const uint8_t *da, const uint8_t *sa,
                        float tsa, const uint8_t *db, const uint8_t *sb, float tsb, float alpha, float beta,
                        const float *Cold, float *Cout) {
  int blk = f == FP4_NVFP4 ? 16 : 32;
  int64_t nb = K / blk, m, n, b, k;
  float ae = r_mul(r_mul(alpha, tsa), tsb);
  for (m = 0; m < M; m++)
    for (n = 0; n < N; n++) {
      float acc = 0;
      for (b = 0; b < nb; b++) {
        long T = 0;
        unsigned ea = sa[m * nb + b], eb = sb[n * nb + b];
        float tb;
        for (k = b * blk; k < (b + 1) * blk; k++) T += r_int2(r_code(da, K, m, k)) * r_int2(r_code(db, K, n, k));
        if (f == FP4_MXFP4)
          tb = (ea == 255 || eb == 255) ? NAN : (float)ldexp((double)T, (int)ea + (int)eb - 256);
        else
          tb = (float)((double)T * r_e4m3_val(ea) * r_e4m3_val(eb) * 0.25);
        acc = r_add(acc, tb);
      }
      acc = r_mul(ae, acc);
      Cout[m * N + n] = beta != 0 ? r_add(acc, r_mul(beta, Cold[m * N + n])) : acc;
    }
}

/* ---- small helpers for the tests ---- */
/* Dequantized value of element (r, c) of a linear-scale tensor, in double. */
static inline double r_deq(fp4_format f, fp4_rule rule, const uint8_t *data, const uint8_t *scales, int64_t cols,
                    float tscale, int64_t r, int64_t c) {
  int blk = f == FP4_NVFP4 ? 16 : 32;
  double q = r_e2m1_val(r_code(data, cols, r, c));
  unsigned s = scales[r * (cols / blk) + c / blk];
  if (f == FP4_MXFP4) return rule == FP4_MX_ABSMAX3 ? q * r_e8m0_val(s) / 3.0 : q * r_e8m0_val(s);
  return q * r_e4m3_val(s) * (double)tscale;
}
#endif
