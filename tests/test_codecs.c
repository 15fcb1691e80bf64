/* SPDX-License-Identifier: MIT */
/* Codecs (spec §1) and Philox4x32-10 (spec §3), against the independent model in test_ref.h:
 * E2M1 all 16 codes and every tie with its two neighbouring floats, E4M3 all 256 codes and every
 * midpoint of adjacent values with its neighbours, E8M0 all 256 codes, bf16 / f16 all 65536 codes
 * both ways plus a sweep of f32 inputs rounded in double, and Philox known-answer vectors. */
#include "harness.h"
#include "test_ref.h"

/* Count mismatches in a loop, report the first few, then one CHECK for the whole loop. */
static long mism;
#define MISMATCH(fmt, ...)                                                     \
  do {                                                                         \
    if (mism++ < 5) fprintf(stderr, "  mismatch: " fmt "\n", __VA_ARGS__);     \
  } while (0)

static float f_of(uint32_t u) { return r_float(u); }

static void test_e2m1(void) {
  /* spec §1 ties: value, expected code */
  static const float ties[7] = {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5.0f};
  static const uint8_t tie_code[7] = {0, 2, 2, 4, 4, 6, 6}; /* 0, 1, 1, 2, 2, 4, 4 */
  unsigned c;
  int i, sg;
  uint32_t u;
  for (c = 0; c < 16; c++) {
    static const float mag[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
    float want = (c & 8) ? -mag[c & 7] : mag[c & 7];
    CHECK_FEQ(want, fp4_e2m1_to_float((uint8_t)c));
    CHECK_EQ(c, fp4_e2m1_from_float(want)); /* every grid value (and -0.0) maps to its code */
    CHECK_FEQ((float)r_e2m1_val(c), fp4_e2m1_to_float((uint8_t)c));
  }
  for (sg = 0; sg < 2; sg++)
    for (i = 0; i < 7; i++) {
      float t = sg ? -ties[i] : ties[i], s = sg ? 8.0f : 0.0f;
      uint8_t lo = (uint8_t)(i == 0 ? 0 : i), hi = (uint8_t)(i + 1); /* the two grid codes around tie i */
      (void)s;
      CHECK_EQ(tie_code[i] | (sg ? 8 : 0), fp4_e2m1_from_float(t));
      CHECK_EQ(lo | (sg ? 8 : 0), fp4_e2m1_from_float(nextafterf(t, 0.0f)));
      CHECK_EQ(hi | (sg ? 8 : 0), fp4_e2m1_from_float(nextafterf(t, sg ? -INFINITY : INFINITY)));
      CHECK_EQ(tie_code[i] | (sg ? 8 : 0), r_e2m1_enc(t)); /* the model agrees with the spec's list */
    }
  /* signs, zeros, specials, saturation */
  CHECK_EQ(0x0, fp4_e2m1_from_float(0.0f));
  CHECK_EQ(0x8, fp4_e2m1_from_float(-0.0f));
  CHECK_EQ(0x8, fp4_e2m1_from_float(-1e-30f));
  CHECK_EQ(0x8, fp4_e2m1_from_float(-f_of(1)));
  CHECK_EQ(0x8, fp4_e2m1_from_float(-0.25f));
  CHECK_EQ(0x0, fp4_e2m1_from_float(f_of(1)));
  CHECK_EQ(0x7, fp4_e2m1_from_float(f_of(0x7FC00000u)));
  CHECK_EQ(0xF, fp4_e2m1_from_float(f_of(0xFFC00000u)));
  CHECK_EQ(0x7, fp4_e2m1_from_float(f_of(0x7F800001u))); /* signalling NaN */
  CHECK_EQ(0x7, fp4_e2m1_from_float(INFINITY));
  CHECK_EQ(0xF, fp4_e2m1_from_float(-INFINITY));
  CHECK_EQ(0x7, fp4_e2m1_from_float(nextafterf(6.0f, 7.0f)));
  CHECK_EQ(0x7, fp4_e2m1_from_float(7.0f));
  CHECK_EQ(0x7, fp4_e2m1_from_float(FLT_MAX));
  CHECK_EQ(0xF, fp4_e2m1_from_float(-FLT_MAX));
  CHECK_EQ(0xF, fp4_e2m1_from_float(-100.0f));
  CHECK_EQ(0x7, fp4_e2m1_from_float(nextafterf(5.0f, 6.0f)));
  CHECK_EQ(0x6, fp4_e2m1_from_float(nextafterf(5.0f, 0.0f)));
  /* a sweep over every 256th float bit pattern, both signs */
  mism = 0;
  for (u = 0; u < 0x80000000u; u += 256) {
    int k;
    for (k = 0; k < 2; k++) {
      float x = f_of(u | (k ? 0x80000000u : 0));
      uint8_t a = fp4_e2m1_from_float(x), b = r_e2m1_enc(x);
      if (a != b) MISMATCH("e2m1(%a) = 0x%x, model 0x%x", (double)x, a, b);
    }
  }
  CHECK_EQ(0, mism);
}

static void test_e4m3(void) {
  unsigned c;
  int sg;
  uint32_t u;
  mism = 0;
  for (c = 0; c < 256; c++) {
    float got = fp4_e4m3_to_float((uint8_t)c);
    double want = r_e4m3_val(c);
    if ((c & 0x7F) == 0x7F) {
      if (got == got) MISMATCH("e4m3 0x%x decodes to %g, want NaN", c, (double)got);
    } else {
      if ((double)got != want || !signbit(got) != !signbit(want)) MISMATCH("e4m3 0x%x: %g want %g", c, (double)got, want);
      if (fp4_e4m3_from_float(got) != c) MISMATCH("e4m3 0x%x does not round-trip (0x%x)", c, fp4_e4m3_from_float(got));
    }
  }
  CHECK_EQ(0, mism);
  CHECK_FEQ(448.0f, fp4_e4m3_to_float(0x7E));
  CHECK_FEQ(0.001953125f, fp4_e4m3_to_float(0x01)); /* 2^-9 */
  CHECK_FEQ(0.013671875f, fp4_e4m3_to_float(0x07)); /* 7 * 2^-9 */
  CHECK_FEQ(0.015625f, fp4_e4m3_to_float(0x08));    /* 2^-6 */
  CHECK_FEQ(1.0f, fp4_e4m3_to_float(0x38));
  CHECK_FEQ(-0.0f, fp4_e4m3_to_float(0x80));
  /* every pair of adjacent values (subnormals included): midpoint ties to even, neighbours go apart */
  mism = 0;
  for (sg = 0; sg < 2; sg++)
    for (c = 0; c < 0x7E; c++) {
      double lo = r_e4m3_val(c), hi = r_e4m3_val(c + 1);
      float m = (float)((lo + hi) / 2), sgn = sg ? -1.0f : 1.0f; /* 5 significant bits: exact */
      unsigned s = sg ? 0x80 : 0, even = (c & 1) ? c + 1 : c;
      if ((double)m != (lo + hi) / 2) MISMATCH("midpoint %d not exact", (int)c);
      if (fp4_e4m3_from_float(sgn * m) != (s | even)) MISMATCH("e4m3(%a) = 0x%x want 0x%x", (double)(sgn * m), fp4_e4m3_from_float(sgn * m), s | even);
      if (fp4_e4m3_from_float(sgn * nextafterf(m, 0)) != (s | c)) MISMATCH("e4m3(below %a) != 0x%x", (double)m, s | c);
      if (fp4_e4m3_from_float(sgn * nextafterf(m, 1e9f)) != (s | (c + 1))) MISMATCH("e4m3(above %a) != 0x%x", (double)m, s | (c + 1));
    }
  CHECK_EQ(0, mism);
  /* below the smallest subnormal, saturation, specials */
  CHECK_EQ(0x00, fp4_e4m3_from_float(0.0009765625f));                 /* 2^-10: tie to 0 */
  CHECK_EQ(0x01, fp4_e4m3_from_float(nextafterf(0.0009765625f, 1)));
  CHECK_EQ(0x00, fp4_e4m3_from_float(f_of(1)));
  CHECK_EQ(0x80, fp4_e4m3_from_float(-0.0f));
  CHECK_EQ(0x80, fp4_e4m3_from_float(-1e-20f));
  CHECK_EQ(0x7E, fp4_e4m3_from_float(448.0f));
  CHECK_EQ(0x7E, fp4_e4m3_from_float(464.0f));                        /* tie between 448 and 480 */
  CHECK_EQ(0x7E, fp4_e4m3_from_float(nextafterf(464.0f, 1e9f)));      /* saturates */
  CHECK_EQ(0x7E, fp4_e4m3_from_float(480.0f));
  CHECK_EQ(0x7E, fp4_e4m3_from_float(1e30f));
  CHECK_EQ(0x7E, fp4_e4m3_from_float(FLT_MAX));
  CHECK_EQ(0x7E, fp4_e4m3_from_float(INFINITY));
  CHECK_EQ(0xFE, fp4_e4m3_from_float(-464.0f));
  CHECK_EQ(0xFE, fp4_e4m3_from_float(-1e30f));
  CHECK_EQ(0xFE, fp4_e4m3_from_float(-INFINITY));
  CHECK_EQ(0x7F, fp4_e4m3_from_float(NAN));
  CHECK_EQ(0x7F, fp4_e4m3_from_float(f_of(0xFFC00000u)));
  CHECK_EQ(0x7F, fp4_e4m3_from_float(f_of(0x7F800001u)));
  CHECK_EQ(0x77, fp4_e4m3_from_float(240.0f));  /* 1.875 * 2^7 */
  CHECK_EQ(0x78, fp4_e4m3_from_float(248.0f));  /* tie 240 / 256: to the even code 0x78 (256) */
  /* sweep: every 64th pattern in [2^-12, 2^10), every 4096th elsewhere, both signs */
  mism = 0;
  for (u = 0; u < 0x7F800000u;) {
    int k;
    for (k = 0; k < 2; k++) {
      float x = f_of(u | (k ? 0x80000000u : 0));
      uint8_t a = fp4_e4m3_from_float(x), b = r_e4m3_enc(x);
      if (a != b) MISMATCH("e4m3(%a) = 0x%x, model 0x%x", (double)x, a, b);
    }
    u += (u >= 0x39800000u && u < 0x44800000u) ? 64 : 4096;
  }
  CHECK_EQ(0, mism);
}

static void test_e8m0(void) {
  unsigned c;
  mism = 0;
  for (c = 0; c < 255; c++) {
    float got = fp4_e8m0_to_float((uint8_t)c);
    if ((double)got != ldexp(1.0, (int)c - 127)) MISMATCH("e8m0 0x%x = %a", c, (double)got);
  }
  CHECK_EQ(0, mism);
  CHECK(fp4_e8m0_to_float(255) != fp4_e8m0_to_float(255));
  CHECK_FEQ(f_of(0x00400000u), fp4_e8m0_to_float(0));
  CHECK_FEQ(1.0f, fp4_e8m0_to_float(127));
  CHECK_FEQ(f_of(0x7F000000u), fp4_e8m0_to_float(254));
}

/* f32 -> 16-bit encoders: compare the decoded result with the model's rounding in double. */
static void check16(int bf, float x) {
  uint16_t h = bf ? fp4_f32_to_bf16(x) : fp4_f32_to_f16(x);
  double got = bf ? r_bf16_val(h) : r_f16_val(h);
  if (x != x) {
    uint16_t quiet = bf ? 0x40 : 0x200;
    if (got == got || !(h & quiet) || (h >> 15) != (r_bits(x) >> 31))
      MISMATCH("%s(NaN 0x%08x) = 0x%04x", bf ? "bf16" : "f16", r_bits(x), h);
    return;
  }
  {
    double want = bf ? r_bf16_round(x) : r_f16_round(x);
    if (got != want || !signbit(got) != !signbit(want))
      MISMATCH("%s(%a) = 0x%04x (%a), want %a", bf ? "bf16" : "f16", (double)x, h, got, want);
  }
}

static void test_16bit(void) {
  uint32_t hi, i;
  int bf, k;
  /* decoders: all 65536 codes, and each non-NaN code round-trips */
  for (bf = 0; bf < 2; bf++) {
    mism = 0;
    for (i = 0; i < 65536; i++) {
      uint16_t h = (uint16_t)i;
      float got = bf ? fp4_bf16_to_f32(h) : fp4_f16_to_f32(h);
      double want = bf ? r_bf16_val(h) : r_f16_val(h);
      if (want != want) {
        if (got == got) MISMATCH("%s 0x%04x decodes to %g, want NaN", bf ? "bf16" : "f16", h, (double)got);
        continue;
      }
      if ((double)got != want || !signbit(got) != !signbit(want)) MISMATCH("%s 0x%04x: %a want %a", bf ? "bf16" : "f16", h, (double)got, want);
      if ((bf ? fp4_f32_to_bf16(got) : fp4_f32_to_f16(got)) != h) MISMATCH("%s 0x%04x does not round-trip", bf ? "bf16" : "f16", h);
    }
    CHECK_EQ(0, mism);
  }
  /* encoders: every upper half-word with low halves at each rounding threshold 2^k, 2^k +- 1 */
  for (bf = 0; bf < 2; bf++) {
    mism = 0;
    for (hi = 0; hi < 65536; hi++)
      for (k = 0; k < 16; k++) {
        uint32_t lo = 1u << k;
        check16(bf, f_of(hi << 16 | lo));
        check16(bf, f_of(hi << 16 | (lo - 1)));
        check16(bf, f_of(hi << 16 | ((lo + 1) & 0xFFFFu)));
        check16(bf, f_of(hi << 16 | (lo * 3 / 2)));
        check16(bf, f_of(hi << 16 | (0xFFFFu ^ (lo - 1))));
      }
    CHECK_EQ(0, mism);
  }
  /* named cases */
  CHECK_EQ(0x7C00, fp4_f32_to_f16(65520.0f));            /* tie 65504 / 65536: to even = Inf */
  CHECK_EQ(0x7BFF, fp4_f32_to_f16(nextafterf(65520.0f, 0)));
  CHECK_EQ(0x7C00, fp4_f32_to_f16(1e10f));
  CHECK_EQ(0xFC00, fp4_f32_to_f16(-INFINITY));
  CHECK_EQ(0x0000, fp4_f32_to_f16(2.98023224e-8f));       /* 2^-25: tie to 0 */
  CHECK_EQ(0x0001, fp4_f32_to_f16(nextafterf(2.98023224e-8f, 1)));
  CHECK_EQ(0x8000, fp4_f32_to_f16(-1e-30f));
  CHECK_EQ(0x0002, fp4_f32_to_f16(1.1920929e-7f));         /* 2^-23 = 2 * 2^-24 */
  CHECK_EQ(0x0400, fp4_f32_to_f16(6.1035156e-5f));         /* 2^-14 */
  CHECK_EQ(0x7F80, fp4_f32_to_bf16(FLT_MAX));              /* rounds up to Inf */
  CHECK_EQ(0x7F7F, fp4_f32_to_bf16(f_of(0x7F7F7FFFu)));
  CHECK_EQ(0x3F80, fp4_f32_to_bf16(f_of(0x3F808000u)));    /* tie to even */
  CHECK_EQ(0x3F82, fp4_f32_to_bf16(f_of(0x3F818000u)));    /* tie to even (up) */
  CHECK_EQ(0x0001, fp4_f32_to_bf16(f_of(0x00008001u)));    /* subnormal */
  CHECK_EQ(0x8000, fp4_f32_to_bf16(-0.0f));
}

static void test_philox(void) {
  /* Random123 known-answer vectors for Philox4x32-10 */
  static const uint32_t ctr[3][4] = {{0, 0, 0, 0},
                                     {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
                                     {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}};
  static const uint32_t key[3][2] = {{0, 0}, {0xffffffffu, 0xffffffffu}, {0xa4093822u, 0x299f31d0u}};
  static const uint32_t want[3][4] = {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u},
                                      {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu},
                                      {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}};
  uint32_t out[4];
  int v, w, i;
  for (v = 0; v < 3; v++) {
    r_philox(ctr[v], key[v], out);
    for (w = 0; w < 4; w++) CHECK_EQ(want[v][w], out[w]);
  }
  /* the library: counter {lo, hi, 0, 0}; counter 0 / key 0 is a known answer */
  fp4_philox4x32_10(0, 0, out);
  for (w = 0; w < 4; w++) CHECK_EQ(want[0][w], out[w]);
  mism = 0;
  for (i = 0; i < 100000; i++) {
    uint64_t seed = h_rand(), idx = (i & 1) ? h_rand() : (h_rand() >> 40);
    fp4_philox4x32_10(seed, idx, out);
    for (w = 0; w < 4; w++)
      if (out[w] != r_word(seed, idx, w)) MISMATCH("philox(%" PRIx64 ", %" PRIx64 ") word %d", seed, idx, w);
    H_DIGEST(out, sizeof out);
  }
  CHECK_EQ(0, mism);
}

int main(void) {
  h_rand_state = h_seed();
  (void)h_normal;
  test_e2m1();
  test_e4m3();
  test_e8m0();
  test_16bit();
  test_philox();
  return h_finish();
}
