/* SPDX-License-Identifier: MIT */
/* Hostile input (spec §4), on every back end present (fp4.h, and fp4_cpu.h when it exists):
 *  - NaN, Inf, -0, subnormals and +-FLT_MAX in every position of a block, every format and rule, with
 *    Hadamard groups, transposed and 2D scaling: the block gets the NaN scale and zero codes, every
 *    other block is quantized as if the value were 0, and the call returns FP4_ERR_NONFINITE;
 *  - sizes 0, 1, block-1, block+1, negative; rows*cols and rows*ld overflowing int64 / size_t;
 *  - leading dimensions smaller than the row; null pointers (each pointer argument); unknown enum values
 *    (each enum field); outputs that alias an input; misaligned float / uint16 pointers.
 * Every output sits between guard bytes; a call that fails validation must leave every output byte,
 * and the output tensor struct, untouched; a call that succeeds must write nothing outside its output
 * (leading-dimension gaps included). */
#include "fp4.h"
#if defined(__has_include)
#if __has_include("fp4_cpu.h")
#include "fp4_cpu.h"
#endif
#endif
#include "harness.h"
#include "backends.h"
#include <float.h>
#include <limits.h>

/* ---- guarded buffers ---- */
#define GUARD 64
#define GB 0xA5
typedef struct gbuf {
  unsigned char *mem, *p, *snap;
  size_t n, size;
} gbuf;

/* n bytes between guards, `off` bytes past a 16-byte boundary; every byte set to GB. */
static void *gb_new(gbuf *g, size_t n, size_t off) {
  g->n = n;
  g->size = n + off + 2 * GUARD;
  g->mem = (unsigned char *)malloc(g->size);
  g->snap = (unsigned char *)malloc(g->size);
  if (!g->mem || !g->snap) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  memset(g->mem, GB, g->size);
  g->p = g->mem + GUARD + off;
  return g->p;
}
static void gb_free(gbuf *g) {
  free(g->mem);
  free(g->snap);
  memset(g, 0, sizeof *g);
}
static void gb_snap(gbuf *g) { memcpy(g->snap, g->mem, g->size); }
static int gb_same(const gbuf *g) { return memcmp(g->snap, g->mem, g->size) == 0; }
static int gb_span_is(const unsigned char *a, const unsigned char *b, int v) {
  for (; a < b; a++)
    if (*a != v) return 0;
  return 1;
}
/* Guards intact, and (es > 0) the gaps of a rows x cols matrix with leading dimension ld untouched. */
static int gb_ok(const gbuf *g, int64_t rows, int64_t cols, int64_t ld, size_t es) {
  int64_t r;
  if (!gb_span_is(g->mem, g->p, GB) || !gb_span_is(g->p + g->n, g->mem + g->size, GB)) return 0;
  if (es)
    for (r = 0; r + 1 < rows; r++)
      if (!gb_span_is(g->p + (size_t)(r * ld + cols) * es, g->p + (size_t)((r + 1) * ld) * es, GB)) return 0;
  return 1;
}

/* Since the last snapshot, only the elements of a rows x cols matrix (leading dimension ld, element
 * size es) at g->p changed: guards, leading-dimension gaps and bytes past the last row are as before. */
static int gb_outside_same(const gbuf *g, int64_t rows, int64_t cols, int64_t ld, size_t es) {
  size_t lo = (size_t)(g->p - g->mem), i;
  for (i = 0; i < g->size; i++) {
    int inside = 0;
    if (i >= lo) {
      size_t e = (i - lo) / es;
      int64_t r = (int64_t)e / ld, c = (int64_t)e % ld;
      inside = r < rows && c < cols;
    }
    if (!inside && g->mem[i] != g->snap[i]) return 0;
  }
  return 1;
}

/* ---- values ---- */
static float f_of(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static uint32_t bits_of(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}
static int is_nan(float f) { return (bits_of(f) & 0x7FFFFFFFu) > 0x7F800000u; }
static int is_fin(float f) { return (bits_of(f) & 0x7F800000u) != 0x7F800000u; }
static int nan16(uint16_t h, fp4_dtype dt) {
  return dt == FP4_BF16 ? (h & 0x7FFFu) > 0x7F80u : (h & 0x7FFFu) > 0x7C00u;
}

static float rnd_value(void) {
  /* normal values with a per-call exponent spread, so blocks see different scales */
  return (float)h_normal() * (float)ldexp(1.0, (int)(h_rand() % 9) - 4);
}
static void fill(float *x, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) x[i] = rnd_value();
}
static uint16_t to16(float f, fp4_dtype dt) { return dt == FP4_BF16 ? fp4_f32_to_bf16(f) : fp4_f32_to_f16(f); }
static float from16(uint16_t h, fp4_dtype dt) { return dt == FP4_BF16 ? fp4_bf16_to_f32(h) : fp4_f16_to_f32(h); }

static int nrules_of(fp4_format f, fp4_rule *out) {
  int r, n = 0;
  for (r = 1; r < FP4_RULE_COUNT; r++)
    if (fp4_rule_format((fp4_rule)r) == f) out[n++] = (fp4_rule)r;
  return n;
}
static int scale_is_nan(fp4_format f, uint8_t s) { return f == FP4_MXFP4 ? s == 0xFFu : (s & 0x7Fu) == 0x7Fu; }
static uint8_t code_at(const fp4_tensor *t, int64_t r, int64_t c) {
  return (uint8_t)((t->data[r * (t->cols / 2) + c / 2] >> (4 * (c & 1))) & 0xFu);
}
static uint8_t scale_at(const fp4_tensor *t, int64_t r, int64_t b) {
  int64_t sc = t->cols / fp4_format_block(t->format);
  return t->scales[t->scale_layout == FP4_LAYOUT_SWIZZLED ? fp4_swizzle_offset(r, b, sc) : (size_t)(r * sc + b)];
}

/* ---- calls through a back end, with a workspace of the queried size between guards ---- */
static fp4_status quant(const backend *b, fp4_dtype dt, const void *x, int64_t rows, int64_t cols, int64_t ldx,
                        const fp4_quant_config *cfg, fp4_tensor *t) {
  size_t n = cfg ? b->qws(rows, cols, cfg) : 0;
  gbuf w;
  fp4_status st;
  if (n > ((size_t)1 << 28)) n = 0; /* a hostile size: the call must fail before it needs the workspace */
  gb_new(&w, n, 0);
  if (dt == FP4_F32) st = b->q_f32((const float *)x, rows, cols, ldx, cfg, t, n ? w.p : NULL, n);
  else if (dt == FP4_BF16) st = b->q_bf16((const uint16_t *)x, rows, cols, ldx, cfg, t, n ? w.p : NULL, n);
  else st = b->q_f16((const uint16_t *)x, rows, cols, ldx, cfg, t, n ? w.p : NULL, n);
  CHECK(gb_ok(&w, 0, 0, 0, 0));
  gb_free(&w);
  return st;
}
static fp4_status fake(const backend *b, const float *x, int64_t rows, int64_t cols, int64_t ldx,
                       const fp4_quant_config *cfg, float *y, int64_t ldy, uint8_t *mask) {
  size_t n = cfg ? b->qws(rows, cols, cfg) : 0;
  gbuf w;
  fp4_status st;
  if (n > ((size_t)1 << 28)) n = 0;
  gb_new(&w, n, 0);
  st = b->fake_f32(x, rows, cols, ldx, cfg, y, ldy, mask, n ? w.p : NULL, n);
  CHECK(gb_ok(&w, 0, 0, 0, 0));
  gb_free(&w);
  return st;
}
static fp4_status dequant(const backend *b, fp4_dtype dt, const fp4_tensor *t, void *y, int64_t ldy) {
  if (dt == FP4_F32) return b->dq_f32(t, (float *)y, ldy);
  if (dt == FP4_BF16) return b->dq_bf16(t, (uint16_t *)y, ldy);
  return b->dq_f16(t, (uint16_t *)y, ldy);
}
/* kind 0: w4a4 f32 out, 1: w4a4 bf16 out, 2: w4a16 f32 act f32 out, 3: w4a16 bf16 act f16 out */
static fp4_status gemm(const backend *b, int kind, const fp4_tensor *A, const void *act, int64_t M, int64_t lda,
                       const fp4_tensor *B, float alpha, float beta, void *C, int64_t ldc) {
  int64_t K = B ? B->cols : 0, N = B ? B->rows : 0;
  size_t n = b->gws(kind < 2 && A ? A->rows : M, N, K);
  gbuf w;
  fp4_status st;
  if (n > ((size_t)1 << 28)) n = 0;
  gb_new(&w, n, 0);
  switch (kind) {
  case 0: st = b->w4a4_f32(A, B, alpha, beta, (float *)C, ldc, n ? w.p : NULL, n); break;
  case 1: st = b->w4a4_bf16(A, B, alpha, beta, (uint16_t *)C, ldc, n ? w.p : NULL, n); break;
  case 2: st = b->w4a16_f32_f32((const float *)act, M, lda, B, alpha, beta, (float *)C, ldc, n ? w.p : NULL, n); break;
  default:
    st = b->w4a16_bf16_f16((const uint16_t *)act, M, lda, B, alpha, beta, (uint16_t *)C, ldc, n ? w.p : NULL, n);
  }
  CHECK(gb_ok(&w, 0, 0, 0, 0));
  gb_free(&w);
  return st;
}

/* A quantized tensor's buffers between guards. */
typedef struct qbuf {
  gbuf d, s, m;
  fp4_tensor t;
} qbuf;
static void qb_new(qbuf *q, fp4_format f, int64_t R, int64_t C, fp4_layout l, int mask) {
  gb_new(&q->d, fp4_data_bytes(R, C), 0);
  gb_new(&q->s, fp4_scale_bytes(f, R, C, l), 0);
  gb_new(&q->m, mask ? fp4_mask_bytes(R, C) : 0, 0);
  fp4_tensor_init(&q->t, q->d.p, q->s.p, l);
  q->t.mask = mask ? q->m.p : NULL;
}
static void qb_free(qbuf *q) {
  gb_free(&q->d);
  gb_free(&q->s);
  gb_free(&q->m);
}
static int qb_guards(const qbuf *q) { return gb_ok(&q->d, 0, 0, 0, 0) && gb_ok(&q->s, 0, 0, 0, 0) && gb_ok(&q->m, 0, 0, 0, 0); }
static void qb_snap(qbuf *q) {
  gb_snap(&q->d);
  gb_snap(&q->s);
  gb_snap(&q->m);
}
static int qb_same(const qbuf *q) { return gb_same(&q->d) && gb_same(&q->s) && gb_same(&q->m); }

