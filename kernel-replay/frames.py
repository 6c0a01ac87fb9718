"""What kernel-replay needs to know of a frame's headers: its direction (as sim/stages/nic_rx.cpp
decides it), the VNI and inner flow (the verdict line's vni and flow, in format_flow's words), the
inner payload a socket would read, and the outer source (for the host's static neighbours).

It does not decide a frame's fate: the kernel does. A frame this cannot parse is still injected
as it is; only its line has fewer fields.
"""
import ipaddress
import struct
from dataclasses import dataclass, field

ETH_P_IP = 0x0800
VLAN_TPIDS = (0x8100, 0x88A8)
PROTO_ICMP, PROTO_TCP, PROTO_UDP = 1, 6, 17


@dataclass
class L3:
    offset: int          # of the IPv4 header in the frame
    header_length: int
    total_length: int
    protocol: int
    src: str
    dst: str
    fragment: bool
    l4_offset: int = 0
    src_port: int = 0
    dst_port: int = 0
    payload: bytes = b""  # the UDP/TCP payload, as a socket reads it
    ident: int = 0  # the IP id, which with the addresses and protocol names a fragment's datagram
    fragment_offset: int = 0  # in bytes
    more_fragments: bool = False
    tcp: "Tcp | None" = None


@dataclass
class Tcp:
    """What the injector rewrites and matches of a TCP segment (tcpliveplay's fields)."""
    seq: int
    ack: int
    flags: int  # FIN 1, SYN 2, RST 4, PSH 8, ACK 16
    options_offset: int  # in the frame
    options_end: int


@dataclass
class Frame:
    number: int
    ts_ns: int
    data: bytes
    dst_mac: str = ""
    src_mac: str = ""
    outer: L3 | None = None
    vni: int | None = None
    inner_dst_mac: str = ""
    inner_src_mac: str = ""
    inner: L3 | None = None
    notes: list = field(default_factory=list)
    # Outer IPv4 fragments (reassemble_outer): the piece that completes a datagram is parsed as the
    # whole datagram (data), and `wire` keeps the piece itself, which is what is injected; a piece
    # that does not complete one is `outer_held`.
    wire: bytes | None = None
    outer_held: bool = False

    def flow(self):
        """The verdict's flow: the inner one for VXLAN, else the outer one (format_flow)."""
        l3 = self.inner if self.vni is not None else self.outer
        if l3 is None:
            return None
        if l3.protocol == PROTO_TCP:
            return f"tcp {l3.src}:{l3.src_port} > {l3.dst}:{l3.dst_port}"
        if l3.protocol == PROTO_UDP:
            return f"udp {l3.src}:{l3.src_port} > {l3.dst}:{l3.dst_port}"
        if l3.protocol == PROTO_ICMP:
            return f"icmp {l3.src} > {l3.dst}"
        return f"proto {l3.protocol} {l3.src} > {l3.dst}"

    def delivered_l3(self):
        """The IPv4 packet a socket on this host would get: the inner one of VXLAN, else the outer."""
        return self.inner if self.vni is not None else self.outer


def mac_text(b):
    return ":".join(f"{x:02x}" for x in b)


def _ethernet(data, offset):
    """(dst, src, ethertype, offset of the network header) or None when cut short."""
    if len(data) < offset + 14:
        return None
    dst, src = mac_text(data[offset:offset + 6]), mac_text(data[offset + 6:offset + 12])
    ethertype = struct.unpack("!H", data[offset + 12:offset + 14])[0]
    offset += 14
    for _ in range(2):
        if ethertype not in VLAN_TPIDS or len(data) < offset + 4:
            break
        ethertype = struct.unpack("!H", data[offset + 2:offset + 4])[0]
        offset += 4
    return dst, src, ethertype, offset


