/* SPDX-License-Identifier: MIT */
/*
 * fp4_cuda_gemm.inl - CUDA tensor-core GEMMs for fp4 (spec §5). Included by fp4_cuda.cuh near its end;
 * also compiles on its own after fp4.h (the tests do that: #include "fp4.h" then this file).
 *
 *     fp4_tensor A, B;                 // quantized on the device (data and scales are device pointers)
 *     fp4_cuda_gemm_w4a4_f32(&A, &B, 1.0f, 0.0f, C, N, ws, ws_bytes, stream);   // C[M,N] = A . B^T
 *     fp4_cuda_gemm_w4a16_bf16_bf16(X, M, K, &B, 1.0f, 0.0f, Y, N, ws, ws_bytes, stream);
 *
 * Contents (search for the banners):
 *     ==== cuda gemm: helpers ====      status mapping, inline PTX (mma, cp.async), E2M1 decoders
 *     ==== cuda gemm: w4a4 exact ====   reproducible W4A4 (fp4.h's bits) on integer tensor cores
 *     ==== cuda gemm: w4a16 ====        weight-only GEMM on bf16/f16 tensor cores, any M
 *     ==== cuda gemm: blackwell ====    native block-scaled FP4 MMA (sm_120a mma.sync, sm_100a tcgen05)
 *     ==== cuda gemm: host API ====     validation, tile choice, launches, the stamped-out names
 *
 * Reproducible W4A4 (spec §5). 2*E2M1 is an integer in [-12, 12]; nibbles are decoded to int8 with
 * byte permutes and one mma.sync s8 per scale block (m16n8k32 for MXFP4's 32, m16n8k16 for NVFP4's 16)
 * yields the exact block sum T_b. The accumulator of that MMA starts at the bits of 1.5*2^23, so the
 * result register read as a float is 1.5*2^23 + T_b exactly (|T_b| <= 4608): no int->float convert.
 * Promotion per element and block, in K order, equal bit for bit to acc = acc + fp4_w4a4_block_term():
 *   NVFP4: t1 = fma(f, sa/4, -1.5*2^23*sa/4) = T*sa/4 (exact); acc = fma(t1, sb, acc) = RN(acc + t_b),
 *          since t_b = T*sa*sb/4 is exact (13 + 4 + 4 significant bits).
 *   MXFP4: t1 = fma(f, 2^(ea-129), -1.5*2^23*2^(ea-129)) = T*2^(ea-129) (exact for ea <= 231);
 *          t = t1 * 2^(eb-127) (one rounding: the correctly rounded ldexp of spec §5); acc = acc + t.
 *          A stage that holds an A scale code in [232, 254] (scales >= 2^105) takes the scalar
 *          fp4_w4a4_block_term instead (uniform branch per CTA and stage).
 *   NaN scales propagate through the same arithmetic (NaN factors). No split-K: deterministic.
 * Within a block the K order of the products does not matter (the sum is exact), which lets each lane
 * take 8 consecutive codes (one 32-bit word) where mma.sync wants k = 4l..4l+3 and 16+4l..16+4l+3:
 * A and B use the same permutation.
 *
 * W4A16. MXFP4: the raw E2M1 values (exact in bf16 and f16) go through bf16/f16 mma.sync with a fresh
 * fp32 accumulator per 32-block, and the E8M0 scale is applied in fp32 at promotion (so f16 activations
 * have no range limit from the scale). NVFP4: E2M1 x E4M3 is exact in bf16 and f16, so weights are
 * dequantized in registers (mul.rn of exactly representable products) and accumulated over all of K.
 * f32 activations are split into three bf16 terms (hi + mid + lo, 24 bits) and take three MMAs.
 * Not bit-reproducible against fp4.h (different summation order), within spec §5's 1e-5.
 *
 * Blackwell. fp4_cuda_gemm_w4a4_fast_* run the native block-scaled FP4 MMA where the device has one
 * (sm_120 family: mma.sync kind::mxf4nvf4 / kind::mxf4; sm_100 family: tcgen05.mma). Their internal
 * summation order is the hardware's, so they are not bit-reproducible. They were compiled and their
 * SASS checked (.ci/steps/cuda_sass.sh) but never executed: no Blackwell GPU was available. On other
 * devices the _fast names run the exact kernel.
 */
#ifndef FP4_CUDA_GEMM_INL
#define FP4_CUDA_GEMM_INL

#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include "fp4.h"

/* Feature guards (BLACKWELL.md §1): block-scaled mma.sync exists on the sm_120 family only, tcgen05 FP4
 * on the sm_100 family (.block16/.block32 spelling); the generic passes of -arch=sm_1xxa see neither. */
#if defined(__CUDA_ARCH_FAMILY_SPECIFIC__) && \
    (__CUDA_ARCH_FAMILY_SPECIFIC__ == 1200 || __CUDA_ARCH_FAMILY_SPECIFIC__ == 1210)
#define FP4__CUDA_GEMM_SM120_MMA 1
#endif
#if defined(__CUDA_ARCH_FAMILY_SPECIFIC__) && \
    (__CUDA_ARCH_FAMILY_SPECIFIC__ == 1000 || __CUDA_ARCH_FAMILY_SPECIFIC__ == 1030 || \
     __CUDA_ARCH_FAMILY_SPECIFIC__ == 1100)
#define FP4__CUDA_GEMM_TCGEN05 1
#endif

/* ==== cuda gemm: helpers ==== */

/* cudaError_t -> fp4_status (fp4_cuda.cuh may provide a shared mapping; this one is private). */
static inline fp4_status fp4__cuda_gemm_status(cudaError_t e) { return e == cudaSuccess ? FP4_OK : FP4_ERR_DEVICE; }

/* D = A(16x32 s8, row) * B(32x8 s8, col) + c, every accumulator lane starting at the same c. */
static __device__ __forceinline__ void fp4__cuda_gemm_mma_s8_k32(int d[4], const uint32_t a[4], const uint32_t b[2],
                                                                 int c) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
               "{%10,%10,%10,%10};\n"
               : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(c));
#else
  (void)a; (void)b; d[0] = d[1] = d[2] = d[3] = c; __trap();
#endif
}

/* D = A(16x16 s8, row) * B(16x8 s8, col) + c. */
static __device__ __forceinline__ void fp4__cuda_gemm_mma_s8_k16(int d[4], const uint32_t a[2], uint32_t b, int c) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("mma.sync.aligned.m16n8k16.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%7,%7,%7,%7};\n"
               : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(b), "r"(c));
#else
  (void)a; (void)b; d[0] = d[1] = d[2] = d[3] = c; __trap();
#endif
}

/* D = A(16x16) * B(16x8) + D in fp32, operands bf16 (BF = 1) or f16 (BF = 0). */
template <int BF>
static __device__ __forceinline__ void fp4__cuda_gemm_mma_h16(float d[4], const uint32_t a[4], const uint32_t b[2]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  if (BF)
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  else
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
  (void)a; (void)b; (void)d; __trap();
#endif
}

/* Packed x2 multiply, exact here (the products are representable): scales a dequantized weight pair. */
template <int BF>
static __device__ __forceinline__ uint32_t fp4__cuda_gemm_hmul2(uint32_t a, uint32_t b) {
  uint32_t d;
  if (BF) asm("mul.rn.bf16x2 %0, %1, %2;\n" : "=r"(d) : "r"(a), "r"(b));
  else asm("mul.rn.f16x2 %0, %1, %2;\n" : "=r"(d) : "r"(a), "r"(b));
  return d;
}

