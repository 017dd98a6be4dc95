"""What every conduit CLI tool does the same way: report bad input as one clear
line and exit 2 (an unknown name with the nearest known ones), take --prefix and
--log-root, hint at the live prefixes when the chosen one is silent, draw a
progress bar."""
import argparse
import contextlib
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


def parser(description):
  """An ArgumentParser with the options every tool has: --prefix (the live
  pipeline to look at) and --log-root (where routes are)."""
  p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--prefix', help='CONDUIT_PREFIX of the pipeline to look at (default: $CONDUIT_PREFIX)')
  p.add_argument('--log-root', metavar='DIR',
                 help='where routes are (default: $CONDUIT_LOG_ROOT, else ./data/routes)')
  return p


def parse_args(p, argv=None):
  """Parses, then sets CONDUIT_PREFIX and CONDUIT_LOG_ROOT from --prefix and
  --log-root before any socket is made or route resolved."""
  args = p.parse_args(argv)
  from common.prefix import check_name
  name, what = (args.prefix, '--prefix') if args.prefix else (os.environ.get('CONDUIT_PREFIX'), 'CONDUIT_PREFIX')
  if name:
    try:
      check_name(name, what)
    except ValueError as e:
      raise ToolError(str(e)) from None
  if args.prefix:
    os.environ['CONDUIT_PREFIX'] = args.prefix
  if args.log_root:
    os.environ['CONDUIT_LOG_ROOT'] = os.path.abspath(args.log_root)
  return args


def unknown(what, name, known):
  """The error for a name that is not one of `known`: the nearest ones first."""
  import difflib
  near = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
  hint = f"; did you mean {' or '.join(near)}?" if near else ''
  return f"unknown {what} {name}{hint} (known: {', '.join(known)})"


def check_services(names):
  """Raises ToolError naming the first unknown service and the nearest known ones."""
  from cereal.services import SERVICE_LIST
  for n in names:
    if n not in SERVICE_LIST:
      raise ToolError(unknown('service', n, SERVICE_LIST))


def prefix_dir():
  from common.prefix import prefix
  from common.shm import prefix_dir as d
  return d(prefix())


def silent_prefix_hint():
  """What to say when nothing publishes under this prefix: which prefixes are live."""
  from common.prefix import prefix
  from common.shm import describe_prefixes, live_prefixes
  here = prefix()
  live = [p for p in live_prefixes() if p != here]
  where = f"prefix {here!r}" if here else 'no prefix'
  return (f"nothing publishes under {where}" +
          (f"; live prefixes: {describe_prefixes(live)} (--prefix NAME)" if live else '; no pipeline is live'))


def waiting_hint(topics):
  """Why `topics` are silent: the prefix is live but they are not published,
  or nothing runs under it (then: which prefixes are live)."""
  from common.prefix import prefix
  from common.shm import users
  if users(prefix_dir()):
    return f"processes run under prefix {prefix()!r}, but none publishes {', '.join(topics)}"
  return silent_prefix_hint()


@contextlib.contextmanager
def live_bus():
  """Around a live tool's use of the bus: when nothing had ever run under the
  prefix, the tool's own rings would stay behind; they go again at exit
  (unless a live process uses them by then)."""
  from common.prefix import prefix
  from common.shm import remove
  created = not os.path.isdir(prefix_dir())
  try:
    yield
  finally:
    if created:
      remove(prefix())


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
