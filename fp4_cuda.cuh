/* SPDX-License-Identifier: MIT */
/*
 * fp4_cuda.cuh - CUDA back end of fp4: quantize / dequantize / fake-quantize, Hadamard, scale-layout
 * conversion and the W4A16 decode GEMV, with the same bytes as the scalar reference fp4.h.
 *
 * Header-only CUDA C++ (nvcc, C++17). Every rounding rule comes from fp4.h, whose FP4_HD functions
 * compile as __host__ __device__ here; the kernels only arrange the work. Semantics: SPEC.md.
 *
 * Usage (device pointers, a stream, caller workspace; launchers never synchronize or allocate):
 *     #include "fp4_cuda.cuh"
 *     fp4_quant_config cfg = fp4_config_default(FP4_NVFP4);
 *     size_t wsb = fp4_cuda_quantize_workspace_size(rows, cols, &cfg);   // cudaMalloc ws, d_q, d_s
 *     fp4_tensor t; fp4_tensor_init(&t, d_q, d_s, FP4_LAYOUT_LINEAR);
 *     fp4_status st = fp4_cuda_quantize_bf16(d_x, rows, cols, cols, &cfg, &t, ws, wsb, stream);
 *     st = fp4_cuda_quantize_result(&t, ws, stream); // optional: waits, fills t.tensor_scale / t.amax
 *                                                   // and returns FP4_ERR_NONFINITE / FP4_ERR_RANGE
 *     fp4_cuda_gemv_w4a16_bf16_bf16(d_a, 1, K, &t, 1.0f, 0.0f, d_c, N, ws2, ws2b, stream);
 *
 * Contents (search for the banners):
 *     ==== configuration ====   FP4_CUDA_API, FP4_CUDA_HW_CVT
 *     ==== common ====          status mapping, launch helpers, small device helpers
 *     ==== codecs ====          Blackwell cvt next to the software path
 *     ==== quantize ====        amax, block quantizer (1D), 2D tiles, launchers
 *     ==== dequantize ====      dequantize, Hadamard, scale layouts
 *     ==== gemv ====            W4A16 decode GEMV (M <= 16)
 *     ==== gemm ====            tensor-core GEMMs: fp4_cuda_gemm.inl (which must sit beside this file),
 *                               included inside the gemv section, whose kernels use its helpers
 *
 * Device-side outcomes. With a computed NVFP4 amax, the tensor scale and the statuses that depend on
 * the data (FP4_ERR_NONFINITE, FP4_ERR_RANGE) are only known on the device: they land in the first
 * bytes of the workspace (fp4_cuda_qinfo). The launcher returns FP4_OK after validating and launching;
 * fp4_cuda_quantize_result() waits for the stream and returns what fp4.h would have returned, filling
 * tensor_scale and amax. When the tensor scale is known on the host (MXFP4, cfg.has_amax) the launcher
 * fills it right away and only non-finite input needs the result call to be reported.
 */
#ifndef FP4_CUDA_CUH
#define FP4_CUDA_CUH

/* ==== configuration ==== */
/* FP4_CUDA_API: linkage of the host launchers (default static inline: vendor-safe).
 * FP4_CUDA_HW_CVT: define to 1 to use Blackwell's cvt.rn.satfinite.e2m1x2.f32 for round-to-nearest
 *   element codes on sm_100+/sm_120+ (default 0: not yet checked byte for byte on such a GPU; the
 *   software path below is the reference everywhere). */
#ifndef FP4_CUDA_API
#define FP4_CUDA_API static inline
#endif
#ifndef FP4_CUDA_HW_CVT
#define FP4_CUDA_HW_CVT 0
#endif
/* Internal knobs of the fast quantize kernel (tests shrink them to reach the grid-stride remainders and
 * the fallback): CTAs per SM of its grid-stride grid, and the most 32-value chunks it takes (beyond,
 * the general kernel with 64-bit indices). */
#ifndef FP4__CUDA_FAST_CTAS_PER_SM
#define FP4__CUDA_FAST_CTAS_PER_SM 32
#endif
#ifndef FP4__CUDA_FAST_MAX_CHUNKS
#define FP4__CUDA_FAST_MAX_CHUNKS 0x7FFFFFFF
#endif

#include "fp4.h"
#include <cuda_runtime.h>
#include <cuda_fp16.h>

/* ==== common ==== */
/* Every kernel has internal linkage, so that many translation units (with or without -rdc) can
 * include this header. */
#define FP4__KERNEL static __global__
/* A translation unit compiles the kernels of the entry points it calls, not every kernel of the header:
 * each host function that launches a kernel, and each kernel that is not already a template, is a
 * function template with a defaulted parameter (callers write the plain call), and a template is only
 * compiled where it is used. tests/cuda_header.cu takes the address of every entry point, which
 * compiles every kernel. FP4__CUDA_LAZY_DEF defines what FP4__CUDA_LAZY declared. */
#ifndef FP4__CUDA_LAZY
#define FP4__CUDA_LAZY template <int fp4__lazy_ = 0>
#define FP4__CUDA_LAZY_DEF template <int fp4__lazy_>
#endif

/* The first bytes of a quantize workspace: what only the device knows (see the header comment). */
typedef struct fp4_cuda_qinfo {
  uint32_t amax_bits; /* computed NVFP4 amax (bits of a non-negative float) */
  uint32_t flags;     /* FP4_CUDA_FLAG_* */
  uint32_t pad[2];
} fp4_cuda_qinfo;
#define FP4_CUDA_FLAG_NONFINITE 1u
#define FP4_CUDA_FLAG_RANGE 2u
#define FP4_CUDA_QUANTIZE_WS 256 /* bytes: fp4_cuda_qinfo, rounded up */

/* cudaError_t -> fp4_status (for the launchers here and in fp4_cuda_gemm.inl). */
FP4_CUDA_API fp4_status fp4__cuda_status(cudaError_t e) { return e == cudaSuccess ? FP4_OK : FP4_ERR_DEVICE; }
/* Status of the launch just made (launch configuration errors; asynchronous faults surface later). */
FP4_CUDA_API fp4_status fp4__cuda_launched(void) { return fp4__cuda_status(cudaGetLastError()); }
/* Blocks of `threads` threads covering n items. */
FP4_CUDA_API unsigned fp4__cuda_grid(int64_t n, int threads) { return (unsigned)((n + threads - 1) / threads); }
FP4_CUDA_API int fp4__cuda_aligned(const void *p, size_t a) { return ((uintptr_t)p % a) == 0; }

/* 16-byte streaming load: read once, keep it out of L1 (weights of the GEMV). */
static __device__ __forceinline__ uint4 fp4__cuda_ld_stream16(const void *p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

/* ==== codecs ==== */
/* Two E2M1 codes, lo in bits 0..3 and hi in bits 4..7 (spec §1 packing). On Blackwell, with
 * FP4_CUDA_HW_CVT, one cvt.rn.satfinite.e2m1x2.f32 (its first source goes to the high nibble); the
 * caller guarantees finite inputs (the tensor paths never pass NaN/Inf here). */
static __device__ __forceinline__ uint8_t fp4__cuda_e2m1x2(float lo, float hi) {
#if FP4_CUDA_HW_CVT && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 1000 && defined(__CUDA_ARCH_FAMILY_SPECIFIC__)
  unsigned short r;
  asm("{\n .reg .b8 t;\n cvt.rn.satfinite.e2m1x2.f32 t, %1, %2;\n cvt.u16.u8 %0, t;\n}" : "=h"(r) : "f"(hi), "f"(lo));
  return (uint8_t)r;
#else
  return (uint8_t)(fp4_e2m1_from_float(lo) | (fp4_e2m1_from_float(hi) << 4));
#endif
}

/* fp4_dequant_value with the NaN of fp4.h (0x7FC00000): the GPU would turn q * NaN into its own
 * canonical NaN, whose bits differ from the host's. */
static __device__ __forceinline__ float fp4__cuda_dequant(fp4_format f, fp4_rule rule, uint8_t code, uint8_t scale,
                                                          float ts) {
  if (f == FP4_MXFP4 ? scale == 0xFFu : (scale & 0x7Fu) == 0x7Fu) return fp4__nan();
  return fp4_dequant_value(f, rule, code, scale, ts);
}

/* Element i of an input of type DT (exact conversion to f32). */
template <int DT> static __device__ __forceinline__ float fp4__cuda_load(const void *p, int64_t i) {
  if (DT == FP4_F32) return ((const float *)p)[i];
  if (DT == FP4_BF16) return fp4_bf16_to_f32(((const uint16_t *)p)[i]);
  return fp4_f16_to_f32(((const uint16_t *)p)[i]);
}

/* N consecutive elements from p (16-byte aligned when vec), converted to f32. */
template <int DT, int N> static __device__ __forceinline__ void fp4__cuda_load_row(const void *p, int vec, float *v) {
  if (vec) {
    const uint4 *q = (const uint4 *)p;
    constexpr int per = DT == FP4_F32 ? 4 : 8;
#pragma unroll
    for (int w = 0; w < N / per; w++) {
      uint4 u = q[w];
      uint32_t a[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
      for (int j = 0; j < 4; j++) {
        if (DT == FP4_F32) v[w * 4 + j] = __uint_as_float(a[j]);
        else if (DT == FP4_BF16) {
          v[w * 8 + 2 * j] = __uint_as_float(a[j] << 16);
          v[w * 8 + 2 * j + 1] = __uint_as_float(a[j] & 0xFFFF0000u);
        } else {
          v[w * 8 + 2 * j] = fp4_f16_to_f32((uint16_t)(a[j] & 0xFFFFu));
          v[w * 8 + 2 * j + 1] = fp4_f16_to_f32((uint16_t)(a[j] >> 16));
        }
      }
    }
  } else {
#pragma unroll
    for (int i = 0; i < N; i++) v[i] = fp4__cuda_load<DT>(p, i);
  }
}

/* Block Hadamard on v[0..g) held by one thread, the same operations as fp4_hadamard_group; the
 * normalization uses __fmul_rn so that it can never be contracted into a later add. */
static __device__ __forceinline__ void fp4__cuda_hadamard_serial(float *v, int g, const uint32_t *sp, int inverse) {
  float n = fp4__hadamard_norm(g);
  if (!inverse)
    for (int i = 0; i < g; i++)
      if (fp4__sign_neg(sp, i)) v[i] = -v[i];
  for (int h = 1; h < g; h <<= 1)
    for (int i = 0; i < g; i += 2 * h)
      for (int j = i; j < i + h; j++) {
        float a = v[j], b = v[j + h];
        v[j] = a + b;
        v[j + h] = a - b;
      }
  for (int i = 0; i < g; i++) v[i] = __fmul_rn(v[i], n);
  if (inverse)
    for (int i = 0; i < g; i++)
      if (fp4__sign_neg(sp, i)) v[i] = -v[i];
}

/* Block Hadamard over groups of g values spread across g/N consecutive lanes, N values per lane
 * (element e of the group = N * (lane position in the group) + i). Stages h < N run inside the
 * thread, stages h >= N pair element i with the partner lane's element i: lower lane a + b, upper
 * lane a - b, exactly the reference's operations. Every lane of the warp must call it. sp: the sign
 * bits (or NULL); pos: this lane's position in its group (0 .. g/N - 1). */
/* The sign bits of this lane's N elements (bit i: element i), selected with constant indices so
 * that the sign words stay in registers. */
template <int N> static __device__ __forceinline__ uint32_t fp4__cuda_lane_signs(const uint32_t *sp, int g, int pos) {
  uint32_t m = 0;
  if (!sp) return 0;
  if (g >= N) {
    int e0 = pos * N, word = e0 >> 5;
#pragma unroll
    for (int k = 0; k < 8; k++)
      if (k == word) m = sp[k] >> (e0 & 31);
  } else {
#pragma unroll
    for (int i = 0; i < N; i++) m |= ((sp[0] >> (i % g)) & 1u) << i;
  }
  return N == 32 ? m : m & ((1u << N) - 1u);
}

template <int N>
static __device__ __forceinline__ void fp4__cuda_hadamard_lanes(float *v, int g, const uint32_t *sp, int inverse,
                                                                int pos) {
  static_assert(N == 8 || N == 16 || N == 32, "one thread holds 8, 16 or 32 values");
  float n = fp4__hadamard_norm(g);
  uint32_t sg = fp4__cuda_lane_signs<N>(sp, g, pos);
  if (!inverse) {
#pragma unroll
    for (int i = 0; i < N; i++)
      if ((sg >> i) & 1u) v[i] = -v[i];
  }
#pragma unroll
  for (int st = 0; st < (N == 32 ? 5 : N == 16 ? 4 : 3); st++) { /* h = 1, 2, 4, ... < N, a constant trip count */
    const int h = 1 << st;
    if (h < g) {
#pragma unroll
      for (int k = 0; k < N / 2; k++) { /* pair k: j = its lower element; indices fold to constants */
        const int j = (k / h) * 2 * h + k % h;
        float a = v[j], b = v[j + h];
        v[j] = a + b;
        v[j + h] = a - b;
      }
    }
  }
  for (int h = N; h < g; h <<= 1) {
    int d = h / N, upper = (pos & d) != 0;
#pragma unroll
    for (int i = 0; i < N; i++) {
      float o = __shfl_xor_sync(0xFFFFFFFFu, v[i], d);
      v[i] = upper ? o - v[i] : v[i] + o;
    }
  }
#pragma unroll
  for (int i = 0; i < N; i++) v[i] = __fmul_rn(v[i], n);
  if (inverse) {
#pragma unroll
    for (int i = 0; i < N; i++)
      if ((sg >> i) & 1u) v[i] = -v[i];
  }
}

/* ==== quantize ==== */
/* Everything a quantize kernel needs, by value. Q = X or X^T (R x C), blocks of BLK along Q's rows. */
typedef struct fp4__cuda_qparams {
  const void *x;
  int64_t ldx, xcols, R, C, nbr; /* nbr = C / block: blocks per Q row */
  int transpose, g, sr, bf16, vec, has_signs, has_amax, out_vec, fmt_nv;
  fp4_dtype dt;
  fp4_rule rule;
  fp4_layout layout;
  uint64_t seed;
  uint32_t signs[8];
  float amax;        /* has_amax: the caller's amax */
  uint8_t *data, *scales, *mask; /* quantize sink (mask optional) */
  float *y;          /* fake-quantize sink (data == NULL) */
  int64_t ldy;
  fp4_cuda_qinfo *info;
} fp4__cuda_qparams;

/* Q[r][c0 .. c0 + BLK) converted to f32, rotated (groups may span lanes), rounded to bf16 if asked.
 * pos = position of this block in its Hadamard group. Threads with valid == 0 load zeros but still
 * take part in the shuffles. */
template <int BLK, int DT>
static __device__ __forceinline__ void fp4__cuda_load_raw(const fp4__cuda_qparams &p, int64_t r, int64_t c0, float *v) {
  if (!p.transpose) {
    fp4__cuda_load_row<DT, BLK>((const char *)p.x + (size_t)(r * p.ldx + c0) * (DT == FP4_F32 ? 4 : 2), p.vec, v);
  } else {
#pragma unroll
    for (int i = 0; i < BLK; i++) v[i] = fp4__cuda_load<DT>(p.x, (c0 + i) * p.ldx + r);
  }
}

template <int BLK>
static __device__ __forceinline__ void fp4__cuda_load_block(const fp4__cuda_qparams &p, int64_t r, int64_t c0,
                                                            int valid, int pos, float *v) {
  if (!valid) {
#pragma unroll
    for (int i = 0; i < BLK; i++) v[i] = 0.0f;
  } else if (p.dt == FP4_BF16) {
    fp4__cuda_load_raw<BLK, FP4_BF16>(p, r, c0, v);
  } else if (p.dt == FP4_F32) {
    fp4__cuda_load_raw<BLK, FP4_F32>(p, r, c0, v);
  } else {
    fp4__cuda_load_raw<BLK, FP4_F16>(p, r, c0, v);
  }
  if (p.g) fp4__cuda_hadamard_lanes<BLK>(v, p.g, p.has_signs ? p.signs : (const uint32_t *)0, 0, pos);
  if (p.bf16) {
#pragma unroll
    for (int i = 0; i < BLK; i++) v[i] = fp4_bf16_to_f32(fp4_f32_to_bf16(v[i]));
  }
}

/* The NVFP4 tensor scale on the device: the caller's amax or the computed one. */
static __device__ __forceinline__ float fp4__cuda_amax(const fp4__cuda_qparams &p) {
  return p.has_amax ? p.amax : __uint_as_float(*(volatile const uint32_t *)&p.info->amax_bits);
}

/* fp4_e2m1_from_float's code without its chain of comparisons, equal for every float (tests/test_cuda.cu
 * compares all 2^32 inputs on the device and the binades that matter on the host). Below 2, adding
 * 2^22 rounds |x| to a multiple of 0.5 (RNE, the grid's spacing there) and the low bits of the sum
 * are the code; from 2 up, rounding the mantissa to one bit (RNE, carry into the exponent) leaves
 * (exponent, bit) = code + 252 in bits 22 and up, saturated at 7 (Inf and NaN included, as fp4.h). */
static __host__ __device__ __forceinline__ uint32_t fp4__cuda_e2m1(float x) {
  uint32_t b = fp4__bits(x), a = b & 0x7FFFFFFFu, c;
  if (a < 0x40000000u) {
    c = fp4__bits(fp4__float(a) + 4194304.0f) - 0x4A800000u;
  } else {
    c = ((a + 0x1FFFFFu + ((a >> 22) & 1u)) >> 22) - 252u;
    c = c < 7u ? c : 7u;
  }
  return c | ((b >> 28) & 8u);
}

/* fp4_e2m1_to_float without branches: codes 2..7 are the float with bits (c + 252) << 22, codes 0
 * and 1 are c * 0.5 (checked against fp4.h for all 16 codes). */
static __host__ __device__ __forceinline__ float fp4__cuda_e2m1_value(uint32_t code) {
  uint32_t c = code & 7u, m = c < 2u ? fp4__bits((float)c * 0.5f) : (c + 252u) << 22;
  return fp4__float(m | ((code & 8u) << 28));
}

/* One element's code as fp4__e2m1_round. */
template <int SR> static __device__ __forceinline__ uint32_t fp4__cuda_round(float y, uint32_t r) {
  return SR ? fp4__e2m1_sr(y, r) : fp4__cuda_e2m1(y);
}

/* Max of m over groups of L consecutive lanes (L a power of two); every lane of the warp calls it. */
template <int L> static __device__ __forceinline__ uint32_t fp4__cuda_group_max(uint32_t m) {
#pragma unroll
  for (int d = 1; d < L; d <<= 1) {
    uint32_t o = __shfl_xor_sync(0xFFFFFFFFu, m, d);
    m = o > m ? o : m;
  }
  return m;
}

/* The sequential fp32 reduction of fp4.h over a block whose N-term slices sit in L consecutive
 * lanes (lane k of the group holds terms N*k .. N*k + N - 1): s = op(s, t) in element order, lane 0's
 * slice first, the running value handed on by a shuffle, so the bits equal the one-thread loop.
 * op: add, or max (MAXABS). Every lane of the warp calls it; every lane of a group gets the result. */
template <int L, int N>
static __device__ __forceinline__ float fp4__cuda_ordered_sum(const float *t, int use_max) {
  const int lane = threadIdx.x & 31, k0 = lane & ~(L - 1);
  float s = 0.0f;
#pragma unroll
  for (int k = 0; k < L; k++) {
    float u = s;
#pragma unroll
    for (int i = 0; i < N; i++) u = use_max ? (t[i] > u ? t[i] : u) : u + t[i];
    s = (lane & (L - 1)) == k ? u : s;
    if (L > 1) s = __shfl_sync(0xFFFFFFFFu, s, k0 + k);
  }
  return s;
}

/* Work item t of the 1D kernels: 8 consecutive values Q[r][c0 .. c0 + 8). The 8-value chunks of one
 * block (and of one Hadamard group) sit in consecutive lanes. Without transpose the chunks run along
 * Q's rows (one 16-byte load per lane, a warp reads 512 contiguous bytes); transposed, the group of
 * U chunks is innermost and Q rows (X's columns, contiguous in memory) next, so that lanes read
 * neighbouring addresses. pos: the chunk's position in its Hadamard group. */
static __device__ __forceinline__ void fp4__cuda_chunk(const fp4__cuda_qparams &p, int64_t t, int blk, int64_t *r,
                                                       int64_t *c0, int *pos) {
  const int64_t nch = p.C / 8;
  const int u = (p.g > blk ? p.g : blk) / 8;
  int64_t cc;
  if (!p.transpose) {
    *r = t / nch;
    cc = t % nch;
  } else {
    int64_t rest = t / u;
    *r = rest % p.R;
    cc = rest / p.R * u + t % u;
  }
  *c0 = cc * 8;
  *pos = p.g ? (int)(cc % (p.g / 8)) : 0;
}

/* Pass 1 of a computed NVFP4 amax: max |x| over the finite transformed values. Max is exact and
 * order-free, so the atomicMax on the float bits (non-negative floats order like their bits) is
 * deterministic. Grid-stride over the 8-value chunks of the quantize kernel. */
FP4__CUDA_LAZY
FP4__KERNEL void __launch_bounds__(256) fp4__cuda_amax_kernel(fp4__cuda_qparams p) {
  __shared__ uint32_t red[8];
  const int64_t total = p.R * (p.C / 8), stride = (int64_t)gridDim.x * blockDim.x;
  const int lane = threadIdx.x & 31;
  uint32_t m = 0;
  /* the loop bound is uniform over the warp (Hadamard shuffles inside) */
  for (int64_t base = (int64_t)blockIdx.x * blockDim.x + (threadIdx.x & ~31); base < total; base += stride) {
    int64_t t = base + lane, r = 0, c0 = 0;
    int valid = t < total, pos = 0;
    float v[8];
    if (valid) fp4__cuda_chunk(p, t, 16, &r, &c0, &pos);
    fp4__cuda_load_block<8>(p, r, c0, valid, pos, v);
#pragma unroll
    for (int i = 0; i < 8; i++) {
      uint32_t a = __float_as_uint(v[i]) & 0x7FFFFFFFu;
      if (a < 0x7F800000u && a > m) m = a;
    }
  }
  m = __reduce_max_sync(0xFFFFFFFFu, m);
  if (lane == 0) red[threadIdx.x >> 5] = m;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < (int)(blockDim.x >> 5); w++) m = red[w] > m ? red[w] : m;
    if (m) atomicMax(&p.info->amax_bits, m); /* one atomic per CTA */
  }
}

