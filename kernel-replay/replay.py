"""The replay: the capture's frames and the scenario's events in one order, played into the host
built in namespaces, and for every frame the outcome the kernel gave it.

Order, not time: an event runs before every frame whose timestamp is not earlier than its own (the
simulator's rule, OverlayHost::apply_events_until), frames follow one another as soon as the one
before has settled. Where the scenario has host.netfilter, conntrack's entries expire by the
kernel's clock, so the frames are also paced: none is played sooner after the one before than the
capture shows it (keep_pace). A received frame is injected alone and watched until it settles: an agent read
its payload (delivered, to that socket), or a counter or kfree_skb said it was dropped, then a few
quiet milliseconds more, and until the frames the capture shows the host sending in answer (ICMP
errors) have come out, or FRAME_TIMEOUT. Nothing is left in flight when an event runs.

Fragments: a fragment that does not complete its datagram is `held` when its namespace's
Ip.ReasmReqds moved and Ip.ReasmOKs did not (ip_defrag queued it); the completing one is watched
for the whole datagram's payload (frames.datagrams). TCP: segments go through tcp_peer.TcpPeer
(the acknowledgement numbers and timestamp echoes the kernel's own segments call for); a segment
without payload is settled by what the kernel did with it (a SYN-ACK sent, a connection accepted,
Tcp.InSegs of its namespace moved with no drop).
"""
import dataclasses
import errno
import os
import queue
import struct
import time
from collections import Counter

import frames as framelib
import observe
import tcp_peer
import verdicts
import wire as wirelib

DEBUG = bool(os.environ.get("KERNEL_REPLAY_DEBUG"))  # per frame: what was seen, on stdout
# The waits below are for a kernel on this machine; a slower one (the patched kernel under qemu's
# TCG, --kernel vm) multiplies them by ECON_KERNEL_REPLAY_SLOWDOWN, or frames still in flight when
# their time is up would be read as lost.
SLOWDOWN = float(os.environ.get("ECON_KERNEL_REPLAY_SLOWDOWN", "1"))
FRAME_TIMEOUT = 1.0 * SLOWDOWN  # s: the longest a frame is watched when nothing is seen of it
GRACE = 0.003 * SLOWDOWN  # s: quiet time after a sure sign of a frame's outcome (a read, a named counter)
# s: after a sign that may be only part of the story: a flooded frame's copy dropped as not for
# that container (OTHERHOST) while another copy is still on its way to the socket that takes it.
WEAK_GRACE = 0.05 * SLOWDOWN
COUNTER_EVERY = 0.001  # s: how often counters are read while a frame is watched
# s: the longest a segment without payload waits for its connection's accept line (0.1 s was too
# short at a load of 15: random-cases cases 394, 405, 411, 428 had their handshake's ACK read as a
# segment of no connection)
ACCEPT_WAIT = 0.5 * SLOWDOWN
# The patched kernel's knob that empties its flow map (patch 0002, fpath_flush_sysctl); absent on
# a kernel without the fast path, which has nothing a `flush` event could empty.
FLUSH_KNOB = "/proc/sys/net/core/fpmap_flush"


def flush_fast_path(knob=FLUSH_KNOB):
    """A scenario's `flush`: empty the kernel's flow map where it has one. True when it did."""
    try:
        fd = os.open(knob, os.O_WRONLY)  # never O_CREAT: a missing knob is a kernel without one
    except FileNotFoundError:
        return False
    try:
        os.write(fd, b"1\n")
    finally:
        os.close(fd)
    return True



def dilated_time(first_ns, ts_ns, dilation):
    """A frame's time on the replay's clock when the capture's is dilated D times
    (ECON_KERNEL_REPLAY_DILATION): every gap since the first frame D times as long."""
    return ts_ns if dilation == 1 else first_ns + round((ts_ns - first_ns) * dilation)


def dilated_timeouts(nf, dilation, kernel_default):
    """host.netfilter (scenario_file's) with its UDP timeouts D times as long, a timeout the
    scenario leaves to the kernel taken from kernel_default(name) ("udp_timeout",
    "udp_timeout_stream") first."""
    return dataclasses.replace(
        nf, udp_timeout=round((nf.udp_timeout or kernel_default("udp_timeout")) * dilation),
        udp_timeout_stream=round((nf.udp_timeout_stream or kernel_default("udp_timeout_stream")) * dilation))

