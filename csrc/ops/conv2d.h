// ops/conv2d.h — conv2d front: validation, shapes, allocation, dispatch.
//
// Layouts: x (N,H,W,C) NHWC; w (KH,KW,C/groups,K) HWIO; b (K); y (N,OH,OW,K).
// Padding: "valid" / "same" (TensorFlow arithmetic, extra pad bottom/right,
// case-insensitive) or explicit {top, bottom, left, right}.
#pragma once
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "../dispatch.h"
#include "padding.h"
#include "../tensor.h"

namespace pcn {

// ---- kernel signatures (raw pointers on the tensors' device; p fully resolved)
// y (N,OH,OW,K) = act(conv(x, w) + b); b may be null. y is write-only.
using Conv2dFwdFn = void (*)(const Conv2dParams& p, const float* x, const float* w, const float* b, float* y);
// dx (N,H,W,C) = conv2d_forward'(x)^T dy; dx is write-only (fully overwritten).
using Conv2dBwdInputFn = void (*)(const Conv2dParams& p, const float* dy, const float* w, float* dx);
// dw (KH,KW,C/groups,K) = sum over the batch; accumulate: dw += ..., else dw = ...
using Conv2dBwdFilterFn = void (*)(const Conv2dParams& p, const float* dy, const float* x, float* dw,
                                   bool accumulate);
// dy (rows, K) row-major; db (K) = sum over rows; accumulate: db += ..., else db = ...
using Conv2dBwdBiasFn = void (*)(int64_t rows, int64_t K, const float* dy, float* db, bool accumulate);

extern OpTable<Conv2dFwdFn> conv2d_forward_table;
extern OpTable<Conv2dBwdInputFn> conv2d_backward_input_table;
extern OpTable<Conv2dBwdFilterFn> conv2d_backward_filter_table;
extern OpTable<Conv2dBwdBiasFn> conv2d_backward_bias_table;

using ConvPadding = PaddingArg;

// Resolve the Params (validating everything) for an input of shape x_shape
// (N,H,W,C) and a filter of shape w_shape (KH,KW,C/groups,K). `op` names the
// caller in error messages. Throws ValueError on any bad value.
Conv2dParams conv2d_make_params(const char* op, const std::vector<int64_t>& x_shape,
                                const std::vector<int64_t>& w_shape, const std::vector<int64_t>& strides,
                                const ConvPadding& padding, const std::vector<int64_t>& dilations,
                                int64_t groups);

Tensor conv2d_forward(const Tensor& x, const Tensor& w, const std::optional<Tensor>& b,
                      const std::vector<int64_t>& strides, const ConvPadding& padding,
                      const std::vector<int64_t>& dilations, int64_t groups, const std::string& activation);

Tensor conv2d_backward_input(const Tensor& dy, const Tensor& w, const std::vector<int64_t>& input_shape,
                             const std::vector<int64_t>& strides, const ConvPadding& padding,
                             const std::vector<int64_t>& dilations, int64_t groups);

Tensor conv2d_backward_filter(const Tensor& dy, const Tensor& x, const std::vector<int64_t>& filter_shape,
                              const std::vector<int64_t>& strides, const ConvPadding& padding,
                              const std::vector<int64_t>& dilations, int64_t groups,
                              const std::optional<Tensor>& out, bool accumulate);

Tensor conv2d_backward_bias(const Tensor& dy, const std::optional<Tensor>& out, bool accumulate);

}  // namespace pcn
