/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: argument validation of the reference GEMMs (spec §5) and dequantization of
 * quantized tensors built straight from the fuzz input: every fp4_tensor field (format, rule, layout,
 * rows, cols, tensor scale, the code and scale bytes), M, lda, ldc, alpha, beta, the output type and the
 * buffer offsets (fuzz/README.md). Sizes stay small.
 * Properties:
 *  - obviously invalid arguments fail, and a failing call leaves C untouched;
 *  - a succeeding call writes only the M x N elements of C (guards and ldc gaps untouched);
 *  - bf16 / f16 outputs are the RNE rounding of the f32 output computed from the same C (spec §5);
 *  - dequantization gives fp4_dequant_value(code, scale) for every element;
 *  - fp4_cpu.h (when present) returns the same status for every call and the same bytes for
 *    dequantization and the reproducible W4A4 GEMMs (spec §5; W4A16 may sum in another order). */
#include "fp4.h"
#if defined(__has_include)
#if __has_include("fp4_cpu.h")
#include "fp4_cpu.h"
#endif
#endif
#include "fuzz.h"

#define MAX_ELEMS 16384 /* per operand */

typedef struct operand {
  fz_buf d, s;
  fp4_tensor t;
  int cls; /* 1: buffers exactly as a caller would allocate; 0: the tensor is invalid; -1: too large */
} operand;

static int enum_ok(const fp4_tensor *t) {
  return (unsigned)t->format < FP4_FORMAT_COUNT && (unsigned)t->rule < FP4_RULE_COUNT &&
         (unsigned)t->scale_layout < FP4_LAYOUT_COUNT;
}