class Replay:
    def __init__(self, scenario, host, agents, wire, tracer, out, classified=()):
        self.s = scenario
        self.host = host
        self.agents = agents
        self.wire = wire
        self.tracer = tracer
        self.out = out  # verdict lines go here, in frame order
        # With a per-CPU fast path (--kernel vm), each frame is injected from the CPU the
        # simulator's NIC gives it (set_rss_pinning).
        self.rss_cpus = None
        self.vxlan_ports = {v["port"] for v in scenario.vxlan}
        self.nic_ip = scenario.nic_ip.split("/")[0]
        self.next_event = 0
        self.received = []  # (ns, sock, hex) read since the frame was injected
        self.emitted = []  # [key, frame, matched] of what the host put on the wire
        self.stray = []  # (pkt, ns, sock, hex): read, but not the payload of the frame in flight
        self.event_errors = []
        self.skipped_events = []
        self.sockets = {}  # name -> {ns, proto, port, peer, open}
        self.stats = Counter()
        self.reasons = Counter()
        self.checksums_fixed = 0
        self.tcp = tcp_peer.TcpPeer(classified)
        received = [f for f, d in classified if d == "rx"]
        self.datagram_of = framelib.datagrams(received)  # fragment -> whole payload, or None: held
        self.datagram_of.update({f.number: None for f in received if f.outer_held})
        self.accepted = {}  # (ns, client ip, client port) -> the accepted connection's name
        # Pacing (keep_pace): on with host.netfilter, whose conntrack entries time out;
        # ECON_KERNEL_REPLAY_PACE=1 or 0 turns it on or off whatever the scenario.
        forced = os.environ.get("ECON_KERNEL_REPLAY_PACE")
        self.paced = forced == "1" if forced in ("0", "1") else scenario.netfilter is not None
        self.pace_mark = None  # (capture ns, monotonic s) of the last frame paced
        self.paced_wait = 0.0  # s waited in all

    def set_rss_pinning(self):
        """Inject each received frame from the CPU the simulator's NIC gives it (RSS over the outer
        headers, frames.rss_cpu), for a kernel whose fast path keeps a table per CPU: a veth
        transmits into its peer's receive on the sending CPU (veth_xmit → netif_rx →
        enqueue_to_backlog on this CPU, no RPS here), so the NIC's receive, VXLAN and the fast path's
        lookup run where a real NIC's RSS would have put them. Scenario CPUs beyond this machine's
        wrap around. Without it the injector's CPU is whatever the scheduler chose, and a flow's
        frames meet different tables."""
        cpus = sorted(os.sched_getaffinity(0))
        self.rss_cpus = cpus if len(cpus) > 1 else None

    # ---- the queue of agents' lines and wire frames ----------------------------------------------
    def pump(self, wait):
        """Handles everything queued, waiting up to `wait` s for the first message."""
        try:
            who, what = self.agents.lines.get(timeout=wait) if wait else self.agents.lines.get_nowait()
        except queue.Empty:
            return
        while True:
            self.handle(who, what)
            try:
                who, what = self.agents.lines.get_nowait()
            except queue.Empty:
                return

    def handle(self, who, what):
        if who == wirelib.WIRE:
            f = framelib.parse(0, 0, what, self.vxlan_ports)
            key = self.tcp.emitted(f) if tcp_peer.is_tcp(f) else tx_key(f)
            self.emitted.append([key, f, False])
        elif what[1:2] == ["data"] and len(what) == 4:
            self.received.append((who, what[2], what[3]))
        elif what[1:2] == ["accept"] and len(what) == 4:
            # "accept LISTENER LISTENER/IP:PORT": the agent accepted a connection (its own name).
            name = what[3]
            peer_ip, peer_port = name.rsplit("/", 1)[1].rsplit(":", 1)
            self.accepted[(who, peer_ip, int(peer_port))] = name
            self.sockets[name] = {"ns": who, "proto": "tcp", "port": None, "peer": None, "open": True,
                                  "listening": False}
        elif what[1:2] == ["close"] and len(what) == 3 and what[2] in self.sockets:
            self.sockets[what[2]]["open"] = False  # an accepted stream ended (EOF): the agent closed it

    def keep_pace(self, ts_ns):
        """Waits, when pacing, until as much time has passed since the last frame was played as the
        capture shows between the two (the time its settling took counts), so a gap in which a
        conntrack entry expired in the recording is at least as long here. Gaps are never
        shortened and only lengthened by the replay's own work (milliseconds a frame, against
        timeouts of seconds)."""
        if not self.paced:
            return
        if self.pace_mark is not None:
            due = self.pace_mark[1] + (ts_ns - self.pace_mark[0]) / 1e9
            started = time.monotonic()
            while (left := due - time.monotonic()) > 0:
                self.pump(min(left, 0.05))  # the agents' lines and the wire's frames meanwhile
            self.paced_wait += time.monotonic() - started
        self.pace_mark = (ts_ns, time.monotonic())

    def capture_tx_key(self, f):
        """The match key of a transmitted frame of the capture (tx_key, or TcpPeer's for TCP)."""
        if tcp_peer.is_tcp(f):
            return self.tcp.capture_key.get(f.number)
        return tx_key(f)

    # ---- events -----------------------------------------------------------------------------------
    def apply_events_until(self, t_ns):
        events = self.s.events
        while self.next_event < len(events) and events[self.next_event]["t_ns"] <= t_ns:
            self.pump(0.001)
            self.apply(events[self.next_event])
            self.next_event += 1

    def apply_causing_event(self, f, until_ns):
        """Runs early the close event that caused transmitted TCP segment f (its FIN), when the
        kernel has not sent f yet and that close of f's connection is the next event, before
        until_ns (the next received frame of another connection; None: no such frame). The
        recorder stamps an event when its syscall has returned, so the FIN a close sends is
        captured before the close's own stamp, and so may be the peer's answer to the FIN: by the
        rule above (events before the frames not earlier than them) the replay would judge the
        FIN, and that answer, before the close that sends it."""
        if not tcp_peer.is_tcp(f) or self.next_event >= len(self.s.events):
            return
        l3 = f.delivered_l3()
        e = self.s.events[self.next_event]
        if not l3.tcp.flags & framelib.TCP_FIN or e["op"] != "close" or (until_ns is not None and e["t_ns"] >= until_ns) \
                or not e["sock"].endswith(f"/{l3.dst}:{l3.dst_port}"):
            return
        self.pump(0)
        key = self.capture_tx_key(f)
        if any(m[0] == key and not m[2] for m in self.emitted):
            return
        self.apply(e)
        self.next_event += 1
        self.stats["close events run before their stamp, for the FIN they sent"] += 1

    def apply(self, e):
        op, where = e["op"], f"{self.s.path}:{e['line']}"
        if op in ("socket", "bind", "connect", "listen", "close"):
            return self.socket_event(e, where)
        if op == "flush":
            if flush_fast_path():
                self.stats["flush events (net.core.fpmap_flush)"] += 1
            else:
                self.stats["flush events (no cache in the kernel: nothing to do)"] += 1
        elif op == "link":
            note = self.host.link(e["dev"], e["up"])
            if note:
                self.skipped_events.append(f"{where}: {note}")
        elif op == "fdb":
            self.host.fdb_replace(e["bridge"], e["mac"].lower(), e["port"], e.get("dst"))
        elif op == "fdb_del":
            self.host.fdb_del(e["bridge"], e["mac"].lower())
        elif op == "vni":
            note = self.host.change_vni(e["dev"], int(e["vni"]))
            if note:
                self.skipped_events.append(f"{where}: {note}")
        elif op in ("sysctl", "route", "route_del", "neigh"):
            # Routing events (docs/scenario-extensions.md): the kernel may refuse one (a nexthop
            # on a device that is down), which is listed as a refused socket event is.
            if op == "sysctl":
                rp = e.get("rp_filter")
                refused = self.host.set_sysctl(e.get("ip_forward"), int(rp) if rp is not None else None)
            elif op == "route":
                refused = self.host.route_replace(e)
            elif op == "route_del":
                refused = self.host.route_del(e["dst"])
            else:
                refused = self.host.neigh_replace(e["ip"], e["mac"].lower(), e["dev"])
            if refused:
                self.event_errors.append(f"{where}: {refused}")
        elif op == "netns_del":
            self.agents.stop(e["ns"])
            for sock in self.sockets.values():
                if sock["ns"] == e["ns"]:
                    sock["open"] = False
            self.host.delete_container(e["ns"])

    def socket_event(self, e, where):
        op, name = e["op"], e["sock"]
        if op == "socket":
            self.sockets[name] = {"ns": e["ns"], "proto": e["proto"], "port": None, "peer": None, "open": True,
                                  "listening": False}
            text = f"socket {name} {e['proto']}"
        else:
            self.pump(0)  # the agents' accept and close lines so far
            if name not in self.sockets:
                # An accepted TCP connection (t1/<peer>) the kernel never gave the agent.
                self.skipped_events.append(f"{where}: {op} {name}: no such connection was accepted")
                return
            sock = self.sockets[name]
            if not sock["open"] and op == "close" and "/" in name:
                # The recorded server closes a stream when it reads its end (EOF), and so did the
                # agent, already: the event is that same close.
                self.stats["close events of connections the agent closed at EOF"] += 1
                return
            if op == "bind":
                sock["port"] = int(e["addr"].rsplit(":", 1)[1])
                text = f"bind {name} {e['addr']}" + (" reuseaddr" if e.get("reuseaddr") else "") + \
                    (" reuseport" if e.get("reuseport") else "")
            elif op == "connect":
                sock["peer"] = None if e["peer"] == "0.0.0.0:0" else e["peer"]
                text = f"connect {name} {e['peer']}"
            elif op == "listen":
                sock["listening"] = True
                text = f"listen {name} {e['backlog']}"
            else:
                sock["open"] = False
                text = f"close {name}"
        ns = self.sockets[name]["ns"]
        for words in self.agents.command(ns, text, self.handle):
            if words[:1] == ["error"]:
                self.event_errors.append(f"{where}: {text}: {' '.join(words[1:])}")
            else:
                self.handle(ns, ["-"] + words)  # accept and close lines of this op

    # ---- frames -----------------------------------------------------------------------------------
    def counters(self):
        out = {}
        for ns in list(self.agents.procs):
            values = observe.read_counters(self.agents.pid(ns))
            if ns == "wire":  # whether an injected frame could leave at all, and what came back
                values = {k: v for k, v in values.items() if k.startswith(("dev.wire0.tx_", "dev.wire0.rx_packets"))}
            out.update({f"{ns}:{k}": v for k, v in values.items()})
        return out

    def rx(self, f, answers):
        """Injects a received frame; answers are the keys of the frames the capture shows the host
        sending next, before the next received frame or event."""
        data, fixed = framelib.with_l4_checksums_fixed(f)
        self.checksums_fixed += fixed
        tcp = tcp_peer.is_tcp(f)
        if tcp:
            try:
                rewritten = framelib.parse(f.number, f.ts_ns, self.tcp.rewrite(f), self.vxlan_ports)
            except tcp_peer.Unmapped as e:
                return {"verdict": "ignore", "reason": str(e), "observed": "not_reproduced"}
            data, _ = framelib.with_l4_checksums_fixed(rewritten)  # the rewrite's own, not counted
        # What a forwarded copy would carry: the bytes injected (checksums corrected, a TCP
        # segment's ACK mapped), or for a piece of an outer datagram the whole one, which the host
        # reassembles before it decapsulates and routes the inner packet.
        sent = forward_signature(f if f.wire is not None else framelib.parse(f.number, f.ts_ns, data, self.vxlan_ports))
        l3 = f.delivered_l3()
        if f.number in self.datagram_of:  # a fragment: the whole datagram's payload, or held
            whole = self.datagram_of[f.number]
            payload = whole.hex() if whole is not None else None
        else:
            payload = l3.payload.hex() if l3 is not None and l3.payload else None
        self.pump(0)
        self.received = []
        accepted_before, emitted_before = len(self.accepted), len(self.emitted)
        self.tracer.sync(f"{f.number}-before")  # what was traced before this frame is not its own
        before = self.counters()
        start = time.monotonic()
        if self.rss_cpus:
            self.stats["injected on its RSS CPU"] += 1
            os.sched_setaffinity(0, {self.rss_cpus[framelib.rss_cpu(data, self.s.rss, self.s.cpus) % len(self.rss_cpus)]})
        try:
            self.wire.inject(data)
        except OSError as e:
            return self.nic_down_or({"verdict": "drop", "reason": "inject_error",
                                     "observed": f"inject:{errno.errorcode.get(e.errno, e.errno)}"})
        first_sign, grace = None, GRACE
        after, counted_at = before, start
        # Where a socket may take it: the containers for a VXLAN frame, the host for any other.
        takers = [n for n in self.agents.procs if n not in ("wire", "host")] if f.vni is not None else ["host"]
        traced = []
        while True:
            self.pump(0.0005)
            now = time.monotonic()
            if now - counted_at >= COUNTER_EVERY:
                after, counted_at = self.counters(), now
            traced += self.tracer.reasons()
            delivered = [(ns, sock) for ns, sock, hexdata in self.received if hexdata == payload]
            moved = observe.moved(before, after)
            drops = own_drops(traced, wire_rx(before, after))
            forwarded = not delivered and self.forwarded_out(sent, emitted_before)
            in_queue = not delivered and observe.queued_for_a_socket(before, after, takers)
            # Taken without a read to wait for: a fragment queued for reassembly, a TCP segment
            # without payload that TCP took in (its answer, if any, is waited for below).
            taken = (f.number in self.datagram_of and payload is None and observe.held_for_reassembly(before, after)) \
                or (tcp and payload is None and observe.took_tcp_segment(before, after, takers))
            sure = delivered or taken or forwarded or any(k.split(":", 1)[1] in observe.REASON_OF_COUNTER for k, _ in moved)
            if sure and (first_sign is None or grace > GRACE):
                first_sign, grace = now, GRACE
            elif first_sign is None and (moved or drops) and not in_queue:
                first_sign, grace = now, WEAK_GRACE
            waiting_for = [k for k in answers if not any(m[0] == k and not m[2] for m in self.emitted)]
            if first_sign is not None and now - first_sign >= grace and not waiting_for:
                break
            if now - start >= FRAME_TIMEOUT:
                break
        for ns, sock, hexdata in self.received:
            if hexdata != payload:
                self.stray.append((f.number, ns, sock, hexdata[:40]))
        after = self.counters()
        moved = observe.moved(before, after)
        traced += self.tracer.sync(f.number)
        drops = own_drops(traced, wire_rx(before, after))
        if DEBUG:
            print(f"debug pkt {f.number}: traced {traced} to the wire {wire_rx(before, after)} moved {moved} "
                  f"delivered {delivered} emitted {[(m[1].vni, m[1].flow(), m[1].dst_mac) for m in self.emitted[-3:]]}")
        result = outcome(delivered, moved, drops)
        if not delivered and self.forwarded_out(sent, emitted_before):
            # The host routed it back out (a route through the VXLAN device or the NIC): the
            # simulator's `ignore: forwarded_out`. The drops seen beside it are the wire end's.
            result = {"verdict": "ignore", "reason": "forwarded_out", "observed": "wire:forwarded"}
        if f.number in self.datagram_of and payload is None:
            result = fragment_outcome(result, held(before, after))
        elif tcp and (tcp_may_be_taken(result) or self.answer_was_dropped(result, f, before, after, takers)):
            result = self.tcp_taken(f, before, after, takers, accepted_before, emitted_before) or result
        return self.nic_down_or(result)

    def forwarded_out(self, signature, emitted_before):
        """Whether the host put the frame in flight back on the wire, forwarded: a frame it sent
        since the injection carries the same IPv4 packet (forward_signature: a forwarded packet
        keeps all but its TTL and checksum; a fragment is forwarded as it is, not reassembled)."""
        if signature is None:
            return False
        return any(forward_signature(m[1]) == signature for m in self.emitted[emitted_before:])

    def tcp_taken(self, f, before, after, takers, accepted_before, emitted_before):
        """What the kernel did with a TCP segment no socket read and nothing dropped: a SYN that drew
        the kernel's SYN-ACK went to the listener; an ACK after which the agent accepted the
        connection made the child; data the kernel answered with a RST was dropped (a time-wait or
        closed socket's answer: without the kfree_skb tracer, as in --kernel vm, nothing else says
        so); any other segment TCP took in (Tcp.InSegs of its namespace moved) went to the
        connection's socket. None when none of these was seen."""
        l3 = f.delivered_l3()
        if l3.payload and any(tcp_peer.is_tcp(m[1]) and m[1].delivered_l3().tcp.flags & framelib.TCP_RST
                              and m[1].delivered_l3().dst_port == l3.src_port for m in self.emitted[emitted_before:]):
            return {"verdict": "drop", "reason": "tcp_reset", "observed": "wire:rst"}
        ns = self.ns_of_address(l3.dst, takers, f.vni)
        if l3.tcp.flags & framelib.TCP_SYN and not l3.tcp.flags & framelib.TCP_ACK:
            listener = next((n for n, s in self.sockets.items() if s["open"] and s["listening"]
                             and s["ns"] == ns and s["port"] == l3.dst_port), None)
            if any(not m[2] and tcp_peer.is_tcp(m[1]) and tcp_peer.is_syn_ack(m[1].delivered_l3())
                   and m[1].delivered_l3().dst_port == l3.src_port for m in self.emitted):
                return {"verdict": "deliver", "sock": listener, "observed": "wire:syn-ack"}
            if listener is not None and observe.took_tcp_segment(before, after, [ns]) \
                    and observe.answered_without_reset(before, after, ns):
                # Its SYN-ACK left the listener but never reached the wire (no way back).
                return {"verdict": "deliver", "sock": listener, "observed": f"counter:{ns}:Tcp.OutSegs"}
            return None
        if l3.tcp.flags & framelib.TCP_RST and ns is not None and observe.reset_a_connection(before, after, ns):
            # A RST in window: tcp_validate_incoming → tcp_reset, and the segment is freed at
            # discard (kfree_skb, reason NOT_SPECIFIED in 6.1), which the tracer misses when the
            # socket was owned by its reader and the backlog ran in the agent's context: the
            # model's `drop: socket_reset`.
            return {"verdict": "drop", "reason": "socket_reset", "observed": f"counter:{ns}:Tcp.EstabResets"}
        # The agent accepts a connection when its listener polls readable: its line may come a
        # little after the handshake's ACK settled.
        deadline = time.monotonic() + ACCEPT_WAIT
        while (ns, l3.src, l3.src_port) not in self.accepted and time.monotonic() < deadline:
            self.pump(0.001)
        child = self.accepted.get((ns, l3.src, l3.src_port))
        if len(self.accepted) > accepted_before and child is not None:
            return {"verdict": "deliver", "sock": child, "observed": "socket:accept"}
        if ns is not None and observe.took_tcp_segment(before, after, [ns]):
            return {"verdict": "deliver", "sock": child, "observed": f"counter:{ns}:Tcp.InSegs"}
        return None

    def answer_was_dropped(self, result, f, before, after, takers):
        """Whether the drop traced while a TCP segment was in flight is its answer's: TCP in the
        segment's namespace took it in (Tcp.InSegs), so a drop on the way in (no route, rp_filter,
        a neighbour) was of what the socket sent back, in the same softirq (random-cases case-478:
        a SYN-ACK the host could not route back, IP_INNOROUTES, taken for the SYN's end)."""
        ns = self.ns_of_address(f.delivered_l3().dst, takers, f.vni)
        return result["observed"].split(":", 1)[-1] in ANSWER_DROPS and ns is not None \
            and observe.took_tcp_segment(before, after, [ns])

    def ns_of_address(self, ip, takers, vni=None):
        """The scenario namespace that holds address ip, among takers. Tenants may share addresses
        (c1 and c3 of random-cases): a bridged frame's VNI names the bridge, through the VXLAN
        device that has that VNI now, and so the tenant; a routed device's pods are found by
        address alone."""
        bridges = {v["bridge"] for v in self.s.vxlan if self.host.vni_of.get(v["name"]) == vni}
        for c in self.s.containers:
            if c.ip.split("/")[0] != ip or c.name not in takers:
                continue
            if vni is None or None in bridges or c.bridge in bridges:  # no VNI, or a routed device: by address
                return c.name
        return "host" if "host" in takers else None

    def nic_down_or(self, result):
        """While the scenario's NIC is down, a frame never reaches the host: a real NIC drops it in
        hardware. What the injector's end then shows (its qdisc deactivated, QDISC_DROP; ENOBUFS
        from send; its tx drops) is the veth pair's way of saying so: the reason is device_down."""
        if not self.host.nic_up and result["verdict"] == "drop":
            result["reason"] = "device_down"
        return result

    def tx(self, f):
        """A frame the host sent: a UDP datagram is sent again by its socket; anything else (an
        ICMP error) must have come out of the kernel already, in answer to a frame before it."""
        key = self.capture_tx_key(f)
        if key is None:
            return {"verdict": "ignore", "reason": "tx_not_replayed", "observed": "not_reproduced"}
        # A TCP segment is the kernel's own answer to what was injected: nothing to send.
        sender = None if tcp_peer.is_tcp(f) else self.sending_socket(f)
        if sender is not None:
            dest = f"{f.inner.dst}:{f.inner.dst_port}" if f.vni is not None else f"{f.outer.dst}:{f.outer.dst_port}"
            l3 = f.delivered_l3()
            self.received = []
            for words in self.agents.command(self.sockets[sender]["ns"], f"sendhex {sender} {dest} {l3.payload.hex()}",
                                             self.handle):
                if words[:1] == ["senderr"]:
                    self.event_errors.append(f"pkt {f.number}: {sender} could not send: {' '.join(words[1:])}")
        deadline = time.monotonic() + FRAME_TIMEOUT
        while True:
            self.pump(0.0005)
            match = next((m for m in self.emitted if m[0] == key and not m[2]), None)
            if match is not None or time.monotonic() >= deadline:
                break
        if match is None:
            return {"verdict": "transmit", "reason": "tx_not_emitted", "observed": "none"}
        match[2] = True
        sent = match[1]
        mismatch = None
        if sent.outer is not None and f.outer is not None and sent.outer.dst != f.outer.dst:
            mismatch = "tx_mismatch_outer_dst_ip"
        elif sent.dst_mac != f.dst_mac:
            mismatch = "tx_mismatch_outer_dst_mac"
        return {"verdict": "transmit", "reason": mismatch, "observed": "wire", "sock": None, "from": sender}

    def sending_socket(self, f):
        """The UDP socket that sent f (as sim/stages/vxlan_xmit.cpp names it): in the container with
        the inner source MAC on the bridge of the VXLAN device with f's VNI (tenants may share
        MACs; behind a routed device, the container with the inner source address), bound to the
        source port, one connected to the destination first."""
        l3 = f.delivered_l3()
        if l3 is None or l3.protocol != framelib.PROTO_UDP:
            return None
        if f.vni is not None:
            bridges = {v["bridge"] for v in self.s.vxlan
                       if self.host.vni_of.get(v["name"]) == f.vni and v["port"] == f.outer.dst_port}
            if bridges == {None}:  # a routed device: the frame's inner source MAC is the device's own
                c = next((c for c in self.s.containers if c.ip.split("/")[0] == l3.src), None)
            else:
                c = next((c for c in self.s.containers if c.mac == f.inner_src_mac and c.bridge in bridges), None)
            if c is None:
                return None
            ns = c.name
        else:
            ns = "host"
        peer = f"{l3.dst}:{l3.dst_port}"
        candidates = [n for n, s in self.sockets.items()
                      if s["open"] and s["ns"] == ns and s["proto"] == "udp" and s["port"] == l3.src_port]
        connected = [n for n in candidates if self.sockets[n]["peer"] == peer]
        unconnected = [n for n in candidates if self.sockets[n]["peer"] is None]
        return (connected or unconnected or [None])[0]


