#include "common/command_line.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace conduit {

CommandLine::CommandLine(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {}

void CommandLine::option(const std::string &name, const std::string &metavar, const std::string &default_value,
                         const std::string &help) {
  entries_.push_back({name, metavar, default_value, help, false, false, false, {}});
}

void CommandLine::flag(const std::string &name, const std::string &help) {
  entries_.push_back({name, "", "", help, true, false, false, {}});
}

void CommandLine::repeated(const std::string &name, const std::string &metavar, const std::string &help) {
  entries_.push_back({name, metavar, "", help + " (may be repeated)", false, false, true, {}});
}

CommandLine::Entry *CommandLine::find(const std::string &name) {
  for (Entry &e : entries_) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

const CommandLine::Entry &CommandLine::entry(const std::string &name) const {
  for (const Entry &e : entries_) {
    if (e.name == name) return e;
  }
  throw std::logic_error("no option --" + name);
}

bool CommandLine::parse(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") return false;
    if (a.rfind("--", 0) != 0) {
      throw std::invalid_argument(program_ + ": unexpected argument '" + a + "': expected options (see --help)");
    }
    std::string name = a.substr(2), value;
    bool inline_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      inline_value = true;
    }
    Entry *e = find(name);
    if (!e) throw std::invalid_argument(program_ + ": unknown option --" + name + " (see --help)");
    if (e->is_flag) {
      if (inline_value) throw std::invalid_argument(program_ + ": --" + name + " takes no value");
      e->set = true;
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= argc) throw std::invalid_argument(program_ + ": --" + name + " expects " + e->metavar);
      value = argv[++i];
    }
    e->value = value;
    e->set = true;
    if (e->repeats) e->values.push_back(value);
  }
  return true;
}

std::string CommandLine::help() const {
  std::string out = "usage: " + program_ + " [options]\n\n" + summary_ + "\n\noptions:\n";
  for (const Entry &e : entries_) {
    std::string head = "  --" + e.name + (e.is_flag ? "" : " " + e.metavar);
    if (head.size() < 28) head.resize(28, ' ');
    else head += "\n" + std::string(28, ' ');
    out += head + e.help;
    if (!e.is_flag && !e.value.empty()) out += " (default: " + e.value + ")";
    out += "\n";
  }
  out += "  -h, --help                this text\n";
  return out;
}

const std::string &CommandLine::str(const std::string &name) const { return entry(name).value; }

bool CommandLine::on(const std::string &name) const { return entry(name).set; }

const std::vector<std::string> &CommandLine::values(const std::string &name) const {
  const Entry &e = entry(name);
  if (!e.repeats) throw std::logic_error("--" + name + " is not a repeated option");
  return e.values;
}

int64_t CommandLine::integer(const std::string &name, int64_t min, int64_t max) const {
  const std::string &v = str(name);
  char *end = nullptr;
  errno = 0;
  long long n = std::strtoll(v.c_str(), &end, 10);
  bool ok = !v.empty() && end != v.c_str() && errno == 0;
  if (ok && *end == 'k' && end[1] == 0) n *= 1000, end++;
  else if (ok && *end == 'M' && end[1] == 0) n *= 1000000, end++;
  if (!ok || *end != 0 || n < min || n > max) {
    throw std::invalid_argument(program_ + ": --" + name + " expects an integer in " + std::to_string(min) + ".." +
                                std::to_string(max) + ", got '" + v + "'");
  }
  return n;
}

void CommandLine::size(const std::string &name, int &width, int &height) const {
  const std::string &v = str(name);
  int w = 0, h = 0;
  char x = 0, extra = 0;
  if (sscanf(v.c_str(), "%d%c%d%c", &w, &x, &h, &extra) != 3 || x != 'x' || w <= 0 || h <= 0 || w % 2 || h % 2 ||
      w > 16384 || h > 16384) {
    throw std::invalid_argument(program_ + ": --" + name + " expects WIDTHxHEIGHT with even sizes up to 16384, got '" +
                                v + "'");
  }
  width = w;
  height = h;
}

}  // namespace conduit
