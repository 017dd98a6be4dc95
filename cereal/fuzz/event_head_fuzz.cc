// libFuzzer target event_head, differential: SubMaster's check of a received
// message against Cap'n Proto's own reader. The first input byte picks the
// service, the rest is the message as published.
//
// Asserts, for every input:
//   - SubMaster hands out (updated) only what capnp reads in full, through
//     the schema, as an Event of that service; reading what it hands out
//     never throws.
//   - SubMaster hands out everything capnp reads that way (no false refusals).
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <capnp/schema.h>
#include <capnp/serialize.h>
#include <capnp/dynamic.h>

#include "cereal/event_check.h"
#include "cereal/messaging.h"
#include "common/testing/fuzz_prefix.h"

using namespace cereal;

namespace {

const char *const kFuzzedServices[] = {"liveCalibration", "roadCameraState", "modelV2", "logMessage"};
constexpr size_t kFuzzedCount = sizeof(kFuzzedServices) / sizeof(kFuzzedServices[0]);

// Reads every pointer the schema reaches from `v` through capnp's dynamic API
// (only the active member of a union; elements of lists that hold pointers).
// Throws kj::Exception where capnp refuses one.
void read_all(capnp::DynamicValue::Reader v) {
  if (v.getType() == capnp::DynamicValue::STRUCT) {
    auto s = v.as<capnp::DynamicStruct>();
    for (auto field : s.getSchema().getNonUnionFields()) read_all(s.get(field));
    KJ_IF_MAYBE (field, s.which()) read_all(s.get(*field));
  } else if (v.getType() == capnp::DynamicValue::LIST) {
    auto list = v.as<capnp::DynamicList>();
    auto element = list.getSchema().whichElementType();
    if (element == capnp::schema::Type::STRUCT || element == capnp::schema::Type::LIST ||
        element == capnp::schema::Type::TEXT || element == capnp::schema::Type::DATA ||
        element == capnp::schema::Type::ANY_POINTER) {
      for (auto e : list) read_all(e);
    }
  }
}

// Which member capnp reads `bytes` as, having read every field the schema
// reaches within the traversal limit SubMaster allows it; -1 when capnp
// refuses it anywhere.
int capnp_reads_as(const std::vector<capnp::word> &words, size_t size) {
  if (size % sizeof(capnp::word) != 0) return -1;
  try {
    capnp::FlatArrayMessageReader reader(kj::arrayPtr(words.data(), words.size()),
                                         event_reader_options(words.size()));
    Event::Reader event = reader.getRoot<Event>();
    read_all(capnp::DynamicStruct::Reader(event));
    return int(event.which());
  } catch (const kj::Exception &) {
    return -1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  static const bool env_set = [] {
    testutil::use_fuzz_prefix("event_head");
    setenv("ZMQ", "0", 1);
    return true;
  }();
  (void)env_set;
  static std::vector<std::string> names(kFuzzedServices, kFuzzedServices + kFuzzedCount);
  static PubMaster pm(names);
  static SubMaster sm(names);
  static std::vector<int> which = [] {
    std::vector<int> w;
    for (const char *name : kFuzzedServices) {
      w.push_back(capnp::Schema::from<Event>().getFieldByName(name).getProto().getDiscriminantValue());
    }
    return w;
  }();

  const size_t service = data[0] % kFuzzedCount;
  const char *name = kFuzzedServices[service];
  const uint8_t *msg = data + 1;
  const size_t msg_size = size - 1;
  std::vector<capnp::word> words(msg_size / sizeof(capnp::word));
  if (!words.empty()) memcpy(words.data(), msg, words.size() * sizeof(capnp::word));
  const bool readable = capnp_reads_as(words, msg_size) == which[service];

  pm.send(name, msg, msg_size);
  sm.update(0);
  const bool accepted = sm.updated(name);
  if (accepted && !readable) {
    fprintf(stderr, "event_head: SubMaster handed out a %s message capnp cannot read in full\n", name);
    abort();
  }
  if (readable && !accepted) {
    fprintf(stderr, "event_head: SubMaster refused a %s message capnp reads in full\n", name);
    abort();
  }
  if (accepted) read_all(capnp::DynamicStruct::Reader(sm[name]));  // must not throw: an escaping kj::Exception aborts here
  return 0;
}
