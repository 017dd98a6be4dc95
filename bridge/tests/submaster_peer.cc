// A subscriber for the bridge tests, in C++: cereal::SubMaster on testMessage,
// of this host's bus or (--addr HOST) of a bridge on another host. Prints
// "ready" at the first message, then each message's bytes in hex until one
// with payload "last", then "lost <n>". A connection error: "error <message>", exit 2.
#include <cstdio>
#include <string>

#include "cereal/messaging.h"
#include "common/clock.h"

int main(int argc, char **argv) {
  const std::string addr = argc > 1 ? argv[1] : "";
  const uint64_t deadline = conduit::mono_ns() + 30'000'000'000ull;
  try {
    cereal::SubMaster sm({"testMessage"}, {}, {}, false, addr);
    bool first = true;
    while (conduit::mono_ns() < deadline) {
      sm.update(100);
      if (!sm.updated("testMessage")) continue;
      if (first) printf("ready\n");
      first = false;
      const msgq::Message &bytes = sm.message("testMessage")->bytes;
      for (size_t i = 0; i < bytes.size(); ++i) printf("%02x", uint8_t(bytes.data()[i]));
      printf("\n");
      fflush(stdout);
      auto payload = sm["testMessage"].getTestMessage().getPayload();
      if (payload.size() == 4 && std::string(reinterpret_cast<const char *>(payload.begin()), 4) == "last") break;
    }
    printf("lost %llu\n", (unsigned long long)sm.lost("testMessage"));
  } catch (const std::exception &e) {
    printf("error %s\n", e.what());
    return 2;
  }
  return 0;
}