/* Async 16- or 8-byte global->shared copy; src_bytes = 0 fills the destination with zeros (tails). */
template <int BYTES>
static __device__ __forceinline__ void fp4__cuda_gemm_cp_async(void *smem, const void *gmem, int src_bytes) {
  unsigned s = (unsigned)__cvta_generic_to_shared(smem);
  if (BYTES == 16)
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(src_bytes));
  else
    asm volatile("cp.async.ca.shared.global [%0], [%1], 8, %2;\n" ::"r"(s), "l"(gmem), "r"(src_bytes));
}
static __device__ __forceinline__ void fp4__cuda_gemm_cp_commit(void) { asm volatile("cp.async.commit_group;\n"); }
template <int N>
static __device__ __forceinline__ void fp4__cuda_gemm_cp_wait(void) {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

/* Byte permute (PTX prmt, default mode, selectors 0..7): byte n of the result is byte s[4n+2:4n] of
 * {y:x}. Host twin for the tests. */
static __host__ __device__ __forceinline__ uint32_t fp4__cuda_gemm_prmt(uint32_t x, uint32_t y, uint32_t s) {
#if defined(__CUDA_ARCH__)
  return __byte_perm(x, y, s);
#else
  uint64_t v = ((uint64_t)y << 32) | x;
  uint32_t r = 0;
  for (int n = 0; n < 4; n++) r |= (uint32_t)((v >> (8 * ((s >> (4 * n)) & 7u))) & 0xFFu) << (8 * n);
  return r;
#endif
}

/* 4 E2M1 codes (code i in bits 4i..4i+3) -> 4 int8 holding 2 * value (spec §5's c). Two 8-entry table
 * permutes give the positive and the negative candidates; a third picks per byte by the sign bit. */
static __host__ __device__ __forceinline__ uint32_t fp4__cuda_gemm_e2m1x4_s8(uint32_t x) {
  uint32_t sel = x & 0x7777u;
  uint32_t pos = fp4__cuda_gemm_prmt(0x03020100u, 0x0C080604u, sel); /* 0 1 2 3 4 6 8 12 */
  uint32_t neg = fp4__cuda_gemm_prmt(0xFDFEFF00u, 0xF4F8FAFCu, sel); /* the negatives */
  return fp4__cuda_gemm_prmt(pos, neg, 0x3210u | ((x & 0x8888u) >> 1));
}

/* 4 E2M1 codes -> 2 registers of two 16-bit floats (bf16 when BF, else f16), exact, by table permutes
 * of the low and high bytes of the 16-bit patterns (the sign only touches the high byte). */
template <int BF>
static __host__ __device__ __forceinline__ void fp4__cuda_gemm_e2m1x4_h16(uint32_t x, uint32_t &o0, uint32_t &o1) {
  /* bf16: 0 3F00 3F80 3FC0 4000 4040 4080 40C0; f16: 0 3800 3C00 3E00 4000 4200 4400 4600 */
  const uint32_t LO0 = BF ? 0xC0800000u : 0u, LO1 = BF ? 0xC0804000u : 0u;
  const uint32_t HI0 = BF ? 0x3F3F3F00u : 0x3E3C3800u, HI1 = BF ? 0x40404040u : 0x46444240u;
  uint32_t sel = x & 0x7777u;
  uint32_t lo = fp4__cuda_gemm_prmt(LO0, LO1, sel);
  uint32_t hp = fp4__cuda_gemm_prmt(HI0, HI1, sel);
  uint32_t hn = hp | 0x80808080u;
  uint32_t hi = fp4__cuda_gemm_prmt(hp, hn, 0x3210u | ((x & 0x8888u) >> 1));
  o0 = fp4__cuda_gemm_prmt(lo, hi, 0x5140u);
  o1 = fp4__cuda_gemm_prmt(lo, hi, 0x7362u);
}

/* 2^e as a float for an E8M0 code shifted by `off` (exact down to 2^-149); NaN for code 0xFF. */
static __host__ __device__ __forceinline__ float fp4__cuda_gemm_e8m0_f(uint8_t code, int off) {
  if (code == 0xFFu) return fp4__nan();
  return fp4__exp2i((int)code - 127 - off);
}

/* The bits of 1.5*2^23: an s32 accumulator started there reads, as a float, 1.5*2^23 + T exactly. */
#define FP4__CG_MAGIC 0x4B400000

/* Exact-engine factors of a scale code (see the file comment): the row (A) factor {f, -1.5*2^23 f} with
 * f = 2^(ea-129) (MXFP4) or sa/4 (NVFP4), and the column (B) factor 2^(eb-127) or sb. */
static __host__ __device__ __forceinline__ float2 fp4__cuda_gemm_row_factor(int fmt, uint8_t c) {
  float f = fmt == FP4_MXFP4 ? fp4__cuda_gemm_e8m0_f(c, 2) : fp4__mul(fp4_e4m3_to_float(c), 0.25f);
  return make_float2(f, fp4__mul(f, -12582912.0f));
}
static __host__ __device__ __forceinline__ float fp4__cuda_gemm_col_factor(int fmt, uint8_t c) {
  return fmt == FP4_MXFP4 ? fp4__cuda_gemm_e8m0_f(c, 0) : fp4_e4m3_to_float(c);
}
/* MXFP4 A codes in [232, 254] leave the fast promotion's exact range (its -1.5*2^23 f overflows). */
static __host__ __device__ __forceinline__ int fp4__cuda_gemm_mx_slow(uint8_t c) { return c >= 232 && c != 0xFFu; }

/* acc + t_b for one element and block, from the MMA's register d = bits of 1.5*2^23 + T: the same bits
 * as acc + fp4_w4a4_block_term(fmt, T, ea, eb) (file comment), in two or three fp32 operations. */
static __host__ __device__ __forceinline__ float fp4__cuda_gemm_promote(int fmt, float acc, int d, float2 fa, float fb) {
  float t1 = fmaf(fp4__float((uint32_t)d), fa.x, fa.y); /* T * row factor, exact */
  if (fmt == FP4_MXFP4) return acc + fp4__mul(t1, fb);  /* t_b rounded once, then the add */
  return fmaf(t1, fb, acc);                             /* t_b exact: one rounding, as acc + t_b */
}

/* Round-to-nearest pair conversion f32 -> bf16x2 (hi half from a). */
static __device__ __forceinline__ uint32_t fp4__cuda_gemm_bf16x2(float a, float b) {
  uint32_t d;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(d) : "f"(a), "f"(b));
  return d;
}

/* Epilogue of one accumulator fragment (c0,c1 at row r, cols n, n+1; c2,c3 at row r+8), spec §5; the
 * output type is a run-time (uniform) choice, so it costs no extra kernel instantiations. */
static __device__ __forceinline__ void fp4__cuda_gemm_store4(void *C, fp4_dtype ct, int64_t ldc, int M, int N, int r,
                                                             int n, const float v[4], float alpha, float beta) {
#pragma unroll
  for (int i = 0; i < 4; i++) {
    int rr = r + (i >> 1) * 8, nn = n + (i & 1);
    if (rr < M && nn < N) {
      int64_t e = (int64_t)rr * ldc + nn;
      fp4__store(C, ct, e, fp4_gemm_epilogue(alpha, v[i], beta, beta != 0.0f ? fp4__load(C, ct, e) : 0.0f));
    }
  }
}

/* Shared tile geometry: one stage holds BK = 64 codes of each operand row (32 bytes) in a 48-byte
 * pitch, which makes the per-lane 32-bit reads (8 rows x 4 lanes) hit 32 distinct banks. */
#define FP4__CG_BK 64
#define FP4__CG_PITCH 48

/* Packed-code loader for one stage: ROWS rows x 32 bytes from a row-major packed matrix (pitch K/2
 * bytes), in 16- or 8-byte cp.async pieces (vec16, uniform); rows >= nrows and codes >= K are zero-filled. */
template <int ROWS, int THREADS>
static __device__ __forceinline__ void fp4__cuda_gemm_load_codes(uint8_t *sm, const uint8_t *__restrict__ g, int row0,
                                                                 int nrows, int64_t K, int64_t k0, int tid, int vec16) {
  const int64_t pitch = K / 2;
  if (vec16) {
    for (int i = tid; i < ROWS * 2; i += THREADS) {
      int r = i >> 1, c = i & 1;
      int64_t kb = k0 / 2 + c * 16;
      bool ok = (row0 + r) < nrows && kb < pitch;
      const uint8_t *src = ok ? g + (int64_t)(row0 + r) * pitch + kb : g;
      fp4__cuda_gemm_cp_async<16>(sm + r * FP4__CG_PITCH + c * 16, src, ok ? 16 : 0);
    }
  } else {
    for (int i = tid; i < ROWS * 4; i += THREADS) {
      int r = i >> 2, c = i & 3;
      int64_t kb = k0 / 2 + c * 8;
      bool ok = (row0 + r) < nrows && kb < pitch;
      const uint8_t *src = ok ? g + (int64_t)(row0 + r) * pitch + kb : g;
      fp4__cuda_gemm_cp_async<8>(sm + r * FP4__CG_PITCH + c * 8, src, ok ? 8 : 0);
    }
  }
}

/* One scale code of a tensor (linear or swizzled layout, spec §2), or `fill` outside the matrix. */
static __device__ __forceinline__ uint8_t fp4__cuda_gemm_scale(const uint8_t *__restrict__ s, fp4_layout lay, int r,
                                                               int nrows, int64_t b, int64_t nb, uint8_t fill) {
  if (r >= nrows || b >= nb) return fill;
  return s[fp4__scale_offset(lay, r, b, nb)];
}

/* ==== cuda gemm: w4a4 exact ==== */

/* Kernel parameters shared by the W4A4 kernels. */
struct fp4__cuda_gemm_w4a4_args {
  const uint8_t *a, *b, *sa, *sb;
  fp4_layout la, lb;
  int M, N;
  int64_t K;
  void *C;
  fp4_dtype ct;
  int64_t ldc;
  float alpha, beta;
  int vec16; /* packed rows allow 16-byte copies (else 8: NVFP4 with K % 32 == 16) */
};

/* Compute engines for the W4A4 main loop: exact integer MMA (every arch), sm_120 block-scaled FP4 MMA. */
#define FP4__CG_EXACT 0
#define FP4__CG_SM120 1

/* Per-stage shared memory of the W4A4 kernel. */
template <int BM, int BN, int NBS>
struct __align__(16) fp4__cuda_gemm_w4a4_stage { /* 16: cp.async destinations of every stage */
  uint8_t a[BM * FP4__CG_PITCH];
  uint8_t b[BN * FP4__CG_PITCH];
  float2 fa[NBS][BM];   /* exact engine: {row factor, -1.5*2^23 * row factor} per block */
  float fb[NBS][BN];    /* exact engine: column factor per block */
  uint8_t ca[BM][NBS];  /* scale codes (MX slow path, sm_120 engine) */
  uint8_t cb[BN][NBS];
  int bad;              /* MXFP4: tag of the stage if an A code is in [232, 254] */
};