def _ipv4(data, offset, end):
    """The IPv4 header at offset and its TCP/UDP ports and payload, or None when not IPv4 or cut."""
    if end < offset + 20 or data[offset] >> 4 != 4:
        return None
    ihl = (data[offset] & 15) * 4
    total = struct.unpack("!H", data[offset + 2:offset + 4])[0]
    if ihl < 20 or total < ihl or offset + total > end:
        return None
    flags_frag = struct.unpack("!H", data[offset + 6:offset + 8])[0]
    l3 = L3(offset=offset, header_length=ihl, total_length=total, protocol=data[offset + 9],
            src=str(ipaddress.IPv4Address(data[offset + 12:offset + 16])),
            dst=str(ipaddress.IPv4Address(data[offset + 16:offset + 20])),
            fragment=bool(flags_frag & 0x3FFF), ident=struct.unpack("!H", data[offset + 4:offset + 6])[0],
            fragment_offset=(flags_frag & 0x1FFF) * 8, more_fragments=bool(flags_frag & 0x2000))
    l4 = offset + ihl
    l3.l4_offset = l4
    stop = offset + total
    if l3.fragment and flags_frag & 0x1FFF:
        return l3
    if l3.protocol == PROTO_UDP and stop >= l4 + 8:
        l3.src_port, l3.dst_port, length = struct.unpack("!HHH", data[l4:l4 + 6])
        if 8 <= length <= stop - l4:
            l3.payload = bytes(data[l4 + 8:l4 + length])
    elif l3.protocol == PROTO_TCP and stop >= l4 + 20:
        l3.src_port, l3.dst_port = struct.unpack("!HH", data[l4:l4 + 4])
        doff = (data[l4 + 12] >> 4) * 4
        if 20 <= doff <= stop - l4:
            l3.payload = bytes(data[l4 + doff:stop])
            seq, ack = struct.unpack("!II", data[l4 + 4:l4 + 12])
            l3.tcp = Tcp(seq=seq, ack=ack, flags=data[l4 + 13] & 0x3F, options_offset=l4 + 20, options_end=l4 + doff)
    return l3


TCP_FIN, TCP_SYN, TCP_RST, TCP_ACK = 0x01, 0x02, 0x04, 0x10
TCPOPT_SACK, TCPOPT_TIMESTAMP = 5, 8


