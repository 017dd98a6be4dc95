@0xebb83d78719bb0d5;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("modeld::schema");
# The compiled model format of modeld's runtime: written by modeld/compile_model
# from an ONNX file, read by modeld/model_file.cc. One message per file.
#
# A model is a graph of float32 ops in topological order. Every value is named;
# nodes refer to their inputs and outputs by name (an empty name is an omitted
# optional input, e.g. Conv without bias). Weights are initializers.
# Shapes are static (batch included). Everything is validated at load time.

struct Model {
  formatVersion @0 :UInt32;        # kFormatVersion in model_file.h
  producer @1 :Text;               # free text: tool and source file
  inputs @2 :List(Tensor);         # name + shape, no data
  outputs @3 :List(Tensor);        # name + shape as declared by the source model
  initializers @4 :List(Tensor);   # name + shape + data
  nodes @5 :List(Node);
}

struct Tensor {
  name @0 :Text;
  shape @1 :List(Int64);
  data @2 :Data;                   # float32 little-endian, row-major; empty for inputs/outputs
}

struct Node {
  name @0 :Text;
  inputs @1 :List(Text);
  outputs @2 :List(Text);
  union {
    conv @3 :Conv;
    relu @4 :Void;
    leakyRelu @5 :Alpha;
    sigmoid @6 :Void;
    tanh @7 :Void;
    elu @8 :Alpha;
    add @9 :Void;
    mul @10 :Void;
    concat @11 :Axis;
    maxPool @12 :Pool;
    averagePool @13 :Pool;
    globalAveragePool @14 :Void;
    gemm @15 :Gemm;
    matMul @16 :Void;
    reshape @17 :Reshape;
    flatten @18 :Axis;
    transpose @19 :Transpose;
    softmax @20 :Axis;
  }
}

# 2-D convolution over NCHW. Kernel size comes from the weight tensor.
struct Conv {
  strides @0 :List(Int32);         # [sh, sw]
  pads @1 :List(Int32);            # [top, left, bottom, right]
  dilations @2 :List(Int32);       # [dh, dw]
  group @3 :Int32;
}

struct Pool {
  kernel @0 :List(Int32);          # [kh, kw]
  strides @1 :List(Int32);
  pads @2 :List(Int32);            # [top, left, bottom, right]
  countIncludePad @3 :Bool;        # AveragePool only
}

struct Alpha { alpha @0 :Float32; }
struct Axis { axis @0 :Int32; }    # already normalized to >= 0
struct Gemm {
  alpha @0 :Float32;
  beta @1 :Float32;
  transA @2 :Bool;
  transB @3 :Bool;
}
struct Reshape { shape @0 :List(Int64); }   # ONNX semantics: 0 copies the input dim, -1 is inferred
struct Transpose { perm @0 :List(Int32); }
