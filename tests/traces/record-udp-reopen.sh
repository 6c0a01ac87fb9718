#!/bin/bash
# Record udp-reopen from the real kernel into a temp dir; check that the three files are there,
# that its counts and the FDB entries its scenario.yaml lists equal those of the committed
# traces/udp-reopen/, and that no namespace is left.
# Exits 77 (skipped) where network namespaces cannot be made.
set -euo pipefail
traces=${1:?usage: record-udp-reopen.sh TRACES_DIR}
skip() { echo "SKIP: $* (traces/record needs root and network namespaces)"; exit 77; }

[[ $(id -u) == 0 ]] || skip "not root"
command -v ip >/dev/null || skip "no iproute2"
probe="econ-test-$$"
ip netns add "$probe" 2>/dev/null || skip "'ip netns add' fails here"
ip netns del "$probe"
# The recorder's namespaces need a private mount tree (not available in every chroot).
unshare -m sh -c 'mount --make-rslave /' 2>/dev/null || skip "mount namespaces cannot be made private here"
command -v tcpdump >/dev/null || skip "no tcpdump (./setup.sh installs it)"

tmp=$(mktemp -d /tmp/econ-trace-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
before=$(ip netns list | grep -c '^erec' || true)

rc=0
"$traces/record" udp-reopen "$tmp/out" >"$tmp/log" 2>&1 || rc=$?
cat "$tmp/log"
((rc != 77)) || skip "the recorder could not make namespaces"
((rc == 0)) || { echo "FAIL: traces/record udp-reopen exited $rc"; exit 1; }

for f in trace.pcap scenario.yaml expect.jsonl; do
	[[ -s $tmp/out/$f ]] || { echo "FAIL: $f missing or empty"; exit 1; }
done
got=$(grep '^counts:' "$tmp/log")
want=$("$traces/record" --count "$traces/udp-reopen")
echo "recorded now:  $got"
echo "committed:     $want"
[[ $got == "$want" ]] || { echo "FAIL: counts differ from the committed recording"; exit 1; }
# The static FDB entries it installed on node B, as scenario.yaml lists them: those committed.
fdb() { grep -E '^ +- \{mac: ' "$1" || true; }
echo "FDB entries written: $(fdb "$tmp/out/scenario.yaml" | wc -l)"
[[ -n $(fdb "$tmp/out/scenario.yaml") ]] || { echo "FAIL: scenario.yaml lists no FDB entry"; exit 1; }
[[ $(fdb "$tmp/out/scenario.yaml") == "$(fdb "$traces/udp-reopen/scenario.yaml")" ]] ||
	{ echo "FAIL: the FDB entries differ from the committed scenario.yaml"; exit 1; }

after=$(ip netns list | grep -c '^erec' || true)
((after <= before)) || { echo "FAIL: the recorder left network namespaces behind"; ip netns list; exit 1; }
echo "PASS: udp-reopen recorded again with the committed counts"
