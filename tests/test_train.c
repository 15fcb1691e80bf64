/* SPDX-License-Identifier: MIT */
/* The FP4 training recipes of examples/train_linear.c, piece by piece:
 *  1. every GEMM of a linear layer (forward, dgrad, wgrad) under every FP4 recipe equals the float64
 *     product of its dequantized operands (spec §5 bound: relative Frobenius 1e-5), and the dgrad's
 *     weight operand (quantized transposed with 16x16 scales) is the forward's weight, transposed;
 *  2. the QuEST straight-through backward equals mask-then-inverse-rotation computed in float64;
 *  3. stochastic rounding of the gradient is unbiased: the mean dgrad over n seeds approaches the
 *     product with the unrounded gradient at the 1/sqrt(n) rate (error ratio ~2 from n to 4n);
 *  4. the Hadamard transform of the wgrad cancels: with an f32 "quantizer" (no rounding) the rotated
 *     product equals the unrotated one within f32 error (and a one-sided rotation does not);
 *  5. a short training run: the Four Over Six recipe's held-out loss stays within a stated factor of
 *     the f32 run's, and both converge.
 * The recipes run on fp4_cpu.h (train_linear.c's default back end): its scalar path in the strict
 * build, AVX2 / AVX-512 in the -march=native build. The digest covers the quantized operands, QuEST
 * masks and W4A4 GEMM outputs, so the two builds (and -DTL_SCALAR, the reference fp4.h) must agree
 * byte for byte. */
#define TRAIN_LINEAR_NO_MAIN
#include "examples/train_linear.c"
#include "harness.h"

/* sizes: T tokens, in and out features (multiples of 32, so MXFP4 and 16x16 tiles fit) */
#define T_ 64
#define IN_ 64
#define OUT_ 32

/* Relative Frobenius error of a float result against a double reference. */
static double rel_err(const float *a, const double *ref, int64_t n) {
  double e = 0.0, d = 0.0;
  int64_t i;
  for (i = 0; i < n; i++) {
    double t = (double)a[i] - ref[i];
    e += t * t;
    d += ref[i] * ref[i];
  }
  return d > 0.0 ? sqrt(e / d) : sqrt(e);
}

/* ref[M,N] = A[M,K] . B[N,K]^T in float64. */
static void gemm_f64(const float *A, const float *B, int64_t M, int64_t N, int64_t K, double *ref) {
  int64_t m, n, k;
  for (m = 0; m < M; m++)
    for (n = 0; n < N; n++) {
      double s = 0.0;
      for (k = 0; k < K; k++) s += (double)A[m * K + k] * (double)B[n * K + k];
      ref[m * N + n] = s;
    }
}

/* The dequantized values of a prepared operand (rows x K). */
static void operand_values(const tl_operand *op, float *v) {
  if (op->fp4) CHECK_EQ(FP4_OK, fp4_dequantize_f32(&op->t, v, op->K));
  else memcpy(v, op->f, (size_t)(op->rows * op->K) * sizeof(float));
}

static void digest_operand(const tl_operand *op) {
  if (!op->fp4) return;
  H_DIGEST(op->t.data, fp4_data_bytes(op->rows, op->K));
  H_DIGEST(op->t.scales, fp4_scale_bytes(op->t.format, op->rows, op->K, FP4_LAYOUT_LINEAR));
  H_DIGEST(&op->t.tensor_scale, sizeof(float));
}

/* Gaussian values with a log-normal per-row scale (gradients and activations are heavy-tailed). */
static void fill(float *x, int64_t rows, int64_t cols) {
  int64_t r, c;
  for (r = 0; r < rows; r++) {
    double s = exp(h_normal());
    for (c = 0; c < cols; c++) x[r * cols + c] = (float)(h_normal() * s);
  }
}

