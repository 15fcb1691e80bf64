/* SPDX-License-Identifier: MIT */
/*
 * train_linear.cu - the CUDA twin of train_linear.c: the same FP4 training recipes (the three GEMMs
 * of a linear layer with FP4 operands; NVFP4 round-to-nearest, NVFP4 with stochastic rounding and
 * the 16-point RHT, Four Over Six, MXFP4 QuEST) and the same two-layer MLP, on the GPU with
 * fp4_cuda.cuh.
 *
 * It shares the recipe definitions with train_linear.c (included below: the recipe table and the
 * per-operand quantizer configs, the synthetic task, the data), so the two cannot drift apart.
 * Every operand is quantized on the device by fp4_cuda_quantize_f32 with exactly the config the CPU
 * uses (transpose, 16x16 scales, stochastic rounding, RHT with bf16 rounding, QuEST mask).
 *
 * First it checks the device against the scalar reference for every recipe and GEMM: quantized
 * operands (codes, scales, tensor scale, QuEST mask) byte for byte, GEMM outputs within relative
 * Frobenius error 1e-5. Then it trains every recipe and prints the held-out loss curves side by
 * side. Exit status non-zero on a mismatch or when an FP4 run does not converge.
 *
 *     make examples && ./build/examples/train_linear_cu [--small]
 *
 * GEMM: with the W4A4 tensor-core GEMM of fp4_cuda_gemm.inl (fp4_cuda_gemm_w4a4_f32, exact engine)
 * the FP4 GEMMs run on the two tensors and must equal fp4.h's outputs bit for bit. Built against an
 * fp4_cuda.cuh without it, tlc_gemm multiplies the dequantized operands (fp4_cuda_dequantize_f32)
 * with a small f32 TN kernel - the product spec §5 bounds the W4A4 GEMM against - and the check
 * allows relative Frobenius error 1e-5.
 * Tensor scale: with a computed NVFP4 amax the decode scale is only known on the device;
 * fp4_cuda_quantize_result fetches it (a stream synchronization per quantized operand - fine at this
 * size; a production loop would pass a precomputed amax, cfg.has_amax).
 */
#define TRAIN_LINEAR_NO_MAIN
#include "train_linear.c"
#include "fp4_cuda.cuh"

/* The W4A4 tensor-core GEMM (fp4_cuda_gemm.inl, pulled in by fp4_cuda.cuh when present): its exact
 * engine gives fp4.h's bits. Without it the FP4 operands are multiplied through their dequantized
 * values. */
#if defined(FP4_CUDA_GEMM_TILE_AUTO)
#define TLC_HAVE_W4A4 1
#else
#define TLC_HAVE_W4A4 0
#endif

#define TLC_CUDA(call) tlc_cuda_status((call), __FILE__, __LINE__)
static fp4_status tlc_cuda_status(cudaError_t e, const char *file, int line) {
  if (e == cudaSuccess) return FP4_OK;
  fprintf(stderr, "%s:%d: %s\n", file, line, cudaGetErrorString(e));
  return FP4_ERR_DEVICE;
}
#define TLC_TRY(call)                       \
  do {                                      \
    fp4_status st_ = (call);                \
    if (st_ != FP4_OK) return st_;          \
  } while (0)

/* ==== device kernels ==== */
/* C[M,N] = A[M,K] . B[N,K]^T in f32, 16x16 output tiles through shared memory. */
static __global__ void __launch_bounds__(256)
    tlc_gemm_kernel(const float *__restrict__ A, const float *__restrict__ B, float *__restrict__ C, int M, int N,
                    int K) {
  __shared__ float As[16][17], Bs[16][17];
  int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  int m = blockIdx.y * 16 + ty, n = blockIdx.x * 16 + tx, nb = blockIdx.x * 16 + ty;
  float acc = 0.0f;
  for (int k0 = 0; k0 < K; k0 += 16) {
    As[ty][tx] = m < M && k0 + tx < K ? A[(int64_t)m * K + k0 + tx] : 0.0f;
    Bs[ty][tx] = nb < N && k0 + tx < K ? B[(int64_t)nb * K + k0 + tx] : 0.0f;
    __syncthreads();
#pragma unroll
    for (int k = 0; k < 16; k++) acc += As[ty][k] * Bs[tx][k];
    __syncthreads();
  }
  if (m < M && n < N) C[(int64_t)m * N + n] = acc;
}

/* y[c, r] = x[r, c] for x[rows, cols]. */
static __global__ void __launch_bounds__(256)
    tlc_transpose_kernel(const float *__restrict__ x, float *__restrict__ y, int rows, int cols) {
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= (int64_t)rows * cols) return;
  int64_t c = i / rows, r = i % rows;
  y[i] = x[r * cols + c];
}

