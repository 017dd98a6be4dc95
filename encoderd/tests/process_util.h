#pragma once
// Test helpers: run conduit programs as child processes, collect bus messages.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <capnp/serialize.h>

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cereal/gen/log.capnp.h"
#include "msgq/msgq.h"

extern char **environ;

namespace testutil {

class Child {
 public:
  explicit Child(const std::vector<std::string> &argv) {
    std::vector<char *> args;
    for (const std::string &a : argv) args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    if (posix_spawn(&pid_, args[0], nullptr, nullptr, args.data(), environ) != 0) {
      throw std::runtime_error("cannot start " + argv[0]);
    }
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  void signal(int sig) { kill(pid_, sig); }
  // Exit status (or 128 + signal); -1 when it did not end within timeout_s.
  int wait(double timeout_s) {
    auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (std::chrono::steady_clock::now() < end) {
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

// Receives Events from `sock` until pred() holds or timeout_s passes.
inline bool collect(msgq::SubSocket &sock, double timeout_s, const std::function<void(cereal::Event::Reader)> &on_event,
                    const std::function<bool()> &done) {
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  msgq::Message m;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    if (!sock.receive(m, 50)) continue;
    capnp::FlatArrayMessageReader reader(
        kj::ArrayPtr<const capnp::word>(reinterpret_cast<const capnp::word *>(m.data()), m.size() / 8));
    on_event(reader.getRoot<cereal::Event>());
  }
  return true;
}

}  // namespace testutil