static float X[T_ * IN_], W[OUT_ * IN_], dY[T_ * OUT_], C[T_ * IN_], A_[T_ * IN_], B_[T_ * IN_], W_f[OUT_ * IN_];
static double ref[T_ * IN_];

/* A GEMM's output C[M,N] against the float64 product of the operands the layer left in a and b. */
static void check_gemm(const tl_operand *a, const tl_operand *b, const char *what, const char *recipe) {
  double e;
  int64_t M = a->rows, N = b->rows;
  operand_values(a, A_);
  operand_values(b, B_);
  gemm_f64(A_, B_, M, N, a->K, ref);
  e = rel_err(C, ref, M * N);
  CHECK_LE(e, 1e-5);
  if (e > 1e-5) fprintf(stderr, "  %s of %s\n", what, recipe);
  digest_operand(a);
  digest_operand(b);
  if (a->fp4) H_DIGEST(C, (size_t)(M * N) * sizeof(float));
}

/* 1. Every GEMM of every FP4 recipe against float64; the dgrad reuses the forward's 2D-scaled W. */
static void test_gemms(void) {
  tl_layer L;
  int r;
  CHECK(tl_layer_alloc(&L, T_, IN_, OUT_));
  fill(X, T_, IN_);
  fill(W, OUT_, IN_);
  fill(dY, T_, OUT_);
  for (r = 1; r < TL_NRECIPES; r++) {
    const tl_recipe *rc = &tl_recipes[r];
    uint64_t seed = h_rand();
    CHECK_EQ(FP4_OK, tl_forward(&L, rc, X, W, C, T_));
    check_gemm(&L.xq, &L.wq, "forward", rc->name);
    CHECK(L.xq.fp4 && L.wq.fp4);
    operand_values(&L.wq, W_f);
    if (rc->quest) continue; /* its backward is f32: test_quest_backward */
    CHECK_EQ(FP4_OK, tl_dgrad(&L, rc, dY, W, C, T_, seed));
    check_gemm(&L.a, &L.b, "dgrad", rc->name);
    CHECK(L.a.rows == T_ && L.a.K == OUT_ && L.b.rows == IN_ && L.b.K == OUT_);
    if (rc->w_2d) { /* W^T quantized with the same 16x16 scales: the forward's W, transposed, bit for bit */
      int64_t o, i, same = 0;
      operand_values(&L.b, B_);
      for (o = 0; o < OUT_; o++)
        for (i = 0; i < IN_; i++) same += memcmp(&B_[i * OUT_ + o], &W_f[o * IN_ + i], 4) == 0;
      CHECK_EQ(OUT_ * IN_, same);
    }
    CHECK_EQ(FP4_OK, tl_wgrad(&L, rc, dY, X, C, T_, seed));
    check_gemm(&L.a, &L.b, "wgrad", rc->name);
    CHECK(L.a.rows == OUT_ && L.a.K == T_ && L.b.rows == IN_ && L.b.K == T_);
    /* the stochastic seed matters exactly when the recipe rounds stochastically */
    {
      float C2[OUT_ * IN_];
      memcpy(C2, C, sizeof C2);
      CHECK_EQ(FP4_OK, tl_wgrad(&L, rc, dY, X, C, T_, seed + 1));
      CHECK_EQ(rc->grad_sr, memcmp(C, C2, sizeof C2) != 0);
    }
  }
  tl_layer_free(&L);
}

/* In-place float64 Walsh-Hadamard of v[0..g), Sylvester order, normalized: its own inverse. */
static void hadamard_f64(double *v, int g) {
  int h, i, j;
  for (h = 1; h < g; h <<= 1)
    for (i = 0; i < g; i += 2 * h)
      for (j = i; j < i + h; j++) {
        double a = v[j], b = v[j + h];
        v[j] = a + b;
        v[j + h] = a - b;
      }
  for (i = 0; i < g; i++) v[i] /= sqrt((double)g);
}