/* Tensor scale context on the device; returns 0 (and flags FP4_ERR_RANGE) when the amax is unusable. */
static __device__ __forceinline__ int fp4__cuda_scale_ctx(const fp4__cuda_qparams &p, int nv, fp4_nv_scale *ts) {
  if (nv) {
    float amax = fp4__cuda_amax(p);
    if (amax != 0.0f && amax < FP4_NV_AMAX_MIN) {
      if (blockIdx.x == 0 && threadIdx.x == 0) atomicOr(&p.info->flags, FP4_CUDA_FLAG_RANGE);
      return 0;
    }
    *ts = fp4_nv_scale_make(p.rule, amax);
  } else {
    *ts = fp4_nv_scale_make(p.rule, 0.0f);
    ts->S_dec = p.rule == FP4_MX_ABSMAX3 ? 1.0f / 3.0f : 1.0f;
  }
  return 1;
}

/* Write one quantized block of the 2D kernel (NVFP4, 16 values): packed codes + scale (quantize), or its
 * dequantized values (fake). */
template <int BLK>
static __device__ __forceinline__ void fp4__cuda_emit(const fp4__cuda_qparams &p, const fp4_nv_scale &ts, int64_t r,
                                                      int64_t c0, const uint8_t *pq, uint8_t s) {
  static_assert(BLK == 16, "NVFP4 blocks only (the 2D kernel)");
  constexpr fp4_format F = FP4_NVFP4;
  if (p.data) {
    uint8_t *d = p.data + r * (p.C / 2) + c0 / 2;
    if (p.out_vec) {
      uint32_t w[BLK / 8];
#pragma unroll
      for (int j = 0; j < BLK / 8; j++)
        w[j] = (uint32_t)pq[4 * j] | ((uint32_t)pq[4 * j + 1] << 8) | ((uint32_t)pq[4 * j + 2] << 16) |
               ((uint32_t)pq[4 * j + 3] << 24);
      *(uint2 *)d = make_uint2(w[0], w[1]);
    } else {
#pragma unroll
      for (int j = 0; j < BLK / 2; j++) d[j] = pq[j];
    }
    p.scales[fp4__scale_offset(p.layout, r, c0 / BLK, p.nbr)] = s;
  } else {
    float *y = p.y + r * p.ldy + c0;
#pragma unroll
    for (int i = 0; i < BLK; i++)
      y[i] = fp4__cuda_dequant(F, p.rule, (uint8_t)((pq[i / 2] >> (4 * (i & 1))) & 0xFu), s, ts.S_dec);
  }
}

/* Swizzled scales: zero the whole buffer first (fp4.h does; the padding stays zero), except when the
 * computed amax is unusable (then nothing is written, as in fp4.h). */
FP4__CUDA_LAZY
FP4__KERNEL void __launch_bounds__(256) fp4__cuda_zero_scales_kernel(fp4__cuda_qparams p, size_t n) {
  size_t i = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) * 16;
  if (p.fmt_nv) {
    float amax = fp4__cuda_amax(p);
    if (amax != 0.0f && amax < FP4_NV_AMAX_MIN) return;
  }
  if (i + 16 <= n && ((uintptr_t)(p.scales + i) % 16) == 0) *(uint4 *)(p.scales + i) = make_uint4(0, 0, 0, 0);
  else
    for (size_t j = i; j < i + 16 && j < n; j++) p.scales[j] = 0;
}

/* n / 1536 (K of the Four Over Six rules), equal to __fdiv_rn(n, 1536.0f) for every float n (all 2^32
 * are compared on the device by tests/test_cuda.cu) at the cost of a multiply and two FMAs: the quotient
 * q = RN(n * RN(1/1536)) corrected by its exact remainder (Markstein). In IEEE arithmetic the correction
 * gives the division's bits for every |n| >= 2^-117 (all such floats checked on the host); the fast path
 * starts at 2^-90, where neither q nor the remainder is subnormal, so a flush-to-zero build changes
 * nothing. Smaller n and non-finite n take the division. */
static __device__ __forceinline__ float fp4__cuda_div1536_fast(float n) { /* 2^-90 <= |n| <= FLT_MAX only */
  const float r = 6.51041686534881591796875e-4f; /* RN(1 / 1536) = 0x1.555556p-11 */
  const float q = __fmul_rn(n, r);
  return __fmaf_rn(__fmaf_rn(-q, 1536.0f, n), r, q);
}
static __device__ __forceinline__ float fp4__cuda_div1536(float n) {
  const float a = fp4__fabs(n);
  if (a >= 8.07793566946316088e-28f && a <= 3.40282347e+38f) return fp4__cuda_div1536_fast(n); /* 2^-90.. */
  return a == 0.0f ? n : __fdiv_rn(n, 1536.0f);
}

/* One NVFP4 error term of fp4_nv_err_add: t = ((q * s) * amax) / K - x, then t*t (MSE) or |t|. */
static __device__ __forceinline__ float fp4__cuda_nv_term(const fp4_nv_scale &ts, float x, uint32_t q, float sv) {
  const float n = __fmul_rn(__fmul_rn(fp4__cuda_e2m1_value(q), sv), ts.amax);
  const float t = (ts.K == 1536.0f ? fp4__cuda_div1536(n) : __fdiv_rn(n, ts.K)) - x;
  return ts.metric == 1 ? __fmul_rn(t, t) : fp4__fabs(t);
}

/* The 1D quantizer (BLK = 16: NVFP4, 32: MXFP4): one thread per 8 values (fp4__cuda_chunk), BLK / 8
 * lanes per block. The block's amax is a shuffle max; the sums that fp4.h forms sequentially (QuEST
 * moments, ADAPTIVE's and Four Over Six's errors) go through fp4__cuda_ordered_sum, so every bit
 * matches fp4_mx_quantize_block / fp4_nv_quantize_block. Each lane writes its 4 code bytes; the
 * block's first lane its scale. */
