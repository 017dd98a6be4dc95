#pragma once
// Services of another host, reached through the bridge running there
// (bridge/bridge.cc, `bridge --publish`).
//
// Ports: service i of cereal/services.py is at the bridge's base port + i. The
// base is $CONDUIT_BRIDGE_PORT when set; else 8023 without CONDUIT_PREFIX, and
// one of 176 bases from 10240 up chosen by the prefix with one, so two
// pipelines on one host bridge on different ports and never cross. Both ends
// compute the same ports from the same prefix (or the same $CONDUIT_BRIDGE_PORT).
//
// Errors: std::invalid_argument for an unknown service or a bad
// $CONDUIT_BRIDGE_PORT; msgq::Error when a host's bridge cannot be reached,
// saying which: nothing there, the service not published, another key.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "msgq/msgq.h"

namespace cereal {

int bridge_base_port();
int bridge_port(std::string_view service);
// tcp://host:port of `service` on `host` (an IPv4 address or name).
std::string bridge_endpoint(const std::string &host, std::string_view service);

// True for the addresses that mean this host's own bus: "", 127.0.0.1, localhost, ::1.
bool is_local_addr(const std::string &addr);

// Subscribers of `services` as published by the bridge on `host`, after
// checking (within a second or two) that it serves each of them. They follow
// the bridge across restarts and network cuts, and count what they missed.
std::vector<std::unique_ptr<msgq::SubSocket>> remote_subscribers(const std::vector<std::string> &services,
                                                                 const std::string &host, bool conflate);

}  // namespace cereal