/* ref[M,N] = (mask o (A . B^T)) H along the rows, in float64 (mask bits as in spec §3). */
static void ste_ref(const float *A, const float *B, const uint8_t *mask, int64_t M, int64_t N, int64_t K, int g,
                    double *out) {
  int64_t i, c;
  gemm_f64(A, B, M, N, K, out);
  for (i = 0; i < M * N; i++)
    if (!((mask[i >> 3] >> (i & 7)) & 1u)) out[i] = 0.0;
  for (i = 0; i < M; i++)
    for (c = 0; c < N; c += g) hadamard_f64(out + i * N + c, g);
}

/* 2. QuEST: dX = (maskX o (dY . Q(W H^T))) H, dW = (maskW o (dY^T . Q(X H^T))) H. */
static void test_quest_backward(void) {
  const tl_recipe *rc = &tl_recipes[TL_NRECIPES - 1];
  tl_layer L;
  float dYt[OUT_ * T_], Wq[OUT_ * IN_], Wqt[IN_ * OUT_], Xqt[IN_ * T_], dW[OUT_ * IN_];
  int64_t i, j, clipped = 0;
  CHECK(rc->quest);
  CHECK(tl_layer_alloc(&L, T_, IN_, OUT_));
  fill(X, T_, IN_);
  fill(W, OUT_, IN_);
  fill(dY, T_, OUT_);
  CHECK_EQ(FP4_OK, tl_forward(&L, rc, X, W, C, T_));
  CHECK_EQ(FP4_OK, tl_backward(&L, rc, X, W, dY, C, dW, T_, h_rand()));
  /* dX */
  CHECK_EQ(FP4_OK, fp4_dequantize_f32(&L.wq.t, Wq, IN_));
  for (i = 0; i < OUT_; i++)
    for (j = 0; j < IN_; j++) Wqt[j * OUT_ + i] = Wq[i * IN_ + j];
  ste_ref(dY, Wqt, L.xq.t.mask, T_, IN_, OUT_, rc->quest_group, ref);
  CHECK_LE(rel_err(C, ref, T_ * IN_), 1e-5);
  /* dW */
  CHECK_EQ(FP4_OK, fp4_dequantize_f32(&L.xq.t, A_, IN_));
  for (i = 0; i < T_; i++)
    for (j = 0; j < IN_; j++) Xqt[j * T_ + i] = A_[i * IN_ + j];
  for (i = 0; i < T_; i++)
    for (j = 0; j < OUT_; j++) dYt[j * T_ + i] = dY[i * OUT_ + j];
  ste_ref(dYt, Xqt, L.wq.t.mask, OUT_, IN_, T_, rc->quest_group, ref);
  CHECK_LE(rel_err(dW, ref, OUT_ * IN_), 1e-5);
  /* the mask does something on heavy-tailed activations (QuEST clips near 3 sigma) */
  for (i = 0; i < T_ * IN_; i++) clipped += !((L.xq.t.mask[i >> 3] >> (i & 7)) & 1u);
  CHECK(clipped > 0 && clipped < T_ * IN_ / 4);
  H_DIGEST(L.xq.t.mask, fp4_mask_bytes(T_, IN_));
  H_DIGEST(L.wq.t.mask, fp4_mask_bytes(OUT_, IN_));
  tl_layer_free(&L);
}

/* 3. Unbiased stochastic rounding. The gradient is built so that every NVFP4 block scale is exact
 * (block maxima 6 or 3, the tensor amax 6): then nothing saturates and E[Q(dY)] = dY up to
 * rounding of the scale arithmetic (~1e-7), and the mean of n dgrads must approach dY . W_q at the
 * 1/sqrt(n) rate. (With a general gradient, the E4M3 rounding of a block scale can clip the block's
 * largest value: a bias, printed below for information; Four Over Six's choice between its two
 * candidates, made after rounding, is another.) */
