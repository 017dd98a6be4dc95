#pragma once
// Command-line options of conduit programs: "--name value" and
// "--name=value" options with defaults, on/off switches, and a --help text
// generated from the same table, so every option is documented.
// Errors: parse() and the getters throw std::invalid_argument naming the option,
// what was expected and what was found.
#include <cstdint>
#include <string>
#include <vector>

namespace conduit {

class CommandLine {
 public:
  CommandLine(std::string program, std::string summary);

  void option(const std::string &name, const std::string &metavar, const std::string &default_value,
              const std::string &help);
  void flag(const std::string &name, const std::string &help);
  // An option that may be given any number of times; values() lists them in order.
  void repeated(const std::string &name, const std::string &metavar, const std::string &help);

  // Returns false when --help was given (the caller prints help() and exits 0).
  bool parse(int argc, char **argv);
  std::string help() const;

  const std::string &str(const std::string &name) const;
  int64_t integer(const std::string &name, int64_t min, int64_t max) const;  // accepts k/M suffixes
  bool on(const std::string &name) const;
  const std::vector<std::string> &values(const std::string &name) const;
  // "WxH" with even positive values.
  void size(const std::string &name, int &width, int &height) const;

 private:
  struct Entry {
    std::string name, metavar, value, help;
    bool is_flag;
    bool set;
    bool repeats;
    std::vector<std::string> values;
  };
  const Entry &entry(const std::string &name) const;
  Entry *find(const std::string &name);

  std::string program_, summary_;
  std::vector<Entry> entries_;
};

}  // namespace conduit