static uint64_t mix(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static uint8_t next_byte(fz *in, uint64_t *seed) { return in->n ? fz_u8(in) : (uint8_t)mix(seed); }

/* A float: a moderate value mostly, sometimes any bits. */
static float fz_value(fz *in, uint64_t *seed) {
  uint32_t u = in->n >= 4 ? fz_u32(in) : (uint32_t)mix(seed);
  float x;
  if ((u & 0x3F) != 0x3F) u = (u & 0x807FFFFFu) | ((uint32_t)(112 + (u >> 23) % 32) << 23);
  memcpy(&x, &u, 4);
  return x;
}

/* A tensor from the input: format / rule / layout mostly consistent, sometimes not. */
static void make_operand(fz *in, operand *o, fp4_format like, int64_t K, uint64_t *seed) {
  fp4_tensor *t = &o->t;
  int64_t blk, n, i;
  uint8_t m = fz_u8(in);
  memset(o, 0, sizeof *o);
  memset(t, 0, sizeof *t);
  t->format = m < 224 ? like : (fp4_format)fz_enum(in, FP4_FORMAT_COUNT);
  m = fz_u8(in);
  if (m < 224) {
    fp4_rule list[FP4_RULE_COUNT];
    int nl = 0, r;
    list[nl++] = FP4_RULE_DEFAULT;
    for (r = 1; r < FP4_RULE_COUNT; r++)
      if (fp4_rule_format((fp4_rule)r) == t->format) list[nl++] = (fp4_rule)r;
    t->rule = list[m % nl];
  } else t->rule = (fp4_rule)fz_enum(in, FP4_RULE_COUNT);
  t->scale_layout = (fp4_layout)fz_enum(in, FP4_LAYOUT_COUNT);
  t->rows = fz_dim(in, 24);
  m = fz_u8(in);
  t->cols = m < 224 ? K : fz_len(in, 16, 256);
  m = fz_u8(in);
  t->tensor_scale = m < 128 ? 1.0f : m < 224 ? ldexpf(1.0f + (float)(m & 7) / 8.0f, (int)(m % 23) - 11) : fz_f32(in);
  blk = (unsigned)t->format < FP4_FORMAT_COUNT ? fp4_format_block(t->format) : 32;
  o->cls = fz_span(t->rows, t->cols, t->cols, MAX_ELEMS, &n);
  if (o->cls > 0 && (!enum_ok(t) || t->cols % blk)) o->cls = 0;
  if (o->cls > 0) {
    fz_alloc(&o->d, fp4_data_bytes(t->rows, t->cols), fz_u8(in) % 4);
    fz_alloc(&o->s, fp4_scale_bytes(t->format, t->rows, t->cols, t->scale_layout), fz_u8(in) % 4);
    for (i = 0; i < (int64_t)o->d.n; i++) o->d.p[i] = next_byte(in, seed);
    /* scales: mostly near the middle of the range, sometimes any byte (NaN codes included) */
    for (i = 0; i < (int64_t)o->s.n; i++) {
      uint8_t b = next_byte(in, seed);
      o->s.p[i] = (b & 3) ? (uint8_t)(t->format == FP4_MXFP4 ? 112 + (b >> 3) % 32 : 40 + (b >> 3) % 40) : b;
    }
  } else {
    fz_alloc(&o->d, 16, 0);
    fz_alloc(&o->s, 16, 0);
  }
  t->data = o->d.p;
  t->scales = o->s.p;
  m = fz_u8(in);
  if (m == 255) t->data = NULL, o->cls = 0;
  if (m == 254) t->scales = NULL, o->cls = 0;
}

static void free_operand(operand *o) {
  fz_free(&o->d);
  fz_free(&o->s);
}

/* Every element of a dequantized tensor is fp4_dequant_value of its code and scale. */
static void check_dequantize(fz *in, const operand *o) {
  const fp4_tensor *t = &o->t;
  int64_t ldy = fz_ld(in, t->cols > 0 ? t->cols : 1), yn = 0, r, c;
  fp4_dtype dt = (fp4_dtype)(fz_u8(in) % 3);
  size_t es = dt == FP4_F32 ? 4 : 2, off = fz_u8(in) % 4;
  int ycls = o->cls > 0 ? fz_span(t->rows, t->cols, ldy, MAX_ELEMS * 2, &yn) : 0;
  fz_buf yb;
  fp4_status st;
  uint8_t *y;
  if (ycls < 0) return;
  y = (uint8_t *)fz_alloc(&yb, ycls ? (size_t)yn * es : 64, off);
  fz_snap(&yb);
  st = dt == FP4_F32    ? fp4_dequantize_f32(t, (float *)y, ldy)
       : dt == FP4_BF16 ? fp4_dequantize_bf16(t, (uint16_t *)y, ldy)
                        : fp4_dequantize_f16(t, (uint16_t *)y, ldy);
#ifdef FP4_CPU_H
  {
    fz_buf y2;
    fz_alloc(&y2, yb.n, off);
    memcpy(y2.p, yb.snap, yb.n);
    FZ_CHECK(st == (dt == FP4_F32    ? fp4_cpu_dequantize_f32(t, (float *)y2.p, ldy)
                    : dt == FP4_BF16 ? fp4_cpu_dequantize_bf16(t, (uint16_t *)y2.p, ldy)
                                     : fp4_cpu_dequantize_f16(t, (uint16_t *)y2.p, ldy)));
    FZ_CHECK(fz_same_values(y2.p, yb.p, yb.n, (int)dt));
    fz_free(&y2);
  }
#endif
  if (!ycls || off % es) FZ_CHECK(st != FP4_OK);
  if (st != FP4_OK) {
    FZ_CHECK(fz_same(&yb));
  } else {
    int64_t blk = fp4_format_block(t->format), sc = t->cols / blk;
    FZ_CHECK(fz_only_matrix_changed(&yb, t->rows, t->cols, ldy, es));
    for (r = 0; r < t->rows; r++)
      for (c = 0; c < t->cols; c++) {
        uint8_t code = (uint8_t)((t->data[r * (t->cols / 2) + c / 2] >> (4 * (c & 1))) & 15);
        size_t so = t->scale_layout == FP4_LAYOUT_SWIZZLED ? fp4_swizzle_offset(r, c / blk, sc)
                                                           : (size_t)(r * sc + c / blk);
        float v = fp4_dequant_value(t->format, t->rule, code, t->scales[so], t->tensor_scale);
        if (dt == FP4_F32) FZ_CHECK(memcmp(&v, y + (size_t)(r * ldy + c) * 4, 4) == 0);
        else {
          uint16_t h, e = dt == FP4_BF16 ? fp4_f32_to_bf16(v) : fp4_f32_to_f16(v);
          memcpy(&h, y + (size_t)(r * ldy + c) * 2, 2);
          FZ_CHECK(h == e);
        }
      }
  }
  fz_free(&yb);
}

typedef fp4_status (*w4a4_f32_fn)(const fp4_tensor *, const fp4_tensor *, float, float, float *, int64_t, void *,
                                  size_t);
typedef fp4_status (*w4a4_u16_fn)(const fp4_tensor *, const fp4_tensor *, float, float, uint16_t *, int64_t, void *,
                                  size_t);

/* Call variant (act type at, out type ot); w4a4 when at < 0. */
static fp4_status call(int at, fp4_dtype ot, const fp4_tensor *A, const void *act, int64_t M, int64_t lda,
                       const fp4_tensor *B, float alpha, float beta, void *C, int64_t ldc) {
  if (at < 0) {
    if (ot == FP4_F32) return fp4_gemm_w4a4_f32(A, B, alpha, beta, (float *)C, ldc, NULL, 0);
    if (ot == FP4_BF16) return fp4_gemm_w4a4_bf16(A, B, alpha, beta, (uint16_t *)C, ldc, NULL, 0);
    return fp4_gemm_w4a4_f16(A, B, alpha, beta, (uint16_t *)C, ldc, NULL, 0);
  }
#define W4A16(AN, AT, ON, OT) fp4_gemm_w4a16_##AN##_##ON((const AT *)act, M, lda, B, alpha, beta, (OT *)C, ldc, NULL, 0)
  switch (at * 3 + (int)ot) {
  case 0: return W4A16(f32, float, f32, float);
  case 1: return W4A16(f32, float, bf16, uint16_t);
  case 2: return W4A16(f32, float, f16, uint16_t);
  case 3: return W4A16(bf16, uint16_t, f32, float);
  case 4: return W4A16(bf16, uint16_t, bf16, uint16_t);
  case 5: return W4A16(bf16, uint16_t, f16, uint16_t);
  case 6: return W4A16(f16, uint16_t, f32, float);
  case 7: return W4A16(f16, uint16_t, bf16, uint16_t);
  default: return W4A16(f16, uint16_t, f16, uint16_t);
  }
#undef W4A16
}

#ifdef FP4_CPU_H
static fp4_status call_cpu(int at, fp4_dtype ot, const fp4_tensor *A, const void *act, int64_t M, int64_t lda,
                           const fp4_tensor *B, float alpha, float beta, void *C, int64_t ldc) {
  if (at < 0) {
    if (ot == FP4_F32) return fp4_cpu_gemm_w4a4_f32(A, B, alpha, beta, (float *)C, ldc, NULL, 0);
    if (ot == FP4_BF16) return fp4_cpu_gemm_w4a4_bf16(A, B, alpha, beta, (uint16_t *)C, ldc, NULL, 0);
    return fp4_cpu_gemm_w4a4_f16(A, B, alpha, beta, (uint16_t *)C, ldc, NULL, 0);
  }
#define W4A16(AN, AT, ON, OT) \
  fp4_cpu_gemm_w4a16_##AN##_##ON((const AT *)act, M, lda, B, alpha, beta, (OT *)C, ldc, NULL, 0)
  switch (at * 3 + (int)ot) {
  case 0: return W4A16(f32, float, f32, float);
  case 1: return W4A16(f32, float, bf16, uint16_t);
  case 2: return W4A16(f32, float, f16, uint16_t);
  case 3: return W4A16(bf16, uint16_t, f32, float);
  case 4: return W4A16(bf16, uint16_t, bf16, uint16_t);
  case 5: return W4A16(bf16, uint16_t, f16, uint16_t);
  case 6: return W4A16(f16, uint16_t, f32, float);
  case 7: return W4A16(f16, uint16_t, bf16, uint16_t);
  default: return W4A16(f16, uint16_t, f16, uint16_t);
  }
#undef W4A16
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz in = {data, size};
  uint8_t kind = fz_u8(&in);
  int at = kind % 4 == 3 ? -1 : (int)(kind % 4); /* activation type, or -1 for W4A4 */
  fp4_dtype ot = (fp4_dtype)((kind >> 2) % 3);
  fp4_format fmt = (fp4_format)((kind >> 4) & 1);
  int64_t K = 16 * (1 + fz_u8(&in) % 16), M, N, lda = 0, ldc, an = 0, cn = 0;
  uint64_t seed = fz_u64(&in);
  operand A, B;
  fz_buf ab, cb;
  float alpha, beta;
  size_t aes = at == 0 ? 4 : 2, ces = ot == FP4_F32 ? 4 : 2, aoff, coff;
  int acls = 1, ccls, must_fail;
  const fp4_tensor *Ap, *Bp;
  const void *actp = NULL;
  fp4_status st;
  uint8_t m;
  if (fmt == FP4_MXFP4) K = 32 * (1 + (K / 16 - 1) % 8);
  memset(&ab, 0, sizeof ab);
  make_operand(&in, &A, fmt, K, &seed);
  make_operand(&in, &B, fmt, K, &seed);
  if (A.cls < 0 || B.cls < 0) goto done;
  Ap = (fz_u8(&in) == 255) ? NULL : &A.t;
  Bp = (fz_u8(&in) == 255) ? NULL : &B.t;

  /* dequantization of an operand built from raw bytes */
  if (Ap) check_dequantize(&in, &A);

  m = fz_u8(&in);
  alpha = m < 200 ? ldexpf(1.0f + (float)(m & 15) / 16.0f, (int)(m % 9) - 4) : fz_f32(&in);
  m = fz_u8(&in);
  beta = m < 128 ? 0.0f : m < 224 ? (float)(m % 5) - 2.0f : fz_f32(&in);
  N = B.t.rows;
  if (at < 0) {
    M = A.t.rows;
  } else {
    M = fz_dim(&in, 24);
    lda = fz_ld(&in, B.t.cols > 0 ? B.t.cols : K);
    aoff = fz_u8(&in) % 4;
    acls = B.cls > 0 ? fz_span(M, B.t.cols, lda, MAX_ELEMS, &an) : 0;
    if (acls < 0) goto done;
    {
      uint8_t *a = (uint8_t *)fz_alloc(&ab, acls ? (size_t)an * aes : 16, aoff);
      int64_t i;
      for (i = 0; i < (acls ? an : 16 / (int64_t)aes); i++) {
        float v = fz_value(&in, &seed);
        if (at == 0) memcpy(a + 4 * i, &v, 4);
        else {
          uint16_t h = at == 1 ? fp4_f32_to_bf16(v) : fp4_f32_to_f16(v);
          memcpy(a + 2 * i, &h, 2);
        }
      }
      actp = a;
      if (fz_u8(&in) == 255) acls = 0, actp = NULL;
      if (aoff % aes) acls = 0;
    }
  }
  ldc = fz_ld(&in, N > 0 ? N : 1);
  coff = fz_u8(&in) % 4;
  ccls = M > 0 && N > 0 ? fz_span(M, N, ldc, MAX_ELEMS, &cn) : 0;
  if (ccls < 0) goto done;
  {
    uint8_t *c = (uint8_t *)fz_alloc(&cb, ccls ? (size_t)cn * ces : 16, coff);
    int64_t i;
    for (i = 0; i < (ccls ? cn : 16 / (int64_t)ces); i++) {
      float v = fz_value(&in, &seed);
      if (ot == FP4_F32) memcpy(c + 4 * i, &v, 4);
      else {
        uint16_t h = ot == FP4_BF16 ? fp4_f32_to_bf16(v) : fp4_f32_to_f16(v);
        memcpy(c + 2 * i, &h, 2);
      }
    }
    fz_snap(&cb);
  }
  must_fail = !ccls || coff % ces || !Bp || B.cls == 0 ||
              (at < 0 ? (!Ap || A.cls == 0 || A.t.format != B.t.format || A.t.cols != B.t.cols) : !acls);
  st = call(at, ot, Ap, actp, M, lda, Bp, alpha, beta, cb.p, ldc);
#ifdef FP4_CPU_H
  {
    fz_buf c2;
    fz_alloc(&c2, cb.n, coff);
    memcpy(c2.p, cb.snap, cb.n);
    FZ_CHECK(call_cpu(at, ot, Ap, actp, M, lda, Bp, alpha, beta, c2.p, ldc) == st);
    if (at < 0 || st != FP4_OK) FZ_CHECK(fz_same_values(c2.p, cb.p, cb.n, (int)ot));
    fz_free(&c2);
  }
#endif
  if (must_fail) FZ_CHECK(st != FP4_OK);
  if (st != FP4_OK) {
    FZ_CHECK(fz_same(&cb));
  } else {
    FZ_CHECK(fz_only_matrix_changed(&cb, M, N, ldc, ces));
    if (ot != FP4_F32) {
      /* the 16-bit output is the RNE rounding of the f32 result from the same (exactly widened) C */
      float *cf = (float *)malloc((size_t)cn * 4);
      int64_t i, r, c;
      for (i = 0; i < cn; i++) {
        uint16_t h;
        memcpy(&h, cb.snap + 2 * i, 2);
        cf[i] = ot == FP4_BF16 ? fp4_bf16_to_f32(h) : fp4_f16_to_f32(h);
      }
      FZ_CHECK(call(at, FP4_F32, Ap, actp, M, lda, Bp, alpha, beta, cf, ldc) == FP4_OK);
      for (r = 0; r < M; r++)
        for (c = 0; c < N; c++) {
          uint16_t h, e = ot == FP4_BF16 ? fp4_f32_to_bf16(cf[r * ldc + c]) : fp4_f32_to_f16(cf[r * ldc + c]);
          memcpy(&h, cb.p + (size_t)(r * ldc + c) * 2, 2);
          FZ_CHECK(h == e);
        }
      free(cf);
    }
  }
  fz_free(&cb);
done:
  fz_free(&ab);
  free_operand(&A);
  free_operand(&B);
  return 0;
}
