/* SPDX-License-Identifier: MIT */
/* Wall-clock timing shared by the CPU benchmarks (bench_cpu.c, peers/ggml_mxfp4.c): a monotonic clock
 * in seconds, and the comparison that sorts repetitions for their median. */
#ifndef FP4_BENCH_TIME_H
#define FP4_BENCH_TIME_H
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}
#endif
