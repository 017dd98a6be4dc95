// initData: facts about the machine and the software, gathered once.
#include "loggerd/init_data.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/prefix.h"

namespace fs = std::filesystem;

namespace loggerd {
namespace {

constexpr const char *kVersion = "0.1.0";
constexpr size_t kMaxParamBytes = 4096;  // larger params are blobs, not settings

std::string run(const std::string &cmd) {
  std::string out;
  if (FILE *p = popen(cmd.c_str(), "r")) {
    char buf[256];
    while (fgets(buf, sizeof(buf), p)) out += buf;
    pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

struct StaticInfo {
  std::string git_commit, git_branch, kernel, os, hostname;
  StaticInfo() {
    std::error_code ec;
    std::string dir = fs::read_symlink("/proc/self/exe", ec).parent_path().string();
    if (dir.empty()) dir = ".";
    git_commit = run("git -C '" + dir + "' rev-parse HEAD 2>/dev/null");
    git_branch = run("git -C '" + dir + "' rev-parse --abbrev-ref HEAD 2>/dev/null");
    utsname u;
    if (uname(&u) == 0) kernel = std::string(u.sysname) + " " + u.release + " " + u.version;
    std::ifstream osr("/etc/os-release");
    for (std::string line; std::getline(osr, line);)
      if (line.rfind("PRETTY_NAME=", 0) == 0) {
        os = line.substr(12);
        if (os.size() >= 2 && os.front() == '"') os = os.substr(1, os.size() - 2);
      }
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    hostname = host;
  }
};

std::string params_dir() {
  const char *d = getenv("CONDUIT_PARAMS_DIR");
  return d && *d ? d : conduit::shm_dir() + "/params";
}

}  // namespace

void build_init_data(cereal::MessageBuilder &b, const InitInfo &info) {
  static const StaticInfo s;
  auto init = b.initEvent().initInitData();
  init.setVersion(kVersion);
  init.setGitCommit(s.git_commit);
  init.setGitBranch(s.git_branch);
  init.setKernelVersion(s.kernel);
  init.setOsVersion(s.os);
  init.setHostname(s.hostname);
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  init.setWallTimeNanos(uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec));
  init.setDeviceType("pc");
  init.setRouteName(info.route);

  std::vector<std::pair<std::string, std::string>> params;
  std::error_code ec;
  for (auto &e : fs::directory_iterator(params_dir(), ec)) {
    if (!e.is_regular_file(ec) || e.file_size(ec) > kMaxParamBytes) continue;
    std::ifstream f(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string v = ss.str();
    if (v.find('\0') == std::string::npos) params.emplace_back(e.path().filename().string(), v);
  }
  std::sort(params.begin(), params.end());
  auto kv = init.initParams(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    kv[i].setKey(params[i].first);
    kv[i].setValue(params[i].second);
  }
  auto cmd = init.initCommandLine(info.command_line.size());
  for (size_t i = 0; i < info.command_line.size(); ++i) cmd.set(i, info.command_line[i]);
}

}  // namespace loggerd
