#!/bin/bash
# ./test.sh: the whole test suite: unit and property tests under ASan+UBSan, the flow map's
# self-test in userspace, the same self-test as a kernel module in a real Linux kernel booted in
# qemu, the patched kernel end to end. CI runs exactly this.
# ./test.sh quick: the unit and trace tests only (ctest -L quick, see README "Tests"), for while
# you work; it assumes ./setup.sh has run once.
set -euo pipefail
cd "$(dirname "$0")"
tier=${1:-full}
[[ $tier == full || $tier == quick ]] || { echo "usage: ./test.sh [quick]" >&2; exit 2; }
[[ $tier == quick ]] || ./setup.sh

echo "== build with ASan+UBSan"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DECONSIM_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$(nproc)" >build-asan/build.log 2>&1 || { tail -40 build-asan/build.log; exit 1; }

if [[ $tier == quick ]]; then
	echo "== ctest -L quick (ASan+UBSan): unit and trace tests"
	(cd build-asan && ctest --output-on-failure -j"$(nproc)" -L quick)
	exit
fi

echo "== ctest (ASan+UBSan)"
(cd build-asan && ctest --output-on-failure -j"$(nproc)")

echo "== mutants: every bug of tests/mutants/mutants.toml fails a test"
tests/mutants/run

echo "== fuzz: bounded libFuzzer campaigns and the regression inputs"
tests/fuzz/run-ci

echo "== kernel-port: kernel style and includes"
kernel-port/module/checkpatch
# bench/kernel/'s injector module: its style only (building it needs the UML kernel, ~20 min).
kernel-port/module/checkpatch bench/kernel/rxcost/*.[ch]
kernel-port/module/check-includes

echo "== kernel module: build against the installed Debian 6.1 headers, self-test in qemu"
kernel-port/module/run-in-qemu

echo "== kernel patch: series/ generated from kernel-port/, applies to Debian's 6.1, checkpatch-clean"
kernel-port/patches/check
echo "== kernel patch: the patched kernel (cached per series and config) in qemu, overlay end to end"
kernel-port/kernel-e2e/run

echo "== kernel-replay in the patched kernel (qemu): a recording's verdicts against --mode fixed"
tests/kernel-replay/vm.sh build-asan/econ-sim traces udp-reopen 50
