"""python -m manager.python_process MODULE [ARGS]: how the manager runs a Python
process of the table (ProcessSpec python=MODULE). MODULE runs as __main__; when
the manager stops it (SIGINT), the KeyboardInterrupt that reaches the top ends
the process the way an uncaught SIGINT ends a C++ one: killed by SIGINT, which
the manager counts as a clean stop, with no traceback in the log."""
import atexit
import os
import runpy
import signal
import sys


def main():
  if len(sys.argv) < 2:
    sys.exit('usage: python -m manager.python_process MODULE [ARGS]')
  module = sys.argv[1]
  sys.argv = [module] + sys.argv[2:]
  try:
    runpy.run_module(module, run_name='__main__', alter_sys=True)
  except KeyboardInterrupt:
    atexit._run_exitfuncs()  # what Python's own exit on SIGINT runs, before the signal
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)


if __name__ == '__main__':
  main()
