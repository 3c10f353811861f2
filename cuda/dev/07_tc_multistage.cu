// 07_tc_multistage.cu — TF32 v3 (`sgemm_tc3<.., false>` in cuda/gemm_kernels.cuh): 128x256x32
// block tile, 8 warps of 64x64 (32 mma.m16n8k8 per k step per warp), 4-stage cp.async pipeline
// of raw fp32 tiles in 192 KiB of XOR-swizzled dynamic shared memory (one barrier per k tile),
// ldmatrix.x4 fragments for the k-contiguous operand and permuted 16-byte loads for the other,
// cvt.rna.tf32 in registers. Predicted (NOTES.md, v3): 150-220 TFLOP/s at 4096^3, i.e. 40-60 %
// of cuBLAS TF32 (370). NOT YET RUN ON A GPU.
//   ./07_tc_multistage [M N K]        # NN;  PCN_LAB_TRANS=TN|NT|TT picks the transposes
#include "../gemm_kernels.cuh"
#define PCN_LAB_BASELINE 1  // cuBLAS with TF32 tensor ops
#include "common.cuh"

const char* kName = "07_tc_multistage (TF32)";
const float kTol = 1e-3f;

#define PCN_LAB_TC3_BF16 false
#include "tc3_launch.cuh"

#include "main.cuh"
