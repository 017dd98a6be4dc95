"""Loads cereal/log.capnp at run time with capnp's SchemaParser (cereal._cereal)
into a module object, cereal.log: log.Event, log.FrameData, ... are StructSchemas."""
import os
import sys
import types

from cereal import LOG_CAPNP
from cereal._cereal import load_schema

# Where capnp's own schemas live ("/capnp/c++.capnp" is imported by log.capnp).
CAPNP_IMPORT_PATHS = [p for p in ("/usr/include", "/usr/local/include")
                      if os.path.exists(os.path.join(p, "capnp", "c++.capnp"))]


def load_log():
  module = types.ModuleType("cereal.log", "Schema of cereal/log.capnp, parsed at run time.")
  module.__dict__.update(load_schema(LOG_CAPNP, CAPNP_IMPORT_PATHS))
  sys.modules["cereal.log"] = module
  return module
