/* SPDX-License-Identifier: MIT */
/* CPU benchmark of fp4_cpu.h (PERF.md): quantize GB/s against the scalar reference (fp4.h) and
 * memcpy of the same bytes, the exact W4A4 GEMM's GFLOP/s against the measured FP32 FMA peak, and
 * the W4A16 decode GEMV's weight GB/s against measured read bandwidth; 1 thread and all threads
 * (OpenMP). Warm-up, repetitions, median. Usage: bench_cpu [quick|full] [sections: q s g v] */
// FP4_TEST_FLAGS: -fopenmp
#include "fp4_cpu.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench_time.h"
#include <omp.h>

static double last_best; /* the fastest repetition of the last median() */
static double median(double *t, int n) {
  qsort(t, (size_t)n, sizeof *t, cmpd);
  last_best = t[0];
  return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}
static void print_load(const char *when) {
  char buf[128] = "n/a";
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (!fgets(buf, sizeof buf, f)) strcpy(buf, "n/a");
    fclose(f);
  }
  buf[strcspn(buf, "\n")] = 0;
  printf("load average (%s): %s\n", when, buf);
}
static uint64_t rs = 88172645463325252ull;
static double urand(void) {
  rs ^= rs << 13;
  rs ^= rs >> 7;
  rs ^= rs << 17;
  return (double)(rs >> 11) * (1.0 / 9007199254740992.0);
}
static float nrand(void) {
  double u = urand() + 1e-300, v = urand();
  return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

/* ---- baselines ---- */
static double bench_memcpy(void *dst, const void *src, size_t n, int threads, int reps) {
  double t[64];
  int r;
  for (r = 0; r < reps + 1; r++) {
    double t0 = now();
    int i;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (i = 0; i < threads; i++) {
      size_t a = n / (size_t)threads * (size_t)i, b = i == threads - 1 ? n : n / (size_t)threads * (size_t)(i + 1);
      memcpy((char *)dst + a, (const char *)src + a, b - a);
    }
    t[r] = now() - t0;
  }
  return median(t + 1, reps);
}

/* Read bandwidth: a vector sum over n bytes (the compiler vectorizes it with -O3 -march=native). */
static volatile float sink_f;
static double bench_read(const float *p, size_t nf, int threads, int reps) {
  double t[64];
  int r;
  for (r = 0; r < reps + 1; r++) {
    double t0 = now();
    float total = 0.0f;
    int i;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(+ : total)
    for (i = 0; i < threads; i++) {
      size_t a = nf / (size_t)threads * (size_t)i, b = i == threads - 1 ? nf : nf / (size_t)threads * (size_t)(i + 1), k;
      float s[16] = {0};
      for (k = a; k + 16 <= b; k += 16) {
        int j;
        for (j = 0; j < 16; j++) s[j] += p[k + j];
      }
      for (k = 0; k < 16; k++) total += s[k];
    }
    sink_f = total;
    t[r] = now() - t0;
  }
  return median(t + 1, reps);
}

/* FP32 FMA peak of one core: 12 independent FMA chains on the widest vectors compiled in. */
static double fma_peak_gflops(void) {
  double best = 0;
  int rep;
  for (rep = 0; rep < 5; rep++) {
    long iters = 20000000, i;
    double t0, t;
#if defined(__AVX512F__)
    __m512 a[12], m = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f);
    int j;
    for (j = 0; j < 12; j++) a[j] = _mm512_set1_ps((float)j);
    t0 = now();
    for (i = 0; i < iters; i++)
      for (j = 0; j < 12; j++) a[j] = _mm512_fmadd_ps(a[j], m, c);
    t = now() - t0;
    for (j = 1; j < 12; j++) a[0] = _mm512_add_ps(a[0], a[j]);
    sink_f = _mm512_reduce_add_ps(a[0]);
    t = 2.0 * 16 * 12 * (double)iters / t * 1e-9;
#elif defined(__AVX2__) && defined(__FMA__)
    __m256 a[12], m = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
    int j;
    for (j = 0; j < 12; j++) a[j] = _mm256_set1_ps((float)j);
    t0 = now();
    for (i = 0; i < iters; i++)
      for (j = 0; j < 12; j++) a[j] = _mm256_fmadd_ps(a[j], m, c);
    t = now() - t0;
    for (j = 1; j < 12; j++) a[0] = _mm256_add_ps(a[0], a[j]);
    {
      float v[8];
      _mm256_storeu_ps(v, a[0]);
      sink_f = v[0];
    }
    t = 2.0 * 8 * 12 * (double)iters / t * 1e-9;
#else
    (void)i;
    (void)t0;
    (void)iters;
    t = 0;
#endif
    if (t > best) best = t;
  }
  return best;
}