/* ---- 1. special values in every position ---- */
#define NSPECIAL 13
static float special(int i) {
  static const uint32_t v[NSPECIAL] = {
      0x7FC00000u, /* NaN */
      0xFFC00001u, /* -NaN with payload */
      0x7F800001u, /* signalling NaN */
      0x7F800000u, /* +Inf */
      0xFF800000u, /* -Inf */
      0x80000000u, /* -0 */
      0x00000000u, /* +0 */
      0x00000001u, /* smallest subnormal */
      0x807FFFFFu, /* largest negative subnormal */
      0x00800000u, /* FLT_MIN */
      0x7F7FFFFFu, /* FLT_MAX */
      0xFF7FFFFFu, /* -FLT_MAX */
      0x80000001u, /* -smallest subnormal */
  };
  return f_of(v[i]);
}

typedef struct qcase {
  fp4_quant_config cfg;
  fp4_dtype dt;
  int64_t rows, cols; /* source X */
} qcase;

/* Quantize x (rows x cols, f32 values exactly representable in dt) through dt; dequantize to f32. */
static fp4_status run_q(const backend *b, const qcase *c, const float *x, qbuf *q, float *y) {
  int64_t R = c->cfg.transpose ? c->cols : c->rows, C = c->cfg.transpose ? c->rows : c->cols;
  size_t n = (size_t)(c->rows * c->cols), i;
  fp4_status st, st2;
  qb_new(q, c->cfg.format, R, C, FP4_LAYOUT_LINEAR, 0);
  if (c->dt == FP4_F32) {
    st = quant(b, FP4_F32, x, c->rows, c->cols, c->cols, &c->cfg, &q->t);
  } else {
    uint16_t *h = (uint16_t *)malloc(n * 2);
    for (i = 0; i < n; i++) h[i] = to16(x[i], c->dt);
    st = quant(b, c->dt, h, c->rows, c->cols, c->cols, &c->cfg, &q->t);
    free(h);
  }
  CHECK(qb_guards(q));
  if (st == FP4_OK || st == FP4_ERR_NONFINITE) {
    st2 = b->dq_f32(&q->t, y, C);
    CHECK_EQ(FP4_OK, st2);
  }
  return st;
}

/* Which blocks of Q does source element (i, j) reach? Those of Q row rr, columns [c0, c1), and for 2D
 * scaling the 16 rows of its tile. */
static void reach(const qcase *c, int64_t i, int64_t j, int64_t *r0, int64_t *r1, int64_t *c0, int64_t *c1) {
  int64_t qr = c->cfg.transpose ? j : i, qc = c->cfg.transpose ? i : j;
  int blk = fp4_format_block(c->cfg.format), g = c->cfg.hadamard > blk ? c->cfg.hadamard : blk;
  *r0 = qr;
  *r1 = qr + 1;
  if (c->cfg.scale_2d) {
    *r0 = qr / 16 * 16;
    *r1 = *r0 + 16;
  }
  *c0 = qc / g * g;
  *c1 = *c0 + g;
}

/* Put value v at source (i, j) and compare against the run with 0 there. */
static void special_case(const backend *b, const qcase *c, const float *base, int64_t i, int64_t j, float v) {
  int64_t n = c->rows * c->cols, R = c->cfg.transpose ? c->cols : c->rows, C = c->cfg.transpose ? c->rows : c->cols;
  int64_t r, k, r0, r1, c0, c1;
  int blk = fp4_format_block(c->cfg.format);
  float *x = (float *)malloc((size_t)n * 4), *y = (float *)malloc((size_t)n * 4),
        *yref = (float *)malloc((size_t)n * 4);
  qbuf q, qr;
  fp4_status st, stref;
  float vin;
  memcpy(x, base, (size_t)n * 4);
  x[i * c->cols + j] = 0.0f;
  stref = run_q(b, c, x, &qr, yref);
  x[i * c->cols + j] = v;
  vin = c->dt == FP4_F32 ? v : from16(to16(v, c->dt), c->dt); /* what the library sees */
  st = run_q(b, c, x, &q, y);
  reach(c, i, j, &r0, &r1, &c0, &c1);
  if (!is_fin(vin)) {
    int bad = 0;
    CHECK_EQ(FP4_OK, stref);
    CHECK_EQ(FP4_ERR_NONFINITE, st);
    for (r = 0; r < R; r++)
      for (k = 0; k < C; k++) {
        int in = r >= r0 && r < r1 && k >= c0 && k < c1;
        if (in) {
          if (k % blk == 0 && !scale_is_nan(c->cfg.format, scale_at(&q.t, r, k / blk))) bad++;
          if (code_at(&q.t, r, k) != 0 || !is_nan(y[r * C + k])) bad++;
        } else {
          if (code_at(&q.t, r, k) != code_at(&qr.t, r, k)) bad++;
          if (k % blk == 0 && scale_at(&q.t, r, k / blk) != scale_at(&qr.t, r, k / blk)) bad++;
          if (bits_of(y[r * C + k]) != bits_of(yref[r * C + k])) bad++;
        }
      }
    CHECK_EQ(0, bad);
    if (bad)
      fprintf(stderr, "  %s: %s/%s rnd %d had %d 2d %d tr %d dt %d: 0x%08x at (%ld,%ld)\n", b->name,
              fp4_format_name(c->cfg.format), fp4_rule_name(c->cfg.rule), (int)c->cfg.rounding, c->cfg.hadamard,
              c->cfg.scale_2d, c->cfg.transpose, (int)c->dt, (unsigned)bits_of(v), (long)i, (long)j);
  } else {
    int64_t qrow = c->cfg.transpose ? j : i, qcol = c->cfg.transpose ? i : j;
    int bad = 0;
    uint8_t code = code_at(&q.t, qrow, qcol);
    CHECK_EQ(FP4_OK, st);
    for (r = 0; r < R; r++)
      for (k = 0; k < C; k++) {
        if (k % blk == 0 && scale_is_nan(c->cfg.format, scale_at(&q.t, r, k / blk))) bad++;
        if (is_nan(y[r * C + k])) bad++;
      }
    CHECK_EQ(0, bad);
    /* the sign of the code is the sign of the input (spec §1: -0 and small negatives give 0x8), unless
     * the NVFP4 block scale is 0 (then y = +0) or a Hadamard rotation mixed the block */
    if (!c->cfg.hadamard && (c->cfg.format == FP4_MXFP4 || scale_at(&q.t, qrow, qcol / blk) != 0))
      CHECK_EQ(bits_of(vin) >> 31, code >> 3);
    if (b == &backends[0]) { /* the back ends compiled in differ between builds; fp4.h's bytes do not */
      H_DIGEST(q.d.p, q.d.n);
      H_DIGEST(q.s.p, q.s.n);
    }
  }
  /* with round to nearest and no rotation, |code| is monotonic in |x| within a block */
  if (st == FP4_OK && c->cfg.rounding == FP4_ROUND_NEAREST && !c->cfg.hadamard) {
    int bad = 0;
    for (r = 0; r < R; r++)
      for (k = 0; k < C; k++) {
        int64_t k2;
        for (k2 = k / blk * blk; k2 < k / blk * blk + blk; k2++) {
          float a = fabsf(c->cfg.transpose ? x[k * c->cols + r] : x[r * c->cols + k]);
          float a2 = fabsf(c->cfg.transpose ? x[k2 * c->cols + r] : x[r * c->cols + k2]);
          if (c->dt != FP4_F32) {
            a = from16(to16(a, c->dt), c->dt);
            a2 = from16(to16(a2, c->dt), c->dt);
          }
          if (a > a2 && (code_at(&q.t, r, k) & 7) < (code_at(&q.t, r, k2) & 7)) bad++;
        }
      }
    CHECK_EQ(0, bad);
  }
  qb_free(&q);
  qb_free(&qr);
  free(x);
  free(y);
  free(yref);
}

static void test_specials(const backend *b) {
  int f, ri, nr, s, p, rnd, dti;
  fp4_rule rules[FP4_RULE_COUNT];
  for (f = 0; f < FP4_FORMAT_COUNT; f++) {
    int blk = fp4_format_block((fp4_format)f);
    nr = nrules_of((fp4_format)f, rules);
    for (ri = 0; ri < nr; ri++)
      for (rnd = 0; rnd < FP4_ROUNDING_COUNT; rnd++)
        for (dti = 0; dti < FP4_DTYPE_COUNT; dti++) {
          qcase c;
          float *base;
          memset(&c, 0, sizeof c);
          c.cfg = fp4_config_default((fp4_format)f);
          c.cfg.rule = rules[ri];
          c.cfg.rounding = (fp4_rounding)rnd;
          c.cfg.seed = h_rand();
          c.dt = (fp4_dtype)dti;
          c.rows = 2;
          c.cols = 2 * blk;
          base = (float *)malloc((size_t)(c.rows * c.cols) * 4);
          fill(base, (size_t)(c.rows * c.cols));
          if (c.dt != FP4_F32)
            for (p = 0; p < c.rows * c.cols; p++) base[p] = from16(to16(base[p], c.dt), c.dt);
          /* every position of the second block of row 0 with f32 round to nearest; a few otherwise */
          for (s = 0; s < NSPECIAL; s++)
            for (p = 0; p < blk; p++) {
              if ((rnd || dti) && p != 0 && p != 1 && p != blk / 2 && p != blk - 1) continue;
              special_case(b, &c, base, 0, blk + p, special(s));
            }
          free(base);
        }
  }
}

