// ops/norm.cpp — batch-norm and LRN fronts (see ops/norm.h).
#include "norm.h"

#include <cmath>

namespace pcn {

OpTable<BnFwdTrainFn> batch_norm_forward_train_table{"batch_norm_forward_train", cpu::bn_forward_train, nullptr};
OpTable<BnFwdInferFn> batch_norm_forward_infer_table{"batch_norm_forward_infer", cpu::bn_forward_infer, nullptr};
OpTable<BnBwdFn> batch_norm_backward_table{"batch_norm_backward", cpu::bn_backward, nullptr};
OpTable<BnUpdateRunningFn> batch_norm_update_running_table{"batch_norm_update_running_", cpu::bn_update_running,
                                                           nullptr};
OpTable<LrnFwdFn> lrn_forward_table{"lrn_forward", cpu::lrn_forward, nullptr};
OpTable<LrnBwdFn> lrn_backward_table{"lrn_backward", cpu::lrn_backward, nullptr};

namespace {

constexpr const char* kBn = "batch_norm";
constexpr const char* kLrn = "lrn";

// x (..., C), rank >= 2, float32, C >= 1. Fills M and C.
BatchNormParams bn_params(const Tensor& x, const char* arg, bool need_rows) {
  check_float(x, kBn, arg);
  if (x.ndim() < 2)
    PCN_THROW(ValueError, kBn << ": " << arg << " must have rank >= 2 (N, ..., C), got shape " << shape_str(x.shape()));
  const int64_t n = checked_numel(x.shape(), kBn);
  BatchNormParams p;
  p.C = x.dim(-1);
  if (p.C < 1) PCN_THROW(ValueError, kBn << ": " << arg << " has no channels (shape " << shape_str(x.shape()) << ")");
  p.M = n / p.C;
  if (need_rows && p.M < 1)
    PCN_THROW(ValueError, kBn << ": batch statistics need at least one element per channel, got " << arg
                              << " shape " << shape_str(x.shape()));
  return p;
}

// A per-channel vector: float32, shape (C,), same device as x; returns it contiguous.
Tensor channel_vec(const Tensor& v, const Tensor& x, int64_t C, const char* op, const char* arg) {
  check_float(v, op, arg);
  check_same_device(v, x, op);
  if (v.ndim() != 1 || v.dim(0) != C)
    PCN_THROW(ValueError, op << ": " << arg << " must have shape (" << C << ",) to match the " << C
                             << " channels of the input, got " << shape_str(v.shape()));
  return v.contiguous();
}

void check_eps(double eps) {
  if (!(eps >= 0.0) || !std::isfinite(eps))
    PCN_THROW(ValueError, kBn << ": epsilon must be finite and >= 0, got " << eps);
}

const float* opt_ptr(const std::optional<Tensor>& t) { return t ? t->data<float>() : nullptr; }

}  // namespace

std::tuple<Tensor, Tensor, Tensor> batch_norm_forward_train(const Tensor& x0, const std::optional<Tensor>& gamma0,
                                                            const std::optional<Tensor>& beta0, double eps) {
  BatchNormParams p = bn_params(x0, "x", true);
  check_eps(eps);
  p.eps = float(eps);
  std::optional<Tensor> gamma, beta;
  if (gamma0) gamma = channel_vec(*gamma0, x0, p.C, kBn, "gamma");
  if (beta0) beta = channel_vec(*beta0, x0, p.C, kBn, "beta");
  const Tensor x = x0.contiguous();
  Tensor y = Tensor::empty(x.shape(), DType::F32, x.device());
  Tensor mean = Tensor::empty({p.C}, DType::F32, x.device());
  Tensor var = Tensor::empty({p.C}, DType::F32, x.device());
  batch_norm_forward_train_table.get(x.device())(p, x.data<float>(), opt_ptr(gamma), opt_ptr(beta), y.data<float>(),
                                                 mean.data<float>(), var.data<float>());
  return {y, mean, var};
}

Tensor batch_norm_forward_infer(const Tensor& x0, const std::optional<Tensor>& gamma0,
                                const std::optional<Tensor>& beta0, const Tensor& mean0, const Tensor& var0,
                                double eps) {
  BatchNormParams p = bn_params(x0, "x", false);
  check_eps(eps);
  p.eps = float(eps);
  std::optional<Tensor> gamma, beta;
  if (gamma0) gamma = channel_vec(*gamma0, x0, p.C, kBn, "gamma");
  if (beta0) beta = channel_vec(*beta0, x0, p.C, kBn, "beta");
  const Tensor mean = channel_vec(mean0, x0, p.C, kBn, "mean");
  const Tensor var = channel_vec(var0, x0, p.C, kBn, "variance");
  Tensor y = Tensor::empty(x0.shape(), DType::F32, x0.device());
  if (p.M == 0) return y;
  const Tensor x = x0.contiguous();
  batch_norm_forward_infer_table.get(x.device())(p, x.data<float>(), opt_ptr(gamma), opt_ptr(beta),
                                                 mean.data<float>(), var.data<float>(), y.data<float>());
  return y;
}

std::tuple<Tensor, Tensor, Tensor> batch_norm_backward(const Tensor& dy0, const Tensor& x0,
                                                       const std::optional<Tensor>& gamma0, const Tensor& mean0,
                                                       const Tensor& var0, double eps) {
  BatchNormParams p = bn_params(x0, "x", true);
  check_float(dy0, kBn, "dy");
  check_same_device(dy0, x0, kBn);
  if (dy0.shape() != x0.shape())
    PCN_THROW(ValueError, kBn << " backward: dy shape " << shape_str(dy0.shape()) << " differs from x shape "
                              << shape_str(x0.shape()));
  check_eps(eps);
  p.eps = float(eps);
  std::optional<Tensor> gamma;
  if (gamma0) gamma = channel_vec(*gamma0, x0, p.C, kBn, "gamma");
  const Tensor mean = channel_vec(mean0, x0, p.C, kBn, "mean");
  const Tensor var = channel_vec(var0, x0, p.C, kBn, "variance");
  const Tensor x = x0.contiguous(), dy = dy0.contiguous();
  Tensor dx = Tensor::empty(x.shape(), DType::F32, x.device());
  Tensor dgamma = Tensor::empty({p.C}, DType::F32, x.device());
  Tensor dbeta = Tensor::empty({p.C}, DType::F32, x.device());
  batch_norm_backward_table.get(x.device())(p, dy.data<float>(), x.data<float>(), opt_ptr(gamma), mean.data<float>(),
                                            var.data<float>(), dx.data<float>(), dgamma.data<float>(),
                                            dbeta.data<float>());
  return {dx, dgamma, dbeta};
}

void batch_norm_update_running_(Tensor& rm, Tensor& rv, const Tensor& mean0, const Tensor& var0, double momentum) {
  check_float(rm, kBn, "running_mean");
  if (rm.ndim() != 1)
    PCN_THROW(ValueError, kBn << ": running_mean must be 1-D (C,), got shape " << shape_str(rm.shape()));
  check_contiguous(rm, kBn, "running_mean");
  check_contiguous(rv, kBn, "running_var");
  BatchNormParams p;
  p.C = rm.dim(0);
  channel_vec(rv, rm, p.C, kBn, "running_var");
  const Tensor mean = channel_vec(mean0, rm, p.C, kBn, "mean");
  const Tensor var = channel_vec(var0, rm, p.C, kBn, "variance");
  if (!std::isfinite(momentum)) PCN_THROW(ValueError, kBn << ": momentum must be finite, got " << momentum);
  p.momentum = float(momentum);
  if (p.C == 0) return;
  batch_norm_update_running_table.get(rm.device())(p, rm.data<float>(), rv.data<float>(), mean.data<float>(),
                                                   var.data<float>());
}

static LrnParams lrn_params(const Tensor& x, int64_t radius, double bias, double alpha, double beta) {
  check_float(x, kLrn, "input");
  if (x.ndim() != 4)
    PCN_THROW(ValueError, kLrn << ": input must be 4-D (N,H,W,C), got shape " << shape_str(x.shape()));
  const int64_t n = checked_numel(x.shape(), kLrn);
  if (radius < 0) PCN_THROW(ValueError, kLrn << ": depth_radius must be >= 0, got " << radius);
  if (!std::isfinite(bias) || !std::isfinite(alpha) || !std::isfinite(beta))
    PCN_THROW(ValueError, kLrn << ": bias, alpha and beta must be finite, got " << bias << ", " << alpha << ", "
                               << beta);
  LrnParams p;
  p.C = x.dim(3);
  if (p.C < 1) PCN_THROW(ValueError, kLrn << ": input has no channels (shape " << shape_str(x.shape()) << ")");
  p.M = n / p.C;
  p.radius = radius;
  p.bias = float(bias);
  p.alpha = float(alpha);
  p.beta = float(beta);
  return p;
}

Tensor lrn_forward(const Tensor& x0, int64_t radius, double bias, double alpha, double beta) {
  const LrnParams p = lrn_params(x0, radius, bias, alpha, beta);
  Tensor y = Tensor::empty(x0.shape(), DType::F32, x0.device());
  if (p.M == 0) return y;
  const Tensor x = x0.contiguous();
  lrn_forward_table.get(x.device())(p, x.data<float>(), y.data<float>());
  return y;
}

Tensor lrn_backward(const Tensor& dy0, const Tensor& x0, int64_t radius, double bias, double alpha, double beta) {
  const LrnParams p = lrn_params(x0, radius, bias, alpha, beta);
  check_float(dy0, kLrn, "dy");
  check_same_device(dy0, x0, kLrn);
  if (dy0.shape() != x0.shape())
    PCN_THROW(ValueError, kLrn << " backward: dy shape " << shape_str(dy0.shape()) << " differs from input shape "
                               << shape_str(x0.shape()));
  Tensor dx = Tensor::empty(x0.shape(), DType::F32, x0.device());
  if (p.M == 0) return dx;
  const Tensor x = x0.contiguous(), dy = dy0.contiguous();
  lrn_backward_table.get(x.device())(p, dy.data<float>(), x.data<float>(), dx.data<float>());
  return dx;
}

}  // namespace pcn