static void exact_scale_gradient(float *g, int64_t rows, int64_t cols) {
  int64_t r, b, j;
  for (r = 0; r < rows; r++)
    for (b = 0; b < cols; b += 16) {
      float bmax = 6.0f * fp4__exp2i(-(int)(h_rand() % 2));
      for (j = 0; j < 16; j++) g[r * cols + b + j] = (float)((2.0 * h_uniform() - 1.0) * bmax);
      g[r * cols + b + (int64_t)(h_rand() % 16)] = (h_rand() & 1) ? bmax : -bmax;
    }
  g[0] = 6.0f;
}

/* Relative error of the mean dgrad over seeds [0, n) at n = 16, 64, 256, 1024 (up to nmax). */
static void sr_errors(tl_layer *L, const tl_recipe *rc, uint64_t seed0, int nmax, double *err) {
  static float acc[T_ * IN_], mean[T_ * IN_];
  int n = 0, k = 0, target, i;
  memset(acc, 0, sizeof acc);
  for (target = 16; target <= nmax; target *= 4) {
    for (; n < target; n++) {
      CHECK_EQ(FP4_OK, tl_dgrad(L, rc, dY, W, C, T_, seed0 + (uint64_t)n));
      for (i = 0; i < T_ * IN_; i++) acc[i] += C[i];
    }
    for (i = 0; i < T_ * IN_; i++) mean[i] = acc[i] / (float)n;
    err[k++] = rel_err(mean, ref, T_ * IN_);
  }
}

static void test_sr_unbiased(void) {
  const tl_recipe *rc = &tl_recipes[2]; /* nvfp4 sr: NV_6 with stochastic gradients */
  tl_layer L;
  double err[4];
  int i;
  uint64_t seed0 = h_rand();
  CHECK(rc->grad_sr && rc->rule == FP4_NV_6);
  CHECK(tl_layer_alloc(&L, T_, IN_, OUT_));
  for (i = 0; i < OUT_ * IN_; i++) W[i] = (float)h_normal(); /* light tails: many independent terms */
  exact_scale_gradient(dY, T_, OUT_);
  /* the reference: dY (unrounded) times the weight operand, which is deterministic (round to nearest) */
  CHECK_EQ(FP4_OK, tl_dgrad(&L, rc, dY, W, C, T_, seed0));
  operand_values(&L.b, B_);
  gemm_f64(dY, B_, T_, IN_, OUT_, ref);
  sr_errors(&L, rc, seed0, 256, err);
  printf("stochastic rounding, exact scales: mean dgrad error at n = 16, 64, 256: %.3e %.3e %.3e\n", err[0], err[1],
         err[2]);
  CHECK(err[0] / err[1] > 1.6 && err[0] / err[1] < 2.5);
  CHECK(err[1] / err[2] > 1.6 && err[1] / err[2] < 2.5);
  CHECK_LE(err[2], 0.03);
  /* for information: a general heavy-tailed gradient, where the scale rounding clips some block maxima */
  fill(dY, T_, OUT_);
  CHECK_EQ(FP4_OK, tl_dgrad(&L, rc, dY, W, C, T_, seed0));
  operand_values(&L.b, B_);
  gemm_f64(dY, B_, T_, IN_, OUT_, ref);
  sr_errors(&L, rc, seed0, 256, err);
  printf("stochastic rounding, general gradient (NV_6): n = 16, 64, 256: %.3e %.3e %.3e\n", err[0], err[1], err[2]);
  tl_layer_free(&L);
}

