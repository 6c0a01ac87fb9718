#!/bin/bash
# Record a scenario again from the real kernel into a temp dir; check that the three files are
# there, that its counts, the FDB entries and VXLAN devices its scenario.yaml lists and (routed topologies) the
# routes and neighbours equal those of the committed traces/NAME/, and that no namespace is left.
# Exits 77 (skipped) where network namespaces cannot be made.
set -euo pipefail
traces=${1:?usage: record-again.sh TRACES_DIR NAME}
name=${2:?usage: record-again.sh TRACES_DIR NAME}
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
"$traces/record" "$name" "$tmp/out" >"$tmp/log" 2>&1 || rc=$?
cat "$tmp/log"
((rc != 77)) || skip "the recorder could not make namespaces"
# Three runs in a row disturbed by other work on the machine: nothing was recorded to compare.
((rc != 75)) || { echo "SKIP: three disturbed runs (the machine is loaded); nothing to compare"; exit 77; }
((rc == 0)) || { echo "FAIL: traces/record $name exited $rc"; exit 1; }

for f in trace.pcap scenario.yaml expect.jsonl; do
	[[ -s $tmp/out/$f ]] || { echo "FAIL: $f missing or empty"; exit 1; }
done
got=$(grep '^counts:' "$tmp/log")
want=$("$traces/record" --count "$traces/$name")
echo "recorded now:  $got"
echo "committed:     $want"
[[ $got == "$want" ]] || { echo "FAIL: counts differ from the committed recording"; exit 1; }
# The static FDB entries it installed on node B, as scenario.yaml lists them: those committed.
fdb() { grep -E '^ +- \{mac: ' "$1" || true; }
echo "FDB entries written: $(fdb "$tmp/out/scenario.yaml" | wc -l)"
[[ -n $(fdb "$tmp/out/scenario.yaml") ]] || { echo "FAIL: scenario.yaml lists no FDB entry"; exit 1; }
[[ $(fdb "$tmp/out/scenario.yaml") == "$(fdb "$traces/$name/scenario.yaml")" ]] ||
	{ echo "FAIL: the FDB entries differ from the committed scenario.yaml"; exit 1; }
# The VXLAN devices as written (names, VNIs, ports, `learning: false` for the recorder's
# `nolearning`): those committed, since the replay's learning depends on them.
vxlan() { grep -E '^    - \{name: [^,]+, vni: |^      (vni|port|learning): ' "$1" || true; }
[[ $(vxlan "$tmp/out/scenario.yaml") == "$(vxlan "$traces/$name/scenario.yaml")" ]] ||
	{ echo "FAIL: the VXLAN devices differ from the committed scenario.yaml"; diff <(vxlan "$tmp/out/scenario.yaml") <(vxlan "$traces/$name/scenario.yaml"); exit 1; }
# Routed topologies: the routes and neighbours node B's kernel listed, as committed.
routing() { grep -E '^ +- \{(dst|ip): ' "$1" || true; }
[[ $(routing "$tmp/out/scenario.yaml") == "$(routing "$traces/$name/scenario.yaml")" ]] ||
	{ echo "FAIL: the routes or neighbours differ from the committed scenario.yaml"; diff <(routing "$tmp/out/scenario.yaml") <(routing "$traces/$name/scenario.yaml"); exit 1; }

after=$(ip netns list | grep -c '^erec' || true)
((after <= before)) || { echo "FAIL: the recorder left network namespaces behind"; ip netns list; exit 1; }
echo "PASS: $name recorded again with the committed counts"