def tcp_options(data, tcp):
    """[(kind, offset of its value in data, length of its value)] of a segment's options."""
    out, i = [], tcp.options_offset
    while i < tcp.options_end:
        kind = data[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= tcp.options_end or data[i + 1] < 2 or i + data[i + 1] > tcp.options_end:
            break  # a malformed option list: what follows is not read
        out.append((kind, i + 2, data[i + 1] - 2))
        i += data[i + 1]
    return out


def tcp_timestamps(data, tcp):
    """(TSval, TSecr) of a segment, or None without the option."""
    for kind, at, length in tcp_options(data, tcp):
        if kind == TCPOPT_TIMESTAMP and length == 8:
            return struct.unpack("!II", data[at:at + 8])
    return None


def _whole(got):
    """The datagram's L4 bytes from {offset: (bytes, more fragments)}, or None while a piece is
    missing (the last piece, or a hole before it)."""
    ends = [at + len(b) for at, (b, more) in got.items() if not more]
    if not ends:
        return None
    covered = 0
    for at, (b, _) in sorted(got.items()):
        if at > covered:
            break
        covered = max(covered, at + len(b))
    if covered < ends[0]:
        return None
    whole = bytearray(ends[0])
    for at, (b, _) in sorted(got.items()):
        whole[at:at + len(b)] = b[:max(0, ends[0] - at)]
    return bytes(whole)


def reassemble_outer(classified, vxlan_ports):
    """Received outer IPv4 fragments (a VTEP fragmented the encapsulated datagram; the host
    reassembles it before UDP, as ip_local_deliver → ip_defrag does): classified with the piece that
    completes a datagram replaced by the whole datagram's frame (its `wire` the piece), and the
    pieces before it marked `outer_held`. classified is [(Frame, direction)]."""
    pieces, out = {}, []
    for f, d in classified:
        o = f.outer
        if d != "rx" or o is None or not o.fragment:
            out.append((f, d))
            continue
        key = (o.src, o.dst, o.protocol, o.ident)
        got = pieces.setdefault(key, {})
        got[o.fragment_offset] = (bytes(f.data[o.l4_offset:o.offset + o.total_length]), o.more_fragments)
        whole = _whole(got)
        if whole is None:
            f.outer_held = True
            out.append((f, d))
            continue
        del pieces[key]
        header = bytearray(f.data[o.offset:o.l4_offset])
        header[2:4] = struct.pack("!H", len(header) + len(whole))
        header[6:8] = b"\0\0"  # no MF, offset 0: as ip_frag_reasm leaves it
        header[10:12] = b"\0\0"
        header[10:12] = struct.pack("!H", 0xFFFF - _ones_complement_sum(bytes(header)))
        rebuilt = parse(f.number, f.ts_ns, bytes(f.data[:o.offset]) + bytes(header) + whole, vxlan_ports)
        rebuilt.wire = f.data
        out.append((rebuilt, d))
    return out


def datagrams(frames):
    """Inner (or plain) IPv4 fragments reassembled in capture order, as the receiving stack would:
    {frame number: the whole datagram's L4 payload} for the fragment that completes a datagram,
    and {frame number: None} for the fragments held until then. Frames are Frame objects of one
    direction (the received ones); a datagram never completed leaves its fragments held."""
    pieces, out = {}, {}
    for f in frames:
        l3 = f.delivered_l3()
        if l3 is None or not l3.fragment:
            continue
        key = (f.vni, l3.src, l3.dst, l3.protocol, l3.ident)
        got = pieces.setdefault(key, {})
        got[l3.fragment_offset] = (bytes(f.data[l3.l4_offset:l3.offset + l3.total_length]), l3.more_fragments)
        out[f.number] = None
        whole = _whole(got)
        if whole is None:
            continue
        del pieces[key]
        if l3.protocol == PROTO_UDP and len(whole) >= 8:
            length = struct.unpack("!H", whole[4:6])[0]
            out[f.number] = bytes(whole[8:length]) if 8 <= length <= len(whole) else b""
        elif l3.protocol == PROTO_TCP and len(whole) >= 20:
            out[f.number] = bytes(whole[(whole[12] >> 4) * 4:])
        else:
            out[f.number] = b""
    return out


def parse(number, ts_ns, data, vxlan_ports):
    """The frame's headers as far as they go; vxlan_ports are the scenario's VXLAN UDP ports."""
    f = Frame(number=number, ts_ns=ts_ns, data=data)
    eth = _ethernet(data, 0)
    if eth is None:
        f.notes.append("truncated_ethernet")
        return f
    f.dst_mac, f.src_mac, ethertype, offset = eth
    if ethertype != ETH_P_IP:
        return f
    f.outer = _ipv4(data, offset, len(data))
    o = f.outer
    if o is None or o.protocol != PROTO_UDP or o.dst_port not in vxlan_ports or len(o.payload) < 8:
        return f
    vx = o.payload
    if not vx[0] & 0x08:
        return f
    f.vni = int.from_bytes(vx[4:7], "big")
    start = o.l4_offset + 16
    inner = _ethernet(data, start)
    if inner is None:
        return f
    f.inner_dst_mac, f.inner_src_mac, inner_type, inner_offset = inner
    if inner_type == ETH_P_IP:
        f.inner = _ipv4(data, inner_offset, o.offset + o.total_length)
    return f


# Microsoft's RSS key (its specification's verification vectors use it), the simulator's too:
# sim/stages/nic_rx.h.
RSS_KEY = bytes.fromhex("6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa")
RSS_INDIRECTION_SLOTS = 128


def toeplitz(data, key=RSS_KEY):
    """The Toeplitz hash of data, most significant bit first (Microsoft's RSS specification)."""
    window = int.from_bytes(key, "big")
    key_bits = 8 * len(key)
    result = 0
    for i in range(8 * len(data)):
        if data[i // 8] >> (7 - i % 8) & 1:
            result ^= window >> (key_bits - 32 - i) & 0xFFFFFFFF
    return result


def rss_cpu(data, mode, cpus):
    """The CPU the simulator's NIC gives a received frame (sim/stages/nic_rx.cpp): the RSS hash of
    the outer IPv4 header (mode l4: with the ports, unless it is a fragment or not TCP/UDP; l3:
    the addresses; none: CPU 0), through a 128-slot indirection table spread round-robin."""
    f = parse(0, 0, data, set())
    o = f.outer
    if o is None or mode == "none":
        return 0
    addresses = bytes(data[o.offset + 12:o.offset + 20])
    if mode == "l4" and not o.fragment and o.protocol in (PROTO_TCP, PROTO_UDP) and \
            o.offset + o.header_length + 4 <= len(data):
        addresses += bytes(data[o.l4_offset:o.l4_offset + 4])
    return toeplitz(addresses) % RSS_INDIRECTION_SLOTS % cpus


def direction(frame, nic_ip, nic_mac):
    """rx, tx or other, by the rule of sim/stages/nic_rx.cpp (direction_of)."""
    if frame.outer is not None:
        if frame.outer.dst == nic_ip:
            return "rx"
        if frame.outer.src == nic_ip:
            return "tx"
    if frame.src_mac == nic_mac:
        return "tx"
    if frame.dst_mac == nic_mac or (frame.dst_mac and int(frame.dst_mac[:2], 16) & 1):
        return "rx"
    return "other"


def _ones_complement_sum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def _l4_checksum(data, l3):
    """The correct TCP/UDP checksum of the segment of l3 (with its checksum field taken as 0)."""
    seg = bytearray(data[l3.l4_offset:l3.offset + l3.total_length])
    field_at = 6 if l3.protocol == PROTO_UDP else 16
    seg[field_at:field_at + 2] = b"\0\0"
    pseudo = bytes(data[l3.offset + 12:l3.offset + 20]) + struct.pack("!BBH", 0, l3.protocol, len(seg))
    c = 0xFFFF - _ones_complement_sum(pseudo + bytes(seg))
    if l3.protocol == PROTO_UDP and c == 0:
        c = 0xFFFF
    return c


def with_l4_checksums_fixed(frame):
    """The frame's bytes with wrong outer and inner UDP/TCP checksums corrected, and how many were.

    A capture taken on a host holds CHECKSUM_PARTIAL values that the kernel never verified there
    (veth, offloads); injected by AF_PACKET the skb is CHECKSUM_NONE and would be verified. The
    simulator reports L4 checksums and does not enforce them (README), so the injected copy carries
    the values the sender's offload would have written. IPv4 header checksums are left as they are.
    UDP checksum 0 (none) is left alone; a fragment's checksum cannot be computed from one piece.
    """
    if frame.wire is not None:  # a piece of an outer datagram: its checksums are the sender's
        return frame.wire, 0
    data = bytearray(frame.data)
    fixed = 0
    # Inner first: the outer UDP checksum covers the inner packet.
    for l3 in (frame.inner, frame.outer):
        if l3 is None or l3.fragment or l3.protocol not in (PROTO_UDP, PROTO_TCP):
            continue
        field_at = l3.l4_offset + (6 if l3.protocol == PROTO_UDP else 16)
        if field_at + 2 > l3.offset + l3.total_length:
            continue
        current = struct.unpack("!H", data[field_at:field_at + 2])[0]
        if l3.protocol == PROTO_UDP and current == 0:
            continue
        right = _l4_checksum(data, l3)
        if current != right:
            data[field_at:field_at + 2] = struct.pack("!H", right)
            fixed += 1
    return bytes(data), fixed
