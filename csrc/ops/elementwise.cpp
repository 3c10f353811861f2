// ops/elementwise.cpp — fronts of the elementwise family (see ops/elementwise.h):
// validate, compute shapes, allocate (never zero-filled: kernels write every
// element), then call the table.
#include "elementwise.h"

#include <algorithm>
#include <cmath>

namespace pcn {

namespace cpu {
void pointwise(const PointwiseParams&, const float*, float*);
void axpby(const AxpbyParams&, const float*, float*);
void act_forward(const ActParams&, const float*, float*);
void act_backward(const ActParams&, const float*, const float*, const float*, float*);
void binary(const BinaryParams&, const float*, const float*, float*);
void reduce(const ReduceParams&, const float*, float*);
void softmax_forward(const SoftmaxParams&, const float*, float*);
void softmax_backward(const SoftmaxParams&, const float*, const float*, float*);
void copy_strided(const CopyParams&, const void*, void*);
void cast(const CastParams&, const void*, void*);
void dropout_forward(const DropoutParams&, const float*, float*, uint8_t*);
void dropout_backward(const DropoutParams&, const float*, const uint8_t*, float*);
void index_op(const IndexParams&, const void*, const void*, const void*, void*);
void embedding_forward(const EmbeddingParams&, const void*, const float*, float*);
void embedding_backward(const EmbeddingParams&, const void*, const float*, float*, bool);
}  // namespace cpu

OpTable<PointwiseFn> pointwise_table{"pointwise", cpu::pointwise, nullptr};
OpTable<AxpbyFn> axpby_table{"axpy_", cpu::axpby, nullptr};
OpTable<ActFwdFn> act_forward_table{"activation_forward", cpu::act_forward, nullptr};
OpTable<ActBwdFn> act_backward_table{"activation_backward", cpu::act_backward, nullptr};
OpTable<BinaryFn> binary_table{"binary", cpu::binary, nullptr};
OpTable<ReduceFn> reduce_table{"reduce", cpu::reduce, nullptr};
OpTable<SoftmaxFwdFn> softmax_forward_table{"softmax_forward", cpu::softmax_forward, nullptr};
OpTable<SoftmaxBwdFn> softmax_backward_table{"softmax_backward", cpu::softmax_backward, nullptr};
OpTable<CopyFn> copy_table{"copy", cpu::copy_strided, nullptr};
OpTable<CastFn> cast_table{"cast", cpu::cast, nullptr};
OpTable<DropoutFwdFn> dropout_forward_table{"dropout_forward", cpu::dropout_forward, nullptr};
OpTable<DropoutBwdFn> dropout_backward_table{"dropout_backward", cpu::dropout_backward, nullptr};
OpTable<IndexFn> index_table{"index", cpu::index_op, nullptr};
OpTable<EmbedFwdFn> embedding_forward_table{"embedding_lookup", cpu::embedding_forward, nullptr};
OpTable<EmbedBwdFn> embedding_backward_table{"embedding_backward", cpu::embedding_backward, nullptr};

// ---------------------------------------------------------------- helpers
void check_elementwise_input(const Tensor& t, const char* op, const char* arg) {
  check_float(t, op, arg);
}

int64_t normalize_axis(int64_t axis, int ndim, const char* op) {
  if (axis < -ndim || axis >= ndim)
    PCN_THROW(ValueError, op << ": axis " << axis << " is out of range for a " << ndim << "-D input");
  return axis < 0 ? axis + ndim : axis;
}

static void check_same_shape(const Tensor& a, const Tensor& b, const char* op, const char* an, const char* bn) {
  if (a.shape() != b.shape())
    PCN_THROW(ValueError, op << ": " << an << " shape " << shape_str(a.shape()) << " and " << bn << " shape "
                             << shape_str(b.shape()) << " must be equal");
}

static Tensor new_like(const Tensor& x, DType dt = DType::F32) { return Tensor::empty(x.shape(), dt, x.device()); }

static Tensor run_pointwise(const Tensor& x0, PwOp op, float a, float b, const char* name) {
  check_elementwise_input(x0, name, "x");
  const Tensor x = x0.contiguous();
  Tensor y = new_like(x);
  PointwiseParams p;
  p.op = op; p.n = x.numel(); p.a = a; p.b = b;
  if (p.n) pointwise_table.get(x.device())(p, x.data<float>(), y.data<float>());
  return y;
}

// ---------------------------------------------------------------- activations
static Act parse_act(const std::string& name0, const char* op) {
  std::string n = name0;
  std::transform(n.begin(), n.end(), n.begin(), ::tolower);
  if (n == "linear" || n == "none" || n == "identity") return Act::Linear;
  if (n == "relu") return Act::Relu;
  if (n == "relu6") return Act::Relu6;
  if (n == "leaky_relu") return Act::LeakyRelu;
  if (n == "elu") return Act::Elu;
  if (n == "selu") return Act::Selu;
  if (n == "sigmoid") return Act::Sigmoid;
  if (n == "hard_sigmoid") return Act::HardSigmoid;
  if (n == "tanh") return Act::Tanh;
  if (n == "softplus") return Act::Softplus;
  if (n == "softsign") return Act::Softsign;
  if (n == "swish" || n == "silu") return Act::Swish;
  if (n == "gelu") return Act::Gelu;
  if (n == "gelu_tanh" || n == "gelu_approximate") return Act::GeluTanh;
  if (n == "exponential" || n == "exp") return Act::Exponential;
  PCN_THROW(ValueError, op << ": unknown activation '" << name0
                           << "' (expected linear, relu, relu6, leaky_relu, elu, selu, sigmoid, hard_sigmoid, tanh, "
                              "softplus, softsign, swish/silu, gelu, gelu_tanh, exponential)");
}

static float act_alpha(Act a, std::optional<float> alpha) {
  if (alpha) return *alpha;
  if (a == Act::LeakyRelu) return 0.2f;  // keras.activations.leaky_relu negative_slope
  if (a == Act::Elu) return 1.0f;
  return 0.f;
}

Tensor activation_forward(const Tensor& x0, const std::string& name, std::optional<float> alpha) {
  const char* op = "activation_forward";
  const Act a = parse_act(name, op);
  check_elementwise_input(x0, op, "x");
  const Tensor x = x0.contiguous();
  Tensor y = new_like(x);
  ActParams p;
  p.act = a; p.n = x.numel(); p.alpha = act_alpha(a, alpha);
  if (p.n) act_forward_table.get(x.device())(p, x.data<float>(), y.data<float>());
  return y;
}

// Which inputs each backward reads.
static bool act_needs_x(Act a, bool have_y) {
  switch (a) {
    case Act::Linear: case Act::Sigmoid: case Act::Tanh: case Act::Exponential: return false;
    case Act::Relu: return !have_y;
    default: return true;
  }
}
static bool act_needs_y(Act a) {
  return a == Act::Sigmoid || a == Act::Tanh || a == Act::Exponential;
}

Tensor activation_backward(const Tensor& dy0, const std::optional<Tensor>& x0, const std::optional<Tensor>& y0,
                           const std::string& name, std::optional<float> alpha) {
  const char* op = "activation_backward";
  const Act a = parse_act(name, op);
  check_elementwise_input(dy0, op, "dy");
  const Tensor dy = dy0.contiguous();
  Tensor x, y;
  if (x0 && x0->defined()) {
    check_elementwise_input(*x0, op, "x");
    check_same_shape(dy, *x0, op, "dy", "x");
    check_same_device(dy, *x0, op);
    x = x0->contiguous();
  }
  if (y0 && y0->defined()) {
    check_elementwise_input(*y0, op, "y");
    check_same_shape(dy, *y0, op, "dy", "y");
    check_same_device(dy, *y0, op);
    y = y0->contiguous();
  }
  if (act_needs_x(a, y.defined()) && !x.defined())
    PCN_THROW(ValueError, op << ": activation '" << name << "' needs the forward input x, got None");
  if (act_needs_y(a) && !y.defined()) {
    if (!x.defined()) PCN_THROW(ValueError, op << ": activation '" << name << "' needs x or y, got neither");
    y = activation_forward(x, name, alpha);
  }
  Tensor dx = new_like(dy);
  ActParams p;
  p.act = a; p.n = dy.numel(); p.alpha = act_alpha(a, alpha);
  if (p.n)
    act_backward_table.get(dy.device())(p, dy.data<float>(), x.defined() ? x.data<float>() : nullptr,
                                        y.defined() ? y.data<float>() : nullptr, dx.data<float>());
  return dx;
}

// ---------------------------------------------------------------- softmax
static SoftmaxParams softmax_params(const Tensor& x, int64_t axis, const char* op) {
  PCN_CHECK(x.ndim() >= 1, op << ": input must have rank >= 1, got a scalar");
  const int64_t ax = normalize_axis(axis, x.ndim(), op);
  SoftmaxParams p;
  for (int i = 0; i < ax; ++i) p.outer *= x.dim(i);
  p.n = x.dim(int(ax));
  for (int i = int(ax) + 1; i < x.ndim(); ++i) p.inner *= x.dim(i);
  return p;
}

static Tensor softmax_fwd_impl(const Tensor& x0, int64_t axis, bool log, const char* op) {
  check_elementwise_input(x0, op, "x");
  const Tensor x = x0.contiguous();
  SoftmaxParams p = softmax_params(x, axis, op);
  p.log = log;
  Tensor y = new_like(x);
  if (x.numel()) softmax_forward_table.get(x.device())(p, x.data<float>(), y.data<float>());
  return y;
}
Tensor softmax_forward(const Tensor& x, int64_t axis) { return softmax_fwd_impl(x, axis, false, "softmax_forward"); }
Tensor log_softmax_forward(const Tensor& x, int64_t axis) {
  return softmax_fwd_impl(x, axis, true, "log_softmax_forward");
}

static Tensor softmax_bwd_impl(const Tensor& dy0, const Tensor& y0, int64_t axis, bool log, const char* op) {
  check_elementwise_input(dy0, op, "dy");
  check_elementwise_input(y0, op, "y");
  check_same_shape(dy0, y0, op, "dy", "y");
  check_same_device(dy0, y0, op);
  const Tensor dy = dy0.contiguous(), y = y0.contiguous();
  SoftmaxParams p = softmax_params(y, axis, op);
  p.log = log;
  Tensor dx = new_like(dy);
  if (dy.numel()) softmax_backward_table.get(dy.device())(p, dy.data<float>(), y.data<float>(), dx.data<float>());
  return dx;
}
Tensor softmax_backward(const Tensor& dy, const Tensor& y, int64_t axis) {
  return softmax_bwd_impl(dy, y, axis, false, "softmax_backward");
}
Tensor log_softmax_backward(const Tensor& dy, const Tensor& y, int64_t axis) {
  return softmax_bwd_impl(dy, y, axis, true, "log_softmax_backward");
}

// ---------------------------------------------------------------- binary
static BinOp parse_binop(const std::string& s, const char* op) {
  if (s == "add") return BinOp::Add;
  if (s == "sub" || s == "subtract") return BinOp::Sub;
  if (s == "mul" || s == "multiply") return BinOp::Mul;
  if (s == "div" || s == "divide" || s == "truediv") return BinOp::Div;
  if (s == "maximum" || s == "max") return BinOp::Maximum;
  if (s == "minimum" || s == "min") return BinOp::Minimum;
  if (s == "pow" || s == "power") return BinOp::Pow;
  PCN_THROW(ValueError, op << ": unknown op '" << s << "' (expected add, sub, mul, div, maximum, minimum, pow)");
}

// NumPy broadcast of two shapes; ValueError naming both shapes.
static std::vector<int64_t> broadcast_shape(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                                            const char* op) {
  const size_t nd = std::max(a.size(), b.size());
  std::vector<int64_t> out(nd);
  for (size_t i = 0; i < nd; ++i) {
    const int64_t da = i < nd - a.size() ? 1 : a[i - (nd - a.size())];
    const int64_t db = i < nd - b.size() ? 1 : b[i - (nd - b.size())];
    if (da != db && da != 1 && db != 1)
      PCN_THROW(ValueError, op << ": shapes " << shape_str(a) << " and " << shape_str(b)
                               << " cannot be broadcast together (dim " << i << ": " << da << " vs " << db << ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// Element strides of t broadcast to `out` (0 on broadcast / size-1 dims).
static std::vector<int64_t> bcast_strides(const Tensor& t, const std::vector<int64_t>& out) {
  const size_t nd = out.size(), off = nd - size_t(t.ndim());
  std::vector<int64_t> s(nd, 0);
  for (size_t i = off; i < nd; ++i) s[i] = t.shape()[i - off] == 1 ? 0 : t.strides()[i - off];
  return s;
}

Tensor binary(const std::string& opname, const Tensor& a, const Tensor& b) {
  const char* op = "binary";
  const BinOp bo = parse_binop(opname, op);
  check_elementwise_input(a, op, "a");
  check_elementwise_input(b, op, "b");
  check_same_device(a, b, op);
  const std::vector<int64_t> os = broadcast_shape(a.shape(), b.shape(), op);
  checked_numel(os, op);
  Tensor c = Tensor::empty(os, DType::F32, a.device());
  if (c.numel() == 0) return c;
  std::vector<int64_t> sa = bcast_strides(a, os), sb = bcast_strides(b, os), sh = os;
  // drop size-1 dims, then coalesce dims that are contiguous in both operands
  std::vector<int64_t> cs, ca, cb;
  for (size_t i = 0; i < sh.size(); ++i) {
    if (sh[i] == 1) continue;
    if (!cs.empty() && ca.back() == sa[i] * sh[i] && cb.back() == sb[i] * sh[i]) {
      cs.back() *= sh[i];
      ca.back() = sa[i];
      cb.back() = sb[i];
    } else {
      cs.push_back(sh[i]); ca.push_back(sa[i]); cb.push_back(sb[i]);
    }
  }
  if (cs.empty()) { cs = {1}; ca = {0}; cb = {0}; }
  if (cs.size() > size_t(kMaxBcastDims))
    PCN_THROW(ValueError, op << ": broadcasting " << shape_str(a.shape()) << " with " << shape_str(b.shape())
                             << " needs " << cs.size() << " dims after merging, at most " << kMaxBcastDims
                             << " are supported");
  BinaryParams p;
  p.op = bo; p.ndim = int(cs.size()); p.n = c.numel();
  for (int i = 0; i < p.ndim; ++i) { p.shape[i] = cs[i]; p.sa[i] = ca[i]; p.sb[i] = cb[i]; }
  binary_table.get(a.device())(p, a.data<float>(), b.data<float>(), c.data<float>());
  return c;
}

Tensor bias_add(const Tensor& x, const Tensor& b) {
  const char* op = "bias_add";
  check_elementwise_input(x, op, "x");
  check_elementwise_input(b, op, "bias");
  PCN_CHECK(x.ndim() >= 1, op << ": x must have rank >= 1, got a scalar");
  PCN_CHECK(b.ndim() == 1, op << ": bias must be 1-D (C,), got shape " << shape_str(b.shape()));
  PCN_CHECK(b.dim(0) == x.dim(-1), op << ": bias has " << b.dim(0) << " elements but x " << shape_str(x.shape())
                                      << " has " << x.dim(-1) << " channels (last axis)");
  return binary("add", x, b);
}

Tensor binary_scalar(const std::string& opname, const Tensor& x, float s, bool reverse) {
  const char* op = "binary_scalar";
  const BinOp bo = parse_binop(opname, op);
  PwOp p = PwOp::AddS;
  switch (bo) {
    case BinOp::Add: p = PwOp::AddS; break;
    case BinOp::Sub: p = reverse ? PwOp::RSubS : PwOp::SubS; break;
    case BinOp::Mul: p = PwOp::MulS; break;
    case BinOp::Div: p = reverse ? PwOp::RDivS : PwOp::DivS; break;
    case BinOp::Maximum: p = PwOp::MaxS; break;
    case BinOp::Minimum: p = PwOp::MinS; break;
    case BinOp::Pow: p = reverse ? PwOp::RPowS : PwOp::PowS; break;
  }
  return run_pointwise(x, p, s, 0.f, op);
}

Tensor unary(const std::string& s, const Tensor& x) {
  static const struct { const char* n; PwOp op; } kOps[] = {
      {"neg", PwOp::Neg}, {"negative", PwOp::Neg}, {"exp", PwOp::Exp}, {"log", PwOp::Log}, {"sqrt", PwOp::Sqrt},
      {"rsqrt", PwOp::Rsqrt}, {"square", PwOp::Square}, {"abs", PwOp::Abs}, {"sign", PwOp::Sign},
      {"reciprocal", PwOp::Reciprocal}, {"sin", PwOp::Sin}, {"cos", PwOp::Cos}, {"floor", PwOp::Floor},
      {"round", PwOp::Round}, {"tanh", PwOp::Tanh}, {"sigmoid", PwOp::Sigmoid}, {"log1p", PwOp::Log1p},
      {"expm1", PwOp::Expm1}};
  for (const auto& e : kOps)
    if (s == e.n) return run_pointwise(x, e.op, 0.f, 0.f, "unary");
  PCN_THROW(ValueError, "unary: unknown op '" << s
                                              << "' (expected neg, exp, log, sqrt, rsqrt, square, abs, sign, "
                                                 "reciprocal, sin, cos, floor, round, tanh, sigmoid, log1p, expm1)");
}

Tensor clip(const Tensor& x, float lo, float hi) {
  PCN_CHECK(!(lo > hi), "clip: lo " << lo << " must be <= hi " << hi);
  return run_pointwise(x, PwOp::Clip, lo, hi, "clip");
}

void fill_(Tensor& t, float value) {
  check_elementwise_input(t, "fill_", "t");
  check_contiguous(t, "fill_", "t");
  PointwiseParams p;
  p.op = PwOp::Fill; p.n = t.numel(); p.a = value;
  if (p.n) pointwise_table.get(t.device())(p, nullptr, t.data<float>());
}

void scale_(Tensor& x, float alpha) {
  check_elementwise_input(x, "scale_", "x");
  check_contiguous(x, "scale_", "x");
  PointwiseParams p;
  p.op = PwOp::MulS; p.n = x.numel(); p.a = alpha;
  if (p.n) pointwise_table.get(x.device())(p, x.data<float>(), x.data<float>());
}

void axpy_(Tensor& y, const Tensor& x0, float alpha) {
  const char* op = "axpy_";
  check_elementwise_input(y, op, "y");
  check_elementwise_input(x0, op, "x");
  check_contiguous(y, op, "y");
  check_same_device(y, x0, op);
  check_same_shape(y, x0, op, "y", "x");
  const Tensor x = x0.contiguous();
  AxpbyParams p;
  p.n = y.numel(); p.alpha = alpha; p.beta = 1.f;
  if (p.n) axpby_table.get(y.device())(p, x.data<float>(), y.data<float>());
}

// ---------------------------------------------------------------- reduce
static RedOp parse_redop(const std::string& s) {
  if (s == "sum") return RedOp::Sum;
  if (s == "mean") return RedOp::Mean;
  if (s == "max") return RedOp::Max;
  if (s == "min") return RedOp::Min;
  if (s == "prod") return RedOp::Prod;
  PCN_THROW(ValueError, "reduce: unknown op '" << s << "' (expected sum, mean, max, min, prod)");
}

static Tensor reduce_impl(RedOp ro, const Tensor& x, const std::vector<bool>& red, bool keepdims, const char* op) {
  const int nd = x.ndim();
  std::vector<int64_t> os;
  int64_t red_n = 1;
  for (int i = 0; i < nd; ++i) {
    if (red[i]) {
      red_n *= x.dim(i);
      if (keepdims) os.push_back(1);
    } else {
      os.push_back(x.dim(i));
    }
  }
  Tensor y = Tensor::empty(os, DType::F32, x.device());
  if (y.numel() == 0) return y;
  if (red_n == 0 && (ro == RedOp::Max || ro == RedOp::Min))
    PCN_THROW(ValueError, op << ": zero-size reduction of " << shape_str(x.shape())
                             << " has no identity for max/min");
  ReduceParams p;
  p.op = ro; p.red_n = red_n; p.out_n = y.numel();
  // coalesce kept dims and reduced dims separately (skip size-1 dims)
  std::vector<int64_t> ks, kst, rs, rst;
  auto push = [](std::vector<int64_t>& sh, std::vector<int64_t>& st, int64_t d, int64_t s, bool& prev_same) {
    if (prev_same && !sh.empty() && st.back() == s * d) {
      sh.back() *= d;
      st.back() = s;
    } else {
      sh.push_back(d);
      st.push_back(s);
    }
  };
  int last = -1;  // 0 kept, 1 reduced
  for (int i = 0; i < nd; ++i) {
    const int64_t d = x.dim(i), s = x.strides()[i];
    if (d == 1) continue;
    const int kind = red[i] ? 1 : 0;
    bool same = last == kind;
    if (kind) push(rs, rst, d, s, same);
    else push(ks, kst, d, s, same);
    last = kind;
  }
  if (ks.size() > size_t(kMaxBcastDims) || rs.size() > size_t(kMaxBcastDims))
    PCN_THROW(ValueError, op << ": reducing " << shape_str(x.shape()) << " over these axes needs more than "
                             << kMaxBcastDims << " interleaved dims; transpose first");
  p.nk = int(ks.size()); p.nr = int(rs.size());
  for (int i = 0; i < p.nk; ++i) { p.kshape[i] = ks[i]; p.kstride[i] = kst[i]; }
  for (int i = 0; i < p.nr; ++i) { p.rshape[i] = rs[i]; p.rstride[i] = rst[i]; }
  reduce_table.get(x.device())(p, x.data<float>(), y.data<float>());
  return y;
}

Tensor reduce(const std::string& opname, const Tensor& x, const std::optional<std::vector<int64_t>>& axes,
              bool keepdims) {
  const char* op = "reduce";
  const RedOp ro = parse_redop(opname);
  check_elementwise_input(x, op, "x");
  const int nd = x.ndim();
  std::vector<bool> red(nd, !axes.has_value());
  if (axes) {
    for (int64_t a : *axes) {
      const int64_t ax = normalize_axis(a, nd, op);
      if (red[ax]) PCN_THROW(ValueError, op << ": axis " << a << " is repeated");
      red[ax] = true;
    }
  }
  return reduce_impl(ro, x, red, keepdims, op);
}

Tensor sum_to_shape(const Tensor& x, const std::vector<int64_t>& shape) {
  const char* op = "sum_to_shape";
  check_elementwise_input(x, op, "x");
  checked_numel(shape, op);
  const int nd = x.ndim(), ns = int(shape.size());
  PCN_CHECK(ns <= nd, op << ": target shape " << shape_str(shape) << " has more dims than x " << shape_str(x.shape()));
  std::vector<bool> red(nd, false);
  for (int i = 0; i < nd; ++i) {
    const int j = i - (nd - ns);
    if (j < 0) { red[i] = true; continue; }
    if (shape[j] == x.dim(i)) continue;
    if (shape[j] == 1) { red[i] = true; continue; }
    PCN_THROW(ValueError, op << ": x of shape " << shape_str(x.shape()) << " is not a broadcast of shape "
                             << shape_str(shape));
  }
  // reduce with keepdims, then view as the target shape
  Tensor y = reduce_impl(RedOp::Sum, x, red, true, op);
  return y.reshape(shape);
}

// ---------------------------------------------------------------- data movement
// Copy src (any strides) into dst viewed with strides dst_strides, over `shape`.
static void strided_copy(const Tensor& src, const void* sp, const std::vector<int64_t>& sstr, void* dp,
                         const std::vector<int64_t>& dstr, const std::vector<int64_t>& shape, const char* op) {
  std::vector<int64_t> sh, ss, ds;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    if (!sh.empty() && ss.back() == sstr[i] * shape[i] && ds.back() == dstr[i] * shape[i]) {
      sh.back() *= shape[i];
      ss.back() = sstr[i];
      ds.back() = dstr[i];
    } else {
      sh.push_back(shape[i]); ss.push_back(sstr[i]); ds.push_back(dstr[i]);
    }
  }
  if (sh.empty()) { sh = {1}; ss = {0}; ds = {0}; }
  if (sh.size() > size_t(kMaxBcastDims))
    PCN_THROW(ValueError, op << ": this layout of " << shape_str(src.shape()) << " needs " << sh.size()
                             << " dims after merging; at most " << kMaxBcastDims << " are supported");
  CopyParams p;
  p.ndim = int(sh.size()); p.elem_size = int(src.itemsize());
  p.n = 1;
  for (int i = 0; i < p.ndim; ++i) { p.shape[i] = sh[i]; p.ss[i] = ss[i]; p.ds[i] = ds[i]; p.n *= sh[i]; }
  if (p.n) copy_table.get(src.device())(p, sp, dp);
}

static std::vector<int64_t> contig_strides(const std::vector<int64_t>& s) {
  std::vector<int64_t> st(s.size());
  int64_t acc = 1;
  for (int i = int(s.size()) - 1; i >= 0; --i) { st[i] = acc; acc *= s[i]; }
  return st;
}

Tensor transpose(const Tensor& x, const std::vector<int64_t>& perm) {
  const char* op = "transpose";
  check_defined(x, op, "x");
  const int nd = x.ndim();
  PCN_CHECK(int(perm.size()) == nd, op << ": perm has " << perm.size() << " entries but x " << shape_str(x.shape())
                                       << " has " << nd << " dims");
  std::vector<bool> seen(nd, false);
  std::vector<int64_t> os(nd), ss(nd);
  for (int i = 0; i < nd; ++i) {
    const int64_t a = normalize_axis(perm[i], nd, op);
    if (seen[a]) PCN_THROW(ValueError, op << ": perm repeats axis " << perm[i]);
    seen[a] = true;
    os[i] = x.dim(int(a));
    ss[i] = x.strides()[a];
  }
  Tensor y = Tensor::empty(os, x.dtype(), x.device());
  strided_copy(x, x.raw(), ss, y.raw(), contig_strides(os), os, op);
  return y;
}

Tensor slice_axis(const Tensor& x, int64_t axis, int64_t start, int64_t stop) {
  const char* op = "slice_axis";
  check_defined(x, op, "x");
  PCN_CHECK(x.ndim() >= 1, op << ": x must have rank >= 1");
  const int64_t ax = normalize_axis(axis, x.ndim(), op);
  const int64_t d = x.dim(int(ax));
  if (start < 0) start += d;
  if (stop < 0) stop += d;
  PCN_CHECK(start >= 0 && stop <= d && start <= stop,
            op << ": range [" << start << ", " << stop << ") is out of bounds for axis " << axis << " of size " << d);
  std::vector<int64_t> os = x.shape();
  os[ax] = stop - start;
  Tensor y = Tensor::empty(os, x.dtype(), x.device());
  const char* sp = static_cast<const char*>(x.raw()) + start * x.strides()[ax] * int64_t(x.itemsize());
  strided_copy(x, sp, x.strides(), y.raw(), contig_strides(os), os, op);
  return y;
}

Tensor concat(const std::vector<Tensor>& xs, int64_t axis) {
  const char* op = "concat";
  PCN_CHECK(!xs.empty(), op << ": needs at least one tensor");
  for (size_t i = 0; i < xs.size(); ++i) check_defined(xs[i], op, "inputs");
  const Tensor& x0 = xs[0];
  PCN_CHECK(x0.ndim() >= 1, op << ": inputs must have rank >= 1");
  const int nd = x0.ndim();
  const int64_t ax = normalize_axis(axis, nd, op);
  std::vector<int64_t> os = x0.shape();
  int64_t total = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& t = xs[i];
    if (t.dtype() != x0.dtype())
      PCN_THROW(TypeError, op << ": input " << i << " is " << dtype_name(t.dtype()) << " but input 0 is "
                              << dtype_name(x0.dtype()));
    check_same_device(x0, t, op);
    bool ok = t.ndim() == nd;
    for (int d = 0; ok && d < nd; ++d) ok = d == ax || t.dim(d) == x0.dim(d);
    if (!ok)
      PCN_THROW(ValueError, op << ": input " << i << " shape " << shape_str(t.shape()) << " does not match input 0 "
                               << shape_str(x0.shape()) << " outside axis " << axis);
    total += t.dim(int(ax));
  }
  os[ax] = total;
  checked_numel(os, op);
  Tensor y = Tensor::empty(os, x0.dtype(), x0.device());
  const std::vector<int64_t> ds = contig_strides(os);
  int64_t off = 0;
  for (const Tensor& t : xs) {
    char* dp = static_cast<char*>(y.raw()) + off * ds[ax] * int64_t(y.itemsize());
    strided_copy(t, t.raw(), t.strides(), dp, ds, t.shape(), op);
    off += t.dim(int(ax));
  }
  return y;
}

Tensor pad2d(const Tensor& x, int64_t top, int64_t bottom, int64_t left, int64_t right, float value) {
  const char* op = "pad2d";
  check_elementwise_input(x, op, "x");
  check_ndim(x, 4, op, "x", "(N,H,W,C)");
  PCN_CHECK(top >= 0 && bottom >= 0 && left >= 0 && right >= 0,
            op << ": paddings must be >= 0, got [" << top << ", " << bottom << ", " << left << ", " << right << "]");
  std::vector<int64_t> os = {x.dim(0), x.dim(1) + top + bottom, x.dim(2) + left + right, x.dim(3)};
  checked_numel(os, op);
  Tensor y = Tensor::empty(os, DType::F32, x.device());
  if (y.numel() == 0) return y;
  fill_(y, value);
  const std::vector<int64_t> ds = contig_strides(os);
  float* dp = y.data<float>() + top * ds[1] + left * ds[2];
  strided_copy(x, x.raw(), x.strides(), dp, ds, x.shape(), op);
  return y;
}

Tensor pad2d_backward(const Tensor& dy, int64_t top, int64_t bottom, int64_t left, int64_t right) {
  const char* op = "pad2d_backward";
  check_elementwise_input(dy, op, "dy");
  check_ndim(dy, 4, op, "dy", "(N,H,W,C)");
  PCN_CHECK(top >= 0 && bottom >= 0 && left >= 0 && right >= 0,
            op << ": paddings must be >= 0, got [" << top << ", " << bottom << ", " << left << ", " << right << "]");
  PCN_CHECK(top + bottom <= dy.dim(1) && left + right <= dy.dim(2),
            op << ": paddings [" << top << ", " << bottom << ", " << left << ", " << right
               << "] exceed dy " << shape_str(dy.shape()));
  const Tensor a = slice_axis(dy, 1, top, dy.dim(1) - bottom);
  return slice_axis(a, 2, left, a.dim(2) - right);
}

// ---------------------------------------------------------------- dropout
std::tuple<Tensor, Tensor> dropout_forward(const Tensor& x0, float rate, uint64_t seed) {
  const char* op = "dropout_forward";
  check_elementwise_input(x0, op, "x");
  PCN_CHECK(rate >= 0.f && rate < 1.f, op << ": rate must be in [0, 1), got " << rate);
  const Tensor x = x0.contiguous();
  Tensor y = new_like(x), mask = new_like(x, DType::U8);
  DropoutParams p;
  p.n = x.numel(); p.rate = rate; p.seed = seed;
  if (p.n) dropout_forward_table.get(x.device())(p, x.data<float>(), y.data<float>(), mask.data<uint8_t>());
  return {y, mask};
}

Tensor dropout_backward(const Tensor& dy0, const Tensor& mask0, float rate) {
  const char* op = "dropout_backward";
  check_elementwise_input(dy0, op, "dy");
  check_defined(mask0, op, "mask");
  if (mask0.dtype() != DType::U8)
    PCN_THROW(TypeError, op << ": mask must be uint8, got " << dtype_name(mask0.dtype()));
  PCN_CHECK(rate >= 0.f && rate < 1.f, op << ": rate must be in [0, 1), got " << rate);
  check_same_shape(dy0, mask0, op, "dy", "mask");
  check_same_device(dy0, mask0, op);
  const Tensor dy = dy0.contiguous(), mask = mask0.contiguous();
  Tensor dx = new_like(dy);
  DropoutParams p;
  p.n = dy.numel(); p.rate = rate;
  if (p.n) dropout_backward_table.get(dy.device())(p, dy.data<float>(), mask.data<uint8_t>(), dx.data<float>());
  return dx;
}

// ---------------------------------------------------------------- cast / index
Tensor cast(const Tensor& x0, DType to) {
  check_defined(x0, "cast", "x");
  const Tensor x = x0.contiguous();
  Tensor y = Tensor::empty(x.shape(), to, x.device());
  CastParams p;
  p.from = x.dtype(); p.to = to; p.n = x.numel();
  if (p.n) cast_table.get(x.device())(p, x.raw(), y.raw());
  return y;
}

Tensor where(const Tensor& c0, const Tensor& a0, const Tensor& b0) {
  const char* op = "where";
  check_defined(c0, op, "condition");
  if (c0.dtype() != DType::U8 && c0.dtype() != DType::F32)
    PCN_THROW(TypeError, op << ": condition must be uint8 or float32, got " << dtype_name(c0.dtype()));
  check_elementwise_input(a0, op, "x");
  check_elementwise_input(b0, op, "y");
  check_same_shape(c0, a0, op, "condition", "x");
  check_same_shape(c0, b0, op, "condition", "y");
  check_same_device(c0, a0, op);
  check_same_device(c0, b0, op);
  const Tensor c = c0.contiguous(), a = a0.contiguous(), b = b0.contiguous();
  Tensor y = new_like(a);
  IndexParams p;
  p.op = IndexOp::Where; p.outer = a.numel(); p.label_dtype = c.dtype();
  if (p.outer) index_table.get(a.device())(p, c.raw(), a.raw(), b.raw(), y.raw());
  return y;
}

Tensor one_hot(const Tensor& l0, int64_t depth) {
  const char* op = "one_hot";
  check_defined(l0, op, "labels");
  if (l0.dtype() == DType::F32)
    PCN_THROW(TypeError, op << ": labels must be an integer dtype (int32, int64, uint8), got float32");
  PCN_CHECK(depth >= 1, op << ": depth must be >= 1, got " << depth);
  const Tensor l = l0.contiguous();
  std::vector<int64_t> os = l.shape();
  os.push_back(depth);
  checked_numel(os, op);
  Tensor y = Tensor::empty(os, DType::F32, l.device());
  IndexParams p;
  p.op = IndexOp::OneHot; p.outer = l.numel(); p.n = depth; p.label_dtype = l.dtype();
  if (p.outer) index_table.get(l.device())(p, l.raw(), nullptr, nullptr, y.raw());
  return y;
}

namespace {
void check_ids(const Tensor& ids, const char* op) {
  check_defined(ids, op, "ids");
  if (ids.dtype() != DType::I32 && ids.dtype() != DType::I64 && ids.dtype() != DType::U8)
    PCN_THROW(TypeError, op << ": ids must be an integer dtype (int32, int64, uint8), got " << dtype_name(ids.dtype()));
}

// On the host, name the first id outside [0, v) (the device kernels write zero rows instead).
template <class I>
void check_id_range(const I* ids, int64_t n, int64_t v, const char* op) {
  for (int64_t i = 0; i < n; ++i) {
    const int64_t id = int64_t(ids[i]);
    if (id < 0 || id >= v)
      PCN_THROW(ValueError, op << ": id " << id << " (at flat index " << i << ") is outside [0, " << v << ")");
  }
}
void check_ids_in_range(const Tensor& ids, int64_t v, const char* op) {
  if (ids.device().is_cuda()) return;
  if (ids.dtype() == DType::I32) check_id_range(ids.data<int32_t>(), ids.numel(), v, op);
  else if (ids.dtype() == DType::I64) check_id_range(ids.data<int64_t>(), ids.numel(), v, op);
  else check_id_range(ids.data<uint8_t>(), ids.numel(), v, op);
}
}  // namespace

Tensor embedding_lookup(const Tensor& ids0, const Tensor& table0) {
  const char* op = "embedding_lookup";
  check_ids(ids0, op);
  check_float(table0, op, "table");
  PCN_CHECK(table0.ndim() == 2, op << ": table must be 2-D (vocab, dim), got shape " << shape_str(table0.shape()));
  check_same_device(ids0, table0, op);
  const Tensor ids = ids0.contiguous(), table = table0.contiguous();
  EmbeddingParams p;
  p.n = ids.numel(); p.v = table.dim(0); p.d = table.dim(1); p.id_dtype = ids.dtype();
  std::vector<int64_t> os = ids.shape();
  os.push_back(p.d);
  checked_numel(os, op);
  check_ids_in_range(ids, p.v, op);
  Tensor y = Tensor::empty(os, DType::F32, table.device());
  if (p.n && p.d) embedding_forward_table.get(table.device())(p, ids.raw(), table.data<float>(), y.data<float>());
  return y;
}

Tensor embedding_backward(const Tensor& dy0, const Tensor& ids0, int64_t vocab, const std::optional<Tensor>& out,
                          bool accumulate) {
  const char* op = "embedding_backward";
  check_ids(ids0, op);
  check_float(dy0, op, "dy");
  check_same_device(ids0, dy0, op);
  PCN_CHECK(vocab >= 1, op << ": vocab must be >= 1, got " << vocab);
  PCN_CHECK(dy0.ndim() == ids0.ndim() + 1, op << ": dy must have shape ids.shape + (dim,) = "
                                               << shape_str(ids0.shape()) << " + (dim,), got " << shape_str(dy0.shape()));
  for (int i = 0; i < ids0.ndim(); ++i)
    PCN_CHECK(dy0.dim(i) == ids0.dim(i), op << ": dy must have shape ids.shape + (dim,) = "
                                            << shape_str(ids0.shape()) << " + (dim,), got " << shape_str(dy0.shape()));
  const int64_t d = dy0.dim(dy0.ndim() - 1);
  const std::vector<int64_t> ws{vocab, d};
  checked_numel(ws, op);
  if (accumulate && !(out && out->defined()))
    PCN_THROW(ValueError, op << ": accumulate=True needs an out= tensor to add into");
  Tensor dw;
  if (out && out->defined()) {
    check_float(*out, op, "out");
    check_same_device(dy0, *out, op);
    check_contiguous(*out, op, "out");
    if (out->shape() != ws)
      PCN_THROW(ValueError, op << ": out has shape " << shape_str(out->shape()) << ", expected " << shape_str(ws));
    dw = *out;
  } else {
    dw = Tensor::empty(ws, DType::F32, dy0.device());
  }
  const Tensor ids = ids0.contiguous(), dy = dy0.contiguous();
  check_ids_in_range(ids, vocab, op);
  EmbeddingParams p;
  p.n = ids.numel(); p.v = vocab; p.d = d; p.id_dtype = ids.dtype();
  if (d) embedding_backward_table.get(dy.device())(p, ids.raw(), dy.data<float>(), dw.data<float>(), accumulate);
  return dw;
}

Tensor argmax(const Tensor& x0, int64_t axis) {
  const char* op = "argmax";
  check_elementwise_input(x0, op, "x");
  PCN_CHECK(x0.ndim() >= 1, op << ": x must have rank >= 1");
  const Tensor x = x0.contiguous();
  const int64_t ax = normalize_axis(axis, x.ndim(), op);
  PCN_CHECK(x.dim(int(ax)) > 0, op << ": axis " << axis << " of " << shape_str(x.shape()) << " is empty");
  std::vector<int64_t> os;
  IndexParams p;
  p.op = IndexOp::Argmax;
  for (int i = 0; i < x.ndim(); ++i) {
    if (i < ax) p.outer *= x.dim(i);
    if (i > ax) p.inner *= x.dim(i);
    if (i != ax) os.push_back(x.dim(i));
  }
  p.n = x.dim(int(ax));
  Tensor y = Tensor::empty(os, DType::I64, x.device());
  if (y.numel()) index_table.get(x.device())(p, x.raw(), nullptr, nullptr, y.raw());
  return y;
}

int64_t accuracy_count(const Tensor& pred, const Tensor& labels) {
  const char* op = "accuracy_count";
  check_elementwise_input(pred, op, "pred");
  check_ndim(pred, 2, op, "pred", "(N,C)");
  check_defined(labels, op, "labels");
  Tensor am = argmax(pred, -1);
  Tensor lab;
  if (labels.dtype() == DType::F32) {
    PCN_CHECK(labels.shape() == pred.shape(), op << ": one-hot labels " << shape_str(labels.shape())
                                                 << " must match pred " << shape_str(pred.shape()));
    lab = argmax(labels, -1);
  } else {
    PCN_CHECK(labels.ndim() == 1 && labels.dim(0) == pred.dim(0),
              op << ": sparse labels must be (N,) = (" << pred.dim(0) << ",), got " << shape_str(labels.shape()));
    lab = cast(labels, DType::I64);
  }
  // Device tensors: compare on the host (two int64 per sample come back; the count is read on the host anyway).
  const Tensor ha = am.to(Device{}), hb = lab.to(Device{});
  const int64_t* a = ha.data<int64_t>();
  const int64_t* b = hb.data<int64_t>();
  int64_t n = 0;
  for (int64_t i = 0; i < am.numel(); ++i) n += a[i] == b[i];
  return n;
}

}  // namespace pcn
