// mcap_export: writes a route (or a range of it) as one MCAP file for Foxglove.
// tools/export ROUTE --format mcap runs it; see tools/export --help.
//
// One channel per service (message_encoding json, a jsonschema schema per
// service; the JSON convention is tools/mcap/event_json.h), and one
// foxglove.CompressedVideo channel per camera video (compressed_video.h), its
// messages the video file's packets stamped from the encode indices.
// Segments whose log cannot be read are skipped with a warning; a log damaged
// part way keeps its intact events. Exit status: 0 written, 1 failed, 2 bad usage.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <capnp/serialize.h>

#include "tools/mcap/compressed_video.h"
#include "tools/mcap/event_json.h"
#include "tools/mcap/mcap_writer.h"
#include "tools/mcap/video_packets.h"
#include "tools/replay/log_file.h"
#include "tools/replay/route.h"

namespace {

struct Options {
  std::string route, output;
  std::set<std::string> services;  // empty: everything in the route
  std::optional<double> start, end;  // seconds from the first event
  bool qlog = false;
  bool progress = isatty(STDERR_FILENO);
  mcap::WriterOptions writer;
};

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void warn(const std::string &w) { fprintf(stderr, "export: warning: %s\n", w.c_str()); }

class Exporter {
 public:
  explicit Exporter(const Options &o) : o_(o), writer_(o.output, o.writer) {}

  void segment(const replay::SegmentFiles &seg);
  void close() { writer_.close(); }
  bool past_end() const { return done_; }
  uint64_t messages() const { return writer_.message_count(); }
  uint64_t bytes() const { return writer_.bytes_written(); }
  std::optional<uint64_t> t0;

 private:
  bool wanted(std::string_view service) const { return o_.services.empty() || o_.services.count(std::string(service)); }
  uint16_t channel(std::string_view topic);
  void add_video(const replay::SegmentFiles &seg, const replay::LogFile &log, const cereal::Video &s);

  struct Item {
    uint64_t time;
    int stream;      // -1: event `index` of the log; else cereal::kVideos[stream], packet `index`
    uint32_t index;
    uint64_t frame_time = 0;
    bool keyframe = false;
  };

