// route_info: segments of a route with duration, message counts per service
// and video packet counts per stream (from the *EncodeIdx events).
//   route_info [--qlog] SPEC
#include <cstdio>
#include <map>
#include <string>

#include "loggerd/log_reader.h"
#include <capnp/dynamic.h>

#include "loggerd/route.h"

int main(int argc, char **argv) {
  loggerd::LogReaderOptions opts;
  std::string spec;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--qlog") opts.qlog = true;
    else if (spec.empty() && a.rfind("--", 0) != 0) spec = a;
    else {
      fprintf(stderr, "usage: route_info [--qlog] SPEC\n");
      return 2;
    }
  }
  if (spec.empty()) {
    fprintf(stderr, "usage: route_info [--qlog] SPEC\n");
    return 2;
  }
  try {
    std::vector<std::string> missing;
    auto files = loggerd::resolve_logs(spec, opts.qlog, &missing);
    int warnings = 0;
    for (auto &m : missing) fprintf(stderr, "route_info: warning: %s\n", m.c_str()), warnings++;
    std::map<std::string, uint64_t> total;
    for (const std::string &file : files) {
      loggerd::LogReader lr(file, opts);
      std::map<std::string, uint64_t> counts;
      uint64_t first = 0, last = 0, n = 0;
      while (lr.next()) {
        auto ev = lr.event();
        KJ_IF_MAYBE(f, capnp::toDynamic(ev).which()) { counts[f->getProto().getName().cStr()]++; }
        uint64_t t = ev.getLogMonoTime();
        if (n++ == 0 || t < first) first = t;
        if (t > last) last = t;
      }
      printf("%s: %llu events, %.2f s\n", file.c_str(), (unsigned long long)n, n ? (last - first) * 1e-9 : 0.0);
      for (auto &[name, c] : counts) {
        printf("  %-24s %8llu\n", name.c_str(), (unsigned long long)c);
        total[name] += c;
      }
      for (auto &w : lr.warnings()) fprintf(stderr, "route_info: warning: %s\n", w.c_str()), warnings++;
    }
    printf("total over %zu logs:\n", files.size());
    for (auto &[name, c] : total) printf("  %-24s %8llu%s\n", name.c_str(), (unsigned long long)c,
                                         name.find("EncodeIdx") != std::string::npos ? "  (video frames)" : "");
    return warnings ? 1 : 0;
  } catch (const std::exception &e) {
    fprintf(stderr, "route_info: %s\n", e.what());
    return 1;
  }
}