/* g[i] = 0 where the QuEST mask bit of element i is clear (spec §3 bit order). */
static __global__ void __launch_bounds__(256) tlc_mask_kernel(float *__restrict__ g, const uint8_t *__restrict__ mask, int64_t n) {
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n && !((mask[i >> 3] >> (i & 7)) & 1u)) g[i] = 0.0f;
}

/* Z[t, j] += b[j]; A = relu(Z). */
static __global__ void __launch_bounds__(256)
    tlc_bias_relu_kernel(float *__restrict__ Z, float *__restrict__ A, const float *__restrict__ b, int T, int n) {
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= (int64_t)T * n) return;
  float z = __fadd_rn(Z[i], b[i % n]);
  Z[i] = z;
  A[i] = z > 0.0f ? z : 0.0f;
}

/* P[t, j] += b[j]; with Y: dP = c * (P - Y). */
static __global__ void __launch_bounds__(256)
    tlc_output_kernel(float *__restrict__ P, const float *__restrict__ b, const float *__restrict__ Y,
                      float *__restrict__ dP, float c, int T, int n) {
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= (int64_t)T * n) return;
  float p = __fadd_rn(P[i], b[i % n]);
  P[i] = p;
  if (Y) dP[i] = __fmul_rn(c, __fsub_rn(p, Y[i]));
}

/* dA = Z > 0 ? dA : 0 (ReLU backward). */
static __global__ void __launch_bounds__(256)
    tlc_relu_back_kernel(float *__restrict__ dA, const float *__restrict__ Z, int64_t n) {
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n && !(Z[i] > 0.0f)) dA[i] = 0.0f;
}

/* db[j] = sum over t of d[t, j], in t order (the CPU's order). */
static __global__ void __launch_bounds__(256)
    tlc_colsum_kernel(const float *__restrict__ d, float *__restrict__ db, int T, int n) {
  int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= n) return;
  float s = 0.0f;
  for (int t = 0; t < T; t++) s = __fadd_rn(s, d[(int64_t)t * n + j]);
  db[j] = s;
}

/* Adam, as tl_adam. */
static __global__ void __launch_bounds__(256)
    tlc_adam_kernel(float *__restrict__ p, const float *__restrict__ g, float *__restrict__ m, float *__restrict__ v,
                    int64_t n, float lr, double b1c, double b2c) {
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float gi = g[i];
  m[i] = 0.9f * m[i] + 0.1f * gi;
  v[i] = 0.999f * v[i] + 0.001f * gi * gi;
  p[i] -= lr * (float)((m[i] / b1c) / (sqrt(v[i] / b2c) + 1e-8));
}

static unsigned tlc_grid(int64_t n) { return (unsigned)((n + 255) / 256); }

/* ==== recipe on the device ==== */
/* A GEMM operand on the device: an FP4 tensor (and its dequantized values for the f32 GEMM), or f32. */
struct tlc_operand {
  int64_t rows, K;
  int fp4;
  fp4_tensor t; /* device codes, scales, mask */
  float *f;     /* device f32 values: the operand, or the FP4 tensor dequantized */
  uint8_t *mask;
  void *ws;     /* quantize workspace (FP4_CUDA_QUANTIZE_WS bytes) */
  size_t cap;
};

static fp4_status tlc_operand_alloc(tlc_operand *op, size_t n) {
  uint8_t *d = NULL, *s = NULL;
  memset(op, 0, sizeof *op);
  op->cap = n;
  TLC_TRY(TLC_CUDA(cudaMalloc(&op->f, n * sizeof(float))));
  TLC_TRY(TLC_CUDA(cudaMalloc(&op->mask, n / 8 + 16)));
  TLC_TRY(TLC_CUDA(cudaMalloc(&op->ws, FP4_CUDA_QUANTIZE_WS)));
  TLC_TRY(TLC_CUDA(cudaMalloc(&d, n / 2 + 16)));
  TLC_TRY(TLC_CUDA(cudaMalloc(&s, n / 16 + 16)));
  fp4_tensor_init(&op->t, d, s, FP4_LAYOUT_LINEAR);
  return FP4_OK;
}

static void tlc_operand_free(tlc_operand *op) {
  cudaFree(op->f);
  cudaFree(op->mask);
  cudaFree(op->ws);
  cudaFree(op->t.data);
  cudaFree(op->t.scales);
  memset(op, 0, sizeof *op);
}

