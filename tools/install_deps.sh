#!/usr/bin/env bash
# Installs the Debian packages conduit needs, and only the missing ones.
# Idempotent: a second run with everything present makes no apt call.
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
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install_deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
