// lr: prints the Events of a log spec (loggerd/route.h) as JSON lines.
//   lr [--qlog] [--strict] [--only svc1,svc2] [--raw-count] SPEC
// Warnings about damaged files go to stderr; the exit status is 1 if there were any.
#include <capnp/compat/json.h>

#include <cstdio>
#include <cstring>
#include <set>
#include <sstream>
#include <string>

#include "loggerd/log_reader.h"

namespace {

std::string which_name(cereal::Event::Reader ev) {
  KJ_IF_MAYBE(f, capnp::toDynamic(ev).which()) { return f->getProto().getName().cStr(); }
  return "?";
}

int usage() {
  fprintf(stderr, "usage: lr [--qlog] [--strict] [--only svc1,svc2] SPEC\n"
                  "  SPEC: a log file, a segment dir, or <root>/<route>[/a:b]\n");
  return 2;
}

}  // namespace

int main(int argc, char **argv) {
  loggerd::LogReaderOptions opts;
  std::set<std::string> only;
  std::string spec;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--qlog") opts.qlog = true;
    else if (a == "--strict") opts.strict = true;
    else if (a == "--only" && i + 1 < argc) {
      std::stringstream ss(argv[++i]);
      for (std::string s; std::getline(ss, s, ',');) only.insert(s);
    } else if (a.rfind("--", 0) == 0 || !spec.empty()) return usage();
    else spec = a;
  }
  if (spec.empty()) return usage();
  try {
    loggerd::LogReader lr(spec, opts);
    capnp::JsonCodec json;
    json.handleByAnnotation<cereal::Event>();
    while (lr.next()) {
      if (!only.empty() && !only.count(which_name(lr.event()))) continue;
      kj::String s = json.encode(lr.event());
      fwrite(s.begin(), 1, s.size(), stdout);
      fputc('\n', stdout);
    }
    for (auto &w : lr.warnings()) fprintf(stderr, "lr: warning: %s\n", w.c_str());
    if (lr.bad_events() > 0) fprintf(stderr, "lr: skipped %llu unreadable event(s)\n", (unsigned long long)lr.bad_events());
    return lr.warnings().empty() ? 0 : 1;
  } catch (const std::exception &e) {
    fprintf(stderr, "lr: %s\n", e.what());
    return 1;
  }
}