template <int BLK, int RK, int SR>
FP4__KERNEL void __launch_bounds__(256) fp4__cuda_quantize_kernel(fp4__cuda_qparams p) {
  /* RK: MXFP4, the rule (a constant, so only its path is compiled); NVFP4, 0 for one candidate and 1
   * for the 4/6 rules. SR: stochastic rounding. */
  constexpr int NV = BLK == 16, LPB = BLK / 8;
  constexpr fp4_format F = NV ? FP4_NVFP4 : FP4_MXFP4;
  const fp4_rule rule = NV ? p.rule : (fp4_rule)RK;
  const int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  const int valid = t < p.R * (p.C / 8), lane = threadIdx.x & 31;
  int64_t r = 0, c0 = 0;
  int pos = 0, bad;
  fp4_nv_scale ts;
  float v[8];
  uint32_t r0[8] = {0}, r1[8] = {0}, am = 0, w = 0, mk = 0;
  uint8_t s;
  if (!fp4__cuda_scale_ctx(p, NV, &ts)) return; /* uniform over the grid */
  if (valid) fp4__cuda_chunk(p, t, BLK, &r, &c0, &pos);
  fp4__cuda_load_block<8>(p, r, c0, valid, pos, v);
  if (SR) {
#pragma unroll
    for (int i = 0; i < 8; i++) {
      uint32_t wd[4];
      fp4_philox4x32_10(p.seed, p.transpose ? (uint64_t)((c0 + i) * p.xcols + r) : (uint64_t)(r * p.xcols + c0 + i), wd);
      r0[i] = wd[0];
      r1[i] = wd[1];
    }
  }
#pragma unroll
  for (int i = 0; i < 8; i++) {
    uint32_t a = __float_as_uint(v[i]) & 0x7FFFFFFFu;
    am = a > am ? a : am;
  }
  am = fp4__cuda_group_max<LPB>(am); /* >= 0x7F800000: the block holds a NaN or an Inf */
  bad = am >= 0x7F800000u;
  const float amax = __uint_as_float(am);
  if (NV) {
    uint8_t s6 = 0x7F, s4 = 0x7F;
    if (!bad) {
      float inv;
      fp4_nv_candidates(&ts, amax, &s6, &s4);
      inv = fp4_nv_inv(&ts, s6);
#pragma unroll
      for (int i = 0; i < 8; i++) w |= (inv != 0.0f ? fp4__cuda_round<SR>(v[i] * inv, r0[i]) : 0u) << (4 * i);
    }
    if (RK) { /* Four Over Six: uniform over the block, so the lanes of a block stay together */
      float inv4 = bad ? 0.0f : fp4_nv_inv(&ts, s4), v6 = fp4_e4m3_to_float(s6), v4 = fp4_e4m3_to_float(s4);
      float t6[8], t4[8], e6, e4;
      uint32_t w4 = 0;
#pragma unroll
      for (int i = 0; i < 8; i++) {
        uint32_t c4 = inv4 != 0.0f ? fp4__cuda_round<SR>(v[i] * inv4, r1[i]) : 0u;
        w4 |= c4 << (4 * i);
        t6[i] = fp4__cuda_nv_term(ts, v[i], (w >> (4 * i)) & 0xFu, v6);
        t4[i] = fp4__cuda_nv_term(ts, v[i], c4, v4);
      }
      e6 = fp4__cuda_ordered_sum<LPB, 8>(t6, ts.metric == 3);
      e4 = fp4__cuda_ordered_sum<LPB, 8>(t4, ts.metric == 3);
      if (!bad && e4 < e6) {
        s6 = s4;
        w = w4;
      }
    }
    s = s6;
  } else {
    int e;
    if (RK == FP4_MX_QUEST) {
      float q2[8], s1, s2, m;
#pragma unroll
      for (int i = 0; i < 8; i++) q2[i] = __fmul_rn(v[i], v[i]);
      s1 = fp4__cuda_ordered_sum<LPB, 8>(v, 0);
      s2 = fp4__cuda_ordered_sum<LPB, 8>(q2, 0);
      e = fp4__quest_exp_sums(s1, s2);
      m = fp4__exp2i(-e);
#pragma unroll
      for (int i = 0; i < 8; i++) {
        float y = v[i] * m;
        w |= (amax == 0.0f ? 0u : fp4__cuda_round<SR>(y, r0[i])) << (4 * i);
        mk |= (fp4__fabs(y) < 6.0f ? 1u : 0u) << i;
      }
    } else if (RK == FP4_MX_ADAPTIVE) {
      float t0[8], t1[8], sse0, sse1, m0, m1, p0, p1;
      uint32_t w1 = 0;
      e = amax == 0.0f || bad ? -127 : fp4__mx_exp(FP4_MX_OCP, amax);
      m0 = fp4__exp2i(-e);
      m1 = fp4__exp2i(-(e + 1));
      p0 = fp4__exp2i(e);
      p1 = fp4__exp2i(e + 1);
#pragma unroll
      for (int i = 0; i < 8; i++) {
        uint32_t c0_ = fp4__cuda_round<SR>(v[i] * m0, r0[i]), c1_ = fp4__cuda_round<SR>(v[i] * m1, r1[i]);
        float d0 = __fmul_rn(fp4__cuda_e2m1_value(c0_), p0) - v[i], d1 = __fmul_rn(fp4__cuda_e2m1_value(c1_), p1) - v[i];
        w |= c0_ << (4 * i);
        w1 |= c1_ << (4 * i);
        t0[i] = __fmul_rn(d0, d0);
        t1[i] = __fmul_rn(d1, d1);
      }
      sse0 = fp4__cuda_ordered_sum<LPB, 8>(t0, 0);
      sse1 = fp4__cuda_ordered_sum<LPB, 8>(t1, 0);
      if (amax == 0.0f) w = 0;
      else if (!(sse1 > sse0)) { /* ties go to e + 1 */
        e = e + 1;
        w = w1;
      }
    } else if (amax == 0.0f || bad) {
      e = RK == FP4_MX_ABSMAX3 ? fp4__floor_log2(1e-8f) : -127;
    } else {
      float m;
      e = fp4__mx_exp(rule, amax);
      m = fp4__exp2i(-e);
#pragma unroll
      for (int i = 0; i < 8; i++)
        w |= fp4__cuda_round<SR>(RK == FP4_MX_ABSMAX3 ? (v[i] * m) * 3.0f : v[i] * m, r0[i]) << (4 * i);
    }
    s = (uint8_t)(e + 127);
  }
  if (bad) {
    s = NV ? 0x7F : 0xFF;
    w = 0;
    mk = 0;
  }
  if (__any_sync(0xFFFFFFFFu, valid && bad) && lane == 0) atomicOr(&p.info->flags, FP4_CUDA_FLAG_NONFINITE);
  if (!valid) return;
  if (p.data) {
    uint8_t *d = p.data + r * (p.C / 2) + c0 / 2;
    if (p.out_vec) *(uint32_t *)d = w;
    else {
#pragma unroll
      for (int j = 0; j < 4; j++) d[j] = (uint8_t)(w >> (8 * j));
    }
    if ((lane & (LPB - 1)) == 0) p.scales[fp4__scale_offset(p.layout, r, c0 / BLK, p.nbr)] = s;
  } else {
    float *y = p.y + r * p.ldy + c0;
#pragma unroll
    for (int i = 0; i < 8; i++) y[i] = fp4__cuda_dequant(F, p.rule, (uint8_t)((w >> (4 * i)) & 0xFu), s, ts.S_dec);
  }
  if (!NV && p.mask) p.mask[r * (p.C / 8) + c0 / 8] = (uint8_t)mk;
}

/* ---- fast 1D path ----
 * The common configuration (no transpose, Hadamard, stochastic rounding, mask or fake quantize; MXFP4
 * OCP / CEIL / ABSMAX3 or any NVFP4 rule; 16-byte aligned rows, 32-value multiple rows, sizes in 31
 * bits) runs fp4__cuda_quantize_fast_kernel: one thread per 32 consecutive values of a row (one MXFP4
 * block, two NVFP4 blocks), so the block amax, the sequential 4/6 error sums and the codes all stay in
 * the thread (no shuffles), one 16-byte store of codes per thread, and a grid-stride loop over the
 * 32-value chunks with the per-tensor setup hoisted and the chunk's row found by a multiply
 * (fp4__cuda_divmod) instead of a 64-bit division. Everything else takes fp4__cuda_quantize_kernel. */

/* n / d for 0 <= n < 2^31, 1 <= d < 2^31 by a multiply and a shift (Granlund-Montgomery, as CUTLASS's
 * FastDivmod): s = ceil(log2 d), m = floor(2^32 (2^s - d) / d) + 1, n / d = (umulhi(n, m) + n) >> s. */
typedef struct fp4__cuda_divmod {
  uint32_t d, m, s;
} fp4__cuda_divmod;

FP4_CUDA_API fp4__cuda_divmod fp4__cuda_divmod_make(uint32_t d) {
  fp4__cuda_divmod r;
  uint32_t s = 0;
  while (((uint64_t)1 << s) < d) s++;
  r.d = d;
  r.s = s;
  r.m = (uint32_t)(((((uint64_t)1 << s) - d) << 32) / d + 1);
  return r;
}

/* The E2M1 code magnitude (0..7) of ya >= 0 (or NaN: 7), equal to fp4_e2m1_from_float(ya) (all 2^32
 * floats checked on the host, and on the device by tests/test_cuda.cu): ya clamped to 6 is added to
 * M = 2^(22 + k), 2^k = max(1, 2^floor(log2 ya)) <= 4, whose ulp 2^(k-1) is the grid's spacing in that
 * binade, so the RNE sum holds the rounded value, s - M ulps above M, and the code is that count plus
 * 2k. *rv: the rounded magnitude (s - M, exact). */
static __device__ __forceinline__ uint32_t fp4__cuda_e2m1_mag(float ya, float *rv) {
  const float yc = fminf(ya, 6.0f);
  const uint32_t A = __float_as_uint(fmaxf(yc, 1.0f)) & 0x7F800000u, M = A + 0x0B000000u;
  const float s = __fadd_rn(yc, __uint_as_float(M));
  *rv = __fsub_rn(s, __uint_as_float(M));
  return __float_as_uint(s) - M - 254u + (A >> 22);
}