  const Options &o_;
  mcap::McapWriter writer_;
  std::map<std::string, uint16_t, std::less<>> channels_;
  std::vector<Item> items_;
  std::vector<foxglove::VideoPackets> videos_{cereal::kVideos.size()};
  // A video channel begins at a keyframe: frames before the first one in range cannot be decoded.
  std::array<bool, cereal::kVideos.size()> video_started_{};
  bool done_ = false;
};

uint16_t Exporter::channel(std::string_view topic) {
  auto it = channels_.find(topic);
  if (it != channels_.end()) return it->second;
  uint16_t schema;
  if (foxglove::video_stream(topic)) {
    schema = writer_.add_schema(foxglove::kCompressedVideoSchemaName, "jsonschema", foxglove::kCompressedVideoSchema);
  } else {
    schema = writer_.add_schema("conduit.Event." + std::string(topic), "jsonschema", foxglove::event_schema(topic));
  }
  uint16_t id = writer_.add_channel(schema, topic, "json");
  channels_.emplace(std::string(topic), id);
  return id;
}

void Exporter::add_video(const replay::SegmentFiles &seg, const replay::LogFile &log, const cereal::Video &s) {
  int stream = int(&s - cereal::kVideos.data());
  std::vector<const replay::LogEvent *> index;
  for (const auto &e : log.events())
    if (e.which == s.idx_which) index.push_back(&e);
  if (index.empty()) return;
  std::string path = seg.file(s.file);
  if (!std::filesystem::exists(path)) {
    warn("segment " + std::to_string(seg.number) + ": " + std::to_string(index.size()) + " " +
         std::string(replay::service_name(s.idx_which)) + " entries but no " + s.file);
    return;
  }
  auto &video = videos_[stream];
  try {
    video = foxglove::read_video_packets(path);
  } catch (const std::exception &e) {
    warn(std::string(e.what()) + "; its frames are skipped");
    return;
  }
  if (video.truncated) warn(video.error + "; the frames after it are skipped");
  auto member = foxglove::service_field(replay::service_name(s.idx_which));
  size_t missing = 0;
  for (const replay::LogEvent *e : index) {
    capnp::FlatArrayMessageReader msg(e->bytes());
    auto idx = capnp::toDynamic(msg.getRoot<cereal::Event>()).get(member).as<cereal::EncodeIndex>();
    uint32_t i = idx.getSegmentIdEncode();
    if (i >= video.packets.size()) {
      missing++;
      continue;
    }
    bool key = (idx.getFlags() & cereal::EncodeIndex::FLAG_KEYFRAME) || video.packets[i].keyframe;
    items_.push_back({e->mono_time, stream, i, idx.getTimestampSof(), key});
  }
  if (missing) warn(path + ": " + std::to_string(missing) + " indexed frames are not in the file; skipped");
}

void Exporter::segment(const replay::SegmentFiles &seg) {
  replay::LogFile log;
  try {
    log = replay::LogFile::read(seg.log);
  } catch (const replay::LogError &e) {
    warn("segment " + std::to_string(seg.number) + " skipped: " + e.what());
    return;
  }
  if (!log.damage().empty()) warn(seg.log + ": " + log.damage() + "; the events before it are exported");
  const auto &events = log.events();
  if (!t0) t0 = events.front().mono_time;
  uint64_t start = o_.start ? *t0 + uint64_t(std::max(0.0, *o_.start) * 1e9) : 0;
  uint64_t end = o_.end ? *t0 + uint64_t(std::max(0.0, *o_.end) * 1e9) : UINT64_MAX;

  items_.clear();
  for (uint32_t i = 0; i < events.size(); ++i)
    if (wanted(events[i].service)) items_.push_back({events[i].mono_time, -1, i});
  for (const auto &s : cereal::kVideos)
    if (wanted(s.data_service)) add_video(seg, log, s);
  std::stable_sort(items_.begin(), items_.end(), [](const Item &a, const Item &b) { return a.time < b.time; });

  std::string json;
  for (const Item &it : items_) {
    if (it.time < start) continue;
    if (it.time > end) {
      done_ = true;
      break;
    }
    if (it.stream < 0) {
      const replay::LogEvent &e = events[it.index];
      capnp::FlatArrayMessageReader msg(e.bytes(), {1ull << 30, 64});
      json.clear();
      foxglove::append_event_json(json, msg.getRoot<cereal::Event>());
      writer_.write(channel(e.service), e.mono_time, json);
    } else {
      if (!it.keyframe && !video_started_[it.stream]) continue;
      video_started_[it.stream] = true;
      const auto &s = cereal::kVideos[it.stream];
      const auto &p = videos_[it.stream].packets[it.index];
      json = foxglove::compressed_video_json(s, it.frame_time, reinterpret_cast<const uint8_t *>(p.data.data()),
                                             p.data.size(), it.keyframe, videos_[it.stream].header);
      writer_.write(channel(s.data_service), it.time, json);
    }
  }
}

void progress(const Options &o, size_t done, size_t total, const std::string &note) {
  if (!o.progress) return;
  int width = 30, filled = int(width * done / std::max<size_t>(total, 1));
  fprintf(stderr, "\rexport [%s%s] %zu/%zu %s\033[K", std::string(filled, '#').c_str(),
          std::string(width - filled, '-').c_str(), done, total, note.c_str());
  if (done == total) fputc('\n', stderr);
}

double number(const std::string &flag, const std::string &v) {
  char *end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end) throw UsageError(flag + " expects seconds, got '" + v + "'");
  return d;
}

