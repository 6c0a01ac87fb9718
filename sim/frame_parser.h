// One captured frame's bytes -> a view of its headers (outer link, IPv4, TCP/UDP, VXLAN, inner
// Ethernet, IPv4, TCP/UDP) and the reasons it is not a clean packet. No socket or device semantics
// here: whether a frame is rx, tx or other, and what a reason means for its fate, is the pipeline's.
//
// Decisions (the "why" is next to each reason in the table below):
//  - The parse goes as far as the bytes allow. A reason marked `stop` ends it (the next header
//    cannot be located); a reason marked `note` is recorded and the parse goes on, so that a later
//    stage can still see the flow of, say, a frame with a bad checksum: ECON's fast path looks up
//    such frames before validating them (econ-spec B1), vanilla drops them.
//  - `reason` is the one that ended the parse, else the first note in header order; `has()`
//    answers for any of them.
//  - VLAN: up to two 802.1Q/802.1ad tags are decoded, outer and inner. A priority tag (VLAN ID 0)
//    is accepted as Linux does; any other ID is `vlan_tagged`/`inner_vlan_tagged`, because the
//    scenario has no VLAN devices and Linux marks such a frame PACKET_OTHERHOST.
//  - Checksums: the IPv4 header checksum is always checked; the UDP (when non-zero) and TCP checksums
//    are checked when the whole segment was captured, outer and inner. All are `note`s, because
//    captures taken on the sender show CHECKSUM_PARTIAL values and GRO super-frames carry unfinished
//    ones; the pipeline decides which matter (Linux verifies the outer UDP checksum before handing
//    the packet to the VXLAN socket, udp_queue_rcv_one_skb).
//  - Lengths: the real packet is bounded by the wire length, the visible part by the captured
//    length. A header past the wire length is a truncation reason (the packet is short and Linux
//    drops it); a header inside the wire length but past the captured bytes is `snapped` (the capture
//    tool cut it). A length field of 0 on a packet longer than 64 KiB means "take it from the frame",
//    as Linux does for BIG TCP (iph_totlen) and tcpdump presumes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "address.h"