/* 4. The wgrad rotation cancels: f32 quantizers with the recipe's transpose and Hadamard. */
static void test_hadamard_cancels(void) {
  tl_operand a, b;
  float Cr[OUT_ * IN_], Cu[OUT_ * IN_];
  double e_rot, e_one;
  int k;
  CHECK(tl_operand_alloc(&a, T_ * IN_) && tl_operand_alloc(&b, T_ * IN_));
  fill(X, T_, IN_);
  fill(dY, T_, OUT_);
  for (k = 0; k < 4; k++) {
    /* the 4/6 recipe's wgrad quantizers, rounding switched off */
    tl_quant qa = tl_quant_for(&tl_recipes[3], TL_WGRAD_DY, 1), qb = tl_quant_for(&tl_recipes[3], TL_WGRAD_X, 0), qu;
    CHECK(qa.cfg.hadamard == 16 && qa.cfg.transpose && qb.cfg.hadamard == 16);
    qa.fp4 = qb.fp4 = 0;
    if (k >= 1) { /* random signs drawn from a fresh seed, then larger groups */
      uint64_t s = h_rand();
      qa.cfg.hadamard_signs = qb.cfg.hadamard_signs = FP4_SIGNS_RANDOM;
      qa.cfg.seed = qb.cfg.seed = s;
      qa.cfg.hadamard = qb.cfg.hadamard = 16 << (k - 1); /* 16, 32, 64 */
    }
    qu = qa;
    qu.cfg.hadamard = 0;
    CHECK_EQ(FP4_OK, tl_prepare(&qa, dY, T_, OUT_, &a));
    CHECK_EQ(FP4_OK, tl_prepare(&qb, X, T_, IN_, &b));
    CHECK_EQ(FP4_OK, tl_gemm(&a, &b, Cr));
    /* the operand really is rotated: it differs from the plain transpose */
    CHECK(fabsf(a.f[0] - dY[0]) + fabsf(a.f[1] - dY[OUT_]) > 0.0f);
    CHECK_EQ(FP4_OK, tl_prepare(&qu, dY, T_, OUT_, &a));
    CHECK_EQ(FP4_OK, tl_gemm(&a, &b, Cu)); /* unrotated dY^T against rotated X^T: must not cancel */
    {
      double refr[OUT_ * IN_];
      int64_t i, j, t;
      for (i = 0; i < OUT_; i++)
        for (j = 0; j < IN_; j++) {
          double s = 0.0;
          for (t = 0; t < T_; t++) s += (double)dY[t * OUT_ + i] * (double)X[t * IN_ + j];
          refr[i * IN_ + j] = s;
        }
      e_rot = rel_err(Cr, refr, OUT_ * IN_);
      e_one = rel_err(Cu, refr, OUT_ * IN_);
    }
    CHECK_LE(e_rot, 2e-6);
    CHECK(e_one > 0.1);
  }
  tl_operand_free(&a);
  tl_operand_free(&b);
}

/* 5. Short training: Four Over Six within a factor of f32 (bound stated here: 1.5x the f32 loss). */
#define TRAIN_FACTOR 1.5
static void test_training(void) {
  tl_task k;
  double c32[3], c46[3];
  fp4_status st;
  memset(&k, 0, sizeof k);
  k.din = 32;
  k.dh = 64;
  k.dout = 16;
  k.T = 32;
  k.teval = 128;
  k.steps = 120;
  k.eval_every = 60;
  k.lr = 1e-2f;
  k.noise = 0.1f;
  k.seed = h_rand();
  CHECK_EQ(0, tl_train(&k, &tl_recipes[0], c32, &st));
  CHECK_EQ(0, tl_train(&k, &tl_recipes[3], c46, &st));
  printf("training %d steps: f32 %.4f -> %.4f, nvfp4 4/6 %.4f -> %.4f (ratio %.3f, bound %.1f)\n", k.steps, c32[0],
         c32[2], c46[0], c46[2], c46[2] / c32[2], TRAIN_FACTOR);
  CHECK(c32[2] < 0.25 * c32[0]);
  CHECK(c46[2] < 0.25 * c46[0]);
  CHECK_LE(c46[2], TRAIN_FACTOR * c32[2]);
}

int main(void) {
  h_rand_state = h_seed();
  test_gemms();
  test_quest_backward();
  test_sr_unbiased();
  test_hadamard_cancels();
  test_training();
  return h_finish();
}
