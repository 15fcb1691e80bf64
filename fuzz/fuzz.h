/* SPDX-License-Identifier: MIT */
/* Shared pieces of the libFuzzer harnesses (fuzz/README.md):
 *  - fz: decodes the fuzz input into call arguments; past the end of the input every read gives 0;
 *  - fz_dim: a size that is usually small and valid, sometimes a hostile value (0, negative, huge);
 *  - fz_buf: a buffer of exactly the size a correct caller would allocate, between guard bytes that
 *    ASan also poisons, so any write outside it is caught at once (and by the byte check without ASan);
 *  - FZ_CHECK: a failed property aborts, which libFuzzer reports as a crash with the input saved. */
#ifndef FP4_FUZZ_H
#define FP4_FUZZ_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define FZ_ASAN 1
#endif
#ifdef FZ_ASAN
#include <sanitizer/asan_interface.h>
#define FZ_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define FZ_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define FZ_POISON(p, n) ((void)(p), (void)(n))
#define FZ_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define FZ_CHECK(cond)                                                                  \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);       \
      abort();                                                                          \
    }                                                                                   \
  } while (0)

typedef struct fz {
  const uint8_t *p;
  size_t n;
} fz;

static inline uint8_t fz_u8(fz *f) {
  if (!f->n) return 0;
  f->n--;
  return *f->p++;
}
static inline uint16_t fz_u16(fz *f) {
  uint16_t a = fz_u8(f);
  return (uint16_t)(a | (uint16_t)(fz_u8(f) << 8));
}
static inline uint32_t fz_u32(fz *f) {
  uint32_t a = fz_u16(f);
  return a | ((uint32_t)fz_u16(f) << 16);
}
static inline uint64_t fz_u64(fz *f) {
  uint64_t a = fz_u32(f);
  return a | ((uint64_t)fz_u32(f) << 32);
}
static inline float fz_f32(fz *f) {
  uint32_t u = fz_u32(f);
  float x;
  memcpy(&x, &u, 4);
  return x;
}

/* Hostile values for sizes and leading dimensions. */
static const int64_t fz_hostile[16] = {
    0, -1, INT64_MIN, INT64_MAX, (int64_t)1 << 31, (int64_t)1 << 32, (int64_t)1 << 40, (int64_t)1 << 56,
    ((int64_t)1 << 56) + 32, (int64_t)1 << 62, -32, INT32_MAX, (int64_t)UINT32_MAX + 1, INT64_MAX / 16,
    (int64_t)1 << 60, -((int64_t)1 << 40)};

/* A size: mostly 1 .. max, sometimes a hostile value or 64 raw bits. */
static inline int64_t fz_dim(fz *f, int64_t max) {
  uint8_t m = fz_u8(f);
  if (m < 232) return 1 + (int64_t)(fz_u16(f) % (uint64_t)max);
  if (m < 248) return fz_hostile[m & 15];
  return (int64_t)fz_u64(f);
}
/* A length that is a multiple of `unit` (1 .. max/unit units), sometimes off by a little or hostile. */
static inline int64_t fz_len(fz *f, int64_t unit, int64_t max) {
  uint8_t m = fz_u8(f);
  int64_t k = 1 + (int64_t)(fz_u8(f) % (uint64_t)(max / unit));
  if (m < 200) return k * unit;
  if (m < 232) return k * unit + (int64_t)(m & 7) - 4;
  if (m < 248) return fz_hostile[m & 15];
  return (int64_t)fz_u64(f);
}
/* A leading dimension for rows of length n: mostly n or a little more, sometimes shorter or hostile. */
static inline int64_t fz_ld(fz *f, int64_t n) {
  uint8_t m = fz_u8(f);
  /* unsigned arithmetic: n itself may be hostile (wraps instead of overflowing) */
  if (m < 160) return n;
  if (m < 224) return (int64_t)((uint64_t)n + (m & 31u));
  if (m < 232) return (int64_t)((uint64_t)n - 1u - (m & 3u));
  if (m < 248) return fz_hostile[m & 15];
  return (int64_t)fz_u64(f);
}
/* An enum value: mostly 0 .. count-1, sometimes count, negative or any 32 bits. */
static inline int fz_enum(fz *f, int count) {
  uint8_t m = fz_u8(f);
  if (m < 240) return m % count;
  if (m < 244) return count;
  if (m < 248) return -1;
  return (int)fz_u32(f);
}

