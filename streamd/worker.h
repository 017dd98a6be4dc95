#pragma once
// Work that would hold up the event loop (remuxing a route, reading its logs
// for signals, its qlogs for the route JSON) runs on one background thread,
// in the order posted. A job returns what the loop thread runs with its
// result; the loop takes those after an eventfd wakes it.
// Threads: post() and take() from the loop thread; jobs on the worker's.
// Errors: a job that throws is the job's business (catch inside it).
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace streamd {

class Worker {
 public:
  using Done = std::function<void()>;  // runs on the loop thread
  using Job = std::function<Done()>;   // runs on the worker thread

  Worker();
  ~Worker();  // finishes the job at hand, drops the rest
  Worker(const Worker &) = delete;
  Worker &operator=(const Worker &) = delete;

  int event_fd() const { return event_fd_; }
  void post(Job job);
  std::vector<Done> take();
  size_t pending() const;  // posted and not yet taken

 private:
  void run();

  int event_fd_ = -1;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::vector<Done> done_;
  size_t pending_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace streamd
