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
 *     ==== cuda gemm: hopper exact w4a4 ====  exact MXFP4 W4A4 on the FP8 wgmma (sm_90a, workspace)
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
 * SASS checked (.ci/steps/cuda_sass.sh) but never executed: no Blackwell GPU was available. On Hopper
 * (sm_90a build), given fp4_cuda_gemm_workspace_size bytes, the _fast names dequantize A into the
 * workspace as bf16 (exact) and run the wgmma W4A16 kernel; elsewhere, or without the workspace, they
 * run the exact kernel. The exact names, on Hopper with that workspace, run MXFP4 on the FP8 wgmma
 * kernel (the same bits; see its banner).
 */
#ifndef FP4_CUDA_GEMM_INL
#define FP4_CUDA_GEMM_INL

#include <cuda.h> /* CUtensorMap (the encoder is reached through the runtime: no -lcuda) */
#include <atomic>
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include "fp4.h"

/* Kernels are compiled where an entry point that launches them is called (see fp4_cuda.cuh). */
#ifndef FP4__CUDA_LAZY
#define FP4__CUDA_LAZY template <int fp4__lazy_ = 0>
#define FP4__CUDA_LAZY_DEF template <int fp4__lazy_>
#endif

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

/* 4 E2M1 codes (code i in bits 4i..4i+3) -> 4 sign-magnitude bytes: byte i = T[code i & 7] (T: the 8
 * bytes of t0, t1), with bit 7 set for a negative code. One table permute, then a second picks each
 * byte from the positive or the negative candidates by the code's sign bit. */
static __host__ __device__ __forceinline__ uint32_t fp4__cuda_gemm_e2m1x4_sm8(uint32_t x, uint32_t t0, uint32_t t1) {
  const uint32_t pos = fp4__cuda_gemm_prmt(t0, t1, x & 0x7777u);
  return fp4__cuda_gemm_prmt(pos, pos | 0x80808080u, 0x3210u | ((x & 0x8888u) >> 1));
}

/* 4 E2M1 codes -> 2 registers of two 16-bit floats (bf16 when BF, else f16), exact, by table permutes
 * of the low and high bytes of the 16-bit patterns (the sign only touches the high byte). */
template <int BF>
static __host__ __device__ __forceinline__ void fp4__cuda_gemm_e2m1x4_h16(uint32_t x, uint32_t &o0, uint32_t &o1) {
  /* bf16: 0 3F00 3F80 3FC0 4000 4040 4080 40C0; f16: 0 3800 3C00 3E00 4000 4200 4400 4600 */
  const uint32_t LO0 = BF ? 0xC0800000u : 0u, LO1 = BF ? 0xC0804000u : 0u;
  const uint32_t HI0 = BF ? 0x3F3F3F00u : 0x3E3C3800u, HI1 = BF ? 0x40404040u : 0x46444240u;
  uint32_t lo = fp4__cuda_gemm_prmt(LO0, LO1, x & 0x7777u);
  uint32_t hi = fp4__cuda_gemm_e2m1x4_sm8(x, HI0, HI1);
  o0 = fp4__cuda_gemm_prmt(lo, hi, 0x5140u);
  o1 = fp4__cuda_gemm_prmt(lo, hi, 0x7362u);
}

/* The E2M1 magnitudes 0 .5 1 1.5 | 2 3 4 6 as E4M3 bytes: fp4__cuda_gemm_e2m1x4_sm8's table for E4M3. */
#define FP4__CG_E4M3_LO 0x3C383000u
#define FP4__CG_E4M3_HI 0x4C484440u

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
#if !defined(FP4__CUDA_GEMM_SM120_MMA)
  /* the sm_120 engine exists only in sm_120-family builds; the host never launches it elsewhere (a stub
   * here, so that other builds do not compile its loads and epilogue) */
  if (ENGINE == FP4__CG_SM120) {
    (void)st;
    __trap();
    return;
  }
#endif

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
  int kchunk;      /* TMA kernel split-K: K stages per blockIdx.z (C: fp32 partials); 0: no split */
  int64_t zstride; /* elements between the partials of consecutive splits */
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

/* ==== cuda gemm: hopper wgmma ==== */

/* sm_90a W4A16 (and the Hopper W4A4 _fast path): C[M,N] = alpha_eff * X[M,K] . W[N,K]^T with A and B
 * swapped for the tensor cores: the dequantized weights are the wgmma A operand (64 weight rows per
 * warpgroup and instruction, taken from registers), the 16-bit activations the B operand (NX activation
 * rows, K-major in shared memory with the 128-byte swizzle, read through a matrix descriptor).
 *  - CTA: 256 threads = 2 warpgroups, 128 weight rows x NX activation rows (NX = 64, 128 or 256), K in
 *    stages of 64; a STAGES-deep cp.async ring (every thread copies; fence.proxy.async before the
 *    barrier that publishes a stage to the tensor cores); each warpgroup retires a stage's wgmma group
 *    before it dequantizes the next (see the main loop), and a stage is refilled two iterations later.
 *  - Activations: row r of a stage is 128 bytes, 16-byte chunk c stored at chunk c ^ (r & 7) (the
 *    SWIZZLE_128B pattern, 1024-byte aligned 8-row atoms, descriptor stride 1024); the k16 step s of a
 *    stage starts 32 s bytes into the row.
 *  - Weights: the packed rows of a stage land in shared memory as they are in global memory (48-byte
 *    pitch). wgmma's A fragment wants, per lane (g = lane/4, l = lane%4) and k16 step s, the code pairs
 *    16s+2l.. and 16s+8+2l.. of rows g and g+8: byte l of every packed 32-bit word. Each lane reads the
 *    row's 32 bytes and gathers its 8 bytes with 6 byte permutes (fp4__cuda_gemm_gather4), then decodes
 *    them with fp4__cuda_gemm_e2m1x4_h16 and scales them:
 *      NVFP4: E2M1 x E4M3 is exact in bf16 and f16: one packed multiply per pair;
 *      MXFP4 (bf16 activations only): E2M1 x 2^(e-127) in bf16 equals the fp32 dequantized value for
 *      every code (same exponent range; the smallest product 2^-128 is a bf16 subnormal, exact; code
 *      254 with |q| >= 4 overflows to Inf in both; 255 is NaN). With f16 activations the power of two
 *      leaves f16's range, so MXFP4 x f16 stays on the mma.sync kernel (fp32 promotion per block).
 *    The whole K accumulates in the wgmma fp32 accumulators; the tensor scale folds into alpha.
 *  - Epilogue: accumulator (weight row, activation row) pairs go straight to C[m, n] (alpha, beta,
 *    output type as fp4_gemm_epilogue). Fixed order: repeated calls give the same bits. The TMA kernel
 *    may split K when the caller passes a workspace (partials summed in split order), so the bits
 *    depend on whether a workspace is given and on the device's SM count.
 * Compiled only for sm_90a (wgmma); other builds get a trapping stub that the host never launches. */
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define FP4__CUDA_GEMM_WGMMA 1
#endif
#define FP4__CG_WG_BN 128 /* weight rows per CTA */
#define FP4__CG_WG_STAGES 5

/* Byte l of each of 8 packed words (w[0..7]) -> two words (bytes of w0..w3, then of w4..w7). */
static __host__ __device__ __forceinline__ void fp4__cuda_gemm_gather4(const uint32_t w[8], int l, uint32_t &u0,
                                                                       uint32_t &u1) {
  const uint32_t sel = (uint32_t)l | ((uint32_t)(l + 4) << 4);
  const uint32_t t0 = fp4__cuda_gemm_prmt(w[0], w[1], sel), t1 = fp4__cuda_gemm_prmt(w[2], w[3], sel);
  const uint32_t t2 = fp4__cuda_gemm_prmt(w[4], w[5], sel), t3 = fp4__cuda_gemm_prmt(w[6], w[7], sel);
  u0 = fp4__cuda_gemm_prmt(t0, t1, 0x5410u);
  u1 = fp4__cuda_gemm_prmt(t2, t3, 0x5410u);
}

/* A weight scale code as a pair of 16-bit floats (bf16 when BF, else f16), exact (see above). */
template <int FMT, int BF>
static __host__ __device__ __forceinline__ uint32_t fp4__cuda_gemm_scale_h2(uint8_t c) {
  uint32_t h;
  if (FMT == FP4_MXFP4) /* bf16 only: 2^(c-127); c = 0 is the subnormal 2^-127, 255 NaN */
    h = c == 0 ? 0x0040u : c == 0xFFu ? 0x7FC0u : (uint32_t)c << 7;
  else {
    const float f = fp4_e4m3_to_float(c); /* exact in bf16 and in f16 (NaN stays NaN) */
    h = BF ? (uint32_t)fp4_f32_to_bf16(f) : (uint32_t)fp4_f32_to_f16(f);
  }
  return h | (h << 16);
}

static __device__ __forceinline__ void fp4__cuda_gemm_wg_fence(void) {
#if defined(FP4__CUDA_GEMM_WGMMA)
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}
static __device__ __forceinline__ void fp4__cuda_gemm_wg_commit(void) {
#if defined(FP4__CUDA_GEMM_WGMMA)
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}
template <int N>
static __device__ __forceinline__ void fp4__cuda_gemm_wg_wait(void) {
#if defined(FP4__CUDA_GEMM_WGMMA)
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
#endif
}
/* Keeps the compiler from moving accumulator accesses across the asynchronous MMAs. */
static __device__ __forceinline__ void fp4__cuda_gemm_wg_reg(float &r) { asm volatile("" : "+f"(r)::"memory"); }

/* Shared-memory descriptor of a K-major, 128-byte swizzled operand: address>>4, leading byte offset
 * 16 (unused with this swizzle), stride byte offset 1024 (8-row atoms), layout type 1 (SWIZZLE_128B). */
static __device__ __forceinline__ uint64_t fp4__cuda_gemm_wg_desc(uint32_t saddr) {
  return (uint64_t)((saddr >> 4) & 0x3FFFu) | ((uint64_t)1 << 16) | ((uint64_t)(1024 >> 4) << 32) | ((uint64_t)1 << 62);
}

