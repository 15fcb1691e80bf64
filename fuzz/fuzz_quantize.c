/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: quantize (f32 / bf16 / f16 sources), fake quantize, dequantize (f32 / bf16 / f16)
 * and the block Hadamard transform, with the configuration struct, sizes, leading dimensions, enum
 * values, offsets and element values all decoded from the fuzz input (fuzz/README.md).
 * Buffers are exactly what a correct caller would allocate, between poisoned guard bytes.
 * Properties checked on every input:
 *  - obviously invalid arguments (bad sizes, short ld, unknown enums, misaligned pointers) fail;
 *  - a failing call writes nothing: every output byte and the fp4_tensor struct are unchanged;
 *  - a succeeding call writes nothing outside its outputs (guards, leading-dimension gaps);
 *  - FP4_ERR_NONFINITE iff some scale is the NaN code, and NaN-scale blocks have zero codes;
 *  - dequantize(quantize(x)) == fake_quantize(x) bit for bit, masks included;
 *  - a bf16 / f16 source gives the same bytes as its exact f32 conversion;
 *  - bf16 / f16 dequantization is the RNE rounding of the f32 dequantization;
 *  - the Hadamard transform in place equals the transform out of place;
 *  - fp4_cpu.h (when present; built with -march=native its SIMD paths run) returns the same status and
 *    writes the same bytes as fp4.h for every call. */
#include "fp4.h"
#if defined(__has_include)
#if __has_include("fp4_cpu.h")
#include "fp4_cpu.h"
#endif
#endif
#include "fuzz.h"

#define MAX_R 48
#define MAX_C 512
#define MAX_SPAN 65536 /* elements of one source or output matrix */

