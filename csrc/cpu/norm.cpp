// cpu/norm.cpp — CPU batch-norm / LRN kernels: pick the SIMD build at run time
// (loops in csrc/cpu/isa/norm.cpp); the tiny running-statistics update is here.
#include "isa/norm_isa.h"

namespace pcn {
namespace cpu {

void bn_forward_train(const BatchNormParams& p, const float* x, const float* gamma, const float* beta, float* y,
                      float* mean, float* var) {
  PCN_ISA_CALL(bn_forward_train, p, x, gamma, beta, y, mean, var);
}
void bn_forward_infer(const BatchNormParams& p, const float* x, const float* gamma, const float* beta,
                      const float* mean, const float* var, float* y) {
  PCN_ISA_CALL(bn_forward_infer, p, x, gamma, beta, mean, var, y);
}
void bn_backward(const BatchNormParams& p, const float* dy, const float* x, const float* gamma, const float* mean,
                 const float* var, float* dx, float* dgamma, float* dbeta) {
  PCN_ISA_CALL(bn_backward, p, dy, x, gamma, mean, var, dx, dgamma, dbeta);
}
void bn_update_running(const BatchNormParams& p, float* rm, float* rv, const float* mean, const float* var) {
  const float m = p.momentum, k = 1.f - p.momentum;
  for (int64_t c = 0; c < p.C; ++c) {
    rm[c] = rm[c] * m + mean[c] * k;
    rv[c] = rv[c] * m + var[c] * k;
  }
}
void lrn_forward(const LrnParams& p, const float* x, float* y) { PCN_ISA_CALL(lrn_forward, p, x, y); }
void lrn_backward(const LrnParams& p, const float* dy, const float* x, float* dx) {
  PCN_ISA_CALL(lrn_backward, p, dy, x, dx);
}

}  // namespace cpu
}  // namespace pcn
