/* SPDX-License-Identifier: MIT */
/*
 * quantize_safetensors.c - quantize the weights of a real model: read a .safetensors file, quantize
 * every 2-D f32 / bf16 / f16 tensor with one recipe (format, scale rule, Hadamard rotation), print
 * each tensor's relative MSE, and optionally write the packed codes and scales back as a safetensors
 * file that is read back and checked byte for byte.
 *
 *   quantize_safetensors model.safetensors                       standard NVFP4
 *   quantize_safetensors -r nv_4over6_mse -H 16 --signs rht16 --bf16-rotate model.safetensors
 *   quantize_safetensors -r mx_quest -H 128 -o model.fp4.safetensors model.safetensors
 *   quantize_safetensors --all model.safetensors                 every recipe of `make demo`, summarized
 *
 * The output holds, per quantized tensor W[rows, cols]: "W.fp4" (U8 [rows, cols/2], element 2j in
 * the low nibble), "W.scales" (U8 [rows, cols/block], row-major: E8M0 for MXFP4, E4M3 for NVFP4) and
 * "W.amax" (F32 [1]: the NVFP4 tensor amax, 0 for MXFP4); the recipe is in "__metadata__".
 * Dequantize with fp4_dequantize_f32 after fp4_nv_scale_make(rule, amax) gives the tensor scale.
 *
 * The safetensors reader (st_parse) is self-contained, strict and bounds-checked, with no JSON
 * library: an 8-byte little-endian header length N, N bytes of JSON (UTF-8, padded with spaces), then
 * the raw little-endian tensor data, which the tensors must cover exactly, without holes or overlaps.
 * Define FP4_NO_MAIN to include this file (e.g. in a fuzz harness) without its main().
 */
#include "fp4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ==== safetensors reader and writer ==== */
#define ST_MAX_DIMS 8
#define ST_MAX_HEADER 100000000u /* the format's own limit on the JSON header (100 MB) */

/* X(name, bytes per element) */
#define ST_DTYPE_LIST(X) \
  X(BOOL, 1) X(U8, 1) X(I8, 1) X(F8_E4M3, 1) X(F8_E5M2, 1) X(F8_E8M0, 1) X(I16, 2) X(U16, 2) X(F16, 2) \
  X(BF16, 2) X(I32, 4) X(U32, 4) X(F32, 4) X(I64, 8) X(U64, 8) X(F64, 8)

typedef enum st_dtype {
#define ST__X(name, size) ST_##name,
  ST_DTYPE_LIST(ST__X)
#undef ST__X
  ST_DTYPE_COUNT
} st_dtype;

typedef struct st_tensor {
  const char *name;     /* UTF-8, NUL-terminated */
  st_dtype dtype;
  int ndim;             /* 0 (a scalar) .. ST_MAX_DIMS */
  uint64_t shape[ST_MAX_DIMS];
  uint64_t numel;       /* product of the shape (1 for a scalar) */
  uint64_t offset;      /* begin of data_offsets: bytes from the start of the data section */
  uint64_t nbytes;
  const uint8_t *data;  /* points into the parsed buffer (unaligned) */
} st_tensor;

typedef struct st_file {
  st_tensor *tensors;   /* in header order */
  size_t count;
  const char **meta;    /* "__metadata__": key, value, key, value, ... */
  size_t meta_count;    /* number of pairs */
  uint64_t header_len;
  const uint8_t *data;  /* data section and its length */
  uint64_t data_len;
  char *strings;        /* arena holding every decoded string */
} st_file;

const char *st_dtype_name(st_dtype d);
int st_dtype_size(st_dtype d);
/* Parse a whole safetensors file held in buf[0..len). Returns 0, or -1 with a message in err
 * (err may be NULL). On success free with st_free; on failure nothing is left allocated. */
int st_parse(const uint8_t *buf, size_t len, st_file *f, char *err, size_t errlen);
void st_free(st_file *f);
const st_tensor *st_find(const st_file *f, const char *name);
const char *st_meta(const st_file *f, const char *key);
/* Serialize tensors t[0..n) (name, dtype, ndim, shape, nbytes, data are read) and metadata pairs
 * meta[0..2*nmeta) into a new malloc'd buffer; tensors are laid out in the given order, the header
 * padded with spaces to a multiple of 8. Returns NULL on a size mismatch or no memory. */
uint8_t *st_serialize(const st_tensor *t, size_t n, const char *const *meta, size_t nmeta, size_t *len);
/* A tensor to serialize: 1-D [d0] when d1 is 0, else 2-D [d0, d1]; nbytes of data. */
st_tensor st_tensor_of(const char *name, st_dtype dtype, uint64_t d0, uint64_t d1, const void *data, uint64_t nbytes);

st_tensor st_tensor_of(const char *name, st_dtype dtype, uint64_t d0, uint64_t d1, const void *data, uint64_t nbytes) {
  st_tensor t;
  memset(&t, 0, sizeof t);
  t.name = name;
  t.dtype = dtype;
  t.ndim = d1 ? 2 : 1;
  t.shape[0] = d0;
  t.shape[1] = d1;
  t.nbytes = nbytes;
  t.data = (const uint8_t *)data;
  return t;
}

const char *st_dtype_name(st_dtype d) {
  static const char *const names[] = {
#define ST__X(name, size) #name,
      ST_DTYPE_LIST(ST__X)
#undef ST__X
  };
  return (unsigned)d < ST_DTYPE_COUNT ? names[d] : "?";
}

int st_dtype_size(st_dtype d) {
  static const int sizes[] = {
#define ST__X(name, size) size,
      ST_DTYPE_LIST(ST__X)
#undef ST__X
  };
  return (unsigned)d < ST_DTYPE_COUNT ? sizes[d] : 0;
}

/* Little-endian loads, whatever the host's byte order and the pointer's alignment. */
static uint16_t st_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t st_le32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t st_le64(const uint8_t *p) { return (uint64_t)st_le32(p) | ((uint64_t)st_le32(p + 4) << 32); }
static void st_put_le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

typedef struct st_json {
  const uint8_t *p, *end;
  char *arena;          /* decoded strings; never larger than the header itself */
  size_t used;
  char *err;
  size_t errlen;
} st_json;

static int st_fail(st_json *j, const char *msg) {
  if (j->err && j->errlen && !j->err[0])
    snprintf(j->err, j->errlen, "%s (%lu bytes before the end of the header)", msg, (unsigned long)(j->end - j->p));
  return -1;
}

