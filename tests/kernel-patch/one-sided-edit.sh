#!/bin/bash
# Shows that kernel-port/patches/check catches an edit made in one place only:
#
#   one-sided-edit.sh KERNEL_PORT_DIR
#
# Copies kernel-port/ to a temporary directory and runs the copy's check three times:
#   1. unchanged: it must pass (so that the failures below are about the edits);
#   2. kernel-port/fpmap.c edited on one line, the series not regenerated: it must fail,
#      saying the series is not what kernel-port/ generates;
#   3. that edit undone, a series patch edited by hand instead: it must fail the same way.
# Exit 77 (skip) without /usr/src/linux-source-6.1.tar.xz. The pristine kernel tree is
# extracted once into the cache of kernel-port/patches/pristine, not into the copy.
set -euo pipefail

port=$(cd "${1:?usage: one-sided-edit.sh KERNEL_PORT_DIR}" && pwd)
[[ -f /usr/src/linux-source-6.1.tar.xz || -n ${ECONSIM_KERNEL_SRC:-} ]] || {
	echo "skip: no /usr/src/linux-source-6.1.tar.xz (apt-get install linux-source-6.1)"
	exit 77
}
# The series' hunks are generated against one Debian source version: on another (a machine whose
# apt sources lack bookworm-security, say) a fresh generation differs in offsets, not in substance,
# and check compares the series but for hunk positions there; the edits below change substance.
base=$(cat "$port/patches/base-version")
installed=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || true)
[[ $installed == "$base" ]] ||
	echo "note: the series was generated against linux-source-6.1 $base, this machine has '${installed:-none}'"
# Extract (or find) the pristine tree with the real checkout's script, so that
# its cache is shared, not made again under the temporary copy.
ECONSIM_KERNEL_SRC=$("$port/patches/pristine")
export ECONSIM_KERNEL_SRC

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -a "$port" "$tmp/kernel-port"
check=$tmp/kernel-port/patches/check
fail=0

# expect_stale STEP WHY: check must fail, and say that series/ is not what kernel-port/ generates.
expect_stale() {
	if "$check" >"$tmp/$1.log" 2>&1; then
		cat "$tmp/$1.log"
		echo "FAIL: check passed although $2"
		fail=1
	elif ! grep -q 'is not what kernel-port/ generates' "$tmp/$1.log"; then
		cat "$tmp/$1.log"
		echo "FAIL: check failed ($2), but not because series/ differs from a generation"
		fail=1
	else
		grep -m 1 FAIL "$tmp/$1.log"
	fi
}

echo "== 1. the copy, unchanged: check must pass"
if ! "$check" >"$tmp/1.log" 2>&1; then
	cat "$tmp/1.log"
	echo "FAIL: check fails on an unchanged copy of kernel-port/"
	exit 1
fi
tail -n 1 "$tmp/1.log"

echo "== 2. kernel-port/fpmap.c edited in one place, series not regenerated: check must fail"
map=$tmp/kernel-port/fpmap.c
cp "$map" "$tmp/fpmap.c.orig"
sed -i 's/^#define FPMAP_EVICT_SECOND_CHANCES 8$/#define FPMAP_EVICT_SECOND_CHANCES 9/' "$map"
changed=$(diff "$tmp/fpmap.c.orig" "$map" | grep -c '^>' || true)
if ((changed != 1)); then
	echo "FAIL: the edit changed $changed lines of fpmap.c, not 1 (did FPMAP_EVICT_SECOND_CHANCES move?)"
	exit 1
fi
diff "$tmp/fpmap.c.orig" "$map" || true
expect_stale 2 "fpmap.c differs from the map in the committed series"
cp "$tmp/fpmap.c.orig" "$map"

echo "== 3. a series patch edited by hand: check must fail"
first=$(head -n 1 "$tmp/kernel-port/patches/series/series")
sed -i '0,/^+#define FPMAP_EVICT_SECOND_CHANCES 8$/s//+#define FPMAP_EVICT_SECOND_CHANCES 9/' \
	"$tmp/kernel-port/patches/series/$first"
expect_stale 3 "a series patch was edited by hand"

if ((fail)); then
	exit 1
fi
echo "ok: check passes on kernel-port/ as committed and fails on each one-sided edit"
