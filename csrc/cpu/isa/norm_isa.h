// norm_isa.h — batch-norm and LRN kernels: Params, the per-ISA entry points
// (csrc/cpu/isa/norm.cpp) and the CPU kernels the fronts register
// (csrc/cpu/norm.cpp). Only common.h/isa.h here: included by the ISA builds.
#pragma once
#include "../../common.h"
#include "../../isa.h"

namespace pcn {

// Batch norm over all axes but the last: x viewed as (M, C) row-major,
// M = product of the leading axes. gamma/beta (C) may be null (scale/center
// False: gamma = 1, beta = 0). Statistics per channel; var is biased (/M).
struct BatchNormParams {
  int64_t M = 0, C = 0;
  float eps = 1e-3f;
  float momentum = 0.99f;  // update_running only
};

// Local response normalization over the last axis (tf.nn.local_response_normalization):
// x viewed as (M, C); sqr_sum[m,d] = sum_{|j-d| <= radius, 0 <= j < C} x[m,j]^2;
// y = x / (bias + alpha*sqr_sum)^beta.
struct LrnParams {
  int64_t M = 0, C = 0;
  int64_t radius = 5;
  float bias = 1.f, alpha = 1.f, beta = 0.5f;
};

// x, y, dy, dx (M,C); mean, var, gamma, beta, dgamma, dbeta (C). Outputs
// overwritten, every element written. Sums are accumulated in double.
PCN_DECLARE_ISA(void bn_forward_train(const BatchNormParams& p, const float* x, const float* gamma,
                                      const float* beta, float* y, float* mean, float* var))
PCN_DECLARE_ISA(void bn_forward_infer(const BatchNormParams& p, const float* x, const float* gamma,
                                      const float* beta, const float* mean, const float* var, float* y))
PCN_DECLARE_ISA(void bn_backward(const BatchNormParams& p, const float* dy, const float* x, const float* gamma,
                                 const float* mean, const float* var, float* dx, float* dgamma, float* dbeta))
PCN_DECLARE_ISA(void lrn_forward(const LrnParams& p, const float* x, float* y))
PCN_DECLARE_ISA(void lrn_backward(const LrnParams& p, const float* dy, const float* x, float* dx))

namespace cpu {
void bn_forward_train(const BatchNormParams& p, const float* x, const float* gamma, const float* beta, float* y,
                      float* mean, float* var);
void bn_forward_infer(const BatchNormParams& p, const float* x, const float* gamma, const float* beta,
                      const float* mean, const float* var, float* y);
void bn_backward(const BatchNormParams& p, const float* dy, const float* x, const float* gamma, const float* mean,
                 const float* var, float* dx, float* dgamma, float* dbeta);
// running (C) in place: r = r*momentum + batch*(1-momentum) (Keras 3).
void bn_update_running(const BatchNormParams& p, float* running_mean, float* running_var, const float* mean,
                       const float* var);
void lrn_forward(const LrnParams& p, const float* x, float* y);
void lrn_backward(const LrnParams& p, const float* dy, const float* x, float* dx);
}  // namespace cpu

}  // namespace pcn
