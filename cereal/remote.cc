#include "cereal/remote.h"

#include <cstdlib>
#include <stdexcept>

#include "cereal/messaging.h"
#include "common/prefix.h"
#include "msgq/remote.h"

namespace cereal {

namespace {
constexpr int kUnprefixedBase = 8023, kPrefixedBase = 10240, kPrefixedBases = 176, kPortsPerBase = 128;
static_assert(kServices.size() <= kPortsPerBase, "more services than ports per bridge base");
constexpr int kProbeMs = 2000;
}  // namespace

int bridge_base_port() {
  if (const char *env = getenv("CONDUIT_BRIDGE_PORT"); env != nullptr && *env != '\0') {
    char *end;
    long port = strtol(env, &end, 10);
    if (*end != '\0' || port < 1 || port + long(kServices.size()) > 65535) {
      throw std::invalid_argument("CONDUIT_BRIDGE_PORT '" + std::string(env) + "' is not a port from 1 to " +
                                  std::to_string(65535 - kServices.size()));
    }
    return int(port);
  }
  const std::string prefix = conduit::prefix();
  if (prefix.empty()) return kUnprefixedBase;
  uint32_t h = 2166136261u;  // FNV-1a: the same base in every process and on every host
  for (char c : prefix) h = (h ^ uint8_t(c)) * 16777619u;
  return kPrefixedBase + kPortsPerBase * int(h % kPrefixedBases);
}

int bridge_port(std::string_view name) {
  const Service &s = service(name);
  return bridge_base_port() + int(&s - kServices.data());
}

std::string bridge_endpoint(const std::string &host, std::string_view service) {
  return "tcp://" + host + ":" + std::to_string(bridge_port(service));
}

bool is_local_addr(const std::string &addr) {
  return addr.empty() || addr == "127.0.0.1" || addr == "localhost" || addr == "::1";
}

std::vector<std::unique_ptr<msgq::SubSocket>> remote_subscribers(const std::vector<std::string> &services,
                                                                 const std::string &host, bool conflate) {
  const std::string key = msgq::bridge_key();
  std::vector<msgq::ZmqLink> links;
  for (const std::string &name : services) links.push_back(msgq::remote_link(name, bridge_endpoint(host, name), key));
  // Every bridge that publishes anything publishes its bridgeState: it tells
  // "no bridge there" from "not published there".
  links.push_back(msgq::remote_link("bridgeState", bridge_endpoint(host, "bridgeState"), key));
  const std::vector<msgq::ProbeResult> found = msgq::probe(links, kProbeMs);
  const std::string at = " (" + host + ", bridge ports from " + std::to_string(bridge_base_port()) + ")";
  for (size_t i = 0; i < services.size(); ++i) {
    const std::string what = "'" + services[i] + "' at " + links[i].endpoint;
    switch (found[i]) {
      case msgq::ProbeResult::kConnected: break;
      case msgq::ProbeResult::kRefused:
        if (found.back() == msgq::ProbeResult::kConnected) {
          throw msgq::Error("cannot subscribe to " + what + ": the bridge on " + host + " does not publish it "
                            "(run it there with --publish " + services[i] + " or --publish all)");
        }
        throw msgq::Error("cannot subscribe to " + what + ": no bridge there" + at +
                          "; start `bridge --publish ...` on that host with the same CONDUIT_PREFIX / CONDUIT_BRIDGE_PORT");
      case msgq::ProbeResult::kHandshakeFailed:
        throw msgq::Error("cannot subscribe to " + what + ": the handshake failed" + at + "; both ends need the same "
                          "CONDUIT_BRIDGE_KEY (or both none)");
      case msgq::ProbeResult::kNoAnswer:
        throw msgq::Error("cannot subscribe to " + what + ": no answer within " + std::to_string(kProbeMs) + " ms" + at +
                          "; is the host up and reachable?");
    }
  }
  std::vector<std::unique_ptr<msgq::SubSocket>> subs;
  for (size_t i = 0; i < services.size(); ++i) {
    msgq::SubOptions opts{.conflate = conflate, .ring_size = service(services[i]).ring_size};
    subs.push_back(std::make_unique<msgq::ZmqSubSocket>(services[i], opts, links[i]));
  }
  return subs;
}

}  // namespace cereal
