// The loader and validator of compiled models: every check names the node and
// says what was expected and what was found. Models are built in memory with
// the Cap'n Proto schema, so malformed graphs compile_model would refuse can
// still be fed to the runtime.
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "modeld/drop_counter.h"
#include "modeld/model.capnp.h"
#include "modeld/model.h"
#include "modeld/pipeline.h"
#include "modeld/runner.h"

using namespace modeld;

namespace {

struct Builder {
  capnp::MallocMessageBuilder message;
  schema::Model::Builder model = message.initRoot<schema::Model>();
  std::vector<std::function<void(schema::Node::Builder)>> nodes;
  std::vector<std::tuple<std::string, std::vector<int64_t>, std::vector<float>>> inits;

  explicit Builder(const std::vector<int64_t> &input_shape = {1, 2, 4, 4}) {
    model.setFormatVersion(kModelFormatVersion);
    auto in = model.initInputs(1);
    in[0].setName("x");
    set_shape(in[0].initShape(input_shape.size()), input_shape);
  }
  static void set_shape(capnp::List<int64_t>::Builder l, const std::vector<int64_t> &s) {
    for (size_t i = 0; i < s.size(); i++) l.set(i, s[i]);
  }
  static void set_names(capnp::List<capnp::Text>::Builder l, const std::vector<std::string> &s) {
    for (size_t i = 0; i < s.size(); i++) l.set(i, s[i]);
  }
  void init(const std::string &name, std::vector<int64_t> shape, std::vector<float> data) {
    inits.emplace_back(name, shape, data);
  }
  // A node; `fill` sets its op.
  void node(const std::string &name, const std::vector<std::string> &ins, const std::vector<std::string> &outs,
            const std::function<void(schema::Node::Builder)> &fill) {
    nodes.push_back([=](schema::Node::Builder n) {
      n.setName(name);
      set_names(n.initInputs(ins.size()), ins);
      set_names(n.initOutputs(outs.size()), outs);
      fill(n);
    });
  }
  std::vector<uint8_t> bytes(const std::string &output) {
    auto is = model.initInitializers(inits.size());
    for (size_t i = 0; i < inits.size(); i++) {
      auto &[name, shape, data] = inits[i];
      is[i].setName(name);
      set_shape(is[i].initShape(shape.size()), shape);
      is[i].setData(kj::arrayPtr(reinterpret_cast<const kj::byte *>(data.data()), data.size() * sizeof(float)));
    }
    auto ns = model.initNodes(nodes.size());
    for (size_t i = 0; i < nodes.size(); i++) nodes[i](ns[i]);
    auto outs = model.initOutputs(1);
    outs[0].setName(output);
    auto words = capnp::messageToFlatArray(message);
    auto b = words.asBytes();
    return std::vector<uint8_t>(b.begin(), b.end());
  }
};

void conv(schema::Node::Builder n, int group = 1) {
  auto c = n.initConv();
  c.initStrides(2).set(0, 1);
  c.getStrides().set(1, 1);
  c.initPads(4);
  c.initDilations(2).set(0, 1);
  c.getDilations().set(1, 1);
  c.setGroup(group);
}

std::string load_error(const std::vector<uint8_t> &bytes) {
  try {
    parse_model(bytes.data(), bytes.size(), "test.cmodel");
  } catch (const ModelError &e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(ModelLoad, RunsAHandBuiltGraphOnCpu) {
  Builder b({1, 2});
  b.init("w", {2, 3}, {1, 2, 3, 4, 5, 6});
  b.init("c", {3}, {0.5f, 0, -1});
  b.node("fc", {"x", "w", "c"}, {"y"}, [](schema::Node::Builder n) {
    auto g = n.initGemm();
    g.setAlpha(1);
    g.setBeta(2);
  });
  auto bytes = b.bytes("y");
  Model m = parse_model(bytes.data(), bytes.size(), "t");
  auto runner = ModelRunner::create(Device::open(Backend::kCpu), std::move(m));
  float x[2] = {1, -1}, y[3];
  runner->set_input(0, x);
  runner->run();
  runner->read_output(0, y);
  EXPECT_FLOAT_EQ(y[0], 1 - 4 + 1);
  EXPECT_FLOAT_EQ(y[1], 2 - 5 + 0);
  EXPECT_FLOAT_EQ(y[2], 3 - 6 - 2);
}

// A device outlives the runners it serves (one model after another, as in the
// model_file fuzz target): each runner gives its buffers back when it goes, or
// every model loaded keeps its memory until the device goes.
TEST(ModelRunner, GivesItsBuffersBackToTheDevice) {
  Builder b({1, 2});
  b.init("w", {2, 3}, {1, 2, 3, 4, 5, 6});
  b.init("c", {3}, {0.5f, 0, -1});
  b.node("fc", {"x", "w", "c"}, {"y"}, [](schema::Node::Builder n) { n.initGemm().setAlpha(1); });
  auto bytes = b.bytes("y");
  auto cpu = Device::open(Backend::kCpu);
  for (int round = 0; round < 3; round++) {
    auto runner = ModelRunner::create(cpu, parse_model(bytes.data(), bytes.size(), "t"));
    EXPECT_EQ(cpu->allocated_bytes(), (2 + 6 + 3 + 3) * sizeof(float));  // x, w, c, y
    runner->run();
  }
  EXPECT_EQ(cpu->allocated_bytes(), 0u);
}

TEST(Device, ReserveGrowsABufferAndReleaseGivesItBack) {
  auto cpu = Device::open(Backend::kCpu), other = Device::open(Backend::kCpu);
  DeviceBuffer b;
  cpu->reserve(b, 100);
  EXPECT_EQ(cpu->allocated_bytes(), 100u);
  cpu->reserve(b, 50);  // big enough already
  EXPECT_EQ(b.bytes, 100u);
  cpu->reserve(b, 300);
  EXPECT_EQ(b.bytes, 300u);
  EXPECT_EQ(cpu->allocated_bytes(), 300u);
  EXPECT_THROW(other->release(b), std::runtime_error);
  cpu->release(b);
  EXPECT_EQ(b.handle, nullptr);
  EXPECT_EQ(cpu->allocated_bytes(), 0u);
}

TEST(ModelLoad, ConvChannelMismatchNamesTheNode) {
  Builder b;
  b.init("w", {4, 3, 3, 3}, std::vector<float>(4 * 3 * 9));
  b.node("stem", {"x", "w"}, {"y"}, [](auto n) { conv(n); });
  EXPECT_EQ(load_error(b.bytes("y")),
            "test.cmodel: node 'stem' (Conv): weight 'w' [4, 3, 3, 3] expects 3 input channels, input 'x' [1, 2, 4, 4] has 2");
}

TEST(ModelLoad, GroupsMustDivideChannels) {
  Builder b;
  b.init("w", {3, 1, 1, 1}, std::vector<float>(3));
  b.node("grouped", {"x", "w"}, {"y"}, [](auto n) { conv(n, 2); });
  EXPECT_NE(load_error(b.bytes("y")).find("node 'grouped' (Conv): input channels 2 and output channels 3 must be "
                                          "multiples of group 2"),
            std::string::npos);
}

TEST(ModelLoad, UnknownInputAndDuplicateOutput) {
  Builder b;
  b.node("first", {"nope"}, {"y"}, [](auto n) { n.setRelu(); });
  EXPECT_NE(load_error(b.bytes("y")).find("node 'first' (Relu): input 'nope' is not a model input"), std::string::npos);

  Builder d;
  d.node("a", {"x"}, {"y"}, [](auto n) { n.setRelu(); });
  d.node("b", {"x"}, {"y"}, [](auto n) { n.setTanh(); });
  EXPECT_NE(load_error(d.bytes("y")).find("node 'b' (Tanh) output: value 'y' is defined twice"), std::string::npos);
}

TEST(ModelLoad, ShapeMismatchesNameTheNode) {
  Builder r;
  r.node("flat", {"x"}, {"y"}, [](auto n) {
    auto s = n.initReshape().initShape(2);
    s.set(0, 5);
    s.set(1, -1);
  });
  EXPECT_NE(load_error(r.bytes("y")).find("node 'flat' (Reshape): cannot infer -1: 32 elements do not divide by 5"),
            std::string::npos);

  Builder a({2, 3});
  a.init("b", {4}, std::vector<float>(4));
  a.node("sum", {"x", "b"}, {"y"}, [](auto n) { n.setAdd(); });
  EXPECT_NE(load_error(a.bytes("y")).find("node 'sum' (Add): cannot broadcast [2, 3] with [4]"), std::string::npos);

  Builder m({2, 3});
  m.init("w", {4, 2}, std::vector<float>(8));
  m.node("mm", {"x", "w"}, {"y"}, [](auto n) { n.setMatMul(); });
  EXPECT_NE(load_error(m.bytes("y")).find("node 'mm' (MatMul): A [2, 3] and B [4, 2] disagree on K: 3 vs 4"),
            std::string::npos);

  Builder c({1, 2, 4, 4});
  c.init("other", {1, 2, 5, 4}, std::vector<float>(40));
  c.node("join", {"x", "other"}, {"y"}, [](auto n) { n.initConcat().setAxis(1); });
  EXPECT_NE(load_error(c.bytes("y")).find("node 'join' (Concat): input 'other' [1, 2, 5, 4] does not match"),
            std::string::npos);
}

TEST(ModelLoad, WrongParameterCountNamesTheField) {
  Builder b;
  b.init("w", {2, 2, 1, 1}, std::vector<float>(4));
  b.node("c", {"x", "w"}, {"y"}, [](schema::Node::Builder n) {
    conv(n);
    n.getConv().initStrides(3);
  });
  EXPECT_EQ(load_error(b.bytes("y")), "test.cmodel: node 'c' (Conv): strides has 3 entries, expected 2");
}

TEST(ModelPipeline, RejectsAModelItCannotFeed) {
  Builder b({1, 5, 4, 4});
  b.node("r", {"x"}, {"y"}, [](auto n) { n.setRelu(); });
  auto bytes = b.bytes("y");
  Model m = parse_model(bytes.data(), bytes.size(), "t");
  try {
    ModelPipeline p(Device::open(Backend::kCpu), std::move(m));
    FAIL() << "expected ModelError";
  } catch (const ModelError &e) {
    EXPECT_NE(std::string(e.what()).find("model input 'x' has shape [1, 5, 4, 4], expected [1, 6, H, W]"),
              std::string::npos);
  }
}

TEST(DropCounter, CountsSkippedFramesOverTheWindow) {
  DropCounter d(4);
  EXPECT_FLOAT_EQ(d.add(10), 0);
  EXPECT_FLOAT_EQ(d.add(11), 0);
  EXPECT_FLOAT_EQ(d.add(13), 100.0f / 4);   // 1 skipped, 3 processed
  EXPECT_FLOAT_EQ(d.add(14), 100.0f / 5);   // 1 skipped, 4 processed
  EXPECT_FLOAT_EQ(d.add(15), 100.0f / 5);   // window of 4: 11,13,14,15 -> 1 skipped
  d.add(16);
  d.add(17);
  EXPECT_FLOAT_EQ(d.add(18), 0);            // the skip left the window
}

// Sizes chosen to overflow the loader's arithmetic (element counts, byte
// counts, window spans) are refused as ModelError, never wrapped around.
TEST(ModelLoad, HostileSizesAreRefusedNotOverflowed) {
  Builder w;  // 2^64 elements * 4 bytes wraps to 0 bytes of data
  w.init("w", {65536, 65536, 65536, 65536}, {});
  w.node("c", {"x", "w"}, {"y"}, [](auto n) { conv(n); });
  EXPECT_NE(load_error(w.bytes("y")).find("initializer 'w' [65536, 65536, 65536, 65536] has more than"), std::string::npos);

  Builder in({1, 2147483647, 2147483647, 1});  // a model input nobody could allocate
  in.node("r", {"x"}, {"y"}, [](auto n) { n.setRelu(); });
  EXPECT_NE(load_error(in.bytes("y")).find("model input 'x' [1, 2147483647, 2147483647, 1] has more than"),
            std::string::npos);

  Builder p;  // pads near INT32_MAX: size + pads overflowed int
  p.init("w", {2, 2, 1, 1}, std::vector<float>(4));
  p.node("padded", {"x", "w"}, {"y"}, [](schema::Node::Builder n) {
    conv(n);
    auto pads = n.getConv().initPads(4);
    for (int i = 0; i < 4; i++) pads.set(i, 2147483647);
  });
  EXPECT_NE(load_error(p.bytes("y")).find("node 'padded' (Conv): output [1, 2, "), std::string::npos) << load_error(p.bytes("y"));

  Builder d;  // dilation * (kernel - 1) overflowed int
  d.init("w", {2, 2, 3, 3}, std::vector<float>(36));
  d.node("dilated", {"x", "w"}, {"y"}, [](schema::Node::Builder n) {
    conv(n);
    n.getConv().getDilations().set(0, 2147483647);
  });
  EXPECT_NE(load_error(d.bytes("y")).find("node 'dilated' (Conv): height: window of 4294967295 does not fit"),
            std::string::npos) << load_error(d.bytes("y"));

  Builder g;  // weight channels * group overflowed int
  g.init("w", {65536, 65536, 1, 1}, {});
  g.node("grouped", {"x", "w"}, {"y"}, [](auto n) { conv(n, 65536); });
  EXPECT_NE(load_error(g.bytes("y")).find("initializer 'w'"), std::string::npos);
}

// Tensors each within the per-tensor limit, together more than a model may
// take (found by the model_file fuzzer: a 2 KB file made the runner allocate
// gigabytes). Refused at load, naming the node that crosses the cap.
TEST(ModelLoad, TotalTensorMemoryIsCapped) {
  auto chain = [](int relus) {
    Builder b({1, 1, 8192, 8192});  // 256 MiB each
    std::string prev = "x";
    for (int i = 1; i <= relus; i++) {
      b.node("r" + std::to_string(i), {prev}, {"y" + std::to_string(i)}, [](auto n) { n.setRelu(); });
      prev = "y" + std::to_string(i);
    }
    return b.bytes(prev);
  };
  EXPECT_EQ(load_error(chain(3)), "(no error)");  // 1024 MiB with the input: the cap itself
  EXPECT_EQ(load_error(chain(4)),
            "test.cmodel: node 'r4' (Relu): output [1, 1, 8192, 8192] brings the model's tensors to 1280 MiB, "
            "more than the 1024 MiB a model may take");
}

// Random corruption of a valid file (flipped bytes, truncation, overwritten
// words): the loader either accepts a model every runner can plan and run, or
// throws ModelError. Anything else (a crash, another exception) fails the test.
TEST(ModelLoad, CorruptedFilesGiveModelErrorOrAValidModel) {
  Builder b({1, 2, 6, 6});
  b.init("w", {3, 2, 3, 3}, std::vector<float>(54, 0.1f));
  b.init("bias", {3}, {1, 2, 3});
  b.init("fc", {12, 4}, std::vector<float>(48, 0.5f));
  b.node("conv", {"x", "w", "bias"}, {"c"}, [](auto n) { conv(n); });
  b.node("act", {"c"}, {"a"}, [](auto n) { n.initLeakyRelu().setAlpha(0.1f); });
  b.node("pool", {"a"}, {"p"}, [](schema::Node::Builder n) {
    auto p = n.initMaxPool();
    p.initKernel(2).set(0, 2);
    p.getKernel().set(1, 2);
    p.initStrides(2).set(0, 2);
    p.getStrides().set(1, 2);
    p.initPads(4);
  });
  b.node("flat", {"p"}, {"f"}, [](auto n) { n.initFlatten().setAxis(1); });
  b.node("dense", {"f", "fc"}, {"d"}, [](auto n) { n.initGemm().setAlpha(1); });
  b.node("prob", {"d"}, {"y"}, [](auto n) { n.initSoftmax().setAxis(1); });
  const std::vector<uint8_t> good = b.bytes("y");
  ASSERT_EQ(load_error(good), "(no error)");

  auto cpu = Device::open(Backend::kCpu);
  uint64_t rng = 0x9e3779b97f4a7c15ull;
  auto next = [&] { return rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17; };
  int accepted = 0, refused = 0;
  for (int round = 0; round < 4000; round++) {
    std::vector<uint8_t> bytes = good;
    switch (round % 4) {
      case 0: bytes.resize(next() % bytes.size()); break;
      case 1: for (int i = 0; i < 3; i++) bytes[next() % bytes.size()] ^= uint8_t(1 << (next() % 8)); break;
      case 2: bytes[next() % bytes.size()] = uint8_t(next()); break;
      case 3: {
        size_t at = next() % (bytes.size() / 4) * 4;
        uint32_t v = next() % 3 ? uint32_t(next()) : 0x7fffffffu;
        memcpy(&bytes[at], &v, 4);
        break;
      }
    }
    try {
      Model m = parse_model(bytes.data(), bytes.size(), "fuzz");
      accepted++;
      size_t elements = 0;
      for (const Value &v : m.values) elements += shape_count(v.shape);
      if (elements > 100000) continue;  // valid, but too slow to run here
      ModelRunner::create(cpu, std::move(m))->run();
    } catch (const ModelError &) {
      refused++;
    }
  }
  EXPECT_GT(refused, 1000);
  EXPECT_GT(accepted, 100);  // many corruptions hit weights or names: still a valid model
}