/* a + b on bf16 pairs, each rounded to nearest even (fma with 1: one rounding). sm_80 and up; the
 * kernels below do not call it on older GPUs (FP4__CUDA_BF16X2). */
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
#define FP4__CUDA_BF16X2 1
#else
#define FP4__CUDA_BF16X2 0
#endif
static __device__ __forceinline__ uint32_t fp4__cuda_bf16x2_add(uint32_t a, uint32_t b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  uint32_t d;
  asm("fma.rn.bf16x2 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(0x3F803F80u), "r"(b));
  return d;
#else
  return a + b; /* not reached */
#endif
}

/* MXFP4 codes of 8 bf16 values (word j: elements 2j (low half) and 2j + 1) for a block exponent e in
 * [-124, 119], in bf16 pairs: x is rounded on the grid 2^e {0, 0.5, .. 6} directly (x * 2^-e is exact,
 * so this is fp4_e2m1_from_float(x * 2^-e)): |x| clamped to 6 * 2^e (S2) is added to M = 2^(6 + k)
 * with 2^k = max(2^e, 2^floor(log2 |x|)) (E2 = 2^e), whose bf16 ulp is the grid's spacing there;
 * the count of ulps above M plus 2 (k - e) is the code. Exact for every bf16 and e in that range (all
 * checked on the host); |x| below 2^-126 only ever gives code 0, so subnormal handling does not
 * matter. Returns the 8 packed codes (sign from x). */
static __device__ __forceinline__ uint32_t fp4__cuda_mx_bf16x8(uint4 u, uint32_t E2, uint32_t S2) {
  const uint32_t w[4] = {u.x, u.y, u.z, u.w};
  uint32_t b[4];
#pragma unroll
  for (int j = 0; j < 4; j++) {
    const uint32_t a = w[j] & 0x7FFF7FFFu, ax = __vminu2(a, S2), A = __vmaxu2(ax, E2) & 0x7F807F80u;
    const uint32_t M = A + 0x03000300u;
    uint32_t t = fp4__cuda_bf16x2_add(ax, M) - M + ((A - E2) >> 6); /* per half: code, bits 0..2 / 16..18 */
    t |= (w[j] >> 12) & 0x00080008u;                           /* signs to bits 3 / 19 */
    b[j] = t + (t >> 12);                                      /* byte 0: element 2j | 2j + 1 << 4 */
  }
  return __byte_perm(__byte_perm(b[0], b[1], 0x0040), __byte_perm(b[2], b[3], 0x0040), 0x5410);
}

/* 32 values of the chunk at src (16-byte aligned) as f32 (v) and the max of their magnitude bits in
 * the input type (f32 bits, or 16-bit bits for bf16 / f16: >= 0x7F800000 / 0x7F80 / 0x7C00 means
 * NaN or Inf). raw: the bf16 / f16 words (16 of them), when the caller needs them. */
template <int DT, int N, int CV>
static __device__ __forceinline__ uint32_t fp4__cuda_fast_load(const void *src, float *v, uint4 *raw) {
  uint32_t m = 0;
  if (DT == FP4_F32) {
    const uint4 *q = (const uint4 *)src;
#pragma unroll
    for (int k = 0; k < N / 4; k++) {
      uint4 u = q[k];
      const uint32_t a[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
      for (int j = 0; j < 4; j++) {
        v[4 * k + j] = __uint_as_float(a[j]);
        m = max(m, a[j] & 0x7FFFFFFFu);
      }
    }
  } else {
    const uint4 *q = (const uint4 *)src;
    uint32_t m2 = 0;
#pragma unroll
    for (int k = 0; k < N / 8; k++) {
      uint4 u = q[k];
      const uint32_t a[4] = {u.x, u.y, u.z, u.w};
      raw[k] = u;
#pragma unroll
      for (int j = 0; j < 4; j++) {
        m2 = __vmaxu2(m2, a[j] & 0x7FFF7FFFu);
        if (CV) {
          if (DT == FP4_BF16) {
            v[8 * k + 2 * j] = __uint_as_float(a[j] << 16);
            v[8 * k + 2 * j + 1] = __uint_as_float(a[j] & 0xFFFF0000u);
          } else {
            float2 f = __half22float2(*(const __half2 *)&a[j]);
            v[8 * k + 2 * j] = f.x;
            v[8 * k + 2 * j + 1] = f.y;
          }
        }
      }
    }
    m = max(m2 & 0xFFFFu, m2 >> 16);
  }
  return m;
}

/* The block's max magnitude (from fp4__cuda_fast_load's bits) as a float; *bad when NaN / Inf. */
template <int DT> static __device__ __forceinline__ float fp4__cuda_fast_amax(uint32_t m, int *bad) {
  if (DT == FP4_F32) {
    *bad = m >= 0x7F800000u;
    return __uint_as_float(m);
  }
  if (DT == FP4_BF16) {
    *bad = m >= 0x7F80u;
    return __uint_as_float(m << 16);
  }
  *bad = m >= 0x7C00u;
  return __half2float(__ushort_as_half((unsigned short)m));
}

/* Pack 8 code magnitudes (c[i] in 0..7) with the signs of the f32 values v[i] (when sg), element i
 * in nibble i: codes shifted in from the top, signs funnelled in from the top bits of v. */
static __device__ __forceinline__ uint32_t fp4__cuda_pack8(const uint32_t *c, const float *v, int sg) {
  uint32_t w = 0, s = 0;
#pragma unroll
  for (int i = 7; i >= 0; i--) {
    w = (w << 4) | c[i];
    s = __funnelshift_l(__float_as_uint(v[i]), s, 4);
  }
  return sg ? w | (s & 0x88888888u) : w;
}

/* The four Four Over Six error sums of one NVFP4 block: e = err(e, ((q * sv) * amax) / 1536 - x) in
 * element order as fp4_nv_err_add, from the rounded magnitudes r (the sign of q is x's, so
 * |t| = |d - |x||). fast: every nonzero |n| lies in [2^-90, FLT_MAX] (fp4__cuda_div1536's fast
 * range), checked once per block. */
static __device__ __forceinline__ float fp4__cuda_nv_err16(const fp4_nv_scale &ts, const float *x, const float *r,
                                                           float sv, int fast) {
  float e = 0.0f;
#pragma unroll
  for (int i = 0; i < 16; i++) {
    const float n = __fmul_rn(__fmul_rn(r[i], sv), ts.amax);
    const float t = (fast ? fp4__cuda_div1536_fast(n) : fp4__cuda_div1536(n)) - fp4__fabs(x[i]);
    if (ts.metric == 1) e = e + __fmul_rn(t, t);
    else if (ts.metric == 2) e = e + fp4__fabs(t);
    else e = fp4__fabs(t) > e ? fp4__fabs(t) : e;
  }
  return e;
}

/* Does fp4__cuda_div1536's fast path cover every n = (q * sv) * amax, q in +-[0.5, 6], of a block? */
static __device__ __forceinline__ int fp4__cuda_nv_fast_div(const fp4_nv_scale &ts, float sv) {
  return sv == 0.0f || (__fmul_rn(__fmul_rn(0.5f, sv), ts.amax) >= 8.07793566946316088e-28f &&
                        __fmul_rn(__fmul_rn(6.0f, sv), ts.amax) <= 3.40282347e+38f);
}

/* One NVFP4 block of 16 values v (f32), max magnitude amax, not finite when bad: packed codes into
 * q[0..1], returns the scale code. FOUR: the Four Over Six rules. */
template <int FOUR>
static __device__ __forceinline__ uint8_t fp4__cuda_nv_block16(const fp4_nv_scale &ts, const float *v, float amax,
                                                               int bad, uint32_t *q) {
  uint8_t s6, s4;
  uint32_t c[16];
  float r6[16], inv;
  q[0] = q[1] = 0;
  if (bad) return 0x7F;
  fp4_nv_candidates(&ts, amax, &s6, &s4);
  inv = fp4_nv_inv(&ts, s6);
#pragma unroll
  for (int i = 0; i < 16; i++) c[i] = fp4__cuda_e2m1_mag(__fmul_rn(fp4__fabs(v[i]), inv), &r6[i]);
  q[0] = fp4__cuda_pack8(c, v, inv != 0.0f);
  q[1] = fp4__cuda_pack8(c + 8, v + 8, inv != 0.0f);
  if (FOUR) {
    const float inv4 = fp4_nv_inv(&ts, s4), v6 = fp4_e4m3_to_float(s6), v4 = fp4_e4m3_to_float(s4);
    float r4[16], e6, e4;
#pragma unroll
    for (int i = 0; i < 16; i++) c[i] = fp4__cuda_e2m1_mag(__fmul_rn(fp4__fabs(v[i]), inv4), &r4[i]);
    if (fp4__cuda_nv_fast_div(ts, v6) && fp4__cuda_nv_fast_div(ts, v4)) {
      e6 = fp4__cuda_nv_err16(ts, v, r6, v6, 1);
      e4 = fp4__cuda_nv_err16(ts, v, r4, v4, 1);
    } else {
      e6 = fp4__cuda_nv_err16(ts, v, r6, v6, 0);
      e4 = fp4__cuda_nv_err16(ts, v, r4, v4, 0);
    }
    if (e4 < e6) {
      q[0] = fp4__cuda_pack8(c, v, inv4 != 0.0f);
      q[1] = fp4__cuda_pack8(c + 8, v + 8, inv4 != 0.0f);
      return s4;
    }
  }
  return s6;
}

/* Byte offset of scale (r, c) (32-bit coordinates; the offset itself in 64 bits). */
static __device__ __forceinline__ size_t fp4__cuda_scale_off32(fp4_layout l, uint32_t r, uint32_t c, uint32_t nbr) {
  if (l != FP4_LAYOUT_SWIZZLED) return (size_t)r * nbr + c;
  return ((size_t)(r >> 7) * ((nbr + 3) >> 2) + (c >> 2)) * 512 + (r & 31) * 16 + ((r >> 5) & 3) * 4 + (c & 3);
}

/* KIND 0: MXFP4 OCP / CEIL / ABSMAX3 (p.rule); 1: NVFP4 one candidate; 2: NVFP4 Four Over Six.
 * n: 32-value chunks, dm: divides by chunks per row. */
template <int DT, int KIND>
FP4__KERNEL void __launch_bounds__(256) fp4__cuda_quantize_fast_kernel(fp4__cuda_qparams p, fp4__cuda_divmod dm,
                                                                       uint32_t n) {
  constexpr int ES = DT == FP4_F32 ? 4 : 2;
  const uint32_t stride = gridDim.x * blockDim.x;
  const uint32_t nbr = (uint32_t)p.nbr;
  uint32_t badw = 0;
  fp4_nv_scale ts;
  if (!fp4__cuda_scale_ctx(p, KIND != 0, &ts)) return; /* uniform over the grid */
  for (uint32_t t = blockIdx.x * blockDim.x + threadIdx.x; t < n; t += stride) {
    const uint32_t r = (__umulhi(t, dm.m) + t) >> dm.s, cc = t - r * dm.d;
    const char *src = (const char *)p.x + ((uint64_t)r * (uint64_t)p.ldx + (uint64_t)cc * 32) * ES;
    uint4 *dst = (uint4 *)(p.data + (uint64_t)r * (uint64_t)(p.C / 2) + (uint64_t)cc * 16);
    float v[32];
    uint4 raw[4];
    uint32_t q[4];
    int bad;
    if (KIND == 0) {
      const fp4_rule rule = p.rule;
      const int pk = FP4__CUDA_BF16X2 && DT == FP4_BF16 && rule != FP4_MX_ABSMAX3; /* bf16 pairs where the exponent allows */
      const float amax = fp4__cuda_fast_amax<DT>(fp4__cuda_fast_load<DT, 32, DT != FP4_BF16>(src, v, raw), &bad);
      int e;
      q[0] = q[1] = q[2] = q[3] = 0;
      if (bad) e = 128;
      else if (amax == 0.0f) e = rule == FP4_MX_ABSMAX3 ? fp4__floor_log2(1e-8f) : -127;
      else {
        e = fp4__mx_exp(rule, amax);
        if (pk && e >= -124 && e <= 119) {
          const uint32_t E2 = (uint32_t)(e + 127) << 7, S2 = ((uint32_t)(e + 129) << 7) | 0x40u;
#pragma unroll
          for (int k = 0; k < 4; k++) q[k] = fp4__cuda_mx_bf16x8(raw[k], E2 * 0x10001u, S2 * 0x10001u);
        } else {
          const float m = fp4__exp2i(-e);
          if (DT == FP4_BF16) { /* ABSMAX3 or an extreme exponent: the f32 path */
#pragma unroll
            for (int k = 0; k < 4; k++) {
              const uint32_t a[4] = {raw[k].x, raw[k].y, raw[k].z, raw[k].w};
#pragma unroll
              for (int j = 0; j < 4; j++) {
                v[8 * k + 2 * j] = __uint_as_float(a[j] << 16);
                v[8 * k + 2 * j + 1] = __uint_as_float(a[j] & 0xFFFF0000u);
              }
            }
          }
#pragma unroll
          for (int k = 0; k < 4; k++) {
            uint32_t c[8];
            float rv;
#pragma unroll
            for (int i = 0; i < 8; i++) {
              float y = __fmul_rn(fp4__fabs(v[8 * k + i]), m);
              if (rule == FP4_MX_ABSMAX3) y = __fmul_rn(y, 3.0f);
              c[i] = fp4__cuda_e2m1_mag(y, &rv);
            }
            q[k] = fp4__cuda_pack8(c, v + 8 * k, 1);
          }
        }
      }
      badw |= (uint32_t)bad;
      *dst = make_uint4(q[0], q[1], q[2], q[3]);
      p.scales[fp4__cuda_scale_off32(p.layout, r, cc, nbr)] = bad ? (uint8_t)0xFF : (uint8_t)(e + 127);
    } else {
      uint8_t s[2];
#pragma unroll
      for (int h = 0; h < 2; h++) {
        const float amax = fp4__cuda_fast_amax<DT>(fp4__cuda_fast_load<DT, 16, 1>(src + h * 16 * ES, v + 16 * h, raw), &bad);
        badw |= (uint32_t)bad;
        s[h] = fp4__cuda_nv_block16<KIND == 2>(ts, v + 16 * h, amax, bad, q + 2 * h);
      }
      *dst = make_uint4(q[0], q[1], q[2], q[3]);
      *(uint16_t *)(p.scales + fp4__cuda_scale_off32(p.layout, r, 2 * cc, nbr)) = (uint16_t)(s[0] | (s[1] << 8));
    }
  }
  if (__any_sync(0xFFFFFFFFu, badw) && (threadIdx.x & 31) == 0) atomicOr(&p.info->flags, FP4_CUDA_FLAG_NONFINITE);
}

/* 2D scaling (NVFP4, spec §3): one CTA per 16-row strip of Q and W columns (W / 16 tiles, W = 128
 * or 256 threads), the strip loaded (coalesced either way), rotated and drawn into shared memory.
 * Then 16 lanes per 16x16 tile: lane i takes row i of the tile in the source's row-major order (Q
 * row i, or Q column i when transposed) for bmax and the 4/6 error, summed across the lanes in that
 * order (fp4__cuda_ordered_sum), and Q row i for the codes: the arithmetic of fp4__quantize_2d. */
FP4__CUDA_LAZY
FP4__KERNEL void __launch_bounds__(256) fp4__cuda_quantize_2d_kernel(fp4__cuda_qparams p, int W) {
  extern __shared__ float fp4__cuda_smem[];
  const int t = threadIdx.x, i = t & 15, G = p.g > 16 ? p.g : 16;
  const int64_t rs = (int64_t)blockIdx.y * 16, cs = (int64_t)blockIdx.x * W;
  const int nr = p.R - rs < 16 ? (int)(p.R - rs) : 16, wc = p.C - cs < W ? (int)(p.C - cs) : W;
  float *v = fp4__cuda_smem; /* [16][W] */
  uint32_t *r0 = (uint32_t *)(v + 16 * W), *r1 = r0 + 16 * W;
  fp4_nv_scale ts;
  if (!fp4__cuda_scale_ctx(p, 1, &ts)) return;
  for (int k = t; k < nr * wc; k += blockDim.x) {
    int ii = p.transpose ? k % nr : k / wc, jj = p.transpose ? k / nr : k % wc; /* Q row, Q column */
    int64_t rr = rs + ii, cc = cs + jj, src = p.transpose ? cc * p.xcols + rr : rr * p.xcols + cc;
    v[ii * W + jj] = fp4__load(p.x, p.dt, p.transpose ? cc * p.ldx + rr : rr * p.ldx + cc);
    if (p.sr) {
      uint32_t wd[4];
      fp4_philox4x32_10(p.seed, (uint64_t)src, wd);
      r0[ii * W + jj] = wd[0];
      r1[ii * W + jj] = wd[1];
    }
  }
  __syncthreads();
  if (p.g)
    for (int k = t; k < nr * (wc / G); k += blockDim.x)
      fp4__cuda_hadamard_serial(v + (k / (wc / G)) * W + (k % (wc / G)) * G, G,
                                p.has_signs ? p.signs : (const uint32_t *)0, 0);
  __syncthreads();
  if (p.bf16)
    for (int k = t; k < nr * wc; k += blockDim.x) v[(k / wc) * W + k % wc] = fp4_bf16_to_f32(fp4_f32_to_bf16(v[(k / wc) * W + k % wc]));
  __syncthreads();
  {
    const int tcol = (t >> 4) * 16, active = tcol < wc; /* idle tiles still join the shuffles */
    const float *qrow = v + i * W + (active ? tcol : 0);
    uint32_t am = 0;
    uint8_t s6, s4, s, pq[8];
    int four = 0, bad;
    if (i < nr)
      for (int j = 0; j < 16; j++) {
        uint32_t a = __float_as_uint(qrow[j]) & 0x7FFFFFFFu;
        am = a > am ? a : am;
      }
    am = fp4__cuda_group_max<16>(am);
    bad = am >= 0x7F800000u;
    fp4_nv_candidates(&ts, __uint_as_float(am), &s6, &s4);
    if (ts.metric) { /* lane i: source row i of the tile, terms in order, 0 past the strip's rows */
      float v6 = fp4_e4m3_to_float(s6), v4 = fp4_e4m3_to_float(s4), inv6 = fp4_nv_inv(&ts, s6),
            inv4 = fp4_nv_inv(&ts, s4), t6[16], t4[16];
#pragma unroll
      for (int j = 0; j < 16; j++) {
        int ii = p.transpose ? j : i, jj = p.transpose ? i : j, e = ii * W + (active ? tcol : 0) + jj;
        float x = ii < nr ? v[e] : 0.0f;
        uint32_t c6 = fp4_nv_code(x, inv6, p.sr, p.sr ? r0[e] : 0u), c4 = fp4_nv_code(x, inv4, p.sr, p.sr ? r1[e] : 0u);
        t6[j] = ii < nr && !bad ? fp4__cuda_nv_term(ts, x, c6, v6) : 0.0f;
        t4[j] = ii < nr && !bad ? fp4__cuda_nv_term(ts, x, c4, v4) : 0.0f;
      }
      four = fp4__cuda_ordered_sum<16, 16>(t4, ts.metric == 3) < fp4__cuda_ordered_sum<16, 16>(t6, ts.metric == 3);
    }
    if (!active || i >= nr) return;
    if (bad) {
      s = 0x7F;
      for (int j = 0; j < 8; j++) pq[j] = 0;
      atomicOr(&p.info->flags, FP4_CUDA_FLAG_NONFINITE);
    } else {
      const uint32_t *rw = four ? r1 : r0;
      float inv;
      s = four ? s4 : s6;
      inv = fp4_nv_inv(&ts, s);
      for (int j = 0; j < 8; j++) {
        int e = i * W + tcol + 2 * j;
        pq[j] = (uint8_t)(fp4_nv_code(v[e], inv, p.sr, p.sr ? rw[e] : 0u) |
                          (fp4_nv_code(v[e + 1], inv, p.sr, p.sr ? rw[e + 1] : 0u) << 4));
      }
    }
    fp4__cuda_emit<16>(p, ts, rs + i, cs + tcol, pq, s);
  }
}

FP4_CUDA_API size_t fp4_cuda_quantize_workspace_size(int64_t rows, int64_t cols, const fp4_quant_config *cfg) {
  (void)rows;
  (void)cols;
  (void)cfg;
  return FP4_CUDA_QUANTIZE_WS;
}

/* Sink of a quantize call, as in fp4.h. */
typedef struct fp4__cuda_sink {
  fp4_tensor *t;
  float *y;
  int64_t ldy;
  uint8_t *mask;
  fp4_layout layout;
} fp4__cuda_sink;

/* Validate exactly as fp4__quantize does, then launch: [amax pass,] quantize. */
FP4__CUDA_LAZY
FP4_CUDA_API fp4_status fp4__cuda_quantize(const void *x, fp4_dtype dt, int64_t rows, int64_t cols, int64_t ldx,
                                           const fp4_quant_config *cfg, const fp4__cuda_sink *k, void *ws,
                                           size_t ws_bytes, cudaStream_t stream) {
  fp4__cuda_qparams p;
  fp4_status st;
  fp4_rule rule;
  fp4_format fmt;
  int block, L, nv, threads = 256;
  size_t es = fp4__dtype_size(dt);
  if (!x || !cfg) return FP4_ERR_NULL;
  if ((st = fp4__check_config(cfg, &rule)) != FP4_OK) return st;
  if ((unsigned)k->layout >= FP4_LAYOUT_COUNT) return FP4_ERR_ENUM;
  if ((st = fp4__check_dims(rows, cols, ldx)) != FP4_OK) return st;
  memset(&p, 0, sizeof p);
  p.x = x;
  p.dt = dt;
  p.ldx = ldx;
  p.xcols = cols;
  p.transpose = cfg->transpose != 0;
  p.R = p.transpose ? cols : rows;
  p.C = p.transpose ? rows : cols;
  fmt = cfg->format;
  nv = fmt == FP4_NVFP4;
  block = fp4_format_block(fmt);
  p.g = cfg->hadamard;
  L = p.g > block ? p.g : block;
  if (p.C % L) return FP4_ERR_SHAPE;
  if (k->mask && rule != FP4_MX_QUEST) return FP4_ERR_UNSUPPORTED;
  if ((uintptr_t)x % es || (k->y && (uintptr_t)k->y % 4)) return FP4_ERR_ALIGN;
  if (k->y && (st = fp4__check_dims(p.R, p.C, k->ldy)) != FP4_OK) return st;
  {
    size_t xs = fp4__span(rows, cols, ldx, dt);
    if (k->t && (fp4__overlap(x, xs, k->t->data, fp4_data_bytes(p.R, p.C)) ||
                 fp4__overlap(x, xs, k->t->scales, fp4_scale_bytes(fmt, p.R, p.C, k->layout)) ||
                 fp4__overlap(k->t->data, fp4_data_bytes(p.R, p.C), k->t->scales,
                              fp4_scale_bytes(fmt, p.R, p.C, k->layout))))
      return FP4_ERR_ALIAS;
    if (k->y && fp4__overlap(x, xs, k->y, fp4__span(p.R, p.C, k->ldy, FP4_F32))) return FP4_ERR_ALIAS;
    if (k->mask && fp4__overlap(x, xs, k->mask, fp4_mask_bytes(p.R, p.C))) return FP4_ERR_ALIAS;
    if (k->mask && ((k->t && (fp4__overlap(k->mask, fp4_mask_bytes(p.R, p.C), k->t->data, fp4_data_bytes(p.R, p.C)) ||
                              fp4__overlap(k->mask, fp4_mask_bytes(p.R, p.C), k->t->scales,
                                           fp4_scale_bytes(fmt, p.R, p.C, k->layout)))) ||
                    (k->y && fp4__overlap(k->mask, fp4_mask_bytes(p.R, p.C), k->y, fp4__span(p.R, p.C, k->ldy, FP4_F32)))))
      return FP4_ERR_ALIAS;
  }
  if (!ws) return FP4_ERR_NULL;
  if (ws_bytes < FP4_CUDA_QUANTIZE_WS) return FP4_ERR_WORKSPACE;
  if ((uintptr_t)ws % 16) return FP4_ERR_ALIGN;
  if (p.g && cfg->hadamard_signs == FP4_SIGNS_USER) {
    memcpy(p.signs, cfg->hadamard_sign_bits, sizeof p.signs);
    p.has_signs = 1;
  } else if (p.g && cfg->hadamard_signs == FP4_SIGNS_RANDOM) {
    fp4_hadamard_signs_from_seed(cfg->seed, p.g, p.signs);
    p.has_signs = 1;
  }
  p.sr = cfg->rounding == FP4_ROUND_STOCHASTIC;
  p.bf16 = cfg->hadamard_bf16 != 0;
  p.seed = cfg->seed;
  p.rule = rule;
  p.layout = k->layout;
  p.nbr = p.C / block;
  p.vec = !p.transpose && fp4__cuda_aligned(x, 16) && (ldx * (int64_t)es) % 16 == 0;
  p.has_amax = !nv || cfg->has_amax;
  p.amax = nv && cfg->has_amax ? cfg->amax : 0.0f;
  p.info = (fp4_cuda_qinfo *)ws;
  p.fmt_nv = nv;
  if (k->t) {
    p.data = k->t->data;
    p.scales = k->t->scales;
    p.out_vec = fp4__cuda_aligned(p.data, 16);
  }
  p.mask = k->mask;
  p.y = k->y;
  p.ldy = k->ldy;
  if (nv && cfg->has_amax && p.amax != 0.0f && p.amax < FP4_NV_AMAX_MIN) return FP4_ERR_RANGE;
  if (k->t) {
    fp4_nv_scale ts = fp4_nv_scale_make(rule, p.amax);
    k->t->format = fmt;
    k->t->rule = rule;
    k->t->rows = p.R;
    k->t->cols = p.C;
    if (!nv) k->t->tensor_scale = rule == FP4_MX_ABSMAX3 ? 1.0f / 3.0f : 1.0f;
    else k->t->tensor_scale = p.has_amax ? ts.S_dec : fp4__nan(); /* computed: see fp4_cuda_quantize_result */
    k->t->amax = !nv ? 0.0f : p.has_amax ? p.amax : fp4__nan();
  }
  if ((st = fp4__cuda_status(cudaMemsetAsync(ws, 0, sizeof(fp4_cuda_qinfo), stream))) != FP4_OK) return st;
  {
    unsigned grid = fp4__cuda_grid(p.R * (p.C / 8), threads); /* one thread per 8 values */
    if (nv && !p.has_amax) {
      int dev = 0, sms = 132;
      if (cudaGetDevice(&dev) == cudaSuccess) cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
      fp4__cuda_amax_kernel<<<grid < (unsigned)sms * 8u ? grid : (unsigned)sms * 8u, threads, 0, stream>>>(p);
      if ((st = fp4__cuda_launched()) != FP4_OK) return st;
    }
    if (k->t && k->layout == FP4_LAYOUT_SWIZZLED) {
      size_t sb = fp4_scale_bytes(fmt, p.R, p.C, k->layout);
      fp4__cuda_zero_scales_kernel<<<fp4__cuda_grid((int64_t)((sb + 15) / 16), 256), 256, 0, stream>>>(p, sb);
      if ((st = fp4__cuda_launched()) != FP4_OK) return st;
    }
    const int64_t nch = p.R * (p.C / 32); /* 32-value chunks of the fast kernel */
    const fp4_nv_scale nr = fp4_nv_scale_make(nv ? rule : FP4_NV_6, 1.0f); /* the NVFP4 rule's metric and K */
    const int fast = !cfg->scale_2d && !p.transpose && !p.g && !p.sr && k->t && !k->mask && p.vec && p.out_vec &&
                     (!p.bf16 || dt == FP4_BF16) && p.C % 32 == 0 && nch <= (int64_t)FP4__CUDA_FAST_MAX_CHUNKS &&
                     (nv ? fp4__cuda_aligned(k->t->scales, 2) && (!nr.metric || nr.K == 1536.0f)
                         : rule == FP4_MX_OCP || rule == FP4_MX_CEIL || rule == FP4_MX_ABSMAX3);
    if (fast) {
      int dev = 0, sms = 132;
      const fp4__cuda_divmod dm = fp4__cuda_divmod_make((uint32_t)(p.C / 32));
      const int kind = nv ? 1 + (nr.metric != 0) : 0;
      unsigned g;
      if (cudaGetDevice(&dev) == cudaSuccess) cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
      g = fp4__cuda_grid(nch, 256);
      if (g > (unsigned)sms * (unsigned)FP4__CUDA_FAST_CTAS_PER_SM) g = (unsigned)sms * (unsigned)FP4__CUDA_FAST_CTAS_PER_SM;
#define FP4__QF(DTN)                                                                                            \
  do {                                                                                                        \
    if (kind == 0) fp4__cuda_quantize_fast_kernel<DTN, 0><<<g, 256, 0, stream>>>(p, dm, (uint32_t)nch);       \
    else if (kind == 1) fp4__cuda_quantize_fast_kernel<DTN, 1><<<g, 256, 0, stream>>>(p, dm, (uint32_t)nch);  \
    else fp4__cuda_quantize_fast_kernel<DTN, 2><<<g, 256, 0, stream>>>(p, dm, (uint32_t)nch);                 \
  } while (0)
      if (dt == FP4_BF16) FP4__QF(FP4_BF16);
      else if (dt == FP4_F32) FP4__QF(FP4_F32);
      else FP4__QF(FP4_F16);
#undef FP4__QF
    } else if (cfg->scale_2d) {
      int W = L > 128 ? L : 128; /* threads: 16 per 16x16 tile */
      size_t smem = (size_t)16 * W * (p.sr ? 12 : 4);
      dim3 grid2((unsigned)((p.C + W - 1) / W), (unsigned)((p.R + 15) / 16));
      if (grid2.y > 65535u) return FP4_ERR_OVERFLOW;
      fp4__cuda_quantize_2d_kernel<<<grid2, W, smem, stream>>>(p, W);
    } else {
#define FP4__QK(BLK, RK)                                                                   \
  do {                                                                                     \
    if (p.sr) fp4__cuda_quantize_kernel<BLK, RK, 1><<<grid, threads, 0, stream>>>(p);      \
    else fp4__cuda_quantize_kernel<BLK, RK, 0><<<grid, threads, 0, stream>>>(p);           \
  } while (0)
      switch (nv ? (int)FP4_RULE_COUNT + (nr.metric != 0) : (int)rule) {
      case FP4_MX_OCP: FP4__QK(32, FP4_MX_OCP); break;
      case FP4_MX_CEIL: FP4__QK(32, FP4_MX_CEIL); break;
      case FP4_MX_ABSMAX3: FP4__QK(32, FP4_MX_ABSMAX3); break;
      case FP4_MX_QUEST: FP4__QK(32, FP4_MX_QUEST); break;
      case FP4_MX_ADAPTIVE: FP4__QK(32, FP4_MX_ADAPTIVE); break;
      case FP4_RULE_COUNT: FP4__QK(16, 0); break;
      default: FP4__QK(16, 1); break;
      }
#undef FP4__QK
    }
  }
  return fp4__cuda_launched();
}

FP4__CUDA_LAZY
FP4_CUDA_API fp4_status fp4__cuda_quantize_tensor(const void *x, fp4_dtype dt, int64_t rows, int64_t cols,
                                                  int64_t ldx, const fp4_quant_config *cfg, fp4_tensor *out,
                                                  void *ws, size_t ws_bytes, cudaStream_t stream) {
  fp4__cuda_sink k;
  if (!out || !out->data || !out->scales) return FP4_ERR_NULL;
  memset(&k, 0, sizeof k);
  k.t = out;
  k.mask = out->mask;
  k.layout = out->scale_layout;
  return fp4__cuda_quantize(x, dt, rows, cols, ldx, cfg, &k, ws, ws_bytes, stream);
}

/* fp4_quantize_{f32,bf16,f16} on the device (spec §4); see the header comment for the result call. */
FP4__CUDA_LAZY
FP4_CUDA_API fp4_status fp4_cuda_quantize_f32(const float *x, int64_t rows, int64_t cols, int64_t ldx,
                                              const fp4_quant_config *cfg, fp4_tensor *out, void *ws,
                                              size_t ws_bytes, cudaStream_t stream) {
  return fp4__cuda_quantize_tensor(x, FP4_F32, rows, cols, ldx, cfg, out, ws, ws_bytes, stream);
}
FP4__CUDA_LAZY
FP4_CUDA_API fp4_status fp4_cuda_quantize_bf16(const uint16_t *x, int64_t rows, int64_t cols, int64_t ldx,
                                               const fp4_quant_config *cfg, fp4_tensor *out, void *ws,
                                               size_t ws_bytes, cudaStream_t stream) {
  return fp4__cuda_quantize_tensor(x, FP4_BF16, rows, cols, ldx, cfg, out, ws, ws_bytes, stream);
}
FP4__CUDA_LAZY
FP4_CUDA_API fp4_status fp4_cuda_quantize_f16(const uint16_t *x, int64_t rows, int64_t cols, int64_t ldx,
                                              const fp4_quant_config *cfg, fp4_tensor *out, void *ws,
                                              size_t ws_bytes, cudaStream_t stream) {
  return fp4__cuda_quantize_tensor(x, FP4_F16, rows, cols, ldx, cfg, out, ws, ws_bytes, stream);
}

/* Quantize then dequantize into y (f32), as fp4_fake_quantize_f32. mask: device pointer or NULL. */
FP4__CUDA_LAZY
FP4_CUDA_API fp4_status fp4_cuda_fake_quantize_f32(const float *x, int64_t rows, int64_t cols, int64_t ldx,
                                                   const fp4_quant_config *cfg, float *y, int64_t ldy,
                                                   uint8_t *mask, void *ws, size_t ws_bytes, cudaStream_t stream) {
  fp4__cuda_sink k;
  if (!y) return FP4_ERR_NULL;
  memset(&k, 0, sizeof k);
  k.y = y;
  k.ldy = ldy;
  k.mask = mask;
  return fp4__cuda_quantize(x, FP4_F32, rows, cols, ldx, cfg, &k, ws, ws_bytes, stream);
}

/* Wait for the stream, then return the status fp4.h would have returned for the last quantize call
 * that used ws (FP4_OK, FP4_ERR_NONFINITE or FP4_ERR_RANGE), and fill out->tensor_scale and out->amax
 * when the amax was computed on the device. out may be NULL (fake quantize). */
FP4_CUDA_API fp4_status fp4_cuda_quantize_result(fp4_tensor *out, const void *ws, cudaStream_t stream) {
  fp4_cuda_qinfo info;
  fp4_status st;
  if (!ws) return FP4_ERR_NULL;
  if ((st = fp4__cuda_status(cudaMemcpyAsync(&info, ws, sizeof info, cudaMemcpyDeviceToHost, stream))) != FP4_OK)
    return st;
  if ((st = fp4__cuda_status(cudaStreamSynchronize(stream))) != FP4_OK) return st;
  if (info.flags & FP4_CUDA_FLAG_RANGE) return FP4_ERR_RANGE;
  if (out && out->format == FP4_NVFP4 && out->amax != out->amax) {
    fp4_nv_scale ts = fp4_nv_scale_make(out->rule, fp4__float(info.amax_bits));
    out->amax = ts.amax;
    out->tensor_scale = ts.S_dec;
  }
  return info.flags & FP4_CUDA_FLAG_NONFINITE ? FP4_ERR_NONFINITE : FP4_OK;
}

/* ==== dequantize ==== */
typedef struct fp4__cuda_dparams {
  const uint8_t *data, *scales;
  int64_t rows, cols, ldy, nbr;
  fp4_format fmt;
  fp4_rule rule;
  fp4_layout layout;
  float tensor_scale;
  void *y;
  int in_vec;
} fp4__cuda_dparams;

/* One thread per 16 elements (an NVFP4 block, half an MXFP4 block). */
template <int DT> FP4__KERNEL void __launch_bounds__(256) fp4__cuda_dequantize_kernel(fp4__cuda_dparams p) {
  int64_t b = (int64_t)blockIdx.x * blockDim.x + threadIdx.x, n16 = p.cols / 16;
  if (b >= p.rows * n16) return;
  int64_t r = b / n16, c0 = (b % n16) * 16;
  const uint8_t *d = p.data + r * (p.cols / 2) + c0 / 2;
  uint8_t q[8];
  if (p.in_vec) {
    uint2 u = *(const uint2 *)d;
#pragma unroll
    for (int j = 0; j < 4; j++) {
      q[j] = (uint8_t)(u.x >> (8 * j));
      q[4 + j] = (uint8_t)(u.y >> (8 * j));
    }
  } else {
#pragma unroll
    for (int j = 0; j < 8; j++) q[j] = d[j];
  }
  uint8_t s = p.scales[fp4__scale_offset(p.layout, r, c0 / fp4_format_block(p.fmt), p.nbr)];
#pragma unroll
  for (int i = 0; i < 16; i++)
    fp4__store(p.y, (fp4_dtype)DT, r * p.ldy + c0 + i,
               fp4__cuda_dequant(p.fmt, p.rule, (uint8_t)((q[i / 2] >> (4 * (i & 1))) & 0xFu), s, p.tensor_scale));
}

FP4__CUDA_LAZY
FP4_CUDA_API fp4_status fp4__cuda_dequantize(const fp4_tensor *t, void *y, fp4_dtype dt, int64_t ldy,
                                             cudaStream_t stream) {
  fp4__cuda_dparams p;
  fp4_status st;
  int64_t n;
  if ((st = fp4__check_dequantize(t, y, dt, ldy)) != FP4_OK) return st;
  p.data = t->data;
  p.scales = t->scales;
  p.rows = t->rows;
  p.cols = t->cols;
  p.ldy = ldy;
  p.nbr = t->cols / fp4_format_block(t->format);
  p.fmt = t->format;
  p.rule = t->rule;
  p.layout = t->scale_layout;
  p.tensor_scale = t->tensor_scale;
  p.y = y;
  p.in_vec = fp4__cuda_aligned(t->data, 8);
  n = t->rows * (t->cols / 16);
  if (dt == FP4_F32) fp4__cuda_dequantize_kernel<FP4_F32><<<fp4__cuda_grid(n, 256), 256, 0, stream>>>(p);
  else if (dt == FP4_BF16) fp4__cuda_dequantize_kernel<FP4_BF16><<<fp4__cuda_grid(n, 256), 256, 0, stream>>>(p);
  else fp4__cuda_dequantize_kernel<FP4_F16><<<fp4__cuda_grid(n, 256), 256, 0, stream>>>(p);
  return fp4__cuda_launched();
}

FP4__CUDA_LAZY
FP4_CUDA_API fp4_status fp4_cuda_dequantize_f32(const fp4_tensor *t, float *y, int64_t ldy, cudaStream_t stream) {
  return fp4__cuda_dequantize(t, y, FP4_F32, ldy, stream);
}
FP4__CUDA_LAZY
FP4_CUDA_API fp4_status fp4_cuda_dequantize_bf16(const fp4_tensor *t, uint16_t *y, int64_t ldy,
                                                 cudaStream_t stream) {
  return fp4__cuda_dequantize(t, y, FP4_BF16, ldy, stream);
}
FP4__CUDA_LAZY
FP4_CUDA_API fp4_status fp4_cuda_dequantize_f16(const fp4_tensor *t, uint16_t *y, int64_t ldy,
                                                cudaStream_t stream) {
  return fp4__cuda_dequantize(t, y, FP4_F16, ldy, stream);
}

/* Block Hadamard: one thread per 16 values, groups across g/16 consecutive lanes. */
typedef struct fp4__cuda_hparams {
  const float *x;
  float *y;
  int64_t rows, cols, ldx, ldy;
  int g, inverse, has_signs;
  uint32_t signs[8];
} fp4__cuda_hparams;

FP4__CUDA_LAZY
FP4__KERNEL void __launch_bounds__(256) fp4__cuda_hadamard_kernel(fp4__cuda_hparams p) {
  int64_t b = (int64_t)blockIdx.x * blockDim.x + threadIdx.x, n16 = p.cols / 16;
  int valid = b < p.rows * n16;
  int64_t r = valid ? b / n16 : 0, c0 = valid ? (b % n16) * 16 : 0;
  int lpg = p.g / 16;
  float v[16];
#pragma unroll
  for (int i = 0; i < 16; i++) v[i] = valid ? p.x[r * p.ldx + c0 + i] : 0.0f;
  fp4__cuda_hadamard_lanes<16>(v, p.g, p.has_signs ? p.signs : (const uint32_t *)0, p.inverse,
                               (int)((c0 / 16) % lpg));
  if (!valid) return;
#pragma unroll
  for (int i = 0; i < 16; i++) p.y[r * p.ldy + c0 + i] = v[i];
}

/* fp4_hadamard_f32 on the device. sign_bits: host memory (8 words) or NULL. In place when x == y
 * and ldx == ldy. */
FP4__CUDA_LAZY
FP4_CUDA_API fp4_status fp4_cuda_hadamard_f32(const float *x, int64_t rows, int64_t cols, int64_t ldx, float *y,
                                              int64_t ldy, int group, const uint32_t *sign_bits, int inverse,
                                              cudaStream_t stream) {
  fp4__cuda_hparams p;
  fp4_status st;
  if ((st = fp4__check_hadamard(x, rows, cols, ldx, y, ldy, group)) != FP4_OK) return st;
  memset(&p, 0, sizeof p);
  p.x = x;
  p.y = y;
  p.rows = rows;
  p.cols = cols;
  p.ldx = ldx;
  p.ldy = ldy;
  p.g = group;
  p.inverse = inverse != 0;
  if (sign_bits) {
    memcpy(p.signs, sign_bits, sizeof p.signs);
    p.has_signs = 1;
  }
  fp4__cuda_hadamard_kernel<<<fp4__cuda_grid(rows * (cols / 16), 256), 256, 0, stream>>>(p);
  return fp4__cuda_launched();
}

/* Scale layouts (spec §2): one thread per scale. */
FP4__CUDA_LAZY
FP4__KERNEL void __launch_bounds__(256) fp4__cuda_swizzle_kernel(const uint8_t *__restrict__ src, uint8_t *__restrict__ dst,
                                                               int64_t rows, int64_t sc, int to_swizzled) {
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= rows * sc) return;
  int64_t r = i / sc, c = i % sc;
  size_t o = fp4_swizzle_offset(r, c, sc);
  if (to_swizzled) dst[o] = src[i];
  else dst[i] = src[o];
}

FP4__CUDA_LAZY
FP4_CUDA_API fp4_status fp4_cuda_scales_to_swizzled(const uint8_t *lin, int64_t rows, int64_t scale_cols,
                                                    uint8_t *sw, cudaStream_t stream) {
  fp4_status st = fp4__check_swizzle(lin, rows, scale_cols, sw);
  if (st != FP4_OK) return st;
  st = fp4__cuda_status(
      cudaMemsetAsync(sw, 0, (size_t)((rows + 127) / 128 * 128 * ((scale_cols + 3) / 4 * 4)), stream));
  if (st != FP4_OK) return st;
  fp4__cuda_swizzle_kernel<<<fp4__cuda_grid(rows * scale_cols, 256), 256, 0, stream>>>(lin, sw, rows, scale_cols, 1);
  return fp4__cuda_launched();
}

FP4__CUDA_LAZY
FP4_CUDA_API fp4_status fp4_cuda_scales_to_linear(const uint8_t *sw, int64_t rows, int64_t scale_cols, uint8_t *lin,
                                                  cudaStream_t stream) {
  fp4_status st = fp4__check_swizzle(lin, rows, scale_cols, sw);
  if (st != FP4_OK) return st;
  fp4__cuda_swizzle_kernel<<<fp4__cuda_grid(rows * scale_cols, 256), 256, 0, stream>>>(sw, lin, rows, scale_cols, 0);
  return fp4__cuda_launched();
}

/* ==== gemv ==== */
/* W4A16 decode GEMV, C[M,N] = alpha * A[M,K] . B[N,K]^T + beta * C for M <= FP4_CUDA_GEMV_MAX_M:
 * fp4_cuda_gemv_w4a16_<act>_<out>, the signature of fp4_gemm_w4a16_<act>_<out> plus a stream. It is
 * the small-M half of the W4A16 GEMM: the fp4_cuda_gemm_w4a16_* entry points of fp4_cuda_gemm.inl hand
 * small M here. Accuracy is spec §5's bound (not bit-exact): tensor-core sums in fp32.
 *
 * Shape of the fast kernel (K a multiple of 32, 16-byte aligned operands): a CTA of FP4__GEMV_WARPS
 * warps owns FP4__GEMV_WARPS x 16 weight rows and one K range (split-K when N is small; the fp32
 * partials are summed by a second kernel in split order: deterministic). Its activations for that
 * range are staged once in shared memory (bf16 or f16; f32 split into bf16 hi + mid + lo, 24 bits).
 * Each warp runs mma.sync m16n8k16 with its 16 weight rows as the A operand and up to 8 (one n-tile)
 * or 16 (two) activation rows as B. Lane (g, t) streams 16 bytes (32 codes, one MXFP4 block or two
 * NVFP4 blocks) of rows g and g + 8 per 128-wide K step with L1-bypassing loads, FP4__GEMV_U steps in
 * flight, and decodes them with the byte-permute decoder of fp4_cuda_gemm.inl
 * (fp4__cuda_gemm_e2m1x4_h16: exact E2M1 values as bf16/f16 pairs). Since the four lanes of a group
 * hold different K ranges, an MMA's k index is mapped to the lanes' own codes (the activations are
 * read with the same mapping), and the block scale is multiplied into the 16-bit weights before the
 * MMA (one mul.rn per pair):
 *   NVFP4: E2M1 x E4M3 is exact in bf16 and f16; one fp32 accumulator over the whole K range.
 *   MXFP4: the four lanes agree on their largest exponent E0 per row (two shuffles), the weights take
 *          2^(e - E0) (exact, <= 1: no overflow, also in f16), a fresh accumulator per 128-wide step
 *          is promoted into fp32 with 2^(E0 - 127). A NaN scale gives NaN.
 * Activations are staged with rows 64 bytes apart beyond a multiple of 128 and 16-byte units XOR-ed
 * with the lane's group index, so a quarter warp's 16-byte shared loads hit every bank once.
 * One exception: M = 1 with NVFP4 weights and 16-bit activations runs a CUDA-core kernel
 * (fp4__cuda_gemv1_kernel below), which measured 1.2-1.3x faster there on the H100 (bench/RESULTS.md);
 * at M = 1 MXFP4 and at every M >= 2 the tensor-core kernel is the faster one. */
#define FP4_CUDA_GEMV_MAX_M 16
#define FP4__GEMV_WARPS 8                      /* warps per CTA, 16 weight rows each */
#define FP4__GEMV_ROWS (16 * FP4__GEMV_WARPS)  /* weight rows per CTA */
#define FP4__GEMV1_R 4 /* weight rows per warp of the M = 1 NVFP4 kernel */
#ifndef FP4__GEMV_U
#define FP4__GEMV_U 2 /* 128-wide K steps in flight per warp (2 x 16-byte loads per lane each) */
#endif
#ifndef FP4__GEMV_CTAS
#define FP4__GEMV_CTAS 792 /* split-K aims at this many CTAs for M <= 4 (half for larger M) */
#endif
#ifndef FP4__GEMV_MINB
#define FP4__GEMV_MINB 3 /* CTAs per SM the register allocation must allow */
#endif

typedef struct fp4__cuda_gparams {
  const void *A;
  int64_t lda, M, N, K, sc; /* sc: scale columns */
  const uint8_t *B, *S;
  fp4_layout layout;
  fp4_dtype ct;
  float alpha_eff, beta;
  void *C;
  int64_t ldc;
  float *part;         /* split-K partials [nsplit][M][N], or NULL */
  int64_t nsplit, kc;  /* splits, K elements per split (a multiple of 128) */
  int64_t cps;         /* the M = 1 kernel: 32-element chunks per split */
} fp4__cuda_gparams;

/* Split-K of the fast kernel: enough CTAs for every SM (132 on an H100) to stream several, each split
 * at least 256 wide; K per split (*kc) is a multiple of 128. More rows of activations make the
 * partials dearer, so M > 4 aims at half as many CTAs. */
FP4_CUDA_API int64_t fp4__cuda_gemv_splits(int64_t M, int64_t N, int64_t K, int64_t *kc) {
  int64_t rb = (N + FP4__GEMV_ROWS - 1) / FP4__GEMV_ROWS, want = M <= 4 ? FP4__GEMV_CTAS : FP4__GEMV_CTAS / 2, steps = (K + 127) / 128;
  int64_t s = (want + rb - 1) / rb, c;
  if (s > steps / 2) s = steps / 2;
  if (s < 1) s = 1;
  c = (steps + s - 1) / s * 128;
  if (kc) *kc = c;
  return (K + c - 1) / c;
}

/* Split count of the M = 1 CUDA-core kernel: enough warps for every SM to stream, each split at least
 * 64 chunks of 32 codes. */
FP4_CUDA_API int64_t fp4__cuda_gemv1_splits(int64_t N, int64_t K) {
  int64_t warps = (N + FP4__GEMV1_R - 1) / FP4__GEMV1_R, want = 132 * 12, kc = K / 32, s = 1;
  while (warps * s < want && kc / (s * 2) >= 64) s *= 2;
  return s;
}

FP4_CUDA_API size_t fp4_cuda_gemv_workspace_size(int64_t M, int64_t N, int64_t K) {
  int64_t s;
  if (M <= 0 || N <= 0 || K <= 0 || M > FP4_CUDA_GEMV_MAX_M) return 0;
  s = fp4__cuda_gemv_splits(M, N, K, NULL);
  if (M == 1 && fp4__cuda_gemv1_splits(N, K) > s) s = fp4__cuda_gemv1_splits(N, K);
  return s > 1 ? (size_t)(s * M * N) * sizeof(float) : 0;
}

FP4__CUDA_LAZY
FP4_CUDA_API fp4_status fp4__cuda_gemv_w4a16(const void *A, fp4_dtype at, int64_t M, int64_t lda, const fp4_tensor *B,
                                             float alpha, float beta, void *C, fp4_dtype ct, int64_t ldc, void *ws,
                                             size_t ws_bytes, cudaStream_t stream);

/* ==== gemm ==== (tensor-core GEMMs)
 * Included here: the decode GEMV below uses the byte-permute E2M1 decoder, the bf16/f16 mma.sync and
 * packed multiply of fp4_cuda_gemm.inl, which in turn hands small M back to fp4__cuda_gemv_w4a16,
 * declared above. */
#include "fp4_cuda_gemm.inl"

/* Factor 2^(e - e0) (e <= e0) as a pair of bf16 (BF) or f16; NaN pair for the NaN code 0xFF. */
template <int BF> static __device__ __forceinline__ uint32_t fp4__cuda_gemv_pow2(uint32_t e, uint32_t e0) {
  int d = (int)e - (int)e0;
  uint32_t h;
  if (e == 0xFFu) h = BF ? 0x7FC0u : 0x7E00u;
  else if (BF) h = d >= -126 ? (uint32_t)(127 + d) << 7 : 0u;
  else h = d >= -14 ? (uint32_t)(15 + d) << 10 : d >= -24 ? 1u << (d + 24) : 0u;
  return h * 0x10001u;
}

/* 2^(e0 - 127) as f32 (E8M0 value, 2^-127 as a subnormal); NaN for 0xFF. */
static __device__ __forceinline__ float fp4__cuda_gemv_e8m0(uint32_t e0) {
  return e0 == 0xFFu ? fp4__nan() : e0 ? __uint_as_float(e0 << 23) : __uint_as_float(0x00400000u);
}

/* Eight activations (k .. k + 7 of one row) as T 16-bit units: bf16/f16 as they are; f32 split into
 * bf16 hi + mid + lo by truncation (exact: 8 + 8 + 8 significant bits; non-finite -> hi only). */
template <int AT> static __device__ __forceinline__ void fp4__cuda_gemv_act(const void *p, uint4 *v) {
  if (AT != FP4_F32) {
    v[0] = __ldg((const uint4 *)p);
  } else {
    float4 x0 = __ldg((const float4 *)p), x1 = __ldg((const float4 *)p + 1);
    float f[8] = {x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w};
    uint32_t h[3][4];
#pragma unroll
    for (int i = 0; i < 4; i++) {
      uint32_t o[3][2];
#pragma unroll
      for (int j = 0; j < 2; j++) {
        float x = f[2 * i + j];
        uint32_t b = __float_as_uint(x);
        if ((b & 0x7F800000u) == 0x7F800000u) {
          o[0][j] = (b & 0x007FFFFFu) ? 0x7FC0u : b >> 16;
          o[1][j] = o[2][j] = 0u;
        } else {
          float r = __fsub_rn(x, __uint_as_float(b & 0xFFFF0000u));
          uint32_t rb = __float_as_uint(r);
          float l = __fsub_rn(r, __uint_as_float(rb & 0xFFFF0000u));
          o[0][j] = b >> 16;
          o[1][j] = rb >> 16;
          o[2][j] = __float_as_uint(l) >> 16;
        }
      }
#pragma unroll
      for (int u = 0; u < 3; u++) h[u][i] = o[u][0] | (o[u][1] << 16);
    }
#pragma unroll
    for (int u = 0; u < 3; u++) v[u] = make_uint4(h[u][0], h[u][1], h[u][2], h[u][3]);
  }
}

/* Final value of output (m, n) from the fp32 sum acc (in true units). */
static __device__ __forceinline__ void fp4__cuda_gemv_store(const fp4__cuda_gparams &p, int64_t m, int64_t n,
                                                            float acc) {
  int64_t i = m * p.ldc + n;
  fp4__store(p.C, p.ct, i, fp4_gemm_epilogue(p.alpha_eff, acc, p.beta, p.beta != 0.0f ? fp4__load(p.C, p.ct, i) : 0.0f));
}

/* The fast kernel (see the banner). AT: activation type; NV: NVFP4 (else MXFP4); NT: n-tiles of 8
 * activation rows (1: M <= 8, 2: M <= 16). Grid: (row blocks of FP4__GEMV_ROWS, splits). */
template <int AT, int NV, int NT>
FP4__KERNEL void __launch_bounds__(32 * FP4__GEMV_WARPS, FP4__GEMV_MINB) fp4__cuda_gemv_kernel(fp4__cuda_gparams p) {
  constexpr int BF = AT != FP4_F16;       /* MMA operand type: f16 only for f16 activations */
  constexpr int T = AT == FP4_F32 ? 3 : 1; /* 16-bit terms per activation */
  constexpr int COLS = 8 * NT;
  constexpr int KS = AT == FP4_F32 ? (NT == 1 ? 512 : 256) : 1024; /* K staged per pass */
  constexpr int RS = KS / 8 + 4; /* row stride in 16-byte units: 64 bytes past a multiple of 128 */
  constexpr int U = FP4__GEMV_U;
  __shared__ uint4 sa[T * COLS * RS];
  __shared__ uint32_t lut[NV ? 256 : 1];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
  const int64_t split = blockIdx.y, kb = split * p.kc, ke = kb + p.kc < p.K ? kb + p.kc : p.K;
  const int64_t n0 = (int64_t)blockIdx.x * FP4__GEMV_ROWS + warp * 16;
  const int64_t ra = n0 + g < p.N ? n0 + g : p.N - 1, rb = n0 + g + 8 < p.N ? n0 + g + 8 : p.N - 1;
  const uint8_t *wa = p.B + ra * (p.K / 2), *wb = p.B + rb * (p.K / 2);
  float acc[NT][4];
#pragma unroll
  for (int j = 0; j < NT; j++) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;
  if (NV)
    for (int i = threadIdx.x; i < 256; i += blockDim.x) {
      float s = fp4_e4m3_to_float((uint8_t)i);
      uint32_t h = (i & 0x7F) == 0x7F ? (BF ? 0x7FC0u : 0x7E00u) : BF ? fp4_f32_to_bf16(s) : fp4_f32_to_f16(s);
      lut[i] = h * 0x10001u; /* exact: E4M3 fits bf16 and f16 */
    }
  for (int64_t k0 = kb; k0 < ke; k0 += KS) {
    const int64_t k1 = k0 + KS < ke ? k0 + KS : ke;
    __syncthreads(); /* the previous pass is read */
    for (int i = threadIdx.x; i < COLS * (KS / 8); i += blockDim.x) {
      const int c = i / (KS / 8), u = i % (KS / 8);
      const int64_t k = k0 + 8 * u;
      uint4 v[T];
#pragma unroll
      for (int s = 0; s < T; s++) v[s] = make_uint4(0u, 0u, 0u, 0u);
      if (c < p.M && k < k1)
        fp4__cuda_gemv_act<AT>((const char *)p.A + (size_t)(c * p.lda + k) * (AT == FP4_F32 ? 4 : 2), v);
#pragma unroll
      for (int s = 0; s < T; s++) sa[(s * COLS + c) * RS + (u ^ ((u >> 2) & 3))] = v[s];
    }
    __syncthreads();
    if (n0 >= p.N) continue; /* warp-uniform; the barriers above are still met */
    const int nsteps = (int)((k1 - k0 + 127) / 128);
    /* one batch of U steps: the lane's 16 bytes of rows ra and rb per step, and their scale codes */
    auto fetch = [&](int s0, uint4 (&wv)[U][2], uint32_t (&sv)[U][2]) {
#pragma unroll
      for (int s = 0; s < U; s++) {
        const int64_t kk = k0 + 128 * (s0 + s) + 32 * t;
        wv[s][0] = wv[s][1] = make_uint4(0u, 0u, 0u, 0u);
        sv[s][0] = sv[s][1] = 0u;
        if (s0 + s < nsteps && kk < k1) {
          wv[s][0] = fp4__cuda_ld_stream16(wa + kk / 2);
          wv[s][1] = fp4__cuda_ld_stream16(wb + kk / 2);
          /* the lane's scale codes: one MXFP4 block, or NVFP4 blocks c and c + 1 (c even: adjacent in
           * both layouts, one 16-bit load) */
          const int64_t c = kk / (NV ? 16 : 32);
          const size_t oa = p.layout == FP4_LAYOUT_SWIZZLED ? fp4_swizzle_offset(ra, c, p.sc) : (size_t)(ra * p.sc + c);
          const size_t ob = p.layout == FP4_LAYOUT_SWIZZLED ? fp4_swizzle_offset(rb, c, p.sc) : (size_t)(rb * p.sc + c);
          sv[s][0] = NV ? __ldg((const unsigned short *)(p.S + oa)) : __ldg(p.S + oa);
          sv[s][1] = NV ? __ldg((const unsigned short *)(p.S + ob)) : __ldg(p.S + ob);
        }
      }
    };
    uint4 wv[U][2];
    uint32_t sv[U][2];
    fetch(0, wv, sv);
    for (int s0 = 0; s0 < nsteps; s0 += U) {
#pragma unroll
      for (int s = 0; s < U; s++) {
        if (s0 + s >= nsteps) break; /* warp-uniform */
        const int ub = 16 * (s0 + s) + 4 * t; /* the lane's first 16-byte unit in the pass */
        float d[NT][4];
        float *dst[NT];
        uint32_t fa[2], fb[2];
        float pa = 1.0f, pb = 1.0f;
        if (NV) {
          fa[0] = lut[sv[s][0] & 0xFFu];
          fa[1] = lut[sv[s][0] >> 8];
          fb[0] = lut[sv[s][1] & 0xFFu];
          fb[1] = lut[sv[s][1] >> 8];
#pragma unroll
          for (int j = 0; j < NT; j++) dst[j] = acc[j];
        } else {
          uint32_t e = sv[s][0] | (sv[s][1] << 16); /* lanes past K hold 0: never the maximum's cause */
          e = __vmaxu2(e, __shfl_xor_sync(0xFFFFFFFFu, e, 1));
          e = __vmaxu2(e, __shfl_xor_sync(0xFFFFFFFFu, e, 2));
          fa[0] = fa[1] = fp4__cuda_gemv_pow2<BF>(sv[s][0], e & 0xFFFFu);
          fb[0] = fb[1] = fp4__cuda_gemv_pow2<BF>(sv[s][1], e >> 16);
          pa = fp4__cuda_gemv_e8m0(e & 0xFFFFu);
          pb = fp4__cuda_gemv_e8m0(e >> 16);
#pragma unroll
          for (int j = 0; j < NT; j++) {
            d[j][0] = d[j][1] = d[j][2] = d[j][3] = 0.0f;
            dst[j] = d[j];
          }
        }
#pragma unroll
        for (int w = 0; w < 4; w++) { /* word w: codes 8w .. 8w + 7 of the lane's 32 */
          const uint32_t xa = w == 0 ? wv[s][0].x : w == 1 ? wv[s][0].y : w == 2 ? wv[s][0].z : wv[s][0].w;
          const uint32_t xb = w == 0 ? wv[s][1].x : w == 1 ? wv[s][1].y : w == 2 ? wv[s][1].z : wv[s][1].w;
          uint32_t qa[4], qb[4];
          fp4__cuda_gemm_e2m1x4_h16<BF>(xa, qa[0], qa[1]);
          fp4__cuda_gemm_e2m1x4_h16<BF>(xa >> 16, qa[2], qa[3]);
          fp4__cuda_gemm_e2m1x4_h16<BF>(xb, qb[0], qb[1]);
          fp4__cuda_gemm_e2m1x4_h16<BF>(xb >> 16, qb[2], qb[3]);
#pragma unroll
          for (int i = 0; i < 4; i++) {
            qa[i] = fp4__cuda_gemm_hmul2<BF>(qa[i], fa[w >> 1]);
            qb[i] = fp4__cuda_gemm_hmul2<BF>(qb[i], fb[w >> 1]);
          }
          /* MMA h: k = 2t, 2t+1 <-> codes 8w + 4h + 0, 1; k = 2t+8, 2t+9 <-> codes 8w + 4h + 2, 3 */
          const uint32_t a0[4] = {qa[0], qb[0], qa[1], qb[1]}, a1[4] = {qa[2], qb[2], qa[3], qb[3]};
          const int us = ub + (w ^ t);
#pragma unroll
          for (int j = 0; j < NT; j++)
#pragma unroll
            for (int r = 0; r < T; r++) {
              const uint4 bv = sa[(r * COLS + 8 * j + g) * RS + us];
              const uint32_t b0[2] = {bv.x, bv.y}, b1[2] = {bv.z, bv.w};
              fp4__cuda_gemm_mma_h16<BF>(dst[j], a0, b0);
              fp4__cuda_gemm_mma_h16<BF>(dst[j], a1, b1);
            }
        }
        if (!NV) {
#pragma unroll
          for (int j = 0; j < NT; j++) {
            acc[j][0] = fmaf(d[j][0], pa, acc[j][0]);
            acc[j][1] = fmaf(d[j][1], pa, acc[j][1]);
            acc[j][2] = fmaf(d[j][2], pb, acc[j][2]);
            acc[j][3] = fmaf(d[j][3], pb, acc[j][3]);
          }
        }
      }
      if (s0 + U < nsteps) fetch(s0 + U, wv, sv);
    }
  }
  if (n0 >= p.N) return;
#pragma unroll
  for (int j = 0; j < NT; j++)
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const int64_t n = n0 + g + (i >= 2 ? 8 : 0), m = 8 * j + 2 * t + (i & 1);
      if (m < p.M && n < p.N) {
        if (p.part) p.part[(split * p.M + m) * p.N + n] = acc[j][i];
        else fp4__cuda_gemv_store(p, m, n, acc[j][i]);
      }
    }
}