/* Hadamard groups, bf16 rounding after the rotation, transposed and 2D quantization. */
static void test_specials_options(const backend *b) {
  static const int groups[] = {16, 32, 64, 128, 256};
  int f, gi, s, tr;
  for (f = 0; f < FP4_FORMAT_COUNT; f++)
    for (gi = 0; gi < 5; gi++)
      for (tr = 0; tr < 2; tr++) {
        qcase c;
        float *base;
        int64_t pos[3][2];
        int k;
        memset(&c, 0, sizeof c);
        c.cfg = fp4_config_default((fp4_format)f);
        c.cfg.rule = f == FP4_NVFP4 ? FP4_NV_4OVER6_MSE : FP4_MX_QUEST;
        c.cfg.hadamard = groups[gi];
        c.cfg.hadamard_signs = (fp4_signs)(gi % 3);
        c.cfg.hadamard_sign_bits[0] = 0x5A5A1234u;
        c.cfg.hadamard_bf16 = gi & 1;
        c.cfg.rounding = (fp4_rounding)(gi & 1);
        c.cfg.seed = h_rand();
        c.cfg.transpose = tr;
        /* NVFP4: amax is taken after the rotation, over finite values; a NaN spreads over its group and
         * so changes amax. A calibrated amax keeps the other blocks comparable with the reference. */
        c.cfg.has_amax = f == FP4_NVFP4;
        c.cfg.amax = 9.0f;
        c.dt = FP4_F32;
        c.rows = tr ? 2 * groups[gi] : 3;
        c.cols = tr ? 3 : 2 * groups[gi];
        base = (float *)malloc((size_t)(c.rows * c.cols) * 4);
        fill(base, (size_t)(c.rows * c.cols));
        /* first, a middle and the last element of the second group of Q row 1 (source coordinates) */
        pos[0][0] = 1; pos[0][1] = groups[gi];
        pos[1][0] = 1; pos[1][1] = groups[gi] + groups[gi] / 2 + 1;
        pos[2][0] = 1; pos[2][1] = 2 * groups[gi] - 1;
        for (k = 0; k < 3; k++) {
          int64_t i = tr ? pos[k][1] : pos[k][0], j = tr ? pos[k][0] : pos[k][1];
          for (s = 0; s < NSPECIAL; s += 2) special_case(b, &c, base, i, j, special(s));
        }
        free(base);
      }
  /* NVFP4 2D scaling: the whole 16x16 tile goes NaN, in both orientations */
  for (tr = 0; tr < 2; tr++) {
    qcase c;
    float *base;
    static const int64_t pos[4][2] = {{0, 0}, {17, 5}, {31, 31}, {40, 16}};
    int k;
    memset(&c, 0, sizeof c);
    c.cfg = fp4_config_default(FP4_NVFP4);
    c.cfg.rule = FP4_NV_4OVER6_MAE;
    c.cfg.scale_2d = 1;
    c.cfg.transpose = tr;
    c.dt = FP4_F32;
    c.rows = 48; /* the last tile of the transpose has 16 rows; 48 x 32 */
    c.cols = 32;
    base = (float *)malloc((size_t)(c.rows * c.cols) * 4);
    fill(base, (size_t)(c.rows * c.cols));
    for (k = 0; k < 4; k++)
      for (s = 0; s < NSPECIAL; s += 3) special_case(b, &c, base, pos[k][0], pos[k][1], special(s));
    free(base);
  }
}

/* Every value non-finite; all zero; all -0; tiny NVFP4 amax (ERR_RANGE, nothing written). */
static void test_whole_tensor(const backend *b) {
  int f, ri, nr, s;
  fp4_rule rules[FP4_RULE_COUNT];
  for (f = 0; f < FP4_FORMAT_COUNT; f++) {
    int blk = fp4_format_block((fp4_format)f);
    nr = nrules_of((fp4_format)f, rules);
    for (ri = 0; ri < nr; ri++)
      for (s = 0; s < NSPECIAL; s++) {
        fp4_quant_config cfg = fp4_config_default((fp4_format)f);
        float x[2 * 64], y[2 * 64], v = special(s);
        qbuf q;
        fp4_status st;
        int i, bad = 0;
        cfg.rule = rules[ri];
        for (i = 0; i < 2 * 2 * blk; i++) x[i] = v;
        qb_new(&q, (fp4_format)f, 2, 2 * blk, FP4_LAYOUT_SWIZZLED, 0);
        qb_snap(&q);
        st = quant(b, FP4_F32, x, 2, 2 * blk, 2 * blk, &cfg, &q.t);
        CHECK(qb_guards(&q));
        if (!is_fin(v)) {
          CHECK_EQ(FP4_ERR_NONFINITE, st);
        } else if (f == FP4_NVFP4 && v != 0.0f && fabsf(v) < FP4_NV_AMAX_MIN) {
          CHECK_EQ(FP4_ERR_RANGE, st);
          CHECK(qb_same(&q));
          qb_free(&q);
          continue;
        } else {
          CHECK_EQ(FP4_OK, st);
        }
        CHECK_EQ(FP4_OK, b->dq_f32(&q.t, y, 2 * blk));
        for (i = 0; i < 2 * 2 * blk; i++) {
          if (!is_fin(v) && (code_at(&q.t, i / (2 * blk), i % (2 * blk)) != 0 || !is_nan(y[i]))) bad++;
          if (v == 0.0f && (code_at(&q.t, i / (2 * blk), i % (2 * blk)) != 0 || y[i] != 0.0f)) bad++;
          if (is_fin(v) && is_nan(y[i])) bad++;
        }
        CHECK_EQ(0, bad);
        qb_free(&q);
      }
    {
      /* a calibrated NVFP4 amax of 0 makes every scale 0 and every code +0 */
      fp4_quant_config cfg = fp4_config_default(FP4_NVFP4);
      float x[32];
      qbuf q;
      int i, bad = 0;
      fill(x, 32);
      cfg.has_amax = 1;
      cfg.amax = 0.0f;
      qb_new(&q, FP4_NVFP4, 1, 32, FP4_LAYOUT_LINEAR, 0);
      CHECK_EQ(FP4_OK, quant(b, FP4_F32, x, 1, 32, 32, &cfg, &q.t));
      for (i = 0; i < 16; i++) bad += q.d.p[i] != 0;
      bad += q.s.p[0] != 0 || q.s.p[1] != 0;
      CHECK_EQ(0, bad);
      CHECK(qb_guards(&q));
      qb_free(&q);
    }
  }
}

/* Dequantization outputs of NaN blocks in bf16/f16, and GEMMs that meet them. */
static void test_nan_propagation(const backend *b) {
  int f;
  for (f = 0; f < FP4_FORMAT_COUNT; f++) {
    int blk = fp4_format_block((fp4_format)f), i, bad = 0;
    int64_t K = 2 * blk;
    fp4_quant_config cfg = fp4_config_default((fp4_format)f);
    float xa[2 * 64], xb[3 * 64], act[2 * 64], C[3 * 3];
    uint16_t yh[2 * 64], Ch[2 * 3];
    qbuf qa, qb;
    fill(xa, (size_t)(2 * K));
    fill(xb, (size_t)(3 * K));
    fill(act, (size_t)(2 * K));
    xa[blk + 3] = f_of(0x7FC00000u); /* row 0, block 1 */
    act[blk + 1] = f_of(0x7F800000u); /* activation row 0: Inf * 0 codes may be NaN; row 1 clean */
    qb_new(&qa, (fp4_format)f, 2, K, FP4_LAYOUT_LINEAR, 0);
    qb_new(&qb, (fp4_format)f, 3, K, FP4_LAYOUT_SWIZZLED, 0);
    CHECK_EQ(FP4_ERR_NONFINITE, quant(b, FP4_F32, xa, 2, K, K, &cfg, &qa.t));
    CHECK_EQ(FP4_OK, quant(b, FP4_F32, xb, 3, K, K, &cfg, &qb.t));
    CHECK_EQ(FP4_OK, b->dq_bf16(&qa.t, yh, K));
    for (i = 0; i < 2 * K; i++) bad += nan16(yh[i], FP4_BF16) != (i >= blk && i < 2 * blk);
    CHECK_EQ(FP4_OK, b->dq_f16(&qa.t, yh, K));
    for (i = 0; i < 2 * K; i++) bad += nan16(yh[i], FP4_F16) != (i >= blk && i < 2 * blk);
    CHECK_EQ(0, bad);
    CHECK_EQ(FP4_OK, gemm(b, 0, &qa.t, NULL, 0, 0, &qb.t, 1.0f, 0.0f, C, 3));
    for (i = 0; i < 6; i++) bad += is_nan(C[i]) != (i < 3);
    CHECK_EQ(FP4_OK, gemm(b, 1, &qa.t, NULL, 0, 0, &qb.t, 1.0f, 0.0f, Ch, 3));
    for (i = 0; i < 6; i++) bad += nan16(Ch[i], FP4_BF16) != (i < 3);
    CHECK_EQ(FP4_OK, gemm(b, 2, NULL, act, 2, K, &qb.t, 1.0f, 0.0f, C, 3));
    for (i = 3; i < 6; i++) bad += is_nan(C[i]);
    /* NaN in C with beta == 0 is not read; with beta != 0 it propagates */
    for (i = 0; i < 9; i++) C[i] = f_of(0x7FC00000u);
    CHECK_EQ(FP4_OK, gemm(b, 0, &qb.t, NULL, 0, 0, &qb.t, 1.0f, 0.0f, C, 3)); /* B B^T: 3 x 3 */
    for (i = 0; i < 9; i++) bad += is_nan(C[i]);
    for (i = 0; i < 9; i++) C[i] = f_of(0x7FC00000u);
    CHECK_EQ(FP4_OK, gemm(b, 0, &qb.t, NULL, 0, 0, &qb.t, 1.0f, 0.5f, C, 3));
    for (i = 0; i < 9; i++) bad += !is_nan(C[i]);
    CHECK_EQ(0, bad);
    qb_free(&qa);
    qb_free(&qb);
  }
}

/* ---- 2. validation: every failing call leaves every output untouched ---- */
/* A quantize call with everything hostile-able: source size n floats (of dt) at byte offset xoff. */
typedef struct vq {
  fp4_dtype dt;
  int64_t rows, cols, ldx;
  fp4_quant_config cfg;
  int null_x, null_cfg, null_out, null_data, null_scales;
  int mask;
  fp4_layout layout;
  size_t xoff;     /* byte offset of x past alignment */
  int64_t R, C;    /* output shape to allocate (when valid) */
} vq;

static int64_t clamp_alloc(int64_t n, int64_t cap) { return n > 0 && n <= cap ? n : 64; }

