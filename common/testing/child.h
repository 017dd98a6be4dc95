#pragma once
// A child process a test starts and always reaps: a program (argv[0] a path,
// optional extra environment, stderr to a file) or a function run in a fork
// (the child exits with its return value). A Child still running when it goes
// is SIGKILLed and reaped. Status: the exit code, or 128 + the signal number.
// Header only; one thread uses a Child.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace testutil {

class Child {
 public:
  struct Options {
    std::map<std::string, std::string> env;  // set in the child on top of this process's
    std::string stderr_path;                 // "" keeps this process's stderr
  };

  explicit Child(const std::vector<std::string> &argv, const Options &opt = {}) {
    std::vector<char *> args;
    for (const std::string &a : argv) args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("cannot fork for " + argv[0]);
    if (pid_ == 0) {
      for (const auto &[k, v] : opt.env) setenv(k.c_str(), v.c_str(), 1);
      if (!opt.stderr_path.empty()) {
        int fd = open(opt.stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, 2) < 0) _exit(126);
      }
      execv(args[0], args.data());
      _exit(127);
    }
  }
  explicit Child(const std::function<int()> &fn) {
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("cannot fork");
    if (pid_ == 0) _exit(fn());
  }
  ~Child() {
    if (pid_ > 0) stop(SIGKILL);
  }
  Child(const Child &) = delete;
  Child &operator=(const Child &) = delete;

  pid_t pid() const { return pid_; }
  bool alive() const { return pid_ > 0 && kill(pid_, 0) == 0; }
  void signal(int sig) { kill(pid_, sig); }
  // Waits for the end: the status, or -1 when it still runs after `timeout_s`
  // (a negative timeout waits as long as it takes).
  int wait(double timeout_s = -1) {
    if (pid_ <= 0) return -1;
    auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    int st = 0;
    while (waitpid(pid_, &st, timeout_s < 0 ? 0 : WNOHANG) != pid_) {
      if (std::chrono::steady_clock::now() >= end) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  // Sends `sig` and waits for the end.
  int stop(int sig) {
    signal(sig);
    return wait();
  }

 private:
  pid_t pid_ = -1;
};

}  // namespace testutil