/* int8 dot-product peak of one core (AVX-512 VNNI): 12 independent vpdpbusd chains; ops = 2 per
 * u8 x s8 product (64 products per instruction). 0 without VNNI. */
static double vnni_peak_gops(void) {
  double best = 0;
#if defined(__AVX512VNNI__)
  int rep;
  for (rep = 0; rep < 5; rep++) {
    long iters = 20000000, i;
    __m512i a[12], u = _mm512_set1_epi8(3), v = _mm512_set1_epi8(-2);
    int32_t o[16];
    double t0, t;
    int j;
    for (j = 0; j < 12; j++) a[j] = _mm512_set1_epi32(j);
    t0 = now();
    for (i = 0; i < iters; i++)
      for (j = 0; j < 12; j++) a[j] = _mm512_dpbusd_epi32(a[j], u, v);
    t = now() - t0;
    for (j = 1; j < 12; j++) a[0] = _mm512_add_epi32(a[0], a[j]);
    _mm512_storeu_si512(o, a[0]);
    sink_f = (float)o[0];
    t = 2.0 * 64 * 12 * (double)iters / t * 1e-9;
    if (t > best) best = t;
  }
#endif
  return best;
}

/* ---- quantize ---- */
typedef struct qbench {
  const char *name;
  fp4_format f;
  fp4_rule rule;
  fp4_dtype dt;
  int hadamard, bf16;
} qbench;

static fp4_status run_q(int simd, const void *x, fp4_dtype dt, int64_t R, int64_t C, const fp4_quant_config *cfg,
                        fp4_tensor *t) {
  if (!simd) {
    if (dt == FP4_F32) return fp4_quantize_f32((const float *)x, R, C, C, cfg, t, NULL, 0);
    if (dt == FP4_BF16) return fp4_quantize_bf16((const uint16_t *)x, R, C, C, cfg, t, NULL, 0);
    return fp4_quantize_f16((const uint16_t *)x, R, C, C, cfg, t, NULL, 0);
  }
  if (dt == FP4_F32) return fp4_cpu_quantize_f32((const float *)x, R, C, C, cfg, t, NULL, 0);
  if (dt == FP4_BF16) return fp4_cpu_quantize_bf16((const uint16_t *)x, R, C, C, cfg, t, NULL, 0);
  return fp4_cpu_quantize_f16((const uint16_t *)x, R, C, C, cfg, t, NULL, 0);
}

static double time_q(int simd, int threads, int reps, const void *x, fp4_dtype dt, int64_t R, int64_t C,
                     const fp4_quant_config *cfg, fp4_tensor *t) {
  double ts[64];
  int r;
  omp_set_num_threads(threads);
  for (r = 0; r < reps + 1; r++) {
    double t0 = now();
    if (run_q(simd, x, dt, R, C, cfg, t) != FP4_OK) {
      printf("quantize failed\n");
      exit(1);
    }
    ts[r] = now() - t0;
  }
  return median(ts + 1, reps);
}

