// register_families.h — registration entry points of the CUDA op families that
// live in their own .cu files. register_cuda_kernels() (cuda/runtime.cu) calls
// each once at module import, after the allocator is installed; each sets the
// .cuda slots of its family's OpTables (csrc/ops/<family>.h).
#pragma once

namespace pcn {
void register_pool2d_cuda();  // cuda/pool2d.cu: pool2d fwd/bwd, global pool fwd/bwd
void register_norm_cuda();    // cuda/norm.cu:   batch norm train/infer/bwd/update_running_, LRN fwd/bwd
void register_rnn_cuda();     // cuda/rnn.cu:    rnn_forward / rnn_backward (simple, LSTM, GRU)
}  // namespace pcn
