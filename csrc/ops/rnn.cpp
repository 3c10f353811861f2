// ops/rnn.cpp — front of the rnn family (see ops/rnn.h for shapes and the
// workspace layout). Validates everything, sizes every buffer with
// checked_numel before allocating, and calls the device kernel.
#include "rnn.h"

#include <algorithm>

#include "../cpu/isa/rnn_isa.h"

namespace pcn {

namespace cpu {
void rnn_forward(const RnnParams& p, const float* x, const float* W, const float* R, const float* b,
                 const float* h0, const float* c0, float* out, float* hT, float* cT, float* ws, float* scratch);
void rnn_backward(const RnnParams& p, const float* dout, const float* dhT, const float* dcT, const float* x,
                  const float* W, const float* R, const float* ws, float* dx, float* dW, float* dR, float* db,
                  float* dh0, float* dc0, float* scratch);
}  // namespace cpu

OpTable<RnnFwdFn> rnn_forward_table{"rnn_forward", cpu::rnn_forward, nullptr};
OpTable<RnnBwdFn> rnn_backward_table{"rnn_backward", cpu::rnn_backward, nullptr};

static bool is_gru_ra(const RnnParams& p) { return p.cell == RnnCell::Gru && p.reset_after; }

int64_t rnn_saved_width(const RnnParams& p) { return p.cell == RnnCell::Lstm || p.cell == RnnCell::Gru ? 4 * p.U : p.U; }

int64_t rnn_workspace_floats(const RnnParams& p) {
  const int64_t S = rnn_saved_width(p);
  return p.N * p.T * (S + (p.cell == RnnCell::Lstm ? 3 : 1) * p.U);
}
// CPU kernel's packed copies of R (see cpu/isa/rnn_isa.h): forward R, backward R^T.
static int64_t packed_r_floats(const RnnParams& p, bool backward) {
  const int64_t U = p.U, GU = p.G * p.U;
  if (p.cell == RnnCell::Gru && !p.reset_after)
    return backward ? rnn_packed_floats(U, U) + rnn_packed_floats(2 * U, U)
                    : rnn_packed_floats(U, 2 * U) + rnn_packed_floats(U, U);
  return backward ? rnn_packed_floats(GU, U) : rnn_packed_floats(U, GU);
}
int64_t rnn_fwd_scratch_floats(const RnnParams& p) {
  const int64_t GU = p.G * p.U;
  // XW (N,T,GU) + HU (N,GU) + packed R + zero bias (2*GU)
  return p.N * p.T * GU + p.N * GU + packed_r_floats(p, false) + 2 * GU;
}
int64_t rnn_bwd_scratch_floats(const RnnParams& p) {
  const int64_t GU = p.G * p.U;
  // dZ (N,T,GU) [+ dZrec (N,T,GU) for GRU reset_after] + 4 (N,U) carries.
  return p.N * p.T * GU * (is_gru_ra(p) ? 2 : 1) + 4 * p.N * p.U + packed_r_floats(p, true);
}

namespace {

struct Ctx {
  std::string op;  // "rnn_forward (lstm)" — names the function and the cell
  RnnParams p;
};

RnnCell parse_cell(const std::string& cell, const char* fn) {
  if (cell == "simple_tanh" || cell == "simple" || cell == "simple_rnn") return RnnCell::SimpleTanh;
  if (cell == "simple_relu") return RnnCell::SimpleRelu;
  if (cell == "lstm") return RnnCell::Lstm;
  if (cell == "gru") return RnnCell::Gru;
  PCN_THROW(ValueError, fn << ": unknown cell '" << cell << "' (expected simple_tanh, simple_relu, lstm or gru)");
}

const char* cell_label(RnnCell c) {
  switch (c) {
    case RnnCell::SimpleTanh: return "simple_rnn tanh";
    case RnnCell::SimpleRelu: return "simple_rnn relu";
    case RnnCell::Lstm: return "lstm";
    default: return "gru";
  }
}

void check_f32(const Tensor& t, const std::string& op, const char* arg) { check_float(t, op.c_str(), arg); }

void check_cpu_dev(const Tensor& a, const Tensor& b, const std::string& op) { check_same_device(a, b, op.c_str()); }

void check_state(const Tensor& s, const Ctx& c, const char* arg, const Tensor& x) {
  check_f32(s, c.op, arg);
  check_cpu_dev(x, s, c.op);
  if (s.ndim() != 2 || s.dim(0) != c.p.N || s.dim(1) != c.p.U)
    PCN_THROW(ValueError, c.op << ": " << arg << " must be (batch, units) = (" << c.p.N << ", " << c.p.U << "), got shape "
                               << shape_str(s.shape()));
}

// Validates x/kernel/recurrent/bias/h0/c0 and fills c.p. Shared by forward and backward.
Ctx validate(const char* fn, const Tensor& x, const Tensor& W, const Tensor& R, const std::optional<Tensor>& bias,
             const std::optional<Tensor>& h0, const std::optional<Tensor>& c0, const std::string& cell,
             bool go_backwards, bool reset_after) {
  Ctx c;
  c.p.cell = parse_cell(cell, fn);
  c.op = std::string(fn) + " (" + cell_label(c.p.cell) + ")";
  const std::string& op = c.op;
  check_f32(x, op, "x");
  check_f32(W, op, "kernel");
  check_f32(R, op, "recurrent_kernel");
  if (bias) check_f32(*bias, op, "bias");
  if (h0) check_f32(*h0, op, "h0");
  if (c0) check_f32(*c0, op, "c0");
  check_cpu_dev(x, W, op);
  check_cpu_dev(x, R, op);
  if (bias) check_cpu_dev(x, *bias, op);
  if (x.ndim() != 3)
    PCN_THROW(ValueError, op << ": x must be 3-D (batch, time, features), got shape " << shape_str(x.shape()));
  if (W.ndim() != 2) PCN_THROW(ValueError, op << ": kernel must be 2-D (features, gates*units), got shape " << shape_str(W.shape()));
  if (R.ndim() != 2)
    PCN_THROW(ValueError, op << ": recurrent_kernel must be 2-D (units, gates*units), got shape " << shape_str(R.shape()));
  RnnParams& p = c.p;
  p.G = rnn_gates(p.cell);
  p.N = x.dim(0); p.T = x.dim(1); p.I = x.dim(2);
  p.U = R.dim(0);
  p.go_backwards = go_backwards;
  p.reset_after = p.cell == RnnCell::Gru ? reset_after : true;
  p.has_initial_state = bool(h0);
  if (p.T < 1) PCN_THROW(ValueError, op << ": sequence length (x.shape[1]) must be >= 1, got x shape " << shape_str(x.shape()));
  if (p.I < 1) PCN_THROW(ValueError, op << ": feature size (x.shape[2]) must be >= 1, got x shape " << shape_str(x.shape()));
  if (p.U < 1) PCN_THROW(ValueError, op << ": units (recurrent_kernel.shape[0]) must be >= 1, got recurrent_kernel shape " << shape_str(R.shape()));
  const int64_t GU = p.G * p.U;
  if (R.dim(1) != GU)
    PCN_THROW(ValueError, op << ": recurrent_kernel must be (units, " << p.G << "*units) = (" << p.U << ", " << GU
                             << "), got shape " << shape_str(R.shape()));
  if (W.dim(0) != p.I || W.dim(1) != GU)
    PCN_THROW(ValueError, op << ": kernel must be (features, " << p.G << "*units) = (" << p.I << ", " << GU
                             << ") for x " << shape_str(x.shape()) << " and units " << p.U << ", got shape "
                             << shape_str(W.shape()));
  if (bias) {
    const Tensor& b = *bias;
    if (is_gru_ra(p)) {
      if (b.ndim() != 2 || b.dim(0) != 2 || b.dim(1) != GU)
        PCN_THROW(ValueError, op << ": bias must be (2, 3*units) = (2, " << GU
                                 << ") with reset_after=True (row 0 input bias, row 1 recurrent bias), got shape "
                                 << shape_str(b.shape()));
    } else if (b.ndim() != 1 || b.dim(0) != GU) {
      PCN_THROW(ValueError, op << ": bias must be (" << p.G << "*units,) = (" << GU << ",), got shape " << shape_str(b.shape()));
    }
  }
  if (h0) check_state(*h0, c, "h0 (initial hidden state)", x);
  if (c0) {
    if (p.cell != RnnCell::Lstm) PCN_THROW(ValueError, op << ": c0 (initial cell state) is only for lstm; pass None");
    check_state(*c0, c, "c0 (initial cell state)", x);
  }
  // Every buffer's size, checked for overflow before anything is allocated.
  const int64_t S = rnn_saved_width(p);
  checked_numel({p.N, p.T, p.I}, op.c_str());
  checked_numel({p.N, p.T, GU}, op.c_str());
  checked_numel({p.N, p.T, S + 3 * p.U}, op.c_str());
  checked_numel({p.N, p.T, 2 * GU + 4 * p.U}, op.c_str());
  checked_numel({GU + kRnnPanel, GU + kRnnPanel, 2}, op.c_str());  // packed copies of R
  return c;
}

std::optional<Tensor> opt_contig(const std::optional<Tensor>& t) {
  if (!t) return std::nullopt;
  return t->contiguous();
}
const float* ptr(const std::optional<Tensor>& t) { return t ? t->data<float>() : nullptr; }

}  // namespace

std::tuple<Tensor, Tensor, std::optional<Tensor>, Tensor> rnn_forward(
    const Tensor& x0, const Tensor& W0, const Tensor& R0, const std::optional<Tensor>& bias0,
    const std::optional<Tensor>& h00, const std::optional<Tensor>& c00, const std::string& cell, bool go_backwards,
    bool reset_after) {
  check_defined(x0, "rnn_forward", "x");
  check_defined(W0, "rnn_forward", "kernel");
  check_defined(R0, "rnn_forward", "recurrent_kernel");
  const Ctx c = validate("rnn_forward", x0, W0, R0, bias0, h00, c00, cell, go_backwards, reset_after);
  const RnnParams& p = c.p;
  const Tensor x = x0.contiguous(), W = W0.contiguous(), R = R0.contiguous();
  const auto b = opt_contig(bias0), h0 = opt_contig(h00), c0 = opt_contig(c00);
  const Device dev = x.device();
  Tensor out = Tensor::empty({p.N, p.T, p.U}, DType::F32, dev);
  Tensor hT = Tensor::empty({p.N, p.U}, DType::F32, dev);
  std::optional<Tensor> cT;
  if (p.cell == RnnCell::Lstm) cT = Tensor::empty({p.N, p.U}, DType::F32, dev);
  Tensor ws = Tensor::empty({rnn_workspace_floats(p)}, DType::F32, dev);
  Tensor scratch = Tensor::empty({rnn_fwd_scratch_floats(p)}, DType::F32, dev);
  if (p.N > 0)
    rnn_forward_table.get(dev)(p, x.data<float>(), W.data<float>(), R.data<float>(), ptr(b), ptr(h0), ptr(c0),
                               out.data<float>(), hT.data<float>(), cT ? cT->data<float>() : nullptr,
                               ws.data<float>(), scratch.data<float>());
  return {out, hT, cT, ws};
}

std::tuple<Tensor, Tensor, Tensor, std::optional<Tensor>, std::optional<Tensor>, std::optional<Tensor>>
rnn_backward(const std::optional<Tensor>& dout0, const std::optional<Tensor>& dhT0, const std::optional<Tensor>& dcT0,
             const Tensor& x0, const Tensor& W0, const Tensor& R0, const std::optional<Tensor>& bias,
             const std::optional<Tensor>& h0, const std::optional<Tensor>& c0, const Tensor& ws0,
             const std::string& cell, bool go_backwards, bool reset_after) {
  check_defined(x0, "rnn_backward", "x");
  check_defined(W0, "rnn_backward", "kernel");
  check_defined(R0, "rnn_backward", "recurrent_kernel");
  check_defined(ws0, "rnn_backward", "workspace");
  const Ctx c = validate("rnn_backward", x0, W0, R0, bias, h0, c0, cell, go_backwards, reset_after);
  const RnnParams& p = c.p;
  const std::string& op = c.op;
  check_f32(ws0, op, "workspace");
  check_cpu_dev(x0, ws0, op);
  if (ws0.ndim() != 1 || ws0.dim(0) != rnn_workspace_floats(p))
    PCN_THROW(ValueError, op << ": workspace must be the 1-D tensor returned by rnn_forward for these shapes ("
                             << rnn_workspace_floats(p) << " floats), got shape " << shape_str(ws0.shape()));
  if (dout0) {
    check_f32(*dout0, op, "d_outputs");
    check_cpu_dev(x0, *dout0, op);
    if (dout0->ndim() != 3 || dout0->dim(0) != p.N || dout0->dim(1) != p.T || dout0->dim(2) != p.U)
      PCN_THROW(ValueError, op << ": d_outputs must be (batch, time, units) = (" << p.N << ", " << p.T << ", " << p.U
                               << "), got shape " << shape_str(dout0->shape()));
  }
  if (dhT0) check_state(*dhT0, c, "d_hT", x0);
  if (dcT0) {
    if (p.cell != RnnCell::Lstm) PCN_THROW(ValueError, op << ": d_cT is only for lstm; pass None");
    check_state(*dcT0, c, "d_cT", x0);
  }
  const Tensor x = x0.contiguous(), W = W0.contiguous(), R = R0.contiguous(), ws = ws0.contiguous();
  const auto dout = opt_contig(dout0), dhT = opt_contig(dhT0), dcT = opt_contig(dcT0);
  const Device dev = x.device();
  const int64_t GU = p.G * p.U;
  Tensor dx = Tensor::empty({p.N, p.T, p.I}, DType::F32, dev);
  Tensor dW = Tensor::empty({p.I, GU}, DType::F32, dev);
  Tensor dR = Tensor::empty({p.U, GU}, DType::F32, dev);
  std::optional<Tensor> db, dh0, dc0;
  if (bias) db = Tensor::empty(bias->shape(), DType::F32, dev);
  if (h0) dh0 = Tensor::empty({p.N, p.U}, DType::F32, dev);
  if (c0) dc0 = Tensor::empty({p.N, p.U}, DType::F32, dev);
  Tensor scratch = Tensor::empty({rnn_bwd_scratch_floats(p)}, DType::F32, dev);
  auto mut = [](std::optional<Tensor>& t) { return t ? t->data<float>() : nullptr; };
  rnn_backward_table.get(dev)(p, ptr(dout), ptr(dhT), ptr(dcT), x.data<float>(), W.data<float>(), R.data<float>(),
                              ws.data<float>(), dx.data<float>(), dW.data<float>(), dR.data<float>(), mut(db),
                              mut(dh0), mut(dc0), scratch.data<float>());
  return {dx, dW, dR, db, dh0, dc0};
}

}  // namespace pcn
