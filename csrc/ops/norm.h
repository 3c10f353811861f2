// ops/norm.h — batch normalization and local response normalization fronts:
// validation, shapes, allocation, dispatch.
//
// BatchNormParams and LrnParams live in csrc/cpu/isa/norm_isa.h (included
// here) because the per-ISA kernel builds may include only common.h/isa.h.
#pragma once
#include <optional>
#include <tuple>

#include "../cpu/isa/norm_isa.h"
#include "../dispatch.h"
#include "../tensor.h"

namespace pcn {

// ---- kernels (raw pointers + Params; CPU in csrc/cpu/norm.cpp, a CUDA twin may register later)
// x, y, dy, dx (M,C) contiguous; gamma, beta (C) or nullptr (scale/center False);
// mean, var, dgamma, dbeta, running_* (C). Outputs overwritten, every element written.
using BnFwdTrainFn = void (*)(const BatchNormParams& p, const float* x, const float* gamma, const float* beta,
                              float* y, float* mean, float* var);
using BnFwdInferFn = void (*)(const BatchNormParams& p, const float* x, const float* gamma, const float* beta,
                              const float* mean, const float* var, float* y);
using BnBwdFn = void (*)(const BatchNormParams& p, const float* dy, const float* x, const float* gamma,
                         const float* mean, const float* var, float* dx, float* dgamma, float* dbeta);
using BnUpdateRunningFn = void (*)(const BatchNormParams& p, float* running_mean, float* running_var,
                                   const float* mean, const float* var);
using LrnFwdFn = void (*)(const LrnParams& p, const float* x, float* y);
using LrnBwdFn = void (*)(const LrnParams& p, const float* dy, const float* x, float* dx);
extern OpTable<BnFwdTrainFn> batch_norm_forward_train_table;
extern OpTable<BnFwdInferFn> batch_norm_forward_infer_table;
extern OpTable<BnBwdFn> batch_norm_backward_table;
extern OpTable<BnUpdateRunningFn> batch_norm_update_running_table;
extern OpTable<LrnFwdFn> lrn_forward_table;
extern OpTable<LrnBwdFn> lrn_backward_table;

// ---- fronts (errors name 'batch_norm' / 'lrn')
// x (..., C), rank >= 2; statistics over all axes but the last; var biased.
std::tuple<Tensor, Tensor, Tensor> batch_norm_forward_train(const Tensor& x, const std::optional<Tensor>& gamma,
                                                            const std::optional<Tensor>& beta, double eps);
Tensor batch_norm_forward_infer(const Tensor& x, const std::optional<Tensor>& gamma, const std::optional<Tensor>& beta,
                                const Tensor& mean, const Tensor& var, double eps);
// Training-mode gradients with the batch statistics; returns (dx, dgamma, dbeta)
// (dgamma/dbeta are returned even when the layer has no gamma/beta).
std::tuple<Tensor, Tensor, Tensor> batch_norm_backward(const Tensor& dy, const Tensor& x,
                                                       const std::optional<Tensor>& gamma, const Tensor& mean,
                                                       const Tensor& var, double eps);
// In place: r = r*momentum + batch*(1-momentum) (Keras 3).
void batch_norm_update_running_(Tensor& running_mean, Tensor& running_var, const Tensor& mean, const Tensor& var,
                                double momentum);

// x (N,H,W,C); tf.nn.local_response_normalization.
Tensor lrn_forward(const Tensor& x, int64_t depth_radius, double bias, double alpha, double beta);
Tensor lrn_backward(const Tensor& dy, const Tensor& x, int64_t depth_radius, double bias, double alpha, double beta);

}  // namespace pcn
