#!/bin/bash
# Install what econ-sim needs (Debian packages only) and build it into build/.
# Idempotent: installs only what is missing, and says nothing when everything is there.
# It leaves the boot setup alone: the qemu tests' Debian kernel image, the same version as the
# installed linux-headers-amd64, is downloaded and unpacked into
# /var/cache/econ-sim/debian-kernel/<version>/, not installed (installing linux-image-* adds a
# kernel and updates the bootloader).
set -euo pipefail
cd "$(dirname "$0")"

packages=(
	build-essential cmake pkg-config git
	libboost-dev libabsl-dev libbenchmark-dev libgtest-dev libgmock-dev
	libpcap-dev librapidcheck-dev liburcu-dev libyaml-cpp-dev
	linux-headers-amd64 linux-source-6.1
	qemu-system-x86 busybox-static cpio kmod iptables
	iproute2 tcpdump tshark procps python3 python3-yaml linux-perf
	clang libclang-rt-14-dev clang-format
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

# The kernel image run-in-qemu boots: the package of the headers' version, unpacked, not installed.
KERNEL_CACHE=${ECONSIM_KERNEL_CACHE:-/var/cache/econ-sim/debian-kernel} # run-in-qemu reads the same
kver=$(for d in /usr/src/linux-headers-*-amd64; do
	[[ -f $d/Makefile ]] && echo "${d#/usr/src/linux-headers-}"
done | sort -V | tail -n 1)
if [[ -n $kver && ! -f $KERNEL_CACHE/$kver/boot/vmlinuz-$kver && ! -e /boot/vmlinuz-$kver ]]; then
	[[ $(id -u) == 0 ]] || { echo "setup: run as root to fetch the kernel image for $kver" >&2; exit 1; }
	echo "setup: unpacking linux-image-$kver into $KERNEL_CACHE/$kver (not installed)"
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/econ-kernel.XXXXXX")
	chown _apt "$tmp" 2>/dev/null || true # apt-get download drops privileges to _apt and writes here
	(cd "$tmp" && apt-get download -qq "linux-image-$kver") || { rm -rf "$tmp"; echo "setup: apt-get download linux-image-$kver failed" >&2; exit 1; }
	mkdir -p "$KERNEL_CACHE"
	rm -rf "$KERNEL_CACHE/$kver.part"
	dpkg-deb -x "$tmp"/linux-image-"$kver"_*.deb "$KERNEL_CACHE/$kver.part"
	mv "$KERNEL_CACHE/$kver.part" "$KERNEL_CACHE/$kver"
	rm -rf "$tmp"
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target econ-sim fpmap_selftest >build/build.log 2>&1 || { tail -40 build/build.log; echo "setup: build failed, see build/build.log" >&2; exit 1; }

