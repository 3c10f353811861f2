// ops/optim.h — in-place optimizer updates, Keras 3 formulas exactly
// (keras/src/optimizers/{sgd,adam,rmsprop,adagrad}.py). One kernel signature:
// param, grad and up to three state buffers, all float32 of n elements.
#pragma once
#include <optional>

#include "../dispatch.h"
#include "../tensor.h"

namespace pcn {

enum class OptimKind : int { Sgd = 0, Adam, RmsProp, Adagrad };

// Buffers per kind (s1, s2, s3; null when unused):
//   Sgd      velocity (momentum != 0)
//            m = momentum*m - lr*g; w += nesterov ? momentum*m - lr*g : m;   momentum == 0: w -= lr*g
//   Adam     m, v, vhat (amsgrad)
//            alpha = lr*sqrt(1-beta2^t)/(1-beta1^t) (front); m += (g-m)(1-beta1); v += (g^2-v)(1-beta2);
//            amsgrad: vhat = max(vhat, v), v' = vhat; w -= m*alpha/(sqrt(v') + eps)
//   RmsProp  velocity, average_grad (centered), momentum_buf (momentum > 0)
//            vel = rho*vel + (1-rho)*g^2; centered: avg = rho*avg + (1-rho)*g, den = vel - avg^2 + eps,
//            else den = vel + eps; inc = lr*g/sqrt(den); momentum: mb = momentum*mb + inc, w -= mb; else w -= inc
//   Adagrad  accumulator: acc += g^2; w -= lr*g/sqrt(acc + eps)
struct OptimParams {
  OptimKind kind = OptimKind::Sgd;
  int64_t n = 0;
  float lr = 0.01f;
  float momentum = 0.f;
  bool nesterov = false;
  float beta1 = 0.9f, beta2 = 0.999f, alpha = 0.f;  // Adam: alpha = bias-corrected lr
  bool amsgrad = false;
  float rho = 0.9f;
  bool centered = false;
  float eps = 1e-7f;
};
using OptimFn = void (*)(const OptimParams& p, float* param, const float* grad, float* s1, float* s2, float* s3);
extern OpTable<OptimFn> optim_table;

void sgd_update_(Tensor& param, const Tensor& grad, std::optional<Tensor> velocity, float lr, float momentum,
                 bool nesterov);
void adam_update_(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, float lr, float beta1, float beta2,
                  float eps, int64_t step, std::optional<Tensor> vhat);
void rmsprop_update_(Tensor& param, const Tensor& grad, Tensor& velocity, std::optional<Tensor> average_grad,
                     std::optional<Tensor> momentum_buf, float lr, float rho, float momentum, float eps,
                     bool centered);
void adagrad_update_(Tensor& param, const Tensor& grad, Tensor& accumulator, float lr, float eps);

}  // namespace pcn