/* M = 1 with NVFP4 weights and 16-bit activations: the CUDA-core kernel (it measured faster there than
 * the tensor-core one, bench/RESULTS.md). A warp owns FP4__GEMV1_R weight rows and a K range (split-K as
 * above); each lane streams 16 bytes (32 codes, two blocks) per row per step with L1-bypassing loads,
 * two steps in flight. Codes decode with integer ops: nibble -> bf16 bits of value * 2^-126 (exact, the
 * zero and 0.5 codes land on bf16 subnormals) -> f32 by a shift, then one multiply by the block's factor
 * e4m3(s) * 2^100, which restores all of 2^126 but 2^26; that is restored per output. Activations are
 * read through L1. */
/* Eight codes of the word q, in the order (3,7), (2,6), (1,5), (0,4), as f32 = value * 2^-126. */
static __device__ __forceinline__ void fp4__cuda_decode8(uint32_t q, float *w) {
  /* nibble at bits 12..15 / 28..31 -> bf16 sign at 15, (e1 e0 m) at 6..8: value * 2^-126 */
#pragma unroll
  for (int j = 0; j < 4; j++) {
    uint32_t u = q << (4 * (3 - j)); /* nibbles j and j + 4 at 12..15 and 28..31 */
    uint32_t b = (u & 0x80008000u) | ((u >> 6) & 0x01C001C0u);
    w[2 * j] = __uint_as_float(b << 16);         /* element j */
    w[2 * j + 1] = __uint_as_float(b & 0xFFFF0000u); /* element j + 4 */
  }
}