/* Run one validation case; expect status `exp`. When exp is OK, the outputs are checked only for guards. */
static void vq_run(const backend *b, const vq *v, fp4_status exp, int line) {
  gbuf xg, dg, sg, mg, yg, ymg;
  int64_t es = v->dt == FP4_F32 ? 4 : 2;
  int64_t xn = v->rows > 0 && v->ldx > 0 && v->rows <= 4096 && v->ldx <= 4096 ? v->rows * v->ldx : 64;
  int64_t R = clamp_alloc(v->R, 1 << 20), C = clamp_alloc(v->C, 1 << 20);
  int valid_shape = R == v->R && C == v->C && C % fp4_format_block(v->cfg.format == FP4_NVFP4 ? FP4_NVFP4 : FP4_MXFP4) == 0;
  fp4_tensor t, tsnap;
  fp4_status st;
  int64_t i;
  void *x = gb_new(&xg, (size_t)(xn * es), v->xoff);
  for (i = 0; i < xn; i++) {
    float f = rnd_value();
    if (v->dt == FP4_F32) memcpy((char *)x + i * 4, &f, 4);
    else {
      uint16_t h = to16(f, v->dt);
      memcpy((char *)x + i * 2, &h, 2);
    }
  }
  gb_new(&dg, valid_shape ? fp4_data_bytes(R, C) : 64, 0);
  gb_new(&sg, valid_shape && (unsigned)v->cfg.format < FP4_FORMAT_COUNT && (unsigned)v->layout < FP4_LAYOUT_COUNT
                  ? fp4_scale_bytes(v->cfg.format, R, C, v->layout)
                  : 64,
         0);
  gb_new(&mg, valid_shape ? fp4_mask_bytes(R, C) : 64, 0);
  fp4_tensor_init(&t, v->null_data ? NULL : dg.p, v->null_scales ? NULL : sg.p, v->layout);
  t.mask = v->mask ? mg.p : NULL;
  memcpy(&tsnap, &t, sizeof t);
  gb_snap(&xg);
  gb_snap(&dg);
  gb_snap(&sg);
  gb_snap(&mg);
  st = quant(b, v->dt, v->null_x ? NULL : x, v->rows, v->cols, v->ldx, v->null_cfg ? NULL : &v->cfg,
             v->null_out ? NULL : &t);
  if (st != exp) {
    h_fail++;
    fprintf(stderr, "%s:%d: FAIL: %s quantize: expected %s, got %s (seed %" PRIu64 ")\n", __FILE__, line, b->name,
            fp4_status_string(exp), fp4_status_string(st), h_seed_value);
  } else h_pass++;
  CHECK(gb_same(&xg)); /* the input is never written */
  if (st != FP4_OK && st != FP4_ERR_NONFINITE) {
    CHECK(gb_same(&dg) && gb_same(&sg) && gb_same(&mg));
    CHECK(memcmp(&t, &tsnap, sizeof t) == 0);
  } else {
    CHECK(gb_ok(&dg, 0, 0, 0, 0) && gb_ok(&sg, 0, 0, 0, 0) && gb_ok(&mg, 0, 0, 0, 0));
  }
  /* the same case through fake quantize (f32 sources only): y is R x C with ldy = C */
  if (v->dt == FP4_F32 && !v->null_out && !v->null_data && !v->null_scales && (unsigned)v->layout < FP4_LAYOUT_COUNT) {
    float *y = (float *)gb_new(&yg, (size_t)(valid_shape ? R * C * 4 : 64), 0);
    uint8_t *m = (uint8_t *)gb_new(&ymg, valid_shape ? fp4_mask_bytes(R, C) : 64, 0);
    gb_snap(&yg);
    gb_snap(&ymg);
    st = fake(b, v->null_x ? NULL : (const float *)x, v->rows, v->cols, v->ldx, v->null_cfg ? NULL : &v->cfg, y,
              valid_shape ? C : v->C, v->mask ? m : NULL);
    if (st != exp) {
      h_fail++;
      fprintf(stderr, "%s:%d: FAIL: %s fake quantize: expected %s, got %s (seed %" PRIu64 ")\n", __FILE__, line,
              b->name, fp4_status_string(exp), fp4_status_string(st), h_seed_value);
    } else h_pass++;
    if (st != FP4_OK && st != FP4_ERR_NONFINITE) CHECK(gb_same(&yg) && gb_same(&ymg));
    else CHECK(gb_ok(&yg, 0, 0, 0, 0) && gb_ok(&ymg, 0, 0, 0, 0));
    gb_free(&yg);
    gb_free(&ymg);
  }
  gb_free(&xg);
  gb_free(&dg);
  gb_free(&sg);
  gb_free(&mg);
}

static vq vq_make(fp4_format f, int64_t rows, int64_t cols) {
  vq v;
  memset(&v, 0, sizeof v);
  v.dt = FP4_F32;
  v.rows = rows;
  v.cols = cols;
  v.ldx = cols;
  v.cfg = fp4_config_default(f);
  v.layout = FP4_LAYOUT_LINEAR;
  v.R = rows;
  v.C = cols;
  return v;
}
#define VQ(b, v, exp) vq_run(b, &(v), exp, __LINE__)

static void test_validate_quantize(const backend *b) {
  int f;
  for (f = 0; f < FP4_FORMAT_COUNT; f++) {
    int64_t blk = fp4_format_block((fp4_format)f);
    vq v;
    int i;
    /* sizes */
    static const int64_t bad_rows[] = {0, -1, -1000, INT64_MIN};
    for (i = 0; i < 4; i++) {
      v = vq_make((fp4_format)f, bad_rows[i], blk);
      VQ(b, v, FP4_ERR_SIZE);
      v = vq_make((fp4_format)f, 2, bad_rows[i]);
      v.ldx = 2 * blk;
      VQ(b, v, FP4_ERR_SIZE);
    }
    v = vq_make((fp4_format)f, 1, 1);
    VQ(b, v, FP4_ERR_SHAPE);
    v = vq_make((fp4_format)f, 1, blk - 1);
    VQ(b, v, FP4_ERR_SHAPE);
    v = vq_make((fp4_format)f, 1, blk + 1);
    VQ(b, v, FP4_ERR_SHAPE);
    v = vq_make((fp4_format)f, 3, blk / 2);
    VQ(b, v, FP4_ERR_SHAPE);
    v = vq_make((fp4_format)f, 1, blk);
    VQ(b, v, FP4_OK);
    v = vq_make((fp4_format)f, 1, blk);
    v.layout = FP4_LAYOUT_SWIZZLED;
    VQ(b, v, FP4_OK);
    v = vq_make((fp4_format)f, 129, 5 * blk); /* swizzle padding in both directions */
    v.layout = FP4_LAYOUT_SWIZZLED;
    VQ(b, v, FP4_OK);
    /* transposed: the source rows become the quantized row length */
    v = vq_make((fp4_format)f, blk + 1, 2);
    v.cfg.transpose = 1;
    v.R = 2;
    v.C = blk + 1;
    VQ(b, v, FP4_ERR_SHAPE);
    v = vq_make((fp4_format)f, blk, 3);
    v.cfg.transpose = 1;
    v.R = 3;
    v.C = blk;
    VQ(b, v, FP4_OK);
    v = vq_make((fp4_format)f, 1, 1);
    v.cfg.transpose = 1;
    VQ(b, v, FP4_ERR_SHAPE);
    /* Hadamard group larger than the row, or not dividing it */
    v = vq_make((fp4_format)f, 2, 32);
    v.cfg.hadamard = 64;
    VQ(b, v, FP4_ERR_SHAPE);
    v = vq_make((fp4_format)f, 2, 96);
    v.cfg.hadamard = 64;
    VQ(b, v, FP4_ERR_SHAPE);
    v = vq_make((fp4_format)f, 2, 256);
    v.cfg.hadamard = 256;
    VQ(b, v, FP4_OK);
    {
      static const int bad_groups[] = {1, 2, 8, 48, 512, -16, INT_MIN, INT_MAX};
      for (i = 0; i < 8; i++) {
        v = vq_make((fp4_format)f, 2, 64);
        v.cfg.hadamard = bad_groups[i];
        VQ(b, v, FP4_ERR_ARG);
      }
    }
    /* overflow: rows * cols, rows * ld beyond int64 or size_t, and beyond what can be addressed */
    {
      static const int64_t big[][3] = {
          {INT64_MAX, 32, 32},          {(int64_t)1 << 32, (int64_t)1 << 32, (int64_t)1 << 32},
          {(int64_t)1 << 40, 1 << 20, 1 << 20}, {2, 32, INT64_MAX},
          {3, 64, INT64_MAX / 2},       {(int64_t)1 << 62, 32, 32},
          {(int64_t)1 << 31, (int64_t)1 << 31, (int64_t)1 << 31},
          {1024, 32, ((int64_t)1 << 62) / 1000},
      };
      for (i = 0; i < (int)(sizeof big / sizeof big[0]); i++) {
        v = vq_make((fp4_format)f, big[i][0], big[i][1]);
        v.ldx = big[i][2];
        VQ(b, v, FP4_ERR_OVERFLOW);
        v.cfg.transpose = 1; /* the output shape swaps; the check must still catch it */
        VQ(b, v, FP4_ERR_OVERFLOW);
      }
    }
    /* leading dimensions */
    {
      static const int64_t bad_ld[] = {0, -1, INT64_MIN, 1};
      for (i = 0; i < 4; i++) {
        v = vq_make((fp4_format)f, 2, 2 * blk);
        v.ldx = bad_ld[i] == 1 ? 2 * blk - 1 : bad_ld[i];
        VQ(b, v, FP4_ERR_LD);
      }
      v = vq_make((fp4_format)f, 3, 2 * blk);
      v.ldx = 2 * blk + 3; /* gaps in the source are never read into the result: valgrind/ASan see */
      VQ(b, v, FP4_OK);
      v = vq_make((fp4_format)f, 1, blk);
      v.ldx = 1000000; /* one row: ld never multiplies */
      VQ(b, v, FP4_OK);
    }
    /* null pointers */
    v = vq_make((fp4_format)f, 2, blk);
    v.null_x = 1;
    VQ(b, v, FP4_ERR_NULL);
    v = vq_make((fp4_format)f, 2, blk);
    v.null_cfg = 1;
    VQ(b, v, FP4_ERR_NULL);
    v = vq_make((fp4_format)f, 2, blk);
    v.null_out = 1;
    VQ(b, v, FP4_ERR_NULL);
    v = vq_make((fp4_format)f, 2, blk);
    v.null_data = 1;
    VQ(b, v, FP4_ERR_NULL);
    v = vq_make((fp4_format)f, 2, blk);
    v.null_scales = 1;
    VQ(b, v, FP4_ERR_NULL);
    /* unknown enum values, each field */
    {
      static const int bad_enum[] = {-1, 1000, INT_MAX, INT_MIN};
      int e;
      for (e = 0; e < 4; e++) {
        v = vq_make((fp4_format)f, 2, 2 * blk);
        v.cfg.format = (fp4_format)bad_enum[e];
        VQ(b, v, FP4_ERR_ENUM);
        v = vq_make((fp4_format)f, 2, 2 * blk);
        v.cfg.rule = (fp4_rule)bad_enum[e];
        VQ(b, v, FP4_ERR_ENUM);
        v = vq_make((fp4_format)f, 2, 2 * blk);
        v.cfg.rounding = (fp4_rounding)bad_enum[e];
        VQ(b, v, FP4_ERR_ENUM);
        v = vq_make((fp4_format)f, 2, 2 * blk);
        v.cfg.hadamard_signs = (fp4_signs)bad_enum[e];
        VQ(b, v, FP4_ERR_ENUM);
        v = vq_make((fp4_format)f, 2, 2 * blk);
        v.layout = (fp4_layout)bad_enum[e];
        VQ(b, v, FP4_ERR_ENUM);
      }
      v = vq_make((fp4_format)f, 2, 2 * blk);
      v.cfg.format = FP4_FORMAT_COUNT;
      VQ(b, v, FP4_ERR_ENUM);
      v = vq_make((fp4_format)f, 2, 2 * blk);
      v.cfg.rule = FP4_RULE_COUNT;
      VQ(b, v, FP4_ERR_ENUM);
      v = vq_make((fp4_format)f, 2, 2 * blk);
      v.cfg.rounding = FP4_ROUNDING_COUNT;
      VQ(b, v, FP4_ERR_ENUM);
      v = vq_make((fp4_format)f, 2, 2 * blk);
      v.cfg.hadamard_signs = FP4_SIGNS_COUNT;
      VQ(b, v, FP4_ERR_ENUM);
      v = vq_make((fp4_format)f, 2, 2 * blk);
      v.layout = FP4_LAYOUT_COUNT;
      VQ(b, v, FP4_ERR_ENUM);
    }
    /* combinations that do not exist */
    for (i = 1; i < FP4_RULE_COUNT; i++) {
      v = vq_make((fp4_format)f, 2, 64);
      v.cfg.rule = (fp4_rule)i;
      VQ(b, v, fp4_rule_format((fp4_rule)i) == (fp4_format)f ? FP4_OK : FP4_ERR_UNSUPPORTED);
      v.mask = 1; /* the not-clipped mask exists only for QuEST */
      VQ(b, v, fp4_rule_format((fp4_rule)i) != (fp4_format)f ? FP4_ERR_UNSUPPORTED
               : i == FP4_MX_QUEST                           ? FP4_OK
                                                             : FP4_ERR_UNSUPPORTED);
    }
    v = vq_make((fp4_format)f, 32, 32);
    v.cfg.scale_2d = 1;
    VQ(b, v, f == FP4_NVFP4 ? FP4_OK : FP4_ERR_UNSUPPORTED);
    v = vq_make((fp4_format)f, 2, 64);
    v.cfg.has_amax = 1;
    v.cfg.amax = 4.0f;
    VQ(b, v, f == FP4_NVFP4 ? FP4_OK : FP4_ERR_UNSUPPORTED);
    if (f == FP4_NVFP4) {
      static const uint32_t bad_amax[] = {0x7FC00000u, 0x7F800000u, 0xFF800000u, 0xBF800000u, 0x80000001u};
      for (i = 0; i < 5; i++) {
        v = vq_make(FP4_NVFP4, 2, 64);
        v.cfg.has_amax = 1;
        v.cfg.amax = f_of(bad_amax[i]);
        VQ(b, v, FP4_ERR_ARG);
      }
      v = vq_make(FP4_NVFP4, 2, 64);
      v.cfg.has_amax = 1;
      v.cfg.amax = 1e-35f; /* positive but below FP4_NV_AMAX_MIN */
      VQ(b, v, FP4_ERR_RANGE);
      v.cfg.amax = FLT_MAX; /* huge: every block scale underflows to 0, still valid */
      VQ(b, v, FP4_OK);
      v.cfg.amax = -0.0f; /* -0 == 0: every scale 0 */
      VQ(b, v, FP4_OK);
    }
    /* misaligned sources */
    for (i = 1; i < 4; i++) {
      v = vq_make((fp4_format)f, 2, 2 * blk);
      v.xoff = (size_t)i;
      VQ(b, v, FP4_ERR_ALIGN);
    }
    v = vq_make((fp4_format)f, 2, 2 * blk);
    v.dt = FP4_BF16;
    v.xoff = 1;
    VQ(b, v, FP4_ERR_ALIGN);
    v.dt = FP4_F16;
    VQ(b, v, FP4_ERR_ALIGN);
    v.xoff = 2; /* element-aligned but not 4-, 16- or 32-byte aligned: fine */
    VQ(b, v, FP4_OK);
    v.dt = FP4_F32;
    v.xoff = 4;
    VQ(b, v, FP4_OK);
    v.xoff = 12;
    VQ(b, v, FP4_OK);
  }
}