/* W4A4 GEMM kernel. FMT: FP4_MXFP4 or FP4_NVFP4; WM x WN warps, each TM x TN mma tiles of 16x8.
 * ENGINE: FP4__CG_EXACT (reproducible, fp4.h's bits) or FP4__CG_SM120 (native block-scaled MMA). */
template <int FMT, int WM, int WN, int TM, int TN, int ENGINE>
__global__ void __launch_bounds__(WM *WN * 32, 1) fp4__cuda_gemm_w4a4_kernel(const fp4__cuda_gemm_w4a4_args p) {
  constexpr int THREADS = WM * WN * 32, BM = WM * TM * 16, BN = WN * TN * 8;
  constexpr int BLK = FMT == FP4_MXFP4 ? 32 : 16, NBS = FP4__CG_BK / BLK, STAGES = 4;
  constexpr int SA_PER = (BM * NBS + THREADS - 1) / THREADS, SB_PER = (BN * NBS + THREADS - 1) / THREADS;
  static_assert(FMT == FP4_MXFP4 || FMT == FP4_NVFP4, "format");
  static_assert(ENGINE == FP4__CG_EXACT || ENGINE == FP4__CG_SM120, "engine");
  typedef fp4__cuda_gemm_w4a4_stage<BM, BN, NBS> stage_t;
  static_assert(sizeof(stage_t) % 16 == 0, "stage size");
  extern __shared__ __align__(16) unsigned char fp4__cg_smem[];
  stage_t *st = reinterpret_cast<stage_t *>(fp4__cg_smem);

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, l = lane & 3;
  const int wm = warp / WN, wn = warp % WN;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const int64_t K = p.K, nblk = K / BLK;
  const int nk = (int)((K + FP4__CG_BK - 1) / FP4__CG_BK);
  const uint8_t sfill = 0; /* outside the matrix: codes are zero and so is every term */

  float acc[TM][TN][4];
#pragma unroll
  for (int i = 0; i < TM; i++)
#pragma unroll
    for (int j = 0; j < TN; j++) acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0.0f;

  uint8_t ra[SA_PER], rb[SB_PER];
  /* global scale codes of stage s -> registers */
  auto fetch_scales = [&](int s) {
#pragma unroll
    for (int i = 0; i < SA_PER; i++) {
      int e = tid + i * THREADS, r = e / NBS, j = e % NBS;
      ra[i] = e < BM * NBS ? fp4__cuda_gemm_scale(p.sa, p.la, m0 + r, p.M, (int64_t)s * NBS + j, nblk, sfill) : 0;
    }
#pragma unroll
    for (int i = 0; i < SB_PER; i++) {
      int e = tid + i * THREADS, r = e / NBS, j = e % NBS;
      rb[i] = e < BN * NBS ? fp4__cuda_gemm_scale(p.sb, p.lb, n0 + r, p.N, (int64_t)s * NBS + j, nblk, sfill) : 0;
    }
  };
  /* registers -> shared factors of stage s (the exact engine's row/column factors, and the codes) */
  auto store_scales = [&](int s) {
    stage_t &S = st[s % STAGES];
    int bad = 0;
#pragma unroll
    for (int i = 0; i < SA_PER; i++) {
      int e = tid + i * THREADS, r = e / NBS, j = e % NBS;
      if (e < BM * NBS) {
        uint8_t c = ra[i];
        S.ca[r][j] = c;
        if (ENGINE == FP4__CG_EXACT) {
          S.fa[j][r] = fp4__cuda_gemm_row_factor(FMT, c);
          if (FMT == FP4_MXFP4 && fp4__cuda_gemm_mx_slow(c)) bad = 1;
        }
      }
    }
#pragma unroll
    for (int i = 0; i < SB_PER; i++) {
      int e = tid + i * THREADS, r = e / NBS, j = e % NBS;
      if (e < BN * NBS) {
        uint8_t c = rb[i];
        S.cb[r][j] = c;
        if (ENGINE == FP4__CG_EXACT) S.fb[j][r] = fp4__cuda_gemm_col_factor(FMT, c);
      }
    }
    if (bad) S.bad = s + 1; /* a tag, not a flag: stale values from older stages never match */
  };
  auto load_codes = [&](int s) {
    stage_t &S = st[s % STAGES];
    fp4__cuda_gemm_load_codes<BM, THREADS>(S.a, p.a, m0, p.M, K, (int64_t)s * FP4__CG_BK, tid, p.vec16);
    fp4__cuda_gemm_load_codes<BN, THREADS>(S.b, p.b, n0, p.N, K, (int64_t)s * FP4__CG_BK, tid, p.vec16);
  };

  if (tid == 0)
    for (int s = 0; s < STAGES; s++) st[s].bad = 0;
  __syncthreads();
#pragma unroll
  for (int s = 0; s < STAGES - 1; s++) {
    if (s < nk) {
      load_codes(s);
      fetch_scales(s);
      store_scales(s);
    }
    fp4__cuda_gemm_cp_commit();
  }

  for (int kt = 0; kt < nk; kt++) {
    fp4__cuda_gemm_cp_wait<STAGES - 2>();
    __syncthreads();
    const int nxt = kt + STAGES - 1;
    if (nxt < nk) {
      load_codes(nxt);
      fetch_scales(nxt);
    }
    fp4__cuda_gemm_cp_commit();

    const stage_t &S = st[kt % STAGES];
    if (ENGINE == FP4__CG_EXACT) {
      const bool slow = FMT == FP4_MXFP4 && S.bad == kt + 1;
#pragma unroll
      for (int j = 0; j < NBS; j++) {
        if ((int64_t)kt * NBS + j >= nblk) break;
        /* B fragments and column factors of block j */
        uint32_t bf[TN][2];
        float2 fbv[TN];
#pragma unroll
        for (int t = 0; t < TN; t++) {
          const uint8_t *row = S.b + (wn * TN * 8 + t * 8 + g) * FP4__CG_PITCH;
          if (FMT == FP4_MXFP4) {
            uint32_t w = *reinterpret_cast<const uint32_t *>(row + j * 16 + 4 * l);
            bf[t][0] = fp4__cuda_gemm_e2m1x4_s8(w);
            bf[t][1] = fp4__cuda_gemm_e2m1x4_s8(w >> 16);
          } else {
            bf[t][0] = fp4__cuda_gemm_e2m1x4_s8(*reinterpret_cast<const uint16_t *>(row + j * 8 + 2 * l));
          }
          fbv[t] = *reinterpret_cast<const float2 *>(&S.fb[j][wn * TN * 8 + t * 8 + 2 * l]);
        }
#pragma unroll
        for (int i = 0; i < TM; i++) {
          const int r0 = wm * TM * 16 + i * 16 + g;
          const uint8_t *row0 = S.a + r0 * FP4__CG_PITCH, *row1 = row0 + 8 * FP4__CG_PITCH;
          uint32_t af[4];
          if (FMT == FP4_MXFP4) {
            uint32_t w0 = *reinterpret_cast<const uint32_t *>(row0 + j * 16 + 4 * l);
            uint32_t w1 = *reinterpret_cast<const uint32_t *>(row1 + j * 16 + 4 * l);
            af[0] = fp4__cuda_gemm_e2m1x4_s8(w0);
            af[1] = fp4__cuda_gemm_e2m1x4_s8(w1);
            af[2] = fp4__cuda_gemm_e2m1x4_s8(w0 >> 16);
            af[3] = fp4__cuda_gemm_e2m1x4_s8(w1 >> 16);
          } else {
            af[0] = fp4__cuda_gemm_e2m1x4_s8(*reinterpret_cast<const uint16_t *>(row0 + j * 8 + 2 * l));
            af[1] = fp4__cuda_gemm_e2m1x4_s8(*reinterpret_cast<const uint16_t *>(row1 + j * 8 + 2 * l));
          }
          const float2 fa0 = S.fa[j][r0], fa1 = S.fa[j][r0 + 8];
#pragma unroll
          for (int t = 0; t < TN; t++) {
            int d[4];
            if (FMT == FP4_MXFP4) fp4__cuda_gemm_mma_s8_k32(d, af, bf[t], FP4__CG_MAGIC);
            else fp4__cuda_gemm_mma_s8_k16(d, af, bf[t][0], FP4__CG_MAGIC);
            if (!slow) {
#pragma unroll
              for (int q = 0; q < 4; q++) {
                const float2 fa = (q >> 1) ? fa1 : fa0;
                const float fb = (q & 1) ? fbv[t].y : fbv[t].x;
                acc[i][t][q] = fp4__cuda_gemm_promote(FMT, acc[i][t][q], d[q], fa, fb);
              }
            } else {
#pragma unroll
              for (int q = 0; q < 4; q++) {
                const int rr = r0 + (q >> 1) * 8, cc = wn * TN * 8 + t * 8 + 2 * l + (q & 1);
                acc[i][t][q] = __fadd_rn(acc[i][t][q], fp4_w4a4_block_term((fp4_format)FMT, d[q] - FP4__CG_MAGIC,
                                                                            S.ca[rr][j], S.cb[cc][j]));
              }
            }
          }
        }
      }
    } else {
#if defined(FP4__CUDA_GEMM_SM120_MMA)
      /* sm_120 family: one m16n8k64 block-scaled FP4 MMA per tile and stage on the raw packed codes.
       * Fragments (BLACKWELL.md §2): A reg i: row g + 8(i&1), k = 8l + 32(i>>1) + nibble; B reg i: col g,
       * k = 8l + 32i + nibble. Scales: row m of A from lane 4(m&7) + (m>>3), column n of B from lane 4n,
       * byte c = K-chunk c (4 chunks of 16 for NVFP4, 2 of 32 for MXFP4). */
      uint32_t bf[TN][2], sfb[TN];
#pragma unroll
      for (int t = 0; t < TN; t++) {
        const int c = wn * TN * 8 + t * 8 + g;
        const uint8_t *row = S.b + c * FP4__CG_PITCH;
        bf[t][0] = *reinterpret_cast<const uint32_t *>(row + 4 * l);
        bf[t][1] = *reinterpret_cast<const uint32_t *>(row + 16 + 4 * l);
        const int cs = wn * TN * 8 + t * 8 + (lane >> 2);
        sfb[t] = FMT == FP4_NVFP4 ? *reinterpret_cast<const uint32_t *>(&S.cb[cs][0])
                                  : (uint32_t)*reinterpret_cast<const uint16_t *>(&S.cb[cs][0]);
      }
#pragma unroll
      for (int i = 0; i < TM; i++) {
        const int r0 = wm * TM * 16 + i * 16 + g;
        const uint8_t *row0 = S.a + r0 * FP4__CG_PITCH, *row1 = row0 + 8 * FP4__CG_PITCH;
        uint32_t a0 = *reinterpret_cast<const uint32_t *>(row0 + 4 * l);
        uint32_t a1 = *reinterpret_cast<const uint32_t *>(row1 + 4 * l);
        uint32_t a2 = *reinterpret_cast<const uint32_t *>(row0 + 16 + 4 * l);
        uint32_t a3 = *reinterpret_cast<const uint32_t *>(row1 + 16 + 4 * l);
        const int rs = wm * TM * 16 + i * 16 + (lane >> 2) + 8 * (lane & 1); /* lanes with l >= 2 unused */
        const uint32_t sfa = FMT == FP4_NVFP4 ? *reinterpret_cast<const uint32_t *>(&S.ca[rs][0])
                                              : (uint32_t)*reinterpret_cast<const uint16_t *>(&S.ca[rs][0]);
#pragma unroll
        for (int t = 0; t < TN; t++) {
          float *d = acc[i][t];
          const uint16_t z = 0;
          if (FMT == FP4_NVFP4)
            asm volatile(
                "mma.sync.aligned.m16n8k64.row.col.kind::mxf4nvf4.block_scale.scale_vec::4X.f32.e2m1.e2m1.f32.ue4m3 "
                "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3}, %10, {%11,%11}, %12, {%11,%11};\n"
                : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(bf[t][0]), "r"(bf[t][1]), "r"(sfa), "h"(z), "r"(sfb[t]));
          else
            asm volatile(
                "mma.sync.aligned.m16n8k64.row.col.kind::mxf4.block_scale.scale_vec::2X.f32.e2m1.e2m1.f32.ue8m0 "
                "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3}, %10, {%11,%11}, %12, {%11,%11};\n"
                : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(bf[t][0]), "r"(bf[t][1]), "r"(sfa), "h"(z), "r"(sfb[t]));
        }
      }
#else
      __trap(); /* the sm_120 engine exists only in sm_120-family builds; the host never launches it elsewhere */
#endif
    }
    if (nxt < nk) store_scales(nxt);
  }
  fp4__cuda_gemm_cp_wait<0>();

#pragma unroll
  for (int i = 0; i < TM; i++)
#pragma unroll
    for (int t = 0; t < TN; t++)
      fp4__cuda_gemm_store4(p.C, p.ct, p.ldc, p.M, p.N, m0 + wm * TM * 16 + i * 16 + g, n0 + wn * TN * 8 + t * 8 + 2 * l,
                                acc[i][t], p.alpha, p.beta);
}

