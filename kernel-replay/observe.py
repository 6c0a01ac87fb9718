"""How kernel-replay sees a frame dropped: the kernel's own counters read around the frame, and the
kfree_skb tracepoint's drop reason when tracefs can be had.

Counters: /proc/<pid>/net/snmp (Ip, Icmp, Udp, Tcp) and /proc/<pid>/net/dev (per device rx/tx
drops and errors) of every namespace of the host, read through a process in it (its agent, the
host's included). A counter that moves while one frame is in flight is that frame's, since only one
is; the ones that move for every frame (packets in, delivered, sent) say nothing and are left out.

Tracepoint: tracefs mounted in a private mount namespace (`unshare -m`, so the host's mounts stay
as they are), an instance of our own under instances/, skb:kfree_skb filtered to IPv4 frames freed
in the injecting process's context (common_pid): the frame's whole receive path runs in the softirq
that its AF_PACKET send raises, on that task, unless the kernel defers it to ksoftirqd. The
tracepoint carries no network namespace, so the pid filter is what keeps other users' drops out;
a drop that ran in ksoftirqd is missed here, and the counters still see it.
"""
import os
import select
import subprocess
import time

# Counters that move for frames that are fine, and so attribute nothing.
ROUTINE = {
    "Ip.InReceives", "Ip.InDelivers", "Ip.OutRequests", "Ip.OutTransmits", "Ip.ForwDatagrams",
    "Icmp.InMsgs", "Icmp.OutMsgs", "IcmpMsg.OutType3", "IcmpMsg.InType3", "Icmp.OutDestUnreachs",
    "Icmp.InDestUnreachs", "Icmp.OutRateLimitGlobal", "Icmp.OutRateLimitHost",
    "Udp.InDatagrams", "Udp.OutDatagrams", "Tcp.InSegs", "Tcp.OutSegs", "Tcp.ActiveOpens",
    "Ip.ReasmReqds", "Ip.ReasmOKs", "Ip.FragOKs", "Ip.FragCreates", "Tcp.RetransSegs",
    "Tcp.PassiveOpens", "Tcp.CurrEstab", "Tcp.EstabResets", "Tcp.OutRsts", "UdpLite.InDatagrams",
    "Udp.MemErrors",
}
# The counters whose move names the drop in the simulator's own words (sim/stages/, model/).
REASON_OF_COUNTER = {
    "Udp.NoPorts": "no_socket",
    "Udp.RcvbufErrors": "socket_rcvbuf",
    "Udp.InCsumErrors": "bad_udp_checksum",
    "Ip.InHdrErrors": "bad_ip_header",
    "Ip.InAddrErrors": "not_local",
    "Ip.InUnknownProtos": "unknown_protocol",
    "Ip.InTruncatedPkts": "ip_truncated",
    "Ip.ReasmFails": "reassembly_failed",
    "Ip.ReasmTimeout": "reassembly_timeout",
}
# kfree_skb reasons (include/net/dropreason-core.h) in the simulator's words where one fits.
REASON_OF_DROP = {
    "NO_SOCKET": "no_socket",
    "OTHERHOST": "other_host",
    "VXLAN_VNI_NOT_FOUND": "unknown_vni",
    "VXLAN_INVALID_HDR": "vxlan_flags",
    "IP_CSUM": "bad_ip_checksum",
    "UDP_CSUM": "bad_udp_checksum",
    "SOCKET_RCVBUFF": "socket_rcvbuf",
    "BRIDGE_INGRESS_STP_STATE": "bridge_port_disabled",
    "IP_INADDRERRORS": "not_local",
}


def read_counters(pid):
    """{name: value} of one namespace: snmp as Group.Field, devices as dev.<name>.<field>."""
    out = {}
    try:
        with open(f"/proc/{pid}/net/snmp") as f:
            lines = f.read().splitlines()
        for head, values in zip(lines[0::2], lines[1::2]):
            group, names = head.split(":", 1)
            for n, v in zip(names.split(), values.split(":", 1)[1].split()):
                out[f"{group}.{n}"] = int(v)
        with open(f"/proc/{pid}/net/dev") as f:
            for line in f.read().splitlines()[2:]:
                dev, fields = line.split(":", 1)
                v = [int(x) for x in fields.split()]
                for i, n in ((1, "rx_packets"), (2, "rx_errs"), (3, "rx_drop"), (10, "tx_errs"), (11, "tx_drop")):
                    out[f"dev.{dev.strip()}.{n}"] = v[i]
    except (OSError, ValueError, IndexError):
        pass  # the namespace went away (netns_del): nothing to read
    return out


def routine(name):
    """Whether a counter ("ns:Group.Field") moves for frames that are fine."""
    counter = name.split(":", 1)[1]
    return counter in ROUTINE or counter.startswith("IcmpMsg.") or counter.endswith(".rx_packets")


def moved(before, after):
    """[(name, by how much)] of the counters that moved, routine ones left out."""
    return [(k, after[k] - before.get(k, 0)) for k in sorted(after)
            if after[k] != before.get(k, 0) and not routine(k)]


def queued_for_a_socket(before, after, namespaces):
    """Whether a datagram went into a socket's queue in one of these namespaces (Udp.InDatagrams
    moved): then the frame is delivered, and its agent's read is only a matter of time. (The host's
    counter also moves for every frame its VXLAN socket takes, so for those it is not asked.)"""
    return any(after.get(f"{ns}:Udp.InDatagrams", 0) != before.get(f"{ns}:Udp.InDatagrams", 0) for ns in namespaces)


