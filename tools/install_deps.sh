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
)

missing=()
# Debian's nodejs comes without npm; NodeSource's nodejs carries its own (and conflicts with Debian's npm).
command -v npm >/dev/null || PACKAGES+=(npm)
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -ne 0 ]; then
  echo "install_deps: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
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
