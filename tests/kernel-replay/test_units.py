#!/usr/bin/python3
"""kernel-replay's parts that need no kernel: frame parsing and checksum repair, what identifies a
transmitted packet, how a frame's outcome is read from what was seen, the scenario's times,
host.netfilter's translation into iptables rules and the pacing it calls for, and the comparison
with expectations. Run by ctest as kernel-replay.units (no root needed)."""
import os
import struct
import sys
import tempfile
import unittest
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "../../kernel-replay"))

import fastpath_stat  # noqa: E402
import frames  # noqa: E402
import observe  # noqa: E402
import replay  # noqa: E402
import scenario_file  # noqa: E402
import tcp_peer  # noqa: E402
import topology  # noqa: E402
import verdicts  # noqa: E402


def ip_checksum(header):
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return 0xFFFF - total


def ipv4(src, dst, proto, payload, ttl=64, ident=1, frag=0):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, ttl, proto, 0,
                    bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
    return h[:10] + struct.pack("!H", ip_checksum(h)) + h[12:] + payload


def udp(sport, dport, payload, checksum=0x1234):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), checksum) + payload


def eth(dst, src, payload):
    return bytes.fromhex(dst.replace(":", "")) + bytes.fromhex(src.replace(":", "")) + b"\x08\x00" + payload


def vxlan_frame(payload=b"TAG000001\n", vni=42, inner_sum=0x1234, outer_sum=0x4321, inner_ip=None, out=False):
    if inner_ip is None:
        inner_ip = ipv4("10.233.2.2", "10.233.1.2", 17, udp(4000, 5000, payload, inner_sum))
    inner = eth("02:2a:0a:e9:01:02", "02:2a:0a:e9:02:02", inner_ip)
    vx = struct.pack("!BBHI", 0x08, 0, 0, vni << 8) + inner
    if out:  # sent by the host (192.168.0.2)
        return eth("02:00:00:00:00:01", "02:00:00:00:00:02",
                   ipv4("192.168.0.2", "192.168.0.1", 17, udp(40801, 4789, vx, outer_sum)))
    return eth("02:00:00:00:00:02", "02:00:00:00:00:01",
               ipv4("192.168.0.1", "192.168.0.2", 17, udp(40801, 4789, vx, outer_sum)))


def tcp_segment(sport, dport, seq, ack, flags, payload=b"", ts=None):
    """A TCP segment; ts = (TSval, TSecr) adds the timestamp option (NOP NOP TS)."""
    options = struct.pack("!BBBBII", 1, 1, 8, 10, *ts) if ts else b""
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (20 + len(options)) // 4 << 4, flags, 64240, 0, 0) + \
        options + payload


def tcp_frame(seq, ack, flags, payload=b"", ts=None, out=False):
    """Client 10.233.2.2:41001 to server 10.233.1.2:7000 (out: the server's answer), in VXLAN 42."""
    if out:
        ip = ipv4("10.233.1.2", "10.233.2.2", 6, tcp_segment(7000, 41001, seq, ack, flags, payload, ts))
    else:
        ip = ipv4("10.233.2.2", "10.233.1.2", 6, tcp_segment(41001, 7000, seq, ack, flags, payload, ts))
    return vxlan_frame(inner_ip=ip, out=out)


class Frames(unittest.TestCase):
    def test_vxlan_frame_gives_vni_inner_flow_and_payload(self):
        f = frames.parse(1, 0, vxlan_frame(), {4789})
        self.assertEqual(f.vni, 42)
        self.assertEqual(f.flow(), "udp 10.233.2.2:4000 > 10.233.1.2:5000")
        self.assertEqual(f.delivered_l3().payload, b"TAG000001\n")
        self.assertEqual(frames.direction(f, "192.168.0.2", "02:00:00:00:00:02"), "rx")
        self.assertEqual(frames.direction(f, "192.168.0.1", "02:00:00:00:00:01"), "tx")
        self.assertEqual(frames.direction(f, "192.168.0.9", "02:00:00:00:00:09"), "other")

    def test_udp_to_another_port_is_not_vxlan(self):
        f = frames.parse(1, 0, vxlan_frame(), {4790})
        self.assertIsNone(f.vni)
        self.assertEqual(f.flow(), "udp 192.168.0.1:40801 > 192.168.0.2:4789")

    def test_wrong_checksums_are_corrected_inner_and_outer(self):
        f = frames.parse(1, 0, vxlan_frame(), {4789})
        data, fixed = frames.with_l4_checksums_fixed(f)
        self.assertEqual(fixed, 2)
        again = frames.parse(1, 0, data, {4789})
        self.assertEqual(frames.with_l4_checksums_fixed(again), (data, 0))
        # Nothing but the two checksum fields changed.
        changed = [i for i, (a, b) in enumerate(zip(f.data, data)) if a != b]
        inner_sum_at, outer_sum_at = f.inner.l4_offset + 6, f.outer.l4_offset + 6
        self.assertTrue(set(changed) <= {inner_sum_at, inner_sum_at + 1, outer_sum_at, outer_sum_at + 1})

    def test_udp_checksum_zero_means_none_and_stays(self):
        f = frames.parse(1, 0, vxlan_frame(inner_sum=0, outer_sum=0), {4789})
        self.assertEqual(frames.with_l4_checksums_fixed(f), (f.data, 0))


class Rss(unittest.TestCase):
    # Microsoft's RSS verification vectors (its specification; tests/sim/rss_hash_test.cpp): the
    # input is source address, destination address, then source and destination ports.
    VECTORS = [("66.9.149.187", 2794, "161.142.100.80", 1766, 0x323e8fc2, 0x51ccc178),
               ("199.92.111.2", 14230, "65.69.140.83", 4739, 0xd718262a, 0xc626b0ea),
               ("24.19.198.95", 12898, "12.22.207.184", 38024, 0xd2d0a5de, 0x5c2b394a)]

    def test_toeplitz_meets_the_specifications_vectors(self):
        for src, sport, dst, dport, l3, l4 in self.VECTORS:
            addresses = bytes(map(int, src.split("."))) + bytes(map(int, dst.split(".")))
            self.assertEqual(frames.toeplitz(addresses), l3)
            self.assertEqual(frames.toeplitz(addresses + struct.pack("!HH", sport, dport)), l4)

    def test_the_cpu_is_the_hash_through_128_slots(self):
        src, sport, dst, dport, l3, l4 = self.VECTORS[0]  # through 4 CPUs: l4 gives 0, l3 gives 2
        frame = eth("02:00:00:00:00:02", "02:00:00:00:00:01", ipv4(src, dst, 17, udp(sport, dport, b"x")))
        self.assertEqual(frames.rss_cpu(frame, "l4", 4), 0)
        self.assertEqual(frames.rss_cpu(frame, "l3", 4), 2)
        self.assertEqual(frames.rss_cpu(frame, "none", 4), 0)
        # A fragment's ports are not hashed (the NIC's L4 types are unfragmented TCP and UDP).
        piece = eth("02:00:00:00:00:02", "02:00:00:00:00:01", ipv4(src, dst, 17, udp(sport, dport, b"x"), frag=0x2000))
        self.assertEqual(frames.rss_cpu(piece, "l4", 4), 2)