namespace econsim::sim {

// pcap LINKTYPE_ numbers of the link layers decoded here (the same values as libpcap's DLT_).
inline constexpr int kLinkTypeEthernet = 1;
inline constexpr int kLinkTypeLinuxSll = 113;
inline constexpr int kLinkTypeLinuxSll2 = 276;

bool is_supported_link_type(int link_type);

// The one table of parse reasons: name (snake_case, as printed in verdicts), effect, why.
#define ECONSIM_PARSE_REASONS(X)                                                                              \
	X(ok, note, "every header checked out")                                                               \
	X(unsupported_link_type, stop, "the capture's link layer is not Ethernet or Linux cooked (SLL, SLL2)") \
	X(truncated_ethernet, stop, "shorter than the link-layer header, or a VLAN tag is cut")               \
	X(snapped, stop, "the capture's snap length cut the frame before a header this parse needs")          \
	X(gso_oversize, note, "layer-3 length over the MTU: a GRO/TSO super-frame seen by the capture tool")  \
	X(vlan_tagged, note, "outer VLAN tag with a non-zero ID; no VLAN device, Linux sets PACKET_OTHERHOST") \
	X(not_ipv4, stop, "outer ethertype is not IPv4 (ARP, IPv6, ...)")                                     \
	X(bad_ip_version, stop, "ethertype IPv4, version field not 4")                                        \
	X(bad_ihl, stop, "IPv4 IHL below 5")                                                                  \
	X(bad_ip_length, stop, "IPv4 total length shorter than the header, or 0 on a packet under 64 KiB")    \
	X(ip_truncated, stop, "the frame ends before the IPv4 header or total length does")                   \
	X(bad_ip_checksum, note, "IPv4 header checksum wrong")                                                \
	X(fragment, note, "IPv4 fragment (MF or offset non-zero); not reassembled, no L4 past the first")     \
	X(l4_truncated, stop, "the IPv4 payload ends before the TCP or UDP header does")                      \
	X(bad_udp_length, stop, "UDP length below 8 or past the IPv4 payload")                                \
	X(bad_udp_checksum, note, "UDP checksum non-zero and wrong")                                          \
	X(bad_tcp_offset, stop, "TCP data offset below 5 or past the IPv4 payload")                           \
	X(bad_tcp_checksum, note, "TCP checksum wrong")                                                       \
	X(vxlan_truncated, stop, "UDP payload to a VXLAN port shorter than the 8-byte VXLAN header")          \
	X(vxlan_flags, note, "VXLAN I flag not set; vxlan_rcv drops it")                                      \
	X(vxlan_reserved, note, "VXLAN flag other than I, or reserved bits, set; vxlan_rcv drops it")         \
	X(inner_truncated, stop, "an inner header or inner IPv4 total length runs past the UDP payload")      \
	X(inner_vlan_tagged, note, "inner VLAN tag with a non-zero ID; the container has no VLAN device")     \
	X(inner_not_ipv4, stop, "inner ethertype is not IPv4 (ARP, IPv6, ...)")                               \
	X(inner_bad_ip_version, stop, "inner ethertype IPv4, version field not 4")                            \
	X(inner_bad_ihl, stop, "inner IPv4 IHL below 5")                                                      \
	X(inner_bad_ip_length, stop, "inner IPv4 total length shorter than the header, or 0 under 64 KiB")    \
	X(inner_bad_ip_checksum, note, "inner IPv4 header checksum wrong")                                    \
	X(inner_fragment, note, "inner IPv4 fragment; no L4 past the first")                                  \
	X(inner_bad_udp_length, stop, "inner UDP length below 8 or past the inner IPv4 payload")              \
	X(inner_bad_udp_checksum, note, "inner UDP checksum non-zero and wrong")                              \
	X(inner_bad_tcp_offset, stop, "inner TCP data offset below 5 or past the inner IPv4 payload")         \
	X(inner_bad_tcp_checksum, note, "inner TCP checksum wrong")                                           \
	X(nested_vxlan, note, "inner UDP to a VXLAN port: a tunnel in the tunnel, not decapsulated again")

enum class ParseReason : std::uint8_t {
#define ECONSIM_REASON_ENUM(name, effect, why) name,
	ECONSIM_PARSE_REASONS(ECONSIM_REASON_ENUM)
#undef ECONSIM_REASON_ENUM
};

std::string_view reason_name(ParseReason reason);
std::string_view reason_description(ParseReason reason);
bool reason_stops_parse(ParseReason reason);
std::optional<ParseReason> parse_reason_from_name(std::string_view name);
std::span<const ParseReason> all_parse_reasons();

// A link-layer header: the capture's (Ethernet or Linux cooked) or the inner Ethernet of VXLAN.
struct LinkHeader {
	int link_type = kLinkTypeEthernet;
	std::size_t offset = 0;
	std::size_t length = 0;                     // up to the network header, VLAN tags included
	std::optional<MacAddress> dst;              // Ethernet only
	std::optional<MacAddress> src;              // Ethernet; Linux cooked when the address is 6 bytes
	std::optional<std::uint8_t> sll_packet_type; // Linux cooked: 0 host, 1 broadcast, 2 multicast, 3 other host, 4 outgoing
	std::uint16_t ethertype = 0;                // after any VLAN tags
	int vlan_tags = 0;
	std::uint16_t vlan_id = 0;                  // of the outermost tag
};

struct Ipv4Header {
	std::size_t offset = 0;
	std::size_t header_length = 0;  // IHL * 4
	std::size_t total_length = 0;   // as used: the field, or the bytes available when the field is 0
	std::uint8_t tos = 0;
	std::uint8_t ttl = 0;
	std::uint8_t protocol = 0;
	std::uint16_t id = 0;
	bool dont_fragment = false;
	bool more_fragments = false;
	std::uint16_t fragment_offset = 0; // in bytes
	std::uint16_t checksum = 0;
	bool checksum_ok = false;
	Ipv4Address src;
	Ipv4Address dst;