/* ==== cuda gemm: w4a16 ==== */

struct fp4__cuda_gemm_w4a16_args {
  const void *a;
  int64_t lda;
  const uint8_t *b, *sb;
  fp4_layout lb;
  int M, N;
  int64_t K;
  void *C;
  fp4_dtype ct;
  int64_t ldc;
  float alpha, beta;
  int vec16;
};

/* Per-stage shared memory of the W4A16 kernel: activations (64 elements of AT per row, 16-byte chunks
 * XOR-swizzled against bank conflicts), packed weights, and per-block weight scales. */
template <int BM, int BN, int AB, int NBS>
struct __align__(16) fp4__cuda_gemm_w4a16_stage {
  uint8_t a[BM * FP4__CG_BK * AB];
  uint8_t b[BN * FP4__CG_PITCH];
  uint32_t s[NBS][BN]; /* MXFP4: f32 bits of 2^(e-127); NVFP4: the scale as a 16-bit pair */
};

/* Swizzled 16-byte chunk index of activation row r (AB = element bytes: 8 chunks per row for 2-byte
 * types, 16 for f32): the lanes of one 8-lane phase read two rows, which land in opposite halves. */
template <int AB>
static __device__ __forceinline__ int fp4__cuda_gemm_achunk(int r, int c) {
  return AB == 2 ? c ^ ((r & 1) << 2) : c ^ (r & 1);
}

/* Activation fragment for 8 consecutive K (one lane's share of a 32-block) of row r: four registers of
 * 16-bit pairs, `terms` of them for f32 input (hi, mid, lo bf16 splits). */
template <int ADT, int AB>
static __device__ __forceinline__ void fp4__cuda_gemm_afrag(const uint8_t *sa, int r, int q, int l, uint32_t x[3][4]) {
  const uint8_t *row = sa + r * FP4__CG_BK * AB;
  if (AB == 2) {
    uint4 v = *reinterpret_cast<const uint4 *>(row + fp4__cuda_gemm_achunk<AB>(r, 4 * q + l) * 16);
    x[0][0] = v.x; x[0][1] = v.y; x[0][2] = v.z; x[0][3] = v.w;
  } else {
    float4 u = *reinterpret_cast<const float4 *>(row + fp4__cuda_gemm_achunk<AB>(r, 8 * q + 2 * l) * 16);
    float4 w = *reinterpret_cast<const float4 *>(row + fp4__cuda_gemm_achunk<AB>(r, 8 * q + 2 * l + 1) * 16);
    float f[8] = {u.x, u.y, u.z, u.w, w.x, w.y, w.z, w.w};
#pragma unroll
    for (int i = 0; i < 4; i++) {
      float e0 = f[2 * i], e1 = f[2 * i + 1];
      uint32_t h = fp4__cuda_gemm_bf16x2(e1, e0);
      float r0 = __fsub_rn(e0, __uint_as_float(h << 16)), r1 = __fsub_rn(e1, __uint_as_float(h & 0xFFFF0000u));
      uint32_t m = fp4__cuda_gemm_bf16x2(r1, r0);
      float s0 = __fsub_rn(r0, __uint_as_float(m << 16)), s1 = __fsub_rn(r1, __uint_as_float(m & 0xFFFF0000u));
      x[0][i] = h;
      x[1][i] = m;
      x[2][i] = fp4__cuda_gemm_bf16x2(s1, s0);
    }
  }
}

