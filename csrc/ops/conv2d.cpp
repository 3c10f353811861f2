// ops/conv2d.cpp — conv2d front (see ops/conv2d.h). Every check lives here;
// the kernels in csrc/cpu/conv2d.cpp (and cuda/) trust the Params.
#include "conv2d.h"

#include <algorithm>
#include <cctype>

#include "../cpu/conv2d.h"

namespace pcn {

OpTable<Conv2dFwdFn> conv2d_forward_table{"conv2d_forward", cpu::conv2d_forward, nullptr};
OpTable<Conv2dBwdInputFn> conv2d_backward_input_table{"conv2d_backward_input", cpu::conv2d_backward_input,
                                                      nullptr};
OpTable<Conv2dBwdFilterFn> conv2d_backward_filter_table{"conv2d_backward_filter", cpu::conv2d_backward_filter,
                                                        nullptr};
OpTable<Conv2dBwdBiasFn> conv2d_backward_bias_table{"conv2d_backward_bias", cpu::conv2d_backward_bias, nullptr};

namespace {

// strides / dilations: 1 value (both axes) or 2 values (h, w), each >= 1.
void pair_arg(const char* op, const char* what, const std::vector<int64_t>& v, int64_t* a, int64_t* b) {
  if (v.size() != 1 && v.size() != 2)
    PCN_THROW(ValueError, op << ": " << what << " must have 1 or 2 values (h, w), got " << vec_str(v));
  *a = v[0];
  *b = v.size() == 2 ? v[1] : v[0];
  if (*a < 1 || *b < 1) PCN_THROW(ValueError, op << ": " << what << " must be >= 1, got " << vec_str(v));
  if (*a > kMaxNumel || *b > kMaxNumel)
    PCN_THROW(ValueError, op << ": " << what << " " << vec_str(v) << " too large");
}

void check_shape4(const char* op, const char* what, const std::vector<int64_t>& s, const char* layout) {
  if (s.size() != 4)
    PCN_THROW(ValueError, op << ": " << what << " must be 4-D " << layout << ", got shape " << shape_str(s));
  for (int64_t d : s)
    if (d < 1 || d > kMaxNumel)
      PCN_THROW(ValueError, op << ": " << what << " " << layout << " must have sizes >= 1, got " << shape_str(s));
}

}  // namespace

Conv2dParams conv2d_make_params(const char* op, const std::vector<int64_t>& xs, const std::vector<int64_t>& ws,
                                const std::vector<int64_t>& strides, const ConvPadding& padding,
                                const std::vector<int64_t>& dilations, int64_t groups) {
  check_shape4(op, "input", xs, "(N,H,W,C)");
  check_shape4(op, "filter", ws, "(KH,KW,C/groups,K)");
  Conv2dParams p;
  p.N = xs[0]; p.H = xs[1]; p.W = xs[2]; p.C = xs[3];
  p.KH = ws[0]; p.KW = ws[1]; p.K = ws[3];
  if (groups < 1) PCN_THROW(ValueError, op << ": groups must be >= 1, got " << groups);
  p.groups = groups;
  if (p.C % groups != 0)
    PCN_THROW(ValueError, op << ": input channels " << p.C << " not divisible by groups " << groups);
  if (ws[2] != p.C / groups)
    PCN_THROW(ValueError, op << ": filter " << shape_str(ws) << " has " << ws[2]
                             << " input channels per group, expected C/groups = " << p.C << "/" << groups << " = "
                             << p.C / groups << " (input " << shape_str(xs) << ")");
  if (p.K % groups != 0)
    PCN_THROW(ValueError, op << ": output channels " << p.K << " not divisible by groups " << groups);
  pair_arg(op, "strides", strides, &p.sh, &p.sw);
  pair_arg(op, "dilations", dilations, &p.dh, &p.dw);
  if (p.KH - 1 > kMaxNumel / p.dh || p.KW - 1 > kMaxNumel / p.dw)
    PCN_THROW(ValueError, op << ": dilated kernel too large: kernel (" << p.KH << ", " << p.KW << "), dilations ("
                             << p.dh << ", " << p.dw << ")");
  const Padding2d r = resolve_padding2d(op, "(dilated) kernel", p.H, p.W, p.KH, p.KW, p.sh, p.sw, p.dh, p.dw,
                                        padding);
  p.pad_top = r.top; p.pad_bottom = r.bottom; p.pad_left = r.left; p.pad_right = r.right;
  p.OH = r.OH; p.OW = r.OW;
  if (p.OH < 1 || p.OW < 1)
    PCN_THROW(ValueError, op << ": output size (" << p.OH << ", " << p.OW << ") is empty for input "
                             << shape_str(xs) << ", filter " << shape_str(ws));
  // Output and the (virtual) im2col matrix must be addressable; refuse early.
  checked_numel({p.N, p.OH, p.OW, p.K}, op);
  checked_numel({p.N, p.OH, p.OW, p.KH, p.KW, p.C / groups}, op);
  checked_numel({p.KH, p.KW, p.C / groups, p.K}, op);
  return p;
}

static int parse_activation(const std::string& a) {
  const std::string m = lower(a);
  if (m == "none" || m == "linear" || m.empty()) return 0;
  if (m == "relu") return 1;
  PCN_THROW(ValueError, "conv2d: activation must be 'none' or 'relu', got '" << a << "'");
}

static void check_tensor4(const Tensor& t, const char* op, const char* arg, const char* layout) {
  check_defined(t, op, arg);
  check_float(t, op, arg);
  if (t.ndim() != 4)
    PCN_THROW(ValueError, op << ": " << arg << " must be 4-D " << layout << ", got shape " << shape_str(t.shape()));
}

static void check_dy(const Tensor& dy, const Conv2dParams& p, const char* op) {
  const std::vector<int64_t> want{p.N, p.OH, p.OW, p.K};
  if (dy.shape() != want)
    PCN_THROW(ValueError, op << ": out_backprop (dy) has shape " << shape_str(dy.shape()) << ", expected "
                             << shape_str(want) << " for these input/filter shapes, strides and padding");
}

Tensor conv2d_forward(const Tensor& x0, const Tensor& w0, const std::optional<Tensor>& b0,
                      const std::vector<int64_t>& strides, const ConvPadding& padding,
                      const std::vector<int64_t>& dilations, int64_t groups, const std::string& activation) {
  const char* op = "conv2d";
  check_tensor4(x0, op, "input", "(N,H,W,C)");
  check_tensor4(w0, op, "filters", "(KH,KW,C/groups,K)");
  check_same_device(x0, w0, op);
  Conv2dParams p = conv2d_make_params(op, x0.shape(), w0.shape(), strides, padding, dilations, groups);
  p.activation = parse_activation(activation);
  Tensor b;
  if (b0 && b0->defined()) {
    check_float(*b0, op, "bias");
    check_same_device(x0, *b0, op);
    if (b0->ndim() != 1 || b0->dim(0) != p.K)
      PCN_THROW(ValueError, op << ": bias must have shape (" << p.K << ",), got " << shape_str(b0->shape()));
    b = b0->contiguous();
  }
  const Tensor x = x0.contiguous(), w = w0.contiguous();
  Tensor y = Tensor::empty({p.N, p.OH, p.OW, p.K}, DType::F32, x.device());
  conv2d_forward_table.get(x.device())(p, x.data<float>(), w.data<float>(), b.defined() ? b.data<float>() : nullptr,
                                       y.data<float>());
  return y;
}

Tensor conv2d_backward_input(const Tensor& dy0, const Tensor& w0, const std::vector<int64_t>& input_shape,
                             const std::vector<int64_t>& strides, const ConvPadding& padding,
                             const std::vector<int64_t>& dilations, int64_t groups) {
  const char* op = "conv2d_backward_input";
  check_tensor4(dy0, op, "dy", "(N,OH,OW,K)");
  check_tensor4(w0, op, "filters", "(KH,KW,C/groups,K)");
  check_same_device(dy0, w0, op);
  const Conv2dParams p = conv2d_make_params(op, input_shape, w0.shape(), strides, padding, dilations, groups);
  check_dy(dy0, p, op);
  const Tensor dy = dy0.contiguous(), w = w0.contiguous();
  Tensor dx = Tensor::empty(input_shape, DType::F32, dy.device());
  conv2d_backward_input_table.get(dy.device())(p, dy.data<float>(), w.data<float>(), dx.data<float>());
  return dx;
}

static void check_out(const Tensor& out, const std::vector<int64_t>& shape, const Tensor& like, const char* op) {
  check_float(out, op, "out");
  check_same_device(like, out, op);
  check_contiguous(out, op, "out");
  if (out.shape() != shape)
    PCN_THROW(ValueError, op << ": out has shape " << shape_str(out.shape()) << ", expected " << shape_str(shape));
}

Tensor conv2d_backward_filter(const Tensor& dy0, const Tensor& x0, const std::vector<int64_t>& filter_shape,
                              const std::vector<int64_t>& strides, const ConvPadding& padding,
                              const std::vector<int64_t>& dilations, int64_t groups,
                              const std::optional<Tensor>& out, bool accumulate) {
  const char* op = "conv2d_backward_filter";
  check_tensor4(dy0, op, "dy", "(N,OH,OW,K)");
  check_tensor4(x0, op, "input", "(N,H,W,C)");
  check_same_device(dy0, x0, op);
  const Conv2dParams p = conv2d_make_params(op, x0.shape(), filter_shape, strides, padding, dilations, groups);
  check_dy(dy0, p, op);
  if (accumulate && !(out && out->defined()))
    PCN_THROW(ValueError, op << ": accumulate=True needs an out= tensor to add into");
  Tensor dw;
  if (out && out->defined()) {
    check_out(*out, filter_shape, x0, op);
    dw = *out;
  } else {
    dw = Tensor::empty(filter_shape, DType::F32, x0.device());
  }
  const Tensor dy = dy0.contiguous(), x = x0.contiguous();
  conv2d_backward_filter_table.get(x.device())(p, dy.data<float>(), x.data<float>(), dw.data<float>(), accumulate);
  return dw;
}

Tensor conv2d_backward_bias(const Tensor& dy0, const std::optional<Tensor>& out, bool accumulate) {
  const char* op = "conv2d_backward_bias";
  check_defined(dy0, op, "dy");
  check_float(dy0, op, "dy");
  if (dy0.ndim() < 1)
    PCN_THROW(ValueError, op << ": dy must have rank >= 1 (..., K), got shape " << shape_str(dy0.shape()));
  const int64_t K = dy0.dim(-1);
  if (K < 1) PCN_THROW(ValueError, op << ": dy's last axis (K) must be >= 1, got shape " << shape_str(dy0.shape()));
  const int64_t rows = dy0.numel() / K;
  if (accumulate && !(out && out->defined()))
    PCN_THROW(ValueError, op << ": accumulate=True needs an out= tensor to add into");
  Tensor db;
  if (out && out->defined()) {
    check_out(*out, {K}, dy0, op);
    db = *out;
  } else {
    db = Tensor::empty({K}, DType::F32, dy0.device());
  }
  const Tensor dy = dy0.contiguous();
  conv2d_backward_bias_table.get(dy.device())(rows, K, dy.data<float>(), db.data<float>(), accumulate);
  return db;
}

}  // namespace pcn