/* Eight bf16 / f16 activations at A + off as f32, in the element order j, j + 4 for j = 0..3. */
template <int AT> static __device__ __forceinline__ void fp4__cuda_act8(const void *A, int64_t off, float *a) {
  uint4 u = __ldg((const uint4 *)((const uint16_t *)A + off));
  uint32_t h[4] = {u.x, u.y, u.z, u.w};
  float f[8];
#pragma unroll
  for (int j = 0; j < 4; j++) {
    if (AT == FP4_BF16) {
      f[2 * j] = __uint_as_float(h[j] << 16);
      f[2 * j + 1] = __uint_as_float(h[j] & 0xFFFF0000u);
    } else {
      float2 t = __half22float2(*(const __half2 *)&h[j]);
      f[2 * j] = t.x;
      f[2 * j + 1] = t.y;
    }
  }
#pragma unroll
  for (int j = 0; j < 4; j++) {
    a[2 * j] = f[j];
    a[2 * j + 1] = f[j + 4];
  }
}

static __device__ __forceinline__ float fp4__cuda_warp_sum(float v) {
#pragma unroll
  for (int d = 16; d >= 1; d >>= 1) v += __shfl_xor_sync(0xFFFFFFFFu, v, d);
  return v;
}

/* AT: FP4_BF16 or FP4_F16. The caller guarantees M = 1 and NVFP4 weights. */
template <int AT>
FP4__KERNEL void __launch_bounds__(32 * FP4__GEMV_WARPS) fp4__cuda_gemv1_kernel(fp4__cuda_gparams p) {
  constexpr int R = FP4__GEMV1_R;
  const int lane = threadIdx.x & 31;
  const int64_t warp = (int64_t)blockIdx.x * FP4__GEMV_WARPS + (threadIdx.x >> 5);
  const int64_t ngroups = (p.N + R - 1) / R;
  const int64_t grp = warp / p.nsplit, split = warp % p.nsplit, n0 = grp * R;
  const int64_t kc = p.K / 32, c_begin = split * p.cps, c_end = c_begin + p.cps < kc ? c_begin + p.cps : kc;
  const int64_t rowb = p.K / 2;
  __shared__ float lut[256]; /* e4m3(s) * 2^100, exact */
  for (int i = threadIdx.x; i < 256; i += blockDim.x) lut[i] = __fmul_rn(fp4_e4m3_to_float((uint8_t)i), 1.2676506002282294e30f);
  __syncthreads();
  if (warp >= ngroups * p.nsplit) return; /* whole warps leave together, after the barrier */
  const uint8_t *brow[R];
  int64_t nrow[R];
  float acc[R];
#pragma unroll
  for (int r = 0; r < R; r++) {
    nrow[r] = n0 + r < p.N ? n0 + r : p.N - 1;
    brow[r] = p.B + nrow[r] * rowb;
    acc[r] = 0.0f;
  }
  for (int64_t c = c_begin + lane; c < c_end; c += 64) {
    uint4 wv[2][R];
    uint16_t sv[2][R];
    int have1 = c + 32 < c_end;
#pragma unroll
    for (int u = 0; u < 2; u++) {
      int64_t cc = c + 32 * u;
      if (u == 0 || have1) {
#pragma unroll
        for (int r = 0; r < R; r++) {
          wv[u][r] = fp4__cuda_ld_stream16(brow[r] + cc * 16);
          size_t o = p.layout == FP4_LAYOUT_SWIZZLED ? fp4_swizzle_offset(nrow[r], 2 * cc, p.sc)
                                                     : (size_t)(nrow[r] * p.sc + 2 * cc);
          sv[u][r] = __ldg((const unsigned short *)(p.S + o));
        }
      }
    }
#pragma unroll
    for (int u = 0; u < 2; u++) {
      if (u == 1 && !have1) break;
      int64_t k0 = (c + 32 * u) * 32;
      float f[R][2];
#pragma unroll
      for (int r = 0; r < R; r++) {
        f[r][0] = lut[sv[u][r] & 0xFFu];
        f[r][1] = lut[sv[u][r] >> 8];
      }
#pragma unroll 4
      for (int j = 0; j < 4; j++) { /* word j: elements k0 + 8j .. k0 + 8j + 7 */
        float w[R][8], a[8];
#pragma unroll
        for (int r = 0; r < R; r++) {
          uint32_t q = j == 0 ? wv[u][r].x : j == 1 ? wv[u][r].y : j == 2 ? wv[u][r].z : wv[u][r].w;
          const float g = j < 2 ? f[r][0] : f[r][1];
          fp4__cuda_decode8(q, w[r]);
#pragma unroll
          for (int e = 0; e < 8; e++) w[r][e] = w[r][e] * g;
        }
        fp4__cuda_act8<AT>(p.A, k0 + 8 * j, a);
#pragma unroll
        for (int r = 0; r < R; r++)
#pragma unroll
          for (int e = 0; e < 8; e++) acc[r] = fmaf(a[e], w[r][e], acc[r]);
      }
    }
  }
#pragma unroll
  for (int r = 0; r < R; r++) {
    const float v = __fmul_rn(fp4__cuda_warp_sum(acc[r]), 67108864.0f); /* 2^26 */
    if (lane == r && n0 + r < p.N) {
      if (p.part) p.part[split * p.N + n0 + r] = v;
      else fp4__cuda_gemv_store(p, 0, n0 + r, v);
    }
  }
}