/* tl_prepare on the device: x (device, row-major rows x cols) or x^T, rotated, quantized when q->fp4. */
static fp4_status tlc_prepare(const tl_quant *q, const float *x, int64_t rows, int64_t cols, tlc_operand *op,
                              cudaStream_t s) {
  int tr = q->cfg.transpose != 0;
  int64_t R = tr ? cols : rows, C = tr ? rows : cols;
  if ((size_t)(R * C) > op->cap) return FP4_ERR_WORKSPACE;
  op->rows = R;
  op->K = C;
  op->fp4 = q->fp4;
  if (q->fp4) {
    op->t.mask = q->cfg.rule == FP4_MX_QUEST ? op->mask : NULL;
    TLC_TRY(fp4_cuda_quantize_f32(x, rows, cols, cols, &q->cfg, &op->t, op->ws, FP4_CUDA_QUANTIZE_WS, s));
    TLC_TRY(fp4_cuda_quantize_result(&op->t, op->ws, s)); /* tensor scale; non-finite input */
    /* the values: for the f32 GEMM, or for QuEST's straight-through backward */
    if (!TLC_HAVE_W4A4 || q->cfg.rule == FP4_MX_QUEST) return fp4_cuda_dequantize_f32(&op->t, op->f, C, s);
    return FP4_OK;
  }
  if (tr) tlc_transpose_kernel<<<tlc_grid(R * C), 256, 0, s>>>(x, op->f, (int)rows, (int)cols);
  else TLC_TRY(TLC_CUDA(cudaMemcpyAsync(op->f, x, (size_t)(R * C) * sizeof(float), cudaMemcpyDeviceToDevice, s)));
  TLC_TRY(TLC_CUDA(cudaGetLastError()));
  if (q->cfg.hadamard) {
    uint32_t bits[8];
    return fp4_cuda_hadamard_f32(op->f, R, C, C, op->f, C, q->cfg.hadamard, tl_signs(&q->cfg, bits), 0, s);
  }
  return FP4_OK;
}

/* C[A.rows, B.rows] = A . B^T: the W4A4 GEMM for two FP4 operands when built with it, else f32. */
static fp4_status tlc_gemm(const tlc_operand *A, const tlc_operand *B, float *C, cudaStream_t s) {
  dim3 grid((unsigned)((B->rows + 15) / 16), (unsigned)((A->rows + 15) / 16));
  if (A->K != B->K || A->fp4 != B->fp4) return FP4_ERR_UNSUPPORTED;
#if TLC_HAVE_W4A4
  if (A->fp4) return fp4_cuda_gemm_w4a4_f32(&A->t, &B->t, 1.0f, 0.0f, C, B->rows, NULL, 0, s);
#endif
  tlc_gemm_kernel<<<grid, 256, 0, s>>>(A->f, B->f, C, (int)A->rows, (int)B->rows, (int)A->K);
  return TLC_CUDA(cudaGetLastError());
}

struct tlc_layer {
  int64_t in, out;
  tlc_operand xq, wq, a, b;
  float *g; /* scratch */
};

static fp4_status tlc_layer_alloc(tlc_layer *L, int64_t tmax, int64_t in, int64_t out) {
  size_t n = (size_t)((tmax > in ? tmax : in) * (out > in ? out : in));
  size_t m = (size_t)((tmax > out ? tmax : out) * in);
  n = n > m ? n : m;
  L->in = in;
  L->out = out;
  TLC_TRY(tlc_operand_alloc(&L->xq, n));
  TLC_TRY(tlc_operand_alloc(&L->wq, n));
  TLC_TRY(tlc_operand_alloc(&L->a, n));
  TLC_TRY(tlc_operand_alloc(&L->b, n));
  return TLC_CUDA(cudaMalloc(&L->g, n * sizeof(float)));
}

static void tlc_layer_free(tlc_layer *L) {
  tlc_operand_free(&L->xq);
  tlc_operand_free(&L->wq);
  tlc_operand_free(&L->a);
  tlc_operand_free(&L->b);
  cudaFree(L->g);
}

/* tl_forward, tl_dgrad, tl_wgrad on the device (same quantizer configs, tl_quant_for). */
static fp4_status tlc_forward(tlc_layer *L, const tl_recipe *rc, const float *X, const float *W, float *Y, int64_t T,
                              cudaStream_t s) {
  tl_quant qx = tl_quant_for(rc, TL_FWD_X, 0), qw = tl_quant_for(rc, TL_FWD_W, 0);
  TLC_TRY(tlc_prepare(&qx, X, T, L->in, &L->xq, s));
  TLC_TRY(tlc_prepare(&qw, W, L->out, L->in, &L->wq, s));
  return tlc_gemm(&L->xq, &L->wq, Y, s);
}

