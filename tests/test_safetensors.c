/* SPDX-License-Identifier: MIT */
/* The safetensors reader and writer of examples/quantize_safetensors.c (included with FP4_NO_MAIN):
 * a written file parses back to the same tensors; well-formed edge cases are accepted; malformed
 * headers, bad offsets, truncations and random byte flips are rejected without reading out of bounds
 * (run under ASan + UBSan by `make test-sanitize`). */
#define FP4_NO_MAIN
#include "examples/quantize_safetensors.c"
#include "harness.h"

/* A file from a header text and a data section of n bytes (byte i = i & 0xFF). */
static uint8_t *make_file(const char *json, size_t ndata, size_t *len) {
  size_t hn = strlen(json), i;
  uint8_t *b = (uint8_t *)malloc(8 + hn + ndata + 1);
  if (!b) return NULL;
  for (i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)hn >> (8 * i));
  memcpy(b + 8, json, hn);
  for (i = 0; i < ndata; i++) b[8 + hn + i] = (uint8_t)i;
  *len = 8 + hn + ndata;
  return b;
}

/* Parse a header text with ndata data bytes; returns st_parse's result (0 accepted, -1 rejected). */
static int try_header(const char *json, size_t ndata) {
  size_t len;
  uint8_t *b = make_file(json, ndata, &len);
  st_file f;
  char err[256];
  int r;
  if (!b) return 99;
  r = st_parse(b, len, &f, err, sizeof err);
  if (r == 0) st_free(&f);
  else if (!err[0]) r = 98; /* a rejection must say why */
  free(b);
  return r;
}

static void test_round_trip(void) {
  enum { R = 3, C = 32 };
  float f32[R * C];
  uint16_t bf[R * C], hf[R * C];
  uint8_t i64[8 * 5];
  uint8_t *buf;
  size_t len = 0, i;
  st_tensor t[6];
  st_file f;
  char err[256];
  const char *meta[] = {"format", "nvfp4", "quote\"and\\back", "tab\there \xc3\xa9"};
  for (i = 0; i < R * C; i++) {
    f32[i] = (float)h_normal();
    bf[i] = fp4_f32_to_bf16((float)h_normal());
    hf[i] = fp4_f32_to_f16((float)h_normal());
  }
  for (i = 0; i < sizeof i64; i++) i64[i] = (uint8_t)(i * 7);
  t[0] = st_tensor_of("layer.0.weight", ST_F32, R, C, f32, sizeof f32);
  t[1] = st_tensor_of("layer.1.weight \"quoted\" \xe2\x82\xac", ST_BF16, R, C, bf, sizeof bf);
  t[2] = st_tensor_of("layer.2.weight\n", ST_F16, R, C, hf, sizeof hf);
  t[3] = st_tensor_of("bias", ST_F32, 4, 0, f32, 16);
  t[4] = st_tensor_of("ids", ST_I64, 1, 5, i64, sizeof i64);
  t[5] = st_tensor_of("empty", ST_F32, 0, 7, i64, 0);
  buf = st_serialize(t, 6, meta, 2, &len);
  CHECK(buf != NULL);
  if (!buf) return;
  H_DIGEST(buf, 8 + (size_t)st_le64(buf)); /* the header text is deterministic */
  CHECK_EQ(0, st_le64(buf) % 8);
  CHECK_EQ(0, st_parse(buf, len, &f, err, sizeof err));
  if (err[0]) fprintf(stderr, "parse: %s\n", err);
  CHECK_EQ(6, f.count);
  CHECK_EQ(2, f.meta_count);
  CHECK(st_meta(&f, "format") && !strcmp(st_meta(&f, "format"), "nvfp4"));
  CHECK(st_meta(&f, "quote\"and\\back") && !strcmp(st_meta(&f, "quote\"and\\back"), "tab\there \xc3\xa9"));
  for (i = 0; i < 6 && f.count == 6; i++) {
    const st_tensor *u = st_find(&f, t[i].name);
    CHECK(u != NULL);
    if (!u) continue;
    CHECK_EQ(t[i].dtype, u->dtype);
    CHECK_EQ(t[i].ndim, u->ndim);
    CHECK_EQ(t[i].shape[0], u->shape[0]);
    CHECK_EQ(t[i].nbytes, u->nbytes);
    CHECK(u->data >= buf && u->data + u->nbytes <= buf + len);
    CHECK(u->nbytes == 0 || !memcmp(u->data, t[i].data, (size_t)u->nbytes));
    if (i < 3) {
      size_t k, ok = 1;
      for (k = 0; k < R * C; k++) {
        float a = st_load_float(u, k);
        float b = i == 0 ? f32[k] : i == 1 ? fp4_bf16_to_f32(bf[k]) : fp4_f16_to_f32(hf[k]);
        ok &= !memcmp(&a, &b, 4);
      }
      CHECK(ok);
    }
  }
  CHECK(st_find(&f, "missing") == NULL);
  st_free(&f);
  /* every proper prefix is rejected */
  {
    size_t n, bad = 0;
    for (n = 0; n < len; n++) {
      if (st_parse(buf, n, &f, err, sizeof err) == 0) {
        bad++;
        st_free(&f);
      }
    }
    CHECK_EQ(0, bad);
  }
  /* random byte flips: any result is fine, but no crash, and an accepted file must be consistent */
  {
    int it;
    uint8_t *m = (uint8_t *)malloc(len);
    for (it = 0; m && it < 3000; it++) {
      int flips = 1 + (int)(h_rand() % 4), k;
      memcpy(m, buf, len);
      for (k = 0; k < flips; k++) m[h_rand() % (8 + st_le64(buf))] ^= (uint8_t)(1u << (h_rand() % 8));
      if (st_parse(m, len, &f, err, sizeof err) == 0) {
        size_t q, ok = 1;
        for (q = 0; q < f.count; q++)
          ok &= f.tensors[q].data >= m + 8 && f.tensors[q].data + f.tensors[q].nbytes <= m + len;
        CHECK(ok);
        st_free(&f);
      } else {
        CHECK(err[0] != '\0');
      }
    }
    free(m);
  }
  free(buf);
}