def wire_rx(before, after):
    """How many frames the host sent to the injector's end while the frame was in flight."""
    key = "wire:dev.wire0.rx_packets"
    return after.get(key, 0) - before.get(key, 0)


def own_drops(traced, wire_otherhost):
    """The traced drop reasons less the OTHERHOST drops of the wire end: one per frame the host sent
    it (wire0's rx_packets; each is an IPv4 frame for a remote's MAC, not wire0's)."""
    left = list(traced)
    for _ in range(wire_otherhost):
        if "OTHERHOST" in left:
            left.remove("OTHERHOST")
    return left


def next_unrelated_rx(classified, i):
    """The time of the first received frame after frame i that is not of frame i's connection
    (the same addresses and ports, reversed), or None."""
    mine = classified[i][0].delivered_l3()
    for f, d in classified[i + 1:]:
        l3 = f.delivered_l3()
        if d == "rx" and (l3 is None or mine is None or (l3.src, l3.src_port, l3.dst, l3.dst_port) !=
                          (mine.dst, mine.dst_port, mine.src, mine.src_port)):
            return f.ts_ns
    return None


def forward_signature(f):
    """What a router leaves as it was of a frame's IPv4 packet (the inner one of VXLAN): addresses,
    protocol, IP id, fragment offset and the bytes after the header; None without one."""
    l3 = f.delivered_l3() if f is not None else None
    if l3 is None:
        return None
    return (l3.src, l3.dst, l3.protocol, l3.ident, l3.fragment_offset,
            bytes(f.data[l3.l4_offset:l3.offset + l3.total_length]))


