/* SPDX-License-Identifier: MIT */
/* Helper of .ci/steps/quantize_safetensors.sh, built on the reader/writer of
 * examples/quantize_safetensors.c (included with FP4_NO_MAIN).
 *   safetensors_gen gen DIR     writes DIR/tiny.safetensors (f32, bf16, f16 2-D tensors, a 2-D tensor whose
 *                               width is not a multiple of 32, a 1-D tensor and an I64 tensor) and the
 *                               malformed DIR/bad_json.safetensors, bad_offsets.safetensors, short.safetensors
 *   safetensors_gen check OUT IN RULE HADAMARD SIGNS BF16
 *                               quantizes IN's eligible tensors with fp4.h directly and compares every byte of
 *                               OUT's <name>.fp4, <name>.scales and <name>.amax; prints "N passed, N failed" */
#define FP4_NO_MAIN
#include "examples/quantize_safetensors.c"

static int write_bytes(const char *dir, const char *name, const uint8_t *b, size_t n) {
  char path[4096];
  FILE *fp;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  fp = fopen(path, "wb");
  if (!fp || fwrite(b, 1, n, fp) != n || fclose(fp) != 0) {
    fprintf(stderr, "cannot write %s\n", path);
    return 1;
  }
  return 0;
}

static uint8_t *slurp(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  uint8_t *b = NULL;
  long n;
  if (!fp) return NULL;
  if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0 &&
      (b = (uint8_t *)malloc((size_t)n + 1)) != NULL && fread(b, 1, (size_t)n, fp) == (size_t)n)
    *len = (size_t)n;
  else {
    free(b);
    b = NULL;
  }
  fclose(fp);
  return b;
}

static uint64_t gen_state = 12345;
static float gen_value(int heavy) {
  double u, v;
  gen_state = gen_state * 6364136223846793005ull + 1442695040888963407ull;
  u = ((double)(gen_state >> 11) + 0.5) / 9007199254740992.0;
  gen_state = gen_state * 6364136223846793005ull + 1442695040888963407ull;
  v = (double)(gen_state >> 11) / 9007199254740992.0;
  u = sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
  return (float)(heavy ? u * u * u : u) * 0.05f;
}

static int gen(const char *dir) {
  enum { N32 = 4 * 64, NBF = 2 * 64, NF16 = 3 * 64, N48 = 2 * 48, N1 = 64 };
  float a[N32], c[N48], d[N1];
  uint16_t bf[NBF], hf[NF16];
  int64_t ids[5] = {0, 1, 2, 3, 4};
  st_tensor t[6];
  const char *meta[] = {"note", "tiny test model"};
  size_t len = 0, i;
  uint8_t *b;
  int rv = 0;
  for (i = 0; i < N32; i++) a[i] = gen_value(1);
  for (i = 0; i < NBF; i++) bf[i] = fp4_f32_to_bf16(gen_value(0));
  for (i = 0; i < NF16; i++) hf[i] = fp4_f32_to_f16(gen_value(0));
  for (i = 0; i < N48; i++) c[i] = gen_value(0);
  for (i = 0; i < N1; i++) d[i] = gen_value(0);
  t[0] = st_tensor_of("layer.0.weight", ST_F32, 4, 64, a, sizeof a);
  t[1] = st_tensor_of("layer.1.weight", ST_BF16, 2, 64, bf, sizeof bf);
  t[2] = st_tensor_of("layer.2.weight", ST_F16, 3, 64, hf, sizeof hf);
  t[3] = st_tensor_of("narrow.weight", ST_F32, 2, 48, c, sizeof c);
  t[4] = st_tensor_of("layer.0.bias", ST_F32, 64, 0, d, sizeof d);
  t[5] = st_tensor_of("position_ids", ST_I64, 1, 5, ids, sizeof ids);
  b = st_serialize(t, 6, meta, 1, &len);
  if (!b) return 1;
  rv |= write_bytes(dir, "tiny.safetensors", b, len);
  /* malformed: the JSON cut short (header length still covers it), offsets off by one, a 4-byte file */
  {
    uint64_t hn = st_le64(b);
    uint8_t *m = (uint8_t *)malloc(len);
    char *p;
    if (!m) return 1;
    memcpy(m, b, len);
    memset(m + 8 + hn - 16, ' ', 16);
    rv |= write_bytes(dir, "bad_json.safetensors", m, len);
    memcpy(m, b, len);
    p = strstr((char *)m + 8, "[0,1024]");
    if (!p) return 1;
    memcpy(p, "[0,1023]", 8);
    rv |= write_bytes(dir, "bad_offsets.safetensors", m, len);
    rv |= write_bytes(dir, "short.safetensors", b, 4);
    free(m);
  }
  free(b);
  return rv;
}