/* Generic path (any K multiple of the block, any alignment): one warp per output row n, lanes over K
 * elements, then a fixed-order warp sum. */
template <int AT>
FP4__KERNEL void __launch_bounds__(256) fp4__cuda_gemv_generic_kernel(fp4__cuda_gparams p, fp4_format fmt) {
  const int lane = threadIdx.x & 31;
  const int64_t n = (int64_t)blockIdx.x * 8 + (threadIdx.x >> 5);
  if (n >= p.N) return;
  int blk = fp4_format_block(fmt);
  for (int64_t m = 0; m < p.M; m++) {
    float acc = 0.0f;
    for (int64_t k = lane; k < p.K; k += 32) {
      uint8_t code = (uint8_t)((p.B[n * (p.K / 2) + k / 2] >> (4 * (k & 1))) & 0xFu);
      uint8_t s = p.S[fp4__scale_offset(p.layout, n, k / blk, p.sc)];
      float w = fp4_dequant_value(fmt, FP4_RULE_DEFAULT, code, s, 1.0f);
      acc = fmaf(fp4__cuda_load<AT>(p.A, m * p.lda + k), w, acc);
    }
    acc = fp4__cuda_warp_sum(acc);
    if (lane == 0) fp4__cuda_gemv_store(p, m, n, acc);
  }
}

