#include "common/process.h"

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/prefix.h"
#include "common/stop_signal.h"
#include "common/watchdog.h"
#include "msgq/msgq.h"

namespace conduit {

namespace {
std::atomic<int> g_stop_signal{0};
std::atomic<bool> g_installed{false};

void on_stop(int sig) {
  g_stop_signal.store(sig);
  msgq::stop_lockstep_waits();
}
}  // namespace

Process::Process(std::string name, double rate_hz) : name_(std::move(name)) {
  if (g_installed.exchange(true)) throw std::logic_error("conduit::Process: one per process");
  g_stop_signal.store(0);  // an earlier Process's stop does not stop this one
  if (rate_hz > 0) rk_ = std::make_unique<RateKeeper>(rate_hz);
  on_stop_signal(on_stop);
}

Process::~Process() { g_installed.store(false); }

bool Process::running() const { return g_stop_signal.load() == 0; }

int Process::stop_signal() const { return g_stop_signal.load(); }

bool Process::tick() {
  watchdog_kick();
  return rk_ ? rk_->keep_time() : false;
}

std::optional<std::string> read_param(const std::string &key) {
  const char *dir = getenv("CONDUIT_PARAMS_DIR");
  std::ifstream f((dir && *dir ? std::string(dir) : shm_dir() + "/params") + "/" + key);
  if (!f) return std::nullopt;
  std::stringstream text;
  text << f.rdbuf();
  return text.str();
}

}  // namespace conduit
