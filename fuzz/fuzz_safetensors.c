/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: the safetensors reader of examples/quantize_safetensors.c (st_parse), fed any bytes
 * (fuzz/README.md). libFuzzer hands over a buffer of exactly the input's size, so ASan sees any read
 * past the file.
 * Properties, for a file that parses:
 *  - every tensor's bytes lie inside the data section, nbytes = numel * element size, and the tensors
 *    tile the data section; st_find finds each name, st_meta each metadata key;
 *  - serializing the parsed tensors and metadata with st_serialize and parsing that again gives the
 *    same names, dtypes, shapes and bytes (the writer's output is accepted by the reader);
 *  - a small 2-D f32 / bf16 / f16 tensor quantizes (as the example would) without error other than
 *    FP4_ERR_NONFINITE / FP4_ERR_RANGE, and its dequantization has no NaN outside NaN blocks.
 * A file that does not parse leaves nothing allocated (LeakSanitizer). */
#define FP4_NO_MAIN
#include "examples/quantize_safetensors.c"
#include "fuzz.h"

static void quantize_small(const st_tensor *t) {
  int64_t rows, cols, i;
  fp4_quant_config cfg = fp4_config_default(FP4_NVFP4);
  fp4_tensor q;
  uint8_t *d, *s;
  float *x, *y;
  fp4_status st;
  if (t->ndim != 2 || (t->dtype != ST_F32 && t->dtype != ST_BF16 && t->dtype != ST_F16)) return;
  if (t->shape[0] == 0 || t->shape[1] == 0 || t->shape[1] % 16 || t->numel > 4096) return;
  rows = (int64_t)t->shape[0];
  cols = (int64_t)t->shape[1];
  x = (float *)malloc((size_t)(rows * cols) * 4);
  y = (float *)malloc((size_t)(rows * cols) * 4);
  d = (uint8_t *)malloc(fp4_data_bytes(rows, cols));
  s = (uint8_t *)malloc(fp4_scale_bytes(FP4_NVFP4, rows, cols, FP4_LAYOUT_LINEAR));
  for (i = 0; i < rows * cols; i++) x[i] = st_load_float(t, (uint64_t)i);
  fp4_tensor_init(&q, d, s, FP4_LAYOUT_LINEAR);
  st = fp4_quantize_f32(x, rows, cols, cols, &cfg, &q, NULL, 0);
  FZ_CHECK(st == FP4_OK || st == FP4_ERR_NONFINITE || st == FP4_ERR_RANGE);
  if (st != FP4_ERR_RANGE) {
    FZ_CHECK(fp4_dequantize_f32(&q, y, cols) == FP4_OK);
    for (i = 0; i < rows * cols; i++)
      if (y[i] != y[i]) FZ_CHECK((s[i / 16] & 0x7F) == 0x7F);
  }
  free(x);
  free(y);
  free(d);
  free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  st_file f, g;
  char err[256];
  size_t i, len = 0;
  uint64_t pos = 0;
  uint8_t *out;
  const char **meta;
  if (st_parse(data, size, &f, err, sizeof err) != 0) {
    FZ_CHECK(err[0] != '\0'); /* a failure says why */
    FZ_CHECK(f.tensors == NULL && f.strings == NULL && f.meta == NULL);
    return 0;
  }
  FZ_CHECK(f.header_len + 8 <= size && f.data == data + 8 + f.header_len && f.data_len == size - 8 - f.header_len);
  for (i = 0; i < f.count; i++) {
    const st_tensor *t = &f.tensors[i];
    uint64_t numel = 1;
    int d;
    FZ_CHECK(t->ndim >= 0 && t->ndim <= ST_MAX_DIMS && (unsigned)t->dtype < ST_DTYPE_COUNT);
    for (d = 0; d < t->ndim; d++) numel *= t->shape[d];
    FZ_CHECK(numel == t->numel && t->nbytes == numel * (uint64_t)st_dtype_size(t->dtype));
    FZ_CHECK(t->offset <= f.data_len && t->nbytes <= f.data_len - t->offset && t->data == f.data + t->offset);
    FZ_CHECK(st_find(&f, t->name) == t);
    pos += t->nbytes;
    quantize_small(t);
  }
  FZ_CHECK(pos == f.data_len);
  for (i = 0; i < f.meta_count; i++) FZ_CHECK(st_meta(&f, f.meta[2 * i]) != NULL);
  /* write it back and read it again */
  meta = f.meta;
  out = st_serialize(f.tensors, f.count, meta, f.meta_count, &len);
  FZ_CHECK(out != NULL);
  FZ_CHECK(st_parse(out, len, &g, err, sizeof err) == 0);
  FZ_CHECK(g.count == f.count && g.meta_count == f.meta_count);
  for (i = 0; i < g.count; i++) {
    const st_tensor *a = &f.tensors[i], *b = st_find(&g, a->name);
    FZ_CHECK(b != NULL);
    FZ_CHECK(b->dtype == a->dtype && b->ndim == a->ndim && b->nbytes == a->nbytes);
    FZ_CHECK(memcmp(b->shape, a->shape, sizeof a->shape[0] * (size_t)a->ndim) == 0);
    FZ_CHECK(a->nbytes == 0 || memcmp(b->data, a->data, (size_t)a->nbytes) == 0);
  }
  for (i = 0; i < f.meta_count; i++) {
    const char *v = st_meta(&g, f.meta[2 * i]);
    FZ_CHECK(v != NULL && strcmp(v, st_meta(&f, f.meta[2 * i])) == 0);
  }
  st_free(&g);
  free(out);
  st_free(&f);
  return 0;
}
