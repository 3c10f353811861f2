// ops/rnn.h — recurrent cells over whole sequences (SimpleRNN, LSTM, GRU), Keras 3
// layouts and semantics: front (validation, shapes, allocation) and dispatch tables.
//
// Shapes (U = units, G = gates: 1 simple, 4 LSTM [i,f,c,o], 3 GRU [z,r,h]):
//   x (N,T,I); kernel (I,G*U); recurrent_kernel (U,G*U);
//   bias (G*U), or (2,3U) for GRU with reset_after (row 0 input bias, row 1 recurrent bias);
//   h0, c0 (N,U) optional (zeros when absent); outputs (N,T,U) in processing order.
//
// Workspace (one flat float32 tensor, returned by forward, consumed by backward).
// Every block is indexed by (n, t) with t the TIME index of x (not the processing
// step), i.e. laid out like x, so the weight gradients are single big GEMMs:
//   A  (N,T,S)  saved gate values at the step that consumed x[n,t]:
//               simple: S=U,  h_t (the activation output)
//               LSTM:   S=4U, [i, f, g, o] after their activations
//               GRU:    S=4U, [z, r, hh, e] with e = (h_prev U_h + b_rec_h) when
//                       reset_after, else e = r * h_prev
//   P  (N,T,U)  h_prev: the hidden state fed into that step
//   LSTM only:
//   CP (N,T,U)  c_prev: the cell state fed into that step
//   TC (N,T,U)  tanh(c_t) of that step
// Offsets: A at 0, P at N*T*S, CP at N*T*(S+U), TC at N*T*(S+2U).
#pragma once
#include <optional>
#include <string>
#include <tuple>

#include "../dispatch.h"
#include "../tensor.h"

namespace pcn {

// Per-step gate-storage width S and total workspace / scratch sizes (floats).
int64_t rnn_saved_width(const RnnParams& p);
int64_t rnn_workspace_floats(const RnnParams& p);
int64_t rnn_fwd_scratch_floats(const RnnParams& p);
int64_t rnn_bwd_scratch_floats(const RnnParams& p);

// Forward. x (N,T,I), W (I,GU), R (U,GU) contiguous; b null (no bias) or GU
// floats (2*GU for GRU reset_after); h0/c0 null (zeros) or (N,U). Writes every
// element of out (N,T,U), hT (N,U), cT (N,U) [LSTM; null otherwise] and ws.
// scratch: rnn_fwd_scratch_floats(p) floats, contents undefined on entry.
using RnnFwdFn = void (*)(const RnnParams& p, const float* x, const float* W, const float* R,
                          const float* b, const float* h0, const float* c0, float* out, float* hT,
                          float* cT, float* ws, float* scratch);
// Backward through time (overwrites, never accumulates). dout (N,T,U) or null;
// dhT/dcT (N,U) or null; ws from forward. Writes dx (N,T,I), dW (I,GU),
// dR (U,GU), db (same size as the bias; null = no bias), dh0/dc0 (N,U; null =
// not wanted). scratch: rnn_bwd_scratch_floats(p) floats.
using RnnBwdFn = void (*)(const RnnParams& p, const float* dout, const float* dhT, const float* dcT,
                          const float* x, const float* W, const float* R, const float* ws, float* dx,
                          float* dW, float* dR, float* db, float* dh0, float* dc0, float* scratch);

extern OpTable<RnnFwdFn> rnn_forward_table;
extern OpTable<RnnBwdFn> rnn_backward_table;

// cell: "simple_tanh" | "simple_relu" | "lstm" | "gru".
// Returns (outputs (N,T,U), h_T (N,U), c_T (N,U) or None, workspace).
std::tuple<Tensor, Tensor, std::optional<Tensor>, Tensor> rnn_forward(
    const Tensor& x, const Tensor& kernel, const Tensor& recurrent_kernel, const std::optional<Tensor>& bias,
    const std::optional<Tensor>& h0, const std::optional<Tensor>& c0, const std::string& cell,
    bool go_backwards, bool reset_after);

// Returns (dx, dkernel, drecurrent_kernel, dbias or None, dh0 or None, dc0 or None);
// dh0/dc0 are returned when h0/c0 were given.
std::tuple<Tensor, Tensor, Tensor, std::optional<Tensor>, std::optional<Tensor>, std::optional<Tensor>>
rnn_backward(const std::optional<Tensor>& d_outputs, const std::optional<Tensor>& d_hT,
             const std::optional<Tensor>& d_cT, const Tensor& x, const Tensor& kernel,
             const Tensor& recurrent_kernel, const std::optional<Tensor>& bias, const std::optional<Tensor>& h0,
             const std::optional<Tensor>& c0, const Tensor& workspace, const std::string& cell, bool go_backwards,
             bool reset_after);

}  // namespace pcn