/* W4A16 kernel: C = alpha_eff * A . dequant(B)^T (+ beta C). ADT: FP4_BF16, FP4_F16 or FP4_F32. */
template <int FMT, int ADT, int WM, int WN, int TM, int TN>
__global__ void __launch_bounds__(WM *WN * 32, 1) fp4__cuda_gemm_w4a16_kernel(const fp4__cuda_gemm_w4a16_args p) {
  constexpr int THREADS = WM * WN * 32, BM = WM * TM * 16, BN = WN * TN * 8;
  constexpr int BLK = FMT == FP4_MXFP4 ? 32 : 16, NBS = FP4__CG_BK / BLK, STAGES = 3;
  constexpr int AB = ADT == FP4_F32 ? 4 : 2, BF = ADT != FP4_F16, TERMS = ADT == FP4_F32 ? 3 : 1;
  constexpr int SB_PER = (BN * NBS + THREADS - 1) / THREADS;
  typedef fp4__cuda_gemm_w4a16_stage<BM, BN, AB, NBS> stage_t;
  static_assert(sizeof(stage_t) % 16 == 0, "stage size");
  extern __shared__ __align__(16) unsigned char fp4__cg_smem[];
  stage_t *st = reinterpret_cast<stage_t *>(fp4__cg_smem);

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, l = lane & 3;
  const int wm = warp / WN, wn = warp % WN;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const int64_t K = p.K, nblk = K / BLK;
  const int nk = (int)((K + FP4__CG_BK - 1) / FP4__CG_BK);
  const uint8_t *A = reinterpret_cast<const uint8_t *>(p.a);

  float acc[TM][TN][4];
#pragma unroll
  for (int i = 0; i < TM; i++)
#pragma unroll
    for (int j = 0; j < TN; j++) acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0.0f;

  uint8_t rb[SB_PER];
  auto fetch_scales = [&](int s) {
#pragma unroll
    for (int i = 0; i < SB_PER; i++) {
      int e = tid + i * THREADS, r = e % BN, j = e / BN;
      rb[i] = e < BN * NBS ? fp4__cuda_gemm_scale(p.sb, p.lb, n0 + r, p.N, (int64_t)s * NBS + j, nblk, 0) : 0;
    }
  };
  auto store_scales = [&](int s) {
    stage_t &S = st[s % STAGES];
#pragma unroll
    for (int i = 0; i < SB_PER; i++) {
      int e = tid + i * THREADS, r = e % BN, j = e / BN;
      if (e < BN * NBS) {
        uint32_t v;
        if (FMT == FP4_MXFP4) {
          v = __float_as_uint(fp4__cuda_gemm_e8m0_f(rb[i], 0));
        } else {
          float f = fp4_e4m3_to_float(rb[i]); /* exact in bf16 and in f16 (NaN stays NaN) */
          uint32_t h = BF ? (uint32_t)fp4_f32_to_bf16(f) : (uint32_t)fp4_f32_to_f16(f);
          v = h | (h << 16);
        }
        S.s[j][r] = v;
      }
    }
  };
  auto load_tiles = [&](int s) {
    stage_t &S = st[s % STAGES];
    const int64_t k0 = (int64_t)s * FP4__CG_BK;
    constexpr int CPR = FP4__CG_BK * AB / 16; /* 16-byte chunks per activation row */
    for (int i = tid; i < BM * CPR; i += THREADS) {
      int r = i / CPR, c = i % CPR;
      int64_t k = k0 + c * (16 / AB);
      bool ok = (m0 + r) < p.M && k < K;
      const uint8_t *src = ok ? A + ((int64_t)(m0 + r) * p.lda + k) * AB : A;
      fp4__cuda_gemm_cp_async<16>(S.a + r * FP4__CG_BK * AB + fp4__cuda_gemm_achunk<AB>(r, c) * 16, src, ok ? 16 : 0);
    }
    fp4__cuda_gemm_load_codes<BN, THREADS>(S.b, p.b, n0, p.N, K, k0, tid, p.vec16);
  };

#pragma unroll
  for (int s = 0; s < STAGES - 1; s++) {
    if (s < nk) {
      load_tiles(s);
      fetch_scales(s);
      store_scales(s);
    }
    fp4__cuda_gemm_cp_commit();
  }
  for (int kt = 0; kt < nk; kt++) {
    fp4__cuda_gemm_cp_wait<STAGES - 2>();
    __syncthreads();
    const int nxt = kt + STAGES - 1;
    if (nxt < nk) {
      load_tiles(nxt);
      fetch_scales(nxt);
    }
    fp4__cuda_gemm_cp_commit();
    const stage_t &S = st[kt % STAGES];
#pragma unroll
    for (int q = 0; q < 2; q++) { /* two 32-wide chunks per stage */
      if ((int64_t)kt * FP4__CG_BK + q * 32 >= K) break;
      /* weights: lane l takes codes 8l..8l+7 of the chunk: MMA 0 gets (8l,8l+1 | 8l+2,8l+3), MMA 1 the rest */
      uint32_t bf[TN][4];
      float2 sc[TN];
#pragma unroll
      for (int t = 0; t < TN; t++) {
        const int c = wn * TN * 8 + t * 8 + g;
        uint32_t w = *reinterpret_cast<const uint32_t *>(S.b + c * FP4__CG_PITCH + q * 16 + 4 * l);
        fp4__cuda_gemm_e2m1x4_h16<BF>(w & 0xFFFFu, bf[t][0], bf[t][1]);
        fp4__cuda_gemm_e2m1x4_h16<BF>(w >> 16, bf[t][2], bf[t][3]);
        if (FMT == FP4_NVFP4) { /* codes 8l.. belong to 16-block 2q + (l >> 1) */
          const uint32_t s2 = S.s[2 * q + (l >> 1)][c];
#pragma unroll
          for (int u = 0; u < 4; u++) bf[t][u] = fp4__cuda_gemm_hmul2<BF>(bf[t][u], s2);
        } else {
          const int cc = wn * TN * 8 + t * 8 + 2 * l;
          sc[t] = make_float2(__uint_as_float(S.s[q][cc]), __uint_as_float(S.s[q][cc + 1]));
        }
      }
#pragma unroll
      for (int i = 0; i < TM; i++) {
        const int r0 = wm * TM * 16 + i * 16 + g;
        uint32_t x0[3][4], x1[3][4];
        fp4__cuda_gemm_afrag<ADT, AB>(S.a, r0, q, l, x0);
        fp4__cuda_gemm_afrag<ADT, AB>(S.a, r0 + 8, q, l, x1);
#pragma unroll
        for (int t = 0; t < TN; t++) {
          float part[4] = {0.0f, 0.0f, 0.0f, 0.0f};
          float *d = FMT == FP4_MXFP4 ? part : acc[i][t];
#pragma unroll
          for (int h = 0; h < TERMS; h++) {
            const uint32_t a0[4] = {x0[h][0], x1[h][0], x0[h][1], x1[h][1]};
            const uint32_t a1[4] = {x0[h][2], x1[h][2], x0[h][3], x1[h][3]};
            const uint32_t b0[2] = {bf[t][0], bf[t][1]}, b1[2] = {bf[t][2], bf[t][3]};
            fp4__cuda_gemm_mma_h16<BF>(d, a0, b0);
            fp4__cuda_gemm_mma_h16<BF>(d, a1, b1);
          }
          if (FMT == FP4_MXFP4) {
            acc[i][t][0] = fmaf(part[0], sc[t].x, acc[i][t][0]);
            acc[i][t][1] = fmaf(part[1], sc[t].y, acc[i][t][1]);
            acc[i][t][2] = fmaf(part[2], sc[t].x, acc[i][t][2]);
            acc[i][t][3] = fmaf(part[3], sc[t].y, acc[i][t][3]);
          }
        }
      }
    }
    if (nxt < nk) store_scales(nxt);
  }
  fp4__cuda_gemm_cp_wait<0>();
#pragma unroll
  for (int i = 0; i < TM; i++)
#pragma unroll
    for (int t = 0; t < TN; t++)
      fp4__cuda_gemm_store4(p.C, p.ct, p.ldc, p.M, p.N, m0 + wm * TM * 16 + i * 16 + g, n0 + wn * TN * 8 + t * 8 + 2 * l,
                                acc[i][t], p.alpha, p.beta);
}

/* ==== cuda gemm: blackwell ==== */

/* sm_100 family: tcgen05.mma kind::mxf4nvf4.block16 (NVFP4) / kind::mxf4.block32 (MXFP4), one 128x128
 * tile per CTA of 128 threads, K in steps of 64 codes, scales copied smem -> TMEM with tcgen05.cp from
 * a 128x4 atom laid out by fp4_swizzle_offset (spec §2, the layout the tested paths convert to).
 * Deliberately simple (no pipelining, one MMA in flight) and never executed: no sm_100 GPU here. */
#define FP4__CG_TC_BM 128
#define FP4__CG_TC_BN 128

/* Shared-memory matrix descriptor, no swizzle, K-major core matrices of 8 rows x 16 bytes:
 * address>>4 [0,14), leading byte offset>>4 [16,30), stride byte offset>>4 [32,46), version 1 at 46. */
static __device__ __forceinline__ uint64_t fp4__cuda_gemm_tc_desc(const void *smem, uint32_t lbo, uint32_t sbo) {
  const uint32_t a = (uint32_t)__cvta_generic_to_shared(smem);
  return (uint64_t)((a >> 4) & 0x3FFFu) | ((uint64_t)((lbo >> 4) & 0x3FFFu) << 16) |
         ((uint64_t)((sbo >> 4) & 0x3FFFu) << 32) | ((uint64_t)1 << 46);
}