# kfree_skb reasons of the way in (routing, rp_filter, neighbours) that a segment which reached
# TCP cannot have met: the drop was of its answer (answer_was_dropped).
ANSWER_DROPS = ("IP_INNOROUTES", "IP_RPFILTER", "IP_OUTNOROUTES", "NEIGH_FAILED", "NEIGH_QUEUEFULL", "NEIGH_DEAD")


def tcp_may_be_taken(result):
    """Whether what was seen of a TCP segment leaves room for what TCP did with it (tcp_taken):
    nothing freed it and no reason counter moved, or all that was seen is OTHERHOST, the drop of
    a flooded copy in a container it was not for (random-cases case-070: the bridge flooded a
    SYN, one tenant dropped its copy, the other's listener answered it)."""
    return result["observed"] == "none" or result.get("reason") == "other_host"


def fragment_outcome(result, held_result):
    """The verdict of a fragment that completes no datagram: `held` when ip_defrag queued it and
    nothing else was seen, or when what was seen is OTHERHOST: a flooded fragment's copies in the
    other containers are dropped as not theirs, which, as beside a read, is not this frame's end."""
    if held_result and (result["observed"] == "none" or result.get("reason") == "other_host"):
        return held_result
    return result


def held(before, after):
    """The `held` verdict of a fragment ip_defrag queued (Ip.ReasmReqds moved, Ip.ReasmOKs not), or None."""
    ns = observe.held_for_reassembly(before, after)
    return {"verdict": "held", "observed": f"counter:{ns}:Ip.ReasmReqds"} if ns else None


