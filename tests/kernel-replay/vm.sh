#!/bin/bash
# kernel-replay in the patched kernel (kernel-port/kernel-e2e's, booted in qemu with the fast path
# on) against `econ-sim replay --mode fixed` on a recording of traces/ (issue 14): the kernel's
# verdicts meet the recording's expectations, end where the simulator's fixed mode ends on every
# frame (compare-with-model --kernel vm), and at least MIN_FAST frames took the kernel's fast path.
# The path table (the kernel's fast path against the simulator's) is printed, not asserted, and
# after it the frames whose path differs (the kernel's fast, slow or none against the model's).
#   vm.sh ECON_SIM TRACES_DIR NAME [MIN_FAST]
# One qemu boot; uses the cached kernel (builds it if there is none). Exits 77 without qemu.
# A recording with host.netfilter (docker-netfilter) takes minutes: it is paced to its capture's
# clock dilated x10 (docs/kernel-replay.md, "In the patched kernel"). VM_KEEP=DIR keeps the two
# verdict files there.
set -euo pipefail
econ_sim=${1:?usage: vm.sh ECON_SIM TRACES_DIR NAME [MIN_FAST]} traces=$2 name=$3 min_fast=${4:-0}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$(dirname "$here")")
fail() { echo "FAIL: $*"; exit 1; }
command -v qemu-system-x86_64 >/dev/null || { echo "SKIP: no qemu-system-x86_64"; exit 77; }

tmp=$(mktemp -d /tmp/econ-kernel-replay-vm-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
dir=$traces/$name
rc=0
"$econ_sim" kernel-replay --kernel vm --time-limit 1500 --scenario "$dir/scenario.yaml" --expect "$dir/expect.jsonl" \
	--verdicts "$tmp/$name.vm.jsonl" "$dir/trace.pcap" >"$tmp/out" 2>&1 || rc=$?
cat "$tmp/out"
((rc != 77)) || { echo "SKIP: kernel-replay --kernel vm skipped"; exit 77; }
((rc == 0)) || fail "kernel-replay --kernel vm exited $rc (an expectation unmet, or the run failed)"
frames=$(grep -o ', [0-9]* frames in' "$tmp/out" | grep -o '[0-9]*')
[[ $(wc -l <"$tmp/$name.vm.jsonl") == "$frames" ]] || fail "$frames frames but $(wc -l <"$tmp/$name.vm.jsonl") verdict lines"
grep -q '"kernel_fastpath":' "$tmp/$name.vm.jsonl" || fail "no line says what the kernel's fast path did"

"$econ_sim" replay --no-progress --scenario "$dir/scenario.yaml" --mode fixed --verdicts "$tmp/$name.fixed.jsonl" \
	"$dir/trace.pcap" >/dev/null
"$repo/kernel-replay/compare-with-model" --kernel vm --econ-sim "$econ_sim" --keep "$tmp" --reuse "$dir" ||
	fail "the patched kernel and --mode fixed end frames in different places"
python3 - "$tmp/$name.vm.jsonl" "$tmp/$name.fixed.jsonl" <<'PY'
import json, sys
from collections import defaultdict
read = lambda p: {d["pkt"]: d for d in map(json.loads, open(p))}
kernel, model = read(sys.argv[1]), read(sys.argv[2])
rows = defaultdict(list)
for pkt in sorted(kernel):
    k, m = kernel[pkt], model.get(pkt, {})
    if (k.get("path") or "-") != (m.get("path") or "-"):
        rows[(f"{k.get('path') or '-'} {k.get('kernel_fastpath') or ''}".strip(), m.get("path") or "-",
              f"{k['verdict']} {k.get('sock') or k.get('reason') or ''}".strip())].append(pkt)
for (kp, mp, end), pkts in sorted(rows.items(), key=lambda x: x[1][0]):
    print(f"path differs: kernel {kp}, model {mp} ({end}): pkt {' '.join(map(str, pkts))}")
PY
[[ -z ${VM_KEEP:-} ]] || { mkdir -p "$VM_KEEP" && cp "$tmp/$name.vm.jsonl" "$tmp/$name.fixed.jsonl" "$VM_KEEP/"; }
fast=$(grep -c '"path":"fast"' "$tmp/$name.vm.jsonl" || true)
((fast >= min_fast)) || fail "$fast frames took the kernel's fast path, fewer than $min_fast"
echo "PASS: $name in the patched kernel: expectations met, every frame ends as in --mode fixed, $fast of $frames frames on the kernel's fast path"