Options parse(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw UsageError(a + " needs a value");
      return argv[++i];
    };
    if (a == "-o" || a == "--output") o.output = value();
    else if (a == "--services") {
      std::stringstream ss(value());
      for (std::string s; std::getline(ss, s, ',');)
        if (!s.empty()) o.services.insert(s);
    } else if (a == "--start") o.start = number(a, value());
    else if (a == "--end") o.end = number(a, value());
    else if (a == "--qlog") o.qlog = true;
    else if (a == "--progress") o.progress = true;
    else if (a == "--no-progress") o.progress = false;
    else if (a == "--chunk-size") o.writer.chunk_size = size_t(number(a, value()));
    else if (a == "--zstd-level") o.writer.zstd_level = int(number(a, value()));
    else if (a == "--log-root") setenv("CONDUIT_LOG_ROOT", value().c_str(), 1);
    else if (a.rfind("-", 0) == 0 || !o.route.empty()) throw UsageError("unexpected argument '" + a + "'");
    else o.route = a;
  }
  if (o.route.empty()) throw UsageError("no route given");
  if (o.output.empty()) throw UsageError("-o OUT.mcap is required");
  if (o.start && o.end && *o.end < *o.start) throw UsageError("--end is before --start");
  for (const auto &s : o.services) foxglove::service_field(s);  // throws naming an unknown service
  return o;
}

}  // namespace

const char *kUsage = "usage: mcap_export ROUTE -o OUT.mcap [--services a,b] [--start S] [--end S] [--qlog]\n"
                     "                   [--[no-]progress] [--chunk-size BYTES] [--zstd-level N] [--log-root DIR]\n"
                     "  (tools/export ROUTE --format mcap runs it; see tools/export --help)\n";

int main(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(kUsage, stdout);
      return 0;
    }
  }
  try {
    o = parse(argc, argv);
  } catch (const std::exception &e) {
    fprintf(stderr, "export: error: %s\n%s", e.what(), kUsage);
    return 2;
  }
  bool created = false;  // an incomplete output is removed; a file that was there before is not touched
  try {
    auto route = replay::Route::open(o.route, replay::default_data_dir(), o.qlog);
    for (int g : route.gaps()) warn("segment " + std::to_string(g) + " is missing from the route");
    for (const auto &m : route.missing()) warn(m);
    Exporter ex(o);
    created = true;
    const auto &segs = route.segments();
    try {
      ex.t0 = replay::LogFile::first_mono_time(segs.front().log);
    } catch (const std::exception &) {
      // Damaged: the first intact event of the first readable segment sets it.
    }
    for (size_t i = 0; i < segs.size() && !ex.past_end(); ++i) {
      // A segment that ends before --start is skipped by its successor's first time alone.
      if (o.start && ex.t0 && i + 1 < segs.size()) {
        try {
          if (replay::LogFile::first_mono_time(segs[i + 1].log) <= *ex.t0 + uint64_t(*o.start * 1e9)) {
            progress(o, i + 1, segs.size(), "segment " + std::to_string(segs[i].number));
            continue;
          }
        } catch (const std::exception &) {
        }
      }
      ex.segment(segs[i]);
      progress(o, i + 1, segs.size(), "segment " + std::to_string(segs[i].number));
    }
    if (ex.messages() == 0) {
      fprintf(stderr, "export: error: nothing to export from %s (no intact segment, or no message of the services "
                      "in the time range)\n", o.route.c_str());
      std::filesystem::remove(o.output);
      return 1;
    }
    ex.close();
    if (o.progress) fprintf(stderr, "export: %llu messages, %.1f MB -> %s\n", (unsigned long long)ex.messages(),
                            ex.bytes() / 1e6, o.output.c_str());
    return 0;
  } catch (const std::exception &e) {
    fprintf(stderr, "export: error: %s%s\n", e.what(), created ? "; the incomplete output was removed" : "");
    if (created) std::filesystem::remove(o.output);
    return 1;
  }
}
