// register.cuh — one registration function per kernel family: cuda/<family>.cu
// defines register_<family>_cuda(), which fills that family's .cuda slots in
// the op tables; register_cuda_kernels() (runtime.cu) calls each once.
#pragma once

namespace pcn {
void register_gemm_cuda();  // gemm.cu: gemm_table.cuda
}  // namespace pcn
