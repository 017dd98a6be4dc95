// lr: prints the Events of a log spec (loggerd/route.h) as JSON lines, in the
// one JSON convention of the tools (tools/mcap/event_json.h).
//   lr [--qlog] [--strict] [--only svc1,svc2] [--log-root DIR] SPEC   (--help: usage, exit 0)
// Warnings about damaged files go to stderr; the exit status is 1 if there were any.
#include <capnp/schema.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <set>
#include <sstream>
#include <string>

#include "loggerd/log_reader.h"
#include "tools/mcap/event_json.h"

namespace {

std::string which_name(cereal::Event::Reader ev) {
  KJ_IF_MAYBE(f, capnp::toDynamic(ev).which()) { return f->getProto().getName().cStr(); }
  return "?";
}

int usage(FILE *out, int status) {
  fprintf(out, "usage: lr [--qlog] [--strict] [--only svc1,svc2] [--log-root DIR] [--prefix NAME] SPEC\n"
               "  SPEC: a log file, a segment dir, <root>/<route>[/a:b], or a route name[/a:b]\n"
               "        under --log-root (default $CONDUIT_LOG_ROOT, else ./data/routes)\n"
               "  Prints one JSON object per event: 64-bit integers as decimal strings, Data as\n"
               "  base64 (tools/mcap/event_json.h). --prefix is accepted like every tool's; lr reads no bus.\n");
  return status;
}

// The service names `only` asks for that the schema does not have, each with the closest known name.
std::string unknown_services(const std::set<std::string> &only) {
  std::string out;
  for (const std::string &name : only) {
    std::string best;
    size_t best_d = SIZE_MAX;
    bool known = false;
    for (auto field : capnp::Schema::from<cereal::Event>().getUnionFields()) {
      const std::string n = field.getProto().getName().cStr();
      known |= n == name;
      // Closeness: edit distance, enough for a typo.
      std::vector<size_t> row(n.size() + 1);
      for (size_t j = 0; j <= n.size(); ++j) row[j] = j;
      for (size_t i = 1; i <= name.size(); ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= n.size(); ++j) {
          size_t up = row[j];
          row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (name[i - 1] != n[j - 1])});
          diag = up;
        }
      }
      if (row[n.size()] < best_d) best_d = row[n.size()], best = n;
    }
    if (!known) out += (out.empty() ? "" : ", ") + ("'" + name + "' (did you mean '" + best + "'?)");
  }
  return out;
}

}  // namespace

int main(int argc, char **argv) {
  loggerd::LogReaderOptions opts;
  std::set<std::string> only;
  std::string spec;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") return usage(stdout, 0);
    if (a == "--qlog") opts.qlog = true;
    else if (a == "--strict") opts.strict = true;
    else if (a == "--only" && i + 1 < argc) {
      std::stringstream ss(argv[++i]);
      for (std::string s; std::getline(ss, s, ',');) only.insert(s);
    } else if ((a == "--log-root" || a == "--prefix") && i + 1 < argc) {
      setenv(a == "--log-root" ? "CONDUIT_LOG_ROOT" : "CONDUIT_PREFIX", argv[++i], 1);
    } else if (a.rfind("--", 0) == 0 || !spec.empty()) return usage(stderr, 2);
    else spec = a;
  }
  if (spec.empty()) return usage(stderr, 2);
  if (std::string bad = unknown_services(only); !bad.empty()) {
    fprintf(stderr, "lr: --only names no such service: %s\n", bad.c_str());
    return 2;
  }
  try {
    loggerd::LogReader lr(spec, opts);
    std::string line;
    while (lr.next()) {
      if (!only.empty() && !only.count(which_name(lr.event()))) continue;
      line.clear();
      foxglove::append_event_json(line, lr.event());
      line += '\n';
      fwrite(line.data(), 1, line.size(), stdout);
    }
    for (auto &w : lr.warnings()) fprintf(stderr, "lr: warning: %s\n", w.c_str());
    if (lr.bad_events() > 0) fprintf(stderr, "lr: skipped %llu unreadable event(s)\n", (unsigned long long)lr.bad_events());
    return lr.warnings().empty() ? 0 : 1;
  } catch (const std::exception &e) {
    fprintf(stderr, "lr: %s\n", e.what());
    return 1;
  }
}