/* Element-aligned but not vector-aligned pointers give the same bytes as aligned ones. */
static void test_offsets(const backend *b) {
  int f;
  for (f = 0; f < FP4_FORMAT_COUNT; f++) {
    static const size_t offs[] = {0, 4, 8, 12, 20, 28};
    int64_t rows = 3, cols = 128;
    fp4_quant_config cfg = fp4_config_default((fp4_format)f);
    float *x0 = (float *)malloc((size_t)(rows * cols) * 4);
    qbuf q0;
    float *y0 = (float *)malloc((size_t)(rows * cols) * 4);
    int o;
    cfg.rule = f == FP4_NVFP4 ? FP4_NV_4OVER6_MSE : FP4_MX_ADAPTIVE;
    cfg.rounding = FP4_ROUND_STOCHASTIC;
    cfg.seed = h_rand();
    fill(x0, (size_t)(rows * cols));
    qb_new(&q0, (fp4_format)f, rows, cols, FP4_LAYOUT_LINEAR, 0);
    CHECK_EQ(FP4_OK, quant(b, FP4_F32, x0, rows, cols, cols, &cfg, &q0.t));
    CHECK_EQ(FP4_OK, b->dq_f32(&q0.t, y0, cols));
    for (o = 0; o < 6; o++) {
      gbuf xg, yg, dg, sg;
      float *x = (float *)gb_new(&xg, (size_t)(rows * cols) * 4, offs[o]);
      float *y;
      fp4_tensor t;
      memcpy(x, x0, (size_t)(rows * cols) * 4);
      gb_new(&dg, q0.d.n, offs[o] + 1); /* byte outputs at odd addresses too */
      gb_new(&sg, q0.s.n, offs[o] + 3);
      y = (float *)gb_new(&yg, (size_t)(rows * cols) * 4, offs[o]);
      fp4_tensor_init(&t, dg.p, sg.p, FP4_LAYOUT_LINEAR);
      CHECK_EQ(FP4_OK, quant(b, FP4_F32, x, rows, cols, cols, &cfg, &t));
      CHECK(memcmp(dg.p, q0.d.p, dg.n) == 0 && memcmp(sg.p, q0.s.p, sg.n) == 0);
      CHECK_EQ(FP4_OK, b->dq_f32(&t, y, cols));
      CHECK(memcmp(y, y0, (size_t)(rows * cols) * 4) == 0);
      CHECK(gb_ok(&dg, 0, 0, 0, 0) && gb_ok(&sg, 0, 0, 0, 0) && gb_ok(&yg, 0, 0, 0, 0));
      gb_free(&xg);
      gb_free(&yg);
      gb_free(&dg);
      gb_free(&sg);
    }
    qb_free(&q0);
    free(x0);
    free(y0);
  }
}

/* Outputs that overlap an input (or each other): FP4_ERR_ALIAS and nothing written. Adjacent buffers
 * are fine. */
static void test_alias_quantize(const backend *b) {
  int f;
  for (f = 0; f < FP4_FORMAT_COUNT; f++) {
    int64_t blk = fp4_format_block((fp4_format)f), rows = 2, cols = 2 * blk, n = rows * cols;
    size_t db = fp4_data_bytes(rows, cols), sb = fp4_scale_bytes((fp4_format)f, rows, cols, FP4_LAYOUT_LINEAR);
    size_t mb = fp4_mask_bytes(rows, cols), xb = (size_t)n * 4, total = xb + db + sb + mb + 64;
    fp4_quant_config cfg = fp4_config_default((fp4_format)f);
    gbuf g;
    unsigned char *p = (unsigned char *)gb_new(&g, total, 0);
    float *x = (float *)p;
    fp4_tensor t;
    int k;
    if (f == FP4_MXFP4) cfg.rule = FP4_MX_QUEST; /* so that a mask is allowed */
    fill(x, (size_t)n);
    /* k: 0 data over x, 1 scales over x's end, 2 data over scales, 3 mask over x, 4 adjacent (fine),
     * 5 mask over data, 6 mask over scales */
    for (k = 0; k < 7; k++) {
      fp4_status st, exp = k == 4 ? FP4_OK : FP4_ERR_ALIAS;
      uint8_t *d = p + xb, *s = p + xb + db, *m = f == FP4_MXFP4 ? p + xb + db + sb : NULL;
      if (k == 0) d = p + 8;
      if (k == 1) s = p + xb - 1;
      if (k == 2) d = s - 1;
      if (k == 3 && m) m = p;
      if (k == 5 && m) m = d + db - 1;
      if (k == 6 && m) m = s;
      if (f == FP4_NVFP4 && (k == 3 || k == 5 || k == 6)) continue;
      fp4_tensor_init(&t, d, s, FP4_LAYOUT_LINEAR);
      t.mask = m;
      gb_snap(&g);
      st = quant(b, FP4_F32, x, rows, cols, cols, &cfg, &t);
      CHECK_EQ(exp, st);
      if (exp != FP4_OK) CHECK(gb_same(&g));
      CHECK(gb_ok(&g, 0, 0, 0, 0));
    }
    /* fake quantize: y over x (in place is not allowed), y one float past x's end (fine), mask over y */
    {
      float *y = x + n;
      uint8_t *m = (uint8_t *)(x + 2 * n) - 1;
      (void)m;
      gb_free(&g);
      p = (unsigned char *)gb_new(&g, (size_t)(3 * n) * 4 + mb + 16, 0);
      x = (float *)p;
      y = x + n;
      fill(x, (size_t)n);
      gb_snap(&g);
      CHECK_EQ(FP4_ERR_ALIAS, fake(b, x, rows, cols, cols, &cfg, x, cols, NULL));
      CHECK(gb_same(&g));
      CHECK_EQ(FP4_ERR_ALIAS, fake(b, x, rows, cols, cols, &cfg, x + cols + 1, cols, NULL));
      CHECK(gb_same(&g));
      CHECK_EQ(FP4_ERR_ALIAS, fake(b, x + 1, rows, cols, cols, &cfg, x, cols, NULL));
      CHECK(gb_same(&g));
      if (f == FP4_MXFP4) {
        CHECK_EQ(FP4_ERR_ALIAS, fake(b, x, rows, cols, cols, &cfg, y, cols, (uint8_t *)(y + n) - 1));
        CHECK(gb_same(&g));
        CHECK_EQ(FP4_ERR_ALIAS, fake(b, x, rows, cols, cols, &cfg, y, cols, (uint8_t *)x + xb - 1));
        CHECK(gb_same(&g));
      }
      CHECK_EQ(FP4_OK, fake(b, x, rows, cols, cols, &cfg, y, cols, f == FP4_MXFP4 ? (uint8_t *)(y + n) : NULL));
      CHECK(gb_ok(&g, 0, 0, 0, 0));
    }
    gb_free(&g);
  }
}

