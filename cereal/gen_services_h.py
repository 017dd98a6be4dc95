#!/usr/bin/env python3
"""Writes the C++ services table (cereal/gen/services.h) from cereal/services.py,
so the table is written down once. Usage: gen_services_h.py OUTPUT"""
import importlib.util
import os
import sys


def load_table(name):
  """cereal/<name>.py as a module, read without importing the cereal package
  (which needs the compiled bindings the build is making)."""
  path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".py")
  spec = importlib.util.spec_from_file_location("cereal_" + name, path)
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  return mod


def load_services():
  return load_table("services").SERVICE_LIST


def render(services):
  rows = []
  for name, s in services.items():
    decimation = s.decimation if s.decimation is not None else -1
    rows.append(f'    {{"{name}", {str(s.should_log).lower()}, {s.frequency!r}, {decimation}, {s.ring_size}u, {s.loan}u}},')
  return f"""#pragma once
// Generated from cereal/services.py by cereal/gen_services_h.py. Do not edit.
// The services table: one row per msgq topic / Event union member.
#include <array>
#include <cstddef>
#include <string_view>

namespace cereal {{

struct Service {{
  std::string_view name;
  bool should_log;
  double frequency;   // Hz; 0 = irregular
  int decimation;     // qlog keeps message i when i % decimation == 0; -1 = never
  size_t ring_size;   // bytes of the topic's ring
  size_t loan;        // 0: copied; else bytes of a loan, built and read in place
}};

inline constexpr std::array<Service, {len(rows)}> kServices = {{{{
{chr(10).join(rows)}
}}}};

// The row for `name`, or nullptr when no such service exists.
constexpr const Service *find_service(std::string_view name) {{
  for (const Service &s : kServices) {{
    if (s.name == name) return &s;
  }}
  return nullptr;
}}

}}  // namespace cereal
"""


if __name__ == "__main__":
  if len(sys.argv) != 2:
    sys.exit("usage: gen_services_h.py OUTPUT")
  text = render(load_services())
  with open(sys.argv[1], "w") as f:
    f.write(text)
