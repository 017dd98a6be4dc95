#include "tools/replay/replay.h"

#include <chrono>
#include <cmath>
#include <iostream>
#include <set>
#include <stdexcept>

#include <capnp/schema.h>

#include "cereal/messaging.h"
#include "common/clock.h"

namespace replay {

namespace {

// A pause in the log longer than this (a gap between segments, a recording that
// stopped) is skipped instead of waited out.
constexpr uint64_t kMaxWaitNs = 2'000'000'000ull;

size_t union_size() { return capnp::Schema::from<cereal::Event>().getUnionFields().size(); }

cereal::Event::Which which_of(const std::string &name) {
  cereal::service(name);  // throws, listing the known services
  for (auto field : capnp::Schema::from<cereal::Event>().getUnionFields()) {
    if (field.getProto().getName() == name.c_str()) {
      return static_cast<cereal::Event::Which>(field.getProto().getDiscriminantValue());
    }
  }
  throw std::invalid_argument("service '" + name + "' has no Event member in cereal/log.capnp");
}

cereal::EncodeIndex::Reader encode_index(cereal::Event::Reader event) {
  switch (event.which()) {
    case cereal::Event::ROAD_ENCODE_IDX: return event.getRoadEncodeIdx();
    case cereal::Event::WIDE_ROAD_ENCODE_IDX: return event.getWideRoadEncodeIdx();
    case cereal::Event::DRIVER_ENCODE_IDX: return event.getDriverEncodeIdx();
    case cereal::Event::Q_ROAD_ENCODE_IDX: return event.getQRoadEncodeIdx();
    default: throw std::logic_error("not an EncodeIndex event");
  }
}

}  // namespace

Replay::Replay(ReplayOptions opts) : opts_(std::move(opts)), speed_(opts_.speed) {
  if (!opts_.on_warning) opts_.on_warning = [](const std::string &m) { std::cerr << "replay: warning: " << m << "\n"; };
  if (opts_.speed != 0 && (opts_.speed < kMinSpeed || opts_.speed > kMaxSpeed)) {
    throw std::invalid_argument("speed " + std::to_string(opts_.speed) + " is out of range: expected 0 (fast) or " +
                                "0.1 .. 10");
  }
  if (opts_.start < 0) throw std::invalid_argument("start " + std::to_string(opts_.start) + " is negative");
  route_ = Route::open(opts_.route, opts_.data_dir.empty() ? default_data_dir() : opts_.data_dir, opts_.qlog);

  allowed_.assign(union_size(), opts_.allow.empty());
  for (const auto &name : opts_.allow) allowed_[size_t(which_of(name))] = true;
  for (const auto &name : opts_.block) allowed_[size_t(which_of(name))] = false;

  for (const auto &s : route_.segments()) {
    uint64_t t = 0;
    try {
      t = LogFile::first_mono_time(s.log);
    } catch (const LogError &e) {
      warn("segment " + std::to_string(s.number) + " is damaged, skipped: " + e.what());
      reported_.insert(s.number);
      ++skipped_;
    }
    segment_start_.push_back(t);
    if (t && !route_start_) route_start_ = t;
  }
  if (!route_start_) {
    throw RouteError("route '" + route_.name() + "': no segment has a readable log");
  }
  for (int gap : route_.gaps()) warn("segment " + std::to_string(gap) + " is missing from the route");
  for (const auto &m : route_.missing()) warn(m + ": segment skipped");

  // The cameras' full-resolution videos, or with --qcam the qcamera in the road camera's place.
  std::vector<cereal::VideoId> videos;
  for (const cereal::Video &v : cereal::kVideos) {
    if (opts_.vipc && v.qcamera == opts_.qcam) videos.push_back(v.id);
  }
  loader_ = std::make_unique<SegmentLoader>(route_, videos, opts_.load_ahead);

  // The first playable segment tells the video sizes, which VisionIPC needs up front.
  std::shared_ptr<Segment> first;
  for (size_t i = segment_at(route_start_ + uint64_t(opts_.start * 1e9)); i < route_.segments().size() && !first; ++i) {
    loader_->set_current(i);
    std::string error;
    first = loader_->get(i, &error);
  }
  if (!first) throw RouteError("route '" + route_.name() + "': no segment could be loaded");
  uint64_t first_span = first->end_mono() - first->start_mono();
  duration_ns_ = segment_start_.back() ? segment_start_.back() - route_start_ + first_span : first_span;
  if (opts_.start > duration_seconds()) {
    throw std::invalid_argument("start " + std::to_string(opts_.start) + " s is past the end of the route (about " +
                                std::to_string(duration_seconds()) + " s)");
  }

  camera_for_which_.fill(-1);
  cameras_.resize(cereal::kVideos.size());
  if (!videos.empty()) {
    vipc_ = std::make_unique<VisionIpcServer>("camerad");
    for (cereal::VideoId slot : videos) {
      if (!first->video[size_t(slot)]) continue;
      vipc_->create_buffers(cereal::vision_stream(cereal::video(slot)), opts_.vipc_buffers, first->video[size_t(slot)]->width(),
                            first->video[size_t(slot)]->height());
      cameras_[size_t(slot)] = std::make_unique<CameraServer>(*vipc_, slot, opts_.on_warning);
      camera_for_which_[size_t(cereal::video(slot).idx_which)] = int(slot);
    }
    if (streams().empty()) warn("segment " + std::to_string(first->number) + " has no camera video: serving no frames");
    vipc_->start_listener();
  }
}

Replay::~Replay() {
  stop();
  cameras_.clear();
}

void Replay::warn(const std::string &msg) { opts_.on_warning(msg); }

std::vector<VisionStreamType> Replay::streams() const {
  std::vector<VisionStreamType> out;
  for (size_t slot = 0; slot < cameras_.size(); ++slot) {
    if (cameras_[slot]) out.push_back(cereal::vision_stream(cereal::kVideos[slot]));
  }
  return out;
}

size_t Replay::segment_at(uint64_t t) const {
  size_t found = 0;
  bool any = false;
  for (size_t i = 0; i < segment_start_.size(); ++i) {
    if (!segment_start_[i]) continue;
    if (!any || segment_start_[i] <= t) found = i;
    any = true;
    if (segment_start_[i] > t) break;
  }
  return found;
}

void Replay::start() {
  start_wall_ = conduit::mono_ns();
  thread_ = std::thread([this] { run(); });
}

void Replay::stop() {
  {
    std::lock_guard lk(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (loader_) loader_->interrupt();
  for (auto &c : cameras_) {
    if (c) c->stop();
  }
  if (thread_.joinable()) thread_.join();
}

void Replay::wait_finished() {
  std::unique_lock lk(mutex_);
  cv_.wait(lk, [&] { return finished_ || stop_; });
}

void Replay::pause(bool paused) {
  {
    std::lock_guard lk(mutex_);
    paused_ = paused;
  }
  cv_.notify_all();
  loader_->interrupt();
}

void Replay::seek_to(double seconds) {
  seconds = std::max(0.0, std::min(seconds, duration_seconds()));
  {
    std::lock_guard lk(mutex_);
    seek_target_ = route_start_ + uint64_t(seconds * 1e9);
  }
  cv_.notify_all();
  loader_->interrupt();
}

void Replay::set_speed(double speed) {
  {
    std::lock_guard lk(mutex_);
    speed_ = speed <= 0 ? 0 : std::clamp(speed, kMinSpeed, kMaxSpeed);
    speed_changed_ = true;
  }
  cv_.notify_all();
}

double Replay::current_seconds() const {
  std::lock_guard lk(mutex_);
  uint64_t t = seek_target_ ? *seek_target_ : current_mono_.load();
  return t > route_start_ ? (t - route_start_) * 1e-9 : 0;
}

ReplayStats Replay::stats() const {
  ReplayStats s;
  s.messages = messages_;
  s.bytes = bytes_;
  s.segments_skipped = skipped_;
  for (const auto &c : cameras_) {
    if (!c) continue;
    s.frames += c->served();
    s.frames_dropped += c->dropped();
    s.frame_errors += c->errors();
  }
  uint64_t end = finish_wall_ ? finish_wall_.load() : conduit::mono_ns();
  s.wall_seconds = start_wall_ ? (end - start_wall_) * 1e-9 : 0;
  s.route_seconds = played_ns_ * 1e-9;
  return s;
}

bool Replay::wait_until(uint64_t deadline_ns) {
  using namespace std::chrono;
  std::unique_lock lk(mutex_);
  steady_clock::time_point deadline{nanoseconds(deadline_ns)};
  return !cv_.wait_until(lk, deadline, [&] { return control_pending(); });
}

void Replay::publish(const LogEvent &e) {
  auto it = pubs_.find(e.which);
  if (it == pubs_.end()) {
    std::string name(e.service);
    try {
      it = pubs_.emplace(e.which, msgq::PubSocket::create(name, cereal::service(name).ring_size)).first;
    } catch (const std::exception &ex) {
      warn("cannot publish " + name + ", skipping it: " + ex.what());
      allowed_[size_t(e.which)] = false;
      return;
    }
  }
  it->second->send(e.data(), e.size());
  ++messages_;
  bytes_ += e.size();
}

void Replay::serve_frame(const std::shared_ptr<Segment> &seg, const LogEvent &e, cereal::VideoId slot) {
  capnp::FlatArrayMessageReader reader(e.bytes());
  auto event = reader.getRoot<cereal::Event>();
  auto idx = encode_index(event);
  VisionIpcBufExtra extra;
  extra.frame_id = idx.getFrameId();
  extra.timestamp_sof = idx.getTimestampSof();
  extra.timestamp_eof = idx.getTimestampEof();
  extra.valid = event.getValid();
  cameras_[size_t(slot)]->push(seg, idx.getSegmentIdEncode(), extra, speed_ == 0);
}

// Where playback is: the segment and event it plays next, and the wall clock
// the pacing is anchored to (re-anchored after a control, a jump in time or a pause).
struct Replay::Playhead {
  uint64_t target = 0;     // route mono time to start at when `locate`
  size_t seg_index = 0;
  size_t event_index = 0;
  bool locate = true;      // find event_index by `target` once the segment is loaded
  bool anchored = false;
  uint64_t anchor_wall = 0, anchor_mono = 0, last_mono = 0;
  std::shared_ptr<Segment> seg;

  void restart_at(uint64_t t, size_t index) {
    target = t;
    seg_index = index;
    seg.reset();
    locate = true;
    anchored = false;
    last_mono = 0;
  }
  void next_segment() {
    seg.reset();
    ++seg_index;
    event_index = 0;
  }
};

void Replay::run() {
  Playhead p;
  const uint64_t start = route_start_ + uint64_t(opts_.start * 1e9);
  p.restart_at(start, segment_at(start));
  while (!stop_) {
    if (!take_controls(p)) continue;
    if (!p.seg && !open_segment(p)) continue;
    if (p.event_index >= p.seg->events.size()) {
      p.next_segment();
      continue;
    }
    play_event(p);
  }
  finish();
}

// Frames served, then finished: wait_finished() returns.
void Replay::finish() {
  for (auto &c : cameras_) {
    if (c) c->wait_idle();
  }
  finish_wall_ = conduit::mono_ns();
  {
    std::lock_guard lk(mutex_);
    finished_ = true;
  }
  cv_.notify_all();
}

bool Replay::take_controls(Playhead &p) {
  std::unique_lock lk(mutex_);
  if (seek_target_) {
    current_mono_ = *seek_target_;
    p.restart_at(*seek_target_, segment_at(*seek_target_));
    seek_target_.reset();
    for (auto &c : cameras_) {
      if (c) c->clear();
    }
  }
  if (paused_) {
    cv_.wait(lk, [&] { return !paused_ || stop_ || seek_target_; });
    p.anchored = false;
    return false;
  }
  if (speed_changed_) {
    speed_changed_ = false;
    p.anchored = false;
  }
  return true;
}

bool Replay::open_segment(Playhead &p) {
  if (p.seg_index >= route_.segments().size()) {
    if (opts_.loop) {
      uint64_t start = route_start_ + uint64_t(opts_.start * 1e9);
      p.restart_at(start, segment_at(start));
    } else {
      wait_at_the_end();
    }
    return false;
  }
  const SegmentFiles &files = route_.segments()[p.seg_index];
  loader_->set_current(p.seg_index);
  current_segment_ = files.number;
  std::string error;
  p.seg = loader_->get(p.seg_index, &error, [&] {
    std::lock_guard lk(mutex_);
    return control_pending();
  });
  if (!p.seg) {
    if (error.empty()) return false;  // interrupted by a control
    if (reported_.insert(files.number).second) {
      warn("segment " + std::to_string(files.number) + " is damaged, skipped: " + error);
      ++skipped_;
    }
    p.next_segment();
    p.locate = false;
    return false;
  }
  if (reported_.insert(files.number).second) {
    for (const auto &w : p.seg->warnings) warn("segment " + std::to_string(files.number) + ": " + w);
  }
  if (p.seg_index + 1 == route_.segments().size()) duration_ns_ = p.seg->end_mono() - route_start_;
  p.event_index = p.locate ? p.seg->find(p.target) : 0;
  p.locate = false;
  return true;
}

// The end of the route: finished until a seek brings playback back (or stop()).
void Replay::wait_at_the_end() {
  finish();
  std::unique_lock lk(mutex_);
  cv_.wait(lk, [&] { return stop_ || seek_target_.has_value(); });
  if (stop_) return;
  finished_ = false;
  finish_wall_ = 0;
}

void Replay::play_event(Playhead &p) {
  const LogEvent &e = p.seg->events[p.event_index];
  int cam = camera_for_which_[size_t(e.which)];
  bool pub = allowed(e.which);
  if (!pub && cam < 0) {
    ++p.event_index;
    return;
  }
  if (p.last_mono && (e.mono_time < p.last_mono || e.mono_time - p.last_mono > kMaxWaitNs)) p.anchored = false;
  double speed = speed_;
  if (speed > 0) {
    uint64_t now = conduit::mono_ns();
    if (!p.anchored) {
      p.anchor_wall = now;
      p.anchor_mono = e.mono_time;
      p.anchored = true;
    }
    uint64_t deadline = p.anchor_wall + uint64_t((e.mono_time - p.anchor_mono) / speed);
    if (deadline > now && !wait_until(deadline)) return;  // a control came first
  }
  if (pub) publish(e);
  if (cam >= 0) serve_frame(p.seg, e, cereal::VideoId(cam));
  if (p.last_mono && e.mono_time > p.last_mono && e.mono_time - p.last_mono <= kMaxWaitNs) {
    played_ns_ += e.mono_time - p.last_mono;
  }
  p.last_mono = e.mono_time;
  current_mono_ = e.mono_time;
  ++p.event_index;
}

}  // namespace replay