static fp4_status tlc_dgrad(tlc_layer *L, const tl_recipe *rc, const float *dY, const float *W, float *dX, int64_t T,
                            uint64_t seed, cudaStream_t s) {
  tl_quant qa = tl_quant_for(rc, TL_DGRAD_DY, seed), qb = tl_quant_for(rc, TL_DGRAD_W, 0);
  TLC_TRY(tlc_prepare(&qa, dY, T, L->out, &L->a, s));
  TLC_TRY(tlc_prepare(&qb, W, L->out, L->in, &L->b, s));
  return tlc_gemm(&L->a, &L->b, dX, s);
}

static fp4_status tlc_wgrad(tlc_layer *L, const tl_recipe *rc, const float *dY, const float *X, float *dW, int64_t T,
                            uint64_t seed, cudaStream_t s) {
  tl_quant qa = tl_quant_for(rc, TL_WGRAD_DY, seed), qb = tl_quant_for(rc, TL_WGRAD_X, 0);
  TLC_TRY(tlc_prepare(&qa, dY, T, L->out, &L->a, s));
  TLC_TRY(tlc_prepare(&qb, X, T, L->in, &L->b, s));
  return tlc_gemm(&L->a, &L->b, dW, s);
}

/* tl_backward_quest on the device: the forward's dequantized operands are in xq.f and wq.f. */
static fp4_status tlc_backward_quest(tlc_layer *L, const tl_recipe *rc, const float *dY, float *dX, float *dW,
                                     int64_t T, cudaStream_t s) {
  tl_quant f32 = tl_quant_for(rc, TL_DGRAD_DY, 0), f32t = f32;
  int64_t in = L->in, out = L->out;
  f32t.cfg.transpose = 1;
  if (dX) {
    TLC_TRY(tlc_prepare(&f32, dY, T, out, &L->a, s));
    TLC_TRY(tlc_prepare(&f32t, L->wq.f, out, in, &L->b, s));
    TLC_TRY(tlc_gemm(&L->a, &L->b, L->g, s));
    tlc_mask_kernel<<<tlc_grid(T * in), 256, 0, s>>>(L->g, L->xq.mask, T * in);
    TLC_TRY(TLC_CUDA(cudaGetLastError()));
    TLC_TRY(fp4_cuda_hadamard_f32(L->g, T, in, in, dX, in, rc->quest_group, NULL, 1, s));
  }
  TLC_TRY(tlc_prepare(&f32t, dY, T, out, &L->a, s));
  TLC_TRY(tlc_prepare(&f32t, L->xq.f, T, in, &L->b, s));
  TLC_TRY(tlc_gemm(&L->a, &L->b, L->g, s));
  tlc_mask_kernel<<<tlc_grid(out * in), 256, 0, s>>>(L->g, L->wq.mask, out * in);
  TLC_TRY(TLC_CUDA(cudaGetLastError()));
  return fp4_cuda_hadamard_f32(L->g, out, in, in, dW, in, rc->quest_group, NULL, 1, s);
}

static fp4_status tlc_backward(tlc_layer *L, const tl_recipe *rc, const float *X, const float *W, const float *dY,
                               float *dX, float *dW, int64_t T, uint64_t seed, cudaStream_t s) {
  if (rc->quest) return tlc_backward_quest(L, rc, dY, dX, dW, T, s);
  if (dX) TLC_TRY(tlc_dgrad(L, rc, dY, W, dX, T, tl_mix(seed), s));
  return tlc_wgrad(L, rc, dY, X, dW, T, tl_mix(seed ^ 0x5741u), s);
}

/* ==== check against the scalar reference ==== */
static int tlc_bad;

