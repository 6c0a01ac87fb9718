#!/bin/bash
# Install what econ-sim needs (Debian packages only) and build it into build/.
# Idempotent: installs only what is missing, and says nothing when everything is there.
set -euo pipefail
cd "$(dirname "$0")"

packages=(
	build-essential cmake pkg-config git
	libboost-dev libabsl-dev libbenchmark-dev libgtest-dev libgmock-dev
	libpcap-dev librapidcheck-dev liburcu-dev libyaml-cpp-dev
	linux-headers-amd64 linux-image-amd64 linux-source-6.1
	qemu-system-x86 busybox-static cpio kmod
	iproute2 tcpdump procps python3
	clang libclang-rt-14-dev
	bc bison flex libelf-dev libssl-dev
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "setup: installing ${missing[*]}"
	[[ $(id -u) == 0 ]] || { echo "setup: run as root to install packages" >&2; exit 1; }
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target econ-sim fpmap_selftest >build/build.log 2>&1 || { tail -40 build/build.log; echo "setup: build failed, see build/build.log" >&2; exit 1; }