/* ---- dequantize ---- */
static void test_validate_dequantize(const backend *b) {
  int f, dti, k;
  for (f = 0; f < FP4_FORMAT_COUNT; f++)
    for (dti = 0; dti < FP4_DTYPE_COUNT; dti++) {
      int64_t blk = fp4_format_block((fp4_format)f), rows = 3, cols = 2 * blk, es = dti == FP4_F32 ? 4 : 2;
      fp4_quant_config cfg = fp4_config_default((fp4_format)f);
      float x[3 * 64];
      qbuf q;
      gbuf yg;
      fill(x, (size_t)(rows * cols));
      qb_new(&q, (fp4_format)f, rows, cols, FP4_LAYOUT_SWIZZLED, 0);
      CHECK_EQ(FP4_OK, quant(b, FP4_F32, x, rows, cols, cols, &cfg, &q.t));
      /* a good call with gaps between rows: the gaps stay untouched */
      gb_new(&yg, (size_t)((rows - 1) * (cols + 5) + cols) * (size_t)es, 0);
      CHECK_EQ(FP4_OK, dequant(b, (fp4_dtype)dti, &q.t, yg.p, cols + 5));
      CHECK(gb_ok(&yg, rows, cols, cols + 5, (size_t)es));
      gb_free(&yg);
      /* k: each way to break the call */
      for (k = 0; k < 26; k++) {
        fp4_tensor t = q.t;
        const fp4_tensor *tp = &t;
        int64_t ldy = cols;
        size_t off = 0;
        int null_y = 0;
        fp4_status exp, st;
        switch (k) {
        case 0: tp = NULL; exp = FP4_ERR_NULL; break;
        case 1: t.data = NULL; exp = FP4_ERR_NULL; break;
        case 2: t.scales = NULL; exp = FP4_ERR_NULL; break;
        case 3: null_y = 1; exp = FP4_ERR_NULL; break;
        case 4: t.format = (fp4_format)-1; exp = FP4_ERR_ENUM; break;
        case 5: t.format = FP4_FORMAT_COUNT; exp = FP4_ERR_ENUM; break;
        case 6: t.rule = (fp4_rule)-1; exp = FP4_ERR_ENUM; break;
        case 7: t.rule = FP4_RULE_COUNT; exp = FP4_ERR_ENUM; break;
        case 8: t.scale_layout = (fp4_layout)7; exp = FP4_ERR_ENUM; break;
        case 9: t.rows = 0; exp = FP4_ERR_SIZE; break;
        case 10: t.cols = -cols; exp = FP4_ERR_SIZE; break;
        case 11: t.cols = blk + 1; exp = FP4_ERR_SHAPE; break;
        case 12: t.cols = 1; ldy = 1; exp = FP4_ERR_SHAPE; break;
        case 13: ldy = cols - 1; exp = FP4_ERR_LD; break;
        case 14: ldy = 0; exp = FP4_ERR_LD; break;
        case 15: ldy = INT64_MIN; exp = FP4_ERR_LD; break;
        case 16: t.rows = INT64_MAX; exp = FP4_ERR_OVERFLOW; break;
        case 17: t.rows = (int64_t)1 << 40; t.cols = (int64_t)1 << 30; ldy = t.cols; exp = FP4_ERR_OVERFLOW; break;
        case 18: ldy = INT64_MAX; exp = FP4_ERR_OVERFLOW; break;
        case 19: off = 1; exp = FP4_ERR_ALIGN; break;
        case 20: off = es == 4 ? 2 : 3; exp = FP4_ERR_ALIGN; break;
        case 21: off = (size_t)es; exp = FP4_OK; break; /* element-aligned */
        case 22: t.cols = INT64_MAX / 2 + 1 - (INT64_MAX / 2 + 1) % 32; t.rows = 2; ldy = t.cols; exp = FP4_ERR_OVERFLOW; break;
        case 23: t.cols = 3 * blk; t.rows = 1; exp = FP4_OK; ldy = t.cols; break; /* fewer rows than the buffers hold */
        case 24: t.rule = FP4_MX_ABSMAX3; exp = FP4_OK; break; /* any known rule decodes */
        default: t.rows = INT64_MIN; exp = FP4_ERR_SIZE; break;
        }
        gb_new(&yg, (size_t)(rows * cols * es) + 8, off);
        gb_snap(&yg);
        st = dequant(b, (fp4_dtype)dti, tp, null_y ? NULL : yg.p, ldy);
        if (st != exp) {
          h_fail++;
          fprintf(stderr, "%s:%d: FAIL: %s dequantize case %d dtype %d: expected %s, got %s\n", __FILE__,
                  __LINE__, b->name, k, dti, fp4_status_string(exp), fp4_status_string(st));
        } else h_pass++;
        if (st != FP4_OK) CHECK(gb_same(&yg));
        else CHECK(gb_ok(&yg, t.rows, t.cols, ldy, (size_t)es));
        gb_free(&yg);
      }
      /* y over the codes or the scales */
      {
        gbuf g;
        unsigned char *p = (unsigned char *)gb_new(&g, q.d.n + q.s.n + (size_t)(rows * cols * es) + 16, 0);
        fp4_tensor t = q.t;
        memcpy(p, q.d.p, q.d.n);
        memcpy(p + q.d.n, q.s.p, q.s.n);
        t.data = p;
        t.scales = p + q.d.n;
        gb_snap(&g);
        CHECK_EQ(FP4_ERR_ALIAS, dequant(b, (fp4_dtype)dti, &t, p, cols));
        CHECK_EQ(FP4_ERR_ALIAS, dequant(b, (fp4_dtype)dti, &t, p + q.d.n + q.s.n - (size_t)es, cols));
        CHECK(gb_same(&g));
        CHECK_EQ(FP4_OK, dequant(b, (fp4_dtype)dti, &t, p + q.d.n + q.s.n, cols)); /* adjacent */
        CHECK(gb_ok(&g, 0, 0, 0, 0));
        gb_free(&g);
      }
      qb_free(&q);
    }
}

/* ---- Hadamard ---- */
static void test_validate_hadamard(const backend *b) {
  int k;
  int64_t rows = 3, cols = 64;
  float x[3 * 64 + 16], yref[3 * 64];
  uint32_t signs[8] = {0x12345678u, 0, 0, 0, 0, 0, 0, 0};
  fill(x, 3 * 64 + 16);
  CHECK_EQ(FP4_OK, b->had_f32(x, rows, cols, cols, yref, cols, 32, signs, 0));
  for (k = 0; k < 20; k++) {
    gbuf yg;
    float *y;
    const float *xp = x;
    int64_t r = rows, c = cols, ldx = cols, ldy = cols;
    int g = 32, null_y = 0;
    fp4_status exp, st;
    size_t off = 0;
    switch (k) {
    case 0: xp = NULL; exp = FP4_ERR_NULL; break;
    case 1: null_y = 1; exp = FP4_ERR_NULL; break;
    case 2: g = 0; exp = FP4_ERR_ARG; break;
    case 3: g = 24; exp = FP4_ERR_ARG; break;
    case 4: g = 512; exp = FP4_ERR_ARG; break;
    case 5: r = 0; exp = FP4_ERR_SIZE; break;
    case 6: c = -64; exp = FP4_ERR_SIZE; break;
    case 7: c = 48; ldx = ldy = 48; exp = FP4_ERR_SHAPE; break;
    case 8: ldx = 63; exp = FP4_ERR_LD; break;
    case 9: ldy = 63; exp = FP4_ERR_LD; break;
    case 10: r = INT64_MAX; exp = FP4_ERR_OVERFLOW; break;
    case 11: ldy = INT64_MAX; exp = FP4_ERR_OVERFLOW; break;
    case 12: xp = (const float *)((const char *)x + 2); exp = FP4_ERR_ALIGN; break;
    case 13: off = 1; exp = FP4_ERR_ALIGN; break;
    case 14: off = 4; exp = FP4_OK; break;
    case 15: ldy = 70; exp = FP4_OK; break;
    case 16: g = 64; exp = FP4_OK; break;
    case 17: c = 32; ldx = 64; ldy = 32; exp = FP4_OK; break;
    case 18: g = -32; exp = FP4_ERR_ARG; break;
    default: r = (int64_t)1 << 58; c = 64; exp = FP4_ERR_OVERFLOW; break;
    }
    y = (float *)gb_new(&yg, (size_t)(3 * 70 * 4), off);
    gb_snap(&yg);
    st = b->had_f32(xp, r, c, ldx, null_y ? NULL : y, ldy, g, signs, 0);
    if (st != exp) {
      h_fail++;
      fprintf(stderr, "%s:%d: FAIL: %s hadamard case %d: expected %s, got %s\n", __FILE__, __LINE__, b->name, k,
              fp4_status_string(exp), fp4_status_string(st));
    } else h_pass++;
    if (st != FP4_OK) CHECK(gb_same(&yg));
    else {
      CHECK(gb_ok(&yg, r, c, ldy, 4));
      if (k == 14 || k == 15) {
        int64_t i, j;
        int bad = 0;
        for (i = 0; i < rows; i++)
          for (j = 0; j < cols; j++) bad += bits_of(y[i * ldy + j]) != bits_of(yref[i * cols + j]);
        CHECK_EQ(0, bad);
      }
    }
    gb_free(&yg);
  }
  /* in place (x == y, same ld) is fine and equals the out-of-place result; any other overlap is not */
  {
    float z[3 * 64 + 16];
    memcpy(z, x, sizeof z);
    CHECK_EQ(FP4_OK, b->had_f32(z, rows, cols, cols, z, cols, 32, signs, 0));
    CHECK(memcmp(z, yref, sizeof yref) == 0);
    memcpy(z, x, sizeof z);
    CHECK_EQ(FP4_ERR_ALIAS, b->had_f32(z, rows, cols, cols, z + 1, cols, 32, signs, 0));
    CHECK_EQ(FP4_ERR_ALIAS, b->had_f32(z + 8, rows, cols, cols, z, cols, 32, signs, 0));
    CHECK_EQ(FP4_ERR_ALIAS, b->had_f32(z, 2, cols, cols + 8, z, cols, 32, signs, 0));
    CHECK(memcmp(z, x, sizeof z) == 0);
    /* inverse after forward gives back x up to rounding; NaN stays inside its group */
    z[5] = f_of(0x7FC00000u);
    CHECK_EQ(FP4_OK, b->had_f32(z, 1, cols, cols, z, cols, 32, NULL, 0));
    {
      int i, bad = 0;
      for (i = 0; i < 32; i++) bad += !is_nan(z[i]);
      for (i = 32; i < 64; i++) bad += is_nan(z[i]);
      CHECK_EQ(0, bad);
    }
  }
}