/* Device operand d against host operand h: FP4 bytes (codes, scales, mask) and tensor scale. */
static void tlc_compare_operand(const tl_operand *h, const tlc_operand *d, const char *what, const char *recipe) {
  size_t nd = fp4_data_bytes(h->rows, h->K), ns, nm = fp4_mask_bytes(h->rows, h->K);
  uint8_t *buf;
  int same = h->rows == d->rows && h->K == d->K && h->fp4 == d->fp4;
  if (!same || !h->fp4) {
    if (!same) {
      fprintf(stderr, "%s, %s: operand shape differs\n", recipe, what);
      tlc_bad = 1;
    }
    return;
  }
  ns = fp4_scale_bytes(h->t.format, h->rows, h->K, FP4_LAYOUT_LINEAR);
  buf = (uint8_t *)malloc(nd + ns + nm);
  if (!buf || TLC_CUDA(cudaMemcpy(buf, d->t.data, nd, cudaMemcpyDeviceToHost)) != FP4_OK ||
      TLC_CUDA(cudaMemcpy(buf + nd, d->t.scales, ns, cudaMemcpyDeviceToHost)) != FP4_OK ||
      (h->t.mask && TLC_CUDA(cudaMemcpy(buf + nd + ns, d->t.mask, nm, cudaMemcpyDeviceToHost)) != FP4_OK)) {
    tlc_bad = 1;
    free(buf);
    return;
  }
  same = !memcmp(buf, h->t.data, nd) && !memcmp(buf + nd, h->t.scales, ns) &&
         (!h->t.mask || !memcmp(buf + nd + ns, h->t.mask, nm)) && !memcmp(&h->t.tensor_scale, &d->t.tensor_scale, 4);
  if (!same) {
    fprintf(stderr, "%s, %s: device bytes differ from fp4.h\n", recipe, what);
    tlc_bad = 1;
  }
  free(buf);
}

/* Device result d_y (n floats) against the host's y: bit for bit when exact, else relative Frobenius
 * error <= 1e-5. */
static void tlc_compare_values(const float *y, const float *d_y, int64_t n, const char *what, const char *recipe,
                               int exact) {
  float *b = (float *)malloc((size_t)n * sizeof(float));
  double e = 0.0, r = 0.0;
  int64_t i;
  if (!b || TLC_CUDA(cudaMemcpy(b, d_y, (size_t)n * sizeof(float), cudaMemcpyDeviceToHost)) != FP4_OK) {
    tlc_bad = 1;
    free(b);
    return;
  }
  for (i = 0; i < n; i++) {
    e += ((double)b[i] - y[i]) * ((double)b[i] - y[i]);
    r += (double)y[i] * y[i];
  }
  e = sqrt(e / (r > 0.0 ? r : 1.0));
  if (exact && memcmp(b, y, (size_t)n * sizeof(float))) {
    fprintf(stderr, "%s, %s: W4A4 output differs from fp4.h's bits (relative error %.3g)\n", recipe, what, e);
    tlc_bad = 1;
  } else if (!(e <= 1e-5)) {
    fprintf(stderr, "%s, %s: relative error %.3g against fp4.h\n", recipe, what, e);
    tlc_bad = 1;
  }
  free(b);
}

