"""What every conduit CLI tool does the same way: find the repository, report
bad input as one clear line and exit 2, take --prefix, draw a progress bar."""
import argparse
import os
import sys


class ToolError(Exception):
  """Bad input from the user: printed as `<tool>: error: <message>`, exit status 2."""


def run(main):
  """Calls main(); ToolError and Ctrl-C end the tool with a one-line message."""
  tool = os.path.basename(sys.argv[0])
  try:
    sys.exit(main() or 0)
  except ToolError as e:
    print(f"{tool}: error: {e}", file=sys.stderr)
    sys.exit(2)
  except KeyboardInterrupt:
    sys.exit(130)
  except BrokenPipeError:
    # `tool | head`: the reader left; nothing more to say.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(0)


def parser(description, prefix=False):
  p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
  if prefix:
    p.add_argument('--prefix', help='CONDUIT_PREFIX of the pipeline to look at (default: $CONDUIT_PREFIX)')
  return p


def apply_prefix(args):
  """Sets CONDUIT_PREFIX from --prefix before any socket is made."""
  if getattr(args, 'prefix', None):
    from common.prefix import check_name
    try:
      check_name(args.prefix, '--prefix')
    except ValueError as e:
      raise ToolError(str(e)) from None
    os.environ['CONDUIT_PREFIX'] = args.prefix


def check_services(names):
  """Raises ToolError naming unknown services and listing the known ones."""
  from cereal.services import SERVICE_LIST
  unknown = [n for n in names if n not in SERVICE_LIST]
  if unknown:
    raise ToolError(f"unknown service{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                    f"known: {', '.join(SERVICE_LIST)}")


class Progress:
  """A progress bar on stderr, drawn only when stderr is a terminal (or forced)."""

  def __init__(self, total, label, enabled=None):
    self.total = max(total, 1)
    self.label = label
    self.enabled = sys.stderr.isatty() if enabled is None else enabled
    self.done = 0

  def step(self, n=1, note=''):
    self.done += n
    if self.enabled:
      width = 30
      filled = int(width * min(self.done, self.total) / self.total)
      sys.stderr.write(f"\r{self.label} [{'#' * filled}{'-' * (width - filled)}] "
                       f"{self.done}/{self.total} {note}\033[K")
      sys.stderr.flush()

  def close(self):
    if self.enabled:
      sys.stderr.write('\n')
      sys.stderr.flush()