	bool is_fragment() const { return more_fragments || fragment_offset != 0; }
	std::size_t payload_offset() const { return offset + header_length; }
	std::size_t payload_length() const { return total_length - header_length; }
	std::size_t end() const { return offset + total_length; }
};

inline constexpr std::uint8_t kIpProtoTcp = 6;
inline constexpr std::uint8_t kIpProtoUdp = 17;

// TCP, UDP, or only the protocol number for anything else (header_length 0, ports 0).
struct TransportHeader {
	std::size_t offset = 0;
	std::size_t header_length = 0;  // 8 for UDP, data offset * 4 for TCP
	std::uint8_t protocol = 0;
	std::uint16_t src_port = 0;
	std::uint16_t dst_port = 0;
	std::uint16_t checksum = 0;
	std::optional<bool> checksum_ok; // nullopt: not verified (UDP 0, a fragment, or not all captured)
	std::size_t udp_length = 0;      // UDP: the field, or the IPv4 payload length when the field is 0
	std::uint32_t tcp_seq = 0;
	std::uint32_t tcp_ack = 0;
	std::uint8_t tcp_flags = 0;      // FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20 ECE 0x40 CWR 0x80
	std::uint16_t tcp_window = 0;

	bool is_tcp() const { return protocol == kIpProtoTcp; }
	bool is_udp() const { return protocol == kIpProtoUdp; }
	bool has_ports() const { return header_length != 0; }
};

inline constexpr std::uint8_t kVxlanFlagVni = 0x08; // the I flag (RFC 7348; VXLAN_HF_VNI in Linux)
inline constexpr std::size_t kVxlanHeaderLength = 8;

struct VxlanHeader {
	std::size_t offset = 0;
	std::uint8_t flags = 0;
	std::uint32_t reserved_after_flags = 0; // 24 bits
	std::uint32_t vni = 0;                  // 24 bits
	std::uint8_t reserved_after_vni = 0;
};

struct ParserConfig {
	std::vector<std::uint16_t> vxlan_ports{4789}; // UDP destination ports of the host's VXLAN devices
	std::size_t mtu = 1500;                        // of the NIC; a longer layer-3 packet is gso_oversize
};

struct ParsedFrame {
	std::span<const std::uint8_t> bytes; // the captured bytes; every offset below indexes them
	std::size_t wire_length = 0;
	ParseReason reason = ParseReason::ok; // the one that stopped the parse, else the first note
	std::uint64_t reasons = 0;            // one bit per ParseReason met

	// Filled in header order, each only when its header was read; "outer" is the first IPv4
	// header, also for a plain (not encapsulated) packet.
	std::optional<LinkHeader> link;
	std::optional<Ipv4Header> outer_ip;
	std::optional<TransportHeader> outer_l4;
	std::optional<VxlanHeader> vxlan;
	std::optional<LinkHeader> inner_eth;
	std::optional<Ipv4Header> inner_ip;
	std::optional<TransportHeader> inner_l4;

	bool ok() const { return reason == ParseReason::ok; }
	bool has(ParseReason r) const { return (reasons >> static_cast<unsigned>(r) & 1) != 0; }
	bool is_vxlan() const { return vxlan.has_value(); }
	bool captured_whole() const { return bytes.size() >= wire_length; }

	// The packet a socket would see: the inner one of a VXLAN frame, else the outer one.
	const Ipv4Header *flow_ip() const;
	const TransportHeader *flow_l4() const;

	// The encapsulation a VXLAN device writes on transmit (link, IPv4, UDP and VXLAN headers, in
	// frame order), for comparing a transmitted frame's outer headers; empty unless is_vxlan().
	std::span<const std::uint8_t> outer_header_bytes() const;
};

// bytes: the captured part of the frame; wire_length: its length on the wire (>= bytes.size()).
ParsedFrame parse_frame(std::span<const std::uint8_t> bytes, std::size_t wire_length, int link_type,
			const ParserConfig &config);
// The same into `frame`, every member of it rewritten (the replay parses into the packet it reuses).
void parse_frame(ParsedFrame &frame, std::span<const std::uint8_t> bytes, std::size_t wire_length, int link_type,
		 const ParserConfig &config);

} // namespace econsim::sim