/* ---- GEMM ---- */
static void test_validate_gemm(const backend *b) {
  int f, kind, k;
  for (f = 0; f < FP4_FORMAT_COUNT; f++) {
    int64_t blk = fp4_format_block((fp4_format)f), M = 3, N = 5, K = 2 * blk;
    fp4_quant_config cfg = fp4_config_default((fp4_format)f);
    float xa[3 * 64 + 32], xb[5 * 64]; /* room for lda = K + 7 */
    uint16_t acth[3 * 64 + 32];
    qbuf qa, qb, qo;
    int i;
    fill(xa, 3 * 64 + 32);
    fill(xb, (size_t)(N * K));
    for (i = 0; i < 3 * 64 + 32; i++) acth[i] = fp4_f32_to_bf16(xa[i]);
    qb_new(&qa, (fp4_format)f, M, K, FP4_LAYOUT_LINEAR, 0);
    qb_new(&qb, (fp4_format)f, N, K, FP4_LAYOUT_SWIZZLED, 0);
    qb_new(&qo, (fp4_format)(1 - f), N, 64, FP4_LAYOUT_LINEAR, 0); /* the other format */
    CHECK_EQ(FP4_OK, quant(b, FP4_F32, xa, M, K, K, &cfg, &qa.t));
    CHECK_EQ(FP4_OK, quant(b, FP4_F32, xb, N, K, K, &cfg, &qb.t));
    {
      fp4_quant_config c2 = fp4_config_default((fp4_format)(1 - f));
      float xo[5 * 64];
      fill(xo, 5 * 64);
      CHECK_EQ(FP4_OK, quant(b, FP4_F32, xo, N, 64, 64, &c2, &qo.t));
    }
    for (kind = 0; kind < 4; kind++) {
      int es = kind == 0 || kind == 2 ? 4 : 2;
      const void *act = kind == 2 ? (const void *)xa : (const void *)acth;
      for (k = 0; k < 32; k++) {
        fp4_tensor A = qa.t, B = qb.t;
        const fp4_tensor *Ap = &A, *Bp = &B;
        const void *actp = act;
        int64_t m = M, lda = K, ldc = N;
        size_t off = 0;
        int null_c = 0;
        fp4_status exp = FP4_OK, st;
        gbuf cg;
        int w4a4 = kind < 2;
        switch (k) {
        case 0: if (w4a4) Ap = NULL; else actp = NULL; exp = FP4_ERR_NULL; break;
        case 1: Bp = NULL; exp = FP4_ERR_NULL; break;
        case 2: null_c = 1; exp = FP4_ERR_NULL; break;
        case 3: if (w4a4) A.data = NULL; else B.data = NULL; exp = FP4_ERR_NULL; break;
        case 4: if (w4a4) A.scales = NULL; else B.scales = NULL; exp = FP4_ERR_NULL; break;
        case 5: B.data = NULL; exp = FP4_ERR_NULL; break;
        case 6: B.scales = NULL; exp = FP4_ERR_NULL; break;
        case 7: if (w4a4) A.format = (fp4_format)5; else B.format = (fp4_format)5; exp = FP4_ERR_ENUM; break;
        case 8: B.rule = (fp4_rule)-3; exp = FP4_ERR_ENUM; break;
        case 9: B.scale_layout = (fp4_layout)2; exp = FP4_ERR_ENUM; break;
        case 10: if (w4a4) A.scale_layout = (fp4_layout)-1; else B.format = (fp4_format)-1; exp = FP4_ERR_ENUM; break;
        case 11: if (w4a4) A.rows = 0; else m = 0; exp = FP4_ERR_SIZE; break;
        case 12: B.rows = -5; exp = FP4_ERR_SIZE; break;
        case 13: if (w4a4) A.cols = blk; else lda = -1; exp = w4a4 ? FP4_ERR_UNSUPPORTED : FP4_ERR_LD; break;
        case 14: B.cols = blk + 2; exp = FP4_ERR_SHAPE; break;
        case 15: if (w4a4) Bp = &qo.t; else lda = K - 1; exp = w4a4 ? FP4_ERR_UNSUPPORTED : FP4_ERR_LD; break;
        case 16: ldc = N - 1; exp = FP4_ERR_LD; break;
        case 17: ldc = 0; exp = FP4_ERR_LD; break;
        case 18: if (w4a4) A.rows = INT64_MAX; else m = INT64_MAX; exp = FP4_ERR_OVERFLOW; break;
        case 19: ldc = INT64_MAX; exp = FP4_ERR_OVERFLOW; break;
        case 20: B.rows = (int64_t)1 << 60; exp = FP4_ERR_OVERFLOW; break;
        case 21: off = 1; exp = FP4_ERR_ALIGN; break;
        case 22: off = (size_t)es; exp = FP4_OK; break;
        case 23: if (!w4a4) actp = (const char *)act + 1; else off = 3; exp = FP4_ERR_ALIGN; break;
        case 24: ldc = N + 3; exp = FP4_OK; break;
        case 25: if (!w4a4) lda = K + 7; exp = FP4_OK; break;
        case 26: if (w4a4) Ap = &B; exp = FP4_OK; break; /* A == B is fine */
        case 27: B.cols = 0; exp = FP4_ERR_SIZE; break;
        case 28: if (w4a4) A.cols = INT64_MAX; else lda = INT64_MAX; exp = w4a4 ? FP4_ERR_SHAPE : FP4_ERR_OVERFLOW;
          if (w4a4 && INT64_MAX % blk == 0) exp = FP4_ERR_OVERFLOW;
          break;
        case 29: B.rule = FP4_RULE_DEFAULT; exp = FP4_OK; break;
        case 30: if (w4a4) A.rows = (int64_t)1 << 40; else m = (int64_t)1 << 40; ldc = (int64_t)1 << 20; exp = FP4_ERR_OVERFLOW; break;
        default: B.rows = INT64_MIN; exp = FP4_ERR_SIZE; break;
        }
        {
          int64_t mr = Ap == &B ? N : M;
          gb_new(&cg, (size_t)(mr * (N + 3) * es) + 16, off);
        }
        /* beta != 0 reads C: make it finite */
        for (i = 0; i < (int)(cg.n / 4); i++) memcpy(cg.p + 4 * i, "\0\0\x80\x3f", 4);
        gb_snap(&cg);
        st = gemm(b, kind, Ap, actp, m, lda, Bp, 1.5f, k & 1 ? 0.5f : 0.0f, null_c ? NULL : cg.p, ldc);
        if (st != exp) {
          h_fail++;
          fprintf(stderr, "%s:%d: FAIL: %s %s gemm kind %d case %d: expected %s, got %s\n", __FILE__, __LINE__,
                  b->name, fp4_format_name((fp4_format)f), kind, k, fp4_status_string(exp), fp4_status_string(st));
        } else h_pass++;
        if (st != FP4_OK) CHECK(gb_same(&cg));
        else {
          int64_t mr = Ap == &B ? N : M;
          CHECK(gb_outside_same(&cg, mr, N, ldc, (size_t)es));
        }
        gb_free(&cg);
      }
      /* C over an operand: ALIAS and nothing written */
      for (k = 0; k < 5; k++) {
        gbuf g;
        unsigned char *p;
        fp4_tensor A = qa.t, B = qb.t;
        size_t cbytes = (size_t)(M * N * es), abytes = (size_t)(M * K) * (kind == 2 ? 4u : 2u);
        void *C, *a = NULL;
        int w4a4 = kind < 2;
        fp4_status st;
        p = (unsigned char *)gb_new(&g, qa.d.n + qa.s.n + qb.d.n + qb.s.n + abytes + cbytes + 64, 0);
        memcpy(p, qa.d.p, qa.d.n);
        A.data = p;
        memcpy(p + qa.d.n, qa.s.p, qa.s.n);
        A.scales = p + qa.d.n;
        memcpy(p + qa.d.n + qa.s.n, qb.d.p, qb.d.n);
        B.data = A.scales + qa.s.n;
        memcpy(B.data + qb.d.n, qb.s.p, qb.s.n);
        B.scales = B.data + qb.d.n;
        a = B.scales + qb.s.n + (4 - (size_t)(B.scales + qb.s.n - p) % 4) % 4;
        memcpy(a, kind == 2 ? (const void *)xa : (const void *)acth, abytes);
        switch (k) {
        case 0: C = w4a4 ? (void *)A.data : a; break;
        case 1: C = w4a4 ? (void *)(A.scales - 4 + qa.s.n % 4) : (void *)((char *)a + abytes - (size_t)es); break;
        case 2: C = B.data + 4; break;
        case 3: C = B.scales + (qb.s.n / 4) * 4 - 4 * (qb.s.n >= 4); break;
        default: C = (char *)a + abytes + (4 - abytes % 4) % 4; break; /* adjacent: fine */
        }
        if ((uintptr_t)C % (uintptr_t)es) C = (char *)C - (uintptr_t)C % (uintptr_t)es;
        gb_snap(&g);
        st = gemm(b, kind, &A, a, M, K, &B, 1.0f, 0.0f, C, N);
        CHECK_EQ(k == 4 ? FP4_OK : FP4_ERR_ALIAS, st);
        if (k != 4) CHECK(gb_same(&g));
        CHECK(gb_ok(&g, 0, 0, 0, 0));
        gb_free(&g);
      }
    }
    qb_free(&qa);
    qb_free(&qb);
    qb_free(&qo);
  }
}

/* ---- scale layout conversion ---- */
static void test_validate_layout(void) {
  int k;
  static const int64_t shapes[][2] = {{1, 1}, {1, 5}, {127, 3}, {128, 4}, {129, 7}, {300, 2}};
  for (k = 0; k < 6; k++) {
    int64_t r = shapes[k][0], c = shapes[k][1], i;
    size_t ln = (size_t)(r * c), sn = fp4_scale_bytes(FP4_MXFP4, r, c * 32, FP4_LAYOUT_SWIZZLED);
    gbuf lg, sg, l2;
    uint8_t *lin = (uint8_t *)gb_new(&lg, ln, 0), *sw = (uint8_t *)gb_new(&sg, sn, 1),
            *back = (uint8_t *)gb_new(&l2, ln, 3);
    size_t nonzero = 0;
    for (i = 0; i < (int64_t)ln; i++) lin[i] = (uint8_t)(h_rand() | 1u);
    CHECK_EQ(FP4_OK, fp4_scales_to_swizzled(lin, r, c, sw));
    for (i = 0; i < (int64_t)sn; i++) nonzero += sw[i] != 0;
    CHECK_EQ(ln, nonzero); /* every padding byte is zero */
    CHECK_EQ(FP4_OK, fp4_scales_to_linear(sw, r, c, back));
    CHECK(memcmp(lin, back, ln) == 0);
    CHECK(gb_ok(&lg, 0, 0, 0, 0) && gb_ok(&sg, 0, 0, 0, 0) && gb_ok(&l2, 0, 0, 0, 0));
    gb_free(&lg);
    gb_free(&sg);
    gb_free(&l2);
  }
  for (k = 0; k < 12; k++) {
    gbuf g;
    uint8_t *p = (uint8_t *)gb_new(&g, 4096, 0), *lin = p, *sw = p + 2048;
    int64_t r = 4, c = 2;
    fp4_status exp, st1, st2;
    switch (k) {
    case 0: lin = NULL; exp = FP4_ERR_NULL; break;
    case 1: sw = NULL; exp = FP4_ERR_NULL; break;
    case 2: r = 0; exp = FP4_ERR_SIZE; break;
    case 3: c = -1; exp = FP4_ERR_SIZE; break;
    case 4: r = INT64_MAX; exp = FP4_ERR_OVERFLOW; break;
    case 5: r = (int64_t)1 << 40; c = (int64_t)1 << 40; exp = FP4_ERR_OVERFLOW; break;
    case 6: sw = p + 4; exp = FP4_ERR_ALIAS; break;
    case 7: lin = p + 2048 + 511; exp = FP4_ERR_ALIAS; break; /* the swizzled block is 512 bytes */
    case 8: lin = p + 2048 + 512; exp = FP4_OK; break;
    case 9: c = INT64_MIN; exp = FP4_ERR_SIZE; break;
    case 10: r = 1; c = INT64_MAX; exp = FP4_ERR_OVERFLOW; break;
    default: exp = FP4_OK; break;
    }
    gb_snap(&g);
    st1 = fp4_scales_to_swizzled(lin, r, c, sw);
    CHECK_EQ(exp, st1);
    if (exp != FP4_OK) CHECK(gb_same(&g));
    st2 = fp4_scales_to_linear(sw, r, c, lin);
    CHECK_EQ(exp, st2);
    if (exp != FP4_OK) CHECK(gb_same(&g));
    CHECK(gb_ok(&g, 0, 0, 0, 0));
    gb_free(&g);
  }
}