static void st_ws(st_json *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static int st_expect(st_json *j, uint8_t c) {
  st_ws(j);
  if (j->p >= j->end || *j->p != c) {
    char msg[32];
    snprintf(msg, sizeof msg, "expected '%c'", c);
    return st_fail(j, msg);
  }
  j->p++;
  return 0;
}

static int st_hex4(st_json *j, uint32_t *v) {
  int i;
  *v = 0;
  if (j->end - j->p < 4) return st_fail(j, "truncated \\u escape");
  for (i = 0; i < 4; i++) {
    uint8_t c = *j->p++;
    uint32_t d = c >= '0' && c <= '9' ? (uint32_t)(c - '0')
               : c >= 'a' && c <= 'f' ? (uint32_t)(c - 'a' + 10)
               : c >= 'A' && c <= 'F' ? (uint32_t)(c - 'A' + 10) : 16u;
    if (d == 16u) return st_fail(j, "bad hex digit in \\u escape");
    *v = *v * 16u + d;
  }
  return 0;
}

/* Append code point cp as UTF-8. The arena cannot overflow: every escape or byte sequence decodes to
 * at most as many bytes as it occupies, and the quotes pay for the terminating NUL. */
static void st_put_utf8(st_json *j, uint32_t cp) {
  char *o = j->arena + j->used;
  if (cp < 0x80) {
    o[0] = (char)cp;
    j->used += 1;
  } else if (cp < 0x800) {
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    j->used += 2;
  } else if (cp < 0x10000) {
    o[0] = (char)(0xE0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    j->used += 3;
  } else {
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    j->used += 4;
  }
}

/* A JSON string, decoded into the arena as NUL-terminated UTF-8. Rejects control characters, invalid
 * UTF-8 (overlong forms, surrogates, beyond U+10FFFF), unpaired surrogate escapes and \u0000. */
static int st_string(st_json *j, const char **out) {
  char *s;
  if (st_expect(j, '"')) return -1;
  s = j->arena + j->used;
  for (;;) {
    uint8_t c;
    if (j->p >= j->end) return st_fail(j, "unterminated string");
    c = *j->p++;
    if (c == '"') break;
    if (c < 0x20) return st_fail(j, "control character in string");
    if (c == '\\') {
      uint32_t cp;
      if (j->p >= j->end) return st_fail(j, "unterminated escape");
      c = *j->p++;
      switch (c) {
      case '"': case '\\': case '/': cp = c; break;
      case 'b': cp = '\b'; break;
      case 'f': cp = '\f'; break;
      case 'n': cp = '\n'; break;
      case 'r': cp = '\r'; break;
      case 't': cp = '\t'; break;
      case 'u':
        if (st_hex4(j, &cp)) return -1;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return st_fail(j, "unpaired low surrogate escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          uint32_t lo;
          if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u') return st_fail(j, "unpaired high surrogate escape");
          j->p += 2;
          if (st_hex4(j, &lo)) return -1;
          if (lo < 0xDC00 || lo > 0xDFFF) return st_fail(j, "bad low surrogate escape");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        if (cp == 0) return st_fail(j, "NUL in string");
        break;
      default: return st_fail(j, "unknown escape");
      }
      st_put_utf8(j, cp);
    } else if (c < 0x80) {
      j->arena[j->used++] = (char)c;
    } else {
      /* validate one UTF-8 sequence and copy it */
      int n = c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2 : c >= 0xF0 && c <= 0xF4 ? 3 : -1;
      uint32_t cp;
      int i;
      if (n < 0) return st_fail(j, "invalid UTF-8 lead byte");
      if (j->end - j->p < n) return st_fail(j, "truncated UTF-8 sequence");
      cp = c & (0x3Fu >> n);
      for (i = 0; i < n; i++) {
        if ((j->p[i] & 0xC0) != 0x80) return st_fail(j, "invalid UTF-8 continuation byte");
        cp = (cp << 6) | (j->p[i] & 0x3Fu);
      }
      if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return st_fail(j, "invalid UTF-8 (overlong, surrogate or out of range)");
      j->arena[j->used++] = (char)c;
      for (i = 0; i < n; i++) j->arena[j->used++] = (char)*j->p++;
    }
  }
  j->arena[j->used++] = '\0';
  *out = s;
  return 0;
}

/* A non-negative JSON integer (no sign, fraction, exponent or leading zero) that fits in 64 bits. */
static int st_uint(st_json *j, uint64_t *v) {
  st_ws(j);
  *v = 0;
  if (j->p >= j->end || *j->p < '0' || *j->p > '9') return st_fail(j, "expected a non-negative integer");
  if (*j->p == '0' && j->end - j->p > 1 && j->p[1] >= '0' && j->p[1] <= '9') return st_fail(j, "leading zero");
  while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
    uint64_t d = (uint64_t)(*j->p - '0');
    if (*v > (UINT64_MAX - d) / 10) return st_fail(j, "integer overflows 64 bits");
    *v = *v * 10 + d;
    j->p++;
  }
  if (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E')) return st_fail(j, "expected an integer");
  return 0;
}

/* '[' integers ']' with at most maxn entries; returns the count in *n. */
static int st_uint_array(st_json *j, uint64_t *v, int maxn, int *n) {
  *n = 0;
  if (st_expect(j, '[')) return -1;
  st_ws(j);
  if (j->p < j->end && *j->p == ']') {
    j->p++;
    return 0;
  }
  for (;;) {
    if (*n == maxn) return st_fail(j, "too many array entries");
    if (st_uint(j, &v[*n])) return -1;
    (*n)++;
    st_ws(j);
    if (j->p < j->end && *j->p == ',') {
      j->p++;
      continue;
    }
    return st_expect(j, ']');
  }
}

/* After a value inside an object: ',' (returns 1: another member follows) or '}' (returns 0). */
static int st_next_member(st_json *j) {
  st_ws(j);
  if (j->p < j->end && *j->p == ',') {
    j->p++;
    return 1;
  }
  return st_expect(j, '}') ? -1 : 0;
}

/* {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}: each key exactly once, no others. */
static int st_tensor_info(st_json *j, st_tensor *t, uint64_t off[2]) {
  int have_dtype = 0, have_shape = 0, have_off = 0, more, n, d;
  if (st_expect(j, '{')) return -1;
  do {
    const char *key, *val;
    size_t mark = j->used;
    if (st_string(j, &key) || st_expect(j, ':')) return -1;
    if (!strcmp(key, "dtype")) {
      if (have_dtype++) return st_fail(j, "duplicate key \"dtype\"");
      if (st_string(j, &val)) return -1;
      for (d = 0; d < ST_DTYPE_COUNT && strcmp(val, st_dtype_name((st_dtype)d)); d++) continue;
      if (d == ST_DTYPE_COUNT) return st_fail(j, "unknown dtype");
      t->dtype = (st_dtype)d;
    } else if (!strcmp(key, "shape")) {
      if (have_shape++) return st_fail(j, "duplicate key \"shape\"");
      if (st_uint_array(j, t->shape, ST_MAX_DIMS, &t->ndim)) return -1;
    } else if (!strcmp(key, "data_offsets")) {
      if (have_off++) return st_fail(j, "duplicate key \"data_offsets\"");
      if (st_uint_array(j, off, 2, &n)) return -1;
      if (n != 2) return st_fail(j, "data_offsets needs two integers");
    } else {
      return st_fail(j, "unknown key in tensor entry");
    }
    j->used = mark; /* keys and dtype strings are not kept */
    if ((more = st_next_member(j)) < 0) return -1;
  } while (more);
  if (!have_dtype || !have_shape || !have_off) return st_fail(j, "tensor entry lacks dtype, shape or data_offsets");
  return 0;
}

/* "__metadata__": an object of string values. */
static int st_metadata(st_json *j, st_file *f) {
  size_t cap = 0;
  int more;
  if (st_expect(j, '{')) return -1;
  st_ws(j);
  if (j->p < j->end && *j->p == '}') {
    j->p++;
    return 0;
  }
  do {
    if (f->meta_count == cap) {
      const char **m;
      cap = cap ? 2 * cap : 8;
      m = (const char **)realloc((void *)f->meta, 2 * cap * sizeof *m);
      if (!m) return st_fail(j, "out of memory");
      f->meta = m;
    }
    if (st_string(j, &f->meta[2 * f->meta_count]) || st_expect(j, ':') ||
        st_string(j, &f->meta[2 * f->meta_count + 1]))
      return -1;
    f->meta_count++;
    if ((more = st_next_member(j)) < 0) return -1;
  } while (more);
  return 0;
}

static int st_cmp_name(const void *a, const void *b) {
  return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}
static int st_cmp_offset(const void *a, const void *b) {
  const st_tensor *x = (const st_tensor *)a, *y = (const st_tensor *)b;
  if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
  return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

static int st_header(st_json *j, st_file *f) {
  size_t cap = 0;
  int have_meta = 0, more;
  if (st_expect(j, '{')) return -1;
  st_ws(j);
  more = !(j->p < j->end && *j->p == '}');
  if (!more) j->p++;
  while (more) {
    const char *name;
    if (st_string(j, &name) || st_expect(j, ':')) return -1;
    if (!strcmp(name, "__metadata__")) {
      if (have_meta++) return st_fail(j, "duplicate \"__metadata__\"");
      if (st_metadata(j, f)) return -1;
    } else {
      st_tensor *t;
      uint64_t off[2], numel = 1;
      int d, es;
      if (f->count == cap) {
        st_tensor *nt;
        cap = cap ? 2 * cap : 16;
        nt = (st_tensor *)realloc(f->tensors, cap * sizeof *nt);
        if (!nt) return st_fail(j, "out of memory");
        f->tensors = nt;
      }
      t = &f->tensors[f->count];
      memset(t, 0, sizeof *t);
      t->name = name;
      if (st_tensor_info(j, t, off)) return -1;
      for (d = 0; d < t->ndim; d++) {
        if (t->shape[d] && numel > UINT64_MAX / t->shape[d]) return st_fail(j, "shape overflows 64 bits");
        numel *= t->shape[d];
      }
      es = st_dtype_size(t->dtype);
      if (numel > UINT64_MAX / (uint64_t)es) return st_fail(j, "tensor size overflows 64 bits");
      if (off[0] > off[1] || off[1] - off[0] != numel * (uint64_t)es)
        return st_fail(j, "data_offsets do not match dtype and shape");
      if (off[1] > f->data_len) return st_fail(j, "data_offsets beyond the end of the file");
      t->numel = numel;
      t->offset = off[0];
      t->nbytes = off[1] - off[0];
      t->data = f->data + off[0];
      f->count++;
    }
    if ((more = st_next_member(j)) < 0) return -1;
  }
  st_ws(j); /* the header may be padded with spaces */
  if (j->p != j->end) return st_fail(j, "trailing bytes after the header object");
  return 0;
}

void st_free(st_file *f) {
  if (!f) return;
  free(f->tensors);
  free((void *)f->meta);
  free(f->strings);
  memset(f, 0, sizeof *f);
}

int st_parse(const uint8_t *buf, size_t len, st_file *f, char *err, size_t errlen) {
  st_json j;
  uint64_t n, pos;
  size_t i;
  if (err && errlen) err[0] = '\0';
  if (!f) return -1;
  memset(f, 0, sizeof *f);
  memset(&j, 0, sizeof j);
  j.err = err;
  j.errlen = errlen;
  if (!buf || len < 8) {
    if (err && errlen) snprintf(err, errlen, "file shorter than the 8-byte header length");
    return -1;
  }
  n = st_le64(buf);
  if (n > len - 8 || n > ST_MAX_HEADER) {
    if (err && errlen) snprintf(err, errlen, "header length %llu exceeds the file", (unsigned long long)n);
    return -1;
  }
  if (n < 2 || buf[8] != '{') {
    if (err && errlen) snprintf(err, errlen, "header does not start with '{'");
    return -1;
  }
  f->header_len = n;
  f->data = buf + 8 + n;
  f->data_len = len - 8 - n;
  f->strings = (char *)malloc((size_t)n + 1);
  if (!f->strings) {
    if (err && errlen) snprintf(err, errlen, "out of memory");
    return -1;
  }
  j.p = buf + 8;
  j.end = buf + 8 + n;
  j.arena = f->strings;
  if (st_header(&j, f)) goto fail;
  if (f->count) {
    /* names are unique; the tensors tile the data section exactly */
    st_tensor *s = (st_tensor *)malloc(f->count * sizeof *s);
    if (!s) {
      st_fail(&j, "out of memory");
      goto fail;
    }
    memcpy(s, f->tensors, f->count * sizeof *s);
    qsort(s, f->count, sizeof *s, st_cmp_name);
    for (i = 1; i < f->count; i++)
      if (!strcmp(s[i - 1].name, s[i].name)) {
        free(s);
        st_fail(&j, "duplicate tensor name");
        goto fail;
      }
    qsort(s, f->count, sizeof *s, st_cmp_offset);
    for (pos = 0, i = 0; i < f->count && s[i].offset == pos; i++) pos += s[i].nbytes;
    free(s);
    if (i < f->count) {
      st_fail(&j, "tensor data overlaps or leaves a hole");
      goto fail;
    }
    if (pos != f->data_len) {
      st_fail(&j, "data section is longer than its tensors");
      goto fail;
    }
  } else if (f->data_len) {
    st_fail(&j, "data section without tensors");
    goto fail;
  }
  return 0;
fail:
  st_free(f);
  return -1;
}

const st_tensor *st_find(const st_file *f, const char *name) {
  size_t i;
  for (i = 0; i < f->count; i++)
    if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
  return NULL;
}

const char *st_meta(const st_file *f, const char *key) {
  size_t i;
  for (i = 0; i < f->meta_count; i++)
    if (!strcmp(f->meta[2 * i], key)) return f->meta[2 * i + 1];
  return NULL;
}

/* Append s to the growing header text as a JSON string (quotes, backslash and controls escaped). */
typedef struct st_buf {
  char *p;
  size_t n, cap;
  int oom;
} st_buf;

static void st_putn(st_buf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->n + n + 1 > b->cap) {
    size_t cap = 2 * (b->n + n + 1) + 256;
    char *q = (char *)realloc(b->p, cap);
    if (!q) {
      b->oom = 1;
      return;
    }
    b->p = q;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
}
static void st_puts(st_buf *b, const char *s) { st_putn(b, s, strlen(s)); }
static void st_put_json_string(st_buf *b, const char *s) {
  st_putn(b, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    char e[8];
    if (c == '"' || c == '\\') {
      e[0] = '\\';
      e[1] = (char)c;
      st_putn(b, e, 2);
    } else if (c < 0x20) {
      snprintf(e, sizeof e, "\\u%04x", c);
      st_putn(b, e, 6);
    } else {
      st_putn(b, (const char *)&c, 1);
    }
  }
  st_putn(b, "\"", 1);
}

uint8_t *st_serialize(const st_tensor *t, size_t n, const char *const *meta, size_t nmeta, size_t *len) {
  st_buf h = {NULL, 0, 0, 0};
  uint64_t pos = 0, hn, total;
  uint8_t *out;
  size_t i;
  char num[64];
  int d;
  st_puts(&h, "{");
  if (nmeta) {
    st_puts(&h, "\"__metadata__\":{");
    for (i = 0; i < nmeta; i++) {
      if (i) st_puts(&h, ",");
      st_put_json_string(&h, meta[2 * i]);
      st_puts(&h, ":");
      st_put_json_string(&h, meta[2 * i + 1]);
    }
    st_puts(&h, "}");
  }
  for (i = 0; i < n; i++) {
    uint64_t numel = 1;
    int es = st_dtype_size(t[i].dtype), ok = es > 0 && t[i].ndim >= 0 && t[i].ndim <= ST_MAX_DIMS;
    for (d = 0; ok && d < t[i].ndim; d++) {
      ok = !t[i].shape[d] || numel <= UINT64_MAX / t[i].shape[d];
      numel *= t[i].shape[d];
    }
    if (!ok || numel > UINT64_MAX / (uint64_t)es || numel * (uint64_t)es != t[i].nbytes) {
      free(h.p);
      return NULL;
    }
    if (i || nmeta) st_puts(&h, ",");
    st_put_json_string(&h, t[i].name);
    st_puts(&h, ":{\"dtype\":\"");
    st_puts(&h, st_dtype_name(t[i].dtype));
    st_puts(&h, "\",\"shape\":[");
    for (d = 0; d < t[i].ndim; d++) {
      snprintf(num, sizeof num, "%s%llu", d ? "," : "", (unsigned long long)t[i].shape[d]);
      st_puts(&h, num);
    }
    snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)pos,
             (unsigned long long)(pos + t[i].nbytes));
    st_puts(&h, num);
    pos += t[i].nbytes;
  }
  st_puts(&h, "}");
  while (h.n % 8) st_puts(&h, " ");
  if (h.oom) {
    free(h.p);
    return NULL;
  }
  hn = h.n;
  total = 8 + hn + pos;
  if (total != (size_t)total || !(out = (uint8_t *)malloc((size_t)total ? (size_t)total : 1))) {
    free(h.p);
    return NULL;
  }
  st_put_le32(out, (uint32_t)hn);
  st_put_le32(out + 4, (uint32_t)(hn >> 32));
  memcpy(out + 8, h.p, (size_t)hn);
  free(h.p);
  for (pos = 8 + hn, i = 0; i < n; i++) {
    if (t[i].nbytes) memcpy(out + pos, t[i].data, (size_t)t[i].nbytes);
    pos += t[i].nbytes;
  }
  *len = (size_t)total;
  return out;
}

/* Element i of a F32 / BF16 / F16 tensor as float (exact), from unaligned little-endian bytes. */
static float st_load_float(const st_tensor *t, uint64_t i) {
  uint32_t u;
  float v;
  if (t->dtype == ST_BF16) return fp4_bf16_to_f32(st_le16(t->data + 2 * i));
  if (t->dtype == ST_F16) return fp4_f16_to_f32(st_le16(t->data + 2 * i));
  u = st_le32(t->data + 4 * i);
  memcpy(&v, &u, 4);
  return v;
}

#ifndef FP4_NO_MAIN
/* ==== the command-line program ==== */
typedef struct recipe {
  const char *name;
  fp4_rule rule;
  int hadamard;       /* 0, or the group size */
  fp4_signs signs;    /* FP4_SIGNS_USER means Four Over Six's RHT16 signs */
  int bf16_rotate;
  int scale_2d;
  fp4_rounding rounding;
  uint64_t seed;
} recipe;

/* The recipes of `make demo` (examples/demo.c). */
static const recipe all_recipes[] = {
    {"MXFP4 OCP", FP4_MX_OCP, 0, FP4_SIGNS_NONE, 0, 0, FP4_ROUND_NEAREST, 0},
    {"MXFP4 ceil (4/6 paper)", FP4_MX_CEIL, 0, FP4_SIGNS_NONE, 0, 0, FP4_ROUND_NEAREST, 0},
    {"MXFP4 absmax/3 (QuTLASS)", FP4_MX_ABSMAX3, 0, FP4_SIGNS_NONE, 0, 0, FP4_ROUND_NEAREST, 0},
    {"MXFP4 QuEST", FP4_MX_QUEST, 0, FP4_SIGNS_NONE, 0, 0, FP4_ROUND_NEAREST, 0},
    {"MXFP4 adaptive", FP4_MX_ADAPTIVE, 0, FP4_SIGNS_NONE, 0, 0, FP4_ROUND_NEAREST, 0},
    {"NVFP4 6 (standard)", FP4_NV_6, 0, FP4_SIGNS_NONE, 0, 0, FP4_ROUND_NEAREST, 0},
    {"NVFP4 4", FP4_NV_4, 0, FP4_SIGNS_NONE, 0, 0, FP4_ROUND_NEAREST, 0},
    {"NVFP4 4/6 MSE", FP4_NV_4OVER6_MSE, 0, FP4_SIGNS_NONE, 0, 0, FP4_ROUND_NEAREST, 0},
    {"NVFP4 4/6 MAE", FP4_NV_4OVER6_MAE, 0, FP4_SIGNS_NONE, 0, 0, FP4_ROUND_NEAREST, 0},
    {"NVFP4 4/6 max-abs", FP4_NV_4OVER6_MAXABS, 0, FP4_SIGNS_NONE, 0, 0, FP4_ROUND_NEAREST, 0},
    {"NVFP4 4/6 MSE 2D", FP4_NV_4OVER6_MSE, 0, FP4_SIGNS_NONE, 0, 1, FP4_ROUND_NEAREST, 0},
    {"MXFP4 OCP + H32", FP4_MX_OCP, 32, FP4_SIGNS_NONE, 0, 0, FP4_ROUND_NEAREST, 0},
    {"MXFP4 ceil + H32", FP4_MX_CEIL, 32, FP4_SIGNS_NONE, 0, 0, FP4_ROUND_NEAREST, 0},
    {"MXFP4 absmax/3 + H32", FP4_MX_ABSMAX3, 32, FP4_SIGNS_NONE, 0, 0, FP4_ROUND_NEAREST, 0},
    {"MXFP4 QuEST + H32", FP4_MX_QUEST, 32, FP4_SIGNS_NONE, 0, 0, FP4_ROUND_NEAREST, 0},
    {"MXFP4 QuEST + H128", FP4_MX_QUEST, 128, FP4_SIGNS_NONE, 0, 0, FP4_ROUND_NEAREST, 0},
    {"MXFP4 adaptive + H32", FP4_MX_ADAPTIVE, 32, FP4_SIGNS_NONE, 0, 0, FP4_ROUND_NEAREST, 0},
    {"NVFP4 6 + RHT16", FP4_NV_6, 16, FP4_SIGNS_USER, 0, 0, FP4_ROUND_NEAREST, 0},
    {"NVFP4 4/6 MSE + RHT16", FP4_NV_4OVER6_MSE, 16, FP4_SIGNS_USER, 0, 0, FP4_ROUND_NEAREST, 0},
    {"NVFP4 4/6 MSE + H128", FP4_NV_4OVER6_MSE, 128, FP4_SIGNS_NONE, 0, 0, FP4_ROUND_NEAREST, 0},
};

static fp4_quant_config recipe_config(const recipe *r) {
  fp4_quant_config cfg = fp4_config_default(fp4_rule_format(r->rule));
  cfg.rule = r->rule;
  cfg.hadamard = r->hadamard;
  cfg.hadamard_bf16 = r->bf16_rotate;
  cfg.scale_2d = r->scale_2d;
  cfg.rounding = r->rounding;
  cfg.seed = r->seed;
  cfg.hadamard_signs = r->hadamard ? r->signs : FP4_SIGNS_NONE;
  if (cfg.hadamard_signs == FP4_SIGNS_USER) fp4_hadamard_signs_rht16(cfg.hadamard_sign_bits);
  return cfg;
}

/* One quantized tensor: packed codes, scales, and its relative MSE. */
typedef struct result {
  const st_tensor *src;
  fp4_tensor t;
  double err, energy;   /* sum (x^ - x)^2, sum x^2 */
  const char *skip;     /* why it was not quantized, or NULL */
  fp4_status status;
} result;

/* Quantize src with cfg into r->t (buffers allocated here), dequantize, rotate back, measure. */
static void quantize_one(const st_tensor *src, const fp4_quant_config *cfg, result *r, int keep) {
  int64_t rows, cols, i;
  int blk = fp4_format_block(cfg->format);
  float *x = NULL, *y = NULL;
  uint16_t *h = NULL;
  memset(r, 0, sizeof *r);
  r->src = src;
  if (src->ndim != 2) { r->skip = "not 2-D"; return; }
  if (src->dtype != ST_F32 && src->dtype != ST_BF16 && src->dtype != ST_F16) { r->skip = "not f32/bf16/f16"; return; }
  if (src->shape[0] == 0 || src->shape[1] == 0 || src->shape[0] > INT32_MAX || src->shape[1] > INT32_MAX) {
    r->skip = "empty or too large";
    return;
  }
  rows = (int64_t)src->shape[0];
  cols = (int64_t)src->shape[1];
  if (cols % blk || (cfg->hadamard && cols % cfg->hadamard)) { r->skip = "cols not a multiple of the block/group"; return; }
  x = (float *)malloc((size_t)(rows * cols) * sizeof *x);
  y = (float *)malloc((size_t)(rows * cols) * sizeof *y);
  if (src->dtype != ST_F32) h = (uint16_t *)malloc((size_t)(rows * cols) * sizeof *h);
  fp4_tensor_init(&r->t, (uint8_t *)malloc(fp4_data_bytes(rows, cols)),
                  (uint8_t *)malloc(fp4_scale_bytes(cfg->format, rows, cols, FP4_LAYOUT_LINEAR)), FP4_LAYOUT_LINEAR);
  if (!x || !y || (src->dtype != ST_F32 && !h) || !r->t.data || !r->t.scales) {
    r->skip = "out of memory";
    goto done;
  }
  for (i = 0; i < rows * cols; i++) {
    x[i] = st_load_float(src, (uint64_t)i);
    if (h) h[i] = st_le16(src->data + 2 * i);
  }
  /* bf16 / f16 go through their own entry points (converted exactly inside the library) */
  r->status = src->dtype == ST_F32 ? fp4_quantize_f32(x, rows, cols, cols, cfg, &r->t, NULL, 0)
            : src->dtype == ST_BF16 ? fp4_quantize_bf16(h, rows, cols, cols, cfg, &r->t, NULL, 0)
                                    : fp4_quantize_f16(h, rows, cols, cols, cfg, &r->t, NULL, 0);
  if (r->status != FP4_OK && r->status != FP4_ERR_NONFINITE) goto done;
  if (fp4_dequantize_f32(&r->t, y, cols) != FP4_OK) goto done;
  if (cfg->hadamard) {
    uint32_t bits[8];
    const uint32_t *sb = NULL;
    if (cfg->hadamard_signs == FP4_SIGNS_USER) sb = cfg->hadamard_sign_bits;
    if (cfg->hadamard_signs == FP4_SIGNS_RANDOM) {
      fp4_hadamard_signs_from_seed(cfg->seed, cfg->hadamard, bits);
      sb = bits;
    }
    fp4_hadamard_f32(y, rows, cols, cols, y, cols, cfg->hadamard, sb, 1);
  }
  for (i = 0; i < rows * cols; i++) {
    double d = (double)y[i] - x[i];
    r->err += d * d;
    r->energy += (double)x[i] * x[i];
  }
done:
  free(x);
  free(y);
  free(h);
  if (!keep || r->skip) {
    free(r->t.data);
    free(r->t.scales);
    r->t.data = r->t.scales = NULL;
  }
}

static double rel(const result *r) { return r->energy > 0.0 ? r->err / r->energy : 0.0; }

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef struct summary {
  int n;
  double mean, median, max, total; /* of the per-tensor relative MSE; total = sum err / sum energy */
} summary;

static summary summarize(const result *rs, size_t n) {
  summary s;
  double *v = (double *)malloc((n ? n : 1) * sizeof *v), e = 0.0, en = 0.0;
  size_t i;
  memset(&s, 0, sizeof s);
  if (!v) return s;
  for (i = 0; i < n; i++) {
    if (rs[i].skip || rs[i].status != FP4_OK) continue;
    v[s.n++] = rel(&rs[i]);
    e += rs[i].err;
    en += rs[i].energy;
  }
  if (s.n) {
    qsort(v, (size_t)s.n, sizeof *v, cmp_double);
    for (i = 0; i < (size_t)s.n; i++) s.mean += v[i] / s.n;
    s.median = s.n % 2 ? v[s.n / 2] : 0.5 * (v[s.n / 2 - 1] + v[s.n / 2]);
    s.max = v[s.n - 1];
    s.total = en > 0.0 ? e / en : 0.0;
  }
  free(v);
  return s;
}

static void shape_string(const st_tensor *t, char *buf, size_t len) {
  size_t o = 0;
  int d;
  o += (size_t)snprintf(buf + o, len - o, "[");
  for (d = 0; d < t->ndim && o < len; d++)
    o += (size_t)snprintf(buf + o, len - o, "%s%llu", d ? "," : "", (unsigned long long)t->shape[d]);
  if (o < len) snprintf(buf + o, len - o, "]");
}

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  uint8_t *buf = NULL;
  long n;
  if (!fp) return NULL;
  if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0 &&
      (buf = (uint8_t *)malloc((size_t)n ? (size_t)n : 1)) != NULL) {
    if (fread(buf, 1, (size_t)n, fp) != (size_t)n) {
      free(buf);
      buf = NULL;
    } else {
      *len = (size_t)n;
    }
  }
  fclose(fp);
  return buf;
}