template <int FMT>
__global__ void __launch_bounds__(128, 1) fp4__cuda_gemm_w4a4_tcgen05_kernel(const fp4__cuda_gemm_w4a4_args p) {
  constexpr int BLK = FMT == FP4_MXFP4 ? 32 : 16, NBS = 64 / BLK;
  __shared__ __align__(1024) uint8_t sA[FP4__CG_TC_BM * 32];
  __shared__ __align__(1024) uint8_t sB[FP4__CG_TC_BN * 32];
  __shared__ __align__(128) uint8_t sSA[512], sSB[512];
  const int tid = threadIdx.x;
  const int m0 = blockIdx.y * FP4__CG_TC_BM, n0 = blockIdx.x * FP4__CG_TC_BN;
  const int64_t K = p.K, nblk = K / BLK;
  const int nk = (int)((K + 63) / 64);
#if defined(FP4__CUDA_GEMM_TCGEN05)
  __shared__ __align__(8) uint64_t mbar;
  __shared__ uint32_t tmem_base;
  const int warp = tid >> 5;
  const uint32_t bar = (uint32_t)__cvta_generic_to_shared(&mbar);
  if (tid == 0) asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;\n" ::"r"(bar));
  if (warp == 0) {
    asm volatile("tcgen05.alloc.cta_group::1.sync.aligned.shared::cta.b32 [%0], 256;\n" ::"r"(
        (uint32_t)__cvta_generic_to_shared(&tmem_base)));
    asm volatile("tcgen05.relinquish_alloc_permit.cta_group::1.sync.aligned;\n");
  }
  asm volatile("tcgen05.fence::before_thread_sync;\n");
  __syncthreads();
  asm volatile("tcgen05.fence::after_thread_sync;\n");
  const uint32_t tD = tmem_base, tSA = tmem_base + 128, tSB = tmem_base + 132;
  /* instruction descriptor (BLACKWELL.md §3): E2M1 A/B, K-major, N>>3, scale format, M>>4 */
  const uint32_t idesc = (1u << 7) | (1u << 10) | ((uint32_t)(FP4__CG_TC_BN >> 3) << 17) |
                         ((FMT == FP4_MXFP4 ? 1u : 0u) << 23) | ((uint32_t)(FP4__CG_TC_BM >> 4) << 24);
  for (int kt = 0; kt < nk; kt++) {
    /* operands: core matrix (r/8, chunk c) at (r/8)*256 + c*128, row r%8 at +16*(r%8) */
    for (int i = tid; i < 2 * (FP4__CG_TC_BM + FP4__CG_TC_BN); i += 128) {
      const bool isA = i < 2 * FP4__CG_TC_BM;
      const int e = isA ? i : i - 2 * FP4__CG_TC_BM, r = e >> 1, c = e & 1;
      const int grow = (isA ? m0 : n0) + r, nrows = isA ? p.M : p.N;
      const int64_t kb = (int64_t)kt * 32 + c * 16;
      uint4 v = make_uint4(0, 0, 0, 0);
      if (grow < nrows && kb < K / 2) {
        const uint8_t *src = (isA ? p.a : p.b) + (int64_t)grow * (K / 2) + kb;
        if (kb + 16 <= K / 2) v = *reinterpret_cast<const uint4 *>(src);
        else v.x = *reinterpret_cast<const uint32_t *>(src), v.y = *reinterpret_cast<const uint32_t *>(src + 4);
      }
      *reinterpret_cast<uint4 *>((isA ? sA : sB) + (r >> 3) * 256 + c * 128 + (r & 7) * 16) = v;
    }
    /* scales: one 128 x 4 atom each, offset fp4_swizzle_offset(r, j, 4) (spec §2) */
    for (int i = tid; i < 2 * 128 * 4; i += 128) {
      const bool isA = i < 512;
      const int e = i & 511, r = e >> 2, j = e & 3;
      uint8_t v = 0;
      if (j < NBS)
        v = isA ? fp4__cuda_gemm_scale(p.sa, p.la, m0 + r, p.M, (int64_t)kt * NBS + j, nblk, 0)
                : fp4__cuda_gemm_scale(p.sb, p.lb, n0 + r, p.N, (int64_t)kt * NBS + j, nblk, 0);
      (isA ? sSA : sSB)[fp4_swizzle_offset(r, j, 4)] = v;
    }
    asm volatile("fence.proxy.async.shared::cta;\n");
    asm volatile("tcgen05.fence::before_thread_sync;\n");
    __syncthreads();
    asm volatile("tcgen05.fence::after_thread_sync;\n");
    if (tid == 0) {
      asm volatile("tcgen05.cp.cta_group::1.32x128b.warpx4 [%0], %1;\n" ::"r"(tSA),
                   "l"(fp4__cuda_gemm_tc_desc(sSA, 16, 128)));
      asm volatile("tcgen05.cp.cta_group::1.32x128b.warpx4 [%0], %1;\n" ::"r"(tSB),
                   "l"(fp4__cuda_gemm_tc_desc(sSB, 16, 128)));
      const uint64_t da = fp4__cuda_gemm_tc_desc(sA, 128, 256), db = fp4__cuda_gemm_tc_desc(sB, 128, 256);
      if (FMT == FP4_NVFP4)
        asm volatile("{\n\t.reg .pred p;\n\tsetp.ne.b32 p, %4, 0;\n\t"
                     "tcgen05.mma.cta_group::1.kind::mxf4nvf4.block_scale.block16 [%0], %1, %2, %3, [%5], [%6], p;\n\t}\n"
                     ::"r"(tD), "l"(da), "l"(db), "r"(idesc), "r"(kt > 0 ? 1u : 0u), "r"(tSA), "r"(tSB));
      else
        asm volatile("{\n\t.reg .pred p;\n\tsetp.ne.b32 p, %4, 0;\n\t"
                     "tcgen05.mma.cta_group::1.kind::mxf4.block_scale.block32 [%0], %1, %2, %3, [%5], [%6], p;\n\t}\n"
                     ::"r"(tD), "l"(da), "l"(db), "r"(idesc), "r"(kt > 0 ? 1u : 0u), "r"(tSA), "r"(tSB));
      asm volatile("tcgen05.commit.cta_group::1.mbarrier::arrive::one.shared::cluster.b64 [%0];\n" ::"r"(bar));
    }
    /* wait for the MMA (and the scale copies before it) before the tiles are overwritten */
    asm volatile("{\n\t.reg .pred done;\n\tWAIT_%=:\n\t"
                 "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n\t"
                 "@!done bra WAIT_%=;\n\t}\n" ::"r"(bar), "r"((uint32_t)(kt & 1)));
    asm volatile("tcgen05.fence::after_thread_sync;\n");
  }
  /* D: row m is TMEM lane m, column n is column n; warp w reads lanes 32w..32w+31 */
  const int row = m0 + warp * 32 + (tid & 31);
  for (int c0 = 0; c0 < FP4__CG_TC_BN; c0 += 4) {
    uint32_t r[4];
    asm volatile("tcgen05.ld.sync.aligned.32x32b.x4.b32 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(tD + ((uint32_t)(warp * 32) << 16) + (uint32_t)c0));
    asm volatile("tcgen05.wait::ld.sync.aligned;\n");
#pragma unroll
    for (int j = 0; j < 4; j++) {
      const int col = n0 + c0 + j;
      if (row < p.M && col < p.N) {
        const int64_t e = (int64_t)row * p.ldc + col;
        fp4__store(p.C, p.ct, e, fp4_gemm_epilogue(p.alpha, __uint_as_float(r[j]), p.beta,
                                                   p.beta != 0.0f ? fp4__load(p.C, p.ct, e) : 0.0f));
      }
    }
  }
  asm volatile("tcgen05.fence::before_thread_sync;\n");
  __syncthreads();
  if (warp == 0) asm volatile("tcgen05.dealloc.cta_group::1.sync.aligned.b32 %0, 256;\n" ::"r"(tmem_base));
#else
  (void)sA; (void)sB; (void)sSA; (void)sSB; (void)tid; (void)NBS; (void)m0; (void)n0; (void)nblk; (void)nk;
  __trap(); /* tcgen05 exists only in sm_100-family builds; the host never launches this elsewhere */
#endif
}

/* ==== cuda gemm: host API ==== */

/* Inside fp4_cuda.cuh the W4A16 entry points hand M <= FP4__CG_GEMV_M to its decode GEMV: M = 1 only,
 * the one size where bench/RESULTS.md shows that GEMV ahead of cuBLAS BF16 (it measured slower at M = 4
 * and 16, where the tensor-core kernel below is meant to serve). */
#define FP4__CG_GEMV_M 1

/* Bytes of caller workspace the CUDA GEMMs need: the tensor-core kernels need none; the decode GEMV's
 * split-K does. */
FP4_API size_t fp4_cuda_gemm_workspace_size(int64_t M, int64_t N, int64_t K) {
#if defined(FP4_CUDA_GEMV_MAX_M)
  return M <= FP4__CG_GEMV_M ? fp4_cuda_gemv_workspace_size(M, N, K) : 0;
#else
  (void)M; (void)N; (void)K;
  return 0;
#endif
}

/* Tile configurations behind one entry point (run-time choice over a listed set). */
#define FP4_CUDA_GEMM_TILE_AUTO (-1)
#define FP4_CUDA_GEMM_TILE_128x128 0 /* 8 warps, 2 x 4, warp tile 64 x 32 */
#define FP4_CUDA_GEMM_TILE_64x128 1  /* 8 warps, 2 x 4, warp tile 32 x 32 */
#define FP4_CUDA_GEMM_TILE_16x128 2  /* 8 warps, 1 x 8, warp tile 16 x 16 (W4A16, small M) */
#define FP4_CUDA_GEMM_TILE_16x64 3   /* 4 warps, 1 x 4, warp tile 16 x 16 (W4A16, small M) */
#define FP4_CUDA_GEMM_TILE_COUNT 4

/* Engines of fp4__cuda_gemm_w4a4: exact (fp4.h's bits), or the fastest native one of the device. */
#define FP4_CUDA_GEMM_W4A4_EXACT 0
#define FP4_CUDA_GEMM_W4A4_NATIVE 1

static inline int fp4__cuda_gemm_cdiv(int64_t a, int64_t b) { return (int)((a + b - 1) / b); }

/* Number of SMs of the current device (0 on error). */
static inline int fp4__cuda_gemm_sms(void) {
  int dev = 0, n = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess)
    return 0;
  return n;
}
static inline int fp4__cuda_gemm_major(void) {
  int dev = 0, n = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&n, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess)
    return 0;
  return n;
}