def outcome(delivered, moved, drops):
    """A frame's verdict from what was seen, the strongest sign first: a socket read it; a counter
    that names a reason moved; the tracepoint gave a reason; some other counter moved; nothing."""
    if delivered:
        ns, sock = delivered[0]
        more = [s for _, s in delivered[1:]]
        return {"verdict": "deliver", "sock": sock, "observed": "socket", "also": more or None}
    named = [(k, n) for k, n in moved if k.split(":", 1)[1] in observe.REASON_OF_COUNTER]
    if named:
        ns, counter = named[0][0].split(":", 1)
        return {"verdict": "drop", "reason": observe.REASON_OF_COUNTER[counter], "observed": f"counter:{ns}:{counter}"}
    if drops:
        r = drops[0]
        return {"verdict": "drop", "reason": observe.REASON_OF_DROP.get(r, r.lower()), "observed": f"kfree_skb:{r}"}
    if moved:
        ns, counter = moved[0][0].split(":", 1)
        return {"verdict": "drop", "reason": "counter_" + counter.replace(".", "_").lower(),
                "observed": f"counter:{ns}:{counter}"}
    return {"verdict": "drop", "reason": "unobserved", "observed": "none"}


def tx_key(f):
    """What identifies a transmitted packet whatever the kernel randomises (IP id, checksums, the
    outer source port): VNI, inner addresses and ports, the payload; for an ICMP error, the
    packet it quotes."""
    l3 = f.delivered_l3()
    if l3 is None:
        return None
    if l3.protocol == framelib.PROTO_UDP:
        return (f.vni, "udp", l3.src, l3.src_port, l3.dst, l3.dst_port, l3.payload)
    if l3.protocol == framelib.PROTO_ICMP:
        icmp = f.data[l3.l4_offset:l3.offset + l3.total_length]
        if len(icmp) < 8 + 20:
            return (f.vni, "icmp", l3.src, l3.dst, bytes(icmp[:2]), bytes(icmp[8:]))
        quoted = icmp[8:]
        ihl = (quoted[0] & 15) * 4
        ports = struct.unpack("!HH", quoted[ihl:ihl + 4]) if len(quoted) >= ihl + 4 else None
        return (f.vni, "icmp", l3.src, l3.dst, bytes(icmp[:2]), bytes(quoted[12:20]), quoted[9], ports,
                bytes(quoted[ihl + 8:]))
    return None