/* Write the packed tensors as safetensors, read the file back with st_parse, and check that every
 * byte survived and that dequantizing from the file gives the same floats. Returns 0 on success. */
static int write_and_check(const char *path, const char *input, result *rs, size_t n, const recipe *rc) {
  st_tensor *out;
  char **names; /* 3 per input tensor: <name>.fp4, <name>.scales, <name>.amax */
  float *amax;
  size_t i, k = 0, len = 0, rlen = 0;
  uint8_t *buf, *back;
  char hbuf[16], seed[32], err[256];
  const char *meta[] = {"format", fp4_format_name(fp4_rule_format(rc->rule)),
                        "rule", fp4_rule_name(rc->rule),
                        "hadamard", hbuf,
                        "signs", rc->signs == FP4_SIGNS_USER ? "rht16" : rc->signs == FP4_SIGNS_RANDOM ? "random" : "none",
                        "hadamard_bf16", rc->bf16_rotate ? "1" : "0",
                        "scale_2d", rc->scale_2d ? "1" : "0",
                        "rounding", rc->rounding == FP4_ROUND_STOCHASTIC ? "stochastic" : "nearest",
                        "seed", seed,
                        "scale_layout", "linear",
                        "source", input};
  st_file f;
  int bad = 0, j;
  snprintf(hbuf, sizeof hbuf, "%d", rc->hadamard);
  snprintf(seed, sizeof seed, "%llu", (unsigned long long)rc->seed);
  out = (st_tensor *)calloc(3 * n + 1, sizeof *out);
  names = (char **)calloc(3 * n + 1, sizeof *names);
  amax = (float *)calloc(n + 1, sizeof *amax);
  if (!out || !names || !amax) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }
  for (i = 0; i < n; i++) {
    const fp4_tensor *t = &rs[i].t;
    int blk;
    if (rs[i].skip || !t->data) continue;
    blk = fp4_format_block(t->format);
    amax[i] = t->amax;
    for (j = 0; j < 3; j++) {
      static const char *const suffix[3] = {".fp4", ".scales", ".amax"};
      size_t nl = strlen(rs[i].src->name) + 8;
      if (!(names[3 * i + j] = (char *)malloc(nl))) {
        fprintf(stderr, "out of memory\n");
        bad = 1;
        break;
      }
      snprintf(names[3 * i + j], nl, "%s%s", rs[i].src->name, suffix[j]);
    }
    if (bad) break;
    out[k++] = st_tensor_of(names[3 * i], ST_U8, (uint64_t)t->rows, (uint64_t)(t->cols / 2), t->data,
                            fp4_data_bytes(t->rows, t->cols));
    out[k++] = st_tensor_of(names[3 * i + 1], ST_U8, (uint64_t)t->rows, (uint64_t)(t->cols / blk), t->scales,
                            fp4_scale_bytes(t->format, t->rows, t->cols, FP4_LAYOUT_LINEAR));
    /* host order: little-endian hosts only, checked below */
    out[k++] = st_tensor_of(names[3 * i + 2], ST_F32, 1, 0, &amax[i], 4);
  }
  if (!bad) {
    const uint32_t one = 1;
    if (*(const uint8_t *)&one != 1) {
      fprintf(stderr, "writing safetensors needs a little-endian host\n");
      bad = 1;
    }
  }
  buf = bad ? NULL : st_serialize(out, k, meta, sizeof meta / sizeof meta[0] / 2, &len);
  if (!bad && !buf) {
    fprintf(stderr, "cannot serialize the output\n");
    bad = 1;
  }
  if (!bad) {
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(buf, 1, len, fp) != len || fclose(fp) != 0) {
      fprintf(stderr, "cannot write %s\n", path);
      bad = 1;
    }
  }
  free(buf);
  /* round trip through the reader */
  back = bad ? NULL : read_file(path, &rlen);
  if (!bad && (!back || st_parse(back, rlen, &f, err, sizeof err))) {
    fprintf(stderr, "re-reading %s failed: %s\n", path, back ? err : "cannot read");
    bad = 1;
  }
  if (!bad) {
    const char *fr = st_meta(&f, "rule");
    fp4_rule rule = FP4_RULE_DEFAULT;
    int ri;
    for (ri = 1; ri < FP4_RULE_COUNT; ri++)
      if (fr && !strcmp(fr, fp4_rule_name((fp4_rule)ri))) rule = (fp4_rule)ri;
    if (rule != rc->rule) {
      fprintf(stderr, "round trip: metadata rule %s\n", fr ? fr : "(missing)");
      bad = 1;
    }
    for (i = 0; i < n && !bad; i++) {
      const fp4_tensor *t = &rs[i].t;
      const st_tensor *d, *s, *a;
      fp4_tensor u;
      float *y0, *y1, am;
      int64_t e;
      if (rs[i].skip || !t->data) continue;
      d = st_find(&f, names[3 * i]);
      s = st_find(&f, names[3 * i + 1]);
      a = st_find(&f, names[3 * i + 2]);
      if (!d || !s || !a || a->dtype != ST_F32 || a->numel != 1 || d->nbytes != fp4_data_bytes(t->rows, t->cols) ||
          memcmp(d->data, t->data, (size_t)d->nbytes) || memcmp(s->data, t->scales, (size_t)s->nbytes)) {
        fprintf(stderr, "round trip: %s differs\n", rs[i].src->name);
        bad = 1;
        break;
      }
      /* rebuild the tensor view from the file alone and dequantize both */
      am = st_load_float(a, 0);
      fp4_tensor_init(&u, (uint8_t *)d->data, (uint8_t *)s->data, FP4_LAYOUT_LINEAR);
      u.format = fp4_rule_format(rule);
      u.rule = rule;
      u.rows = (int64_t)d->shape[0];
      u.cols = (int64_t)d->shape[1] * 2;
      u.amax = am;
      u.tensor_scale = u.format == FP4_NVFP4 ? fp4_nv_scale_make(rule, am).S_dec
                     : rule == FP4_MX_ABSMAX3 ? 1.0f / 3.0f : 1.0f;
      y0 = (float *)malloc((size_t)(t->rows * t->cols) * sizeof *y0);
      y1 = (float *)malloc((size_t)(t->rows * t->cols) * sizeof *y1);
      if (!y0 || !y1 || fp4_dequantize_f32(t, y0, t->cols) != FP4_OK || fp4_dequantize_f32(&u, y1, u.cols) != FP4_OK ||
          u.tensor_scale != t->tensor_scale) {
        fprintf(stderr, "round trip: cannot dequantize %s from the file\n", rs[i].src->name);
        bad = 1;
      } else {
        for (e = 0; e < t->rows * t->cols; e++)
          if (memcmp(&y0[e], &y1[e], 4)) {
            fprintf(stderr, "round trip: %s dequantizes differently from the file\n", rs[i].src->name);
            bad = 1;
            break;
          }
      }
      free(y0);
      free(y1);
    }
    if (!bad) printf("wrote %s: %lu tensors, %lu bytes; read back: bytes and dequantized values match\n", path,
                     (unsigned long)f.count, (unsigned long)rlen);
    st_free(&f);
  }
  free(back);
  for (i = 0; i < 3 * n; i++) free(names[i]);
  free(out);
  free(names);
  free(amax);
  return bad;
}

