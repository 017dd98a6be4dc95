"""cereal: the conduit log schema, the services table and the messaging API.

  from cereal import log            # schema of cereal/log.capnp, loaded at run time
  import cereal.messaging as messaging
  from cereal.services import SERVICE_LIST
"""
import os

SCHEMA_DIR = os.path.dirname(os.path.abspath(__file__))
LOG_CAPNP = os.path.join(SCHEMA_DIR, "log.capnp")


def __getattr__(name):
  # The schema loads on first use so `import cereal.services` needs no compiled module.
  if name == "log":
    from cereal._capnp_schema import load_log
    log = load_log()
    globals()["log"] = log
    return log
  raise AttributeError(f"module 'cereal' has no attribute {name!r}")
