/* SPDX-License-Identifier: MIT */
// FP4_TEST_FLAGS: -march=native
/*
 * train_linear.c - training in FP4: the three GEMMs of a linear layer with FP4 operands, and a
 * two-layer MLP trained with them.
 *
 * Demonstrates how the library's quantization options (transposed quantization, 2D scales,
 * stochastic rounding, Hadamard rotations, the QuEST not-clipped mask) and its TN GEMM
 * (C = A . B^T, both operands K-contiguous) make up the backward pass of the two methods we learn
 * from, and trains a small MLP on a synthetic regression task with each of them:
 *
 *     f32          the baseline: the same code path with every quantizer switched off
 *     nvfp4 rne    NVFP4 (rule 6), round to nearest everywhere, 1D scales, no rotation (naive)
 *     nvfp4 sr     the NVFP4 training recipe: 16x16 weight scales, stochastic rounding of the
 *                  gradients, 16-point random Hadamard transform in the weight-gradient GEMM
 *     nvfp4 4/6    the same recipe with Four Over Six's scale selection (FP4_NV_4OVER6_MSE)
 *     mxfp4 quest  FP-Quant's QAT: Hadamard-rotated MXFP4 forward (FP4_MX_QUEST), straight-through
 *                  backward in f32 through the not-clipped mask and the inverse rotation
 *
 * Master weights stay in f32 and are re-quantized at every step. The loss curves (held-out MSE of
 * the quantized model) are printed side by side; the program exits non-zero if an FP4 run fails
 * to converge.
 *
 *     make examples && ./build/examples/train_linear            # full size
 *     ./build/examples/train_linear --small                      # the CI size (a few seconds)
 *
 * The recipe section below (==== recipe ====) is self-contained; tests/test_train.c includes this
 * file with TRAIN_LINEAR_NO_MAIN defined and tests it piece by piece.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The back end: the SIMD CPU back end fp4_cpu.h (AVX2 / AVX-512 with -march=native, the line above
 * asks the Makefile for it), or with TL_SCALAR - and always under nvcc - the scalar reference fp4.h.
 * Same signatures up to the prefix, same bytes: the loss curves do not depend on the choice.
 * TL_API: linkage of the functions below (static inline, so that a file including this one may use
 * any subset). */
#if defined(TL_SCALAR) || defined(__CUDACC__)
#include "fp4.h"
#define TL_LIB(name) fp4_##name
#else
#include "fp4_cpu.h"
#define TL_LIB(name) fp4_cpu_##name
#endif
#ifndef TL_API
#define TL_API static inline
#endif

/* ==== recipe ==== */
/*
 * A linear layer Y[T,out] = X[T,in] . W[out,in]^T has three GEMMs. Written as TN products
 * (C = A . B^T, A and B both contiguous along the reduction axis K), with the operand each one needs:
 *
 *   forward   Y  = X . W^T       A = X    [T,  in]  K = in   X round to nearest
 *                                B = W    [out,in]           W (16x16 scales in the NVFP4 recipe)
 *   dgrad     dX = dY . W        A = dY   [T,  out] K = out  dY with stochastic rounding
 *                                B = W^T  [in, out]          W quantized transposed; with 2D scales
 *                                                            its scales (and codes) equal the forward's
 *   wgrad     dW = dY^T . X      A = dY^T [out,T]   K = T    both quantized transposed (along the token
 *                                B = X^T  [in, T]            axis), both rotated by the same 16-point
 *                                                            random Hadamard transform H along K, dY^T
 *                                                            with stochastic rounding
 *
 * The rotation cancels in wgrad: (dY^T H^T)(H X) = dY^T X because H is orthogonal (the signs D and
 * the Walsh matrix are both orthogonal), so it only reshapes the values each quantizer sees (spreads
 * outliers), never the product. Stochastic rounding makes the quantized gradient unbiased.
 *
 * QuEST (FP-Quant): forward Y = Q(X H^T) . Q(W H^T)^T with H the block Hadamard along `in` and Q the
 * QuEST MXFP4 quantizer, which also returns the mask of values it did not clip. The backward is the
 * straight-through estimator, in f32 on the dequantized forward operands:
 *   dXr = dY . Q(W H^T),  dXr *= maskX,  dX = dXr H     (inverse rotation)
 *   dWr = dY^T . Q(X H^T), dWr *= maskW, dW = dWr H
 *
 * Every operand goes through one function, tl_prepare: an FP4 quantizer (fp4_quantize_f32 with a
 * config) or the f32 "quantizer" that honours transpose and Hadamard but does not round. The f32
 * baseline is the same code with every quantizer in f32 mode.
 */

