#include "cereal/streams.h"

#include <capnp/dynamic.h>

#include <sstream>
#include <stdexcept>

namespace cereal {

namespace {

std::string camera_names() {
  std::string out;
  for (const CameraInfo &c : kCameras) out += (out.empty() ? "" : ",") + std::string(c.name);
  return out;
}

capnp::StructSchema::Field member(std::string_view service) {
  return capnp::Schema::from<Event>().getFieldByName(kj::StringPtr(std::string(service).c_str()));
}

void expect(Event::Reader ev, Event::Which which, std::string_view service) {
  if (ev.which() != which) throw std::invalid_argument("expected an Event holding " + std::string(service));
}

}  // namespace

std::vector<Camera> parse_camera_list(const std::string &list) {
  std::vector<Camera> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    bool found = false;
    for (const CameraInfo &c : kCameras) {
      if (item != c.name) continue;
      for (Camera s : out) {
        if (s == c.id) throw std::invalid_argument("camera '" + item + "' is listed twice in '" + list + "'");
      }
      out.push_back(c.id);
      found = true;
    }
    if (!found) {
      throw std::invalid_argument("unknown camera '" + item + "' in '" + list +
                                  "': expected a comma-separated subset of " + camera_names());
    }
  }
  if (out.empty()) throw std::invalid_argument("empty camera list: expected a comma-separated subset of " + camera_names());
  return out;
}

FrameData::Builder init_camera_state(Event::Builder ev, Camera c) {
  return capnp::toDynamic(ev).init(member(camera_info(c).state_service)).as<FrameData>();
}

EncodeData::Builder init_encode_data(Event::Builder ev, const Video &v) {
  return capnp::toDynamic(ev).init(member(v.data_service)).as<EncodeData>();
}

EncodeIndex::Builder init_encode_idx(Event::Builder ev, const Video &v) {
  return capnp::toDynamic(ev).init(member(v.idx_service)).as<EncodeIndex>();
}

void set_encode_idx(Event::Builder ev, const Video &v, EncodeIndex::Reader idx) {
  capnp::toDynamic(ev).set(member(v.idx_service), capnp::toDynamic(idx));
}

EncodeData::Reader encode_data(Event::Reader ev, const Video &v) {
  expect(ev, v.data_which, v.data_service);
  return capnp::toDynamic(ev).get(member(v.data_service)).as<EncodeData>();
}

EncodeIndex::Reader encode_idx(Event::Reader ev, const Video &v) {
  expect(ev, v.idx_which, v.idx_service);
  return capnp::toDynamic(ev).get(member(v.idx_service)).as<EncodeIndex>();
}

}  // namespace cereal
