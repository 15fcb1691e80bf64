/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: scale layout conversion (spec §2) and quantization straight into the swizzled
 * layout. Shapes, contents, overlaps and hostile sizes come from the fuzz input (fuzz/README.md).
 * Properties:
 *  - linear -> swizzled puts scale (r, c) at fp4_swizzle_offset(r, c) and zero in every padding byte;
 *  - swizzled -> linear gives the original back (so the offsets are distinct and in range);
 *  - overlapping buffers give FP4_ERR_ALIAS, bad sizes fail; a failing call writes nothing;
 *  - quantizing with FP4_LAYOUT_SWIZZLED gives the same codes as FP4_LAYOUT_LINEAR and the swizzled
 *    image of its scales (padding untouched by the quantizer). */
#include "fp4.h"
#include "fuzz.h"

#define MAX_SCALES 65536

static uint64_t mix(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static void conversions(fz *in) {
  int64_t rows = fz_dim(in, 300), sc = fz_dim(in, 24), n = 0, i, r, c;
  int cls = fz_span(rows, sc, sc, MAX_SCALES, &n), mode = fz_u8(in) % 4;
  uint64_t seed = fz_u64(in);
  fz_buf lb, sb, l2;
  size_t sn;
  fp4_status st;
  if (cls < 0) return;
  if (!cls) {
    /* must fail and write nothing */
    uint8_t *lin = (uint8_t *)fz_alloc(&lb, 16, 0), *sw = (uint8_t *)fz_alloc(&sb, 16, 0);
    fz_snap(&lb);
    fz_snap(&sb);
    FZ_CHECK(fp4_scales_to_swizzled(lin, rows, sc, sw) != FP4_OK);
    FZ_CHECK(fp4_scales_to_linear(sw, rows, sc, lin) != FP4_OK);
    FZ_CHECK(fz_same(&lb) && fz_same(&sb));
    fz_free(&lb);
    fz_free(&sb);
    return;
  }
  sn = (size_t)((rows + 127) / 128 * 128 * ((sc + 3) / 4 * 4));
  if (mode == 3) {
    /* both in one buffer, overlapping by 1 .. all bytes */
    size_t total = (size_t)n + sn, shift = (size_t)(fz_u32(in) % (uint32_t)(total - 1));
    uint8_t *p = (uint8_t *)fz_alloc(&lb, total, 0), *lin, *sw;
    int lin_first = fz_u8(in) & 1;
    if (shift >= (lin_first ? (size_t)n : sn)) shift = (lin_first ? (size_t)n : sn) - 1; /* force overlap */
    lin = lin_first ? p : p + shift;
    sw = lin_first ? p + shift : p;
    fz_snap(&lb);
    st = fp4_scales_to_swizzled(lin, rows, sc, sw);
    FZ_CHECK(st == FP4_ERR_ALIAS);
    st = fp4_scales_to_linear(sw, rows, sc, lin);
    FZ_CHECK(st == FP4_ERR_ALIAS);
    FZ_CHECK(fz_same(&lb));
    fz_free(&lb);
    return;
  }
  {
    uint8_t *lin = (uint8_t *)fz_alloc(&lb, (size_t)n, fz_u8(in) % 8);
    uint8_t *sw = (uint8_t *)fz_alloc(&sb, sn, fz_u8(in) % 8);
    uint8_t *back = (uint8_t *)fz_alloc(&l2, (size_t)n, 0);
    size_t off;
    for (i = 0; i < n; i++) lin[i] = in->n ? fz_u8(in) : (uint8_t)mix(&seed);
    fz_snap(&lb);
    FZ_CHECK(fp4_scales_to_swizzled(lin, rows, sc, sw) == FP4_OK);
    FZ_CHECK(fz_same(&lb));
    /* every real position, then the padding: count the real bytes to see that they are distinct */
    for (r = 0; r < rows; r++)
      for (c = 0; c < sc; c++) {
        off = fp4_swizzle_offset(r, c, sc);
        FZ_CHECK(off < sn);
        FZ_CHECK(sw[off] == lin[r * sc + c]);
        sw[off] ^= 0x5A; /* mark it; restored below */
      }
    {
      size_t marked = 0, k;
      for (r = 0; r < rows; r++)
        for (c = 0; c < sc; c++) marked += sw[fp4_swizzle_offset(r, c, sc)] == (uint8_t)(lin[r * sc + c] ^ 0x5A);
      FZ_CHECK(marked == (size_t)n);
      for (r = 0; r < rows; r++)
        for (c = 0; c < sc; c++) {
          off = fp4_swizzle_offset(r, c, sc);
          sw[off] ^= 0x5A;
        }
      /* padding: zero */
      {
        uint8_t *real = (uint8_t *)calloc(sn, 1);
        for (r = 0; r < rows; r++)
          for (c = 0; c < sc; c++) real[fp4_swizzle_offset(r, c, sc)] = 1;
        for (k = 0; k < sn; k++)
          if (!real[k]) FZ_CHECK(sw[k] == 0);
        for (k = 0, marked = 0; k < sn; k++) marked += real[k];
        FZ_CHECK(marked == (size_t)n);
        free(real);
      }
    }
    fz_snap(&sb);
    FZ_CHECK(fp4_scales_to_linear(sw, rows, sc, back) == FP4_OK);
    FZ_CHECK(fz_same(&sb));
    FZ_CHECK(memcmp(back, lin, (size_t)n) == 0);
    /* null pointers fail and write nothing */
    fz_snap(&l2);
    FZ_CHECK(fp4_scales_to_linear(NULL, rows, sc, back) == FP4_ERR_NULL);
    FZ_CHECK(fp4_scales_to_swizzled(lin, rows, sc, NULL) == FP4_ERR_NULL);
    FZ_CHECK(fz_same(&l2));
    fz_free(&lb);
    fz_free(&sb);
    fz_free(&l2);
  }
}

static void quantize_swizzled(fz *in) {
  fp4_format f = (fp4_format)(fz_u8(in) & 1);
  fp4_rule rules[FP4_RULE_COUNT];
  int nr = 0, i, blk = fp4_format_block(f);
  int64_t rows = 1 + fz_u16(in) % 160, nb = 4096 / (rows * blk) > 6 ? 6 : 4096 / (rows * blk) + 1;
  int64_t cols = blk * (1 + fz_u8(in) % nb), n = rows * cols; /* a few thousand elements at most */
  fp4_quant_config cfg = fp4_config_default(f);
  uint64_t seed = fz_u64(in);
  float *x;
  fz_buf d1, s1, d2, s2, s3;
  fp4_tensor t1, t2;
  fp4_status st1, st2;
  size_t k;
  for (i = 1; i < FP4_RULE_COUNT; i++)
    if (fp4_rule_format((fp4_rule)i) == f) rules[nr++] = (fp4_rule)i;
  cfg.rule = rules[fz_u8(in) % nr];
  cfg.rounding = (fp4_rounding)(fz_u8(in) & 1);
  cfg.seed = seed;
  cfg.scale_2d = f == FP4_NVFP4 && (fz_u8(in) & 1);
  x = (float *)malloc((size_t)n * 4);
  for (i = 0; i < n; i++) {
    uint32_t u = in->n >= 4 ? fz_u32(in) : (uint32_t)mix(&seed);
    /* mostly finite values of moderate range, sometimes any bits */
    if ((u & 0xFF) != 0xFF) u = (u & 0x807FFFFFu) | ((uint32_t)(100 + (u >> 23) % 56) << 23);
    memcpy(&x[i], &u, 4);
  }
  fz_alloc(&d1, fp4_data_bytes(rows, cols), 0);
  fz_alloc(&s1, fp4_scale_bytes(f, rows, cols, FP4_LAYOUT_LINEAR), 0);
  fz_alloc(&d2, fp4_data_bytes(rows, cols), 0);
  fz_alloc(&s2, fp4_scale_bytes(f, rows, cols, FP4_LAYOUT_SWIZZLED), 0);
  fz_alloc(&s3, fp4_scale_bytes(f, rows, cols, FP4_LAYOUT_SWIZZLED), 0);
  fp4_tensor_init(&t1, d1.p, s1.p, FP4_LAYOUT_LINEAR);
  fp4_tensor_init(&t2, d2.p, s2.p, FP4_LAYOUT_SWIZZLED);
  st1 = fp4_quantize_f32(x, rows, cols, cols, &cfg, &t1, NULL, 0);
  st2 = fp4_quantize_f32(x, rows, cols, cols, &cfg, &t2, NULL, 0);
  FZ_CHECK(st1 == st2);
  if (st1 == FP4_OK || st1 == FP4_ERR_NONFINITE) {
    FZ_CHECK(memcmp(d1.p, d2.p, d1.n) == 0);
    FZ_CHECK(fp4_scales_to_swizzled(s1.p, rows, cols / blk, s3.p) == FP4_OK);
    /* real positions hold the swizzled image of the linear scales; padding is untouched or zero */
    {
      int64_t r, c, sc = cols / blk;
      uint8_t *real = (uint8_t *)calloc(s2.n, 1);
      for (r = 0; r < rows; r++)
        for (c = 0; c < sc; c++) real[fp4_swizzle_offset(r, c, sc)] = 1;
      for (k = 0; k < s2.n; k++) FZ_CHECK(real[k] ? s2.p[k] == s3.p[k] : (s2.p[k] == FZ_FILL || s2.p[k] == 0));
      free(real);
    }
  } else {
    FZ_CHECK(st1 == FP4_ERR_RANGE); /* only a tiny NVFP4 amax can fail here */
  }
  fz_free(&d1);
  fz_free(&s1);
  fz_free(&d2);
  fz_free(&s2);
  fz_free(&s3);
  free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz in = {data, size};
  if (fz_u8(&in) & 1) conversions(&in);
  else quantize_swizzled(&in);
  return 0;
}
