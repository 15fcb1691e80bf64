/* SPDX-License-Identifier: MIT */
/*
 * fp4_ext.cu - a tiny PyTorch C++/CUDA extension over fp4: quantize, dequantize and the W4A4 / W4A16
 * GEMMs. CUDA tensors go through fp4_cuda.cuh on PyTorch's current stream; CPU tensors go through the
 * scalar reference fp4.h, so the same call on the CPU gives the bytes the GPU must match.
 * Built on the fly by test_fp4_ext.py with torch.utils.cpp_extension.load (see its header).
 *
 * A quantized tensor travels in Python as (data, scales, tensor_scale, amax): data uint8 [rows, cols/2]
 * (element 2j in the low nibble), scales uint8 [rows, cols/block] (row-major, "linear"), the tensor decode
 * scale (NVFP4: S_dec; MXFP4: 1, or 1/3 for mx_absmax3) and the NVFP4 amax; the rule name comes along
 * separately ("nv_4over6_mse", "mx_ocp", ... as fp4_rule_name prints them).
 */
#include <torch/extension.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include <string>
#include <tuple>

#include "fp4_cuda.cuh"

namespace {

fp4_rule rule_from_name(const std::string &name) {
  for (int r = 1; r < FP4_RULE_COUNT; r++)
    if (name == fp4_rule_name((fp4_rule)r)) return (fp4_rule)r;
  TORCH_CHECK(false, "fp4: unknown rule '", name, "'");
  return FP4_RULE_DEFAULT;
}

void check(fp4_status st, const char *what) { TORCH_CHECK(st == FP4_OK, "fp4: ", what, ": ", fp4_status_string(st)); }

fp4_dtype dtype_of(const torch::Tensor &x) {
  if (x.scalar_type() == torch::kFloat32) return FP4_F32;
  if (x.scalar_type() == torch::kBFloat16) return FP4_BF16;
  TORCH_CHECK(x.scalar_type() == torch::kFloat16, "fp4: expected float32, bfloat16 or float16");
  return FP4_F16;
}

/* A view of (data, scales, tensor_scale, amax) as an fp4_tensor (the buffers stay the caller's). */
fp4_tensor view(const torch::Tensor &data, const torch::Tensor &scales, fp4_rule rule, double tensor_scale,
                double amax) {
  TORCH_CHECK(data.dim() == 2 && data.scalar_type() == torch::kUInt8 && data.is_contiguous(), "fp4: bad data");
  TORCH_CHECK(scales.scalar_type() == torch::kUInt8 && scales.is_contiguous() && scales.device() == data.device(),
              "fp4: bad scales");
  fp4_tensor t;
  fp4_tensor_init(&t, data.data_ptr<uint8_t>(), scales.data_ptr<uint8_t>(), FP4_LAYOUT_LINEAR);
  t.format = fp4_rule_format(rule);
  t.rule = rule;
  t.rows = data.size(0);
  t.cols = data.size(1) * 2;
  t.tensor_scale = (float)tensor_scale;
  t.amax = (float)amax;
  TORCH_CHECK(scales.numel() == (int64_t)fp4_scale_bytes(t.format, t.rows, t.cols, FP4_LAYOUT_LINEAR),
              "fp4: scales do not fit data");
  return t;
}

/* quantize(x, rule, hadamard=0, rht16=False, bf16_rotate=False, scale_2d=False, amax=-1)
 *   -> (data, scales, tensor_scale, amax). amax >= 0: a calibrated NVFP4 amax (no host sync on CUDA). */
std::tuple<torch::Tensor, torch::Tensor, double, double> quantize(const torch::Tensor &x, const std::string &rule,
                                                                  int64_t hadamard, bool rht16, bool bf16_rotate,
                                                                  bool scale_2d, double amax) {
  TORCH_CHECK(x.dim() == 2 && x.is_contiguous(), "fp4: expected a contiguous 2-D tensor");
  fp4_quant_config cfg = fp4_config_default(fp4_rule_format(rule_from_name(rule)));
  cfg.rule = rule_from_name(rule);
  cfg.hadamard = (int)hadamard;
  cfg.hadamard_bf16 = bf16_rotate;
  cfg.scale_2d = scale_2d;
  if (rht16) {
    cfg.hadamard_signs = FP4_SIGNS_USER;
    fp4_hadamard_signs_rht16(cfg.hadamard_sign_bits);
  }
  if (amax >= 0.0) {
    cfg.has_amax = 1;
    cfg.amax = (float)amax;
  }
  const int64_t rows = x.size(0), cols = x.size(1);
  const int blk = fp4_format_block(cfg.format);
  TORCH_CHECK(cols % blk == 0, "fp4: cols must be a multiple of ", blk);
  auto u8 = torch::TensorOptions().dtype(torch::kUInt8).device(x.device());
  torch::Tensor data = torch::empty({rows, cols / 2}, u8), scales = torch::empty({rows, cols / blk}, u8);
  fp4_tensor t;
  fp4_tensor_init(&t, data.data_ptr<uint8_t>(), scales.data_ptr<uint8_t>(), FP4_LAYOUT_LINEAR);
  const fp4_dtype dt = dtype_of(x);
  fp4_status st;
  if (x.is_cuda()) {
    const c10::cuda::CUDAGuard guard(x.device());
    cudaStream_t s = at::cuda::getCurrentCUDAStream(x.device().index());
    torch::Tensor ws = torch::empty({(int64_t)fp4_cuda_quantize_workspace_size(rows, cols, &cfg)}, u8);
    void *w = ws.data_ptr();
    size_t wb = (size_t)ws.numel();
    st = dt == FP4_F32 ? fp4_cuda_quantize_f32(x.data_ptr<float>(), rows, cols, cols, &cfg, &t, w, wb, s)
       : dt == FP4_BF16 ? fp4_cuda_quantize_bf16((const uint16_t *)x.data_ptr(), rows, cols, cols, &cfg, &t, w, wb, s)
                        : fp4_cuda_quantize_f16((const uint16_t *)x.data_ptr(), rows, cols, cols, &cfg, &t, w, wb, s);
    check(st, "quantize");
    /* waits for the stream only to learn a device-computed amax and the data-dependent status */
    st = fp4_cuda_quantize_result(&t, w, s);
  } else {
    st = dt == FP4_F32 ? fp4_quantize_f32(x.data_ptr<float>(), rows, cols, cols, &cfg, &t, NULL, 0)
       : dt == FP4_BF16 ? fp4_quantize_bf16((const uint16_t *)x.data_ptr(), rows, cols, cols, &cfg, &t, NULL, 0)
                        : fp4_quantize_f16((const uint16_t *)x.data_ptr(), rows, cols, cols, &cfg, &t, NULL, 0);
  }
  TORCH_CHECK(st == FP4_OK || st == FP4_ERR_NONFINITE, "fp4: quantize: ", fp4_status_string(st));
  return {data, scales, (double)t.tensor_scale, (double)t.amax};
}

/* dequantize(data, scales, tensor_scale, amax, rule) -> float32 [rows, cols] (quantize's tuple, then the rule) */
torch::Tensor dequantize(const torch::Tensor &data, const torch::Tensor &scales, double tensor_scale, double amax,
                         const std::string &rule) {
  fp4_tensor t = view(data, scales, rule_from_name(rule), tensor_scale, amax);
  torch::Tensor y = torch::empty({t.rows, t.cols}, torch::TensorOptions().dtype(torch::kFloat32).device(data.device()));
  if (data.is_cuda()) {
    const c10::cuda::CUDAGuard guard(data.device());
    check(fp4_cuda_dequantize_f32(&t, y.data_ptr<float>(), t.cols, at::cuda::getCurrentCUDAStream(data.device().index())),
          "dequantize");
  } else {
    check(fp4_dequantize_f32(&t, y.data_ptr<float>(), t.cols), "dequantize");
  }
  return y;
}

/* gemm_w4a4(A..., B..., rule, fast=False) -> float32 [M, N] = A . B^T (both quantized with rule's format).
 * fast: the device's native FP4 MMA (not bit-reproducible); the CPU path is always fp4.h's. */
torch::Tensor gemm_w4a4(const torch::Tensor &a_data, const torch::Tensor &a_scales, double a_ts, double a_amax,
                        const torch::Tensor &b_data, const torch::Tensor &b_scales, double b_ts, double b_amax,
                        const std::string &rule, bool fast) {
  const fp4_rule r = rule_from_name(rule);
  fp4_tensor A = view(a_data, a_scales, r, a_ts, a_amax), B = view(b_data, b_scales, r, b_ts, b_amax);
  TORCH_CHECK(a_data.device() == b_data.device(), "fp4: operands on different devices");
  torch::Tensor C =
      torch::empty({A.rows, B.rows}, torch::TensorOptions().dtype(torch::kFloat32).device(a_data.device()));
  if (a_data.is_cuda()) {
    const c10::cuda::CUDAGuard guard(a_data.device());
    cudaStream_t s = at::cuda::getCurrentCUDAStream(a_data.device().index());
    const size_t wb = fp4_cuda_gemm_workspace_size(A.rows, B.rows, A.cols);
    torch::Tensor ws = torch::empty({(int64_t)wb}, torch::TensorOptions().dtype(torch::kUInt8).device(a_data.device()));
    void *w = wb ? ws.data_ptr() : NULL;
    check(fast ? fp4_cuda_gemm_w4a4_fast_f32(&A, &B, 1.0f, 0.0f, C.data_ptr<float>(), B.rows, w, wb, s)
               : fp4_cuda_gemm_w4a4_f32(&A, &B, 1.0f, 0.0f, C.data_ptr<float>(), B.rows, w, wb, s),
          "gemm_w4a4");
  } else {
    check(fp4_gemm_w4a4_f32(&A, &B, 1.0f, 0.0f, C.data_ptr<float>(), B.rows, NULL, 0), "gemm_w4a4");
  }
  return C;
}

/* gemm_w4a16(x, B..., rule) -> float32 [M, N] = x . B^T, x float32/bfloat16/float16 [M, K] */
torch::Tensor gemm_w4a16(const torch::Tensor &x, const torch::Tensor &b_data, const torch::Tensor &b_scales, double b_ts,
                         double b_amax, const std::string &rule) {
  fp4_tensor B = view(b_data, b_scales, rule_from_name(rule), b_ts, b_amax);
  TORCH_CHECK(x.dim() == 2 && x.is_contiguous() && x.size(1) == B.cols && x.device() == b_data.device(),
              "fp4: x must be a contiguous [M, K] tensor on the weights' device");
  const int64_t M = x.size(0), K = x.size(1);
  const fp4_dtype dt = dtype_of(x);
  const void *xp = x.data_ptr();
  torch::Tensor C = torch::empty({M, B.rows}, torch::TensorOptions().dtype(torch::kFloat32).device(x.device()));
  float *c = C.data_ptr<float>();
  fp4_status st;
  if (x.is_cuda()) {
    const c10::cuda::CUDAGuard guard(x.device());
    cudaStream_t s = at::cuda::getCurrentCUDAStream(x.device().index());
    const size_t wb = fp4_cuda_gemm_workspace_size(M, B.rows, K);
    torch::Tensor ws = torch::empty({(int64_t)wb}, torch::TensorOptions().dtype(torch::kUInt8).device(x.device()));
    void *w = wb ? ws.data_ptr() : NULL;
    st = dt == FP4_F32 ? fp4_cuda_gemm_w4a16_f32_f32((const float *)xp, M, K, &B, 1.0f, 0.0f, c, B.rows, w, wb, s)
       : dt == FP4_BF16 ? fp4_cuda_gemm_w4a16_bf16_f32((const uint16_t *)xp, M, K, &B, 1.0f, 0.0f, c, B.rows, w, wb, s)
                        : fp4_cuda_gemm_w4a16_f16_f32((const uint16_t *)xp, M, K, &B, 1.0f, 0.0f, c, B.rows, w, wb, s);
  } else {
    st = dt == FP4_F32 ? fp4_gemm_w4a16_f32_f32((const float *)xp, M, K, &B, 1.0f, 0.0f, c, B.rows, NULL, 0)
       : dt == FP4_BF16 ? fp4_gemm_w4a16_bf16_f32((const uint16_t *)xp, M, K, &B, 1.0f, 0.0f, c, B.rows, NULL, 0)
                        : fp4_gemm_w4a16_f16_f32((const uint16_t *)xp, M, K, &B, 1.0f, 0.0f, c, B.rows, NULL, 0);
  }
  check(st, "gemm_w4a16");
  return C;
}

} // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "fp4: MXFP4 / NVFP4 quantization and GEMMs (CUDA: fp4_cuda.cuh; CPU: the scalar reference fp4.h)";
  m.def("quantize", &quantize, "quantize a 2-D tensor: (data, scales, tensor_scale, amax)", py::arg("x"),
        py::arg("rule"), py::arg("hadamard") = 0, py::arg("rht16") = false, py::arg("bf16_rotate") = false,
        py::arg("scale_2d") = false, py::arg("amax") = -1.0);
  m.def("dequantize", &dequantize, "dequantize to float32", py::arg("data"), py::arg("scales"),
        py::arg("tensor_scale"), py::arg("amax"), py::arg("rule"));
  m.def("gemm_w4a4", &gemm_w4a4, "A . B^T with both operands FP4 (float32 out)", py::arg("a_data"),
        py::arg("a_scales"), py::arg("a_tensor_scale"), py::arg("a_amax"), py::arg("b_data"), py::arg("b_scales"),
        py::arg("b_tensor_scale"), py::arg("b_amax"), py::arg("rule"), py::arg("fast") = false);
  m.def("gemm_w4a16", &gemm_w4a16, "x . B^T with FP4 weights (float32 out)", py::arg("x"), py::arg("b_data"),
        py::arg("b_scales"), py::arg("b_tensor_scale"), py::arg("b_amax"), py::arg("rule"));
  m.attr("version") = FP4_VERSION_STRING;
}