/* Launch one instantiation with its dynamic shared memory. */
template <typename KER, typename ARGS>
static inline fp4_status fp4__cuda_gemm_launch(KER kernel, dim3 grid, int threads, size_t smem, const ARGS &a,
                                               cudaStream_t stream) {
  if (smem > 48 * 1024 && cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem) != cudaSuccess)
    return FP4_ERR_DEVICE;
  kernel<<<grid, threads, smem, stream>>>(a);
  return fp4__cuda_gemm_status(cudaGetLastError());
}

template <int FMT, int ENGINE>
static inline fp4_status fp4__cuda_gemm_w4a4_tiled(const fp4__cuda_gemm_w4a4_args &a, int tile, cudaStream_t s) {
  constexpr int NBS = 64 / (FMT == FP4_MXFP4 ? 32 : 16);
  if (tile == FP4_CUDA_GEMM_TILE_128x128)
    return fp4__cuda_gemm_launch(fp4__cuda_gemm_w4a4_kernel<FMT, 2, 4, 4, 4, ENGINE>,
                                 dim3(fp4__cuda_gemm_cdiv(a.N, 128), fp4__cuda_gemm_cdiv(a.M, 128)), 256,
                                 4 * sizeof(fp4__cuda_gemm_w4a4_stage<128, 128, NBS>), a, s);
  return fp4__cuda_gemm_launch(fp4__cuda_gemm_w4a4_kernel<FMT, 2, 4, 2, 4, ENGINE>,
                               dim3(fp4__cuda_gemm_cdiv(a.N, 128), fp4__cuda_gemm_cdiv(a.M, 64)), 256,
                               4 * sizeof(fp4__cuda_gemm_w4a4_stage<64, 128, NBS>), a, s);
}

static inline fp4_status fp4__cuda_gemm_w4a4_go(const fp4__cuda_gemm_w4a4_args &a, fp4_format f, int engine, int tile,
                                                cudaStream_t s) {
  if (engine == FP4_CUDA_GEMM_W4A4_NATIVE) {
    const int major = fp4__cuda_gemm_major();
    if (major == 12) {
      if (!a.vec16) return FP4_ERR_ALIGN;
      return f == FP4_MXFP4 ? fp4__cuda_gemm_w4a4_tiled<FP4_MXFP4, FP4__CG_SM120>(a, tile, s)
                            : fp4__cuda_gemm_w4a4_tiled<FP4_NVFP4, FP4__CG_SM120>(a, tile, s);
    }
    if (major == 10 || major == 11) {
      const dim3 grid(fp4__cuda_gemm_cdiv(a.N, FP4__CG_TC_BN), fp4__cuda_gemm_cdiv(a.M, FP4__CG_TC_BM));
      return f == FP4_MXFP4 ? fp4__cuda_gemm_launch(fp4__cuda_gemm_w4a4_tcgen05_kernel<FP4_MXFP4>, grid, 128, 0, a, s)
                            : fp4__cuda_gemm_launch(fp4__cuda_gemm_w4a4_tcgen05_kernel<FP4_NVFP4>, grid, 128, 0, a, s);
    }
    /* no native FP4 MMA (Hopper, Ampere, Ada): the exact kernel is also the fastest here */
  }
  return f == FP4_MXFP4 ? fp4__cuda_gemm_w4a4_tiled<FP4_MXFP4, FP4__CG_EXACT>(a, tile, s)
                        : fp4__cuda_gemm_w4a4_tiled<FP4_NVFP4, FP4__CG_EXACT>(a, tile, s);
}

/* Validation as fp4.h's fp4__gemm_w4a4 (spec §4) plus the kernels' alignment needs, then launch.
 * tile: FP4_CUDA_GEMM_TILE_* or AUTO; engine: FP4_CUDA_GEMM_W4A4_*. Callable for tests. */
FP4_API fp4_status fp4__cuda_gemm_w4a4(const fp4_tensor *A, const fp4_tensor *B, float alpha, float beta, void *C,
                                       fp4_dtype ct, int64_t ldc, void *ws, size_t ws_bytes, cudaStream_t stream,
                                       int engine, int tile) {
  fp4_status st;
  fp4__cuda_gemm_w4a4_args a;
  int vec;
  (void)ws;
  if ((st = fp4__check_tensor(A)) != FP4_OK || (st = fp4__check_tensor(B)) != FP4_OK) return st;
  if (A->format != B->format || A->cols != B->cols) return FP4_ERR_UNSUPPORTED;
  if ((st = fp4__check_gemm_out(C, ct, A->rows, B->rows, ldc, B)) != FP4_OK) return st;
  {
    size_t cs = fp4__span(A->rows, B->rows, ldc, ct);
    if (fp4__overlap(C, cs, A->data, fp4_data_bytes(A->rows, A->cols)) ||
        fp4__overlap(C, cs, A->scales, fp4_scale_bytes(A->format, A->rows, A->cols, A->scale_layout)))
      return FP4_ERR_ALIAS;
  }
  if (A->rows > 0x7FFFFFFF - 256 || B->rows > 0x7FFFFFFF - 256) return FP4_ERR_OVERFLOW;
  (void)ws_bytes; /* the W4A4 kernels need no workspace */
  if (engine != FP4_CUDA_GEMM_W4A4_EXACT && engine != FP4_CUDA_GEMM_W4A4_NATIVE) return FP4_ERR_ARG;
  if (tile == FP4_CUDA_GEMM_TILE_AUTO) {
    const int64_t big = (int64_t)fp4__cuda_gemm_cdiv(A->rows, 128) * fp4__cuda_gemm_cdiv(B->rows, 128);
    tile = big >= 2 * (int64_t)fp4__cuda_gemm_sms() ? FP4_CUDA_GEMM_TILE_128x128 : FP4_CUDA_GEMM_TILE_64x128;
  }
  if (tile != FP4_CUDA_GEMM_TILE_128x128 && tile != FP4_CUDA_GEMM_TILE_64x128) return FP4_ERR_ARG;
  /* packed rows are K/2 bytes: 16-byte copies when rows and bases allow, else 8 (NVFP4 with K % 32 == 16) */
  vec = ((A->cols / 2) % 16 == 0 && (uintptr_t)A->data % 16 == 0 && (uintptr_t)B->data % 16 == 0) ? 16 : 8;
  if ((uintptr_t)A->data % 8 || (uintptr_t)B->data % 8) return FP4_ERR_ALIGN;
  if (vec == 8 && A->format == FP4_MXFP4) return FP4_ERR_ALIGN;
  a.a = A->data;
  a.b = B->data;
  a.sa = A->scales;
  a.sb = B->scales;
  a.la = A->scale_layout;
  a.lb = B->scale_layout;
  a.M = (int)A->rows;
  a.N = (int)B->rows;
  a.K = A->cols;
  a.C = C;
  a.ct = ct;
  a.ldc = ldc;
  a.alpha = fp4__mul(alpha, A->tensor_scale) * B->tensor_scale; /* alpha_eff, as fp4.h */
  a.beta = beta;
  a.vec16 = vec == 16;
  return fp4__cuda_gemm_w4a4_go(a, A->format, engine, tile, stream);
}

template <int FMT, int ADT>
static inline fp4_status fp4__cuda_gemm_w4a16_tiled(const fp4__cuda_gemm_w4a16_args &a, int tile, cudaStream_t s) {
  constexpr int NBS = 64 / (FMT == FP4_MXFP4 ? 32 : 16), AB = ADT == FP4_F32 ? 4 : 2;
  if (tile == FP4_CUDA_GEMM_TILE_128x128)
    return fp4__cuda_gemm_launch(fp4__cuda_gemm_w4a16_kernel<FMT, ADT, 2, 4, 4, 4>,
                                 dim3(fp4__cuda_gemm_cdiv(a.N, 128), fp4__cuda_gemm_cdiv(a.M, 128)), 256,
                                 3 * sizeof(fp4__cuda_gemm_w4a16_stage<128, 128, AB, NBS>), a, s);
  if (tile == FP4_CUDA_GEMM_TILE_64x128)
    return fp4__cuda_gemm_launch(fp4__cuda_gemm_w4a16_kernel<FMT, ADT, 2, 4, 2, 4>,
                                 dim3(fp4__cuda_gemm_cdiv(a.N, 128), fp4__cuda_gemm_cdiv(a.M, 64)), 256,
                                 3 * sizeof(fp4__cuda_gemm_w4a16_stage<64, 128, AB, NBS>), a, s);
  if (tile == FP4_CUDA_GEMM_TILE_16x128)
    return fp4__cuda_gemm_launch(fp4__cuda_gemm_w4a16_kernel<FMT, ADT, 1, 8, 1, 2>,
                                 dim3(fp4__cuda_gemm_cdiv(a.N, 128), fp4__cuda_gemm_cdiv(a.M, 16)), 256,
                                 3 * sizeof(fp4__cuda_gemm_w4a16_stage<16, 128, AB, NBS>), a, s);
  return fp4__cuda_gemm_launch(fp4__cuda_gemm_w4a16_kernel<FMT, ADT, 1, 4, 1, 2>,
                               dim3(fp4__cuda_gemm_cdiv(a.N, 64), fp4__cuda_gemm_cdiv(a.M, 16)), 128,
                               3 * sizeof(fp4__cuda_gemm_w4a16_stage<16, 64, AB, NBS>), a, s);
}

