#!/usr/bin/env bash
# Installs the Debian packages pbfs needs, only those missing (so a second run costs nothing).
set -euo pipefail
packages=(
  cmake ninja-build g++ pkg-config
  libboost-graph-dev libboost-random-dev libboost-program-options-dev
  libeigen3-dev libjerasure-dev libgf-complete-dev libisal-dev libcrypto++-dev libhdf5-dev
  libgtest-dev libgmock-dev libbenchmark-dev pybind11-dev python3-dev libyaml-cpp-dev
  libzookeeper-mt-dev zookeeper netcat-openbsd libjemalloc-dev
  python3-h5py python3-numpy python3-pandas python3-matplotlib python3-pytest
  python3-nbclient python3-nbformat python3-ipykernel jupyter-nbconvert python3-distributed
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}"