static void usage(void) {
  fprintf(stderr,
          "usage: quantize_safetensors [options] FILE.safetensors\n"
          "  -f, --format mxfp4|nvfp4   format (default nvfp4, or the rule's format)\n"
          "  -r, --rule NAME            mx_ocp mx_ceil mx_absmax3 mx_quest mx_adaptive\n"
          "                             nv_6 nv_4 nv_4over6_mse nv_4over6_mae nv_4over6_maxabs\n"
          "  -H, --hadamard G           block Hadamard rotation along the rows, G in 16..256\n"
          "      --signs none|rht16|random  Hadamard signs (rht16: Four Over Six's, needs G = 16)\n"
          "      --bf16-rotate          round the rotated values to bf16 before quantizing\n"
          "      --2d                   NVFP4 16x16 tile scales (weights)\n"
          "      --stochastic           stochastic rounding; --seed N sets the Philox key\n"
          "  -o, --output FILE          write <name>.fp4, <name>.scales, <name>.amax as safetensors\n"
          "      --all                  run every recipe of `make demo` and print a summary table\n"
          "  -q, --quiet                no per-tensor lines\n");
}

/* verbose: 1 per-tensor table and summary, 0 summary only, -1 silent */
static int run_recipe(const st_file *f, const recipe *rc, int verbose, const char *out, const char *input,
                      summary *sum) {
  fp4_quant_config cfg = recipe_config(rc);
  result *rs = (result *)calloc(f->count + 1, sizeof *rs);
  size_t i;
  int bad = 0, skipped = 0;
  char shape[96];
  if (!rs) return 1;
  if (verbose > 0) printf("| %-52s | %-5s | %-12s | %-12s |\n|%s|%s|%s|%s|\n", "tensor", "dtype", "shape", "rel MSE",
                      "------------------------------------------------------", "-------", "--------------",
                      "--------------");
  for (i = 0; i < f->count; i++) {
    result *r = &rs[i];
    quantize_one(&f->tensors[i], &cfg, r, out != NULL);
    shape_string(r->src, shape, sizeof shape);
    if (r->skip) skipped++;
    if (verbose <= 0) continue;
    if (r->skip)
      printf("| %-52s | %-5s | %-12s | skipped: %s |\n", r->src->name, st_dtype_name(r->src->dtype), shape, r->skip);
    else if (r->status != FP4_OK)
      printf("| %-52s | %-5s | %-12s | %s |\n", r->src->name, st_dtype_name(r->src->dtype), shape,
             fp4_status_string(r->status));
    else
      printf("| %-52s | %-5s | %-12s | %12.4e |\n", r->src->name, st_dtype_name(r->src->dtype), shape, rel(r));
  }
  for (i = 0; i < f->count; i++)
    if (!rs[i].skip && rs[i].status != FP4_OK && rs[i].status != FP4_ERR_NONFINITE) {
      fprintf(stderr, "%s: %s\n", rs[i].src->name, fp4_status_string(rs[i].status));
      bad = 1;
    }
  *sum = summarize(rs, f->count);
  if (verbose >= 0)
    printf("%s%s: %d tensors quantized, %d skipped; relative MSE mean %.4e, median %.4e, max %.4e, "
           "all weights %.4e\n", verbose ? "\n" : "", rc->name, sum->n, skipped, sum->mean, sum->median, sum->max, sum->total);
  if (!bad && out) bad = write_and_check(out, input, rs, f->count, rc);
  for (i = 0; i < f->count; i++) {
    free(rs[i].t.data);
    free(rs[i].t.scales);
  }
  free(rs);
  return bad;
}

