#pragma once
// The template of a conduit process in C++: a clean stop on SIGINT and
// SIGTERM, watchdog kicks, a rate keeper with lag accounting and params.
// common/process.py is the Python side.
//
//   conduit::Process proc("myproc", 20);      // rate 0: paced by its input
//   cereal::SubMaster sm({"sensorEvents"});
//   while (proc.running()) {
//     sm.update(100);
//     ...
//     proc.tick();  // kicks the watchdog; with a rate, keeps it
//   }
//
// The stop signals end the process's lockstep waits too (msgq.h), so a
// process under replay stops as it does live. One Process per process: its
// constructor installs the signal handlers (std::logic_error for a second).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/ratekeeper.h"

namespace conduit {

class Process {
 public:
  explicit Process(std::string name, double rate_hz = 0);
  ~Process();
  bool running() const;
  int stop_signal() const;  // the signal that stopped it, 0 while running
  // The end of one loop iteration: true when it came late (with a rate).
  bool tick();
  const std::string &name() const { return name_; }
  RateKeeper *rate_keeper() { return rk_.get(); }

 private:
  std::string name_;
  std::unique_ptr<RateKeeper> rk_;
};

// The stored JSON text of a param (manager/params.py: a file per key in
// $CONDUIT_PARAMS_DIR, else <shm_dir>/params), or nullopt when unset.
std::optional<std::string> read_param(const std::string &key);

}  // namespace conduit
