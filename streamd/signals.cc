#include "streamd/signals.h"

#include <capnp/dynamic.h>
#include <capnp/schema.h>

#include <map>
#include <stdexcept>

#include "loggerd/log_reader.h"
#include "streamd/json.h"

namespace streamd {

namespace {

struct Signal {
  std::string name, service;
  std::vector<std::string> path;
  std::vector<double> t, v;
};

std::vector<std::string> split(const std::string &s, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    size_t next = s.find(sep, pos);
    out.push_back(s.substr(pos, next - pos));
    if (next == std::string::npos) return out;
    pos = next + 1;
  }
}

// The number at `path` inside `value`; throws naming what is there instead.
double number_at(capnp::DynamicValue::Reader value, const Signal &sig) {
  std::string done = sig.service;
  for (const std::string &part : sig.path) {
    if (value.getType() == capnp::DynamicValue::STRUCT) {
      auto st = value.as<capnp::DynamicStruct>();
      KJ_IF_MAYBE(field, st.getSchema().findFieldByName(part)) {
        value = st.get(*field);
      } else {
        throw std::invalid_argument("signal " + sig.name + ": no field '" + part + "' in " + done);
      }
    } else if (value.getType() == capnp::DynamicValue::LIST) {
      auto list = value.as<capnp::DynamicList>();
      char *end = nullptr;
      long i = strtol(part.c_str(), &end, 10);
      if (part.empty() || *end || i < 0 || size_t(i) >= list.size()) return NAN;  // this message has fewer items
      value = list[uint32_t(i)];
    } else {
      throw std::invalid_argument("signal " + sig.name + ": " + done + " is a value, it has no field '" + part + "'");
    }
    done += "." + part;
  }
  switch (value.getType()) {
    case capnp::DynamicValue::INT: return double(value.as<int64_t>());
    case capnp::DynamicValue::UINT: return double(value.as<uint64_t>());
    case capnp::DynamicValue::FLOAT: return value.as<double>();
    case capnp::DynamicValue::BOOL: return value.as<bool>() ? 1 : 0;
    case capnp::DynamicValue::ENUM: return value.as<capnp::DynamicEnum>().getRaw();
    default: throw std::invalid_argument("signal " + sig.name + " is not a number; pick a numeric field inside it");
  }
}

}  // namespace

std::string signals_json(const std::string &spec, const std::vector<std::string> &names, uint64_t t0_ns,
                         size_t max_points) {
  std::vector<Signal> sigs;
  auto event_schema = capnp::Schema::from<cereal::Event>();
  for (const std::string &name : names) {
    auto parts = split(name, '.');
    if (parts.size() < 2 || parts[0].empty()) {
      throw std::invalid_argument("signal '" + name + "': expected SERVICE.FIELD (e.g. modelV2.sceneChange)");
    }
    if (event_schema.findFieldByName(parts[0]) == nullptr) {
      throw std::invalid_argument("signal '" + name + "': no service '" + parts[0] + "'");
    }
    sigs.push_back({name, parts[0], std::vector<std::string>(parts.begin() + 1, parts.end()), {}, {}});
  }
  loggerd::LogReader lr(spec);
  while (lr.next()) {
    auto ev = lr.event();
    if (!t0_ns) t0_ns = ev.getLogMonoTime();
    capnp::DynamicStruct::Reader dyn = capnp::toDynamic(ev);
    KJ_IF_MAYBE(member, dyn.which()) {
      for (Signal &s : sigs) {
        if (member->getProto().getName() != s.service.c_str()) continue;
        double v = number_at(dyn.get(*member), s);
        if (std::isnan(v)) continue;
        s.t.push_back((double(ev.getLogMonoTime()) - double(t0_ns)) / 1e9);
        s.v.push_back(v);
      }
    }
  }
  std::string j = "{\"t0_ns\":" + std::to_string(t0_ns) + ",\"signals\":{";
  for (size_t i = 0; i < sigs.size(); i++) {
    const Signal &s = sigs[i];
    size_t step = s.t.size() > max_points ? (s.t.size() + max_points - 1) / max_points : 1;
    std::string t, v;
    for (size_t k = 0; k < s.t.size(); k += step) {
      t += (t.empty() ? "" : ",") + json_number(s.t[k]);
      v += (v.empty() ? "" : ",") + json_number(s.v[k]);
    }
    j += std::string(i ? "," : "") + json_quote(s.name) + ":{\"t\":[" + t + "],\"v\":[" + v + "]}";
  }
  return j + "}}";
}

}  // namespace streamd