/* A rows x cols matrix with leading dimension ld, as a caller would pass it:
 *  0: no caller can have such a buffer (a size <= 0, ld < cols, or more than 2^60 elements): the call
 *     must fail;
 *  1: *span = (rows - 1) * ld + cols elements, at most cap: allocate exactly that;
 * -1: plausible but too large to allocate here: skip the call. */
#define FZ_HUGE ((int64_t)1 << 60)
static inline int fz_span(int64_t rows, int64_t cols, int64_t ld, int64_t cap, int64_t *span) {
  if (rows <= 0 || cols <= 0 || ld < cols) return 0;
  if (rows > FZ_HUGE / cols || (rows > 1 && ld > FZ_HUGE / (rows - 1))) return 0;
  *span = (rows - 1) * ld + cols;
  return *span <= cap ? 1 : -1;
}

#define FZ_GUARD 32
#define FZ_FILL 0xA5
typedef struct fz_buf {
  uint8_t *mem, *p, *snap;
  size_t n, size;
} fz_buf;

/* n bytes at `off` bytes past a 16-byte boundary, guards around them; contents set to FZ_FILL. */
static inline void *fz_alloc(fz_buf *b, size_t n, size_t off) {
  b->n = n;
  b->size = n + off + 2 * FZ_GUARD;
  b->mem = (uint8_t *)malloc(b->size);
  b->snap = (uint8_t *)malloc(b->size);
  if (!b->mem || !b->snap) abort();
  memset(b->mem, FZ_FILL, b->size);
  b->p = b->mem + FZ_GUARD + off;
  FZ_POISON(b->mem, (size_t)(b->p - b->mem));
  FZ_POISON(b->p + n, (size_t)(b->mem + b->size - (b->p + n)));
  return b->p;
}
static inline int fz_guards_ok(const fz_buf *b) {
  const uint8_t *q;
  int ok = 1;
  FZ_UNPOISON(b->mem, b->size);
  for (q = b->mem; q < b->p; q++) ok &= *q == FZ_FILL;
  for (q = b->p + b->n; q < b->mem + b->size; q++) ok &= *q == FZ_FILL;
  FZ_POISON(b->mem, (size_t)(b->p - b->mem));
  FZ_POISON(b->p + b->n, (size_t)(b->mem + b->size - (b->p + b->n)));
  return ok;
}
static inline void fz_snap(fz_buf *b) { memcpy(b->snap, b->p, b->n); }
static inline int fz_same(const fz_buf *b) { return memcmp(b->snap, b->p, b->n) == 0; }
/* Since the snapshot, only elements of the rows x cols matrix (leading dimension ld, element size es)
 * changed: the gaps between rows and the bytes past the last row are as before. */
static inline int fz_only_matrix_changed(const fz_buf *b, int64_t rows, int64_t cols, int64_t ld, size_t es) {
  size_t i;
  for (i = 0; i < b->n; i++) {
    int64_t e = (int64_t)(i / es);
    if ((e / ld >= rows || e % ld >= cols) && b->p[i] != b->snap[i]) return 0;
  }
  return 1;
}
/* n bytes of f32 (kind 0), bf16 (1) or f16 (2) values: equal bits, or both NaN (NaN payloads are not
 * part of the contract: which operand's NaN an add propagates differs between scalar and SIMD code). */
static inline int fz_same_values(const uint8_t *a, const uint8_t *b, size_t n, int kind) {
  size_t i, es = kind ? 2 : 4;
  for (i = 0; i + es <= n; i += es) {
    uint32_t x = 0, y = 0;
    memcpy(&x, a + i, es);
    memcpy(&y, b + i, es);
    if (x == y) continue;
    if (kind == 0 && (x & 0x7FFFFFFFu) > 0x7F800000u && (y & 0x7FFFFFFFu) > 0x7F800000u) continue;
    if (kind == 1 && (x & 0x7FFFu) > 0x7F80u && (y & 0x7FFFu) > 0x7F80u) continue;
    if (kind == 2 && (x & 0x7FFFu) > 0x7C00u && (y & 0x7FFFu) > 0x7C00u) continue;
    return 0;
  }
  return memcmp(a + i, b + i, n - i) == 0;
}
static inline void fz_free(fz_buf *b) {
  if (!b->mem) return;
  FZ_CHECK(fz_guards_ok(b));
  FZ_UNPOISON(b->mem, b->size);
  free(b->mem);
  free(b->snap);
  memset(b, 0, sizeof *b);
}
#endif
