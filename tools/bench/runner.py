"""Benchmark runner. A benchmark NAME is the module `<component>/bench/NAME.py`
that defines `run() -> list[dict]` (other modules there are helpers), each dict a row
{"bench", "impl", "case", "metric", "value", "unit"} as in docs/architecture.md. The
module runs its competitors itself, in the same run, so ratios are fair."""
import argparse
import glob
import importlib.util
import json
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
ROW_KEYS = ('bench', 'impl', 'case', 'metric', 'value', 'unit')


def find_benches():
  found = {}
  for path in sorted(glob.glob(os.path.join(ROOT, '*', 'bench', '*.py'))):
    name = os.path.splitext(os.path.basename(path))[0]
    with open(path) as f:
      is_bench = '\ndef run(' in f.read()
    if is_bench and not name.startswith('_'):
      found[name] = path
  return found


def load(name, path):
  spec = importlib.util.spec_from_file_location(f'bench_{name}', path)
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  return mod


def print_table(rows):
  if not rows:
    print('(no rows)')
    return
  widths = {k: max(len(k), *(len(f'{r[k]:.4g}' if k == 'value' else str(r[k])) for r in rows)) for k in ROW_KEYS}
  print('  '.join(k.ljust(widths[k]) for k in ROW_KEYS))
  for r in rows:
    print('  '.join((f'{r[k]:.4g}' if k == 'value' else str(r[k])).ljust(widths[k]) for k in ROW_KEYS))


def main():
  benches = find_benches()
  ap = argparse.ArgumentParser(description='Run conduit benchmarks.')
  ap.add_argument('name', help='benchmark name or "all": ' + ', '.join(benches))
  ap.add_argument('--json', metavar='FILE', help='write the rows as a JSON list')
  args = ap.parse_args()
  names = list(benches) if args.name == 'all' else [args.name]
  rows = []
  for name in names:
    if name not in benches:
      sys.exit(f'unknown benchmark {name!r}; known: {", ".join(benches)}')
    sys.path.insert(0, ROOT)
    got = load(name, benches[name]).run()
    for r in got:
      missing = [k for k in ROW_KEYS if k not in r]
      if missing:
        sys.exit(f'benchmark {name} produced a row without {missing}: {r}')
    rows += got
  print_table(rows)
  if args.json:
    with open(args.json, 'w') as f:
      json.dump(rows, f, indent=1)


if __name__ == '__main__':
  main()