/* W4A16: validation as fp4.h's fp4__gemm_w4a16 plus alignment (activation rows start on 16 bytes). */
FP4_API fp4_status fp4__cuda_gemm_w4a16(const void *A, fp4_dtype at, int64_t M, int64_t lda, const fp4_tensor *B,
                                        float alpha, float beta, void *C, fp4_dtype ct, int64_t ldc, void *ws,
                                        size_t ws_bytes, cudaStream_t stream, int tile) {
  fp4_status st;
  fp4__cuda_gemm_w4a16_args a;
  int vec;
  (void)ws;
  if ((st = fp4__check_tensor(B)) != FP4_OK) return st;
  if (!A) return FP4_ERR_NULL;
  if ((unsigned)at >= FP4_DTYPE_COUNT || (unsigned)ct >= FP4_DTYPE_COUNT) return FP4_ERR_ENUM;
  if ((st = fp4__check_dims(M, B->cols, lda)) != FP4_OK) return st;
  if ((uintptr_t)A % fp4__dtype_size(at)) return FP4_ERR_ALIGN;
  if ((st = fp4__check_gemm_out(C, ct, M, B->rows, ldc, B)) != FP4_OK) return st;
  if (fp4__overlap(C, fp4__span(M, B->rows, ldc, ct), A, fp4__span(M, B->cols, lda, at))) return FP4_ERR_ALIAS;
  if (M > 0x7FFFFFFF - 256 || B->rows > 0x7FFFFFFF - 256) return FP4_ERR_OVERFLOW;
#if defined(FP4_CUDA_GEMV_MAX_M)
  /* small M: the bandwidth-bound decode GEMV of fp4_cuda.cuh (it validates on its own) */
  if (tile == FP4_CUDA_GEMM_TILE_AUTO && M <= FP4__CG_GEMV_M && M <= FP4_CUDA_GEMV_MAX_M)
    return fp4__cuda_gemv_w4a16(A, at, M, lda, B, alpha, beta, C, ct, ldc, ws, ws_bytes, stream);
#else
  (void)ws_bytes;
#endif
  if ((uintptr_t)A % 16 || ((size_t)lda * fp4__dtype_size(at)) % 16) return FP4_ERR_ALIGN;
  vec = ((B->cols / 2) % 16 == 0 && (uintptr_t)B->data % 16 == 0) ? 16 : 8;
  if ((uintptr_t)B->data % 8 || (vec == 8 && B->format == FP4_MXFP4)) return FP4_ERR_ALIGN;
  if (tile == FP4_CUDA_GEMM_TILE_AUTO) {
    const int sms = fp4__cuda_gemm_sms();
    if (M <= 16) tile = (int64_t)fp4__cuda_gemm_cdiv(B->rows, 128) >= sms ? FP4_CUDA_GEMM_TILE_16x128 : FP4_CUDA_GEMM_TILE_16x64;
    else if ((int64_t)fp4__cuda_gemm_cdiv(M, 128) * fp4__cuda_gemm_cdiv(B->rows, 128) >= 2 * (int64_t)sms)
      tile = FP4_CUDA_GEMM_TILE_128x128;
    else tile = FP4_CUDA_GEMM_TILE_64x128;
  }
  if (tile < 0 || tile >= FP4_CUDA_GEMM_TILE_COUNT) return FP4_ERR_ARG;
  a.a = A;
  a.lda = lda;
  a.b = B->data;
  a.sb = B->scales;
  a.lb = B->scale_layout;
  a.M = (int)M;
  a.N = (int)B->rows;
  a.K = B->cols;
  a.C = C;
  a.ldc = ldc;
  a.alpha = alpha * B->tensor_scale; /* alpha_eff, as fp4.h */
  a.beta = beta;
a.vec16 = vec == 16;
  a.ct = ct;
  if (at == FP4_BF16)
    return B->format == FP4_MXFP4 ? fp4__cuda_gemm_w4a16_tiled<FP4_MXFP4, FP4_BF16>(a, tile, stream)
                                  : fp4__cuda_gemm_w4a16_tiled<FP4_NVFP4, FP4_BF16>(a, tile, stream);
  if (at == FP4_F16)
    return B->format == FP4_MXFP4 ? fp4__cuda_gemm_w4a16_tiled<FP4_MXFP4, FP4_F16>(a, tile, stream)
                                  : fp4__cuda_gemm_w4a16_tiled<FP4_NVFP4, FP4_F16>(a, tile, stream);
  return B->format == FP4_MXFP4 ? fp4__cuda_gemm_w4a16_tiled<FP4_MXFP4, FP4_F32>(a, tile, stream)
                                : fp4__cuda_gemm_w4a16_tiled<FP4_NVFP4, FP4_F32>(a, tile, stream);
}

/* The public names, parallel to fp4.h's fp4_gemm_* plus a trailing stream (STYLE: macros stamp out
 * names and thin wrappers). fp4_cuda_gemm_w4a4_<out>: reproducible, fp4.h's bits. _fast_<out>: the
 * device's native FP4 MMA where it has one (Blackwell), else the same exact kernel. */
#define FP4__CG_CAT3_(a, b, c) a##b##c
#define FP4__CG_CAT3(a, b, c) FP4__CG_CAT3_(a, b, c)
#define FP4__CG_W4A4(ON, OT, ODT)                                                                                 \
  FP4_API fp4_status FP4__CG_CAT3(fp4_cuda_gemm_w4a4_, ON, )(const fp4_tensor *A, const fp4_tensor *B, float alpha, \
                                                             float beta, OT *C, int64_t ldc, void *ws, size_t ws_bytes, \
                                                             cudaStream_t stream) {                               \
    return fp4__cuda_gemm_w4a4(A, B, alpha, beta, C, ODT, ldc, ws, ws_bytes, stream, FP4_CUDA_GEMM_W4A4_EXACT,     \
                               FP4_CUDA_GEMM_TILE_AUTO);                                                          \
  }                                                                                                               \
  FP4_API fp4_status FP4__CG_CAT3(fp4_cuda_gemm_w4a4_fast_, ON, )(const fp4_tensor *A, const fp4_tensor *B, float alpha, \
                                                                  float beta, OT *C, int64_t ldc, void *ws,       \
                                                                  size_t ws_bytes, cudaStream_t stream) {         \
    return fp4__cuda_gemm_w4a4(A, B, alpha, beta, C, ODT, ldc, ws, ws_bytes, stream, FP4_CUDA_GEMM_W4A4_NATIVE,    \
                               FP4_CUDA_GEMM_TILE_AUTO);                                                          \
  }
#define FP4__CG_W4A16(AN, AT, ADT, ON, OT, ODT)                                                                   \
  FP4_API fp4_status FP4__CG_CAT3(fp4_cuda_gemm_w4a16_, AN, FP4__CG_CAT3(_, ON, ))(                               \
      const AT *A, int64_t M, int64_t lda, const fp4_tensor *B, float alpha, float beta, OT *C, int64_t ldc, void *ws, \
      size_t ws_bytes, cudaStream_t stream) {                                                                     \
    return fp4__cuda_gemm_w4a16(A, ADT, M, lda, B, alpha, beta, C, ODT, ldc, ws, ws_bytes, stream,                \
                                FP4_CUDA_GEMM_TILE_AUTO);                                                         \
  }
#define FP4__CG_W4A16_OUTS(AN, AT, ADT)               \
  FP4__CG_W4A16(AN, AT, ADT, f32, float, FP4_F32)     \
  FP4__CG_W4A16(AN, AT, ADT, bf16, uint16_t, FP4_BF16) \
  FP4__CG_W4A16(AN, AT, ADT, f16, uint16_t, FP4_F16)

FP4__CG_W4A4(f32, float, FP4_F32)
FP4__CG_W4A4(bf16, uint16_t, FP4_BF16)
FP4__CG_W4A4(f16, uint16_t, FP4_F16)
FP4__CG_W4A16_OUTS(f32, float, FP4_F32)
FP4__CG_W4A16_OUTS(bf16, uint16_t, FP4_BF16)
FP4__CG_W4A16_OUTS(f16, uint16_t, FP4_F16)

#undef FP4__CG_W4A4
#undef FP4__CG_W4A16
#undef FP4__CG_W4A16_OUTS
#undef FP4__CG_CAT3
#undef FP4__CG_CAT3_

#endif /* FP4_CUDA_GEMM_INL */