/* How a GEMM operand is made: fp4 == 0 keeps f32 (transpose and Hadamard from cfg still apply). */
typedef struct tl_quant {
  int fp4;
  fp4_quant_config cfg;
} tl_quant;

/* A prepared GEMM operand of rows x K: an FP4 tensor or f32 values (row-major). */
typedef struct tl_operand {
  int64_t rows, K;
  int fp4;
  fp4_tensor t;   /* fp4: codes, scales, tensor scale; t.mask set for FP4_MX_QUEST */
  float *f;       /* f32 values */
  uint8_t *mask_buf;
  size_t cap;     /* elements the buffers hold */
} tl_operand;

/* One training recipe. */
typedef struct tl_recipe {
  const char *name;
  int fp4;            /* 0: the f32 baseline */
  fp4_format format;
  fp4_rule rule;
  int w_2d;           /* NVFP4: one scale per 16x16 weight tile (shared by W and W^T) */
  int grad_sr;        /* stochastic rounding of dY in dgrad and wgrad */
  int wgrad_rht;      /* 16-point random Hadamard transform along the token axis in wgrad */
  int rht_bf16;       /* round the rotated values to bf16 before quantization (as Transformer Engine) */
  int quest;          /* QuEST: rotated forward with the not-clipped mask, straight-through f32 backward */
  int quest_group;    /* QuEST Hadamard group along `in` (32, 64 or 128) */
} tl_recipe;

/* The operand roles of the three GEMMs. */
typedef enum tl_role { TL_FWD_X, TL_FWD_W, TL_DGRAD_DY, TL_DGRAD_W, TL_WGRAD_DY, TL_WGRAD_X } tl_role;

static const tl_recipe tl_recipes[] = {
    {"f32", 0, FP4_NVFP4, FP4_RULE_DEFAULT, 0, 0, 0, 0, 0, 0},
    {"nvfp4 rne", 1, FP4_NVFP4, FP4_NV_6, 0, 0, 0, 0, 0, 0},
    {"nvfp4 sr", 1, FP4_NVFP4, FP4_NV_6, 1, 1, 1, 1, 0, 0},
    {"nvfp4 4/6", 1, FP4_NVFP4, FP4_NV_4OVER6_MSE, 1, 1, 1, 1, 0, 0},
    {"mxfp4 quest", 1, FP4_MXFP4, FP4_MX_QUEST, 0, 0, 0, 0, 1, 32},
};
#define TL_NRECIPES ((int)(sizeof tl_recipes / sizeof tl_recipes[0]))

