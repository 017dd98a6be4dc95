"""Boots Debian's kernel under QEMU (TCG) with a small initramfs and returns what
the guest printed on its serial console.

The kernel package is downloaded (not installed) by tools/install_deps.sh into
cache_dir(); the kernel image and the vivid module with its dependencies are
unpacked from it once. An initramfs is two cpio archives concatenated (the
kernel unpacks both): a cached base (busybox, modules, depmod's index) and one
per boot with the programs, the shared libraries ldd lists for them, and /init.

/init mounts proc, sysfs, devtmpfs and tmpfs (/dev/shm, /tmp), loads vivid,
runs the caller's shell script, prints GUEST_EXIT <rc> and powers off."""
import glob
import os
import shutil
import subprocess
import tempfile

QEMU = 'qemu-system-x86_64'
BUSYBOX = '/bin/busybox'
APPLETS = ['sh', 'mount', 'modprobe', 'rmmod', 'insmod', 'ls', 'cat', 'sed', 'grep', 'poweroff', 'sleep', 'kill',
           'echo', 'mkdir', 'wc', 'head', 'tail', 'dmesg', 'true', 'false', 'test', '[', 'date', 'ps', 'seq', 'cut']
VIVID_DEPS_ROOT = 'kernel/drivers/media'


def cache_dir():
  return os.path.join(os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'), 'conduit', 'vm')


def kernel_deb():
  """The downloaded kernel package, or None."""
  debs = sorted(glob.glob(os.path.join(cache_dir(), 'linux-image-*-amd64_*.deb')))
  return debs[-1] if debs else None


def unavailable():
  """Why a guest cannot be booted here ('' when it can)."""
  if not shutil.which(QEMU):
    return f'{QEMU} not installed (tools/install_deps.sh installs qemu-system-x86)'
  for tool, pkg in ((BUSYBOX, 'busybox-static'), ('/sbin/depmod', 'kmod'), ('/usr/bin/cpio', 'cpio')):
    if not os.path.exists(tool):
      return f'{tool} missing (tools/install_deps.sh installs {pkg})'
  if not kernel_deb():
    return f'no kernel package in {cache_dir()} (tools/install_deps.sh downloads it)'
  return ''


def _cpio(root, out):
  """Writes the tree under root as a newc cpio archive to out (root-owned entries)."""
  names = subprocess.run(['find', '.', '-mindepth', '1'], cwd=root, check=True, capture_output=True).stdout
  with open(out, 'wb') as f:
    subprocess.run(['cpio', '-o', '-H', 'newc', '-R', '0:0', '--quiet'], cwd=root, input=names, stdout=f, check=True)


def _module_closure(mods_root, name):
  """Paths (relative to mods_root) of module `name` and every module it depends on."""
  index = {}
  for p in glob.glob(os.path.join(mods_root, VIVID_DEPS_ROOT, '**', '*.ko'), recursive=True):
    index[os.path.basename(p)[:-3].replace('-', '_')] = p
  todo, seen = [name], {}
  while todo:
    n = todo.pop().replace('-', '_')
    if n in seen:
      continue
    if n not in index:
      raise RuntimeError(f'module {n} not found under {VIVID_DEPS_ROOT} of {mods_root}')
    seen[n] = index[n]
    deps = subprocess.run(['/sbin/modinfo', '-F', 'depends', index[n]], check=True, capture_output=True,
                          text=True).stdout.strip()
    todo += [d for d in deps.split(',') if d]
  return [os.path.relpath(p, mods_root) for p in seen.values()]


def base_image():
  """(vmlinuz path, base cpio path), unpacked from the kernel package once."""
  deb = kernel_deb()
  if not deb:
    raise RuntimeError(unavailable())
  stamp = os.path.splitext(os.path.basename(deb))[0]
  out = os.path.join(cache_dir(), stamp)
  vmlinuz, base = os.path.join(out, 'vmlinuz'), os.path.join(out, 'base.cpio')
  if os.path.exists(base):
    return vmlinuz, base
  with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
    unpacked = os.path.join(tmp, 'deb')
    os.makedirs(unpacked)
    tar = subprocess.Popen(['dpkg-deb', '--fsys-tarfile', deb], stdout=subprocess.PIPE)
    subprocess.run(['tar', '-x', '-C', unpacked, '--wildcards', './boot/vmlinuz-*', f'./lib/modules/*/{VIVID_DEPS_ROOT}',
                    './lib/modules/*/modules.builtin*', './lib/modules/*/modules.order'], stdin=tar.stdout, check=True)
    tar.stdout.close()
    if tar.wait() != 0:
      raise RuntimeError(f'dpkg-deb could not read {deb}')
    version = os.listdir(os.path.join(unpacked, 'lib', 'modules'))[0]
    mods = os.path.join(unpacked, 'lib', 'modules', version)
    root = os.path.join(tmp, 'root')
    dst = os.path.join(root, 'lib', 'modules', version)
    for rel in _module_closure(mods, 'vivid') + [os.path.basename(p) for p in glob.glob(os.path.join(mods, 'modules.*'))]:
      os.makedirs(os.path.dirname(os.path.join(dst, rel)), exist_ok=True)
      shutil.copy(os.path.join(mods, rel), os.path.join(dst, rel))
    subprocess.run(['/sbin/depmod', '-b', root, version], check=True)
    os.makedirs(os.path.join(root, 'bin'))
    shutil.copy(BUSYBOX, os.path.join(root, 'bin', 'busybox'))
    for a in APPLETS:
      os.symlink('busybox', os.path.join(root, 'bin', a))
    for d in ('proc', 'sys', 'dev', 'tmp', 'etc'):
      os.makedirs(os.path.join(root, d), exist_ok=True)
    os.makedirs(out + '.tmp', exist_ok=True)
    shutil.copy(os.path.join(unpacked, 'boot', f'vmlinuz-{version}'), os.path.join(out + '.tmp', 'vmlinuz'))
    _cpio(root, os.path.join(out + '.tmp', 'base.cpio'))
    shutil.rmtree(out, ignore_errors=True)
    os.rename(out + '.tmp', out)
  return vmlinuz, base


def _shared_libs(binary):
  libs = []
  for line in subprocess.run(['ldd', binary], check=True, capture_output=True, text=True).stdout.splitlines():
    parts = line.split()
    path = parts[2] if '=>' in parts and len(parts) > 2 else parts[0]
    if path.startswith('/'):
      libs.append(path)
  return libs


INIT = '''#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/shm
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
export PATH=/bin:/conduit LD_LIBRARY_PATH=/conduit/lib HOME=/tmp
echo GUEST_BOOTED
modprobe vivid {vivid_args} && echo GUEST_VIVID_LOADED $(cat /sys/class/video4linux/video0/name)
sh /conduit/guest.sh
echo GUEST_EXIT $?
poweroff -f
'''


def boot(programs, script, vivid_args='n_devs=1 node_types=0x1', timeout=120, memory_mb=768):
  """Boots a guest that holds `programs` (host paths, copied to /conduit/<name>) and
  runs `script` (sh). Returns the console text; raises on timeout."""
  vmlinuz, base = base_image()
  with tempfile.TemporaryDirectory(prefix='conduit_vm_') as tmp:
    root = os.path.join(tmp, 'root')
    os.makedirs(os.path.join(root, 'conduit'))
    libs = set()
    for p in programs:
      shutil.copy(p, os.path.join(root, 'conduit', os.path.basename(p)))
      libs.update(_shared_libs(p))
    for lib in libs:
      # The ELF interpreter must sit where binaries name it; the rest is found through LD_LIBRARY_PATH
      # (the guest has no ld.so.cache for the multiarch directories).
      interp = os.path.basename(lib).startswith('ld-linux')
      dst = os.path.join(root, lib.lstrip('/') if interp else os.path.join('conduit', 'lib', os.path.basename(lib)))
      os.makedirs(os.path.dirname(dst), exist_ok=True)
      shutil.copy(os.path.realpath(lib), dst)
    with open(os.path.join(root, 'init'), 'w') as f:
      f.write(INIT.format(vivid_args=vivid_args))
    os.chmod(os.path.join(root, 'init'), 0o755)
    with open(os.path.join(root, 'conduit', 'guest.sh'), 'w') as f:
      f.write(script)
    extra = os.path.join(tmp, 'extra.cpio')
    _cpio(root, extra)
    initrd = os.path.join(tmp, 'initrd.cpio')
    with open(initrd, 'wb') as out:
      for part in (base, extra):
        with open(part, 'rb') as f:
          shutil.copyfileobj(f, out)
    cmd = [QEMU, '-accel', 'tcg', '-m', str(memory_mb), '-smp', '1', '-nographic', '-no-reboot', '-nodefaults',
           '-serial', 'stdio', '-kernel', vmlinuz, '-initrd', initrd,
           '-append', 'console=ttyS0 panic=-1 quiet rdinit=/init']
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    return proc.stdout.decode(errors='replace').replace('\r', '')