/* Element values: from the input while it lasts, then from a generator seeded by it. */
typedef struct valgen {
  fz *f;
  uint64_t s;
  int mode;
} valgen;
static uint64_t vg_next(valgen *g) {
  uint64_t z = (g->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static float vg_float(valgen *g) {
  uint32_t u;
  float x;
  if (g->f->n >= 4) u = fz_u32(g->f);
  else u = (uint32_t)vg_next(g);
  if (g->mode == 0) { /* "nice": int8 * 2^(-8 .. 7), with a rare special */
    int m = (int8_t)(u & 0xFF), e = (int)((u >> 8) & 15) - 8;
    if (((u >> 12) & 255) == 0) return (u >> 20) & 1 ? (float)INFINITY : (float)NAN;
    return ldexpf((float)m, e);
  }
  if (g->mode == 1) { /* any bit pattern: NaN, Inf, subnormals, huge */
    memcpy(&x, &u, 4);
    return x;
  }
  /* a wide but finite exponent range */
  u = (u & 0x807FFFFFu) | ((uint32_t)(1 + (u >> 23) % 254) << 23);
  memcpy(&x, &u, 4);
  return x;
}

static int scale_nan(fp4_format f, uint8_t s) { return f == FP4_MXFP4 ? s == 0xFF : (s & 0x7F) == 0x7F; }

/* Properties of a quantized tensor: NONFINITE iff a NaN scale; NaN-scale blocks have zero codes. */
static void check_tensor(const fp4_tensor *t, fp4_status st) {
  int64_t r, b, blk = fp4_format_block(t->format), sc = t->cols / blk;
  int any = 0, j;
  for (r = 0; r < t->rows; r++)
    for (b = 0; b < sc; b++) {
      size_t o = t->scale_layout == FP4_LAYOUT_SWIZZLED ? fp4_swizzle_offset(r, b, sc) : (size_t)(r * sc + b);
      if (scale_nan(t->format, t->scales[o])) {
        any = 1;
        for (j = 0; j < blk / 2; j++) FZ_CHECK(t->data[r * (t->cols / 2) + b * blk / 2 + j] == 0);
      }
    }
  FZ_CHECK(any == (st == FP4_ERR_NONFINITE));
}

static int ok_status(fp4_status st) { return st == FP4_OK || st == FP4_ERR_NONFINITE; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz in = {data, size};
  fp4_quant_config cfg;
  valgen vg;
  int op = fz_u8(&in) % 5, flags = fz_u8(&in), blk, unit, i;
  fp4_dtype dt;
  int64_t rows, cols, ldx, R, C, xn;
  size_t xoff, es;
  int xcls, shape_ok;
  fz_buf xb, db, sb, mb, yb;
  uint8_t rb;
  memset(&xb, 0, sizeof xb);
  memset(&db, 0, sizeof db);
  memset(&sb, 0, sizeof sb);
  memset(&mb, 0, sizeof mb);
  memset(&yb, 0, sizeof yb);

  /* the configuration */
  memset(&cfg, 0, sizeof cfg);
  cfg.format = (fp4_format)fz_enum(&in, FP4_FORMAT_COUNT);
  rb = fz_u8(&in);
  if (rb < 200) {
    fp4_rule list[FP4_RULE_COUNT];
    int n = 0, r;
    list[n++] = FP4_RULE_DEFAULT;
    for (r = 1; r < FP4_RULE_COUNT; r++)
      if (fp4_rule_format((fp4_rule)r) == cfg.format) list[n++] = (fp4_rule)r;
    cfg.rule = list[rb % n];
  } else cfg.rule = (fp4_rule)fz_enum(&in, FP4_RULE_COUNT);
  cfg.rounding = (fp4_rounding)fz_enum(&in, FP4_ROUNDING_COUNT);
  cfg.seed = fz_u64(&in);
  rb = fz_u8(&in);
  if (rb < 120) cfg.hadamard = 0;
  else if (rb < 240) cfg.hadamard = 16 << (rb % 5);
  else cfg.hadamard = (int)fz_u32(&in);
  cfg.hadamard_signs = (fp4_signs)fz_enum(&in, FP4_SIGNS_COUNT);
  if (cfg.hadamard_signs == FP4_SIGNS_USER)
    for (i = 0; i < 8; i++) cfg.hadamard_sign_bits[i] = fz_u32(&in);
  cfg.hadamard_bf16 = flags & 1;
  cfg.scale_2d = (flags >> 1) & 1;
  cfg.transpose = (flags >> 2) & 1;
  cfg.has_amax = (flags >> 3) & 1;
  if (cfg.has_amax) cfg.amax = (fz_u8(&in) & 1) ? fz_f32(&in) : ldexpf((float)(fz_u8(&in) + 1), (int)(fz_u8(&in) % 16) - 8);
  vg.f = &in;
  vg.mode = (flags >> 6) % 3;

  /* the shape: blocks (or Hadamard groups) along the quantized rows, mostly */
  blk = (unsigned)cfg.format < FP4_FORMAT_COUNT ? fp4_format_block(cfg.format) : 32;
  unit = cfg.hadamard > blk && cfg.hadamard <= 256 ? cfg.hadamard : blk;
  if (cfg.transpose) {
    rows = fz_len(&in, unit, MAX_C);
    cols = fz_dim(&in, MAX_R);
  } else {
    rows = fz_dim(&in, MAX_R);
    cols = fz_len(&in, unit, MAX_C);
  }
  ldx = fz_ld(&in, cols);
  xoff = fz_u8(&in) % 8;
  vg.s = fz_u64(&in);
  R = cfg.transpose ? cols : rows;
  C = cfg.transpose ? rows : cols;
  dt = op == 1 ? FP4_BF16 : op == 2 ? FP4_F16 : FP4_F32;
  es = dt == FP4_F32 ? 4 : 2;
  xcls = fz_span(rows, cols, ldx, MAX_SPAN, &xn);
  if (xcls < 0) return 0; /* plausible, but too large for a fuzz iteration */
  shape_ok = xcls && C % blk == 0 && (unsigned)cfg.format < FP4_FORMAT_COUNT;

  /* the source: exactly (rows - 1) * ldx + cols elements */
  if (!xcls) xn = 16;
  {
    uint8_t *x = (uint8_t *)fz_alloc(&xb, (size_t)xn * es, xoff);
    for (i = 0; i < xn; i++) {
      float v = vg_float(&vg);
      if (dt == FP4_F32) memcpy(x + 4 * i, &v, 4);
      else {
        uint16_t h = dt == FP4_BF16 ? fp4_f32_to_bf16(v) : fp4_f32_to_f16(v);
        memcpy(x + 2 * i, &h, 2);
      }
    }
    fz_snap(&xb);
  }

  if (op == 4) {
    /* the block Hadamard transform: rows x cols, group from the config, in place or not */
    int g = cfg.hadamard, inplace = (flags >> 4) & 1, inverse = (flags >> 5) & 1;
    int64_t ldy = inplace ? ldx : fz_ld(&in, cols), yn;
    int ycls = fz_span(rows, cols, ldy, MAX_SPAN, &yn), vy = xcls && ycls;
    const uint32_t *signs = cfg.hadamard_signs == FP4_SIGNS_USER ? cfg.hadamard_sign_bits : NULL;
    float *y;
    fp4_status st;
    if (ycls < 0) {
      fz_free(&xb);
      return 0;
    }
    y = inplace ? (float *)xb.p : (float *)fz_alloc(&yb, vy ? (size_t)yn * 4 : 64, 0);
    if (!inplace) fz_snap(&yb);
#ifdef FP4_CPU_H
    if (!inplace) {
      fz_buf y2;
      fz_alloc(&y2, yb.n, 0);
      memcpy(y2.p, yb.snap, yb.n);
      st = fp4_cpu_hadamard_f32((const float *)xb.p, rows, cols, ldx, (float *)y2.p, ldy, g, signs, inverse);
      FZ_CHECK(st == fp4_hadamard_f32((const float *)xb.p, rows, cols, ldx, y, ldy, g, signs, inverse));
      FZ_CHECK(fz_same_values(y2.p, yb.p, yb.n, 0));
      fz_free(&y2);
      memcpy(yb.p, yb.snap, yb.n); /* and again below, from the same start */
    }
#endif
    st = fp4_hadamard_f32((const float *)xb.p, rows, cols, ldx, y, ldy, g, signs, inverse);
    if (!vy || !(g == 16 || g == 32 || g == 64 || g == 128 || g == 256) || xoff % 4) FZ_CHECK(st != FP4_OK);
    if (st != FP4_OK) {
      FZ_CHECK(fz_same(&xb));
      if (!inplace) FZ_CHECK(fz_same(&yb));
    } else if (inplace) {
      FZ_CHECK(fz_only_matrix_changed(&xb, rows, cols, ldx, 4));
    } else {
      FZ_CHECK(fz_same(&xb));
      FZ_CHECK(fz_only_matrix_changed(&yb, rows, cols, ldy, 4));
      /* in place gives the same values */
      {
        fz_buf zb;
        float *z = (float *)fz_alloc(&zb, xb.n, 0);
        int64_t r, c;
        memcpy(z, xb.p, xb.n);
        FZ_CHECK(fp4_hadamard_f32(z, rows, cols, ldx, z, ldx, g, signs, inverse) == FP4_OK);
        for (r = 0; r < rows; r++)
          for (c = 0; c < cols; c++) FZ_CHECK(memcmp(&z[r * ldx + c], &y[r * ldy + c], 4) == 0);
        fz_free(&zb);
      }
    }
    fz_free(&xb);
    fz_free(&yb);
    return 0;
  }

  {
    fp4_layout layout = (flags >> 5) & 1 ? FP4_LAYOUT_SWIZZLED : FP4_LAYOUT_LINEAR;
    int want_mask = (flags >> 4) & 1, expect_fail;
    fp4_tensor t, tsnap;
    fp4_status st;
    if ((fz_u8(&in) & 15) == 15) layout = (fp4_layout)fz_enum(&in, FP4_LAYOUT_COUNT);
    if (op == 3 && (unsigned)layout >= FP4_LAYOUT_COUNT) layout = FP4_LAYOUT_LINEAR; /* used for the check only */
    fz_alloc(&db, shape_ok ? fp4_data_bytes(R, C) : 16, fz_u8(&in) % 4);
    fz_alloc(&sb, shape_ok && (unsigned)layout < FP4_LAYOUT_COUNT ? fp4_scale_bytes(cfg.format, R, C, layout) : 16,
             fz_u8(&in) % 4);
    fz_alloc(&mb, shape_ok ? fp4_mask_bytes(R, C) : 16, 0);
    fz_snap(&db);
    fz_snap(&sb);
    fz_snap(&mb);
    expect_fail = !shape_ok || (unsigned)layout >= FP4_LAYOUT_COUNT || xoff % es || (unsigned)cfg.rule >= FP4_RULE_COUNT ||
                  (unsigned)cfg.rounding >= FP4_ROUNDING_COUNT || (unsigned)cfg.hadamard_signs >= FP4_SIGNS_COUNT ||
                  (cfg.hadamard && C % cfg.hadamard) || (want_mask && cfg.rule != FP4_MX_QUEST);

    if (op == 3) {
      /* fake quantize into y (R x C, ldy) */
      int64_t ldy = fz_ld(&in, C), yn = 0;
      int ycls = shape_ok ? fz_span(R, C, ldy, MAX_SPAN, &yn) : 0, vy = ycls > 0;
      float *y;
      if (ycls < 0) goto done;
      y = (float *)fz_alloc(&yb, vy ? (size_t)yn * 4 : 64, (fz_u8(&in) % 2) * 4);
      fz_snap(&yb);
      st = fp4_fake_quantize_f32((const float *)xb.p, rows, cols, ldx, &cfg, y, ldy, want_mask ? mb.p : NULL, NULL, 0);
      if (expect_fail || !vy) FZ_CHECK(!ok_status(st));
      FZ_CHECK(fz_same(&xb));
#ifdef FP4_CPU_H
      {
        fz_buf y2, m2;
        fz_alloc(&y2, yb.n, (size_t)((uint8_t *)y - yb.mem - FZ_GUARD));
        fz_alloc(&m2, mb.n, 0);
        memcpy(y2.p, yb.snap, yb.n);
        memcpy(m2.p, mb.snap, mb.n);
        FZ_CHECK(fp4_cpu_fake_quantize_f32((const float *)xb.p, rows, cols, ldx, &cfg, (float *)y2.p, ldy,
                                           want_mask ? m2.p : NULL, NULL, 0) == st);
        FZ_CHECK(fz_same_values(y2.p, yb.p, yb.n, 0) && memcmp(m2.p, mb.p, mb.n) == 0);
        fz_free(&y2);
        fz_free(&m2);
      }
#endif
      if (!ok_status(st)) {
        FZ_CHECK(fz_same(&yb) && fz_same(&mb));
      } else {
        /* the same as quantize, then dequantize */
        fp4_tensor q;
        float *yq = (float *)malloc((size_t)(R * C) * 4);
        int64_t r, c;
        fz_buf m2;
        fz_alloc(&m2, mb.n, 0);
        FZ_CHECK(fz_only_matrix_changed(&yb, R, C, ldy, 4));
        fp4_tensor_init(&q, db.p, sb.p, layout);
        q.mask = want_mask ? m2.p : NULL;
        FZ_CHECK(fp4_quantize_f32((const float *)xb.p, rows, cols, ldx, &cfg, &q, NULL, 0) == st);
        check_tensor(&q, st);
        FZ_CHECK(fp4_dequantize_f32(&q, yq, C) == FP4_OK);
        for (r = 0; r < R; r++)
          for (c = 0; c < C; c++) FZ_CHECK(memcmp(&yq[r * C + c], &y[r * ldy + c], 4) == 0);
        if (want_mask) FZ_CHECK(memcmp(m2.p, mb.p, mb.n) == 0);
        fz_free(&m2);
        free(yq);
      }
    } else {
      fp4_tensor_init(&t, db.p, sb.p, layout);
      t.mask = want_mask ? mb.p : NULL;
      memcpy(&tsnap, &t, sizeof t);
      if (dt == FP4_F32)
        st = fp4_quantize_f32((const float *)xb.p, rows, cols, ldx, &cfg, &t, NULL, 0);
      else if (dt == FP4_BF16)
        st = fp4_quantize_bf16((const uint16_t *)xb.p, rows, cols, ldx, &cfg, &t, NULL, 0);
      else
        st = fp4_quantize_f16((const uint16_t *)xb.p, rows, cols, ldx, &cfg, &t, NULL, 0);
      if (expect_fail) FZ_CHECK(!ok_status(st));
      FZ_CHECK(fz_same(&xb));
#ifdef FP4_CPU_H
      {
        /* the SIMD back end: same status, same bytes, same header fields */
        fz_buf d2, s2, m2;
        fp4_tensor t2;
        fp4_status st2;
        fz_alloc(&d2, db.n, 0);
        fz_alloc(&s2, sb.n, 0);
        fz_alloc(&m2, mb.n, 0);
        memcpy(d2.p, db.snap, db.n);
        memcpy(s2.p, sb.snap, sb.n);
        memcpy(m2.p, mb.snap, mb.n);
        fp4_tensor_init(&t2, d2.p, s2.p, layout);
        t2.mask = want_mask ? m2.p : NULL;
        st2 = dt == FP4_F32    ? fp4_cpu_quantize_f32((const float *)xb.p, rows, cols, ldx, &cfg, &t2, NULL, 0)
              : dt == FP4_BF16 ? fp4_cpu_quantize_bf16((const uint16_t *)xb.p, rows, cols, ldx, &cfg, &t2, NULL, 0)
                               : fp4_cpu_quantize_f16((const uint16_t *)xb.p, rows, cols, ldx, &cfg, &t2, NULL, 0);
        FZ_CHECK(st2 == st);
        FZ_CHECK(memcmp(d2.p, db.p, db.n) == 0 && memcmp(s2.p, sb.p, sb.n) == 0 && memcmp(m2.p, mb.p, mb.n) == 0);
        FZ_CHECK(t2.rows == t.rows && t2.cols == t.cols && t2.format == t.format && t2.rule == t.rule &&
                 memcmp(&t2.tensor_scale, &t.tensor_scale, 4) == 0 && memcmp(&t2.amax, &t.amax, 4) == 0);
        fz_free(&d2);
        fz_free(&s2);
        fz_free(&m2);
      }
#endif
      if (!ok_status(st)) {
        FZ_CHECK(fz_same(&db) && fz_same(&sb) && fz_same(&mb));
        FZ_CHECK(memcmp(&t, &tsnap, sizeof t) == 0);
      } else {
        FZ_CHECK(t.rows == R && t.cols == C && t.format == cfg.format);
        check_tensor(&t, st);
        /* a 16-bit source quantizes like its exact f32 conversion */
        if (dt != FP4_F32) {
          float *xf = (float *)malloc((size_t)xn * 4);
          fz_buf d2, s2, m2;
          fp4_tensor t2;
          for (i = 0; i < xn; i++) {
            uint16_t h;
            memcpy(&h, xb.p + 2 * i, 2);
            xf[i] = dt == FP4_BF16 ? fp4_bf16_to_f32(h) : fp4_f16_to_f32(h);
          }
          fz_alloc(&d2, db.n, 0);
          fz_alloc(&s2, sb.n, 0);
          fz_alloc(&m2, mb.n, 0);
          memcpy(s2.p, sb.snap, sb.n); /* padding the quantizer does not write stays comparable */
          fp4_tensor_init(&t2, d2.p, s2.p, layout);
          t2.mask = want_mask ? m2.p : NULL;
          FZ_CHECK(fp4_quantize_f32(xf, rows, cols, ldx, &cfg, &t2, NULL, 0) == st);
          FZ_CHECK(memcmp(d2.p, db.p, db.n) == 0 && memcmp(s2.p, sb.p, sb.n) == 0);
          if (want_mask) FZ_CHECK(memcmp(m2.p, mb.p, mb.n) == 0);
          FZ_CHECK(t2.tensor_scale == t.tensor_scale || (t2.tensor_scale != t2.tensor_scale && t.tensor_scale != t.tensor_scale));
          fz_free(&d2);
          fz_free(&s2);
          fz_free(&m2);
          free(xf);
        }
        /* dequantize to every output type, with a leading dimension and an offset from the input */
        {
          int64_t ldy = fz_ld(&in, C), r, c, yn = 0;
          fp4_dtype ot = (fp4_dtype)(fz_u8(&in) % 3);
          size_t oes = ot == FP4_F32 ? 4 : 2, yoff = fz_u8(&in) % 4;
          int ycls = fz_span(R, C, ldy, MAX_SPAN, &yn), vy = ycls > 0;
          float *yf;
          uint8_t *y;
          fp4_status s2;
          if (ycls < 0) goto done;
          yf = (float *)malloc((size_t)(R * C) * 4);
          y = (uint8_t *)fz_alloc(&yb, vy ? (size_t)yn * oes : 64, yoff);
          fz_snap(&yb);
          FZ_CHECK(fp4_dequantize_f32(&t, yf, C) == FP4_OK);
          s2 = ot == FP4_F32    ? fp4_dequantize_f32(&t, (float *)y, ldy)
               : ot == FP4_BF16 ? fp4_dequantize_bf16(&t, (uint16_t *)y, ldy)
                                : fp4_dequantize_f16(&t, (uint16_t *)y, ldy);
#ifdef FP4_CPU_H
          {
            fz_buf y2;
            fz_alloc(&y2, yb.n, yoff);
            memcpy(y2.p, yb.snap, yb.n);
            FZ_CHECK(s2 == (ot == FP4_F32    ? fp4_cpu_dequantize_f32(&t, (float *)y2.p, ldy)
                            : ot == FP4_BF16 ? fp4_cpu_dequantize_bf16(&t, (uint16_t *)y2.p, ldy)
                                             : fp4_cpu_dequantize_f16(&t, (uint16_t *)y2.p, ldy)));
            FZ_CHECK(fz_same_values(y2.p, yb.p, yb.n, (int)ot));
            fz_free(&y2);
          }
#endif
          if (!vy || yoff % oes) FZ_CHECK(s2 != FP4_OK);
          if (s2 != FP4_OK) FZ_CHECK(fz_same(&yb));
          else {
            FZ_CHECK(fz_only_matrix_changed(&yb, R, C, ldy, oes));
            for (r = 0; r < R; r++)
              for (c = 0; c < C; c++) {
                float v = yf[r * C + c];
                if (ot == FP4_F32) FZ_CHECK(memcmp(&v, y + (size_t)(r * ldy + c) * 4, 4) == 0);
                else {
                  uint16_t h, e = ot == FP4_BF16 ? fp4_f32_to_bf16(v) : fp4_f32_to_f16(v);
                  memcpy(&h, y + (size_t)(r * ldy + c) * 2, 2);
                  FZ_CHECK(h == e);
                }
              }
          }
          free(yf);
        }
      }
    }
  }
done:
  fz_free(&xb);
  fz_free(&db);
  fz_free(&sb);
  fz_free(&mb);
  fz_free(&yb);
  return 0;
}