/* Every GEMM of a recipe on random data (one layer, T = 64, in = 64, out = 32), host vs device. */
static fp4_status tlc_check_recipe(const tl_recipe *rc, cudaStream_t s) {
  enum { T = 64, IN = 64, OUT = 32 };
  static float X[T * IN], W[OUT * IN], dY[T * OUT], Y[T * IN], dX[T * IN], dW[OUT * IN];
  float *d_X, *d_W, *d_dY, *d_Y, *d_dX, *d_dW;
  tl_layer L;
  tlc_layer D;
  tl_rng r;
  int i;
  uint64_t seed = tl_mix((uint64_t)(rc - tl_recipes) + 77u);
  r.s = seed;
  for (i = 0; i < T * IN; i++) X[i] = tl_normal(&r) * (float)exp(tl_normal(&r));
  for (i = 0; i < OUT * IN; i++) W[i] = tl_normal(&r);
  for (i = 0; i < T * OUT; i++) dY[i] = tl_normal(&r) * 1e-3f;
  if (!tl_layer_alloc(&L, T, IN, OUT)) return FP4_ERR_WORKSPACE;
  TLC_TRY(tlc_layer_alloc(&D, T, IN, OUT));
  TLC_TRY(TLC_CUDA(cudaMalloc(&d_X, sizeof X)));
  TLC_TRY(TLC_CUDA(cudaMalloc(&d_W, sizeof W)));
  TLC_TRY(TLC_CUDA(cudaMalloc(&d_dY, sizeof dY)));
  TLC_TRY(TLC_CUDA(cudaMalloc(&d_Y, sizeof Y)));
  TLC_TRY(TLC_CUDA(cudaMalloc(&d_dX, sizeof dX)));
  TLC_TRY(TLC_CUDA(cudaMalloc(&d_dW, sizeof dW)));
  TLC_TRY(TLC_CUDA(cudaMemcpy(d_X, X, sizeof X, cudaMemcpyHostToDevice)));
  TLC_TRY(TLC_CUDA(cudaMemcpy(d_W, W, sizeof W, cudaMemcpyHostToDevice)));
  TLC_TRY(TLC_CUDA(cudaMemcpy(d_dY, dY, sizeof dY, cudaMemcpyHostToDevice)));
  /* forward */
  TLC_TRY(tl_forward(&L, rc, X, W, Y, T));
  TLC_TRY(tlc_forward(&D, rc, d_X, d_W, d_Y, T, s));
  TLC_TRY(TLC_CUDA(cudaStreamSynchronize(s)));
  tlc_compare_operand(&L.xq, &D.xq, "forward X", rc->name);
  tlc_compare_operand(&L.wq, &D.wq, "forward W", rc->name);
  tlc_compare_values(Y, d_Y, T * OUT, "forward Y", rc->name, TLC_HAVE_W4A4);
  if (rc->quest) { /* straight-through backward */
    TLC_TRY(tl_backward(&L, rc, X, W, dY, dX, dW, T, seed));
    TLC_TRY(tlc_backward(&D, rc, d_X, d_W, d_dY, d_dX, d_dW, T, seed, s));
    TLC_TRY(TLC_CUDA(cudaStreamSynchronize(s)));
    tlc_compare_values(dX, d_dX, T * IN, "QuEST dX", rc->name, 0);
    tlc_compare_values(dW, d_dW, OUT * IN, "QuEST dW", rc->name, 0);
  } else {
    TLC_TRY(tl_dgrad(&L, rc, dY, W, dX, T, seed));
    TLC_TRY(tlc_dgrad(&D, rc, d_dY, d_W, d_dX, T, seed, s));
    TLC_TRY(TLC_CUDA(cudaStreamSynchronize(s)));
    tlc_compare_operand(&L.a, &D.a, "dgrad dY", rc->name);
    tlc_compare_operand(&L.b, &D.b, "dgrad W^T", rc->name);
    tlc_compare_values(dX, d_dX, T * IN, "dgrad dX", rc->name, TLC_HAVE_W4A4);
    TLC_TRY(tl_wgrad(&L, rc, dY, X, dW, T, seed));
    TLC_TRY(tlc_wgrad(&D, rc, d_dY, d_X, d_dW, T, seed, s));
    TLC_TRY(TLC_CUDA(cudaStreamSynchronize(s)));
    tlc_compare_operand(&L.a, &D.a, "wgrad dY^T", rc->name);
    tlc_compare_operand(&L.b, &D.b, "wgrad X^T", rc->name);
    tlc_compare_values(dW, d_dW, OUT * IN, "wgrad dW", rc->name, TLC_HAVE_W4A4);
  }
  tl_layer_free(&L);
  tlc_layer_free(&D);
  cudaFree(d_X);
  cudaFree(d_W);
  cudaFree(d_dY);
  cudaFree(d_Y);
  cudaFree(d_dX);
  cudaFree(d_dW);
  return FP4_OK;
}

/* ==== model on the device ==== */
struct tlc_mlp {
  int64_t din, dh, dout;
  size_t np;
  float *p, *grad, *m, *v; /* device, packed as in tl_mlp */
  float *W1, *b1, *W2, *b2, *dW1, *db1, *dW2, *db2;
  float *X, *Y, *Z1, *A1, *P, *dP, *dA1;
  tlc_layer l1, l2;
};

static fp4_status tlc_mlp_alloc(tlc_mlp *n, const tl_task *k, int64_t tmax) {
  tl_mlp h; /* the host model gives the identical initialization */
  size_t a = (size_t)(tmax * (k->din + k->dout + 3 * k->dh + 2 * k->dout));
  memset(n, 0, sizeof *n);
  if (!tl_mlp_alloc(&h, k, tmax)) return FP4_ERR_WORKSPACE;
  n->din = k->din;
  n->dh = k->dh;
  n->dout = k->dout;
  n->np = h.np;
  TLC_TRY(TLC_CUDA(cudaMalloc(&n->p, 4 * n->np * sizeof(float))));
  TLC_TRY(TLC_CUDA(cudaMemset(n->p, 0, 4 * n->np * sizeof(float))));
  TLC_TRY(TLC_CUDA(cudaMemcpy(n->p, h.p, n->np * sizeof(float), cudaMemcpyHostToDevice)));
  tl_mlp_free(&h);
  n->grad = n->p + n->np;
  n->m = n->grad + n->np;
  n->v = n->m + n->np;
  n->W1 = n->p;
  n->b1 = n->W1 + k->dh * k->din;
  n->W2 = n->b1 + k->dh;
  n->b2 = n->W2 + k->dout * k->dh;
  n->dW1 = n->grad;
  n->db1 = n->dW1 + k->dh * k->din;
  n->dW2 = n->db1 + k->dh;
  n->db2 = n->dW2 + k->dout * k->dh;
  TLC_TRY(TLC_CUDA(cudaMalloc(&n->X, a * sizeof(float))));
  n->Y = n->X + tmax * k->din;
  n->Z1 = n->Y + tmax * k->dout;
  n->A1 = n->Z1 + tmax * k->dh;
  n->dA1 = n->A1 + tmax * k->dh;
  n->P = n->dA1 + tmax * k->dh;
  n->dP = n->P + tmax * k->dout;
  TLC_TRY(tlc_layer_alloc(&n->l1, tmax, k->din, k->dh));
  return tlc_layer_alloc(&n->l2, tmax, k->dh, k->dout);
}