def _moved_in(before, after, ns, counter):
    key = f"{ns}:{counter}"
    return after.get(key, 0) != before.get(key, 0)


def held_for_reassembly(before, after):
    """The namespace whose ip_defrag queued the frame and did not complete a datagram with it
    (Ip.ReasmReqds moved, Ip.ReasmOKs and Ip.ReasmFails did not), or None."""
    for key in sorted(after):
        ns, _, counter = key.partition(":")
        if counter == "Ip.ReasmReqds" and _moved_in(before, after, ns, counter) \
                and not _moved_in(before, after, ns, "Ip.ReasmOKs") and not _moved_in(before, after, ns, "Ip.ReasmFails"):
            return ns
    return None


def took_tcp_segment(before, after, namespaces):
    """Whether TCP took a segment in one of these namespaces (Tcp.InSegs moved)."""
    return any(_moved_in(before, after, ns, "Tcp.InSegs") for ns in namespaces)


def answered_without_reset(before, after, ns):
    """Whether TCP in namespace ns sent a segment that is not a RST (Tcp.OutSegs moved, Tcp.OutRsts
    did not): a listener's SYN-ACK, wherever it went next."""
    return _moved_in(before, after, ns, "Tcp.OutSegs") and not _moved_in(before, after, ns, "Tcp.OutRsts")


def reset_a_connection(before, after, ns):
    """Whether a connection of namespace ns was reset while the frame was in flight: tcp_reset →
    tcp_done → tcp_set_state(TCP_CLOSE) counts TCP_MIB_ESTABRESETS for an established (or
    CLOSE_WAIT) socket."""
    return _moved_in(before, after, ns, "Tcp.EstabResets")


class DropTracer:
    """skb:kfree_skb reasons of the frames this process frees; a no-op when tracefs cannot be had."""

    def __init__(self, name):
        self.name = name
        self.proc = None
        self.why_not = ""

    def start(self, pid):
        # One shell in a private mount namespace mounts tracefs, makes our instance, enables the
        # event with its filter, then reads the pipe and writes each line of its stdin into the
        # instance's trace_marker (sync); stdin closing (our exit) ends it and removes the instance. The instance is the only thing outside the namespace it leaves behind while
        # it runs.
        script = f"""
set -e
t=/sys/kernel/tracing
mount -t tracefs nodev $t 2>/dev/null || test -d $t/events/skb
i=$t/instances/{self.name}
mkdir $i
reader=
# The instance cannot be removed while its pipe is open: stop the reader and wait for it first,
# and try again for a moment if the kernel still holds it.
cleanup() {{
	set +e
	[ -n "$reader" ] && kill $reader 2>/dev/null && wait $reader 2>/dev/null
	echo 0 > $i/events/skb/kfree_skb/enable
	for n in 1 2 3 4 5 6 7 8 9 10; do rmdir $i 2>/dev/null && break; sleep 0.1; done
}}
trap cleanup EXIT
echo 'protocol == 2048 && common_pid == {pid}' > $i/events/skb/kfree_skb/filter
echo 1 > $i/events/skb/kfree_skb/enable
echo ready
cat $i/trace_pipe &
reader=$!
while read -r line; do echo "$line" > $i/trace_marker; done
"""
        try:
            self.proc = subprocess.Popen(["unshare", "-m", "sh", "-c", script], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        except OSError as e:
            self.why_not = str(e)
            return False
        first = self.proc.stdout.readline()
        if first.strip() != "ready":
            self.why_not = (self.proc.stderr.read() or "no tracefs").strip().splitlines()[-1:]
            self.why_not = self.why_not[0] if self.why_not else "no tracefs"
            self.stop()
            return False
        self.fd = self.proc.stdout.fileno()
        self.partial = b""
        os.set_blocking(self.fd, False)
        return True

    def reasons(self, until=None):
        """The drop reasons traced since the last call; with until, up to the trace_marker line
        that holds it (waiting for it up to a second), and nothing after it."""
        if self.proc is None:
            return []
        out = []
        deadline = time.monotonic() + 1.0
        while True:
            if until is None and not select.select([self.fd], [], [], 0)[0]:
                return out
            if until is not None and not select.select([self.fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                return out  # the marker did not come: what came is all there is
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                return out
            self.partial += chunk
            *lines, self.partial = self.partial.split(b"\n")
            for i, line in enumerate(lines):
                text = line.decode(errors="replace")
                if until is not None and until in text:
                    # Lines after the marker belong to what comes next: keep them for the next call.
                    self.partial = b"\n".join(lines[i + 1:] + [self.partial])
                    return out
                if "reason: " in text:
                    out.append(text.rsplit("reason: ", 1)[1].strip())

    def sync(self, tag):
        """Every drop reason traced before now: a marker is written into the trace (trace_marker)
        and the trace read up to it. The trace pipe hands events over late (its reader wakes up
        on its own schedule); the marker makes a frame's events its own, not the next frame's."""
        if self.proc is None:
            return []
        marker = f"econ-kernel-replay-sync-{tag}"
        self.proc.stdin.write(marker + "\n")
        self.proc.stdin.flush()
        return self.reasons(until=marker)

    def stop(self):
        if self.proc is None:
            return
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self.proc = None
