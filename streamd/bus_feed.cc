#include "streamd/bus_feed.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <map>
#include <memory>

#include "cereal/messaging.h"
#include "common/clock.h"
#include "tools/mcap/event_json.h"
#include "streamd/fmp4_fragmenter.h"

namespace streamd {

namespace {
// A queue the loop does not take from (it is stuck or gone) must not grow without bound.
constexpr size_t kMaxQueued = 256;
}

BusFeed::BusFeed(const std::string &video_service, const std::vector<std::string> &status_services) {
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0) throw std::runtime_error("bus feed: eventfd failed");
  thread_ = std::thread(&BusFeed::run, this, video_service, status_services);
}

BusFeed::~BusFeed() {
  stop_ = true;
  thread_.join();
  close(event_fd_);
}

void BusFeed::push(LiveItem item) {
  {
    std::lock_guard<std::mutex> lk(mutex_);
    if (queue_.size() >= kMaxQueued) queue_.erase(queue_.begin());
    queue_.push_back(std::move(item));
  }
  uint64_t one = 1;
  (void)!write(event_fd_, &one, sizeof one);
}

std::vector<LiveItem> BusFeed::take() {
  uint64_t n;
  (void)!read(event_fd_, &n, sizeof n);
  std::lock_guard<std::mutex> lk(mutex_);
  return std::exchange(queue_, {});
}

LiveInit BusFeed::init() const {
  std::lock_guard<std::mutex> lk(mutex_);
  return init_;
}

std::vector<std::string> BusFeed::latest_status() const {
  std::lock_guard<std::mutex> lk(mutex_);
  std::vector<std::string> out;
  for (auto &[service, json] : latest_) out.push_back(json);
  return out;
}

void BusFeed::run(std::string video_service, std::vector<std::string> status_services) {
  std::vector<std::unique_ptr<msgq::SubSocket>> socks;
  auto poller = msgq::Poller::create();
  auto subscribe = [&](const std::string &name) {
    msgq::SubOptions opts;
    opts.ring_size = cereal::service(name).ring_size;
    socks.push_back(msgq::SubSocket::create(name, opts));
    poller->add(*socks.back());
  };
  subscribe(video_service);
  for (auto &s : status_services) subscribe(s);
  msgq::SubSocket *video = socks[0].get();

  Fmp4Fragmenter fragmenter;
  std::map<std::string, uint64_t> last_status_ns;
  const uint64_t status_period = uint64_t(1e9 / kStatusHz);
  msgq::Message msg;
  while (!stop_) {
    for (msgq::SubSocket *s : poller->poll(100)) {
      while (s->receive(msg, 0)) {
        uint64_t now = conduit::mono_ns();
        if (msg.size() % 8) continue;
        try {
          capnp::FlatArrayMessageReader reader(
              kj::ArrayPtr<const capnp::word>(reinterpret_cast<const capnp::word *>(msg.data()), msg.size() / 8));
          auto ev = reader.getRoot<cereal::Event>();
          if (s == video) {
            if (!ev.isQRoadEncodeData()) continue;
            auto d = ev.getQRoadEncodeData();
            auto idx = d.getIdx();
            auto data = d.getData();
            auto header = d.getHeader();
            bool key = idx.getFlags() & cereal::EncodeIndex::FLAG_KEYFRAME;
            int gen = fragmenter.generation();
            if (!fragmenter.push(data.begin(), data.size(), std::string(header.begin(), header.end()), key,
                                 idx.getTimestampSof(), int(idx.getWidth()), int(idx.getHeight()))) {
              bad_packets_++;
              continue;
            }
            if (fragmenter.generation() != gen) {
              std::lock_guard<std::mutex> lk(mutex_);
              init_ = {fragmenter.init(), fragmenter.generation(), fragmenter.start_ns()};
            }
            push({LiveItem::kFragment, fragmenter.fragment(), key, fragmenter.generation(), now});
          } else {
            uint64_t &last = last_status_ns[s->topic()];
            if (now - last < status_period) continue;
            last = now;
            std::string json = foxglove::event_json(ev);
            {
              std::lock_guard<std::mutex> lk(mutex_);
              bool found = false;
              for (auto &[service, j] : latest_) {
                if (service == s->topic()) {
                  j = json;
                  found = true;
                }
              }
              if (!found) latest_.emplace_back(s->topic(), json);
            }
            push({LiveItem::kStatus, std::move(json), false, 0, now});
          }
        } catch (const kj::Exception &) {
          bad_packets_++;  // not a valid Event: ignored, as SubMaster does
        }
      }
    }
  }
}

}  // namespace streamd
