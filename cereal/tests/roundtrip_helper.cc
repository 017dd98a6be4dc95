// Drives C++ PubMaster / SubMaster for the Python round-trip tests
// (cereal/tests/test_roundtrip.py). Messages cross as capnp JSON:
//   roundtrip_helper pub SVC...        stdin: "<service>\t<Event JSON>" lines; publishes
//                                      each, answers "sent" per line
//   roundtrip_helper sub SVC... [-t MS] prints "ready", then "<service>\t<Event JSON>"
//                                      for the first message of each service
#include <chrono>
#include <cstring>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include <capnp/compat/json.h>

#include "cereal/messaging.h"
#include "common/clock.h"

namespace {

int publish(const std::vector<std::string> &services) {
  capnp::JsonCodec json;
  std::string line;
  cereal::PubMaster pm(services);
  while (std::getline(std::cin, line)) {
    size_t tab = line.find('\t');
    if (tab == std::string::npos) {
      std::cerr << "roundtrip_helper: expected <service>\\t<json>, got: " << line << "\n";
      return 2;
    }
    cereal::MessageBuilder msg;
    auto event = msg.initRoot<cereal::Event>();
    json.decode(kj::ArrayPtr<const char>(line.data() + tab + 1, line.size() - tab - 1), event);
    pm.send(line.substr(0, tab), msg);
    std::cout << "sent" << std::endl;
  }
  return 0;
}

int subscribe(const std::vector<std::string> &services, int timeout_ms) {
  capnp::JsonCodec json;
  cereal::SubMaster sm(services);
  std::set<std::string> missing(services.begin(), services.end());
  std::cout << "ready" << std::endl;
  uint64_t deadline = conduit::mono_ns() + uint64_t(timeout_ms) * 1000000;
  while (!missing.empty() && conduit::mono_ns() < deadline) {
    sm.update(100);
    for (const std::string &name : services) {
      if (sm.updated(name) && missing.erase(name)) {
        std::cout << name << "\t" << json.encode(sm[name]).cStr() << std::endl;
      }
    }
  }
  for (const std::string &name : missing) std::cerr << "roundtrip_helper: nothing received on " << name << "\n";
  return missing.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char **argv) {
  try {
    std::vector<std::string> services;
    if (argc >= 3 && std::strcmp(argv[1], "pub") == 0) return publish({argv + 2, argv + argc});
    if (argc >= 3 && std::strcmp(argv[1], "sub") == 0) {
      int timeout_ms = 10000;
      for (int i = 2; i < argc; ++i) {
        if (std::strcmp(argv[i], "-t") == 0 && i + 1 < argc) timeout_ms = std::stoi(argv[++i]);
        else services.emplace_back(argv[i]);
      }
      return subscribe(services, timeout_ms);
    }
  } catch (const kj::Exception &e) {
    std::cerr << "roundtrip_helper: " << e.getDescription().cStr() << "\n";
    return 1;
  } catch (const std::exception &e) {
    std::cerr << "roundtrip_helper: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "usage: roundtrip_helper pub SERVICE... | roundtrip_helper sub SERVICE... [-t MS]\n";
  return 2;
}
