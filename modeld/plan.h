#pragma once
// The execution plan of a model, shared by every runner backend: the list of
// kernel launches (kernels/op_kernels.h) with their parameter blocks, ranges
// and buffer arguments, worked out once from a validated Model.
//
// Planning decides what does not depend on the backend: Reshape and Flatten
// become aliases (no launch), Concat one copy per input, Gemm a MatMul with
// strides, GlobalAveragePool a pool over the whole plane, and an activation
// that is the only consumer of a Conv is fused into it.
#include <array>
#include <string>
#include <vector>

#include "modeld/kernels/kernel_params.h"
#include "modeld/model.h"

namespace modeld {

enum class Kernel { kConv2d, kConv2dX4, kActivation, kBinary, kConcatCopy, kPool2d, kMatMul, kTranspose, kSoftmax };

const char *kernel_name(Kernel k);  // the kernel function name in op_kernels.h

struct Launch {
  Kernel kernel;
  std::string node;               // Node::describe() of the node it comes from
  std::array<size_t, 3> range;    // work items per dimension (1 for unused dimensions)
  std::vector<int> args;          // storage value ids in kernel argument order; -1 = absent
  union {
    ConvParams conv;
    ActivationParams activation;
    BinaryParams binary;
    ConcatParams concat;
    PoolParams pool;
    MatMulParams matmul;
    TransposeParams transpose;
    SoftmaxParams softmax;
  } p;
};

struct Plan {
  std::vector<Launch> launches;
  // storage[v]: the value whose buffer holds value v (v itself unless v is an
  // alias made by Reshape/Flatten); -1 for values folded away by fusion.
  std::vector<int> storage;
};

Plan make_plan(const Model &model);

}  // namespace modeld
