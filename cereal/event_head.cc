#include "cereal/event_head.h"

#include <algorithm>
#include <string>

#include <capnp/schema.h>

namespace cereal::detail {

void check_event_layout() {
  auto schema = capnp::Schema::from<Event>();
  auto mono = schema.getFieldByName("logMonoTime").getProto().getSlot();
  auto valid = schema.getFieldByName("valid").getProto().getSlot();
  const EventLayout &l = kEventLayout;
  const bool same = l.which_byte == schema.getProto().getStruct().getDiscriminantOffset() * sizeof(uint16_t) &&
                    l.mono_byte == mono.getOffset() * sizeof(uint64_t) && mono.getDefaultValue().getUint64() == 0 &&
                    l.valid_byte == valid.getOffset() / 8 && l.valid_mask == 1u << (valid.getOffset() % 8) &&
                    valid.getDefaultValue().getBool() &&
                    l.data_bytes == std::max({l.which_byte + sizeof(uint16_t), l.mono_byte + sizeof(uint64_t), l.valid_byte + 1});
  if (!same) throw std::logic_error("cereal/log.capnp moved Event's logMonoTime, valid or union tag: update kEventLayout in cereal/event_head.h");
}

// The Event union discriminant whose member is named `name`.
Event::Which event_which(std::string_view name) {
  auto schema = capnp::Schema::from<Event>();
  KJ_IF_MAYBE(field, schema.findFieldByName(kj::StringPtr(std::string(name).c_str()))) {
    if (field->getProto().getDiscriminantValue() != capnp::schema::Field::NO_DISCRIMINANT) {
      return static_cast<Event::Which>(field->getProto().getDiscriminantValue());
    }
  }
  throw std::invalid_argument("service '" + std::string(name) +
                              "' has no Event union member of that name in cereal/log.capnp");
}

}  // namespace cereal::detail
