#!/usr/bin/env bash
# Installs the Debian packages conduit needs, and only the missing ones.
# Idempotent: a second run with everything present makes no apt or npm call.
set -euo pipefail

PACKAGES=(
  scons g++ pkg-config
  capnproto libcapnp-dev
  libzmq3-dev
  liburing-dev libzstd-dev
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev
  ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo
  pybind11-dev python3-dev python3-pytest python3-numpy python3-zmq
  python3-onnx python3-matplotlib
  libgtest-dev libbenchmark-dev
  iceoryx libiceoryx-posh-dev
  strace
  zlib1g-dev python3-websockets nodejs
  clang-14 libclang-rt-14-dev
  qemu-system-x86 busybox-static kmod cpio
  chromium python3-websocket fonts-liberation
  iproute2
  python3-flake8 cppcheck shellcheck
  python3-pil python3-pip python3-setuptools python3-wheel python3-venv
)

missing=()
# Debian's nodejs comes without npm; NodeSource's nodejs carries its own (and conflicts with Debian's npm).
command -v npm >/dev/null || PACKAGES+=(npm)
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -ne 0 ]; then
  echo "install_deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm: the Foxglove/MCAP reference libraries the tests read our output with,
# pinned by the committed package-lock.json; reinstalled only when it changes.
JS="$(cd "$(dirname "$0")" && pwd)/tests/js"
if ! cmp -s "$JS/package-lock.json" "$JS/node_modules/.installed-lock.json"; then
  echo "install_deps: npm ci in $JS"
  npm ci --prefix "$JS" --no-audit --no-fund --loglevel=error >/dev/null
  cp "$JS/package-lock.json" "$JS/node_modules/.installed-lock.json"
fi

# The kernel the V4L2 guest tests boot under QEMU (selfdrive_tests/vm/guest.py):
# Debian's current amd64 kernel package, downloaded into the cache, not installed.
vm_cache="${XDG_CACHE_HOME:-$HOME/.cache}/conduit/vm"
kernel=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [ -n "$kernel" ] && ! ls "$vm_cache/${kernel}_"*.deb >/dev/null 2>&1; then
  echo "install_deps: downloading $kernel into $vm_cache"
  mkdir -p "$vm_cache"
  # apt's sandbox user cannot write into a home directory: download in a temp dir it can use.
  tmp=$(mktemp -d)
  chmod 755 "$tmp"
  (cd "$tmp" && apt-get download -qq "$kernel" 2>/dev/null) || { $SUDO apt-get update -qq && (cd "$tmp" && apt-get download -qq "$kernel"); }
  mv "$tmp"/*.deb "$vm_cache"/
  rm -rf "$tmp"
fi