int main(int argc, char **argv) {
  const char *input = NULL, *out = NULL, *fmt = NULL, *rule = NULL, *signs = "none";
  recipe rc;
  int i, all = 0, quiet = 0, rv = 0;
  uint8_t *buf;
  size_t len = 0;
  st_file f;
  char err[256], name[160];
  memset(&rc, 0, sizeof rc);
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int takes = !strcmp(a, "-f") || !strcmp(a, "--format") || !strcmp(a, "-r") || !strcmp(a, "--rule") ||
                !strcmp(a, "-H") || !strcmp(a, "--hadamard") || !strcmp(a, "--signs") || !strcmp(a, "--seed") ||
                !strcmp(a, "-o") || !strcmp(a, "--output");
    if (takes && !v) {
      fprintf(stderr, "%s needs a value\n", a);
      return 2;
    }
    if (!strcmp(a, "-f") || !strcmp(a, "--format")) fmt = v;
    else if (!strcmp(a, "-r") || !strcmp(a, "--rule")) rule = v;
    else if (!strcmp(a, "-H") || !strcmp(a, "--hadamard")) rc.hadamard = atoi(v);
    else if (!strcmp(a, "--signs")) signs = v;
    else if (!strcmp(a, "--seed")) rc.seed = strtoull(v, NULL, 0);
    else if (!strcmp(a, "-o") || !strcmp(a, "--output")) out = v;
    else if (!strcmp(a, "--bf16-rotate")) rc.bf16_rotate = 1;
    else if (!strcmp(a, "--2d")) rc.scale_2d = 1;
    else if (!strcmp(a, "--stochastic")) rc.rounding = FP4_ROUND_STOCHASTIC;
    else if (!strcmp(a, "--all")) all = 1;
    else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) quiet = 1;
    else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage();
      return 0;
    } else if (a[0] == '-' || input) {
      usage();
      return 2;
    } else input = a;
    if (takes) i++;
  }
  if (!input) {
    usage();
    return 2;
  }
  /* resolve the recipe: the rule names its format; a format alone takes its standard rule */
  {
    fp4_format ff = FP4_NVFP4;
    int k;
    if (fmt && !strcmp(fmt, "mxfp4")) ff = FP4_MXFP4;
    else if (fmt && strcmp(fmt, "nvfp4")) {
      fprintf(stderr, "unknown format %s\n", fmt);
      return 2;
    }
    rc.rule = fp4_rule_resolve(ff, FP4_RULE_DEFAULT);
    if (rule) {
      for (k = 1; k < FP4_RULE_COUNT && strcmp(rule, fp4_rule_name((fp4_rule)k)); k++) continue;
      if (k == FP4_RULE_COUNT || (fmt && fp4_rule_format((fp4_rule)k) != ff)) {
        fprintf(stderr, "unknown rule %s%s\n", rule, fmt ? " for this format" : "");
        return 2;
      }
      rc.rule = (fp4_rule)k;
    }
    if (!strcmp(signs, "none")) rc.signs = FP4_SIGNS_NONE;
    else if (!strcmp(signs, "rht16") && rc.hadamard == 16) rc.signs = FP4_SIGNS_USER;
    else if (!strcmp(signs, "random")) rc.signs = FP4_SIGNS_RANDOM;
    else {
      fprintf(stderr, "unknown signs %s (rht16 needs -H 16)\n", signs);
      return 2;
    }
    {
      size_t o = (size_t)snprintf(name, sizeof name, "%s %s", fp4_format_name(fp4_rule_format(rc.rule)),
                                  fp4_rule_name(rc.rule));
      if (rc.hadamard)
        o += (size_t)snprintf(name + o, sizeof name - o, " + H%d%s", rc.hadamard,
                              rc.signs == FP4_SIGNS_USER ? " (RHT16 signs)"
                              : rc.signs == FP4_SIGNS_RANDOM ? " (random signs)" : "");
      snprintf(name + o, sizeof name - o, "%s%s%s", rc.bf16_rotate ? " bf16" : "", rc.scale_2d ? " 2D" : "",
               rc.rounding ? " stochastic" : "");
    }
    rc.name = name;
  }
  buf = read_file(input, &len);
  if (!buf) {
    fprintf(stderr, "cannot read %s\n", input);
    return 1;
  }
  if (st_parse(buf, len, &f, err, sizeof err)) {
    fprintf(stderr, "%s: not a valid safetensors file: %s\n", input, err);
    free(buf);
    return 1;
  }
  printf("%s: %lu tensors, header %llu bytes, data %llu bytes\n", input, (unsigned long)f.count,
         (unsigned long long)f.header_len, (unsigned long long)f.data_len);
  if (!all) {
    summary s;
    printf("recipe: %s; relative MSE = sum (x^ - x)^2 / sum x^2 per tensor (after rotating back)\n\n", rc.name);
    rv = run_recipe(&f, &rc, quiet ? 0 : 1, out, input, &s);
  } else {
    size_t k;
    printf("relative MSE = sum (x^ - x)^2 / sum x^2 per 2-D tensor (after rotating back)\n\n");
    printf("| %-24s | %7s | %-10s | %-10s | %-10s | %-11s |\n", "recipe", "tensors", "mean", "median", "max",
           "all weights");
    printf("|--------------------------|---------|------------|------------|------------|-------------|\n");
    for (k = 0; k < sizeof all_recipes / sizeof all_recipes[0]; k++) {
      summary s;
      if (run_recipe(&f, &all_recipes[k], -1, NULL, input, &s)) rv = 1;
      printf("| %-24s | %7d | %10.4e | %10.4e | %10.4e | %11.4e |\n", all_recipes[k].name, s.n, s.mean, s.median,
             s.max, s.total);
      fflush(stdout);
    }
  }
  st_free(&f);
  free(buf);
  return rv;
}
#endif /* FP4_NO_MAIN */
