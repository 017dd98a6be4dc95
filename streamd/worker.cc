#include "streamd/worker.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <stdexcept>
#include <utility>

namespace streamd {

Worker::Worker() {
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0) throw std::runtime_error("worker: eventfd failed");
  thread_ = std::thread(&Worker::run, this);
}

Worker::~Worker() {
  {
    std::lock_guard<std::mutex> lk(mutex_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
  close(event_fd_);
}

void Worker::post(Job job) {
  {
    std::lock_guard<std::mutex> lk(mutex_);
    jobs_.push_back(std::move(job));
    pending_++;
  }
  cv_.notify_one();
}

std::vector<Worker::Done> Worker::take() {
  uint64_t n;
  (void)!read(event_fd_, &n, sizeof n);
  std::lock_guard<std::mutex> lk(mutex_);
  pending_ -= done_.size();
  return std::exchange(done_, {});
}

size_t Worker::pending() const {
  std::lock_guard<std::mutex> lk(mutex_);
  return pending_;
}

void Worker::run() {
  while (true) {
    Job job;
    {
      std::unique_lock<std::mutex> lk(mutex_);
      cv_.wait(lk, [&] { return stop_ || !jobs_.empty(); });
      if (stop_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    Done done = job();
    {
      std::lock_guard<std::mutex> lk(mutex_);
      done_.push_back(std::move(done));
    }
    uint64_t one = 1;
    (void)!write(event_fd_, &one, sizeof one);
  }
}

}  // namespace streamd
