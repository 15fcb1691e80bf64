/* SPDX-License-Identifier: MIT */
/* A small counting test harness: CHECK macros, file:line on failure, a digest of every byte a test
 * feeds to H_DIGEST (tests/run.sh compares digests across builds with and without FMA contraction),
 * and a closing "N passed, N failed" line. Seeds: FP4_TEST_SEED or the clock, printed up front. */
#ifndef FP4_TEST_HARNESS_H
#define FP4_TEST_HARNESS_H
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long h_pass, h_fail;
static uint64_t h_digest_state = 1469598103934665603ull;
static uint64_t h_seed_value;

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (cond) h_pass++;                                                      \
    else {                                                                   \
      h_fail++;                                                              \
      fprintf(stderr, "%s:%d: FAIL: %s (seed %" PRIu64 ")\n", __FILE__, __LINE__, #cond, h_seed_value); \
    }                                                                        \
  } while (0)

/* Integers: prints expected and actual. */
#define CHECK_EQ(exp, act)                                                   \
  do {                                                                       \
    long long h_e_ = (long long)(exp), h_a_ = (long long)(act);              \
    if (h_e_ == h_a_) h_pass++;                                              \
    else {                                                                   \
      h_fail++;                                                              \
      fprintf(stderr, "%s:%d: FAIL: %s: expected %lld (0x%llx), got %lld (0x%llx) (seed %" PRIu64 ")\n", \
              __FILE__, __LINE__, #act, h_e_, (unsigned long long)h_e_, h_a_, (unsigned long long)h_a_, \
              h_seed_value);                                                 \
    }                                                                        \
  } while (0)

/* Floats compared bit for bit (NaN == NaN when both are NaN). */
#define CHECK_FEQ(exp, act)                                                  \
  do {                                                                       \
    float h_e_ = (exp), h_a_ = (act);                                        \
    if (memcmp(&h_e_, &h_a_, 4) == 0 || (h_e_ != h_e_ && h_a_ != h_a_)) h_pass++; \
    else {                                                                   \
      h_fail++;                                                              \
      fprintf(stderr, "%s:%d: FAIL: %s: expected %.9g, got %.9g (seed %" PRIu64 ")\n", __FILE__, __LINE__, \
              #act, (double)h_e_, (double)h_a_, h_seed_value);               \
    }                                                                        \
  } while (0)

/* |act| <= bound, a named error threshold. */
#define CHECK_LE(act, bound)                                                 \
  do {                                                                       \
    double h_a_ = (double)(act), h_b_ = (double)(bound);                     \
    if (h_a_ <= h_b_) h_pass++;                                              \
    else {                                                                   \
      h_fail++;                                                              \
      fprintf(stderr, "%s:%d: FAIL: %s = %.6g exceeds %s = %.6g (seed %" PRIu64 ")\n", __FILE__, __LINE__, \
              #act, h_a_, #bound, h_b_, h_seed_value);                       \
    }                                                                        \
  } while (0)

static void H_DIGEST(const void *p, size_t n) {
  const unsigned char *b = (const unsigned char *)p;
  size_t i;
  for (i = 0; i < n; i++) h_digest_state = (h_digest_state ^ b[i]) * 1099511628211ull;
}

/* The run's seed: FP4_TEST_SEED if set, else the clock; printed so a failure can be replayed. */
static uint64_t h_seed(void) {
  const char *s = getenv("FP4_TEST_SEED");
  h_seed_value = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL);
  printf("seed: %" PRIu64 "\n", h_seed_value);
  return h_seed_value;
}

/* splitmix64: the tests' own generator, independent of the library's Philox. */
static uint64_t h_rand_state = 0x9E3779B97F4A7C15ull;
static uint64_t h_rand(void) {
  uint64_t z = (h_rand_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static double h_uniform(void) { return (double)(h_rand() >> 11) * (1.0 / 9007199254740992.0); }
static double h_normal(void) {
  double u = h_uniform(), v = h_uniform(), r;
  static const double two_pi = 6.283185307179586;
  if (u < 1e-300) u = 1e-300;
  r = -2.0 * log(u);
  return sqrt(r) * cos(two_pi * v);
}

static int h_finish(void) {
  printf("digest: %016" PRIx64 "\n", h_digest_state);
  printf("%ld passed, %ld failed\n", h_pass, h_fail);
  return h_fail != 0;
}
#endif
