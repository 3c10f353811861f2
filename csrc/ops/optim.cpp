// ops/optim.cpp — fronts of the optimizer updates (see ops/optim.h).
#include "optim.h"

#include <cmath>

namespace pcn {

namespace cpu {
void optim_update(const OptimParams&, float*, const float*, float*, float*, float*);
}
OpTable<OptimFn> optim_table{"optimizer_update", cpu::optim_update, nullptr};

// Every buffer: float32, contiguous (updated in place), same shape and device as param.
static void check_buf(const Tensor& param, const Tensor& t, const char* op, const char* arg) {
  check_float(t, op, arg);
  if (t.shape() != param.shape())
    PCN_THROW(ValueError, op << ": " << arg << " shape " << shape_str(t.shape()) << " does not match param shape "
                             << shape_str(param.shape()));
  check_same_device(param, t, op);
}
static void check_state(const Tensor& param, const Tensor& t, const char* op, const char* arg) {
  check_buf(param, t, op, arg);
  check_contiguous(t, op, arg);
}
static void check_finite_param(float v, const char* op, const char* name) {
  PCN_CHECK(std::isfinite(v), op << ": " << name << " must be finite, got " << v);
}

void sgd_update_(Tensor& param, const Tensor& grad0, std::optional<Tensor> velocity, float lr, float momentum,
                 bool nesterov) {
  const char* op = "sgd_update_";
  check_float(param, op, "param");
  check_contiguous(param, op, "param");
  check_buf(param, grad0, op, "grad");
  check_finite_param(lr, op, "lr");
  PCN_CHECK(momentum >= 0.f && momentum <= 1.f, op << ": momentum must be in [0, 1], got " << momentum);
  const bool use_v = momentum != 0.f;
  if (use_v) {
    PCN_CHECK(velocity && velocity->defined(), op << ": momentum " << momentum << " needs a velocity buffer, got None");
    check_state(param, *velocity, op, "velocity");
  }
  const Tensor grad = grad0.contiguous();
  OptimParams p;
  p.kind = OptimKind::Sgd; p.n = param.numel(); p.lr = lr; p.momentum = momentum; p.nesterov = nesterov;
  if (p.n)
    optim_table.get(param.device())(p, param.data<float>(), grad.data<float>(),
                                    use_v ? velocity->data<float>() : nullptr, nullptr, nullptr);
}

void adam_update_(Tensor& param, const Tensor& grad0, Tensor& m, Tensor& v, float lr, float beta1, float beta2,
                  float eps, int64_t step, std::optional<Tensor> vhat) {
  const char* op = "adam_update_";
  check_float(param, op, "param");
  check_contiguous(param, op, "param");
  check_buf(param, grad0, op, "grad");
  check_state(param, m, op, "m");
  check_state(param, v, op, "v");
  const bool ams = vhat && vhat->defined();
  if (ams) check_state(param, *vhat, op, "vhat");
  check_finite_param(lr, op, "lr");
  PCN_CHECK(beta1 >= 0.f && beta1 < 1.f, op << ": beta_1 must be in [0, 1), got " << beta1);
  PCN_CHECK(beta2 >= 0.f && beta2 < 1.f, op << ": beta_2 must be in [0, 1), got " << beta2);
  PCN_CHECK(eps >= 0.f, op << ": epsilon must be >= 0, got " << eps);
  PCN_CHECK(step >= 1, op << ": step must be >= 1 (the 1-based number of this update), got " << step);
  const Tensor grad = grad0.contiguous();
  OptimParams p;
  p.kind = OptimKind::Adam; p.n = param.numel(); p.lr = lr; p.beta1 = beta1; p.beta2 = beta2; p.eps = eps;
  p.amsgrad = ams;
  // Keras: alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t), computed in the variable dtype (float32)
  const float t = float(step);
  const float b1p = std::pow(beta1, t), b2p = std::pow(beta2, t);
  p.alpha = lr * std::sqrt(1.f - b2p) / (1.f - b1p);
  if (p.n)
    optim_table.get(param.device())(p, param.data<float>(), grad.data<float>(), m.data<float>(), v.data<float>(),
                                    ams ? vhat->data<float>() : nullptr);
}

void rmsprop_update_(Tensor& param, const Tensor& grad0, Tensor& velocity, std::optional<Tensor> average_grad,
                     std::optional<Tensor> momentum_buf, float lr, float rho, float momentum, float eps,
                     bool centered) {
  const char* op = "rmsprop_update_";
  check_float(param, op, "param");
  check_contiguous(param, op, "param");
  check_buf(param, grad0, op, "grad");
  check_state(param, velocity, op, "velocity");
  check_finite_param(lr, op, "lr");
  PCN_CHECK(rho >= 0.f && rho <= 1.f, op << ": rho must be in [0, 1], got " << rho);
  PCN_CHECK(momentum >= 0.f, op << ": momentum must be >= 0, got " << momentum);
  if (centered) {
    PCN_CHECK(average_grad && average_grad->defined(), op << ": centered=True needs an average_grad buffer, got None");
    check_state(param, *average_grad, op, "average_grad");
  }
  const bool use_m = momentum > 0.f;
  if (use_m) {
    PCN_CHECK(momentum_buf && momentum_buf->defined(),
              op << ": momentum " << momentum << " needs a momentum_buf buffer, got None");
    check_state(param, *momentum_buf, op, "momentum_buf");
  }
  const Tensor grad = grad0.contiguous();
  OptimParams p;
  p.kind = OptimKind::RmsProp; p.n = param.numel(); p.lr = lr; p.rho = rho; p.momentum = momentum; p.eps = eps;
  p.centered = centered;
  if (p.n)
    optim_table.get(param.device())(p, param.data<float>(), grad.data<float>(), velocity.data<float>(),
                                    centered ? average_grad->data<float>() : nullptr,
                                    use_m ? momentum_buf->data<float>() : nullptr);
}

void adagrad_update_(Tensor& param, const Tensor& grad0, Tensor& accumulator, float lr, float eps) {
  const char* op = "adagrad_update_";
  check_float(param, op, "param");
  check_contiguous(param, op, "param");
  check_buf(param, grad0, op, "grad");
  check_state(param, accumulator, op, "accumulator");
  check_finite_param(lr, op, "lr");
  PCN_CHECK(eps >= 0.f, op << ": epsilon must be >= 0, got " << eps);
  const Tensor grad = grad0.contiguous();
  OptimParams p;
  p.kind = OptimKind::Adagrad; p.n = param.numel(); p.lr = lr; p.eps = eps;
  if (p.n)
    optim_table.get(param.device())(p, param.data<float>(), grad.data<float>(), accumulator.data<float>(), nullptr,
                                    nullptr);
}

}  // namespace pcn