static void tlc_mlp_free(tlc_mlp *n) {
  tlc_layer_free(&n->l1);
  tlc_layer_free(&n->l2);
  cudaFree(n->p);
  cudaFree(n->X);
}

/* Forward of T samples already in n->X (and n->Y when with_grad): P, and dP when with_grad. */
static fp4_status tlc_mlp_forward(tlc_mlp *n, const tl_recipe *rc, int64_t T, int with_grad, cudaStream_t s) {
  TLC_TRY(tlc_forward(&n->l1, rc, n->X, n->W1, n->Z1, T, s));
  tlc_bias_relu_kernel<<<tlc_grid(T * n->dh), 256, 0, s>>>(n->Z1, n->A1, n->b1, (int)T, (int)n->dh);
  TLC_TRY(TLC_CUDA(cudaGetLastError()));
  TLC_TRY(tlc_forward(&n->l2, rc, n->A1, n->W2, n->P, T, s));
  tlc_output_kernel<<<tlc_grid(T * n->dout), 256, 0, s>>>(n->P, n->b2, with_grad ? n->Y : NULL, n->dP,
                                                            2.0f / (float)(T * n->dout), (int)T, (int)n->dout);
  return TLC_CUDA(cudaGetLastError());
}

static fp4_status tlc_mlp_backward(tlc_mlp *n, const tl_recipe *rc, int64_t T, uint64_t seed, cudaStream_t s) {
  tlc_colsum_kernel<<<tlc_grid(n->dout), 256, 0, s>>>(n->dP, n->db2, (int)T, (int)n->dout);
  TLC_TRY(tlc_backward(&n->l2, rc, n->A1, n->W2, n->dP, n->dA1, n->dW2, T, tl_mix(seed ^ 2u), s));
  tlc_relu_back_kernel<<<tlc_grid(T * n->dh), 256, 0, s>>>(n->dA1, n->Z1, T * n->dh);
  tlc_colsum_kernel<<<tlc_grid(n->dh), 256, 0, s>>>(n->dA1, n->db1, (int)T, (int)n->dh);
  TLC_TRY(TLC_CUDA(cudaGetLastError()));
  return tlc_backward(&n->l1, rc, n->X, n->W1, n->dA1, NULL, n->dW1, T, tl_mix(seed ^ 1u), s);
}