/* splitmix64: seeds for the stochastic-rounding streams of each GEMM operand. */
TL_API uint64_t tl_mix(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* The quantizer of one operand role under a recipe. seed: the Philox key of stochastic rounding. */
TL_API tl_quant tl_quant_for(const tl_recipe *rc, tl_role role, uint64_t seed) {
  tl_quant q;
  memset(&q, 0, sizeof q);
  q.fp4 = rc->fp4;
  q.cfg = fp4_config_default(rc->format);
  q.cfg.rule = rc->fp4 ? rc->rule : FP4_RULE_DEFAULT;
  q.cfg.seed = seed;
  switch (role) {
  case TL_FWD_X:
  case TL_FWD_W:
    q.cfg.scale_2d = role == TL_FWD_W && rc->w_2d;
    q.cfg.hadamard = rc->quest ? rc->quest_group : 0; /* FP-Quant: no signs */
    break;
  case TL_DGRAD_DY:
    q.cfg.rounding = rc->grad_sr ? FP4_ROUND_STOCHASTIC : FP4_ROUND_NEAREST;
    break;
  case TL_DGRAD_W:
    q.cfg.transpose = 1;
    q.cfg.scale_2d = rc->w_2d;
    break;
  case TL_WGRAD_DY:
  case TL_WGRAD_X:
    q.cfg.transpose = 1;
    if (role == TL_WGRAD_DY && rc->grad_sr) q.cfg.rounding = FP4_ROUND_STOCHASTIC;
    if (rc->wgrad_rht) {
      /* Four Over Six's RHT: g = 16 with its fixed sign vector, the same on both operands */
      q.cfg.hadamard = 16;
      q.cfg.hadamard_signs = FP4_SIGNS_USER;
      fp4_hadamard_signs_rht16(q.cfg.hadamard_sign_bits);
      q.cfg.hadamard_bf16 = rc->rht_bf16;
    }
    break;
  }
  /* QuEST runs its backward in f32 (straight-through estimator); only the forward is quantized */
  if (rc->quest && role != TL_FWD_X && role != TL_FWD_W) q.fp4 = 0;
  return q;
}

/* Allocate an operand able to hold n elements (any shape). Returns 0 on failure. */
TL_API int tl_operand_alloc(tl_operand *op, size_t n) {
  memset(op, 0, sizeof *op);
  op->cap = n;
  op->f = (float *)malloc(n * sizeof(float));
  op->mask_buf = (uint8_t *)malloc(n / 8 + 1);
  fp4_tensor_init(&op->t, (uint8_t *)malloc(n / 2 + 1), (uint8_t *)malloc(n / 16 + 1), FP4_LAYOUT_LINEAR);
  return op->f && op->mask_buf && op->t.data && op->t.scales;
}

TL_API void tl_operand_free(tl_operand *op) {
  free(op->f);
  free(op->mask_buf);
  free(op->t.data);
  free(op->t.scales);
  memset(op, 0, sizeof *op);
}

/* Signs of a config's Hadamard rotation (NULL: none). */
TL_API const uint32_t *tl_signs(const fp4_quant_config *c, uint32_t bits[8]) {
  if (c->hadamard_signs == FP4_SIGNS_USER) return c->hadamard_sign_bits;
  if (c->hadamard_signs == FP4_SIGNS_RANDOM) {
    fp4_hadamard_signs_from_seed(c->seed, c->hadamard, bits);
    return bits;
  }
  return NULL;
}

/* Prepare the operand of row-major x[rows, cols]: x itself, or x^T when q->cfg.transpose, so the
 * operand is K-contiguous; rotated along K when q->cfg.hadamard; quantized when q->fp4. */
TL_API fp4_status tl_prepare(const tl_quant *q, const float *x, int64_t rows, int64_t cols, tl_operand *op) {
  int tr = q->cfg.transpose != 0;
  int64_t R = tr ? cols : rows, C = tr ? rows : cols, r, c;
  if ((size_t)(R * C) > op->cap) return FP4_ERR_WORKSPACE;
  op->rows = R;
  op->K = C;
  op->fp4 = q->fp4;
  if (q->fp4) {
    op->t.mask = q->cfg.rule == FP4_MX_QUEST ? op->mask_buf : NULL;
    return TL_LIB(quantize_f32)(x, rows, cols, cols, &q->cfg, &op->t, NULL, 0);
  }
  for (r = 0; r < R; r++)
    for (c = 0; c < C; c++) op->f[r * C + c] = tr ? x[c * cols + r] : x[r * cols + c];
  if (q->cfg.hadamard) {
    uint32_t bits[8];
    return TL_LIB(hadamard_f32)(op->f, R, C, C, op->f, C, q->cfg.hadamard, tl_signs(&q->cfg, bits), 0);
  }
  return FP4_OK;
}

/* f32 TN GEMM: C[M,N] = A[M,K] . B[N,K]^T. */
TL_API void tl_gemm_f32(const float *A, const float *B, int64_t M, int64_t N, int64_t K, float *C) {
  int64_t m, n, k;
  for (m = 0; m < M; m++)
    for (n = 0; n < N; n++) {
      float acc = 0.0f;
      for (k = 0; k < K; k++) acc += A[m * K + k] * B[n * K + k];
      C[m * N + n] = acc;
    }
}

/* C[A.rows, B.rows] = A . B^T: the W4A4 GEMM for two FP4 operands, f32 otherwise. */
TL_API fp4_status tl_gemm(const tl_operand *A, const tl_operand *B, float *C) {
  if (A->K != B->K || A->fp4 != B->fp4) return FP4_ERR_UNSUPPORTED;
  if (A->fp4) return TL_LIB(gemm_w4a4_f32)(&A->t, &B->t, 1.0f, 0.0f, C, B->rows, NULL, 0);
  tl_gemm_f32(A->f, B->f, A->rows, B->rows, A->K, C);
  return FP4_OK;
}

/* Per-layer state: the forward operands (kept for the QuEST backward), the backward operands (left
 * in place after each GEMM, so a test can inspect them), and scratch. */
typedef struct tl_layer {
  int64_t in, out, tmax;
  tl_operand xq, wq, a, b;
  float *g, *d; /* scratch of max(tmax, out) * in floats */
} tl_layer;

TL_API int tl_layer_alloc(tl_layer *L, int64_t tmax, int64_t in, int64_t out) {
  size_t n = (size_t)((tmax > in ? tmax : in) * (out > in ? out : in));
  size_t m = (size_t)((tmax > out ? tmax : out) * in);
  n = n > m ? n : m;
  L->in = in;
  L->out = out;
  L->tmax = tmax;
  L->g = (float *)malloc(n * sizeof(float));
  L->d = (float *)malloc(n * sizeof(float));
  return tl_operand_alloc(&L->xq, n) & tl_operand_alloc(&L->wq, n) & tl_operand_alloc(&L->a, n) &
         tl_operand_alloc(&L->b, n) & (L->g != NULL) & (L->d != NULL);
}

TL_API void tl_layer_free(tl_layer *L) {
  tl_operand_free(&L->xq);
  tl_operand_free(&L->wq);
  tl_operand_free(&L->a);
  tl_operand_free(&L->b);
  free(L->g);
  free(L->d);
}

/* Forward: Y[T,out] = X[T,in] . W[out,in]^T. */
TL_API fp4_status tl_forward(tl_layer *L, const tl_recipe *rc, const float *X, const float *W, float *Y, int64_t T) {
  tl_quant qx = tl_quant_for(rc, TL_FWD_X, 0), qw = tl_quant_for(rc, TL_FWD_W, 0);
  fp4_status st;
  if ((st = tl_prepare(&qx, X, T, L->in, &L->xq)) != FP4_OK) return st;
  if ((st = tl_prepare(&qw, W, L->out, L->in, &L->wq)) != FP4_OK) return st;
  return tl_gemm(&L->xq, &L->wq, Y);
}

/* Input gradient: dX[T,in] = dY[T,out] . W[out,in] (dY stochastically rounded with `seed`). */
TL_API fp4_status tl_dgrad(tl_layer *L, const tl_recipe *rc, const float *dY, const float *W, float *dX, int64_t T,
                           uint64_t seed) {
  tl_quant qa = tl_quant_for(rc, TL_DGRAD_DY, seed), qb = tl_quant_for(rc, TL_DGRAD_W, 0);
  fp4_status st;
  if ((st = tl_prepare(&qa, dY, T, L->out, &L->a)) != FP4_OK) return st;
  if ((st = tl_prepare(&qb, W, L->out, L->in, &L->b)) != FP4_OK) return st;
  return tl_gemm(&L->a, &L->b, dX);
}

/* Weight gradient: dW[out,in] = dY[T,out]^T . X[T,in] (K = T; rotated, dY^T stochastically rounded). */
TL_API fp4_status tl_wgrad(tl_layer *L, const tl_recipe *rc, const float *dY, const float *X, float *dW, int64_t T,
                           uint64_t seed) {
  tl_quant qa = tl_quant_for(rc, TL_WGRAD_DY, seed), qb = tl_quant_for(rc, TL_WGRAD_X, 0);
  fp4_status st;
  if ((st = tl_prepare(&qa, dY, T, L->out, &L->a)) != FP4_OK) return st;
  if ((st = tl_prepare(&qb, X, T, L->in, &L->b)) != FP4_OK) return st;
  return tl_gemm(&L->a, &L->b, dW);
}

/* g[rows, cols] *= mask (bit i of byte j = element 8j + i, row-major: spec §3 QuEST mask). */
TL_API void tl_apply_mask(float *g, const uint8_t *mask, int64_t n) {
  int64_t i;
  for (i = 0; i < n; i++)
    if (!((mask[i >> 3] >> (i & 7)) & 1u)) g[i] = 0.0f;
}

/* QuEST straight-through backward, after tl_forward saved Q(X H^T) and Q(W H^T) with their masks. */
TL_API fp4_status tl_backward_quest(tl_layer *L, const tl_recipe *rc, const float *dY, float *dX, float *dW, int64_t T) {
  tl_quant f32 = tl_quant_for(rc, TL_DGRAD_DY, 0), f32t = f32;
  int64_t in = L->in, out = L->out;
  fp4_status st;
  f32t.cfg.transpose = 1;
  if (dX) { /* dXr = dY . Q(W H^T) (rotated domain), masked, rotated back */
    if ((st = TL_LIB(dequantize_f32)(&L->wq.t, L->d, in)) != FP4_OK) return st;
    if ((st = tl_prepare(&f32, dY, T, out, &L->a)) != FP4_OK) return st;
    if ((st = tl_prepare(&f32t, L->d, out, in, &L->b)) != FP4_OK) return st;
    if ((st = tl_gemm(&L->a, &L->b, L->g)) != FP4_OK) return st;
    tl_apply_mask(L->g, L->xq.t.mask, T * in);
    if ((st = TL_LIB(hadamard_f32)(L->g, T, in, in, dX, in, rc->quest_group, NULL, 1)) != FP4_OK) return st;
  }
  /* dWr = dY^T . Q(X H^T), masked, rotated back */
  if ((st = TL_LIB(dequantize_f32)(&L->xq.t, L->d, in)) != FP4_OK) return st;
  if ((st = tl_prepare(&f32t, dY, T, out, &L->a)) != FP4_OK) return st;
  if ((st = tl_prepare(&f32t, L->d, T, in, &L->b)) != FP4_OK) return st;
  if ((st = tl_gemm(&L->a, &L->b, L->g)) != FP4_OK) return st;
  tl_apply_mask(L->g, L->wq.t.mask, out * in);
  return TL_LIB(hadamard_f32)(L->g, out, in, in, dW, in, rc->quest_group, NULL, 1);
}

/* Backward of the layer whose forward ran last on X, W: dW always, dX unless NULL. The two uses of
 * dY draw independent stochastic-rounding streams derived from `seed`. */
TL_API fp4_status tl_backward(tl_layer *L, const tl_recipe *rc, const float *X, const float *W, const float *dY,
                              float *dX, float *dW, int64_t T, uint64_t seed) {
  fp4_status st;
  if (rc->quest) return tl_backward_quest(L, rc, dY, dX, dW, T);
  if (dX && (st = tl_dgrad(L, rc, dY, W, dX, T, tl_mix(seed))) != FP4_OK) return st;
  return tl_wgrad(L, rc, dY, X, dW, T, tl_mix(seed ^ 0x5741u));
}

/* ==== model: a two-layer MLP on a synthetic regression task ==== */
/* student: P = relu(X W1^T + b1) W2^T + b2, loss = mean (P - Y)^2; teacher: Y = tanh(X U1^T) U2^T + noise. */

typedef struct tl_task {
  int64_t din, dh, dout; /* student sizes (din, dh, dout multiples of 32 for MXFP4, of 16 for NVFP4) */
  int64_t T, teval;      /* batch and held-out set (multiples of 32) */
  int steps, eval_every;
  float lr, noise;
  uint64_t seed;         /* data, teacher and initialization */
} tl_task;

typedef struct tl_rng {
  uint64_t s;
} tl_rng;
TL_API double tl_uniform(tl_rng *r) { return (double)(tl_mix(r->s++) >> 11) * (1.0 / 9007199254740992.0); }
TL_API float tl_normal(tl_rng *r) {
  double u = tl_uniform(r), v = tl_uniform(r);
  if (u < 1e-300) u = 1e-300;
  return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

/* The teacher: fixed weights, hidden width dh. */
typedef struct tl_teacher {
  float *U1, *U2;
  double *h; /* scratch */
  int64_t din, dh, dout;
} tl_teacher;

TL_API void tl_teacher_make(tl_teacher *t, const tl_task *k) {
  tl_rng r;
  int64_t i;
  r.s = tl_mix(k->seed ^ 0x7EAC4E5u);
  t->din = k->din;
  t->dh = k->dh / 2;
  t->dout = k->dout;
  t->U1 = (float *)malloc((size_t)(t->dh * t->din) * sizeof(float));
  t->U2 = (float *)malloc((size_t)(t->dout * t->dh) * sizeof(float));
  t->h = (double *)malloc((size_t)t->dh * sizeof(double));
  for (i = 0; i < t->dh * t->din; i++) t->U1[i] = tl_normal(&r) * (float)(1.0 / sqrt((double)t->din));
  for (i = 0; i < t->dout * t->dh; i++) t->U2[i] = tl_normal(&r) * (float)(1.0 / sqrt((double)t->dh));
}

/* n samples: X ~ N(0, I), Y = teacher(X) + noise * N(0, I). h: dh scratch doubles. */
TL_API void tl_sample(const tl_teacher *t, tl_rng *r, float noise, int64_t n, float *X, float *Y, double *h) {
  int64_t s, i, j, c;
  for (i = 0; i < n * t->din; i++) X[i] = tl_normal(r);
  for (s = 0; s < n; s++) {
    for (i = 0; i < t->dh; i++) {
      double a = 0.0;
      for (c = 0; c < t->din; c++) a += (double)t->U1[i * t->din + c] * X[s * t->din + c];
      h[i] = tanh(a);
    }
    for (j = 0; j < t->dout; j++) {
      double y = 0.0;
      for (i = 0; i < t->dh; i++) y += (double)t->U2[j * t->dh + i] * h[i];
      Y[s * t->dout + j] = (float)y + noise * tl_normal(r);
    }
  }
}

/* The student's parameters with their Adam moments, and the activations of one batch. */
typedef struct tl_mlp {
  int64_t din, dh, dout, tmax;
  float *p, *grad, *m, *v; /* all parameters, packed: W1 [dh,din], b1 [dh], W2 [dout,dh], b2 [dout] */
  float *W1, *b1, *W2, *b2, *dW1, *db1, *dW2, *db2;
  size_t np;
  float *Z1, *A1, *P, *dP, *dA1; /* [tmax, dh], [tmax, dh], [tmax, dout], [tmax, dout], [tmax, dh] */
  tl_layer l1, l2;
} tl_mlp;

TL_API int tl_mlp_alloc(tl_mlp *n, const tl_task *k, int64_t tmax) {
  tl_rng r;
  size_t i;
  memset(n, 0, sizeof *n);
  n->din = k->din;
  n->dh = k->dh;
  n->dout = k->dout;
  n->tmax = tmax;
  n->np = (size_t)(k->dh * k->din + k->dh + k->dout * k->dh + k->dout);
  n->p = (float *)calloc(4 * n->np, sizeof(float));
  n->Z1 = (float *)malloc((size_t)(tmax * (3 * k->dh + 2 * k->dout)) * sizeof(float));
  if (!n->p || !n->Z1) return 0;
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
  n->A1 = n->Z1 + tmax * k->dh;
  n->dA1 = n->A1 + tmax * k->dh;
  n->P = n->dA1 + tmax * k->dh;
  n->dP = n->P + tmax * k->dout;
  /* He initialization for W1, 1/sqrt(fan-in) for W2, zero biases; the same for every recipe */
  r.s = tl_mix(k->seed ^ 0x1417u);
  for (i = 0; i < (size_t)(k->dh * k->din); i++) n->W1[i] = tl_normal(&r) * (float)sqrt(2.0 / (double)k->din);
  for (i = 0; i < (size_t)(k->dout * k->dh); i++) n->W2[i] = tl_normal(&r) * (float)sqrt(1.0 / (double)k->dh);
  return tl_layer_alloc(&n->l1, tmax, k->din, k->dh) & tl_layer_alloc(&n->l2, tmax, k->dh, k->dout);
}

TL_API void tl_mlp_free(tl_mlp *n) {
  tl_layer_free(&n->l1);
  tl_layer_free(&n->l2);
  free(n->p);
  free(n->Z1);
}

/* Forward pass of T samples under a recipe; returns the MSE against Y (or -1 on a library error). */
TL_API double tl_mlp_forward(tl_mlp *n, const tl_recipe *rc, const float *X, const float *Y, int64_t T) {
  int64_t t, j;
  double loss = 0.0;
  if (tl_forward(&n->l1, rc, X, n->W1, n->Z1, T) != FP4_OK) return -1.0;
  for (t = 0; t < T; t++)
    for (j = 0; j < n->dh; j++) {
      float z = n->Z1[t * n->dh + j] + n->b1[j];
      n->Z1[t * n->dh + j] = z;
      n->A1[t * n->dh + j] = z > 0.0f ? z : 0.0f;
    }
  if (tl_forward(&n->l2, rc, n->A1, n->W2, n->P, T) != FP4_OK) return -1.0;
  for (t = 0; t < T; t++)
    for (j = 0; j < n->dout; j++) {
      double e;
      n->P[t * n->dout + j] += n->b2[j];
      e = (double)n->P[t * n->dout + j] - Y[t * n->dout + j];
      loss += e * e;
    }
  return loss / (double)(T * n->dout);
}

/* Backward pass after tl_mlp_forward on the same batch: fills n->grad. */
TL_API fp4_status tl_mlp_backward(tl_mlp *n, const tl_recipe *rc, const float *X, const float *Y, int64_t T,
                                  uint64_t seed) {
  int64_t t, j;
  float c = 2.0f / (float)(T * n->dout);
  fp4_status st;
  memset(n->db1, 0, (size_t)n->dh * sizeof(float));
  memset(n->db2, 0, (size_t)n->dout * sizeof(float));
  for (t = 0; t < T; t++)
    for (j = 0; j < n->dout; j++) {
      float d = c * (n->P[t * n->dout + j] - Y[t * n->dout + j]);
      n->dP[t * n->dout + j] = d;
      n->db2[j] += d;
    }
  /* layer 2 has to run its forward operands' backward first (QuEST keeps them per layer) */
  if ((st = tl_backward(&n->l2, rc, n->A1, n->W2, n->dP, n->dA1, n->dW2, T, tl_mix(seed ^ 2u))) != FP4_OK) return st;
  for (t = 0; t < T; t++)
    for (j = 0; j < n->dh; j++) {
      float d = n->Z1[t * n->dh + j] > 0.0f ? n->dA1[t * n->dh + j] : 0.0f;
      n->dA1[t * n->dh + j] = d;
      n->db1[j] += d;
    }
  return tl_backward(&n->l1, rc, X, n->W1, n->dA1, NULL, n->dW1, T, tl_mix(seed ^ 1u));
}

/* Adam (beta1 0.9, beta2 0.999, eps 1e-8) on the f32 master weights. */
TL_API void tl_adam(tl_mlp *n, float lr, int step) {
  double b1c = 1.0 - pow(0.9, step), b2c = 1.0 - pow(0.999, step);
  size_t i;
  for (i = 0; i < n->np; i++) {
    float g = n->grad[i];
    n->m[i] = 0.9f * n->m[i] + 0.1f * g;
    n->v[i] = 0.999f * n->v[i] + 0.001f * g * g;
    n->p[i] -= lr * (float)((n->m[i] / b1c) / (sqrt(n->v[i] / b2c) + 1e-8));
  }
}

/* Train one recipe. curve[i] = held-out MSE after i * eval_every steps (steps / eval_every + 1
 * entries). Every recipe sees the same data, initialization and learning-rate schedule. Returns
 * 0, or -1 on a library error (st set). */
TL_API int tl_train(const tl_task *k, const tl_recipe *rc, double *curve, fp4_status *st) {
  tl_teacher te;
  tl_mlp n;
  tl_rng data;
  int64_t tmax = k->T > k->teval ? k->T : k->teval;
  float *X = (float *)malloc((size_t)(tmax * k->din) * sizeof(float));
  float *Y = (float *)malloc((size_t)(tmax * k->dout) * sizeof(float));
  float *EX = (float *)malloc((size_t)(k->teval * k->din) * sizeof(float));
  float *EY = (float *)malloc((size_t)(k->teval * k->dout) * sizeof(float));
  int s, ok = X && Y && EX && EY, rv = 0;
  *st = FP4_OK;
  tl_teacher_make(&te, k);
  ok = ok && te.U1 && te.U2 && te.h && tl_mlp_alloc(&n, k, tmax);
  if (!ok) {
    *st = FP4_ERR_WORKSPACE;
    rv = -1;
    goto done;
  }
  data.s = tl_mix(k->seed ^ 0xE7A1u);
  tl_sample(&te, &data, k->noise, k->teval, EX, EY, te.h);
  data.s = tl_mix(k->seed ^ 0xDA7Au);
  for (s = 0; s <= k->steps; s++) {
    double l;
    if (s % k->eval_every == 0) {
      l = tl_mlp_forward(&n, rc, EX, EY, k->teval);
      if (l < 0.0) goto fail;
      curve[s / k->eval_every] = l;
    }
    if (s == k->steps) break;
    tl_sample(&te, &data, k->noise, k->T, X, Y, te.h);
    if (tl_mlp_forward(&n, rc, X, Y, k->T) < 0.0) goto fail;
    if ((*st = tl_mlp_backward(&n, rc, X, Y, k->T, tl_mix(k->seed + (uint64_t)s))) != FP4_OK) goto fail;
    /* cosine decay to 10% of the peak rate */
    tl_adam(&n, k->lr * (float)(0.55 + 0.45 * cos(3.141592653589793 * s / k->steps)), s + 1);
  }
  goto done;
fail:
  if (*st == FP4_OK) *st = FP4_ERR_ARG;
  rv = -1;
done:
  if (ok) tl_mlp_free(&n);
  free(te.U1);
  free(te.U2);
  free(te.h);
  free(X);
  free(Y);
  free(EX);
  free(EY);
  return rv;
}

/* ==== main ==== */
/* The task of both programs (train_linear.c on the CPU, train_linear.cu on the GPU): --small or the
 * default size. Returns 0, or 2 after printing the usage. */
TL_API int tl_task_from_args(tl_task *k, int argc, char **argv) {
  int small = 0, i;
  memset(k, 0, sizeof *k);
  for (i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--small")) small = 1;
    else {
      fprintf(stderr, "usage: %s [--small]\n", argv[0]);
      return 2;
    }
  }
  k->din = small ? 32 : 64;
  k->dh = small ? 64 : 128;
  k->dout = 32;
  k->T = small ? 32 : 64;
  k->teval = small ? 128 : 256;
  k->steps = small ? 300 : 1000;
  k->eval_every = small ? 30 : 100;
  k->lr = 1e-2f;
  k->noise = 0.1f;
  k->seed = 2026;
  return 0;
}

/* Prints the held-out curves of every recipe (curves[r * npts + i], npts = steps / eval_every + 1), their
 * final loss relative to f32 and, when ms is not NULL, milliseconds per step. Returns 1 if a recipe did
 * not converge (its final loss is not below a quarter of its first), else 0. */
TL_API int tl_report(const tl_task *k, const double *curves, const double *ms) {
  const int npts = k->steps / k->eval_every + 1;
  int i, r, bad = 0;
  printf("\nheld-out MSE of the quantized model\n%6s", "step");
  for (r = 0; r < TL_NRECIPES; r++) printf(" %12s", tl_recipes[r].name);
  printf("\n");
  for (i = 0; i < npts; i++) {
    printf("%6d", i * k->eval_every);
    for (r = 0; r < TL_NRECIPES; r++) printf(" %12.5f", curves[r * npts + i]);
    printf("\n");
  }
  printf("%6s", "/f32");
  for (r = 0; r < TL_NRECIPES; r++) printf(" %12.3f", curves[r * npts + npts - 1] / curves[npts - 1]);
  if (ms) {
    printf("\n%6s", "ms/st");
    for (r = 0; r < TL_NRECIPES; r++) printf(" %12.3f", ms[r]);
  }
  printf("\n");
  for (r = 0; r < TL_NRECIPES; r++) {
    double first = curves[r * npts], last = curves[r * npts + npts - 1];
    if (!(last < 0.25 * first)) {
      fprintf(stderr, "%s did not converge: %g -> %g\n", tl_recipes[r].name, first, last);
      bad = 1;
    }
  }
  return bad;
}

#ifndef TRAIN_LINEAR_NO_MAIN
int main(int argc, char **argv) {
  tl_task k;
  int r, npts, bad;
  double *curves;
  if (tl_task_from_args(&k, argc, argv)) return 2;
  npts = k.steps / k.eval_every + 1;
  curves = (double *)malloc((size_t)(npts * TL_NRECIPES) * sizeof(double));
  if (!curves) return 1;
  printf("two-layer MLP %d-%d-%d, batch %d, %d steps, Adam lr %g (cosine), label noise %g (loss floor %.4f)\n",
         (int)k.din, (int)k.dh, (int)k.dout, (int)k.T, k.steps, (double)k.lr, (double)k.noise,
         (double)(k.noise * k.noise));
  for (r = 0; r < TL_NRECIPES; r++) {
    fp4_status st;
    if (tl_train(&k, &tl_recipes[r], curves + r * npts, &st) != 0) {
      fprintf(stderr, "%s: %s\n", tl_recipes[r].name, fp4_status_string(st));
      free(curves);
      return 1;
    }
  }
  bad = tl_report(&k, curves, NULL);
  free(curves);
  return bad;
}
#endif