static int check(char **argv) {
  size_t lo = 0, li = 0, i;
  uint8_t *bo = slurp(argv[2], &lo), *bi = slurp(argv[3], &li);
  st_file fo, fi;
  char err[256];
  fp4_quant_config cfg;
  int r, pass = 0, fail = 0;
  if (!bo || !bi || st_parse(bo, lo, &fo, err, sizeof err) || st_parse(bi, li, &fi, err, sizeof err)) {
    fprintf(stderr, "cannot read or parse the files: %s\n", err);
    return 1;
  }
  for (r = 1; r < FP4_RULE_COUNT && strcmp(argv[4], fp4_rule_name((fp4_rule)r)); r++) continue;
  if (r == FP4_RULE_COUNT) return 1;
  cfg = fp4_config_default(fp4_rule_format((fp4_rule)r));
  cfg.rule = (fp4_rule)r;
  cfg.hadamard = atoi(argv[5]);
  if (!strcmp(argv[6], "rht16")) {
    cfg.hadamard_signs = FP4_SIGNS_USER;
    fp4_hadamard_signs_rht16(cfg.hadamard_sign_bits);
  }
  cfg.hadamard_bf16 = atoi(argv[7]);
#define EXPECT(c, what)                                                          \
  do {                                                                           \
    if (c) pass++;                                                               \
    else {                                                                       \
      fail++;                                                                    \
      fprintf(stderr, "FAIL: %s: %s\n", t->name, what);                          \
    }                                                                            \
  } while (0)
  for (i = 0; i < fi.count; i++) {
    const st_tensor *t = &fi.tensors[i], *d, *s, *a;
    char name[1100];
    int64_t rows, cols, k;
    int eligible = t->ndim == 2 && (t->dtype == ST_F32 || t->dtype == ST_BF16 || t->dtype == ST_F16) &&
                   t->shape[1] % (uint64_t)fp4_format_block(cfg.format) == 0 &&
                   (!cfg.hadamard || t->shape[1] % (uint64_t)cfg.hadamard == 0);
    snprintf(name, sizeof name, "%s.fp4", t->name);
    d = st_find(&fo, name);
    snprintf(name, sizeof name, "%s.scales", t->name);
    s = st_find(&fo, name);
    snprintf(name, sizeof name, "%s.amax", t->name);
    a = st_find(&fo, name);
    EXPECT(eligible == (d != NULL) && eligible == (s != NULL) && eligible == (a != NULL), "presence");
    if (!eligible || !d || !s || !a) continue;
    rows = (int64_t)t->shape[0];
    cols = (int64_t)t->shape[1];
    {
      float *x = (float *)malloc((size_t)(rows * cols) * sizeof *x);
      uint8_t *qd = (uint8_t *)malloc(fp4_data_bytes(rows, cols));
      uint8_t *qs = (uint8_t *)malloc(fp4_scale_bytes(cfg.format, rows, cols, FP4_LAYOUT_LINEAR));
      fp4_tensor q;
      float am;
      if (!x || !qd || !qs) return 1;
      for (k = 0; k < rows * cols; k++) x[k] = st_load_float(t, (uint64_t)k);
      fp4_tensor_init(&q, qd, qs, FP4_LAYOUT_LINEAR);
      /* bf16 and f16 values are exact in f32, so the f32 entry point gives the same bytes */
      EXPECT(fp4_quantize_f32(x, rows, cols, cols, &cfg, &q, NULL, 0) == FP4_OK, "quantize");
      EXPECT(d->dtype == ST_U8 && d->ndim == 2 && d->shape[0] == (uint64_t)rows && d->shape[1] == (uint64_t)cols / 2,
             ".fp4 dtype/shape");
      EXPECT(s->dtype == ST_U8 && s->ndim == 2 && s->shape[1] == (uint64_t)(cols / fp4_format_block(cfg.format)),
             ".scales dtype/shape");
      EXPECT(d->nbytes == fp4_data_bytes(rows, cols) && !memcmp(d->data, qd, (size_t)d->nbytes), ".fp4 bytes");
      EXPECT(s->nbytes == fp4_scale_bytes(cfg.format, rows, cols, FP4_LAYOUT_LINEAR) &&
                 !memcmp(s->data, qs, (size_t)s->nbytes), ".scales bytes");
      am = a->dtype == ST_F32 && a->numel == 1 ? st_load_float(a, 0) : -1.0f;
      EXPECT(!memcmp(&am, &q.amax, 4), ".amax value");
      free(x);
      free(qd);
      free(qs);
    }
  }
#undef EXPECT
  {
    const char *m = st_meta(&fo, "rule");
    if (m && !strcmp(m, argv[4])) pass++;
    else {
      fail++;
      fprintf(stderr, "FAIL: metadata rule\n");
    }
  }
  st_free(&fo);
  st_free(&fi);
  free(bo);
  free(bi);
  printf("%d passed, %d failed\n", pass, fail);
  return fail != 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "gen")) return gen(argv[2]);
  if (argc == 8 && !strcmp(argv[1], "check")) return check(argv);
  fprintf(stderr, "usage: safetensors_gen gen DIR | check OUT IN RULE HADAMARD SIGNS BF16\n");
  return 2;
}
