// tools.mcap.foxglove_json: the JSON of bus messages for the live Foxglove
// server (tools/foxglove), from the same C++ as the MCAP export, so a layout
// made on a recording works live and the other way round.
//   schema(topic) -> (schema_name, json_schema)
//   message(event_bytes) -> (topic, logMonoTime, json bytes, keyframe); EncodeData
//                           events become foxglove.CompressedVideo frames on their
//                           own topic (keyframe: whether a decoder can start there)
//   event_json(event_bytes) -> str: the Event as JSON in the tools' one convention
//                           (event_json.h), EncodeData too; dump, export and lr print it
// Malformed messages raise ValueError. The GIL is released while converting.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <capnp/serialize.h>

#include "tools/mcap/compressed_video.h"
#include "tools/mcap/event_json.h"

namespace py = pybind11;

namespace {

struct Converted {
  std::string topic;
  uint64_t mono_time;
  std::string json;
  bool keyframe = false;
};

Converted convert(const std::string &bytes, bool video = true) {
  if (bytes.size() % sizeof(capnp::word)) throw py::value_error("a Cap'n Proto message is a whole number of words");
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  memcpy(words.begin(), bytes.data(), bytes.size());
  try {
    capnp::FlatArrayMessageReader msg(words, {1ull << 30, 64});
    auto ev = msg.getRoot<cereal::Event>();
    auto dyn = capnp::toDynamic(ev);
    KJ_IF_MAYBE(member, dyn.which()) {
      std::string topic = member->getProto().getName().cStr();
      if (const cereal::Video *s = video ? foxglove::video_stream(topic) : nullptr) {
        auto data = dyn.get(*member).as<cereal::EncodeData>();
        auto idx = data.getIdx();
        auto header = data.getHeader();
        bool key = idx.getFlags() & cereal::EncodeIndex::FLAG_KEYFRAME;
        return {topic, ev.getLogMonoTime(), foxglove::compressed_video_json(*s, idx.getTimestampSof(), data.getData().begin(), data.getData().size(),
                                                       key, {reinterpret_cast<const char *>(header.begin()), header.size()}),
                key};
      }
      return {topic, ev.getLogMonoTime(), foxglove::event_json(ev)};
    }
    throw py::value_error("the Event has no union member this schema knows");
  } catch (const kj::Exception &e) {
    throw py::value_error(std::string("malformed Event: ") + e.getDescription().cStr());
  }
}

}  // namespace

PYBIND11_MODULE(foxglove_json, m) {
  m.def("schema", [](const std::string &topic) {
    if (foxglove::video_stream(topic))
      return std::pair<std::string, std::string>(foxglove::kCompressedVideoSchemaName, foxglove::kCompressedVideoSchema);
    try {
      return std::pair<std::string, std::string>("conduit.Event." + topic, foxglove::event_schema(topic));
    } catch (const std::invalid_argument &e) {
      throw py::value_error(e.what());
    }
  }, py::arg("topic"), "(schema_name, JSON Schema) of the channel `topic`");
  m.def("message", [](py::bytes data) {
    std::string bytes = data;
    Converted out;
    {
      py::gil_scoped_release release;
      out = convert(bytes);
    }
    return py::make_tuple(out.topic, out.mono_time, py::bytes(out.json), out.keyframe);
  }, py::arg("event"), "(topic, logMonoTime, JSON bytes, keyframe) of one serialized Event");
  m.def("event_json", [](py::bytes data) {
    std::string bytes = data;
    Converted out;
    {
      py::gil_scoped_release release;
      out = convert(bytes, false);
    }
    return out.json;
  }, py::arg("event"), "the JSON of one serialized Event (tools/mcap/event_json.h)");
  py::list topics;
  for (const auto &s : cereal::kVideos) topics.append(s.data_service);
  m.attr("VIDEO_TOPICS") = topics;
}