static void test_headers(void) {
  /* accepted */
  static const struct { const char *json; size_t ndata; } good[] = {
      {"{}", 0},
      {"{}      ", 0},
      {" {}", 0}, /* rejected below: must start with '{' */
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4},
      {"{ \"a\" : { \"shape\" : [ 2 , 1 ] , \"data_offsets\" : [ 0 , 4 ] , \"dtype\" : \"BF16\" } }\n\t\r ", 4},
      {"{\"__metadata__\":{},\"a\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]}}", 3},
      {"{\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]},\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 4},
      {"{\"\\u00e9\\ud83d\\ude00\\n\\/\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2},
      {"{\"z\":{\"dtype\":\"F64\",\"shape\":[0,5],\"data_offsets\":[0,0]},\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8},
  };
  /* rejected: each line breaks one rule */
  static const struct { const char *json; size_t ndata; } bad[] = {
      {"", 0},
      {"[]", 0},
      {"{", 0},
      {"{}x", 0},
      {"{} {}", 0},
      {"{},", 0},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},}", 4},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8},  /* data longer than tensors */
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 3},  /* data shorter */
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4},  /* size mismatch */
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4},  /* begin > end */
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8},  /* hole at 0 */
      {"{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}", 4},
      {"{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}", 4},
      {"{\"a\":{\"dtype\":\"F17\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4},
      {"{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4},
      {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4},
      {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 0},
      {"{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}", 4},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1e0],\"data_offsets\":[0,4]}}", 4},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", 4},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,],\"data_offsets\":[0,4]}}", 4},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1 1],\"data_offsets\":[0,4]}}", 4},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}", 4},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4},
      {"{\"a\":{\"dtype\":\"U8\",\"shape\":[18446744073709551616],\"data_offsets\":[0,0]}}", 0},
      {"{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", 0},
      {"{\"a\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,0]}}", 0},
      {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[18446744073709551615,0]}}", 1},
      {"{\"a\":[1]}", 0},
      {"{\"a\":1}", 0},
      {"{a:{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1},
      {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}\x01", 1},
      {"{\"a\x01\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1},
      {"{\"a\\x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1},
      {"{\"a\\u12\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1},
      {"{\"a\\u0000\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1},
      {"{\"a\\ud800\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1},
      {"{\"a\\udc00\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1},
      {"{\"a\\ud800\\u0041\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1},
      {"{\"a\xff\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1},
      {"{\"a\xc0\xaf\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1},
      {"{\"a\xed\xa0\x80\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1},
      {"{\"a\xe2\x82\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1},
      {"{\"a\xf4\x90\x80\x80\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1},
      {"{\"__metadata__\":{\"k\":1}}", 0},
      {"{\"__metadata__\":{\"k\":\"v\"},\"__metadata__\":{}}", 0},
      {"{\"__metadata__\":[]}", 0},
      {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 0},
      {"{}", 1},
      {" {}", 0},
  };
  size_t i;
  for (i = 0; i < sizeof good / sizeof good[0]; i++) {
    int r = try_header(good[i].json, good[i].ndata);
    int expect = i == 2 ? -1 : 0;
    if (r != expect) fprintf(stderr, "good[%lu]: got %d for %s\n", (unsigned long)i, r, good[i].json);
    CHECK_EQ(expect, r);
  }
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int r = try_header(bad[i].json, bad[i].ndata);
    if (r != -1) fprintf(stderr, "bad[%lu]: got %d for %s\n", (unsigned long)i, r, bad[i].json);
    CHECK_EQ(-1, r);
  }
  /* header length field: larger than the file, larger than the limit, too small */
  {
    uint8_t b[16] = {0};
    st_file f;
    char err[64];
    b[0] = 9;
    b[8] = '{';
    b[9] = '}';
    CHECK_EQ(-1, st_parse(b, 10, &f, err, sizeof err));
    b[0] = 0;
    b[7] = 0x80;
    CHECK_EQ(-1, st_parse(b, 16, &f, err, sizeof err));
    b[7] = 0;
    b[0] = 1;
    CHECK_EQ(-1, st_parse(b, 16, &f, err, sizeof err));
    CHECK_EQ(-1, st_parse(NULL, 0, &f, err, sizeof err));
    CHECK_EQ(-1, st_parse(b, 7, &f, NULL, 0));
    b[0] = 2;
    CHECK_EQ(0, st_parse(b, 10, &f, NULL, 0));
    st_free(&f);
  }
}

int main(void) {
  h_rand_state = h_seed();
  test_headers();
  test_round_trip();
  return h_finish();
}