/* Split-K reduction in split order (deterministic), then the epilogue. */
FP4__CUDA_LAZY
FP4__KERNEL void __launch_bounds__(256) fp4__cuda_gemv_reduce_kernel(fp4__cuda_gparams p) {
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= p.M * p.N) return;
  float acc = 0.0f;
  for (int64_t s = 0; s < p.nsplit; s++) acc += p.part[s * p.M * p.N + i];
  fp4__cuda_gemv_store(p, i / p.N, i % p.N, acc);
}

template <int AT>
static inline void fp4__cuda_gemv_go(const fp4__cuda_gparams &p, int nv, cudaStream_t stream) {
  dim3 grid((unsigned)((p.N + FP4__GEMV_ROWS - 1) / FP4__GEMV_ROWS), (unsigned)p.nsplit);
  if (p.M <= 8) {
    if (nv) fp4__cuda_gemv_kernel<AT, 1, 1><<<grid, 32 * FP4__GEMV_WARPS, 0, stream>>>(p);
    else fp4__cuda_gemv_kernel<AT, 0, 1><<<grid, 32 * FP4__GEMV_WARPS, 0, stream>>>(p);
  } else {
    if (nv) fp4__cuda_gemv_kernel<AT, 1, 2><<<grid, 32 * FP4__GEMV_WARPS, 0, stream>>>(p);
    else fp4__cuda_gemv_kernel<AT, 0, 2><<<grid, 32 * FP4__GEMV_WARPS, 0, stream>>>(p);
  }
}

FP4__CUDA_LAZY_DEF
FP4_CUDA_API fp4_status fp4__cuda_gemv_w4a16(const void *A, fp4_dtype at, int64_t M, int64_t lda, const fp4_tensor *B,
                                             float alpha, float beta, void *C, fp4_dtype ct, int64_t ldc, void *ws,
                                             size_t ws_bytes, cudaStream_t stream) {
  fp4__cuda_gparams p;
  fp4_status st;
  int nv, fast, gemv1;
  size_t need;
  if ((st = fp4__check_tensor(B)) != FP4_OK) return st;
  if (!A) return FP4_ERR_NULL;
  if ((st = fp4__check_dims(M, B->cols, lda)) != FP4_OK) return st;
  if ((uintptr_t)A % fp4__dtype_size(at)) return FP4_ERR_ALIGN;
  if ((st = fp4__check_gemm_out(C, ct, M, B->rows, ldc, B)) != FP4_OK) return st;
  if (fp4__overlap(C, fp4__span(M, B->rows, ldc, ct), A, fp4__span(M, B->cols, lda, at))) return FP4_ERR_ALIAS;
  if (M > FP4_CUDA_GEMV_MAX_M) return FP4_ERR_UNSUPPORTED;
  memset(&p, 0, sizeof p);
  nv = B->format == FP4_NVFP4;
  p.A = A;
  p.lda = lda;
  p.M = M;
  p.N = B->rows;
  p.K = B->cols;
  p.sc = B->cols / fp4_format_block(B->format);
  p.B = B->data;
  p.S = B->scales;
  p.layout = B->scale_layout;
  p.ct = ct;
  p.alpha_eff = alpha * B->tensor_scale;
  p.beta = beta;
  p.C = C;
  p.ldc = ldc;
  fast = p.K % 32 == 0 && fp4__cuda_aligned(B->data, 16) && fp4__cuda_aligned(A, 16) &&
         (lda * (int64_t)fp4__dtype_size(at)) % 16 == 0 && (!nv || fp4__cuda_aligned(B->scales, 2));
  if (!fast) {
    unsigned grid = fp4__cuda_grid(p.N, 8);
    p.nsplit = 1;
    if (at == FP4_F32) fp4__cuda_gemv_generic_kernel<FP4_F32><<<grid, 256, 0, stream>>>(p, B->format);
    else if (at == FP4_BF16) fp4__cuda_gemv_generic_kernel<FP4_BF16><<<grid, 256, 0, stream>>>(p, B->format);
    else fp4__cuda_gemv_generic_kernel<FP4_F16><<<grid, 256, 0, stream>>>(p, B->format);
    return fp4__cuda_launched();
  }
  /* M = 1 with NVFP4 weights and 16-bit activations: the CUDA-core kernel (faster there, see above) */
  gemv1 = M == 1 && nv && at != FP4_F32;
  if (gemv1) {
    p.nsplit = fp4__cuda_gemv1_splits(p.N, p.K);
    p.cps = (p.K / 32 + p.nsplit - 1) / p.nsplit;
  } else
    p.nsplit = fp4__cuda_gemv_splits(M, p.N, p.K, &p.kc);
  need = p.nsplit > 1 ? (size_t)(p.nsplit * M * p.N) * sizeof(float) : 0;
  if (need) {
    if (!ws) return FP4_ERR_NULL;
    if (ws_bytes < need) return FP4_ERR_WORKSPACE;
    if ((uintptr_t)ws % 4) return FP4_ERR_ALIGN;
    p.part = (float *)ws;
  }
  if (gemv1) {
    const unsigned grid = fp4__cuda_grid((p.N + FP4__GEMV1_R - 1) / FP4__GEMV1_R * p.nsplit, FP4__GEMV_WARPS);
    if (at == FP4_BF16) fp4__cuda_gemv1_kernel<FP4_BF16><<<grid, 32 * FP4__GEMV_WARPS, 0, stream>>>(p);
    else fp4__cuda_gemv1_kernel<FP4_F16><<<grid, 32 * FP4__GEMV_WARPS, 0, stream>>>(p);
  } else if (at == FP4_F32) fp4__cuda_gemv_go<FP4_F32>(p, nv, stream);
  else if (at == FP4_BF16) fp4__cuda_gemv_go<FP4_BF16>(p, nv, stream);
  else fp4__cuda_gemv_go<FP4_F16>(p, nv, stream);
  if ((st = fp4__cuda_launched()) != FP4_OK) return st;
  if (p.part) {
    fp4__cuda_gemv_reduce_kernel<<<fp4__cuda_grid(M * p.N, 256), 256, 0, stream>>>(p);
    if ((st = fp4__cuda_launched()) != FP4_OK) return st;
  }
  return FP4_OK;
}

/* Stamp out fp4_cuda_gemv_w4a16_<act>_<out> (activation, output). */
#define FP4__CUDA_GEMV(AN, AT, ADT, ON, OT, ODT)                                                              \
  FP4__CUDA_LAZY FP4_CUDA_API fp4_status FP4__CAT3(fp4_cuda_gemv_w4a16_, AN, FP4__CAT3(_, ON, ))(           \
      const AT *A, int64_t M, int64_t lda, const fp4_tensor *B, float alpha, float beta, OT *C, int64_t ldc, \
      void *ws, size_t ws_bytes, cudaStream_t stream) {                                                      \
    return fp4__cuda_gemv_w4a16(A, ADT, M, lda, B, alpha, beta, C, ODT, ldc, ws, ws_bytes, stream);          \
  }
#define FP4__CUDA_GEMV_OUTS(AN, AT, ADT)                 \
  FP4__CUDA_GEMV(AN, AT, ADT, f32, float, FP4_F32)       \
  FP4__CUDA_GEMV(AN, AT, ADT, bf16, uint16_t, FP4_BF16)  \
  FP4__CUDA_GEMV(AN, AT, ADT, f16, uint16_t, FP4_F16)
FP4__CUDA_GEMV_OUTS(f32, float, FP4_F32)
FP4__CUDA_GEMV_OUTS(bf16, uint16_t, FP4_BF16)
FP4__CUDA_GEMV_OUTS(f16, uint16_t, FP4_F16)
#undef FP4__CUDA_GEMV
#undef FP4__CUDA_GEMV_OUTS

#endif /* FP4_CUDA_CUH */

/*
 * MIT License
 *
 * Copyright (c) 2026 the fp4 authors
 *
 * Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
 * associated documentation files (the "Software"), to deal in the Software without restriction,
 * including without limitation the rights to use, copy, modify, merge, publish, distribute,
 * sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
 * furnished to do so, subject to the following conditions:
 *
 * The above copyright notice and this permission notice shall be included in all copies or
 * substantial portions of the Software.
 *
 * THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
 * NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
 * NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
 * DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT
 * OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
 */