int main(int argc, char **argv) {
  int quick = argc > 1 && !strcmp(argv[1], "quick");
  const char *only = argc > 2 ? argv[2] : "qsgv"; /* sections: q quantize, s its thread scaling, g W4A4, v W4A16 */
  int nt = omp_get_max_threads(), reps = quick ? 3 : 7;
  int64_t R = 4096, C = 4096; /* 64 MiB of f32 */
  size_t n = (size_t)(R * C), i;
  float *xf = (float *)malloc(n * 4);
  uint16_t *xb = (uint16_t *)malloc(n * 2);
  uint8_t *d = (uint8_t *)malloc(n / 2), *s = (uint8_t *)malloc(n / 16), *d2 = (uint8_t *)malloc(n / 2),
          *s2 = (uint8_t *)malloc(n / 16);
  char *cp = (char *)malloc(n * 4);
  double peak1, mc1, mcn, rd1, rdn;
  static const qbench qb[] = {
      {"mxfp4 ocp f32", FP4_MXFP4, FP4_MX_OCP, FP4_F32, 0, 0},
      {"mxfp4 ceil bf16", FP4_MXFP4, FP4_MX_CEIL, FP4_BF16, 0, 0},
      {"mxfp4 absmax3 f32 H32", FP4_MXFP4, FP4_MX_ABSMAX3, FP4_F32, 32, 0},
      {"nvfp4 nv_6 f32", FP4_NVFP4, FP4_NV_6, FP4_F32, 0, 0},
      {"nvfp4 nv_6 bf16", FP4_NVFP4, FP4_NV_6, FP4_BF16, 0, 0},
      {"nvfp4 4over6_mse f32", FP4_NVFP4, FP4_NV_4OVER6_MSE, FP4_F32, 0, 0},
      {"nvfp4 nv_6 bf16 RHT16+bf16", FP4_NVFP4, FP4_NV_6, FP4_BF16, 16, 1},
      {"nvfp4 nv_6 f16 H128", FP4_NVFP4, FP4_NV_6, FP4_F16, 128, 0},
  };
  for (i = 0; i < n; i++) xf[i] = nrand();
  for (i = 0; i < n; i++) xb[i] = fp4_f32_to_bf16(xf[i]);
  memset(cp, 1, n * 4);
  printf("fp4_cpu bench: path %s (vnni %d), %d threads, reps %d, median\n", fp4_cpu_isa_name(FP4_CPU_FORCE_ISA),
         FP4_CPU_HAVE_VNNI, nt, reps);
  print_load("start");
  peak1 = fma_peak_gflops();
  printf("FP32 FMA peak, measured (12 independent FMA chains, widest vector): %.1f GFLOP/s per core, x%d = %.1f\n", peak1, nt,
         peak1 * nt);
  if (strchr(only, 'g')) {
    double vp = vnni_peak_gops();
    if (vp > 0) printf("int8 VNNI peak, measured (12 independent vpdpbusd chains): %.1f GOP/s per core = %.2fx the FP32 FMA peak\n", vp, vp / peak1);
  }

  /* ---- quantize ---- */
  if (strchr(only, 'q')) {
  printf("\n## quantize %lldx%lld (64 MiB f32 / 32 MiB 16-bit input); bytes = input read + codes and scales written\n",
         (long long)R, (long long)C);
  mc1 = bench_memcpy(cp, xf, n * 4, 1, reps);
  mcn = bench_memcpy(cp, xf, n * 4, nt, reps);
  printf("memcpy 64 MiB: 1 thread %.2f GB/s, %d threads %.2f GB/s (read + write)\n", 2.0 * n * 4 / mc1 * 1e-9, nt,
         2.0 * n * 4 / mcn * 1e-9);
  printf("| case | scalar ref 1T GB/s | SIMD 1T GB/s | x scalar | %% memcpy 1T | SIMD %dT GB/s | %% memcpy %dT | %dT best GB/s |\n",
         nt, nt, nt);
  printf("|---|---|---|---|---|---|---|---|\n");
  for (i = 0; i < sizeof qb / sizeof qb[0]; i++) {
    fp4_quant_config cfg = fp4_config_default(qb[i].f);
    fp4_tensor t, t2;
    double tsc, t1, tn, bn, bytes;
    const void *x = qb[i].dt == FP4_F32 ? (const void *)xf : (const void *)xb;
    size_t es = qb[i].dt == FP4_F32 ? 4 : 2;
    cfg.rule = qb[i].rule;
    cfg.hadamard = qb[i].hadamard;
    cfg.hadamard_bf16 = qb[i].bf16;
    if (qb[i].hadamard == 16 && qb[i].bf16) {
      cfg.hadamard_signs = FP4_SIGNS_USER;
      fp4_hadamard_signs_rht16(cfg.hadamard_sign_bits);
    }
    fp4_tensor_init(&t, d, s, FP4_LAYOUT_LINEAR);
    fp4_tensor_init(&t2, d2, s2, FP4_LAYOUT_LINEAR);
    bytes = (double)n * (double)es + (double)n / 2 + (double)n / fp4_format_block(qb[i].f);
    tsc = time_q(0, 1, quick ? 1 : 3, x, qb[i].dt, R, C, &cfg, &t);
    t1 = time_q(1, 1, reps, x, qb[i].dt, R, C, &cfg, &t2);
    if (memcmp(d, d2, n / 2) || memcmp(s, s2, n / (size_t)fp4_format_block(qb[i].f))) printf("MISMATCH vs reference\n");
    tn = time_q(1, nt, reps, x, qb[i].dt, R, C, &cfg, &t2);
    bn = last_best;
    printf("| %s | %.3f | %.2f | %.1fx | %.0f%% | %.2f | %.0f%% | %.2f |\n", qb[i].name, bytes / tsc * 1e-9,
           bytes / t1 * 1e-9, tsc / t1, 100.0 * (bytes / t1) / (2.0 * n * 4 / mc1), bytes / tn * 1e-9,
           100.0 * (bytes / tn) / (2.0 * n * 4 / mcn), bytes / bn * 1e-9);
    fflush(stdout);
  }
  }

  /* ---- thread scaling of two quantize cases (where all-thread rows fall short) ---- */
  if (strchr(only, 's')) {
    int ci, th;
    printf("\n## quantize thread scaling, GB/s (median of %d)\n| case |", reps);
    for (th = 1; th <= nt; th *= 2) printf(" %dT |", th);
    printf("\n|---|");
    for (th = 1; th <= nt; th *= 2) printf("---|");
    printf("\n");
    for (ci = 0; ci < 2; ci++) {
      fp4_quant_config cfg = fp4_config_default(ci ? FP4_NVFP4 : FP4_MXFP4);
      fp4_dtype dt = ci ? FP4_BF16 : FP4_F32;
      fp4_tensor t;
      double bytes = (double)n * (ci ? 2.0 : 4.0) + (double)n / 2 + (double)n / (ci ? 16 : 32);
      fp4_tensor_init(&t, d2, s2, FP4_LAYOUT_LINEAR);
      printf("| %s |", ci ? "nvfp4 nv_6 bf16" : "mxfp4 ocp f32");
      for (th = 1; th <= nt; th *= 2)
        printf(" %.2f |", bytes / time_q(1, th, reps, ci ? (const void *)xb : (const void *)xf, dt, R, C, &cfg, &t) * 1e-9);
      printf("\n");
      fflush(stdout);
    }
  }

  /* ---- W4A4 GEMM ---- */
  if (strchr(only, 'g')) {
    static const int sizes[] = {1024, 2048, 4096};
    int si, fi;
    printf("\n## W4A4 GEMM (exact, spec §5), f32 output; GFLOP/s = 2MNK / time; peak = measured FMA peak x threads\n");
    printf("workspace: fp4_cpu_gemm_workspace_size (operands packed once per call); last column: no workspace\n");
    printf("| format | M=N=K | 1T GFLOP/s | x FMA peak 1T | %dT GFLOP/s | x FMA peak %dT | %dT no-ws GFLOP/s |\n", nt, nt, nt);
    printf("|---|---|---|---|---|---|---|\n");
    for (fi = 0; fi < 2; fi++)
      for (si = 0; si < (quick ? 2 : 3); si++) {
        int64_t S = sizes[si];
        fp4_format f = fi ? FP4_NVFP4 : FP4_MXFP4;
        fp4_quant_config cfg = fp4_config_default(f);
        uint8_t *ad = (uint8_t *)malloc((size_t)(S * S / 2)), *as = (uint8_t *)malloc((size_t)(S * S / 16));
        uint8_t *bd = (uint8_t *)malloc((size_t)(S * S / 2)), *bs = (uint8_t *)malloc((size_t)(S * S / 16));
        float *cm = (float *)malloc((size_t)(S * S) * 4);
        size_t wsn = fp4_cpu_gemm_workspace_size(S, S, S);
        void *wsp = malloc(wsn);
        fp4_tensor A, B;
        double ts[16], t1 = 0, tn = 0, tw = 0, fl = 2.0 * (double)S * (double)S * (double)S;
        int r, th, rr = S >= 4096 ? 2 : reps;
        fp4_tensor_init(&A, ad, as, FP4_LAYOUT_LINEAR);
        fp4_tensor_init(&B, bd, bs, FP4_LAYOUT_LINEAR);
        /* A = X, B = X^T quantized (different values; both inside xf for every S <= 4096) */
        fp4_cpu_quantize_f32(xf, S, S, S, &cfg, &A, NULL, 0);
        cfg.transpose = 1;
        fp4_cpu_quantize_f32(xf, S, S, S, &cfg, &B, NULL, 0);
        for (th = 0; th < 3; th++) {
          if (th == 0 && S >= 4096) {
            t1 = -1;
            continue;
          }
          omp_set_num_threads(th ? nt : 1);
          for (r = 0; r < rr + 1; r++) {
            double t0 = now();
            fp4_cpu_gemm_w4a4_f32(&A, &B, 1.0f, 0.0f, cm, S, th == 2 ? NULL : wsp, th == 2 ? 0 : wsn);
            ts[r] = now() - t0;
          }
          if (th == 2) tw = median(ts + 1, rr);
          else if (th) tn = median(ts + 1, rr);
          else t1 = median(ts + 1, rr);
        }
        if (t1 > 0)
          printf("| %s | %lld | %.1f | %.2fx | %.1f | %.2fx | %.1f |\n", fp4_format_name(f), (long long)S, fl / t1 * 1e-9,
                 fl / t1 * 1e-9 / peak1, fl / tn * 1e-9, fl / tn * 1e-9 / (peak1 * nt), fl / tw * 1e-9);
        else
          printf("| %s | %lld | - | - | %.1f | %.2fx | %.1f |\n", fp4_format_name(f), (long long)S, fl / tn * 1e-9,
                 fl / tn * 1e-9 / (peak1 * nt), fl / tw * 1e-9);
        fflush(stdout);
        free(ad);
        free(as);
        free(bd);
        free(bs);
        free(cm);
        free(wsp);
      }
  }

  /* ---- W4A16 decode GEMV ---- */
  if (strchr(only, 'v')) {
    const int64_t N = 8192, K = 8192, copies = 8; /* 8 weight matrices rotate: 272 MiB > any L3 */
    int fi, mi;
    size_t rn = (size_t)512 << 20; /* bytes of the read-bandwidth buffer */
    float *rb = (float *)malloc(rn);
    float *act = (float *)malloc((size_t)(16 * K) * 4), *out = (float *)malloc((size_t)(16 * N) * 4);
    uint16_t *actb = (uint16_t *)malloc((size_t)(16 * K) * 2);
    for (i = 0; i < rn / 4; i++) rb[i] = 1.0f;
    for (i = 0; i < (size_t)(16 * K); i++) {
      act[i] = nrand();
      actb[i] = fp4_f32_to_bf16(act[i]);
    }
    rd1 = bench_read(rb, rn / 4, 1, reps);
    rdn = bench_read(rb, rn / 4, nt, reps);
    printf("\n## W4A16 GEMV, N = K = 8192, %lld weight copies rotated; GB/s of weight bytes (codes + scales)\n",
           (long long)copies);
    printf("read bandwidth (vector sum over 512 MiB): 1 thread %.2f GB/s, %d threads %.2f GB/s\n", rn / rd1 * 1e-9, nt,
           rn / rdn * 1e-9);
    printf("| format | act | M | 1T GB/s | %% read BW 1T | %dT GB/s | %% read BW %dT | %dT us | %dT best GB/s |\n", nt, nt, nt, nt);
    printf("|---|---|---|---|---|---|---|---|---|\n");
    for (fi = 0; fi < 2; fi++) {
      fp4_format f = fi ? FP4_NVFP4 : FP4_MXFP4;
      fp4_quant_config cfg = fp4_config_default(f);
      fp4_tensor W[8];
      cfg.rule = fp4_rule_resolve(f, FP4_RULE_DEFAULT);
      uint8_t *wd[8], *ws[8];
      double wbytes = (double)N * K / 2 + (double)N * K / fp4_format_block(f);
      int c;
      for (c = 0; c < copies; c++) {
        size_t b;
        wd[c] = (uint8_t *)malloc((size_t)(N * K / 2));
        ws[c] = (uint8_t *)malloc((size_t)(N * K / 16));
        fp4_tensor_init(&W[c], wd[c], ws[c], FP4_LAYOUT_LINEAR);
        /* random codes and plausible scales (MXFP4 2^-7..2^2, NVFP4 E4M3 0.0625..8) */
        for (b = 0; b < (size_t)(N * K / 2); b++) wd[c][b] = (uint8_t)(urand() * 256);
        for (b = 0; b < (size_t)(N * K / fp4_format_block(f)); b++)
          ws[c][b] = (uint8_t)(f == FP4_MXFP4 ? 120 + urand() * 10 : 0x20 + urand() * 40);
        W[c].format = f;
        W[c].rule = cfg.rule;
        W[c].rows = N;
        W[c].cols = K;
        W[c].tensor_scale = f == FP4_NVFP4 ? 0.01f : 1.0f;
      }
      for (mi = 0; mi < 3; mi++) {
        int M = mi == 0 ? 1 : mi == 1 ? 4 : 16, ai;
        for (ai = 0; ai < (M == 1 ? 2 : 1); ai++) {
          double ts[64], t1 = 0, tn = 0, bn = 0;
          int r, th, cc = 0;
          for (th = 0; th < 2; th++) {
            omp_set_num_threads(th ? nt : 1);
            for (r = 0; r < 2 * reps + 2; r++) {
              double t0 = now();
              if (ai == 0) fp4_cpu_gemm_w4a16_f32_f32(act, M, K, &W[cc], 1.0f, 0.0f, out, N, NULL, 0);
              else fp4_cpu_gemm_w4a16_bf16_f32(actb, M, K, &W[cc], 1.0f, 0.0f, out, N, NULL, 0);
              ts[r] = now() - t0;
              cc = (cc + 1) % (int)copies;
            }
            if (th) {
              tn = median(ts + 2, 2 * reps);
              bn = last_best;
            } else t1 = median(ts + 2, 2 * reps);
          }
          printf("| %s | %s | %d | %.2f | %.0f%% | %.2f | %.0f%% | %.0f | %.2f |\n", fp4_format_name(f), ai ? "bf16" : "f32",
                 M, wbytes / t1 * 1e-9, 100.0 * (wbytes / t1) / (rn / rd1), wbytes / tn * 1e-9,
                 100.0 * (wbytes / tn) / (rn / rdn), tn * 1e6, wbytes / bn * 1e-9);
          fflush(stdout);
        }
      }
      for (c = 0; c < copies; c++) {
        free(wd[c]);
        free(ws[c]);
      }
    }
    free(rb);
    free(act);
    free(actb);
    free(out);
  }
  print_load("end");
  free(xf);
  free(xb);
  free(d);
  free(s);
  free(d2);
  free(s2);
  free(cp);
  return 0;
}