class TxKey(unittest.TestCase):
    def test_icmp_error_is_known_by_the_packet_it_quotes(self):
        def icmp_frame(ttl, quoted_payload):
            q = ipv4("10.233.2.2", "10.233.1.2", 17, udp(4000, 5000, quoted_payload, 0x9999))
            icmp = struct.pack("!BBHI", 3, 3, 0, 0) + q
            inner = eth("02:2a:0a:e9:02:02", "02:2a:0a:e9:01:02", ipv4("10.233.1.2", "10.233.2.2", 1, icmp, ttl))
            vx = struct.pack("!BBHI", 0x08, 0, 0, 42 << 8) + inner
            return eth("02:00:00:00:00:01", "02:00:00:00:00:02",
                       ipv4("192.168.0.2", "192.168.0.1", 17, udp(50000, 4789, vx)))
        a = replay.tx_key(frames.parse(1, 0, icmp_frame(64, b"TAG000001\n"), {4789}))
        b = replay.tx_key(frames.parse(2, 0, icmp_frame(63, b"TAG000001\n"), {4789}))
        c = replay.tx_key(frames.parse(3, 0, icmp_frame(64, b"TAG000002\n"), {4789}))
        self.assertEqual(a, b)  # TTL, IP id, checksums and the outer source port do not count
        self.assertNotEqual(a, c)  # a different dropped datagram is a different error


class Outcome(unittest.TestCase):
    def test_a_socket_read_beats_any_drop_sign(self):
        o = replay.outcome([("c1", "s1")], [("c2:Udp.NoPorts", 1)], ["OTHERHOST"])
        self.assertEqual((o["verdict"], o["sock"], o["observed"]), ("deliver", "s1", "socket"))

    def test_a_named_counter_beats_the_tracepoint(self):
        o = replay.outcome([], [("c1:Udp.NoPorts", 1)], ["OTHERHOST"])
        self.assertEqual((o["verdict"], o["reason"], o["observed"]), ("drop", "no_socket", "counter:c1:Udp.NoPorts"))

    def test_tracepoint_reason_in_the_simulators_words(self):
        o = replay.outcome([], [], ["VXLAN_VNI_NOT_FOUND"])
        self.assertEqual((o["reason"], o["observed"]), ("unknown_vni", "kfree_skb:VXLAN_VNI_NOT_FOUND"))

    def test_nothing_seen_is_said(self):
        self.assertEqual(replay.outcome([], [], []), {"verdict": "drop", "reason": "unobserved", "observed": "none"})

    def test_wire_ends_otherhost_drops_are_not_the_frames(self):
        self.assertEqual(replay.own_drops(["OTHERHOST", "NO_SOCKET", "OTHERHOST"], 1), ["NO_SOCKET", "OTHERHOST"])
        self.assertEqual(replay.own_drops(["OTHERHOST"], 2), [])

    def test_routine_counters_attribute_nothing(self):
        before = {"c1:Ip.InReceives": 1, "c1:Udp.InDatagrams": 1, "c1:Udp.NoPorts": 0, "host:Udp.InDatagrams": 5}
        after = {"c1:Ip.InReceives": 2, "c1:Udp.InDatagrams": 2, "c1:Udp.NoPorts": 1, "host:Udp.InDatagrams": 6}
        self.assertEqual(observe.moved(before, after), [("c1:Udp.NoPorts", 1)])
        self.assertTrue(observe.queued_for_a_socket(before, after, ["c1"]))
        self.assertFalse(observe.queued_for_a_socket(before, {**after, "c1:Udp.InDatagrams": 1}, ["c1"]))


