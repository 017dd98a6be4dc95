#include "streamd/route_index.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <stdexcept>

#include "cereal/streams.h"
#include "common/prefix.h"
#include "loggerd/log_reader.h"
#include "streamd/json.h"

namespace streamd {

static std::vector<std::string> segment_files() {
  std::vector<std::string> files = {"rlog.zst", "qlog.zst"};
  for (const cereal::Video &v : cereal::kVideos) files.push_back(v.file);
  return files;
}

const std::vector<std::string> kSegmentFiles = segment_files();

namespace {

struct FileInfo {
  bool present = false, writing = false;
  uint64_t size = 0;
  int64_t mtime = 0;
};

FileInfo stat_file(const std::string &dir, const std::string &name) {
  FileInfo f;
  struct stat st;
  if (lstat((dir + "/" + name).c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    f.present = true;
    f.size = uint64_t(st.st_size);
    f.mtime = st.st_mtim.tv_sec;
    f.writing = access((dir + "/" + name + ".lock").c_str(), F_OK) == 0;
  }
  return f;
}

}  // namespace

bool safe_name(const std::string &name) {
  try {
    conduit::check_name(name, "name");
    return true;
  } catch (const std::invalid_argument &) {
    return false;
  }
}

std::vector<loggerd::SegmentDir> route_segments(const std::string &root, const std::string &route) {
  std::vector<loggerd::SegmentDir> out;
  if (!safe_name(route)) return out;
  for (auto &s : loggerd::list_segments(root)) {
    if (s.route == route) out.push_back(s);
  }
  return out;
}

std::string routes_json(const std::string &root) {
  struct Summary {
    int segments = 0;
    uint64_t bytes = 0;
    bool recording = false;
    int64_t mtime = 0;
  };
  std::map<std::string, Summary> routes;
  for (auto &s : loggerd::list_segments(root)) {
    if (!safe_name(s.route)) continue;
    Summary &r = routes[s.route];
    r.segments++;
    for (auto &name : kSegmentFiles) {
      FileInfo f = stat_file(s.path, name);
      r.bytes += f.size;
      r.recording |= f.writing;
      r.mtime = std::max(r.mtime, f.mtime);
    }
  }
  std::vector<std::pair<std::string, Summary>> sorted(routes.begin(), routes.end());
  std::sort(sorted.begin(), sorted.end(), [](auto &a, auto &b) { return a.second.mtime > b.second.mtime; });
  std::string j = "[";
  for (auto &[name, r] : sorted) {
    if (j.size() > 1) j += ",";
    j += "{\"name\":" + json_quote(name) + ",\"segments\":" + std::to_string(r.segments) +
         ",\"bytes\":" + std::to_string(r.bytes) + ",\"recording\":" + (r.recording ? "true" : "false") +
         ",\"mtime\":" + std::to_string(r.mtime) + "}";
  }
  return j + "]";
}

std::vector<uint64_t> qcamera_starts(const std::vector<loggerd::SegmentDir> &segments) {
  std::vector<uint64_t> starts;
  for (auto &s : segments) {
    uint64_t sof = 0;
    try {
      loggerd::LogReader lr(s.path, {.qlog = true});
      while (lr.next()) {
        if (lr.event().isQRoadEncodeIdx()) {
          sof = lr.event().getQRoadEncodeIdx().getTimestampSof();
          break;
        }
      }
    } catch (const std::exception &) {
      // no qlog (yet): this segment's start is unknown
    }
    starts.push_back(sof);
  }
  return starts;
}

std::optional<std::string> route_json(const std::string &root, const std::string &route) {
  auto segments = route_segments(root, route);
  if (segments.empty()) return std::nullopt;
  auto starts = qcamera_starts(segments);
  uint64_t video_start = 0;
  for (uint64_t s : starts) {
    if (s) {
      video_start = s;
      break;
    }
  }
  bool recording = false;
  std::string segs;
  for (size_t i = 0; i < segments.size(); i++) {
    std::string files;
    for (auto &name : kSegmentFiles) {
      FileInfo f = stat_file(segments[i].path, name);
      if (!f.present) continue;
      recording |= f.writing;
      files += std::string(files.empty() ? "" : ",") + json_quote(name) + ":{\"size\":" + std::to_string(f.size) +
               ",\"writing\":" + (f.writing ? "true" : "false") + "}";
    }
    segs += std::string(i ? "," : "") + "{\"number\":" + std::to_string(segments[i].number) +
            ",\"qcamera_start_ns\":" + std::to_string(starts[i]) + ",\"files\":{" + files + "}}";
  }
  return "{\"name\":" + json_quote(route) + ",\"recording\":" + (recording ? "true" : "false") +
         ",\"video_start_ns\":" + std::to_string(video_start) + ",\"segments\":[" + segs + "]}";
}

int open_segment_file(const std::string &root, const std::string &route, int number, const std::string &file) {
  if (!safe_name(route) || number < 0 ||
      std::find(kSegmentFiles.begin(), kSegmentFiles.end(), file) == kSegmentFiles.end()) {
    errno = ENOENT;
    return -1;
  }
  int dir = open((root + "/" + route + "--" + std::to_string(number)).c_str(),
                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0) return -1;
  int fd = openat(dir, file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  int saved = errno;
  close(dir);
  errno = saved;
  return fd;
}

}  // namespace streamd
