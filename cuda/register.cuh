// register.cuh — one registration function per kernel family: cuda/<family>.cu
// defines register_<family>_cuda(), which fills that family's .cuda slots in
// the op tables; register_cuda_kernels() (runtime.cu) calls each once.
#pragma once

namespace pcn {
void register_gemm_cuda();    // gemm.cu: gemm_table.cuda
void register_pool2d_cuda();  // pool2d.cu: pool2d / global pool tables
void register_norm_cuda();    // norm.cu: batch norm, LRN tables
void register_rnn_cuda();     // rnn.cu: rnn forward/backward tables
void register_elementwise_cuda();  // elementwise.cu: pointwise, activations, binary, reduce, softmax, ...
void register_loss_cuda();         // loss.cu: class and regression losses
void register_optim_cuda();        // optim.cu: optimizer updates
void register_conv2d_cuda();       // conv2d.cu: conv2d forward / backward input, filter, bias
}  // namespace pcn