class Fragments(unittest.TestCase):
    def fragment(self, number, ident, offset, more, piece):
        ip = ipv4("10.233.2.2", "10.233.1.2", 17, piece, ident=ident, frag=(0x2000 if more else 0) | offset // 8)
        return frames.parse(number, 0, vxlan_frame(inner_ip=ip), {4789})

    def test_the_completing_fragment_carries_the_whole_payload_the_others_are_held(self):
        body = bytes(range(40))
        datagram = udp(4000, 5000, body, 0)
        # Datagram 7 in three pieces, the last one first; datagram 8 never completes.
        got = frames.datagrams([self.fragment(1, 7, 32, False, datagram[32:]),
                                self.fragment(2, 8, 0, True, datagram[:16]),
                                self.fragment(3, 7, 0, True, datagram[:16]),
                                self.fragment(4, 7, 16, True, datagram[16:32])])
        self.assertEqual(got, {1: None, 2: None, 3: None, 4: body})

    def test_outer_pieces_reassemble_into_the_vxlan_frame_and_inject_as_they_were(self):
        whole = vxlan_frame(payload=b"OUTER-FRAGMENTED-DATAGRAM\n")
        outer_udp = whole[14 + 20:]  # the outer datagram's L4 bytes: UDP, VXLAN, the inner frame
        def piece(number, ident, offset, more):
            data = eth("02:00:00:00:00:02", "02:00:00:00:00:01",
                       ipv4("192.168.0.1", "192.168.0.2", 17, outer_udp[offset:offset + 48 if more else None],
                            ident=ident, frag=(0x2000 if more else 0) | offset // 8))
            return frames.parse(number, 0, data, {4789})
        # Datagram 9: the second piece first; datagram 10: its last piece never comes.
        got = frames.reassemble_outer([(piece(1, 9, 48, False), "rx"), (piece(2, 10, 0, True), "rx"),
                                       (piece(3, 9, 0, True), "rx"), (frames.parse(4, 0, whole, {4789}), "rx")],
                                      {4789})
        self.assertEqual([f.number for f, _ in got], [1, 2, 3, 4])
        self.assertEqual([f.outer_held for f, _ in got], [True, True, False, False])
        completed = got[2][0]
        self.assertEqual(completed.vni, 42)
        self.assertEqual(completed.flow(), "udp 10.233.2.2:4000 > 10.233.1.2:5000")
        self.assertEqual(completed.delivered_l3().payload, b"OUTER-FRAGMENTED-DATAGRAM\n")
        self.assertEqual(completed.outer.total_length, 20 + len(outer_udp))
        # What goes on the wire is the piece as captured, not the reassembled datagram.
        self.assertEqual(frames.with_l4_checksums_fixed(completed), (piece(3, 9, 0, True).data, 0))
        self.assertIsNone(got[3][0].wire)

    def test_a_whole_datagram_is_no_fragment(self):
        self.assertEqual(frames.datagrams([frames.parse(1, 0, vxlan_frame(), {4789})]), {})

    def test_held_is_read_from_the_reassembly_counters(self):
        before = {"c1:Ip.ReasmReqds": 4, "c1:Ip.ReasmOKs": 1, "c1:Ip.ReasmFails": 0}
        queued = dict(before, **{"c1:Ip.ReasmReqds": 5})
        completed = dict(queued, **{"c1:Ip.ReasmOKs": 2})
        failed = dict(queued, **{"c1:Ip.ReasmFails": 1})
        self.assertEqual(replay.held(before, queued), {"verdict": "held", "observed": "counter:c1:Ip.ReasmReqds"})
        self.assertIsNone(replay.held(before, completed))
        self.assertIsNone(replay.held(before, failed))
        self.assertIsNone(replay.held(before, before))
        self.assertEqual(observe.moved(before, completed), [])  # reassembly at work is no drop sign
        # A flooded fragment: held in its container, its other copies dropped as OTHERHOST.
        queued_here = replay.held(before, queued)
        otherhost = replay.outcome([], [], ["OTHERHOST"])
        self.assertEqual(replay.fragment_outcome(otherhost, queued_here), queued_here)
        self.assertEqual(replay.fragment_outcome(otherhost, None), otherhost)
        no_port = replay.outcome([], [("c1:Udp.NoPorts", 1)], [])
        self.assertEqual(replay.fragment_outcome(no_port, queued_here), no_port)
        self.assertEqual(replay.outcome([], observe.moved(before, failed), [])["reason"], "reassembly_failed")


class TcpPeer(unittest.TestCase):
    """The capture: client ISN 1000, recorded server ISN 5000; the kernel picks 9_000_000."""
    SYN, SYNACK, ACK, PSHACK = 0x02, 0x12, 0x10, 0x18

    def capture(self):
        rows = [(tcp_frame(1000, 0, self.SYN, ts=(100, 0)), "rx"),
                (tcp_frame(5000, 1001, self.SYNACK, ts=(700, 100), out=True), "tx"),
                (tcp_frame(1001, 5001, self.ACK, ts=(101, 700)), "rx"),
                (tcp_frame(1001, 5001, self.PSHACK, b"TAG000001\n", ts=(102, 700)), "rx"),
                (tcp_frame(5001, 1011, self.ACK, ts=(701, 102), out=True), "tx")]
        return [(frames.parse(n, 0, data, {4789}), d) for n, (data, d) in enumerate(rows, 1)]

    def kernel_synack(self, isn, tsval):
        return frames.parse(0, 0, tcp_frame(isn, 1001, self.SYNACK, ts=(tsval, 100), out=True), {4789})

    def test_ack_and_timestamp_echo_follow_what_the_kernel_sent(self):
        c = self.capture()
        peer = tcp_peer.TcpPeer(c)
        self.assertEqual(peer.rewrite(c[0][0]), c[0][0].data)  # a SYN needs nothing mapped
        with self.assertRaisesRegex(tcp_peer.Unmapped, "no_kernel_syn_ack"):
            peer.rewrite(c[2][0])  # never guessed: the kernel's ISN is not known yet
        peer.emitted(self.kernel_synack(9_000_000, 123456))
        sent = frames.parse(3, 0, peer.rewrite(c[2][0]), {4789})
        out = sent.delivered_l3()
        self.assertEqual((out.tcp.seq, out.tcp.ack), (1001, 9_000_001))
        self.assertEqual(frames.tcp_timestamps(sent.data, out.tcp), (101, 123456))  # TSval kept, TSecr the kernel's

    def test_sequence_numbers_wrap(self):
        c = self.capture()
        peer = tcp_peer.TcpPeer(c)
        peer.emitted(self.kernel_synack(0xFFFFFFFF, 1))
        out = frames.parse(3, 0, peer.rewrite(c[2][0]), {4789}).delivered_l3()
        self.assertEqual(out.tcp.ack, 0)

    def test_the_kernels_answer_matches_the_recorded_one_whatever_its_isn(self):
        c = self.capture()
        peer = tcp_peer.TcpPeer(c)
        self.assertEqual(peer.emitted(self.kernel_synack(9_000_000, 5)), peer.capture_key[2])
        ack = frames.parse(0, 0, tcp_frame(9_000_001, 1011, self.ACK, ts=(9, 102), out=True), {4789})
        self.assertEqual(peer.emitted(ack), peer.capture_key[5])
        wrong = frames.parse(0, 0, tcp_frame(9_000_002, 1011, self.ACK, ts=(9, 102), out=True), {4789})
        self.assertNotEqual(peer.emitted(wrong), peer.capture_key[5])


HOST_HEAD = """version: 1
host:
  name: b
  cpus: 1
  rss: none
  nic: {name: eth0, mac: "02:00:00:00:00:02", ip: 192.168.0.2/24}
"""


def load_scenario(text):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write(text)
        f.flush()
        return scenario_file.load(f.name)


class CloseBeforeItsStamp(unittest.TestCase):
    def test_the_peers_answer_to_a_fin_does_not_bound_the_close_that_sent_it(self):
        c = TcpPeer().capture()
        other = frames.parse(6, 77, vxlan_frame(), {4789})  # UDP: another flow
        rows = c + [(other, "rx")]
        # After the server's ACK (frame 5): frames 1-4 are before it; the next rx of another flow is 6.
        self.assertEqual(replay.next_unrelated_rx(rows, 4), 77)
        # After the SYN-ACK (frame 2): frames 3 and 4 are the same connection's: skipped.
        self.assertEqual(replay.next_unrelated_rx(rows, 1), 77)
        self.assertIsNone(replay.next_unrelated_rx(c, 1))


class Flush(unittest.TestCase):
    def test_a_flush_writes_the_patched_kernels_knob_where_there_is_one(self):
        with tempfile.TemporaryDirectory() as d:
            knob = os.path.join(d, "fpmap_flush")
            open(knob, "w").close()
            self.assertTrue(replay.flush_fast_path(knob))
            with open(knob) as f:
                self.assertEqual(f.read(), "1\n")
            self.assertFalse(replay.flush_fast_path(os.path.join(d, "absent")), "no fast path: nothing to flush")


class Scenario(unittest.TestCase):
    def test_times_are_exact_and_same_instant_events_keep_their_order(self):
        self.assertEqual(scenario_file.time_ns("1764150000.0001", "x"), 1764150000_000100000)
        self.assertEqual(scenario_file.time_ns("1764150000", "x"), 1764150000_000000000)
        with self.assertRaises(scenario_file.ScenarioError):
            scenario_file.time_ns("1.0000000001", "x")
        text = HOST_HEAD + """  containers:
    - {name: c1, bridge: br42, veth: veth-c1, mac: "02:42:0a:e9:01:02", ip: 10.233.1.2/16}
events:
  - {t: 2.0, op: close, sock: s1}
  - {t: 1.5, op: socket, sock: s1, ns: c1, proto: udp}
  - {t: 1.5, op: bind, sock: s1, addr: "0.0.0.0:5000"}
"""
        s = load_scenario(text)
        self.assertEqual([e["op"] for e in s.events], ["socket", "bind", "close"])
        self.assertEqual(s.events[2]["line"], 10)  # where the close is written

    def test_routed_keys_are_read(self):
        text = HOST_HEAD + """  sysctl: {ip_forward: true, rp_filter: 1}
  vxlan:
    - name: vxlan.calico
      vni: 4096
      port: 4789
      mac: "02:00:00:02:00:00"
      ip: 10.233.1.1/32
      fdb:
        - {mac: "02:00:00:01:00:00", dst: 192.168.0.1}
  containers:
    - {name: c1, veth: calic1, veth_mac: "EE:EE:EE:EE:EE:EE", proxy_arp: true, mac: "02:00:0a:e9:01:02", ip: 10.233.1.2/32, gateway: 169.254.1.1}
  routes:
    - {dst: 10.233.1.2/32, dev: calic1, scope: link}
    - {dst: 10.233.2.0/24, via: 10.233.2.1, dev: vxlan.calico, onlink: true}
  neighbours:
    - {ip: 10.233.2.1, mac: "02:00:00:01:00:00", dev: vxlan.calico}
"""
        s = load_scenario(text)
        self.assertTrue(s.routed())
        self.assertEqual(s.sysctl, {"ip_forward": True, "rp_filter": 1})
        v = s.vxlan[0]
        self.assertTrue(v["learning"], "a device learns unless the scenario says learning: false")
        self.assertFalse(load_scenario(text.replace("      port: 4789\n", "      port: 4789\n      learning: false\n"))
                         .vxlan[0]["learning"])
        self.assertEqual((v["bridge"], v["ip"], v["fdb"]), (None, "10.233.1.1/32",
                                                            [{"mac": "02:00:00:01:00:00", "dst": "192.168.0.1"}]))
        c = s.containers[0]
        self.assertEqual((c.bridge, c.veth_mac, c.proxy_arp, c.gateway), (None, "ee:ee:ee:ee:ee:ee", True, "169.254.1.1"))
        self.assertEqual([r["onlink"] for r in s.routes], [False, True])
        self.assertEqual(s.neighbours, [{"ip": "10.233.2.1", "mac": "02:00:00:01:00:00", "dev": "vxlan.calico"}])

    def test_unknown_op_names_file_and_line(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            f.write("version: 1\nhost:\n  nic: {name: e, mac: m, ip: 1.2.3.4/24}\nevents:\n  - {t: 1, op: dance}\n")
            f.flush()
            with self.assertRaisesRegex(scenario_file.ScenarioError, r":5: op 'dance'"):
                scenario_file.load(f.name)


NETFILTER_HOST = HOST_HEAD + """  vxlan:
    - {name: vxlan42, vni: 42, port: 4789, bridge: br42, learning: false}
  bridges:
    - {name: br42}
  containers:
    - {name: c1, bridge: br42, veth: veth-c1, mac: "02:2a:0a:e9:01:02", ip: 10.233.1.2/16}
"""
DOCKER_NETFILTER = NETFILTER_HOST + """  netfilter:
    bridge_nf_call_iptables: true
    conntrack: {udp_timeout: 3, udp_timeout_stream: 6}
    forward:
      policy: drop
      rules:
        - {ctstate: [established, related], target: accept}
        - {proto: udp, dport: 5099, target: drop}
        - {in: br42, out: br42, target: accept}
        - {src: 10.233.2.7, dst: 10.233.1.0/24, proto: tcp, sport: 41001, dport: 7000, in: vxlan42, out: veth-c1, ctstate: [new, invalid], target: drop}
"""


class Dilation(unittest.TestCase):
    """ECON_KERNEL_REPLAY_DILATION (the VM): the capture's gaps and conntrack's UDP timeouts alike."""

    def test_gaps_and_timeouts_stretch_together(self):
        self.assertEqual(replay.dilated_time(1000, 1500, 1), 1500)
        self.assertEqual(replay.dilated_time(1000, 1500, 10), 6000)
        self.assertEqual(replay.dilated_time(1000, 1000, 10), 1000)
        nf = scenario_file.Netfilter(line=3, bridge_nf_call_iptables=True, udp_timeout=3, udp_timeout_stream=None,
                                     policy="drop", rules=[])
        asked = []

        def kernel_default(name):
            asked.append(name)
            return 120
        d = replay.dilated_timeouts(nf, 10, kernel_default)
        self.assertEqual((d.udp_timeout, d.udp_timeout_stream), (30, 1200))
        self.assertEqual(asked, ["udp_timeout_stream"])  # the scenario's own is not asked for
        self.assertEqual((nf.udp_timeout, nf.udp_timeout_stream), (3, None))  # a copy


class Netfilter(unittest.TestCase):
    """host.netfilter into the host namespace's iptables (topology.py): the rules in the scenario's
    order, each with its matches, as iptables-restore takes them and `iptables -S` lists them."""

    def test_the_forward_chain_is_the_scenarios_rules_in_order(self):
        nf = load_scenario(DOCKER_NETFILTER).netfilter
        self.assertEqual([r.line for r in nf.rules], [19, 20, 21, 22])
        self.assertEqual(topology.iptables_restore_input(nf), "\n".join([
            "*filter",
            ":INPUT ACCEPT [0:0]",
            ":FORWARD DROP [0:0]",
            ":OUTPUT ACCEPT [0:0]",
            "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            "-A FORWARD -p udp -m udp --dport 5099 -j DROP",
            "-A FORWARD -i br42 -o br42 -j ACCEPT",
            "-A FORWARD -s 10.233.2.7/32 -d 10.233.1.0/24 -i vxlan42 -o veth-c1 -p tcp -m conntrack --ctstate "
            "INVALID,NEW -m tcp --sport 41001 --dport 7000 -j DROP",
            "COMMIT", ""]))
        # What the kernel must list back (compared line for line once the table is in).
        self.assertEqual(topology.forward_chain_listing(nf)[:3], [
            "-P FORWARD DROP",
            "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            "-A FORWARD -p udp -m udp --dport 5099 -j DROP"])

    def test_ctstate_lists_every_state_given(self):
        text = DOCKER_NETFILTER.replace("[established, related]", "[invalid, established, new, related]")
        rule = load_scenario(text).netfilter.rules[0]
        self.assertEqual(rule.ctstate, ("invalid", "new", "related", "established"))
        self.assertEqual(topology.iptables_rule_args(rule),
                         ["-m", "conntrack", "--ctstate", "INVALID,NEW,RELATED,ESTABLISHED", "-j", "ACCEPT"])
        rule = load_scenario(DOCKER_NETFILTER.replace("[established, related]", "[new]")).netfilter.rules[0]
        self.assertEqual(topology.iptables_rule_args(rule), ["-m", "conntrack", "--ctstate", "NEW", "-j", "ACCEPT"])

    def test_an_accept_policy_and_no_rules(self):
        nf = load_scenario(NETFILTER_HOST + "  netfilter:\n    forward: {policy: accept}\n").netfilter
        self.assertEqual(topology.iptables_restore_input(nf).splitlines()[2], ":FORWARD ACCEPT [0:0]")
        self.assertEqual(topology.forward_chain_listing(nf), ["-P FORWARD ACCEPT"])

    def test_sysctls_bridge_call_always_written_timeouts_when_given(self):
        nf = load_scenario(DOCKER_NETFILTER).netfilter
        self.assertEqual(topology.netfilter_sysctls(nf), (
            {"net/bridge/bridge-nf-call-iptables": "1"},
            {"net/netfilter/nf_conntrack_udp_timeout": "3", "net/netfilter/nf_conntrack_udp_timeout_stream": "6"}))
        # Absent: 0, not the kernel's default of 1; no timeouts: the kernel's.
        nf = load_scenario(NETFILTER_HOST + "  netfilter:\n    forward: {policy: drop}\n").netfilter
        self.assertEqual(topology.netfilter_sysctls(nf), ({"net/bridge/bridge-nf-call-iptables": "0"}, {}))
        self.assertIsNone(load_scenario(NETFILTER_HOST).netfilter, "no host.netfilter: nothing to build")

    def test_bad_netfilter_input_names_file_and_line(self):
        for old, new, message in (
                ("dport: 5099", "dport: 70000", r":20: host.netfilter.forward.rules\[1\].dport: '70000'"),
                ("{proto: udp, dport", "{dport", r":20: .*dport needs 'proto'"),
                ("in: br42, out", "in: br99, out", r":21: .*in: 'br99' is not a device of the host namespace"),
                ("[established, related]", "[established, estab]", r":19: .*ctstate: 'estab' is not one of"),
                ("[established, related]", "established", r":19: .*ctstate must be a list"),
                ("[established, related]", "[]", r":19: .*ctstate must be a list"),
                ("policy: drop", "policy: reject", r":17: host.netfilter.forward.policy: 'reject'"),
                ("target: drop}", "target: reject}", r":20: .*target: 'reject'"),
                ("udp_timeout: 3,", "udp_timeout: 0,", r":15: host.netfilter.conntrack.udp_timeout: '0'"),
                ("bridge_nf_call_iptables: true", "bridge_nf_call_iptables: yes", r":14: .*'yes' is not true or false"),
                ("{proto: udp, dport", "{src: 10.0.0.300, proto: udp, dport", r":20: .*src: '10.0.0.300'"),
                ("{in: br42, out: br42, target: accept}", "{in: br42, log: x, target: accept}",
                 r":21: .*unknown key 'log'")):
            self.assertIn(old, DOCKER_NETFILTER)
            with self.assertRaisesRegex(scenario_file.ScenarioError, message):
                load_scenario(DOCKER_NETFILTER.replace(old, new, 1))


class Pacing(unittest.TestCase):
    """With host.netfilter the replay keeps the capture's gaps (conntrack's timeouts run on the
    kernel's clock): no frame is played sooner after the one before than the capture has it."""

    def replay_of(self, text):
        return replay.Replay(load_scenario(text), None, None, None, None, None)

    def test_paced_with_netfilter_only(self):
        old = os.environ.pop("ECON_KERNEL_REPLAY_PACE", None)
        try:
            self.assertTrue(self.replay_of(DOCKER_NETFILTER).paced)
            self.assertFalse(self.replay_of(NETFILTER_HOST).paced)
            os.environ["ECON_KERNEL_REPLAY_PACE"] = "0"
            self.assertFalse(self.replay_of(DOCKER_NETFILTER).paced)
        finally:
            os.environ.pop("ECON_KERNEL_REPLAY_PACE", None)
            if old is not None:
                os.environ["ECON_KERNEL_REPLAY_PACE"] = old

    def test_a_frame_waits_for_its_gap_after_the_one_before(self):
        import time
        r = self.replay_of(DOCKER_NETFILTER)
        r.paced, waits = True, []
        r.pump = lambda wait: (waits.append(wait), time.sleep(wait))
        r.keep_pace(1_000_000_000)
        self.assertEqual(waits, [], "the first frame sets the clock")
        start = time.monotonic()
        r.keep_pace(1_080_000_000)  # 80 ms later in the capture
        self.assertGreaterEqual(time.monotonic() - start, 0.079)
        time.sleep(0.1)  # the replay's own work took longer than the next gap
        start = time.monotonic()
        r.keep_pace(1_090_000_000)
        self.assertLess(time.monotonic() - start, 0.005, "a gap the replay already spent is not waited again")


class RoutingEvents(unittest.TestCase):
    HEAD = HOST_HEAD + "events:\n"

    def test_routing_events_are_read_with_their_keys(self):
        s = load_scenario(self.HEAD + """  - {t: 1.0, op: sysctl, ip_forward: false, rp_filter: 2}
  - {t: 2.0, op: route, dst: 10.233.1.2/32, via: 10.233.2.0, dev: flannel.1, onlink: true}
  - {t: 3.0, op: route_del, dst: 10.233.1.2/32}
  - {t: 4.0, op: neigh, ip: 10.233.1.2, mac: "02:42:0A:E9:01:03", dev: cni0}
""")
        sysctl, route, route_del, neigh = s.events
        self.assertEqual((sysctl["ip_forward"], sysctl["rp_filter"]), (False, "2"))
        self.assertEqual((route["dst"], route["via"], route["onlink"]), ("10.233.1.2/32", "10.233.2.0", True))
        self.assertEqual(route_del["dst"], "10.233.1.2/32")
        self.assertEqual((neigh["ip"], neigh["dev"]), ("10.233.1.2", "cni0"))

    def test_a_routing_event_without_what_it_needs_names_its_line(self):
        for event, message in (("{t: 1.0, op: sysctl}", r":8: a sysctl event needs"),
                               ("{t: 1.0, op: sysctl, rp_filter: 3}", r":8: rp_filter '3'"),
                               ("{t: 1.0, op: route, dst: 10.0.0.0/8}", r"'dev' missing"),
                               ("{t: 1.0, op: neigh, ip: 10.0.0.1, dev: cni0}", r"'mac' missing")):
            with self.assertRaisesRegex(scenario_file.ScenarioError, message):
                load_scenario(self.HEAD + "  - " + event + "\n")


class ForwardedOut(unittest.TestCase):
    """A frame the host routed back out is known by its IPv4 packet on the wire (replay.forwarded_out)."""

    def emitted(self, *frames_sent):
        class Seen:  # the part of Replay that forwarded_out reads
            emitted = [[None, frames.parse(0, 0, data, {4789}), False] for data in frames_sent]
        return Seen()

    def test_the_same_packet_on_the_wire_after_the_injection_is_the_frame_forwarded(self):
        injected = frames.parse(1, 0, vxlan_frame(b"TAG000001\n"), {4789})
        again = vxlan_frame(b"TAG000001\n", inner_ip=ipv4("10.233.2.2", "10.233.1.2", 17,
                                                            udp(4000, 5000, b"TAG000001\n"), ttl=63), out=True)
        seen = self.emitted(vxlan_frame(b"OTHER\n", out=True), again)
        sent = replay.forward_signature(injected)
        self.assertTrue(replay.Replay.forwarded_out(seen, sent, 0))  # the TTL and checksum are the router's
        self.assertFalse(replay.Replay.forwarded_out(seen, sent, 2))  # sent before the frame was injected
        other = frames.parse(1, 0, vxlan_frame(b"TAG000002\n"), {4789})
        self.assertFalse(replay.Replay.forwarded_out(seen, replay.forward_signature(other), 0))
        self.assertFalse(replay.Replay.forwarded_out(seen, None, 0))

    def test_a_fragment_forwarded_is_the_fragment(self):
        first = ipv4("10.233.2.2", "10.233.1.2", 17, udp(4000, 5000, b"TAG000001\n")[:16], ident=7, frag=0x2000)
        injected = frames.parse(1, 0, vxlan_frame(inner_ip=first), {4789})
        forwarded = ipv4("10.233.2.2", "10.233.1.2", 17, udp(4000, 5000, b"TAG000001\n")[:16], ttl=63, ident=7,
                         frag=0x2000)
        seen = self.emitted(vxlan_frame(inner_ip=forwarded, out=True))
        self.assertTrue(replay.Replay.forwarded_out(seen, replay.forward_signature(injected), 0))


class Tenants(unittest.TestCase):
    def test_a_bridged_frames_vni_names_the_tenant_that_holds_its_address(self):
        # c1 and c3 of random-cases: one address, one MAC, VNI 42 and 43 (and vxlan43 now on 44).
        c1 = scenario_file.Container("c1", "br42", "veth-c1", "02:00:0a:e9:01:02", "10.233.1.2/16")
        c3 = scenario_file.Container("c3", "br43", "veth-c3", "02:00:0a:e9:01:02", "10.233.1.2/16")

        class Seen:  # the part of Replay that ns_of_address reads
            s = scenario_file.Scenario(path="s.yaml", nic_name="eth0", nic_mac="02:00:00:00:00:02",
                                       nic_ip="192.168.0.2/24", nic_mtu=1500, bridges=[], events=[],
                                       vxlan=[{"name": "vxlan42", "vni": 42, "port": 4789, "bridge": "br42"},
                                              {"name": "vxlan43", "vni": 43, "port": 4789, "bridge": "br43"}],
                                       containers=[c1, c3])

            class host:
                vni_of = {"vxlan42": 42, "vxlan43": 44}
        takers = ["c1", "c3"]
        self.assertEqual(replay.Replay.ns_of_address(Seen(), "10.233.1.2", takers, 42), "c1")
        self.assertEqual(replay.Replay.ns_of_address(Seen(), "10.233.1.2", takers, 44), "c3")
        self.assertIsNone(replay.Replay.ns_of_address(Seen(), "10.233.1.2", takers, 43))  # no device has it now


class TcpTaken(unittest.TestCase):
    def test_a_flooded_copys_otherhost_leaves_the_segment_to_tcp(self):
        self.assertTrue(replay.tcp_may_be_taken({"verdict": "drop", "reason": "unobserved", "observed": "none"}))
        self.assertTrue(replay.tcp_may_be_taken({"verdict": "drop", "reason": "other_host", "observed": "kfree_skb:OTHERHOST"}))
        self.assertFalse(replay.tcp_may_be_taken({"verdict": "drop", "reason": "no_socket", "observed": "kfree_skb:NO_SOCKET"}))


class AnswerDropped(unittest.TestCase):
    def test_a_routing_drop_after_tcp_took_the_segment_is_its_answers(self):
        c1 = scenario_file.Container("c1", "br42", "veth-c1", "02:00:0a:e9:01:02", "10.233.1.2/16")

        class Seen(replay.Replay):  # the part of Replay that answer_was_dropped reads
            def __init__(self):
                self.s = scenario_file.Scenario(path="s.yaml", nic_name="eth0", nic_mac="02:00:00:00:00:02",
                                                nic_ip="192.168.0.2/24", nic_mtu=1500, bridges=[], events=[],
                                                vxlan=[{"name": "vxlan42", "vni": 42, "port": 4789, "bridge": "br42"}],
                                                containers=[c1])

                class host:
                    vni_of = {"vxlan42": 42}
                self.host = host
        syn = frames.parse(1, 0, tcp_frame(1000, 0, 0x02), {4789})
        traced = {"verdict": "drop", "reason": "ip_innoroutes", "observed": "kfree_skb:IP_INNOROUTES"}
        took = ({"c1:Tcp.InSegs": 0}, {"c1:Tcp.InSegs": 1})
        self.assertTrue(Seen().answer_was_dropped(traced, syn, *took, ["c1"]))
        self.assertFalse(Seen().answer_was_dropped(traced, syn, took[0], took[0], ["c1"]))  # TCP never saw it
        no_socket = {"verdict": "drop", "reason": "no_socket", "observed": "kfree_skb:NO_SOCKET"}
        self.assertFalse(Seen().answer_was_dropped(no_socket, syn, *took, ["c1"]))  # TCP's own drop

    def test_a_syn_ack_that_left_the_socket_is_counted_without_a_reset(self):
        before = {"c1:Tcp.OutSegs": 5, "c1:Tcp.OutRsts": 0}
        self.assertTrue(observe.answered_without_reset(before, {"c1:Tcp.OutSegs": 6, "c1:Tcp.OutRsts": 0}, "c1"))
        self.assertFalse(observe.answered_without_reset(before, {"c1:Tcp.OutSegs": 6, "c1:Tcp.OutRsts": 1}, "c1"))


class Counters(unittest.TestCase):
    def test_a_reset_is_read_from_the_namespaces_estabresets(self):
        before = {"c1:Tcp.EstabResets": 0, "c2:Tcp.EstabResets": 0}
        after = {"c1:Tcp.EstabResets": 0, "c2:Tcp.EstabResets": 1}
        self.assertTrue(observe.reset_a_connection(before, after, "c2"))
        self.assertFalse(observe.reset_a_connection(before, after, "c1"))


def load_random_cases():
    return load_script("random-cases", "random_cases")


class RandomCases(unittest.TestCase):
    """kernel-replay/random-cases: what it draws, and that each kind of draw keeps the others'."""

    def test_tcp_draws_leave_every_other_draw_of_a_bridged_case_as_it_was(self):
        rc = load_random_cases()
        without_tcp = rc.TCP_SHARE
        bridged = [i for i in range(12) if not isinstance(rc.draw(14, i, 60), rc.RoutedCase)]
        self.assertGreaterEqual(len(bridged), 4)
        for i in bridged:
            with_tcp = [e.split(", ", 1)[1] for e in rc.draw(14, i, 60).events]
            rc.TCP_SHARE = 0
            try:
                plain = [e.split(", ", 1)[1] for e in rc.draw(14, i, 60).events]
            finally:
                rc.TCP_SHARE = without_tcp
            self.assertEqual([e for e in with_tcp if "sock: t" not in e], plain, f"case {i}")

    def test_a_third_routed_half_flannel_half_calico_and_tcp_in_most(self):
        rc = load_random_cases()
        cases = [rc.draw(14, i, 60) for i in range(90)]
        kinds = Counter(c.kind if isinstance(c, rc.RoutedCase) else "bridged" for c in cases)
        self.assertTrue(18 <= kinds["flannel"] + kinds["calico"] <= 42, kinds)
        self.assertTrue(kinds["flannel"] and kinds["calico"], kinds)
        self.assertGreater(sum(any("proto: tcp" in e for e in c.events) for c in cases), 45)

    def test_every_tcp_segment_with_an_ack_can_be_mapped_by_tcp_peer(self):
        # The capture holds the host's SYN-ACK before every segment that acknowledges it, so
        # kernel-replay's peer knows the recorded ISN (tcp_unmapped_no_recorded_syn_ack never).
        rc = load_random_cases()
        segments = syn_acks = resets = 0
        for i in range(30):
            case = rc.draw(14, i, 60)
            classified = []
            for n, (ts, data) in enumerate(case.frames, 1):
                f = frames.parse(n, ts, data, {4789})
                classified.append((f, "tx" if f.src_mac == rc.NIC_MAC else "rx"))
            peer = tcp_peer.TcpPeer(classified)
            for f, d in classified:
                if not tcp_peer.is_tcp(f):
                    continue
                l3 = f.delivered_l3()
                if d == "tx":
                    syn_acks += tcp_peer.is_syn_ack(l3)
                    resets += bool(l3.tcp.flags & frames.TCP_RST)
                elif l3.tcp.flags & frames.TCP_ACK:
                    segments += 1
                    self.assertIsNotNone(peer.recorded_isn_at[f.number], f"case {i} frame {f.number}")
        self.assertGreater(segments, 30)
        self.assertGreater(syn_acks, 5)
        self.assertGreater(resets, 2)


def load_script(name, module_name):
    """A script of kernel-replay/ without .py (the command, random-cases), for its helpers."""
    import importlib.machinery
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.realpath(__file__)), "../../kernel-replay", name)
    loader = importlib.machinery.SourceFileLoader(module_name, path)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


def load_command():
    """The kernel-replay command itself, for its helpers."""
    return load_script("kernel-replay", "kernel_replay_command")


class Neighbours(unittest.TestCase):
    def test_a_sent_frames_destination_is_a_neighbour_of_its_bridge_under_every_vni_it_had(self):
        # Case 184 of random-cases seed 14: the only frame on VNI 42 is one c2 sends; without a
        # neighbour for its destination c2 asks ARP and the datagram never leaves.
        s = scenario_file.Scenario(path="s.yaml", nic_name="eth0", nic_mac="02:00:00:00:00:02",
                                   nic_ip="192.168.0.2/24", nic_mtu=1500,
                                   vxlan=[{"name": "vxlan42", "vni": 42, "port": 4789, "bridge": "br42"},
                                          {"name": "vxlan43", "vni": 43, "port": 4789, "bridge": "br43"}],
                                   bridges=[], containers=[],
                                   events=[{"op": "vni", "dev": "vxlan43", "vni": 44, "t_ns": 1, "order": 0}])
        sent = frames.parse(1, 0, vxlan_frame(vni=42), {4789})  # taken as sent: its inner destination counts
        received_on_44 = frames.parse(2, 0, vxlan_frame(vni=44), {4789})
        outer, inner = load_command().sources(s, [(sent, "tx"), (received_on_44, "rx")])
        self.assertEqual(outer, {"192.168.0.1": "02:00:00:00:00:01"})
        self.assertEqual(inner["br42"], {"10.233.1.2": "02:2a:0a:e9:01:02"})  # the sent frame's destination
        self.assertEqual(inner["br43"], {"10.233.2.2": "02:2a:0a:e9:02:02"})  # VNI 44 is vxlan43's after the event


class Expectations(unittest.TestCase):
    def test_met_and_unmet_and_not_reproduced_are_counted_apart(self):
        expect = {1: {"verdict": "deliver", "sock": ["r1", "r2"]}, 2: {"verdict": "drop"}, 3: {"verdict": "deliver", "sock": "s1"},
                  4: {"verdict": "deliver", "sock": "s1"}}
        got = {1: {"verdict": "deliver", "sock": "r2"}, 2: {"verdict": "drop", "reason": "no_socket"},
               3: {"verdict": "deliver", "sock": "s2"}, 4: {"verdict": "ignore", "observed": "not_reproduced"}}
        checked, met, unreproduced, notes = verdicts.check_expectations(expect, got)
        self.assertEqual((checked, met, unreproduced), (4, 2, 1))
        self.assertIn("pkt 3", notes[0])

    def test_timestamps_print_as_the_simulator_prints_them(self):
        self.assertEqual(verdicts.timestamp(1796198147_036118000), "1796198147.036118")
        self.assertEqual(verdicts.timestamp(5_000000000), "5.0")


class FastpathStat(unittest.TestCase):
    """What the patched kernel's counters say one frame did (--kernel vm)."""

    TEXT = "enabled 1\nentries 3\nhits 5\nmisses 2\nstale 0\ninserts 2\ninsert_refused 0\ndelivered 5\nfallback_busy 0\n"

    def stat(self, text):
        with tempfile.NamedTemporaryFile("w", suffix=".stat", delete=False) as f:
            f.write(text)
        self.addCleanup(os.unlink, f.name)
        return fastpath_stat.read(f.name)

    def test_reads_the_file_and_only_when_the_fast_path_is_on(self):
        self.assertEqual(self.stat(self.TEXT)["delivered"], 5)
        self.assertIsNone(self.stat(self.TEXT.replace("enabled 1", "enabled 0")))
        self.assertIsNone(fastpath_stat.read("/nonexistent/fpmap_stat"))

    def test_outcome_of_each_kind_of_frame(self):
        before = self.stat(self.TEXT)

        def after(**moved):
            a = dict(before)
            for k, n in moved.items():
                a[k] = a.get(k, 0) + n
            return a
        self.assertEqual(fastpath_stat.outcome(before, after(hits=1, delivered=1)), ("fast", "hit"))
        # br_netfilter's FORWARD hook dropped the hit: the fast path took it (docker-netfilter in the VM).
        self.assertEqual(fastpath_stat.outcome(before, after(hits=1, bridge_nf_dropped=1)),
                         ("fast", "hit+bridge_nf_dropped"))
        self.assertEqual(fastpath_stat.outcome(before, after(hits=1, fallback_busy=1)), ("slow", "fallback_busy"))
        self.assertEqual(fastpath_stat.outcome(before, after(stale=1, misses=1)), ("slow", "stale"))
        self.assertEqual(fastpath_stat.outcome(before, after(misses=1, inserts=1)), ("slow", "miss+inserts"))
        self.assertEqual(fastpath_stat.outcome(before, after(misses=1, insert_refused=1)),
                         ("slow", "miss+insert_refused"))
        self.assertEqual(fastpath_stat.outcome(before, after(misses=1, tickets_uncacheable=1)),
                         ("slow", "miss+tickets_uncacheable"))
        self.assertEqual(fastpath_stat.outcome(before, after(misses=1)), ("slow", "miss"))
        self.assertEqual(fastpath_stat.outcome(before, after()), ("slow", "none"))
        self.assertEqual(fastpath_stat.outcome(None, before), (None, None))

    def test_a_transmitted_frame_is_read_from_the_tx_counters_only(self):
        before = self.stat(self.TEXT + "tx_sent 0\ntx_misses 0\ntx_inserts 0\ntx_map_stale 0\n")

        def after(**moved):
            a = dict(before)
            for k, n in moved.items():
                a[k] = a.get(k, 0) + n
            return a
        self.assertEqual(fastpath_stat.outcome(before, after(tx_hits=1, tx_sent=1), "tx"), ("fast", "tx_hit"))
        self.assertEqual(fastpath_stat.outcome(before, after(tx_hits=1, tx_fallback_busy=1), "tx"),
                         ("slow", "tx_fallback_busy"))
        self.assertEqual(fastpath_stat.outcome(before, after(tx_misses=1, tx_map_stale=1), "tx"),
                         ("slow", "tx_stale"))
        self.assertEqual(fastpath_stat.outcome(before, after(tx_misses=1, tx_inserts=1), "tx"),
                         ("slow", "tx_miss+tx_inserts"))
        self.assertEqual(fastpath_stat.outcome(before, after(tx_misses=1), "tx"), ("slow", "tx_miss"))
        # A received segment whose answer the TX cache sent: still the receive side's path, and the
        # answer does not make a transmitted frame's path out of the receive side's counters.
        self.assertEqual(fastpath_stat.outcome(before, after(misses=1, inserts=1, tx_sent=1)),
                         ("slow", "miss+inserts"))
        self.assertEqual(fastpath_stat.outcome(before, after(hits=1, delivered=1), "tx"), ("slow", "none"))


if __name__ == "__main__":
    unittest.main()
