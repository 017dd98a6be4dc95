#pragma once
// capnp 0.9's JSON decoder mis-decodes "\uXXXX" escapes (hex letters, surrogate
// pairs). decode_unicode_escapes() rewrites them as raw UTF-8 first, so
// from_json() reads any valid JSON. Throws std::invalid_argument on a malformed
// escape (bad hex digits, unpaired surrogate), naming the offset.
#include <string>
#include <string_view>

namespace cereal_py {

std::string decode_unicode_escapes(std::string_view json);

}  // namespace cereal_py
