// bind/bind.h — one registration function per op family (pybind11 only).
// module.cpp calls each; a family's file binds its ops and nothing else.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;

namespace pcn {
void bind_tensor(py::module_& m);       // tensor.cpp: Tensor, tensor/from_numpy/empty/zeros
void bind_gemm(py::module_& m);         // gemm.cpp: matmul, gemm_into
void bind_conv(py::module_& m);         // conv.cpp: conv2d_forward / backward_{input,filter,bias}
void bind_pool(py::module_& m);         // pool.cpp: pool2d forward/backward, global pooling
void bind_rnn(py::module_& m);          // rnn.cpp: rnn_forward / rnn_backward
void bind_elementwise(py::module_& m);  // elementwise.cpp: bias-add, activations, arithmetic, padding, concat, dropout
void bind_norm(py::module_& m);         // norm.cpp: batch norm, LRN
void bind_loss(py::module_& m);         // loss.cpp: softmax cross-entropy, MSE, ...
void bind_optim(py::module_& m);        // optim.cpp: SGD/Adam/RMSprop/Adagrad updates
void bind_cuda(py::module_& m);         // cuda.cpp: device queries, synchronize, CUDA-only extras
}  // namespace pcn

// Release the GIL around a kernel call.
#define PCN_NOGIL py::call_guard<py::gil_scoped_release>()