/* tl_train on the device: same task, data stream, initialization and schedule. */
static fp4_status tlc_train(const tl_task *k, const tl_recipe *rc, double *curve, double *ms_per_step, cudaStream_t s) {
  tl_teacher te;
  tlc_mlp n;
  tl_rng data;
  int64_t tmax = k->T > k->teval ? k->T : k->teval, i;
  size_t nx = (size_t)(tmax * k->din), ny = (size_t)(tmax * k->dout);
  float *X = (float *)malloc(nx * sizeof(float)), *Y = (float *)malloc(ny * sizeof(float));
  float *EX = (float *)malloc((size_t)(k->teval * k->din) * sizeof(float));
  float *EY = (float *)malloc((size_t)(k->teval * k->dout) * sizeof(float)), *P = (float *)malloc(ny * sizeof(float));
  cudaEvent_t e0, e1;
  float ms = 0.0f;
  int st;
  tl_teacher_make(&te, k);
  if (!X || !Y || !EX || !EY || !P || !te.U1 || !te.U2 || !te.h) return FP4_ERR_WORKSPACE;
  TLC_TRY(tlc_mlp_alloc(&n, k, tmax));
  TLC_TRY(TLC_CUDA(cudaEventCreate(&e0)));
  TLC_TRY(TLC_CUDA(cudaEventCreate(&e1)));
  data.s = tl_mix(k->seed ^ 0xE7A1u);
  tl_sample(&te, &data, k->noise, k->teval, EX, EY, te.h);
  data.s = tl_mix(k->seed ^ 0xDA7Au);
  for (st = 0; st <= k->steps; st++) {
    if (st % k->eval_every == 0) {
      double l = 0.0;
      TLC_TRY(TLC_CUDA(cudaMemcpyAsync(n.X, EX, (size_t)(k->teval * k->din) * sizeof(float), cudaMemcpyHostToDevice, s)));
      TLC_TRY(tlc_mlp_forward(&n, rc, k->teval, 0, s));
      TLC_TRY(TLC_CUDA(cudaMemcpyAsync(P, n.P, (size_t)(k->teval * k->dout) * sizeof(float), cudaMemcpyDeviceToHost, s)));
      TLC_TRY(TLC_CUDA(cudaStreamSynchronize(s)));
      for (i = 0; i < k->teval * k->dout; i++) l += ((double)P[i] - EY[i]) * ((double)P[i] - EY[i]);
      curve[st / k->eval_every] = l / (double)(k->teval * k->dout);
    }
    if (st == k->steps) break;
    tl_sample(&te, &data, k->noise, k->T, X, Y, te.h);
    TLC_TRY(TLC_CUDA(cudaMemcpyAsync(n.X, X, (size_t)(k->T * k->din) * sizeof(float), cudaMemcpyHostToDevice, s)));
    TLC_TRY(TLC_CUDA(cudaMemcpyAsync(n.Y, Y, (size_t)(k->T * k->dout) * sizeof(float), cudaMemcpyHostToDevice, s)));
    TLC_TRY(TLC_CUDA(cudaStreamSynchronize(s)));
    TLC_TRY(TLC_CUDA(cudaEventRecord(e0, s)));
    TLC_TRY(tlc_mlp_forward(&n, rc, k->T, 1, s));
    TLC_TRY(tlc_mlp_backward(&n, rc, k->T, tl_mix(k->seed + (uint64_t)st), s));
    {
      int step = st + 1;
      float lr = k->lr * (float)(0.55 + 0.45 * cos(3.141592653589793 * st / k->steps));
      tlc_adam_kernel<<<tlc_grid((int64_t)n.np), 256, 0, s>>>(n.p, n.grad, n.m, n.v, (int64_t)n.np, lr,
                                                              1.0 - pow(0.9, step), 1.0 - pow(0.999, step));
      TLC_TRY(TLC_CUDA(cudaGetLastError()));
    }
    TLC_TRY(TLC_CUDA(cudaEventRecord(e1, s)));
    TLC_TRY(TLC_CUDA(cudaEventSynchronize(e1)));
    {
      float t = 0.0f;
      TLC_TRY(TLC_CUDA(cudaEventElapsedTime(&t, e0, e1)));
      ms += t;
    }
  }
  *ms_per_step = k->steps ? ms / k->steps : 0.0;
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  tlc_mlp_free(&n);
  free(te.U1);
  free(te.U2);
  free(te.h);
  free(X);
  free(Y);
  free(EX);
  free(EY);
  free(P);
  return FP4_OK;
}

int main(int argc, char **argv) {
  tl_task k;
  int r, npts, bad;
  double *curves, ms[TL_NRECIPES];
  cudaStream_t s;
  fp4_status st;
  if (tl_task_from_args(&k, argc, argv)) return 2;
  if (TLC_CUDA(cudaStreamCreate(&s)) != FP4_OK) return 1;
  /* 1. the device against the scalar reference, every recipe and GEMM */
  for (r = 1; r < TL_NRECIPES; r++)
    if ((st = tlc_check_recipe(&tl_recipes[r], s)) != FP4_OK) {
      fprintf(stderr, "%s: %s\n", tl_recipes[r].name, fp4_status_string(st));
      return 1;
    }
  printf("device vs fp4.h: operand bytes, GEMM outputs %s: %s\n",
         TLC_HAVE_W4A4 ? "bit for bit (W4A4 exact engine)" : "within 1e-5 (dequantized f32 GEMM)", tlc_bad ? "MISMATCH" : "ok");
  /* 2. training: the task of train_linear.c */
  npts = k.steps / k.eval_every + 1;
  curves = (double *)malloc((size_t)(npts * TL_NRECIPES) * sizeof(double));
  if (!curves) return 1;
  printf("two-layer MLP %d-%d-%d, batch %d, %d steps, on the GPU\n", (int)k.din, (int)k.dh, (int)k.dout, (int)k.T,
         k.steps);
  for (r = 0; r < TL_NRECIPES; r++)
    if ((st = tlc_train(&k, &tl_recipes[r], curves + r * npts, &ms[r], s)) != FP4_OK) {
      fprintf(stderr, "%s: %s\n", tl_recipes[r].name, fp4_status_string(st));
      free(curves);
      return 1;
    }
  bad = tl_report(&k, curves, ms) | tlc_bad;
  free(curves);
  cudaStreamDestroy(s);
  return bad;
}