/* d[64 x NX] += A(64x16, registers: a[0..3] = rows g/g+8, k 2l.. / 8+2l..) . B(desc: NX x 16, K-major). */
template <int NX, int BF>
static __device__ __forceinline__ void fp4__cuda_gemm_wgmma(float *d, const uint32_t a[4], uint64_t desc) {
#if defined(FP4__CUDA_GEMM_WGMMA)
  if (NX == 64 && BF == 1)
    asm volatile(
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
        "{%32, %33, %34, %35}, %36, 1, 1, 1, 0;\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc));
  else if (NX == 64 && BF == 0)
    asm volatile(
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
        "{%32, %33, %34, %35}, %36, 1, 1, 1, 0;\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc));
  else if (NX == 128 && BF == 1)
    asm volatile(
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
        "{%64, %65, %66, %67}, %68, 1, 1, 1, 0;\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc));
  else if (NX == 128 && BF == 0)
    asm volatile(
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
        "{%64, %65, %66, %67}, %68, 1, 1, 1, 0;\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc));
  else if (NX == 256 && BF == 1)
    asm volatile(
        "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, "
        "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "
        "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "
        "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, "
        "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}, "
        "{%128, %129, %130, %131}, %132, 1, 1, 1, 0;\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]),
          "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),
          "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]),
          "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]),
          "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]),
          "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]),
          "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]),
          "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]),
          "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc));
  else if (NX == 256 && BF == 0)
    asm volatile(
        "wgmma.mma_async.sync.aligned.m64n256k16.f32.f16.f16 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, "
        "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "
        "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "
        "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, "
        "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}, "
        "{%128, %129, %130, %131}, %132, 1, 1, 1, 0;\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]),
          "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),
          "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]),
          "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]),
          "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]),
          "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]),
          "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]),
          "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]),
          "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc));

#else
  (void)d; (void)a; (void)desc; __trap();
#endif
}

/* The W4A16 wgmma kernel. FMT: FP4_NVFP4 or FP4_MXFP4 (bf16 only); BF: bf16 (1) or f16 (0) activations. */
template <int FMT, int BF, int NX>
__global__ void __launch_bounds__(256, 1) fp4__cuda_gemm_w4a16_wgmma_kernel(const fp4__cuda_gemm_w4a16_args p) {
  constexpr int STAGES = FP4__CG_WG_STAGES, XB = NX * 128, WB = FP4__CG_WG_BN * FP4__CG_PITCH;
  constexpr int BLK = FMT == FP4_MXFP4 ? 32 : 16, NBS = FP4__CG_BK / BLK;
  static_assert(FMT == FP4_NVFP4 || (FMT == FP4_MXFP4 && BF), "MXFP4 needs bf16 activations");
#if defined(FP4__CUDA_GEMM_WGMMA)
  extern __shared__ __align__(16) unsigned char fp4__cg_smem[];
  /* stage s: activations at xs + s*XB (1024-aligned), weights at ws + s*WB */
  unsigned char *xs = fp4__cg_smem + ((1024u - ((uint32_t)__cvta_generic_to_shared(fp4__cg_smem) & 1023u)) & 1023u);
  unsigned char *ws = xs + STAGES * XB;
  const uint32_t xs_s = (uint32_t)__cvta_generic_to_shared(xs);

  const int tid = threadIdx.x, lane = tid & 31, g = lane >> 2, l = lane & 3;
  const int row0 = (tid >> 7) * 64 + ((tid >> 5) & 3) * 16 + g; /* weight rows row0, row0 + 8 of the CTA */
  const int n0 = blockIdx.x * FP4__CG_WG_BN, m0 = blockIdx.y * NX;
  const int64_t K = p.K, nblk = K / BLK;
  const int nk = (int)((K + FP4__CG_BK - 1) / FP4__CG_BK);
  const uint8_t *X = reinterpret_cast<const uint8_t *>(p.a);

  float acc[NX / 2];
#pragma unroll
  for (int i = 0; i < NX / 2; i++) acc[i] = 0.0f;

  auto load = [&](int s) {
    const int64_t k0 = (int64_t)s * FP4__CG_BK;
    unsigned char *xd = xs + (s % STAGES) * XB;
#pragma unroll
    for (int i = tid; i < NX * 8; i += 256) {
      const int r = i >> 3, c = i & 7;
      const int64_t k = k0 + c * 8;
      const bool ok = (m0 + r) < p.M && k < K;
      const uint8_t *src = ok ? X + ((int64_t)(m0 + r) * p.lda + k) * 2 : X;
      fp4__cuda_gemm_cp_async<16>(xd + r * 128 + ((c ^ (r & 7)) << 4), src, ok ? 16 : 0);
    }
    fp4__cuda_gemm_load_codes<FP4__CG_WG_BN, 256>(ws + (s % STAGES) * WB, p.b, n0, p.N, K, k0, tid, p.vec16);
  };
  /* scale codes of rows row0 and row0 + 8 for stage s */
  uint8_t sc[2][NBS], sn[2][NBS];
  auto fetch = [&](int s, uint8_t (&o)[2][NBS]) {
#pragma unroll
    for (int h = 0; h < 2; h++)
#pragma unroll
      for (int j = 0; j < NBS; j++)
        o[h][j] = fp4__cuda_gemm_scale(p.sb, p.lb, n0 + row0 + 8 * h, p.N, (int64_t)s * NBS + j, nblk, 0);
  };

#pragma unroll
  for (int s = 0; s < STAGES - 2; s++) {
    if (s < nk) load(s);
    fp4__cuda_gemm_cp_commit();
  }
  fetch(0, sn);
  auto step = [&](int kt, uint32_t (&a)[4][4]) {
    fp4__cuda_gemm_cp_wait<STAGES - 3>();
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); /* cp.async data -> tensor-core reads */
    __syncthreads();
    if (kt + STAGES - 2 < nk) load(kt + STAGES - 2); /* the stage that wgmma group kt-2 read (waited) */
    fp4__cuda_gemm_cp_commit();
#pragma unroll
    for (int h = 0; h < 2; h++)
#pragma unroll
      for (int j = 0; j < NBS; j++) sc[h][j] = sn[h][j];
    if (kt + 1 < nk) fetch(kt + 1, sn);

    /* dequantize the stage's A fragments: a[s][0..3] for k16 step s */
    const unsigned char *wst = ws + (kt % STAGES) * WB;
#pragma unroll
    for (int h = 0; h < 2; h++) {
      const uint4 v0 = *reinterpret_cast<const uint4 *>(wst + (row0 + 8 * h) * FP4__CG_PITCH);
      const uint4 v1 = *reinterpret_cast<const uint4 *>(wst + (row0 + 8 * h) * FP4__CG_PITCH + 16);
      const uint32_t w[8] = {v0.x, v0.y, v0.z, v0.w, v1.x, v1.y, v1.z, v1.w};
      uint32_t u[2];
      fp4__cuda_gemm_gather4(w, l, u[0], u[1]);
#pragma unroll
      for (int s = 0; s < 4; s++) {
        uint32_t lo, hi;
        fp4__cuda_gemm_e2m1x4_h16<BF>((u[s >> 1] >> (16 * (s & 1))) & 0xFFFFu, lo, hi);
        const uint32_t s2 = fp4__cuda_gemm_scale_h2<FMT, BF>(sc[h][FMT == FP4_MXFP4 ? s >> 1 : s]);
        a[s][h] = fp4__cuda_gemm_hmul2<BF>(lo, s2);
        a[s][2 + h] = fp4__cuda_gemm_hmul2<BF>(hi, s2);
      }
    }
#pragma unroll
    for (int i = 0; i < NX / 2; i++) fp4__cuda_gemm_wg_reg(acc[i]);
    fp4__cuda_gemm_wg_fence();
    const uint64_t desc = fp4__cuda_gemm_wg_desc(xs_s + (kt % STAGES) * XB);
#pragma unroll
    for (int s = 0; s < 4; s++) fp4__cuda_gemm_wgmma<NX, BF>(acc, a[s], desc + 2 * s); /* +32 bytes per k16 */
    fp4__cuda_gemm_wg_commit();
#pragma unroll
    for (int i = 0; i < NX / 2; i++) fp4__cuda_gemm_wg_reg(acc[i]);
    fp4__cuda_gemm_wg_wait<0>();
  };
  /* A wgmma reads its A registers until the wait_group that retires it, and ptxas serializes every wgmma
   * of a stage (C7513) when other instructions define wgmma inputs while one is in flight: each stage
   * retires its group before the next stage's dequantization. The two consumer warpgroups overlap each
   * other's dequantization and MMAs instead. */
  uint32_t a[4][4];
  for (int kt = 0; kt < nk; kt++) step(kt, a);
  fp4__cuda_gemm_wg_wait<0>();
#pragma unroll
  for (int i = 0; i < NX / 2; i++) fp4__cuda_gemm_wg_reg(acc[i]);
  fp4__cuda_gemm_cp_wait<0>();

  /* accumulator i: weight row row0 + 8*((i>>1)&1), activation row 8*(i>>2) + 2l + (i&1) */
#pragma unroll
  for (int i = 0; i < NX / 2; i++) {
    const int n = n0 + row0 + 8 * ((i >> 1) & 1), m = m0 + 8 * (i >> 2) + 2 * l + (i & 1);
    if (m < p.M && n < p.N) {
      const int64_t e = (int64_t)m * p.ldc + n;
      fp4__store(p.C, p.ct, e, fp4_gemm_epilogue(p.alpha, acc[i], p.beta, p.beta != 0.0f ? fp4__load(p.C, p.ct, e) : 0.0f));
    }
  }
#else
  (void)p; (void)STAGES; (void)XB; (void)WB; (void)NBS;
  __trap(); /* wgmma exists only in sm_90a builds; the host launches this on sm_90 devices only */
#endif
}

/* The TMA + warp-specialized variant of the same product (FP4__CG_WGT_*), used when the packed weight
 * rows are 16-byte multiples (K % 32 == 0) and every base is 16-byte aligned: warpgroup 0 is the
 * producer (one thread issues two cp.async.bulk.tensor copies per stage, activations with the 128-byte
 * swizzle, weights as a dense 128 x 32-byte box, completing on the stage's full mbarrier), warpgroups 1
 * and 2 the consumers (they release a stage on its empty mbarrier once the wgmma group that read it has
 * retired, before dequantizing the next stage, as in the cp.async kernel). Scale codes come from global memory one stage ahead; a 256-entry table in shared memory
 * turns a code into its 16-bit pair. Registers: setmaxnreg moves them from the producer to the
 * consumers. */
#define FP4__CG_WGT_STAGES(NX) ((NX) == 256 ? 5 : 7)
#define FP4__CG_SPLITK_MAX 4 /* W4A16 split-K (TMA kernel, with caller workspace) */
#define FP4__CG_PROMO_K 8192 /* longer K per CTA: promotion into fp32 every 256 K (NX = 128) */

static __device__ __forceinline__ void fp4__cuda_gemm_bar_init(uint32_t bar, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count));
}
static __device__ __forceinline__ void fp4__cuda_gemm_bar_wait(uint32_t bar, uint32_t parity) {
  asm volatile(
      "{\n.reg .pred p;\nFP4_WAIT_%=:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 p, [%0], %1;\n"
      "@!p bra FP4_WAIT_%=;\n}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
}
static __device__ __forceinline__ void fp4__cuda_gemm_bar_arrive(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
static __device__ __forceinline__ void fp4__cuda_gemm_bar_expect(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
static __device__ __forceinline__ void fp4__cuda_gemm_tma2d(uint32_t dst, const void *map, int c0, int c1, uint32_t bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n" ::"r"(dst),
      "l"(map), "r"(c0), "r"(c1), "r"(bar)
      : "memory");
}

/* Epilogue of the warp-specialized wgmma kernels, through shared memory (the pipeline buffers from xs on,
 * idle once both consumer warpgroups are here, or a region of the kernel's own): consumer thread ct
 * (0..255) holds v[i] = the sum of weight row row0 + 8*((i>>1)&1) and activation row 8*(i>>2) + 2l + (i&1)
 * of its warpgroup's 64 x NX tile; warpgroup c writes it as ep[m][n] (pitch 68 floats: the fragment writes
 * hit 32 banks), then stores C rows of 64 consecutive n with 16-byte reads (alpha, beta, output type as
 * fp4_gemm_epilogue). PASSES = 2: NX/2 activation rows at a time, in half the shared memory. */
template <int NX, int PASSES = 1>
static __device__ __forceinline__ void fp4__cuda_gemm_wg_epilogue(const float *v, unsigned char *xs, int ct, int n0,
                                                                  int m0, int M, int N, void *C, fp4_dtype ctp,
                                                                  int64_t ldc, float alpha, float beta) {
  constexpr int H = NX / PASSES; /* activation rows per pass */
  const int l = ct & 3, r = ((ct >> 5) & 3) * 16 + ((ct & 31) >> 2); /* row0 within the warpgroup */
  asm volatile("bar.sync 1, 256;\n" ::: "memory");
  float *ep = reinterpret_cast<float *>(xs) + (ct >> 7) * (H * 68);
  const int nb = n0 + (ct >> 7) * 64;
#pragma unroll
  for (int h = 0; h < PASSES; h++) {
    if (h > 0) asm volatile("bar.sync %0, 128;\n" ::"r"(2 + (ct >> 7)) : "memory"); /* the last pass is read */
#pragma unroll
    for (int i = h * (NX / 2 / PASSES); i < (h + 1) * (NX / 2 / PASSES); i++)
      ep[(8 * (i >> 2) + 2 * l + (i & 1) - h * H) * 68 + r + 8 * ((i >> 1) & 1)] = v[i];
    asm volatile("bar.sync %0, 128;\n" ::"r"(2 + (ct >> 7)) : "memory");
    for (int idx = ct & 127; idx < H * 16; idx += 128) {
      const int m = m0 + h * H + (idx >> 4), n = nb + (idx & 15) * 4;
      if (m >= M) break;
      const float4 q = *reinterpret_cast<const float4 *>(ep + (idx >> 4) * 68 + (idx & 15) * 4);
      const float vv[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
      for (int j = 0; j < 4; j++)
        if (n + j < N) {
          const int64_t e = (int64_t)m * ldc + n + j;
          fp4__store(C, ctp, e, fp4_gemm_epilogue(alpha, vv[j], beta, beta != 0.0f ? fp4__load(C, ctp, e) : 0.0f));
        }
    }
  }
}

template <int FMT, int BF, int NX, int PROMO>
__global__ void __launch_bounds__(384, 1)
    fp4__cuda_gemm_w4a16_tma_kernel(const __grid_constant__ CUtensorMap tmx, const __grid_constant__ CUtensorMap tmw,
                                    const fp4__cuda_gemm_w4a16_args p) {
  constexpr int STAGES = FP4__CG_WGT_STAGES(NX), XB = NX * 128, WB = FP4__CG_WG_BN * 32;
  constexpr int BLK = FMT == FP4_MXFP4 ? 32 : 16, NBS = FP4__CG_BK / BLK;
  static_assert(FMT == FP4_NVFP4 || (FMT == FP4_MXFP4 && BF), "MXFP4 needs bf16 activations");
#if defined(FP4__CUDA_GEMM_WGMMA)
  extern __shared__ __align__(16) unsigned char fp4__cg_smem[];
  unsigned char *xs = fp4__cg_smem + ((1024u - ((uint32_t)__cvta_generic_to_shared(fp4__cg_smem) & 1023u)) & 1023u);
  unsigned char *ws = xs + STAGES * XB;
  uint32_t *lut = reinterpret_cast<uint32_t *>(ws + STAGES * WB);
  uint64_t *bars = reinterpret_cast<uint64_t *>(lut + 256); /* full[STAGES], empty[STAGES] */
  const uint32_t xs_s = (uint32_t)__cvta_generic_to_shared(xs), ws_s = (uint32_t)__cvta_generic_to_shared(ws);
  const uint32_t full0 = (uint32_t)__cvta_generic_to_shared(bars), empty0 = full0 + 8 * STAGES;
  const int tid = threadIdx.x;
  const int n0 = blockIdx.x * FP4__CG_WG_BN, m0 = blockIdx.y * NX;
  const int64_t K = p.K, nblk = K / BLK;
  int kb = 0, ke = (int)((K + FP4__CG_BK - 1) / FP4__CG_BK); /* this CTA's K stages */
  void *const C = p.kchunk ? (void *)((float *)p.C + blockIdx.z * p.zstride) : p.C;
  if (p.kchunk) {
    kb = (int)blockIdx.z * p.kchunk;
    ke = kb + p.kchunk < ke ? kb + p.kchunk : ke;
  }

  if (tid < 256) lut[tid] = fp4__cuda_gemm_scale_h2<FMT, BF>((uint8_t)tid);
  if (tid == 0) {
    for (int s = 0; s < STAGES; s++) {
      fp4__cuda_gemm_bar_init(full0 + 8 * s, 1);
      fp4__cuda_gemm_bar_init(empty0 + 8 * s, 256);
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  if (tid < 128) { /* producer warpgroup */
    asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
    if (tid == 0) {
      for (int kt = kb; kt < ke; kt++) {
        const int s = (kt - kb) % STAGES, i = (kt - kb) / STAGES;
        if (i > 0) fp4__cuda_gemm_bar_wait(empty0 + 8 * s, (uint32_t)((i - 1) & 1));
        fp4__cuda_gemm_bar_expect(full0 + 8 * s, (uint32_t)(XB + WB));
        fp4__cuda_gemm_tma2d(xs_s + s * XB, &tmx, kt * FP4__CG_BK, m0, full0 + 8 * s);
        fp4__cuda_gemm_tma2d(ws_s + s * WB, &tmw, kt * (FP4__CG_BK / 2), n0, full0 + 8 * s);
      }
    }
  } else { /* consumer warpgroups */
    asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
    const int ct = tid - 128, lane = tid & 31, g = lane >> 2, l = lane & 3;
    const int row0 = (ct >> 7) * 64 + ((ct >> 5) & 3) * 16 + g;
    /* scale codes: 4 (NVFP4) or 2 (MXFP4) per row and stage, as one aligned word where the layout is
     * linear and K % 64 == 0, else code by code */
    const bool wide = p.lb == FP4_LAYOUT_LINEAR && K % 64 == 0 && (uintptr_t)p.sb % 4 == 0;
    uint32_t sc[2], sn[2];
    auto fetch = [&](int s, uint32_t (&o)[2]) {
#pragma unroll
      for (int h = 0; h < 2; h++) {
        const int r = n0 + row0 + 8 * h;
        if (wide) {
          const uint8_t *q = p.sb + (int64_t)(r < p.N ? r : 0) * nblk + (int64_t)s * NBS;
          o[h] = r >= p.N ? 0u : NBS == 4 ? __ldg(reinterpret_cast<const uint32_t *>(q))
                                          : (uint32_t)__ldg(reinterpret_cast<const uint16_t *>(q));
        } else {
          uint32_t v = 0;
#pragma unroll
          for (int j = 0; j < NBS; j++)
            v |= (uint32_t)fp4__cuda_gemm_scale(p.sb, p.lb, r, p.N, (int64_t)s * NBS + j, nblk, 0) << (8 * j);
          o[h] = v;
        }
      }
    };
    float acc[NX / 2], accp[PROMO ? NX / 2 : 1];
#pragma unroll
    for (int i = 0; i < NX / 2; i++) acc[i] = 0.0f;
#pragma unroll
    for (int i = 0; i < (PROMO ? NX / 2 : 1); i++) accp[i] = 0.0f;
    if (kb < ke) fetch(kb, sn);
    auto step = [&](int kt, uint32_t (&a)[4][4]) {
      const int s = (kt - kb) % STAGES;
      sc[0] = sn[0];
      sc[1] = sn[1];
      if (kt + 1 < ke) fetch(kt + 1, sn);
      fp4__cuda_gemm_bar_wait(full0 + 8 * s, (uint32_t)(((kt - kb) / STAGES) & 1));
      const unsigned char *wst = ws + s * WB;
#pragma unroll
      for (int h = 0; h < 2; h++) {
        const uint4 v0 = *reinterpret_cast<const uint4 *>(wst + (row0 + 8 * h) * 32);
        const uint4 v1 = *reinterpret_cast<const uint4 *>(wst + (row0 + 8 * h) * 32 + 16);
        const uint32_t w[8] = {v0.x, v0.y, v0.z, v0.w, v1.x, v1.y, v1.z, v1.w};
        uint32_t u[2];
        fp4__cuda_gemm_gather4(w, l, u[0], u[1]);
#pragma unroll
        for (int q = 0; q < 4; q++) {
          uint32_t lo, hi;
          fp4__cuda_gemm_e2m1x4_h16<BF>((u[q >> 1] >> (16 * (q & 1))) & 0xFFFFu, lo, hi);
          const uint32_t s2 = lut[(sc[h] >> (8 * (FMT == FP4_MXFP4 ? q >> 1 : q))) & 0xFFu];
          a[q][h] = fp4__cuda_gemm_hmul2<BF>(lo, s2);
          a[q][2 + h] = fp4__cuda_gemm_hmul2<BF>(hi, s2);
        }
      }
#pragma unroll
      for (int i = 0; i < NX / 2; i++) fp4__cuda_gemm_wg_reg(acc[i]);
      fp4__cuda_gemm_wg_fence();
      const uint64_t desc = fp4__cuda_gemm_wg_desc(xs_s + s * XB);
#pragma unroll
      for (int q = 0; q < 4; q++) fp4__cuda_gemm_wgmma<NX, BF>(acc, a[q], desc + 2 * q);
      fp4__cuda_gemm_wg_commit();
#pragma unroll
      for (int i = 0; i < NX / 2; i++) fp4__cuda_gemm_wg_reg(acc[i]);
      fp4__cuda_gemm_wg_wait<0>(); /* see the cp.async kernel */
      fp4__cuda_gemm_bar_arrive(empty0 + 8 * s); /* the stage's readers are done */
      if (PROMO && (((kt - kb) & 3) == 3 || kt == ke - 1)) {
        /* long K: the tensor cores' fp32 accumulation truncates (measured 1.5e-5 relative at K = 16384 with
         * f16 activations); every 256 K the partial moves into an fp32 sum rounded to nearest */
#pragma unroll
        for (int i = 0; i < (PROMO ? NX / 2 : 1); i++) {
          accp[i] = __fadd_rn(accp[i], acc[i]);
          acc[i] = 0.0f;
        }
      }
    };
    uint32_t a[4][4];
    for (int kt = kb; kt < ke; kt++) step(kt, a);
    fp4__cuda_gemm_wg_wait<0>();
#pragma unroll
    for (int i = 0; i < NX / 2; i++) fp4__cuda_gemm_wg_reg(acc[i]);
    fp4__cuda_gemm_wg_epilogue<NX>(PROMO ? accp : acc, xs, ct, n0, m0, p.M, p.N, C, p.ct, p.ldc, p.alpha, p.beta);
  }
#else
  (void)tmx; (void)tmw; (void)p; (void)STAGES; (void)XB; (void)WB; (void)NBS;
  __trap(); /* sm_90a only; never launched elsewhere */
#endif
}

/* Split-K: C = epilogue(sum of the S fp32 partials in split order) - deterministic. */
FP4__CUDA_LAZY
static __global__ void __launch_bounds__(256) fp4__cuda_gemm_splitk_reduce(const float *__restrict__ part, int S,
                                                                           int64_t zstride, int M, int N, void *C,
                                                                           fp4_dtype ct, int64_t ldc, float alpha,
                                                                           float beta) {
  const int64_t n = (int64_t)M * N;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float acc = part[i];
    for (int z = 1; z < S; z++) acc = __fadd_rn(acc, part[z * zstride + i]);
    const int64_t e = (i / N) * ldc + i % N;
    fp4__store(C, ct, e, fp4_gemm_epilogue(alpha, acc, beta, beta != 0.0f ? fp4__load(C, ct, e) : 0.0f));
  }
}

/* Hopper W4A4 _fast, step 1: an FP4 operand dequantized to bf16 (without its tensor scale, which folds
 * into alpha), rows of K: 16 codes per thread (8 bytes in, two 16-byte stores), decoded by byte permutes
 * and scaled by one packed multiply per pair, as the wgmma kernels' weights. Exact: E2M1 x E4M3 and
 * E2M1 x 2^(e-127) are bf16 values wherever they are fp32 values (the products are at least 2^-128;
 * Inf/NaN alike). */
template <int FMT>
__global__ void __launch_bounds__(256) fp4__cuda_gemm_dequant_bf16_kernel(const uint8_t *__restrict__ d,
                                                                         const uint8_t *__restrict__ s, fp4_layout lay,
                                                                         int64_t rows, int64_t K, uint16_t *out) {
  constexpr int BLK = FMT == FP4_MXFP4 ? 32 : 16;
  const int64_t per = K / 16, n = rows * per;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t r = i / per, k = (i % per) * 16;
    const uint2 w = *reinterpret_cast<const uint2 *>(d + r * (K / 2) + k / 2); /* 8-byte aligned */
    const uint32_t s2 = fp4__cuda_gemm_scale_h2<FMT, 1>(s[fp4__scale_offset(lay, r, k / BLK, K / BLK)]);
    uint32_t o[8];
#pragma unroll
    for (int q = 0; q < 4; q++) {
      uint32_t lo, hi;
      fp4__cuda_gemm_e2m1x4_h16<1>(((q < 2 ? w.x : w.y) >> (16 * (q & 1))) & 0xFFFFu, lo, hi);
      o[2 * q] = fp4__cuda_gemm_hmul2<1>(lo, s2);
      o[2 * q + 1] = fp4__cuda_gemm_hmul2<1>(hi, s2);
    }
    uint4 *dst = reinterpret_cast<uint4 *>(out + r * K + k);
    dst[0] = make_uint4(o[0], o[1], o[2], o[3]);
    dst[1] = make_uint4(o[4], o[5], o[6], o[7]);
  }
}

/* ==== cuda gemm: hopper exact w4a4 ====
 *
 * sm_90a exact MXFP4 W4A4 (fp4.h's bits) on the FP8 wgmma, one MMA per 32-block: C[M,N] = epilogue(sum
 * over 32-blocks, in K order, of RN(acc + t_b)), t_b = the correctly rounded T_b * 2^(ea+eb-256), T_b the
 * exact integer dot of a block (spec §5, fp4__gemm_w4a4_cols). Roles as in the W4A16 TMA kernel: the
 * weights B (N x K) are the wgmma A operand from registers (64 rows per consumer warpgroup, 128 per CTA),
 * the activations A the B operand from shared memory, K-major with the 128-byte swizzle, as E4M3 (every
 * E2M1 value is one):
 *  - prepass (fp4__cuda_gemm_f8_prep_kernel): A's codes -> E4M3 in the caller's workspace (M*K bytes),
 *    each 32-block permuted so that the packed 32-bit word l of a weight block (codes 8l..8l+7) is what
 *    wgmma wants from lane l (k = 4l..4l+3 and 16+4l..16+4l+3): word l of the block's E4M3 row holds
 *    codes 8l..8l+3, word 4+l codes 8l+4..8l+7 (A and B permuted alike; the block sum is exact);
 *  - CTA: 384 threads. Warpgroup 0: thread 0 issues the TMA copies of a stage (128 K: NX x 128 E4M3
 *    activations with the 128-byte swizzle, 128 x 64 packed weight bytes with the 64-byte swizzle, which
 *    makes the consumers' 32-bit weight reads conflict-free); warp 1 turns the stage's activation scale
 *    codes into fp32 factors 2^(ea-127) in shared memory (laid out per consumer lane, read as float4) and
 *    the min / max code of each block (255 left out); both arrive on the stage's full mbarrier.
 *    Warpgroups 1, 2: consumers (setmaxnreg 232), 64 weight rows x NX activation rows each.
 *  - per 32-block: one wgmma m64nNXk32 f32.e4m3 from a zero accumulator into one of two accumulator sets,
 *    so that block j's wgmma runs while the warpgroup promotes block j-1 (and the other warpgroup's work
 *    interleaves too). The wgmma's sum is exact: E2M1 products are multiples of 2^-2 below 2^6, and the
 *    weights of a row carry one power of two per block (measured: the tests compare bits with fp4.h).
 *    Promotion per warp and block, by its 16 weight rows' codes e (redux.sync; X the largest):
 *      FOLD: every e within FP4__CG_F8_SPREAD of X and every term exact (107 <= ea + e <= 371: an integer
 *            times 2^n, n = ea+e-256 in [-149, 115], a multiple of 2^-149 below 4608 * 2^115 < FLT_MAX):
 *            the weights enter the wgmma as q * 2^(e-X) (exact in E4M3 down to 0.5 * 2^-8, its smallest
 *            subnormal), so the wgmma gives P = T/4 * 2^(e-X), and acc = fma(P, 2^(ea-127) * 2^(X-127),
 *            acc): t_b exact, one rounding, one FFMA per element (plus one FMUL per column);
 *      FAST: the terms exact but the codes spread wider: acc = fma(P * 2^(e-127), 2^(ea-127), acc);
 *      MID:  acc = acc + RN(P * 2^(e-127) * 2^(ea-127)) (t_b rounded once, then the add);
 *      SLOW: a weight code of the warp in [232, 254]: such rows take 2^(e-159) and the column factor
 *            2^(ea-95), capped at 2^127 (ea >= 223: the term overflows to +-Inf either way, and T = 0
 *            stays 0), other rows as MID.
 *    255 codes give NaN (FAST, MID, SLOW: the weight factor; every mode: the activation factor).
 *    The stage's last block is promoted after its wgmma without overlap within the warpgroup (see the
 *    main loop). Real weights fold: the 16-row groups of all-MiniLM-L6-v2's MXFP4 weights spread their
 *    codes by at most 6 (bench/RESULTS.md).
 *  - deterministic: fixed order, no split-K. Epilogue through shared memory as the W4A16 TMA kernel.
 *  - speed (H100, bench/RESULTS.md): 0.28-0.34x cuBLAS BF16 from M = 512, like the int8 kernel it replaced:
 *    issue-bound (ncu: issue slots 50% busy, tensor pipe 11%), about 300 instructions per warp and block (two FP32
 *    operations per element in FAST, one in FOLD, plus the plan, the decode and the smem reads) against
 *    64 tensor cycles per warp and block; two consumer warps per scheduler hide little of the latency.
 * Compiled for sm_90a only (trapping stub elsewhere; the host launches it on sm_90 devices only). */
#define FP4__CG_F8_STAGES(NX) ((NX) == 128 ? 6 : 8)
/* FOLD's largest code spread: 8 keeps 0.5 * 2^(e-X) at or above E4M3's smallest subnormal, 2^-9 */
#ifndef FP4__CG_F8_SPREAD
#define FP4__CG_F8_SPREAD 8
#endif
/* Whether the Hopper _fast names run this kernel for MXFP4 (1) or their own paths (0, see there). */
#ifndef FP4__CG_F8WG_FAST
#define FP4__CG_F8WG_FAST 0
#endif
#define FP4__CG_F8_FOLD 0 /* mode codes of the per-warp promotion choice */
#define FP4__CG_F8_FAST 1
#define FP4__CG_F8_MID 2
#define FP4__CG_F8_SLOW 3

/* Per-stage activation-scale data of the FP8 wgmma kernel: fb[block][half][lane%4][2*(r/8) + r%2] is the
 * factor of activation row half*NX/2 + r (r%8/2 = lane%4), padded so the lanes' float4 reads hit
 * distinct banks; amin/amax: the block's extreme codes over the tile's rows (255 and tails left out). */
template <int NX>
struct __align__(16) fp4__cuda_gemm_f8_aux {
  float fb[4][2][4][NX / 8 + 4];
  int amin[4], amax[4];
};

/* The 8 E2M1 magnitudes 0 .5 1 1.5 2 3 4 6 times f as E4M3 bytes (rounded once, saturating), in two
 * registers: the table of fp4__cuda_gemm_e2m1x4_sm8. */
static __device__ __forceinline__ uint2 fp4__cuda_gemm_e4m3_lut(float f) {
  uint16_t h[4];
#if defined(FP4__CUDA_GEMM_WGMMA)
  asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;\n" : "=h"(h[0]) : "f"(0.5f * f), "f"(0.0f));
  asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;\n" : "=h"(h[1]) : "f"(1.5f * f), "f"(f));
  asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;\n" : "=h"(h[2]) : "f"(3.0f * f), "f"(2.0f * f));
  asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;\n" : "=h"(h[3]) : "f"(6.0f * f), "f"(4.0f * f));
#else
  (void)f; h[0] = h[1] = h[2] = h[3] = 0; __trap();
#endif
  return make_uint2((uint32_t)h[0] | ((uint32_t)h[1] << 16), (uint32_t)h[2] | ((uint32_t)h[3] << 16));
}

/* d[64 x N] = A(64x32 e4m3, registers: rows g/g+8, k 4l.. / 16+4l..) . B(desc: N x 32 e4m3, K-major). */
template <int N>
static __device__ __forceinline__ void fp4__cuda_gemm_wgmma_e4m3(float *d, const uint32_t a[4], uint64_t desc) {
#if defined(FP4__CUDA_GEMM_WGMMA)
  if (N == 64)
    asm volatile(
        "wgmma.mma_async.sync.aligned.m64n64k32.f32.e4m3.e4m3 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
        "}, {%32, %33, %34, %35}, %36, 0, 1, 1;\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc));
  else if (N == 128)
    asm volatile(
        "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
        "}, {%64, %65, %66, %67}, %68, 0, 1, 1;\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc));
#else
  (void)d; (void)a; (void)desc; __trap();
#endif
}

/* The scale codes of 32-blocks 4kt .. 4kt + 3 of row r, byte j = block 4kt + j (127 past the rows or K).
 * wide: linear layout, a multiple of 4 blocks per row, 4-byte aligned base: one 32-bit load. */
static __device__ __forceinline__ uint32_t fp4__cuda_gemm_scale4(const uint8_t *__restrict__ s, fp4_layout lay, int r,
                                                                 int nrows, int kt, int64_t nblk, bool wide) {
  if (wide) return r < nrows ? __ldg(reinterpret_cast<const uint32_t *>(s + (int64_t)r * nblk + 4 * (int64_t)kt)) : 0x7F7F7F7Fu;
  uint32_t v = 0;
#pragma unroll
  for (int j = 0; j < 4; j++) v |= (uint32_t)fp4__cuda_gemm_scale(s, lay, r, nrows, (int64_t)kt * 4 + j, nblk, 127) << (8 * j);
  return v;
}

/* Prepass: A's packed codes -> E4M3 (the E2M1 values), rows of K bytes, each 32-block permuted (see above). */
FP4__CUDA_LAZY
static __global__ void __launch_bounds__(256) fp4__cuda_gemm_f8_prep_kernel(const uint8_t *__restrict__ a, int64_t rows,
                                                                          int64_t K, uint8_t *__restrict__ out) {
  const int64_t per = K / 32, n = rows * per;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t r = i / per, b = i % per;
    const uint2 *src = reinterpret_cast<const uint2 *>(a + r * (K / 2) + b * 16); /* bases are 8-byte aligned */
    const uint2 v0 = src[0], v1 = src[1];
    const uint32_t w[4] = {v0.x, v0.y, v1.x, v1.y};
    uint32_t o[8]; /* word q: codes 8q..8q+3; word 4 + q: codes 8q+4..8q+7 */
#pragma unroll
    for (int q = 0; q < 4; q++) {
      o[q] = fp4__cuda_gemm_e2m1x4_sm8(w[q] & 0xFFFFu, FP4__CG_E4M3_LO, FP4__CG_E4M3_HI);
      o[4 + q] = fp4__cuda_gemm_e2m1x4_sm8(w[q] >> 16, FP4__CG_E4M3_LO, FP4__CG_E4M3_HI);
    }
    uint4 *dst = reinterpret_cast<uint4 *>(out + r * K + b * 32);
    dst[0] = make_uint4(o[0], o[1], o[2], o[3]);
    dst[1] = make_uint4(o[4], o[5], o[6], o[7]);
  }
}

/* The promotion plan of one block for one warp (see above), in three registers: w = where the block's
 * activation factors start (floats past the kernel's aux array: an index, so that the loads stay
 * shared-memory loads; bits 0..15) | mode << 16 | row0 shifted (SLOW) << 18 | row0 + 8 shifted << 19;
 * f0, f1 = the rows' factors 2^(e-127) (shifted: 2^(e-159)), FOLD: both 2^(X-127). */
struct fp4__cuda_gemm_f8_plan {
  uint32_t w;
  float f0, f1;
};

template <int NX>
__global__ void __launch_bounds__(384, 1)
    fp4__cuda_gemm_w4a4_f8wg_kernel(const __grid_constant__ CUtensorMap tmx, const __grid_constant__ CUtensorMap tmw,
                                    const fp4__cuda_gemm_w4a4_args p) {
  constexpr int STAGES = FP4__CG_F8_STAGES(NX), XB = NX * 128, WB = FP4__CG_WG_BN * 64;
  typedef fp4__cuda_gemm_f8_aux<NX> aux_t;
#if defined(FP4__CUDA_GEMM_WGMMA)
  extern __shared__ __align__(16) unsigned char fp4__cg_smem[];
  unsigned char *xs = fp4__cg_smem + ((1024u - ((uint32_t)__cvta_generic_to_shared(fp4__cg_smem) & 1023u)) & 1023u);
  unsigned char *ws = xs + STAGES * XB;
  aux_t *aux = reinterpret_cast<aux_t *>(ws + STAGES * WB);
  float *lut = reinterpret_cast<float *>(aux + STAGES); /* code c -> 2^(c-127) (NaN for 255) */
  uint2 *l8 = reinterpret_cast<uint2 *>(lut + 256);     /* t -> the E4M3 magnitudes times 2^-t, t = 0..8 */
  uint64_t *bars = reinterpret_cast<uint64_t *>(l8 + 16); /* full[STAGES], empty[STAGES] */
  const uint32_t xs_s = (uint32_t)__cvta_generic_to_shared(xs), ws_s = (uint32_t)__cvta_generic_to_shared(ws);
  const uint32_t full0 = (uint32_t)__cvta_generic_to_shared(bars), empty0 = full0 + 8 * STAGES;
  const int tid = threadIdx.x;
  const int n0 = blockIdx.x * FP4__CG_WG_BN, m0 = blockIdx.y * NX;
  const int64_t K = p.K, nblk = K / 32;
  const int nst = (int)((nblk + 3) / 4); /* stages of 128 K */
  static_assert(FP4__CG_F8_SPREAD >= 0 && FP4__CG_F8_SPREAD <= 8, "FP4__CG_F8_SPREAD: 0..8 (E4M3's subnormals)");

  if (tid < 256) lut[tid] = fp4__cuda_gemm_e8m0_f((uint8_t)tid, 0);
  else if (tid < 256 + 9) l8[tid - 256] = fp4__cuda_gemm_e4m3_lut(fp4__exp2i(256 - tid));
  if (tid == 0) {
    for (int s = 0; s < STAGES; s++) {
      fp4__cuda_gemm_bar_init(full0 + 8 * s, 33); /* the TMA thread + the scale warp */
      fp4__cuda_gemm_bar_init(empty0 + 8 * s, 256);
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  if (tid < 128) { /* producer warpgroup */
    /* 40 + 232: the consumers take exactly the registers the producer gives back (168 at entry: the
     * CTA owns 384 x 168, and setmaxnreg.inc waits until the pool holds what it asks for) */
    asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
    if (tid == 0) {
      for (int kt = 0; kt < nst; kt++) {
        const int s = kt % STAGES, i = kt / STAGES;
        if (i > 0) fp4__cuda_gemm_bar_wait(empty0 + 8 * s, (uint32_t)((i - 1) & 1));
        fp4__cuda_gemm_bar_expect(full0 + 8 * s, (uint32_t)(XB + WB));
        fp4__cuda_gemm_tma2d(xs_s + s * XB, &tmx, kt * 128, m0, full0 + 8 * s);
        fp4__cuda_gemm_tma2d(ws_s + s * WB, &tmw, kt * 64, n0, full0 + 8 * s);
      }
    } else if (tid >= 32 && tid < 64) { /* activation scales of each stage */
      const int lane = tid & 31;
      const bool wide = p.la == FP4_LAYOUT_LINEAR && nblk % 4 == 0 && (uintptr_t)p.sa % 4 == 0;
      for (int kt = 0; kt < nst; kt++) {
        const int s = kt % STAGES, i = kt / STAGES;
        if (i > 0) fp4__cuda_gemm_bar_wait(empty0 + 8 * s, (uint32_t)((i - 1) & 1));
        aux_t &X = aux[s];
        uint32_t mn[4] = {255u, 255u, 255u, 255u}, mx[4] = {0u, 0u, 0u, 0u};
#pragma unroll 1
        for (int t = 0; t < NX / 32; t++) { /* not unrolled: 40 registers */
          const int m = lane + 32 * t, r = m0 + m;
          const uint32_t v = fp4__cuda_gemm_scale4(p.sa, p.la, r, p.M, kt, nblk, wide);
          const int hf = m / (NX / 2), rr = m % (NX / 2), at = 2 * (rr >> 3) + (rr & 1), ll = (rr & 7) >> 1;
#pragma unroll
          for (int j = 0; j < 4; j++) {
            const uint32_t c = (v >> (8 * j)) & 0xFFu;
            if (r < p.M && (int64_t)kt * 4 + j < nblk && c != 0xFFu) {
              mn[j] = c < mn[j] ? c : mn[j];
              mx[j] = c > mx[j] ? c : mx[j];
            }
            X.fb[j][hf][ll][at] = fp4__cuda_gemm_e8m0_f((uint8_t)c, 0);
          }
        }
#pragma unroll
        for (int j = 0; j < 4; j++) {
          const uint32_t a0 = __reduce_min_sync(0xFFFFFFFFu, mn[j]), a1 = __reduce_max_sync(0xFFFFFFFFu, mx[j]);
          if (lane == 0) {
            X.amin[j] = (int)a0;
            X.amax[j] = (int)a1;
          }
        }
        fp4__cuda_gemm_bar_arrive(full0 + 8 * s);
      }
    }
  } else { /* consumer warpgroups */
    asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
    const int ct = tid - 128, lane = tid & 31, g = lane >> 2, l = lane & 3;
    const int row0 = (ct >> 7) * 64 + ((ct >> 5) & 3) * 16 + g; /* weight rows row0, row0 + 8 of the CTA */
    const uint32_t swz = (uint32_t)((row0 >> 1) & 3);          /* 64-byte swizzle phase of both rows */
    const bool wide = p.lb == FP4_LAYOUT_LINEAR && nblk % 4 == 0 && (uintptr_t)p.sb % 4 == 0;
    auto fetch = [&](int s, uint32_t (&o)[2]) {
#pragma unroll
      for (int h = 0; h < 2; h++) o[h] = fp4__cuda_gemm_scale4(p.sb, p.lb, n0 + row0 + 8 * h, p.N, s, nblk, wide);
    };
    /* acc: the promoted sums; d[2]: the two blocks' wgmma sums (block j in d[j % 2]) */
    float acc[NX / 2], d[2][NX / 2];
#pragma unroll
    for (int i = 0; i < NX / 2; i++) acc[i] = d[0][i] = d[1][i] = 0.0f;
    /* the plan of block j (codes e0, e1 of rows row0, row0 + 8) for this warp, and the E4M3 table index
     * of each row (FOLD: X - e; else 0, the plain values) */
    auto plan_of = [&](uint32_t e0, uint32_t e1, const aux_t &X, int j, uint32_t &t0, uint32_t &t1) {
      fp4__cuda_gemm_f8_plan q;
      q.w = (uint32_t)(&X.fb[j][0][l][0] - reinterpret_cast<const float *>(aux));
      const uint32_t mn = __reduce_min_sync(0xFFFFFFFFu, e0 < e1 ? e0 : e1);
      const uint32_t top = __reduce_max_sync(0xFFFFFFFFu, e0 > e1 ? e0 : e1);
      const int amin = X.amin[j], amax = X.amax[j];
      t0 = t1 = 0u;
      if (top != 0xFFu && top - mn <= FP4__CG_F8_SPREAD && (int)mn + amin >= 107 && (int)top + amax <= 371) {
        q.w |= (uint32_t)FP4__CG_F8_FOLD << 16;
        q.f0 = q.f1 = lut[top];
        t0 = top - e0;
        t1 = top - e1;
        return q;
      }
      uint32_t mx = top; /* the largest code other than 255 */
      if (top == 0xFFu) {
        const uint32_t x0 = e0 == 0xFFu ? 0u : e0, x1 = e1 == 0xFFu ? 0u : e1;
        mx = __reduce_max_sync(0xFFFFFFFFu, x0 > x1 ? x0 : x1);
      }
      const uint32_t mode = mx >= 232u ? FP4__CG_F8_SLOW
                            : (int)mn + amin >= 107 && (int)mx + amax <= 371 ? FP4__CG_F8_FAST : FP4__CG_F8_MID;
      const bool sh0 = e0 >= 232u && e0 != 0xFFu, sh1 = e1 >= 232u && e1 != 0xFFu;
      q.w |= mode << 16 | (uint32_t)sh0 << 18 | (uint32_t)sh1 << 19;
      q.f0 = lut[sh0 ? e0 - 32u : e0];
      q.f1 = lut[sh1 ? e1 - 32u : e1];
      return q;
    };
    /* acc += the block's terms from its wgmma sums dd, by plan q (see above); the activation factors
     * streamed 4 at a time (float4: 4 activation rows, 8 accumulators) */
    auto promote = [&](const float (&dd)[NX / 2], const fp4__cuda_gemm_f8_plan &q) {
      const float4 *fbp = reinterpret_cast<const float4 *>(reinterpret_cast<const float *>(aux) + (q.w & 0xFFFFu));
      const uint32_t mode = (q.w >> 16) & 3u;
      if (mode == FP4__CG_F8_FOLD) {
#pragma unroll
        for (int c = 0; c < NX / 16; c++) { /* half c / (NX/32) (4 lanes x (NX/8 + 4) floats further), float4 c % (NX/32) */
          const float4 v = fbp[c / (NX / 32) * (NX / 8 + 4) + c % (NX / 32)];
          const float f[4] = {v.x * q.f0, v.y * q.f0, v.z * q.f0, v.w * q.f0};
#pragma unroll
          for (int u = 0; u < 8; u++) acc[8 * c + u] = fmaf(dd[8 * c + u], f[2 * (u >> 2) + (u & 1)], acc[8 * c + u]);
        }
      } else if (mode == FP4__CG_F8_FAST) {
#pragma unroll
        for (int c = 0; c < NX / 16; c++) {
          const float4 v = fbp[c / (NX / 32) * (NX / 8 + 4) + c % (NX / 32)];
          const float f[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
          for (int u = 0; u < 8; u++) {
            const float t1 = dd[8 * c + u] * ((u >> 1) & 1 ? q.f1 : q.f0);
            acc[8 * c + u] = fmaf(t1, f[2 * (u >> 2) + (u & 1)], acc[8 * c + u]);
          }
        }
      } else { /* MID, SLOW: t_b rounded once, then the add */
#pragma unroll
        for (int c = 0; c < NX / 16; c++) {
          const float4 v = fbp[c / (NX / 32) * (NX / 8 + 4) + c % (NX / 32)];
          const float f[4] = {v.x, v.y, v.z, v.w};
          float fx[4]; /* SLOW's shifted rows: 2^(ea-95) capped at 2^127 (NaN stays NaN) */
#pragma unroll
          for (int x = 0; x < 4; x++) {
            fx[x] = __fmul_rn(f[x], 4294967296.0f);
            fx[x] = fx[x] > __int_as_float(0x7F000000) ? __int_as_float(0x7F000000) : fx[x];
          }
#pragma unroll
          for (int u = 0; u < 8; u++) {
            const bool hi = (u >> 1) & 1;
            const float t1 = __fmul_rn(dd[8 * c + u], hi ? q.f1 : q.f0);
            const float fbv = (q.w >> (hi ? 19 : 18)) & 1u ? fx[2 * (u >> 2) + (u & 1)] : f[2 * (u >> 2) + (u & 1)];
            acc[8 * c + u] = __fadd_rn(acc[8 * c + u], __fmul_rn(t1, fbv));
          }
        }
      }
    };
    uint32_t sc[2], sn[2] = {0u, 0u};
    if (nst > 0) fetch(0, sn);
    for (int kt = 0; kt < nst; kt++) {
      const int s = kt % STAGES;
      sc[0] = sn[0];
      sc[1] = sn[1];
      if (kt + 1 < nst) fetch(kt + 1, sn);
      fp4__cuda_gemm_bar_wait(full0 + 8 * s, (uint32_t)((kt / STAGES) & 1));
      const aux_t &X = aux[s];
      const unsigned char *wst = ws + s * WB;
      const uint64_t desc = fp4__cuda_gemm_wg_desc(xs_s + s * XB);
      fp4__cuda_gemm_f8_plan pv; /* the previous block's plan */
#pragma unroll
      for (int j = 0; j < 4; j++) {
        float(&dc)[NX / 2] = d[j & 1];
        const uint32_t e0 = (sc[0] >> (8 * j)) & 0xFFu, e1 = (sc[1] >> (8 * j)) & 0xFFu;
        uint32_t t0, t1;
        const fp4__cuda_gemm_f8_plan q = plan_of(e0, e1, X, j, t0, t1);
        const uint2 L0 = l8[t0], L1 = l8[t1];
        uint32_t A[4];
        const uint32_t off = (((uint32_t)j ^ swz) << 4) + 4 * l;
        const uint32_t w0 = *reinterpret_cast<const uint32_t *>(wst + row0 * 64 + off);
        const uint32_t w1 = *reinterpret_cast<const uint32_t *>(wst + (row0 + 8) * 64 + off);
        A[0] = fp4__cuda_gemm_e2m1x4_sm8(w0 & 0xFFFFu, L0.x, L0.y);
        A[1] = fp4__cuda_gemm_e2m1x4_sm8(w1 & 0xFFFFu, L1.x, L1.y);
        A[2] = fp4__cuda_gemm_e2m1x4_sm8(w0 >> 16, L0.x, L0.y);
        A[3] = fp4__cuda_gemm_e2m1x4_sm8(w1 >> 16, L1.x, L1.y);
#pragma unroll
        for (int i = 0; i < NX / 2; i++) fp4__cuda_gemm_wg_reg(dc[i]);
        fp4__cuda_gemm_wg_fence();
        fp4__cuda_gemm_wgmma_e4m3<NX>(dc, A, desc + 2 * j);
        fp4__cuda_gemm_wg_commit();
        if (j > 0) promote(d[(j + 1) & 1], pv); /* the previous block, meanwhile */
        fp4__cuda_gemm_wg_wait<0>();
#pragma unroll
        for (int i = 0; i < NX / 2; i++) fp4__cuda_gemm_wg_reg(dc[i]);
        pv = q;
      }
      /* the stage's last block without overlap within the warpgroup: promoting it during the next stage's
       * first wgmma (registers a wgmma defined, read in the next loop iteration) made ptxas insert a wait
       * there (C7517) or, with the plan in fewer registers, serialize every wgmma (C7518) */
      promote(d[1], pv);
      fp4__cuda_gemm_bar_arrive(empty0 + 8 * s); /* the stage's readers are done */
    }
    fp4__cuda_gemm_wg_epilogue<NX>(acc, xs, ct, n0, m0, p.M, p.N, p.C, p.ct, p.ldc, p.alpha, p.beta);
  }
#else
  (void)tmx; (void)tmw; (void)p; (void)STAGES; (void)XB; (void)WB; (void)sizeof(aux_t);
  __trap(); /* sm_90a only; never launched elsewhere */
#endif
}

/* ==== cuda gemm: hopper fast w4a4, both operands prepared ====
 *
 * sm_90a W4A4 _fast at large M (fp4__cuda_gemm_ss_pick, given fp4__cuda_gemm_ss_layout's workspace): both
 * operands are first written into the workspace in a tensor-core type, then a warp-specialized GEMM reads
 * both from shared memory (wgmma with two matrix descriptors: no register decode in the main loop).
 *  - NVFP4 -> bf16 (fp4__cuda_gemm_dequant_bf16_kernel, exact: E2M1 x E4M3 is a bf16 value); the whole K
 *    accumulates in the wgmma fp32 registers, each warpgroup keeping one stage's wgmma group in flight
 *    while the next is issued (wait_group 1); 128 weight rows x 256 activation rows per CTA.
 *  - MXFP4 -> E4M3 with the exponents folded in (fp4__cuda_gemm_fp8_prep_kernel, both operands in one
 *    launch): in each group of
 *    FP4__CG_SS_GK = 256 K of a row (eight 32-blocks, codes e_j, R = max e_j) block j holds
 *    q * 2^(e_j - R + 6), exact while e_j >= R - 14 (0.5 * 2^-8 is E4M3's smallest subnormal; blocks
 *    further down round to subnormals or 0), the largest block reaching 6 * 64 = 384 <= 448; the group
 *    keeps the fp32 factor 2^(R - 133) (NaN when a code is 255). Per group each warpgroup runs eight FP8
 *    wgmma m64n128k32 (two 128-K stages, a commit group each: the first stage is released as soon as its
 *    wgmmas have run, 4% faster at 4096^3) from a zero accumulator, waits, and promotes:
 *    acc = fma(P * fw, fx, acc) with fw, fx the weight and activation rows' group factors; the two
 *    warpgroups take turns to issue, so that one's wgmmas run while the other promotes. Not fp4.h's bits:
 *    Hopper's FP8 MMA truncates its internal sums when the folded operands carry different powers of two
 *    (the error, measured against float64, is in tests and bench/RESULTS.md: up to 1.9e-4; spec section 5
 *    allows 5e-4). 128 x 128 per CTA (the promoted sums need a second accumulator set); one persistent CTA
 *    per SM loops over the tiles, its epilogue in shared memory of its own (in two passes: room for a
 *    5-deep ring), so that the producer loads the next tile meanwhile (3% faster at 4096^3 than one CTA per
 *    tile with a 6-deep ring, the same at 8192^3).
 *  - CTA: 384 threads as the W4A16 TMA kernel: warpgroup 0 produces (thread 0 issues the TMA copies of a
 *    stage: 128-byte-swizzled K slabs of both operands, and for FP8 the group's activation factors),
 *    warpgroups 1 and 2 consume, 64 weight rows each; tiles in bands of 8 activation tiles for L2 reuse;
 *    epilogue through shared memory (fp4__cuda_gemm_wg_epilogue). Fixed order: the same bits on every
 *    run. Tried and dropped: sharing each activation tile between two CTAs of a cluster by TMA multicast
 *    (correct, but half the speed). */
#define FP4__CG_SS_M 512 /* the smallest M where the automatic choice takes this path (fp4__cuda_gemm_ss_pick) */
#define FP4__CG_SS_NX(F8) ((F8) ? 128 : 256)
/* FP8: persistent CTAs (one per SM, looping over tiles) with the epilogue in its own shared memory, so that
 * the next tile's copies run during it, and a 4-deep ring (1); or one tile per CTA and a 6-deep ring (0) */
#ifndef FP4__CG_SS_PERSIST
#define FP4__CG_SS_PERSIST 1
#endif
/* FP8 persistent: its epilogue in FP4__CG_SS_EPP passes (fp4__cuda_gemm_wg_epilogue), which leaves room for
 * FP4__CG_SS_PST stages */
#ifndef FP4__CG_SS_EPP
#define FP4__CG_SS_EPP 2
#endif
#ifndef FP4__CG_SS_PST
#define FP4__CG_SS_PST (FP4__CG_SS_EPP == 2 ? 5 : 4)
#endif
#define FP4__CG_SS_STAGES(F8) ((F8) ? (FP4__CG_SS_PERSIST ? FP4__CG_SS_PST : 6) : 4)
#define FP4__CG_SS_EP(F8) /* own epilogue bytes */ \
  ((F8) && FP4__CG_SS_PERSIST ? 2 * FP4__CG_SS_NX(F8) / FP4__CG_SS_EPP * 68 * 4 : 0)
#define FP4__CG_SS_SB(F8) ((F8) ? FP4__CG_SS_NX(F8) * 4 : 0) /* activation group factors per stage */
/* FP8: K per exponent group (a multiple of 128: that many 128-K stages chain their wgmmas into one
 * accumulator before the promotion). bench_cuda_gemm w4a4 on the H100: 256 ran MXFP4 _fast at 0.90x /
 * 1.11-1.18x cuBLAS BF16 at 4096^3 / 8192^3 against 0.78-0.80x / 0.84-0.94x with 128, its error vs
 * float64 1.6-1.9e-4 against 1.0-1.3e-4; 512 was slower again (0.76x / 0.93-0.98x, error 2.3-2.7e-4): a
 * group's stages must all have landed before its first wgmma (bench/RESULTS.md). */
#ifndef FP4__CG_SS_GK
#define FP4__CG_SS_GK 256
#endif
/* FP8 with two stages per group: release the first stage once its wgmmas have run (1), or both after the
 * group (0) */
#ifndef FP4__CG_SS_EARLY
#define FP4__CG_SS_EARLY 1
#endif

struct fp4__cuda_gemm_ss_args {
  int M, N;
  int64_t K;
  int G;             /* FP8: exponent groups of FP4__CG_SS_GK along K */
  const float *fw;   /* FP8: weight group factors, N x G */
  void *C;
  fp4_dtype ct;
  int64_t ldc;
  float alpha, beta;
};

/* Whether the automatic _fast choice takes this path (given its workspace) rather than the bf16-A
 * register-decode one, from bench_cuda_gemm w4a4all on the H100 (bench/RESULTS.md): MXFP4 (FP8, 2x the
 * bf16 tensor rate) from M = 512; NVFP4 (bf16 both ways, the weights' decode saved against the B copy's
 * traffic) from M = 4096, or from M = 1024 when K > 8192 (the other kernel promotes its long K). */
static inline int fp4__cuda_gemm_ss_pick(fp4_format f, int64_t M, int64_t K) {
  if (f == FP4_MXFP4) return M >= FP4__CG_SS_M;
  return M >= 4096 || (M >= 1024 && K > 8192);
}

/* Workspace of the path: the operands' copies (M x K and N x K elements, 2 bytes (bf16) or 1 (FP8)),
 * then for FP8 the activation factors (G x Mp floats, G groups along K, Mp = M rounded up to 4: a
 * 16-byte TMA pitch) and the weight factors (N x G); every part 256-byte aligned. */
struct fp4__cuda_gemm_ss_ws {
  size_t a, b, fx, fw, total;
  int64_t G, Mp;
};
static inline fp4__cuda_gemm_ss_ws fp4__cuda_gemm_ss_layout(int f8, int64_t M, int64_t N, int64_t K) {
  fp4__cuda_gemm_ss_ws w;
  const size_t es = f8 ? 1 : 2;
  w.G = (K + FP4__CG_SS_GK - 1) / FP4__CG_SS_GK;
  w.Mp = (M + 3) / 4 * 4;
  const size_t G = (size_t)w.G, Mp = (size_t)w.Mp;
  w.a = 0;
  w.b = ((size_t)M * K * es + 255) / 256 * 256;
  w.fx = (w.b + (size_t)N * K * es + 255) / 256 * 256;
  w.fw = (w.fx + (f8 ? G * Mp * 4 : 0) + 255) / 256 * 256;
  w.total = w.fw + (f8 ? (size_t)N * G * 4 : 0);
  return w;
}

/* d[64 x 256] (+)= A(desc: 64 x 16 bf16) . B(desc: 256 x 16 bf16), both K-major; SD = 0: D = A.B. */
template <int SD>
static __device__ __forceinline__ void fp4__cuda_gemm_wgmma_ss_bf16(float *d, uint64_t da, uint64_t db) {
#if defined(FP4__CUDA_GEMM_WGMMA)
    asm volatile(
        "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, "
        "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "
        "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "
        "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, "
        "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}, "
        "%128, %129, %130, 1, 1, 0, 0;\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]),
          "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),
          "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]),
          "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]),
          "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]),
          "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]),
          "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]),
          "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]),
          "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
        : "l"(da), "l"(db), "n"(SD));
#else
  (void)d; (void)da; (void)db; __trap();
#endif
}
/* d[64 x 128] (+)= A(desc: 64 x 32 e4m3) . B(desc: 128 x 32 e4m3), both K-major; SD = 0: D = A.B. */
template <int SD>
static __device__ __forceinline__ void fp4__cuda_gemm_wgmma_ss_e4m3(float *d, uint64_t da, uint64_t db) {
#if defined(FP4__CUDA_GEMM_WGMMA)
    asm volatile(
        "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
        "%64, %65, %66, 1, 1;\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "l"(da), "l"(db), "n"(SD));
#else
  (void)d; (void)da; (void)db; __trap();
#endif
}

/* One operand of the MXFP4 _fast prepass: its codes and scales, and where its E4M3 rows and its group
 * factors (fs[r * rs + g * gs]) go. */
struct fp4__cuda_gemm_fp8_op {
  const uint8_t *d, *s;
  uint8_t *out;
  float *fs;
  int64_t rows, rs, gs;
  fp4_layout lay;
};

/* Hopper MXFP4 _fast, step 1: both operands (one launch) -> E4M3 rows of K bytes with each group's
 * exponents folded in (see above), and the group factors. One thread per row and 32-block (the row's
 * blocks padded to whole groups, so that a group is GK/32 adjacent lanes: its largest code by shuffles;
 * the second operand's threads start at a multiple of GK/32); the block's 8 magnitudes as E4M3 (rounded
 * once by cvt.rn) in two registers, and the codes decoded by fp4__cuda_gemm_e2m1x4_sm8 (E4M3 is
 * sign-magnitude), 4 per 16-bit chunk. */
FP4__CUDA_LAZY
static __global__ void __launch_bounds__(256) fp4__cuda_gemm_fp8_prep_kernel(const fp4__cuda_gemm_fp8_op o0,
                                                                           const fp4__cuda_gemm_fp8_op o1, int64_t K) {
#if defined(FP4__CUDA_GEMM_WGMMA)
  constexpr int BPG = FP4__CG_SS_GK / 32; /* blocks per group: adjacent lanes */
  const int64_t nb = K / 32, nbp = (K + FP4__CG_SS_GK - 1) / FP4__CG_SS_GK * BPG, n0 = o0.rows * nbp;
  const int64_t n = n0 + o1.rows * nbp;
  for (int64_t i0 = blockIdx.x * (int64_t)blockDim.x; i0 < n; i0 += (int64_t)gridDim.x * blockDim.x) { /* warp-uniform */
    const int64_t i = i0 + threadIdx.x;
    const bool two = i >= n0; /* the second operand's thread */
    const uint8_t *d = two ? o1.d : o0.d, *s = two ? o1.s : o0.s;
    uint8_t *out = two ? o1.out : o0.out;
    float *fs = two ? o1.fs : o0.fs;
    const int64_t rs = two ? o1.rs : o0.rs, gs = two ? o1.gs : o0.gs, j = two ? i - n0 : i, r = j / nbp, b = j % nbp;
    const bool ok = i < n && b < nb;
    const int e = ok ? s[fp4__scale_offset(two ? o1.lay : o0.lay, r, b, nb)] : 0;
    int R = e;
#pragma unroll
    for (int x = 1; x < BPG; x *= 2) R = max(R, __shfl_xor_sync(0xFFFFFFFFu, R, x));
    if (!ok) continue;
    if (b % BPG == 0) fs[r * rs + b / BPG * gs] = R == 0xFF ? fp4__nan() : fp4__exp2i(R - 133);
    const int t = e - R + 6; /* <= 6; R = 255 (a NaN code): the factor is NaN, the values do not matter */
    const float f = t >= -24 ? __int_as_float((t + 127) << 23) : 0.0f;
    const uint2 L = fp4__cuda_gemm_e4m3_lut(f); /* the magnitudes times 2^t as E4M3 */
    const uint2 *src = reinterpret_cast<const uint2 *>(d + r * (K / 2) + b * 16); /* 8-byte aligned */
    const uint2 v0 = src[0], v1 = src[1];
    const uint32_t w[4] = {v0.x, v0.y, v1.x, v1.y};
    uint32_t o[8];
#pragma unroll
    for (int q = 0; q < 8; q++) o[q] = fp4__cuda_gemm_e2m1x4_sm8((w[q >> 1] >> (16 * (q & 1))) & 0xFFFFu, L.x, L.y);
    uint4 *dst = reinterpret_cast<uint4 *>(out + r * K + b * 32);
    dst[0] = make_uint4(o[0], o[1], o[2], o[3]);
    dst[1] = make_uint4(o[4], o[5], o[6], o[7]);
  }
#else
  (void)o0; (void)o1; (void)K;
  __trap(); /* sm_90a only; never launched elsewhere */
#endif
}

template <int F8>
__global__ void __launch_bounds__(384, 1)
    fp4__cuda_gemm_ss_kernel(const __grid_constant__ CUtensorMap tmx, const __grid_constant__ CUtensorMap tmw,
                             const __grid_constant__ CUtensorMap tmf, const fp4__cuda_gemm_ss_args p) {
  constexpr int NX = FP4__CG_SS_NX(F8), STAGES = FP4__CG_SS_STAGES(F8), XB = NX * 128, WB = FP4__CG_WG_BN * 128;
  constexpr int SB = FP4__CG_SS_SB(F8), EK = F8 ? 128 : 64; /* elements per 128-byte K slab */
  constexpr int EP = FP4__CG_SS_EP(F8);
#if defined(FP4__CUDA_GEMM_WGMMA)
  extern __shared__ __align__(16) unsigned char fp4__cg_smem[];
  unsigned char *xs = fp4__cg_smem + ((1024u - ((uint32_t)__cvta_generic_to_shared(fp4__cg_smem) & 1023u)) & 1023u);
  unsigned char *ws = xs + STAGES * XB;
  float *fx = reinterpret_cast<float *>(ws + STAGES * WB); /* FP8: [STAGES][NX] activation group factors */
  /* epilogue staging: its own bytes (persistent FP8), else the pipeline buffers (one tile per CTA: idle then) */
  unsigned char *ep = EP ? ws + STAGES * (WB + SB) : xs;
  uint64_t *bars = reinterpret_cast<uint64_t *>(ws + STAGES * (WB + SB) + EP); /* full[STAGES], empty[STAGES] */
  const uint32_t xs_s = (uint32_t)__cvta_generic_to_shared(xs), ws_s = (uint32_t)__cvta_generic_to_shared(ws);
  const uint32_t fx_s = (uint32_t)__cvta_generic_to_shared(fx);
  const uint32_t full0 = (uint32_t)__cvta_generic_to_shared(bars), empty0 = full0 + 8 * STAGES;
  const int tid = threadIdx.x;
  /* tiles in bands of up to 8 activation tiles, the activation tile fastest within a band; CTA b takes
   * tiles b, b + gridDim.x, ... (the host launches one CTA per tile unless EP) */
  const int tn = (p.N + FP4__CG_WG_BN - 1) / FP4__CG_WG_BN, tm = (p.M + NX - 1) / NX, band = 8 * tn, ntiles = tn * tm;
  auto tile_of = [&](int t, int &m0, int &n0) {
    const int b0 = t / band * 8, bh = tm - b0 < 8 ? tm - b0 : 8, ib = t % band;
    m0 = (b0 + ib % bh) * NX;
    n0 = ib / bh * FP4__CG_WG_BN;
  };
  constexpr int SPG = F8 ? FP4__CG_SS_GK / 128 : 1; /* stages per FP8 exponent group */
  constexpr bool EARLY = FP4__CG_SS_EARLY && SPG == 2; /* a commit group per stage: the first released early */
  static_assert(FP4__CG_SS_GK % 128 == 0 && SPG <= STAGES, "FP4__CG_SS_GK: a multiple of 128, at most a ring");
  const int nk = (int)((p.K + EK * SPG - 1) / (EK * SPG)) * SPG; /* whole groups: the TMA fills past K with 0 */

  if (tid == 0) {
    for (int s = 0; s < STAGES; s++) {
      fp4__cuda_gemm_bar_init(full0 + 8 * s, 1);
      fp4__cuda_gemm_bar_init(empty0 + 8 * s, 256);
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  if (tid < 128) { /* producer warpgroup: the ring runs on across this CTA's tiles (it: stages so far) */
    asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
    if (tid == 0) {
      int it = 0;
      for (int t = (int)blockIdx.x; t < ntiles; t += (int)gridDim.x) {
        int m0, n0;
        tile_of(t, m0, n0);
        for (int kt = 0; kt < nk; kt++, it++) {
          const int s = it % STAGES, i = it / STAGES;
          if (i > 0) fp4__cuda_gemm_bar_wait(empty0 + 8 * s, (uint32_t)((i - 1) & 1));
          fp4__cuda_gemm_bar_expect(full0 + 8 * s, (uint32_t)(XB + WB + SB));
          fp4__cuda_gemm_tma2d(xs_s + s * XB, &tmx, kt * EK, m0, full0 + 8 * s);
          fp4__cuda_gemm_tma2d(ws_s + s * WB, &tmw, kt * EK, n0, full0 + 8 * s);
          if (F8) fp4__cuda_gemm_tma2d(fx_s + s * SB, &tmf, m0, kt / SPG, full0 + 8 * s);
        }
      }
    }
  } else { /* consumer warpgroups */
    asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
    const int ct = tid - 128, lane = tid & 31, l = lane & 3, wg = ct >> 7;
    const int row0 = wg * 64 + ((ct >> 5) & 3) * 16 + (lane >> 2); /* weight rows row0, row0 + 8 */
    const uint32_t wsw = ws_s + (uint32_t)wg * 64 * 128;           /* this warpgroup's weight rows */
    const int ng = nk / SPG, ngs = (ntiles - (int)blockIdx.x + (int)gridDim.x - 1) / (int)gridDim.x * ng;
    int it = 0, gq = 0; /* stages and FP8 groups so far (this CTA) */
    for (int t = (int)blockIdx.x; t < ntiles; t += (int)gridDim.x) {
      int m0, n0;
      tile_of(t, m0, n0);
      float acc[NX / 2];
#pragma unroll
      for (int i = 0; i < NX / 2; i++) acc[i] = 0.0f;
      if (!F8) {
        /* one stage's group stays in flight while the next is issued; the same accumulators throughout */
        for (int kt = 0; kt < nk; kt++, it++) {
          const int s = it % STAGES;
          fp4__cuda_gemm_bar_wait(full0 + 8 * s, (uint32_t)((it / STAGES) & 1));
          fp4__cuda_gemm_wg_fence();
          const uint64_t da = fp4__cuda_gemm_wg_desc(wsw + s * WB), db = fp4__cuda_gemm_wg_desc(xs_s + s * XB);
#pragma unroll
          for (int q = 0; q < 4; q++) fp4__cuda_gemm_wgmma_ss_bf16<1>(acc, da + 2 * q, db + 2 * q);
          fp4__cuda_gemm_wg_commit();
          fp4__cuda_gemm_wg_wait<1>(); /* the previous stage's group has retired: release its buffers */
          if (kt > 0) fp4__cuda_gemm_bar_arrive(empty0 + 8 * ((it - 1) % STAGES));
        }
        fp4__cuda_gemm_wg_wait<0>();
        if (nk > 0) fp4__cuda_gemm_bar_arrive(empty0 + 8 * ((it - 1) % STAGES));
      } else {
        float d[NX / 2];
        const bool r0ok = n0 + row0 < p.N, r1ok = n0 + row0 + 8 < p.N;
        const float *fw0 = p.fw + (int64_t)(r0ok ? n0 + row0 : 0) * p.G;
        const float *fw1 = p.fw + (int64_t)(r1ok ? n0 + row0 + 8 : 0) * p.G;
        float wn0 = ng > 0 ? __ldg(fw0) : 0.0f, wn1 = ng > 0 ? __ldg(fw1) : 0.0f;
        for (int kg = 0; kg < ng; kg++, gq++, it += SPG) {
          const float w0 = r0ok ? wn0 : 0.0f, w1 = r1ok ? wn1 : 0.0f;
          if (kg + 1 < ng) wn0 = __ldg(fw0 + kg + 1), wn1 = __ldg(fw1 + kg + 1);
#pragma unroll
          for (int j = 0; j < SPG; j++)
            fp4__cuda_gemm_bar_wait(full0 + 8 * ((it + j) % STAGES), (uint32_t)(((it + j) / STAGES) & 1));
          /* the warpgroups take turns to issue (named barriers 4, 5), so that the tensor cores run one's
           * wgmmas while the other promotes, instead of interleaving both and idling through both promotions */
          if (wg == 1 || gq > 0) asm volatile("bar.sync %0, 256;\n" ::"r"(wg ? 4 : 5) : "memory");
#pragma unroll
          for (int i = 0; i < NX / 2; i++) fp4__cuda_gemm_wg_reg(d[i]);
          fp4__cuda_gemm_wg_fence();
#pragma unroll
          for (int j = 0; j < SPG; j++) {
            const int s = (it + j) % STAGES;
            const uint64_t da = fp4__cuda_gemm_wg_desc(wsw + s * WB), db = fp4__cuda_gemm_wg_desc(xs_s + s * XB);
            if (j == 0) fp4__cuda_gemm_wgmma_ss_e4m3<0>(d, da, db);
            else fp4__cuda_gemm_wgmma_ss_e4m3<1>(d, da, db);
#pragma unroll
            for (int q = 1; q < 4; q++) fp4__cuda_gemm_wgmma_ss_e4m3<1>(d, da + 2 * q, db + 2 * q);
            if (EARLY) fp4__cuda_gemm_wg_commit(); /* one group per stage */
          }
          if (!EARLY) fp4__cuda_gemm_wg_commit();
          if (wg == 0 || gq + 1 < ngs) asm volatile("bar.arrive %0, 256;\n" ::"r"(wg ? 5 : 4) : "memory");
          if (EARLY) fp4__cuda_gemm_wg_wait<1>(); /* the group's first stage is read */
          else fp4__cuda_gemm_wg_wait<0>();
          float f[NX / 4]; /* factors of this thread's activation rows 8j + 2l, 8j + 2l + 1 (first stage) */
#pragma unroll
          for (int j = 0; j < NX / 8; j++) {
            const float2 v = *reinterpret_cast<const float2 *>(fx + (it % STAGES) * NX + 8 * j + 2 * l);
            f[2 * j] = v.x, f[2 * j + 1] = v.y;
          }
          if (EARLY) { /* release the first stage while the second one's wgmmas run */
            fp4__cuda_gemm_bar_arrive(empty0 + 8 * (it % STAGES));
            fp4__cuda_gemm_wg_wait<0>();
            fp4__cuda_gemm_bar_arrive(empty0 + 8 * ((it + 1) % STAGES));
          } else {
#pragma unroll
            for (int j = 0; j < SPG; j++) fp4__cuda_gemm_bar_arrive(empty0 + 8 * ((it + j) % STAGES)); /* readers done */
          }
#pragma unroll
          for (int i = 0; i < NX / 2; i++) fp4__cuda_gemm_wg_reg(d[i]);
#pragma unroll
          for (int i = 0; i < NX / 2; i++)
            acc[i] = fmaf(d[i] * ((i >> 1) & 1 ? w1 : w0), f[2 * (i >> 2) + (i & 1)], acc[i]);
        }
      }
#pragma unroll
      for (int i = 0; i < NX / 2; i++) fp4__cuda_gemm_wg_reg(acc[i]);
      fp4__cuda_gemm_wg_epilogue<NX, EP ? FP4__CG_SS_EPP : 1>(acc, ep, ct, n0, m0, p.M, p.N, p.C, p.ct, p.ldc, p.alpha,
                                                            p.beta);
    }
  }
#else
  (void)tmx; (void)tmw; (void)tmf; (void)p; (void)STAGES; (void)XB; (void)WB; (void)SB; (void)EK; (void)EP;
  __trap(); /* sm_90a only; never launched elsewhere */
#endif
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

/* Inside fp4_cuda.cuh the W4A16 entry points hand M <= FP4__CG_GEMV_M to its decode GEMV (bf16/f16/f32
 * activations, given the workspace it asks for): on the H100 it measured 1.4-2.1x cuBLAS BF16 at M = 1..16,
 * ahead of the wgmma kernel's 1.0-1.3x at M = 16 (bench/RESULTS.md). */
#define FP4__CG_GEMV_M 16

/* Bytes of caller workspace the CUDA GEMMs need for an M x N x K product (enough for every entry point):
 * the decode GEMV's split-K (W4A16, M = 1), and on Hopper the W4A4 _fast path's bf16 copy of A (M*K*2
 * bytes; with less, _fast runs the exact kernel), the exact MXFP4 path's int8 copy of A (M*K bytes; with
 * less, the mma.sync kernel), from M = FP4__CG_SS_M up bf16 copies of both W4A4 operands for the _fast
 * path that reads both from shared memory ((M+N)*K*2 bytes and alignment; with less, the path above), and
 * the Hopper W4A16 split-K's fp32 partials (up to 4*M*N*4 bytes for M <= 256; with less, no split). The
 * other tensor-core kernels need none. */
FP4_API size_t fp4_cuda_gemm_workspace_size(int64_t M, int64_t N, int64_t K) {
  size_t w = 0;
#if defined(FP4_CUDA_GEMV_MAX_M)
  if (M <= FP4__CG_GEMV_M) w = fp4_cuda_gemv_workspace_size(M, N, K);
#endif
  if (M > 0 && N > 0 && K > 0 && M <= (int64_t)(SIZE_MAX / 4) / K && (size_t)(M * K * 2) > w) w = (size_t)(M * K * 2);
  /* Hopper W4A4 _fast at large M: both operands prepared (fp4__cuda_gemm_ss_layout; bf16 is the larger) */
  if (M >= FP4__CG_SS_M && N > 0 && K > 0 && M <= 0x7FFFFFFF && N <= 0x7FFFFFFF &&
      K <= (int64_t)(SIZE_MAX / 8) / (M + N)) {
    const size_t s = fp4__cuda_gemm_ss_layout(0, M, N, K).total;
    if (s > w) w = s;
  }
  /* Hopper W4A16 split-K (few output tiles): fp32 partials */
  if (M > 0 && N > 0 && K > 0 && M <= 256 && N <= (int64_t)(SIZE_MAX / 64) / 256 &&
      (size_t)(FP4__CG_SPLITK_MAX * M * N * 4) > w)
    w = (size_t)(FP4__CG_SPLITK_MAX * M * N * 4);
  return w;
}

/* Tile configurations behind one entry point (run-time choice over a listed set). */
#define FP4_CUDA_GEMM_TILE_AUTO (-1)
#define FP4_CUDA_GEMM_TILE_128x128 0 /* 8 warps, 2 x 4, warp tile 64 x 32 */
#define FP4_CUDA_GEMM_TILE_64x128 1  /* 8 warps, 2 x 4, warp tile 32 x 32 */
#define FP4_CUDA_GEMM_TILE_16x128 2  /* 8 warps, 1 x 8, warp tile 16 x 16 (W4A16, small M) */
#define FP4_CUDA_GEMM_TILE_16x64 3   /* 4 warps, 1 x 4, warp tile 16 x 16 (W4A16, small M) */
#define FP4_CUDA_GEMM_TILE_COUNT 4
/* Hopper (sm_90a build on an sm_90 device) W4A16 wgmma kernel: 128 weight rows x NX activation rows.
 * On the exact W4A4 engine (MXFP4, with the workspace) WG64 / WG128 name the FP8 wgmma kernel's width. */
#define FP4_CUDA_GEMM_TILE_WG64 16
#define FP4_CUDA_GEMM_TILE_WG128 17
#define FP4_CUDA_GEMM_TILE_WG256 18
/* the cp.async kernel by name. The WG tiles take the TMA kernel where K % 32 == 0 and the bases are
 * 16-byte aligned, else this one, which has a single width, NX = 128: each width is a large
 * instantiation, and 64 and 256 for this fallback added a third to the header's compile time. */
#define FP4_CUDA_GEMM_TILE_WG_CP 19
/* Hopper W4A4 _fast with fp4__cuda_gemm_ss_layout's workspace: both operands prepared (bf16 / folded
 * E4M3), both wgmma operands from shared memory; the automatic choice where fp4__cuda_gemm_ss_pick says. */
#define FP4_CUDA_GEMM_TILE_SS 20

/* Engines of fp4__cuda_gemm_w4a4: exact (fp4.h's bits), or the fastest native one of the device. */
#define FP4_CUDA_GEMM_W4A4_EXACT 0
#define FP4_CUDA_GEMM_W4A4_NATIVE 1

static inline int fp4__cuda_gemm_cdiv(int64_t a, int64_t b) { return (int)((a + b - 1) / b); }

/* Whether the loaded image of the current device runs the wgmma kernel: an sm_90 device and an sm_90a
 * build of this code (asked once per device, through a flag that only sm_90a device code sets). */
static __device__ int fp4__cg_wgmma_built = 0;
FP4__CUDA_LAZY
static __global__ void fp4__cuda_gemm_wgmma_probe(void) {
#if defined(FP4__CUDA_GEMM_WGMMA)
  fp4__cg_wgmma_built = 1;
#endif
}
FP4__CUDA_LAZY
static inline int fp4__cuda_gemm_has_wgmma(void) {
  static std::atomic<int> known[64]; /* 0 unknown, 1 no, 2 yes (only definite answers are kept) */
  int dev = 0, major = 0, v = 0, k;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= 64) return 0;
  if ((k = known[dev].load(std::memory_order_relaxed)) != 0) return k == 2;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) return 0;
  if (major == 9) {
    /* not now if the caller has an error pending (ours would be taken for it) or the probe fails (for
     * example during stream capture): answer no, ask again next time */
    if (cudaPeekAtLastError() != cudaSuccess) return 0;
    fp4__cuda_gemm_wgmma_probe<<<1, 1>>>();
    if (cudaGetLastError() != cudaSuccess || cudaMemcpyFromSymbol(&v, fp4__cg_wgmma_built, sizeof v) != cudaSuccess)
      return 0;
  }
  known[dev].store(v ? 2 : 1, std::memory_order_relaxed);
  return v != 0;
}

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

/* cuTensorMapEncodeTiled through the runtime's driver entry point (no -lcuda); NULL when unavailable. */
typedef CUresult (*fp4__cg_encode_fn)(CUtensorMap *, CUtensorMapDataType, cuuint32_t, void *, const cuuint64_t *,
                                      const cuuint64_t *, const cuuint32_t *, const cuuint32_t *, CUtensorMapInterleave,
                                      CUtensorMapSwizzle, CUtensorMapL2promotion, CUtensorMapFloatOOBfill);
static inline fp4__cg_encode_fn fp4__cuda_gemm_encoder_load(void) {
  void *f = NULL;
  cudaDriverEntryPointQueryResult q;
#if CUDART_VERSION >= 12050
  if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000, cudaEnableDefault, &q) != cudaSuccess)
    return NULL;
#else
  if (cudaGetDriverEntryPoint("cuTensorMapEncodeTiled", &f, cudaEnableDefault, &q) != cudaSuccess) return NULL;
#endif
  return q == cudaDriverEntryPointSuccess ? (fp4__cg_encode_fn)f : NULL;
}
static inline fp4__cg_encode_fn fp4__cuda_gemm_encoder(void) {
  static const fp4__cg_encode_fn fn = fp4__cuda_gemm_encoder_load(); /* C++11: initialized once, thread-safe */
  return fn;
}

/* A 2D tensor map over `outer` rows of `inner` elements, `pitch` bytes apart, copied in boxes of
 * box_inner x box_outer (L2 promotion 256 B, no out-of-bounds fill); 0 when the encoder refuses it. */
static inline int fp4__cuda_gemm_tmap(fp4__cg_encode_fn enc, CUtensorMap *m, CUtensorMapDataType type, const void *base,
                                      uint64_t inner, uint64_t outer, uint64_t pitch, uint32_t box_inner,
                                      uint32_t box_outer, CUtensorMapSwizzle swizzle) {
  const cuuint64_t dims[2] = {(cuuint64_t)inner, (cuuint64_t)outer}, strides[1] = {(cuuint64_t)pitch};
  const cuuint32_t box[2] = {box_inner, box_outer}, es[2] = {1, 1};
  return enc(m, type, 2, (void *)base, dims, strides, box, es, CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle,
             CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

/* The TMA kernel when its tensor maps can be built (K % 32 == 0, 16-byte aligned bases and pitches). */
template <int FMT, int BF, int NX, int PROMO>
static inline fp4_status fp4__cuda_gemm_wgt_go(const fp4__cuda_gemm_w4a16_args &a, cudaStream_t s, int *done) {
  const fp4__cg_encode_fn enc = fp4__cuda_gemm_encoder();
  CUtensorMap mx, mw;
  *done = 0;
  if (!enc || a.K % 32 || (uintptr_t)a.a % 16 || (uintptr_t)a.b % 16 || (a.lda * 2) % 16) return FP4_OK;
  if (!fp4__cuda_gemm_tmap(enc, &mx, BF ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16, a.a,
                           (uint64_t)a.K, (uint64_t)a.M, (uint64_t)a.lda * 2, 64, NX, CU_TENSOR_MAP_SWIZZLE_128B) ||
      !fp4__cuda_gemm_tmap(enc, &mw, CU_TENSOR_MAP_DATA_TYPE_UINT8, a.b, (uint64_t)(a.K / 2), (uint64_t)a.N,
                           (uint64_t)(a.K / 2), 32, FP4__CG_WG_BN, CU_TENSOR_MAP_SWIZZLE_NONE))
    return FP4_OK;
  *done = 1;
  const size_t smem = 1024 + (size_t)FP4__CG_WGT_STAGES(NX) * (NX * 128 + FP4__CG_WG_BN * 32) + 1024 +
                      16 * FP4__CG_WGT_STAGES(NX);
  const int nk = fp4__cuda_gemm_cdiv(a.K, FP4__CG_BK);
  const dim3 grid(fp4__cuda_gemm_cdiv(a.N, FP4__CG_WG_BN), fp4__cuda_gemm_cdiv(a.M, NX),
                  a.kchunk ? fp4__cuda_gemm_cdiv(nk, a.kchunk) : 1);
  auto kernel = fp4__cuda_gemm_w4a16_tma_kernel<FMT, BF, NX, PROMO>;
  if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem) != cudaSuccess)
    return FP4_ERR_DEVICE;
  kernel<<<grid, 384, smem, s>>>(mx, mw, a);
  return fp4__cuda_gemm_status(cudaGetLastError());
}

/* Launches of the Hopper exact MXFP4 kernel (tests check that they exercise it). */
static inline long fp4__cuda_gemm_f8wg_runs(long inc) {
  static std::atomic<long> n(0);
  return n.fetch_add(inc, std::memory_order_relaxed) + inc;
}

/* Hopper exact MXFP4 W4A4: the prepass into the workspace (M*K bytes, 16-byte aligned, checked by the
 * caller), then the FP8 wgmma kernel; *done = 0 (nothing launched) where the tensor maps cannot be built. */
template <int NX>
static inline fp4_status fp4__cuda_gemm_f8wg_go(const fp4__cuda_gemm_w4a4_args &a, void *ws, cudaStream_t s, int *done) {
  const fp4__cg_encode_fn enc = fp4__cuda_gemm_encoder();
  CUtensorMap mx, mw;
  *done = 0;
  if (!enc || a.K % 32 || (uintptr_t)a.b % 16 || (uintptr_t)ws % 16) return FP4_OK;
  if (!fp4__cuda_gemm_tmap(enc, &mx, CU_TENSOR_MAP_DATA_TYPE_UINT8, ws, (uint64_t)a.K, (uint64_t)a.M, (uint64_t)a.K,
                           128, NX, CU_TENSOR_MAP_SWIZZLE_128B) ||
      !fp4__cuda_gemm_tmap(enc, &mw, CU_TENSOR_MAP_DATA_TYPE_UINT8, a.b, (uint64_t)(a.K / 2), (uint64_t)a.N,
                           (uint64_t)(a.K / 2), 64, FP4__CG_WG_BN, CU_TENSOR_MAP_SWIZZLE_64B))
    return FP4_OK;
  *done = 1;
  {
    const int64_t n = (int64_t)a.M * (a.K / 32);
    const int blocks = (int)(n / 256 + 1 < 8192 ? n / 256 + 1 : 8192);
    fp4__cuda_gemm_f8_prep_kernel<<<blocks, 256, 0, s>>>(a.a, a.M, a.K, (uint8_t *)ws);
    if (cudaGetLastError() != cudaSuccess) return FP4_ERR_DEVICE;
  }
  constexpr int ST = FP4__CG_F8_STAGES(NX);
  const size_t smem = 1024 + (size_t)ST * (NX * 128 + FP4__CG_WG_BN * 64 + sizeof(fp4__cuda_gemm_f8_aux<NX>)) +
                      256 * sizeof(float) + 16 * sizeof(uint2) + 16 * ST;
  const dim3 grid(fp4__cuda_gemm_cdiv(a.N, FP4__CG_WG_BN), fp4__cuda_gemm_cdiv(a.M, NX));
  auto kernel = fp4__cuda_gemm_w4a4_f8wg_kernel<NX>;
  if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem) != cudaSuccess)
    return FP4_ERR_DEVICE;
  kernel<<<grid, 384, smem, s>>>(mx, mw, a);
  fp4__cuda_gemm_f8wg_runs(1);
  return fp4__cuda_gemm_status(cudaGetLastError());
}

/* Launches of the Hopper _fast path with both operands prepared (tests check that they exercise it). */
static inline long fp4__cuda_gemm_ss_runs(long inc) {
  static std::atomic<long> n(0);
  return n.fetch_add(inc, std::memory_order_relaxed) + inc;
}

/* Hopper W4A4 _fast with both operands prepared: F8 = 1 MXFP4 (folded E4M3), 0 NVFP4 (bf16). The
 * workspace (fp4__cuda_gemm_ss_layout's bytes, 16-byte aligned) and the 8-byte aligned operands are
 * checked by the caller; *done = 0 (nothing launched) where the tensor maps cannot be built. */
template <int F8>
static inline fp4_status fp4__cuda_gemm_ss_go(const fp4_tensor *A, const fp4_tensor *B, float alpha, float beta,
                                              void *C, fp4_dtype ct, int64_t ldc, void *ws, cudaStream_t s, int *done) {
  constexpr int NX = FP4__CG_SS_NX(F8), ST = FP4__CG_SS_STAGES(F8), EK = F8 ? 128 : 64;
  const fp4__cg_encode_fn enc = fp4__cuda_gemm_encoder();
  const int64_t M = A->rows, N = B->rows, K = A->cols;
  const fp4__cuda_gemm_ss_ws L = fp4__cuda_gemm_ss_layout(F8, M, N, K);
  const int64_t G = L.G, Mp = L.Mp;
  unsigned char *w = (unsigned char *)ws;
  const CUtensorMapDataType ty = F8 ? CU_TENSOR_MAP_DATA_TYPE_UINT8 : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
  CUtensorMap mx, mw, mf;
  *done = 0;
  if ((int64_t)fp4__cuda_gemm_cdiv(M, NX) * fp4__cuda_gemm_cdiv(N, FP4__CG_WG_BN) > 0x7FFFFFFF)
    return FP4_OK; /* tile ids are int: the other path */
  if (!enc || !fp4__cuda_gemm_tmap(enc, &mx, ty, w + L.a, (uint64_t)K, (uint64_t)M, (uint64_t)K * (F8 ? 1 : 2), EK, NX,
                                   CU_TENSOR_MAP_SWIZZLE_128B) ||
      !fp4__cuda_gemm_tmap(enc, &mw, ty, w + L.b, (uint64_t)K, (uint64_t)N, (uint64_t)K * (F8 ? 1 : 2), EK,
                           FP4__CG_WG_BN, CU_TENSOR_MAP_SWIZZLE_128B) ||
      (F8 && !fp4__cuda_gemm_tmap(enc, &mf, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, w + L.fx, (uint64_t)M, (uint64_t)G,
                                  (uint64_t)Mp * 4, NX, 1, CU_TENSOR_MAP_SWIZZLE_NONE)))
    return FP4_OK;
  if (!F8) mf = mx; /* unused */
  *done = 1;
  if (F8) { /* both operands in one launch: one thread per row and 32-block (groups padded) */
    const fp4__cuda_gemm_fp8_op oa = {A->data, A->scales, w + L.a, (float *)(w + L.fx), M, 1, Mp, A->scale_layout};
    const fp4__cuda_gemm_fp8_op ob = {B->data, B->scales, w + L.b, (float *)(w + L.fw), N, G, 1, B->scale_layout};
    const int64_t n = (M + N) * G * (FP4__CG_SS_GK / 32);
    const int blocks = (int)(n / 256 + 1 < 8192 ? n / 256 + 1 : 8192);
    fp4__cuda_gemm_fp8_prep_kernel<<<blocks, 256, 0, s>>>(oa, ob, K);
    if (cudaGetLastError() != cudaSuccess) return FP4_ERR_DEVICE;
  }
  const fp4_tensor *op[2] = {A, B};
  for (int o = 0; o < 2 && !F8; o++) { /* NVFP4: each operand -> bf16 */
    const fp4_tensor *T = op[o];
    const int64_t n8 = T->rows * (K / 8);
    const int blocks = (int)(n8 / 256 + 1 < 4096 ? n8 / 256 + 1 : 4096);
    fp4__cuda_gemm_dequant_bf16_kernel<FP4_NVFP4><<<blocks, 256, 0, s>>>(T->data, T->scales, T->scale_layout, T->rows,
                                                                        K, (uint16_t *)(w + (o ? L.b : L.a)));
    if (cudaGetLastError() != cudaSuccess) return FP4_ERR_DEVICE;
  }
  fp4__cuda_gemm_ss_args p;
  p.M = (int)M;
  p.N = (int)N;
  p.K = K;
  p.G = (int)G;
  p.fw = (const float *)(w + L.fw);
  p.C = C;
  p.ct = ct;
  p.ldc = ldc;
  p.alpha = fp4__mul(alpha, A->tensor_scale) * B->tensor_scale;
  p.beta = beta;
  const size_t smem =
      1024 + (size_t)ST * (NX * 128 + FP4__CG_WG_BN * 128 + FP4__CG_SS_SB(F8)) + FP4__CG_SS_EP(F8) + 16 * ST;
  int tiles = fp4__cuda_gemm_cdiv(M, NX) * fp4__cuda_gemm_cdiv(N, FP4__CG_WG_BN);
  if (FP4__CG_SS_EP(F8) > 0 && tiles > fp4__cuda_gemm_sms()) tiles = fp4__cuda_gemm_sms(); /* persistent */
  auto kernel = fp4__cuda_gemm_ss_kernel<F8>;
  if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem) != cudaSuccess)
    return FP4_ERR_DEVICE;
  kernel<<<tiles, 384, smem, s>>>(mx, mw, mf, p);
  fp4__cuda_gemm_ss_runs(1);
  return fp4__cuda_gemm_status(cudaGetLastError());
}

/* Launch the wgmma W4A16 kernel (a: 16-bit activations; at FP4_BF16 or FP4_F16; MXFP4 needs bf16). */
template <int FMT, int BF>
static inline fp4_status fp4__cuda_gemm_wg_go(const fp4__cuda_gemm_w4a16_args &a0, int tile, cudaStream_t s, void *ws,
                                              size_t ws_bytes) {
  fp4__cuda_gemm_w4a16_args a = a0;
  const int nx = tile == FP4_CUDA_GEMM_TILE_WG64 ? 64 : tile == FP4_CUDA_GEMM_TILE_WG256 ? 256 : 128;
  dim3 grid(fp4__cuda_gemm_cdiv(a.N, FP4__CG_WG_BN), fp4__cuda_gemm_cdiv(a.M, nx));
  if (tile <= FP4_CUDA_GEMM_TILE_WG256) { /* the TMA kernel where it applies */
    if (a.K > FP4__CG_PROMO_K) grid.y = fp4__cuda_gemm_cdiv(a.M, 128); /* see below */
    int done = 0, S = 1;
    /* split-K when the tiles leave SMs idle and the caller's workspace holds the fp32 partials */
    const int64_t ctas = (int64_t)grid.x * grid.y, nk = fp4__cuda_gemm_cdiv(a.K, FP4__CG_BK), sms = fp4__cuda_gemm_sms();
    while (S < FP4__CG_SPLITK_MAX && ctas * (S * 2) <= sms + sms / 4 && nk >= 16 * (S * 2)) S *= 2;
    if (S > 1 && ws && (uintptr_t)ws % 16 == 0 && ws_bytes >= (size_t)S * a.M * a.N * 4) {
      a.kchunk = fp4__cuda_gemm_cdiv(nk, S);
      S = fp4__cuda_gemm_cdiv(nk, a.kchunk);
      a.zstride = (int64_t)a.M * a.N;
      a.C = ws;
      a.ct = FP4_F32;
      a.ldc = a.N;
      a.alpha = 1.0f;
      a.beta = 0.0f;
    } else {
      S = 1;
    }
    /* a CTA that accumulates more than FP4__CG_PROMO_K of K in one wgmma accumulator takes the 128-wide
     * tile with periodic fp32 promotion (the 256-wide one has no registers for a second set) */
    const int64_t kspan = a.kchunk ? (int64_t)a.kchunk * FP4__CG_BK : a.K;
    const fp4_status st = kspan > FP4__CG_PROMO_K ? fp4__cuda_gemm_wgt_go<FMT, BF, 128, 1>(a, s, &done)
                          : nx == 64              ? fp4__cuda_gemm_wgt_go<FMT, BF, 64, 0>(a, s, &done)
                          : nx == 128             ? fp4__cuda_gemm_wgt_go<FMT, BF, 128, 0>(a, s, &done)
                                                  : fp4__cuda_gemm_wgt_go<FMT, BF, 256, 0>(a, s, &done);
    if (done) {
      if (st != FP4_OK || S == 1) return st;
      const int64_t n = (int64_t)a0.M * a0.N;
      const int blocks = (int)(n / 256 + 1 < 2048 ? n / 256 + 1 : 2048);
      fp4__cuda_gemm_splitk_reduce<<<blocks, 256, 0, s>>>((const float *)ws, S, a.zstride, a0.M, a0.N, a0.C, a0.ct,
                                                          a0.ldc, a0.alpha, a0.beta);
      return fp4__cuda_gemm_status(cudaGetLastError());
    }
    /* the TMA kernel does not apply (K % 32 != 0, a base or pitch not 16-byte aligned, no tensor-map
     * encoder): the cp.async kernel below, unsplit */
    a = a0;
  }
  grid.y = fp4__cuda_gemm_cdiv(a.M, 128);
  return fp4__cuda_gemm_launch(fp4__cuda_gemm_w4a16_wgmma_kernel<FMT, BF, 128>, grid, 256,
                               (size_t)FP4__CG_WG_STAGES * (128 * 128 + FP4__CG_WG_BN * FP4__CG_PITCH) + 1024, a, s);
}
FP4__CUDA_LAZY
static inline fp4_status fp4__cuda_gemm_wg(const fp4__cuda_gemm_w4a16_args &a, fp4_format f, fp4_dtype at, int tile,
                                           cudaStream_t s, void *ws, size_t ws_bytes) {
  if (at == FP4_BF16)
    return f == FP4_MXFP4 ? fp4__cuda_gemm_wg_go<FP4_MXFP4, 1>(a, tile, s, ws, ws_bytes)
                          : fp4__cuda_gemm_wg_go<FP4_NVFP4, 1>(a, tile, s, ws, ws_bytes);
  return fp4__cuda_gemm_wg_go<FP4_NVFP4, 0>(a, tile, s, ws, ws_bytes);
}
/* The wgmma tile for an M x N product on Hopper, or -1 for the mma.sync kernels (M = 1; M <= 16 goes to
 * the decode GEMV first when the workspace allows).
 * From bench/RESULTS.md (H100): at M = 16 the 64-wide tile (split-K with the workspace) ran 1.0-1.3x cuBLAS
 * BF16 against 0.32-0.80x for the mma.sync 16-row tile; at M = 256 the 128/256-wide tiles win. */
static inline int fp4__cuda_gemm_wg_pick(int64_t M, int64_t N) {
  const int64_t sms = fp4__cuda_gemm_sms(), nt = fp4__cuda_gemm_cdiv(N, FP4__CG_WG_BN);
  if (M <= 1) return -1; /* M = 1: fp4_cuda.cuh's decode GEMV (or the mma.sync kernel standalone) */
  if (M <= 64) return FP4_CUDA_GEMM_TILE_WG64;
  if (M >= 512 && nt * fp4__cuda_gemm_cdiv(M, 256) >= sms) return FP4_CUDA_GEMM_TILE_WG256;
  return FP4_CUDA_GEMM_TILE_WG128;
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

FP4__CUDA_LAZY
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

/* Whether a W4A4 workspace overlaps an operand's codes or scales or the output C (then it is not used). */
static inline int fp4__cuda_gemm_ws_overlaps(const void *ws, size_t ws_bytes, const fp4_tensor *A, const fp4_tensor *B,
                                             const void *C, fp4_dtype ct, int64_t ldc) {
  return fp4__overlap(ws, ws_bytes, C, fp4__span(A->rows, B->rows, ldc, ct)) ||
         fp4__overlap(ws, ws_bytes, A->data, fp4_data_bytes(A->rows, A->cols)) ||
         fp4__overlap(ws, ws_bytes, A->scales, fp4_scale_bytes(A->format, A->rows, A->cols, A->scale_layout)) ||
         fp4__overlap(ws, ws_bytes, B->data, fp4_data_bytes(B->rows, B->cols)) ||
         fp4__overlap(ws, ws_bytes, B->scales, fp4_scale_bytes(B->format, B->rows, B->cols, B->scale_layout));
}

/* Validation as fp4.h's fp4__gemm_w4a4 (spec §4) plus the kernels' alignment needs, then launch.
 * tile: FP4_CUDA_GEMM_TILE_* or AUTO; engine: FP4_CUDA_GEMM_W4A4_*. Callable for tests. */
FP4__CUDA_LAZY
FP4_API fp4_status fp4__cuda_gemm_w4a4(const fp4_tensor *A, const fp4_tensor *B, float alpha, float beta, void *C,
                                       fp4_dtype ct, int64_t ldc, void *ws, size_t ws_bytes, cudaStream_t stream,
                                       int engine, int tile) {
  fp4_status st;
  fp4__cuda_gemm_w4a4_args a;
  int vec;
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
  if (engine != FP4_CUDA_GEMM_W4A4_EXACT && engine != FP4_CUDA_GEMM_W4A4_NATIVE) return FP4_ERR_ARG;
  /* packed rows are K/2 bytes: 16-byte copies when rows and bases allow, else 8 (NVFP4 with K % 32 == 16) */
  vec = ((A->cols / 2) % 16 == 0 && (uintptr_t)A->data % 16 == 0 && (uintptr_t)B->data % 16 == 0) ? 16 : 8;
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
  /* Hopper exact MXFP4 (fp4.h's bits): the FP8 wgmma kernel, given M*K bytes of workspace (16-byte
   * aligned, overlapping no operand or C) and 16-byte aligned weights; else the mma.sync kernel below */
  if (A->format == FP4_MXFP4 && (engine == FP4_CUDA_GEMM_W4A4_EXACT || FP4__CG_F8WG_FAST) &&
      (tile == FP4_CUDA_GEMM_TILE_AUTO || tile == FP4_CUDA_GEMM_TILE_WG64 || tile == FP4_CUDA_GEMM_TILE_WG128) && ws &&
      ws_bytes >= (size_t)(A->rows * A->cols) && (uintptr_t)ws % 16 == 0 && (uintptr_t)A->data % 8 == 0 &&
      (uintptr_t)B->data % 16 == 0 && !fp4__cuda_gemm_ws_overlaps(ws, ws_bytes, A, B, C, ct, ldc) &&
      fp4__cuda_gemm_has_wgmma()) {
    int done = 0, nx = tile == FP4_CUDA_GEMM_TILE_WG64 ? 64 : 128;
    if (tile == FP4_CUDA_GEMM_TILE_AUTO &&
        (int64_t)fp4__cuda_gemm_cdiv(A->rows, 128) * fp4__cuda_gemm_cdiv(B->rows, 128) < (int64_t)fp4__cuda_gemm_sms())
      nx = 64; /* fewer 128 x 128 tiles than SMs */
    st = nx == 64 ? fp4__cuda_gemm_f8wg_go<64>(a, ws, stream, &done) : fp4__cuda_gemm_f8wg_go<128>(a, ws, stream, &done);
    if (done) return st;
  }
  if (engine == FP4_CUDA_GEMM_W4A4_EXACT && (tile == FP4_CUDA_GEMM_TILE_WG64 || tile == FP4_CUDA_GEMM_TILE_WG128))
    tile = FP4_CUDA_GEMM_TILE_AUTO; /* the FP8 wgmma kernel does not apply: the mma.sync kernel, same bits */
  /* Hopper _fast, either path: a 16-byte aligned workspace overlapping no operand or C, 8-byte aligned codes */
  const int fast_ws = engine == FP4_CUDA_GEMM_W4A4_NATIVE && ws && (uintptr_t)ws % 16 == 0 &&
                      (uintptr_t)A->data % 8 == 0 && (uintptr_t)B->data % 8 == 0 &&
                      !fp4__cuda_gemm_ws_overlaps(ws, ws_bytes, A, B, C, ct, ldc) && fp4__cuda_gemm_has_wgmma();
  /* at large M with the larger workspace: both operands prepared, SS wgmma (see there) */
  if (fast_ws &&
      (tile == FP4_CUDA_GEMM_TILE_SS ||
       (tile == FP4_CUDA_GEMM_TILE_AUTO && fp4__cuda_gemm_ss_pick(A->format, A->rows, A->cols))) &&
      ws_bytes >= fp4__cuda_gemm_ss_layout(A->format == FP4_MXFP4, A->rows, B->rows, A->cols).total) {
    int done = 0;
    st = A->format == FP4_MXFP4 ? fp4__cuda_gemm_ss_go<1>(A, B, alpha, beta, C, ct, ldc, ws, stream, &done)
                                : fp4__cuda_gemm_ss_go<0>(A, B, alpha, beta, C, ct, ldc, ws, stream, &done);
    if (done) return st;
  }
  if (fast_ws && (tile == FP4_CUDA_GEMM_TILE_AUTO || tile >= FP4_CUDA_GEMM_TILE_WG64) &&
      ws_bytes >= (size_t)(A->rows * A->cols * 2)) {
    /* Hopper _fast: A -> bf16 in the workspace (exact), then the wgmma W4A16 kernel; both tensor scales
     * fold into alpha. Not fp4.h's bits (fp32 accumulation in the tensor cores' order). */
    fp4__cuda_gemm_w4a16_args w;
    if (tile != FP4_CUDA_GEMM_TILE_AUTO && tile != FP4_CUDA_GEMM_TILE_WG64 && tile != FP4_CUDA_GEMM_TILE_WG128 &&
        tile != FP4_CUDA_GEMM_TILE_WG256)
      return FP4_ERR_ARG;
    if (tile == FP4_CUDA_GEMM_TILE_AUTO) {
      tile = fp4__cuda_gemm_wg_pick(A->rows, B->rows);
      if (tile < 0) tile = FP4_CUDA_GEMM_TILE_WG64;
    }
    {
      const int64_t n8 = A->rows * (A->cols / 8);
      const int blocks = (int)(n8 / 256 + 1 < 4096 ? n8 / 256 + 1 : 4096);
      if (A->format == FP4_MXFP4)
        fp4__cuda_gemm_dequant_bf16_kernel<FP4_MXFP4><<<blocks, 256, 0, stream>>>(
            A->data, A->scales, A->scale_layout, A->rows, A->cols, (uint16_t *)ws);
      else
        fp4__cuda_gemm_dequant_bf16_kernel<FP4_NVFP4><<<blocks, 256, 0, stream>>>(
            A->data, A->scales, A->scale_layout, A->rows, A->cols, (uint16_t *)ws);
      if (cudaGetLastError() != cudaSuccess) return FP4_ERR_DEVICE;
    }
    w.a = ws;
    w.lda = A->cols;
    w.b = B->data;
    w.sb = B->scales;
    w.lb = B->scale_layout;
    w.M = (int)A->rows;
    w.N = (int)B->rows;
    w.K = A->cols;
    w.C = C;
    w.ct = ct;
    w.ldc = ldc;
    w.alpha = fp4__mul(alpha, A->tensor_scale) * B->tensor_scale;
    w.beta = beta;
    w.vec16 = (A->cols / 2) % 16 == 0 && (uintptr_t)B->data % 16 == 0;
    w.kchunk = 0;
    w.zstride = 0;
    return fp4__cuda_gemm_wg(w, B->format, FP4_BF16, tile, stream, NULL, 0);
  }
  if (tile == FP4_CUDA_GEMM_TILE_AUTO) {
    const int64_t big = (int64_t)fp4__cuda_gemm_cdiv(A->rows, 128) * fp4__cuda_gemm_cdiv(B->rows, 128);
    tile = big >= 2 * (int64_t)fp4__cuda_gemm_sms() ? FP4_CUDA_GEMM_TILE_128x128 : FP4_CUDA_GEMM_TILE_64x128;
  }
  if (tile != FP4_CUDA_GEMM_TILE_128x128 && tile != FP4_CUDA_GEMM_TILE_64x128) return FP4_ERR_ARG;
  if ((uintptr_t)A->data % 8 || (uintptr_t)B->data % 8) return FP4_ERR_ALIGN;
  if (vec == 8 && A->format == FP4_MXFP4) return FP4_ERR_ALIGN;
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
FP4__CUDA_LAZY
FP4_API fp4_status fp4__cuda_gemm_w4a16(const void *A, fp4_dtype at, int64_t M, int64_t lda, const fp4_tensor *B,
                                        float alpha, float beta, void *C, fp4_dtype ct, int64_t ldc, void *ws,
                                        size_t ws_bytes, cudaStream_t stream, int tile) {
  fp4_status st;
  fp4__cuda_gemm_w4a16_args a;
  int vec;
  if ((st = fp4__check_tensor(B)) != FP4_OK) return st;
  if (!A) return FP4_ERR_NULL;
  if ((unsigned)at >= FP4_DTYPE_COUNT || (unsigned)ct >= FP4_DTYPE_COUNT) return FP4_ERR_ENUM;
  if ((st = fp4__check_dims(M, B->cols, lda)) != FP4_OK) return st;
  if ((uintptr_t)A % fp4__dtype_size(at)) return FP4_ERR_ALIGN;
  if ((st = fp4__check_gemm_out(C, ct, M, B->rows, ldc, B)) != FP4_OK) return st;
  if (fp4__overlap(C, fp4__span(M, B->rows, ldc, ct), A, fp4__span(M, B->cols, lda, at))) return FP4_ERR_ALIAS;
  if (M > 0x7FFFFFFF - 256 || B->rows > 0x7FFFFFFF - 256) return FP4_ERR_OVERFLOW;
  /* a workspace that overlaps an operand or C is not used (split-K partials would clobber them) */
  if (ws && (fp4__overlap(ws, ws_bytes, C, fp4__span(M, B->rows, ldc, ct)) ||
             fp4__overlap(ws, ws_bytes, A, fp4__span(M, B->cols, lda, at)) ||
             fp4__overlap(ws, ws_bytes, B->data, fp4_data_bytes(B->rows, B->cols)) ||
             fp4__overlap(ws, ws_bytes, B->scales, fp4_scale_bytes(B->format, B->rows, B->cols, B->scale_layout)))) {
    ws = NULL;
    ws_bytes = 0;
  }
  if ((uintptr_t)A % 16 || ((size_t)lda * fp4__dtype_size(at)) % 16) return FP4_ERR_ALIGN;
  vec = ((B->cols / 2) % 16 == 0 && (uintptr_t)B->data % 16 == 0) ? 16 : 8;
  if ((uintptr_t)B->data % 8 || (vec == 8 && B->format == FP4_MXFP4)) return FP4_ERR_ALIGN;
#if defined(FP4_CUDA_GEMV_MAX_M)
  /* small M: the bandwidth-bound decode GEMV of fp4_cuda.cuh, after the checks above so that the
   * entry point takes the same buffers at every M */
  if (tile == FP4_CUDA_GEMM_TILE_AUTO && M <= FP4__CG_GEMV_M && M <= FP4_CUDA_GEMV_MAX_M &&
      (ws ? ws_bytes : 0) >= fp4_cuda_gemv_workspace_size(M, B->rows, B->cols) && (uintptr_t)ws % 4 == 0)
    return fp4__cuda_gemv_w4a16(A, at, M, lda, B, alpha, beta, C, ct, ldc, ws, ws_bytes, stream);
#else
  (void)ws_bytes;
#endif
  {
    /* Hopper: the wgmma kernel for 16-bit activations (MXFP4 with bf16 only: see its comment) */
    const int wg_ok = (at == FP4_BF16 || (at == FP4_F16 && B->format == FP4_NVFP4)) && fp4__cuda_gemm_has_wgmma();
    if (tile == FP4_CUDA_GEMM_TILE_AUTO && wg_ok) tile = fp4__cuda_gemm_wg_pick(M, B->rows) < 0 ? tile : fp4__cuda_gemm_wg_pick(M, B->rows);
    if (tile >= FP4_CUDA_GEMM_TILE_WG64 && tile <= FP4_CUDA_GEMM_TILE_WG_CP && !wg_ok) return FP4_ERR_UNSUPPORTED;
  }
  if (tile == FP4_CUDA_GEMM_TILE_AUTO) {
    const int sms = fp4__cuda_gemm_sms();
    if (M <= 16) tile = (int64_t)fp4__cuda_gemm_cdiv(B->rows, 128) >= sms ? FP4_CUDA_GEMM_TILE_16x128 : FP4_CUDA_GEMM_TILE_16x64;
    else if ((int64_t)fp4__cuda_gemm_cdiv(M, 128) * fp4__cuda_gemm_cdiv(B->rows, 128) >= 2 * (int64_t)sms)
      tile = FP4_CUDA_GEMM_TILE_128x128;
    else tile = FP4_CUDA_GEMM_TILE_64x128;
  }
  if ((tile < 0 || tile >= FP4_CUDA_GEMM_TILE_COUNT) && (tile < FP4_CUDA_GEMM_TILE_WG64 || tile > FP4_CUDA_GEMM_TILE_WG_CP))
    return FP4_ERR_ARG;
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
  a.kchunk = 0;
  a.zstride = 0;
  if (tile >= FP4_CUDA_GEMM_TILE_WG64) return fp4__cuda_gemm_wg(a, B->format, at, tile, stream, ws, ws_bytes);
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
 * device's native FP4 MMA where it has one (Blackwell), the bf16 wgmma path on Hopper when given the
 * workspace, else the same exact kernel. */
#define FP4__CG_CAT3_(a, b, c) a##b##c
#define FP4__CG_CAT3(a, b, c) FP4__CG_CAT3_(a, b, c)
#define FP4__CG_W4A4(ON, OT, ODT)                                                                                 \
  FP4__CUDA_LAZY FP4_API fp4_status FP4__CG_CAT3(fp4_cuda_gemm_w4a4_, ON, )(                                      \
      const fp4_tensor *A, const fp4_tensor *B, float alpha, float beta, OT *C, int64_t ldc, void *ws,            \
      size_t ws_bytes, cudaStream_t stream) {                                                                     \
    return fp4__cuda_gemm_w4a4(A, B, alpha, beta, C, ODT, ldc, ws, ws_bytes, stream, FP4_CUDA_GEMM_W4A4_EXACT,     \
                               FP4_CUDA_GEMM_TILE_AUTO);                                                          \
  }                                                                                                               \
  FP4__CUDA_LAZY FP4_API fp4_status FP4__CG_CAT3(fp4_cuda_gemm_w4a4_fast_, ON, )(                                 \
      const fp4_tensor *A, const fp4_tensor *B, float alpha, float beta, OT *C, int64_t ldc, void *ws,            \
      size_t ws_bytes, cudaStream_t stream) {                                                                     \
    return fp4__cuda_gemm_w4a4(A, B, alpha, beta, C, ODT, ldc, ws, ws_bytes, stream, FP4_CUDA_GEMM_W4A4_NATIVE,    \
                               FP4_CUDA_GEMM_TILE_AUTO);                                                          \
  }
#define FP4__CG_W4A16(AN, AT, ADT, ON, OT, ODT)                                                                   \
  FP4__CUDA_LAZY FP4_API fp4_status FP4__CG_CAT3(fp4_cuda_gemm_w4a16_, AN, FP4__CG_CAT3(_, ON, ))(                \
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
