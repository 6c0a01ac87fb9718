"""The remote end of the capture's TCP connections, played live against the kernel (tcpliveplay's
idea, our own code): the recorded client segments are injected with the acknowledgement numbers,
SACK edges and timestamp echoes the kernel's own segments call for, since the kernel picks its own
initial sequence number (ISN) and timestamp offset.

- A connection is the client's 4-tuple (the received segment's source and destination) and VNI.
- The recorded server ISN is the sequence number of the SYN-ACK the capture shows the host sending,
  in capture order (a later SYN-ACK on the same 4-tuple starts a new connection). The kernel's is
  that of the SYN-ACK it puts on the wire, read from the NIC's peer.
- A received segment keeps its own sequence number and TSval (the client's, which the kernel only
  echoes); its ACK number and SACK edges move from the recorded server sequence space to the
  kernel's (ack - recorded ISN + kernel ISN, modulo 2^32); a non-zero TSecr becomes the last TSval
  the kernel sent on the connection, as a live peer echoes it (RFC 7323 TS.Recent).
- A segment whose mapping needs what is not known (an ACK before the kernel sent its SYN-ACK, a
  TSecr before any TSval) is not injected: it is reported with the reason, never guessed.
- Transmitted segments are matched by what does not depend on the ISN or the clock: VNI, addresses
  and ports, flags, the sequence number relative to the host's ISN, the ACK number (the client's
  sequence space, the same in both) and the payload.
"""
import struct

import frames as framelib

MOD = 1 << 32


def _conn_of_rx(f):
    l3 = f.delivered_l3()
    return (f.vni, l3.src, l3.src_port, l3.dst, l3.dst_port)


def _conn_of_tx(f):
    l3 = f.delivered_l3()
    return (f.vni, l3.dst, l3.dst_port, l3.src, l3.src_port)


def is_tcp(f):
    l3 = f.delivered_l3()
    return l3 is not None and l3.tcp is not None and not l3.fragment


def is_syn_ack(l3):
    return l3.tcp.flags & (framelib.TCP_SYN | framelib.TCP_ACK) == framelib.TCP_SYN | framelib.TCP_ACK


class Unmapped(Exception):
    """A received segment that cannot be rewritten from what the kernel has sent so far."""


class TcpPeer:
    def __init__(self, classified):
        """classified: [(Frame, direction)] of the capture, in order."""
        self.recorded_isn_at = {}  # frame number -> the recorded server ISN of its connection then
        self.capture_key = {}  # frame number of a transmitted segment -> its match key
        isn = {}
        for f, d in classified:
            if not is_tcp(f) or d not in ("rx", "tx"):
                continue
            l3 = f.delivered_l3()
            if d == "tx":
                conn = _conn_of_tx(f)
                if is_syn_ack(l3):
                    isn[conn] = l3.tcp.seq
                self.capture_key[f.number] = self._key(f, isn.get(conn))
            else:
                self.recorded_isn_at[f.number] = isn.get(_conn_of_rx(f))
        self.kernel_isn = {}  # conn -> the ISN of the kernel's last SYN-ACK on it
        self.kernel_tsval = {}  # conn -> the TSval of the kernel's last segment on it

    @staticmethod
    def _key(f, isn):
        l3 = f.delivered_l3()
        relative = (l3.tcp.seq - isn) % MOD if isn is not None else ("raw", l3.tcp.seq)
        return (f.vni, "tcp", l3.src, l3.src_port, l3.dst, l3.dst_port, l3.tcp.flags, relative, l3.tcp.ack,
                l3.payload)

    def emitted(self, f):
        """A segment the host put on the wire: learn the kernel's ISN and TSval; its match key."""
        l3 = f.delivered_l3()
        conn = _conn_of_tx(f)
        if is_syn_ack(l3):
            self.kernel_isn[conn] = l3.tcp.seq
        ts = framelib.tcp_timestamps(f.data, l3.tcp)
        if ts is not None:
            self.kernel_tsval[conn] = ts[0]
        return self._key(f, self.kernel_isn.get(conn))

    def rewrite(self, f):
        """The bytes to inject for a received segment (checksums still to be corrected), or
        Unmapped with what is missing."""
        l3 = f.delivered_l3()
        conn = _conn_of_rx(f)
        data = bytearray(f.data)
        recorded, kernel = self.recorded_isn_at.get(f.number), self.kernel_isn.get(conn)

        def move(at):
            value = struct.unpack("!I", data[at:at + 4])[0]
            data[at:at + 4] = struct.pack("!I", (value - recorded + kernel) % MOD)

        needs_isn = l3.tcp.flags & framelib.TCP_ACK or any(
            k == framelib.TCPOPT_SACK for k, _, _ in framelib.tcp_options(f.data, l3.tcp))
        if needs_isn:
            if recorded is None:
                raise Unmapped("tcp_unmapped_no_recorded_syn_ack")
            if kernel is None:
                raise Unmapped("tcp_unmapped_no_kernel_syn_ack")
        if l3.tcp.flags & framelib.TCP_ACK:
            move(l3.l4_offset + 8)
        for kind, at, length in framelib.tcp_options(f.data, l3.tcp):
            if kind == framelib.TCPOPT_SACK:
                for edge in range(at, at + length - length % 4, 4):
                    move(edge)
            elif kind == framelib.TCPOPT_TIMESTAMP and length == 8:
                if struct.unpack("!I", data[at + 4:at + 8])[0] == 0:
                    continue  # nothing echoed (a SYN): nothing to map
                if conn not in self.kernel_tsval:
                    raise Unmapped("tcp_unmapped_no_kernel_tsval")
                data[at + 4:at + 8] = struct.pack("!I", self.kernel_tsval[conn])
        return bytes(data)
