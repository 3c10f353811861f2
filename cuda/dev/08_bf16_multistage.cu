// 08_bf16_multistage.cu — BF16 v3f (`sgemm_tc3<.., true>`, PCN_GEMM_TC=v3f): the 07 pipeline with fp32 tiles in
// shared memory converted to bf16 pairs at fragment load (option (b) in NOTES.md, v3), k order
// permuted inside each 16-step so that every fragment pair is one 16-byte load, mma.m16n8k16.
// Predicted: 230-330 TFLOP/s at 4096^3 = 30-45 % of cuBLAS bf16 in/out (741). NOT YET RUN ON A GPU.
#include "../gemm_kernels.cuh"
#define PCN_LAB_BASELINE 2  // cuBLAS bf16 in/out, fp32 accumulate
#include "common.cuh"

const char* kName = "08_bf16_multistage (BF16)";
const float kTol = 1e-2f;

#define PCN_LAB_TC3_BF16 true
#include "tc3_launch.cuh"

#include "main.cuh"