#ifdef FP4_CPU_H
/* fp4_cpu.h's row / column ranges: a range outside [0, rows] or reversed is FP4_ERR_ARG and writes
 * nothing; a valid range writes only its own rows (columns of C for the GEMMs). */
static int range_bad(int64_t rb, int64_t re, int64_t n) { return rb < 0 || rb > re || re > n; }
static void test_cpu_ranges(void) {
  static const int64_t ranges[][2] = {{-1, 1}, {2, 1}, {0, 41}, {INT64_MIN, 0}, {0, INT64_MAX}, {41, 41},
                                      {INT64_MAX, INT64_MIN}, {7, 7}, {5, 17}, {0, 40}, {39, 40}, {16, 32}};
  int f, k;
  for (f = 0; f < FP4_FORMAT_COUNT; f++) {
    int64_t rows = 40, cols = 64, blk = fp4_format_block((fp4_format)f), sc = cols / blk;
    float x[40 * 64], y[40 * 64], C[40 * 40];
    fp4_quant_config cfg = fp4_config_default((fp4_format)f);
    qbuf q;
    gbuf yg, cg;
    fill(x, 40 * 64);
    if (f == FP4_NVFP4) {
      cfg.has_amax = 1;
      cfg.amax = 8.0f;
    }
    qb_new(&q, (fp4_format)f, rows, cols, FP4_LAYOUT_LINEAR, 0);
    CHECK_EQ(FP4_OK, fp4_cpu_quantize_f32(x, rows, cols, cols, &cfg, &q.t, NULL, 0));
    CHECK_EQ(FP4_OK, fp4_cpu_dequantize_f32(&q.t, y, cols));
    CHECK_EQ(FP4_OK, fp4_cpu_gemm_w4a4_f32(&q.t, &q.t, 1.0f, 0.0f, C, rows, NULL, 0));
    for (k = 0; k < (int)(sizeof ranges / sizeof ranges[0]); k++) {
      int64_t rb = ranges[k][0], re = ranges[k][1], r, bad = 0;
      int inval = range_bad(rb, re, rows);
      fp4_status exp = inval ? FP4_ERR_ARG : FP4_OK;
      qbuf p;
      fp4_tensor tsnap;
      float amax = -1.0f;
      /* quantize rows */
      qb_new(&p, (fp4_format)f, rows, cols, FP4_LAYOUT_LINEAR, 0);
      qb_snap(&p);
      memcpy(&tsnap, &p.t, sizeof p.t);
      CHECK_EQ(exp, fp4_cpu_quantize_rows_f32(x, rows, cols, cols, &cfg, &p.t, rb, re));
      if (inval) {
        CHECK(qb_same(&p));
        CHECK(memcmp(&tsnap, &p.t, sizeof p.t) == 0);
      } else {
        CHECK(qb_guards(&p));
        for (r = 0; r < rows; r++) {
          int in = r >= rb && r < re;
          size_t db = (size_t)(cols / 2), o = (size_t)r * db;
          if (in) bad += memcmp(p.d.p + o, q.d.p + o, db) != 0 || memcmp(p.s.p + r * sc, q.s.p + r * sc, (size_t)sc) != 0;
          else bad += memcmp(p.d.p + o, p.d.snap + GUARD + o, db) != 0 || memcmp(p.s.p + r * sc, p.s.snap + GUARD + r * sc, (size_t)sc) != 0;
        }
        CHECK_EQ(0, bad);
      }
      qb_free(&p);
      /* amax over rows: untouched on error */
      CHECK_EQ(exp, fp4_cpu_amax_f32(x, rows, cols, cols, &cfg, rb, re, &amax));
      if (inval) CHECK_FEQ(-1.0f, amax);
      /* dequantize rows */
      gb_new(&yg, sizeof y, 0);
      gb_snap(&yg);
      CHECK_EQ(exp, fp4_cpu_dequantize_rows_f32(&q.t, (float *)yg.p, cols, rb, re));
      if (inval) CHECK(gb_same(&yg));
      else {
        for (r = 0; r < rows; r++) {
          size_t o = (size_t)(r * cols) * 4;
          if (r >= rb && r < re) bad += memcmp(yg.p + o, (char *)y + o, (size_t)cols * 4) != 0;
          else bad += memcmp(yg.p + o, yg.snap + GUARD + o, (size_t)cols * 4) != 0;
        }
        CHECK_EQ(0, bad);
        CHECK(gb_ok(&yg, 0, 0, 0, 0));
      }
      gb_free(&yg);
      /* GEMM columns n of C (rows of B) */
      gb_new(&cg, sizeof C, 0);
      gb_snap(&cg);
      CHECK_EQ(exp, fp4_cpu_gemm_w4a4_f32_cols(&q.t, &q.t, 1.0f, 0.0f, (float *)cg.p, rows, rb, re));
      if (inval) CHECK(gb_same(&cg));
      else {
        int64_t m, n;
        for (m = 0; m < rows; m++)
          for (n = 0; n < rows; n++) {
            size_t o = (size_t)(m * rows + n) * 4;
            if (n >= rb && n < re) bad += memcmp(cg.p + o, (char *)C + o, 4) != 0;
            else bad += memcmp(cg.p + o, cg.snap + GUARD + o, 4) != 0;
          }
        CHECK_EQ(0, bad);
        CHECK(gb_ok(&cg, 0, 0, 0, 0));
      }
      gb_snap(&cg);
      CHECK_EQ(exp, fp4_cpu_gemm_w4a16_f32_f32_cols(x, rows, cols, &q.t, 1.0f, 0.0f, (float *)cg.p, rows, rb, re));
      if (inval) CHECK(gb_same(&cg));
      else CHECK(gb_outside_same(&cg, rows, rows, rows, 4));
      gb_free(&cg);
    }
    /* NVFP4 row ranges need the tensor amax; 2D ranges whole tiles; a null amax pointer */
    {
      qbuf p;
      fp4_quant_config c2 = cfg;
      float a;
      qb_new(&p, (fp4_format)f, rows, cols, FP4_LAYOUT_LINEAR, 0);
      qb_snap(&p);
      c2.has_amax = 0;
      CHECK_EQ(f == FP4_NVFP4 ? FP4_ERR_ARG : FP4_OK, fp4_cpu_quantize_rows_f32(x, rows, cols, cols, &c2, &p.t, 0, 16));
      if (f == FP4_NVFP4) {
        CHECK(qb_same(&p));
        c2 = cfg;
        c2.scale_2d = 1;
        CHECK_EQ(FP4_ERR_ARG, fp4_cpu_quantize_rows_f32(x, rows, cols, cols, &c2, &p.t, 8, 24));
        CHECK_EQ(FP4_ERR_ARG, fp4_cpu_quantize_rows_f32(x, rows, cols, cols, &c2, &p.t, 16, 24));
        CHECK(qb_same(&p));
        CHECK_EQ(FP4_OK, fp4_cpu_quantize_rows_f32(x, rows, cols, cols, &c2, &p.t, 32, 40)); /* the last, partial tile */
        c2.amax = 1e-35f;
        qb_snap(&p);
        CHECK_EQ(FP4_ERR_RANGE, fp4_cpu_quantize_rows_f32(x, rows, cols, cols, &c2, &p.t, 0, 16));
        CHECK(qb_same(&p));
      }
      CHECK_EQ(FP4_ERR_NULL, fp4_cpu_amax_f32(x, rows, cols, cols, &cfg, 0, 1, NULL));
      a = -2.0f;
      CHECK_EQ(FP4_ERR_SIZE, fp4_cpu_amax_f32(x, 0, cols, cols, &cfg, 0, 0, &a));
      CHECK_FEQ(-2.0f, a);
      CHECK(qb_guards(&p));
      qb_free(&p);
    }
    qb_free(&q);
  }
}
#endif

/* Names: every status, format and rule has one; unknown values do not crash. */
static void test_names(void) {
  int i;
  for (i = 0; i < FP4_STATUS_COUNT; i++) CHECK(fp4_status_string((fp4_status)i) && *fp4_status_string((fp4_status)i));
  CHECK(fp4_status_string((fp4_status)-1) != NULL);
  CHECK(fp4_status_string(FP4_STATUS_COUNT) != NULL);
  CHECK(fp4_format_name((fp4_format)-1) != NULL);
  CHECK(fp4_rule_name((fp4_rule)1000) != NULL);
  CHECK_EQ(FP4_FORMAT_COUNT, fp4_rule_format((fp4_rule)-7));
}

int main(void) {
  int i;
  h_rand_state = h_seed();
  test_names();
  test_validate_layout();
  for (i = 0; i < NBACKENDS; i++) {
    const backend *b = &backends[i];
    long before = h_fail;
    test_specials(b);
    test_specials_options(b);
    test_whole_tensor(b);
    test_nan_propagation(b);
    test_validate_quantize(b);
    test_offsets(b);
    test_alias_quantize(b);
    test_validate_dequantize(b);
    test_validate_hadamard(b);
    test_validate_gemm(b);
    printf("%s: %s\n", b->name, h_fail == before ? "ok" : "FAILED");
  }
#ifdef FP4_CPU_H
  test_cpu_ranges();
#endif
  return h_finish();
}
