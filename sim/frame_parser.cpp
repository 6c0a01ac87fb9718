#include "frame_parser.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

namespace econsim::sim {

namespace {

enum class Effect { note, stop };

struct ReasonRow {
	ParseReason reason;
	std::string_view name;
	Effect effect;
	std::string_view why;
};

constexpr ReasonRow kReasonRows[] = {
#define ECONSIM_REASON_ROW(name, effect, why) {ParseReason::name, #name, Effect::effect, why},
	ECONSIM_PARSE_REASONS(ECONSIM_REASON_ROW)
#undef ECONSIM_REASON_ROW
};
static_assert(std::size(kReasonRows) <= 64, "ParsedFrame::reasons is a 64-bit mask");
static_assert([] {
	for (std::size_t i = 0; i < std::size(kReasonRows); ++i)
		if (static_cast<std::size_t>(kReasonRows[i].reason) != i)
			return false;
	return true;
}(), "the table is indexed by ParseReason");

constexpr auto kAllReasons = [] {
	std::array<ParseReason, std::size(kReasonRows)> all{};
	for (std::size_t i = 0; i < all.size(); ++i)
		all[i] = kReasonRows[i].reason;
	return all;
}();

const ReasonRow &row_of(ParseReason reason)
{
	return kReasonRows[static_cast<std::size_t>(reason)];
}

constexpr std::uint16_t kEthertypeIpv4 = 0x0800;
constexpr std::uint16_t kEthertypeVlan = 0x8100;
constexpr std::uint16_t kEthertypeQinQ = 0x88a8;
constexpr std::size_t kEthernetHeaderLength = 14;
constexpr std::size_t kSllHeaderLength = 16;
constexpr std::size_t kSll2HeaderLength = 20;
constexpr std::size_t kVlanTagLength = 4;
constexpr int kMaxVlanTags = 2;
constexpr std::size_t kMaxLengthField = 0xffff;

// The reasons that differ between the outer packet and the one inside VXLAN, so that one set of
// IPv4/TCP/UDP functions serves both levels.
struct LevelReasons {
	ParseReason link_truncated;
	ParseReason vlan_tagged;
	ParseReason not_ipv4;
	ParseReason ip_truncated;
	ParseReason bad_ip_version;
	ParseReason bad_ihl;
	ParseReason bad_ip_length;
	ParseReason bad_ip_checksum;
	ParseReason fragment;
	ParseReason l4_truncated;
	ParseReason bad_udp_length;
	ParseReason bad_udp_checksum;
	ParseReason bad_tcp_offset;
	ParseReason bad_tcp_checksum;
};

constexpr LevelReasons kOuter{
	ParseReason::truncated_ethernet, ParseReason::vlan_tagged,   ParseReason::not_ipv4,
	ParseReason::ip_truncated,       ParseReason::bad_ip_version, ParseReason::bad_ihl,
	ParseReason::bad_ip_length,      ParseReason::bad_ip_checksum, ParseReason::fragment,
	ParseReason::l4_truncated,       ParseReason::bad_udp_length, ParseReason::bad_udp_checksum,
	ParseReason::bad_tcp_offset,     ParseReason::bad_tcp_checksum,
};

constexpr LevelReasons kInner{
	ParseReason::inner_truncated,       ParseReason::inner_vlan_tagged,    ParseReason::inner_not_ipv4,
	ParseReason::inner_truncated,       ParseReason::inner_bad_ip_version, ParseReason::inner_bad_ihl,
	ParseReason::inner_bad_ip_length,   ParseReason::inner_bad_ip_checksum, ParseReason::inner_fragment,
	ParseReason::inner_truncated,       ParseReason::inner_bad_udp_length, ParseReason::inner_bad_udp_checksum,
	ParseReason::inner_bad_tcp_offset,  ParseReason::inner_bad_tcp_checksum,
};

// Ones' complement sum of 16-bit big-endian words (RFC 1071), not yet inverted, added to `sum`; 64
// bits wide so that a 256 KiB super-frame cannot overflow it. Every frame has two IPv4 headers and
// a UDP datagram summed, so it reads eight bytes at a time in the machine's byte order (a ones'
// complement sum of 64-bit words, the carry out added back in: RFC 1071, 2.(C)) and swaps the
// folded sum once: a ones' complement sum taken in the other byte order is the byte-swapped sum
// (RFC 1071, 2.(B)). The result is congruent modulo 0xffff to the word-by-word sum, and zero only
// when it is, which is all checksum_verifies looks at.
std::uint64_t sum_words(std::span<const std::uint8_t> data, std::uint64_t sum = 0)
{
	const std::uint8_t *p = data.data();
	std::size_t n = data.size();
	std::uint64_t native = 0;
	for (; n >= 8; p += 8, n -= 8) {
		std::uint64_t word;
		std::memcpy(&word, p, 8);
		native += word;
		native += native < word; // the end-around carry
	}
	if (n >= 4) {
		std::uint32_t word;
		std::memcpy(&word, p, 4);
		native += word;
		native += native < word;
		p += 4;
		n -= 4;
	}
	native = (native & 0xffffffff) + (native >> 32);
	while (native >> 16)
		native = (native & 0xffff) + (native >> 16);
	if constexpr (std::endian::native == std::endian::little)
		native = (native & 0xff) << 8 | native >> 8;
	sum += native;
	if (n >= 2) {
		sum += static_cast<std::uint64_t>(p[0] << 8 | p[1]);
		p += 2;
		n -= 2;
	}
	if (n)
		sum += static_cast<std::uint64_t>(p[0] << 8);
	return sum;
}

bool checksum_verifies(std::uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

// The TCP/UDP checksum covers a pseudo-header of addresses, protocol and L4 length (RFC 768, 793).
bool l4_checksum_verifies(const Ipv4Header &ip, std::span<const std::uint8_t> segment)
{
	std::uint64_t sum = (ip.src.value >> 16) + (ip.src.value & 0xffff) + (ip.dst.value >> 16) +
			    (ip.dst.value & 0xffff) + ip.protocol;
	// A segment over 64 KiB (BIG TCP) does not fit the 16-bit length; sum its 32-bit length as words.
	sum += (segment.size() >> 16) + (segment.size() & 0xffff);
	return checksum_verifies(sum_words(segment, sum));
}

class FrameParser {
public:
	FrameParser(ParsedFrame &frame, const ParserConfig &config) : frame_(frame), config_(config) {}

	void parse(int link_type)
	{
		if (!parse_capture_link(link_type))
			return;
		if (frame_.wire_length - frame_.link->length > config_.mtu)
			note(ParseReason::gso_oversize);
		if (!expect_ipv4(*frame_.link, kOuter))
			return;
		Ipv4Header &ip = frame_.outer_ip.emplace();
		if (!parse_ipv4(frame_.link->length, frame_.wire_length, kOuter, ip))
			return frame_.outer_ip.reset();
		TransportHeader &l4 = frame_.outer_l4.emplace();
		if (!parse_l4(ip, kOuter, l4))
			return frame_.outer_l4.reset();
		// The kernel would reassemble a fragmented tunnel packet first; the simulator does not.
		if (is_vxlan_port(l4) && !ip.is_fragment())
			parse_vxlan_payload(l4);
	}

private:
	ParsedFrame &frame_;
	const ParserConfig &config_;

	const std::uint8_t *at(std::size_t offset) const { return frame_.bytes.data() + offset; }
	// One load and a byte swap each (a field assembled byte by byte is four instructions, and a
	// frame reads about twenty of them).
	std::uint16_t be16(std::size_t offset) const
	{
		std::uint16_t value;
		std::memcpy(&value, at(offset), sizeof value);
		return ntohs(value);
	}
	std::uint32_t be32(std::size_t offset) const
	{
		std::uint32_t value;
		std::memcpy(&value, at(offset), sizeof value);
		return ntohl(value);
	}
	MacAddress mac_at(std::size_t offset) const
	{
		MacAddress mac;
		std::copy_n(at(offset), mac.bytes.size(), mac.bytes.begin());
		return mac;
	}

	void record(ParseReason reason) { frame_.reasons |= std::uint64_t{1} << static_cast<unsigned>(reason); }

	void note(ParseReason reason)
	{
		record(reason);
		if (frame_.reason == ParseReason::ok)
			frame_.reason = reason;
	}

	// The reason that ends the parse wins over earlier notes: an IPv6 super-frame is not_ipv4
	// first, gso_oversize second. Always false, so that a check reads `if (bad) return stop(r);`.
	bool stop(ParseReason reason)
	{
		record(reason);
		frame_.reason = reason;
		return false;
	}

	// Is [offset, offset + count) readable? Past `limit` (where the packet really ends) the packet
	// is short; inside it but past the captured bytes, the capture tool cut it.
	bool need(std::size_t offset, std::size_t count, std::size_t limit, ParseReason short_reason)
	{
		if (offset + count > limit)
			return stop(short_reason);
		if (offset + count > frame_.bytes.size())
			return stop(ParseReason::snapped);
		return true;
	}

	bool is_vxlan_port(const TransportHeader &l4) const
	{
		return l4.is_udp() && l4.has_ports() &&
		       std::find(config_.vxlan_ports.begin(), config_.vxlan_ports.end(), l4.dst_port) != config_.vxlan_ports.end();
	}

	// Each header is written where it stays (emplace, reset when the parse stops inside it): one
	// built on the stack and copied in was read back with wide loads right after its narrow stores,
	// a store-forwarding stall per header that was a fifth of the parser's time.
	bool parse_capture_link(int link_type)
	{
		if (!read_capture_link(frame_.link.emplace(), link_type)) {
			frame_.link.reset();
			return false;
		}
		return true;
	}

	bool read_capture_link(LinkHeader &link, int link_type)
	{
		link.link_type = link_type;
		std::size_t limit = frame_.wire_length;
		switch (link_type) {
		case kLinkTypeEthernet:
			if (!need(0, kEthernetHeaderLength, limit, ParseReason::truncated_ethernet))
				return false;
			link.dst = mac_at(0);
			link.src = mac_at(6);
			link.ethertype = be16(12);
			link.length = kEthernetHeaderLength;
			break;
		case kLinkTypeLinuxSll:
			// packet type, ARPHRD type, address length, 8 address bytes, protocol.
			if (!need(0, kSllHeaderLength, limit, ParseReason::truncated_ethernet))
				return false;
			link.sll_packet_type = static_cast<std::uint8_t>(be16(0));
			if (be16(4) == 6)
				link.src = mac_at(6);
			link.ethertype = be16(14);
			link.length = kSllHeaderLength;
			break;
		case kLinkTypeLinuxSll2:
			// protocol, reserved, interface index, ARPHRD type, packet type, address length, 8 address bytes.
			if (!need(0, kSll2HeaderLength, limit, ParseReason::truncated_ethernet))
				return false;
			link.ethertype = be16(0);
			link.sll_packet_type = *at(10);
			if (*at(11) == 6)
				link.src = mac_at(12);
			link.length = kSll2HeaderLength;
			break;
		default:
			return stop(ParseReason::unsupported_link_type);
		}
		return skip_vlan_tags(link, limit, kOuter);
	}

	bool skip_vlan_tags(LinkHeader &link, std::size_t limit, const LevelReasons &level)
	{
		while (link.ethertype == kEthertypeVlan || link.ethertype == kEthertypeQinQ) {
			if (link.vlan_tags == kMaxVlanTags)
				return stop(level.not_ipv4); // a third tag: no Linux setup here unwraps it
			std::size_t tag = link.offset + link.length;
			if (!need(tag, kVlanTagLength, limit, level.link_truncated))
				return false;
			std::uint16_t vlan_id = be16(tag) & 0x0fff;
			if (link.vlan_tags == 0)
				link.vlan_id = vlan_id;
			if (vlan_id != 0)
				note(level.vlan_tagged);
			link.ethertype = be16(tag + 2);
			link.length += kVlanTagLength;
			++link.vlan_tags;
		}
		return true;
	}

	bool expect_ipv4(const LinkHeader &link, const LevelReasons &level)
	{
		if (link.ethertype != kEthertypeIpv4)
			return stop(level.not_ipv4);
		return true;
	}

	// limit: where the enclosing packet ends (the wire length, or the end of the outer UDP payload).
	bool parse_ipv4(std::size_t offset, std::size_t limit, const LevelReasons &level, Ipv4Header &ip)
	{
		if (!need(offset, 20, limit, level.ip_truncated))
			return false;
		ip.offset = offset;
		if (*at(offset) >> 4 != 4)
			return stop(level.bad_ip_version);
		ip.header_length = static_cast<std::size_t>(*at(offset) & 0x0f) * 4;
		if (ip.header_length < 20)
			return stop(level.bad_ihl);
		if (!need(offset, ip.header_length, limit, level.ip_truncated))
			return false;
		std::size_t available = limit - offset;
		ip.total_length = be16(offset + 2);
		if (ip.total_length == 0 && available > kMaxLengthField)
			ip.total_length = available; // BIG TCP: the length does not fit the field
		if (ip.total_length < ip.header_length)
			return stop(level.bad_ip_length);
		if (ip.total_length > available)
			return stop(level.ip_truncated);
		ip.tos = *at(offset + 1);
		ip.id = be16(offset + 4);
		std::uint16_t fragment_field = be16(offset + 6);
		ip.dont_fragment = (fragment_field & 0x4000) != 0;
		ip.more_fragments = (fragment_field & 0x2000) != 0;
		ip.fragment_offset = static_cast<std::uint16_t>((fragment_field & 0x1fff) * 8);
		ip.ttl = *at(offset + 8);
		ip.protocol = *at(offset + 9);
		ip.checksum = be16(offset + 10);
		ip.src = Ipv4Address{be32(offset + 12)};
		ip.dst = Ipv4Address{be32(offset + 16)};
		ip.checksum_ok = checksum_verifies(sum_words(frame_.bytes.subspan(offset, ip.header_length)));
		if (!ip.checksum_ok)
			note(level.bad_ip_checksum);
		if (ip.is_fragment())
			note(level.fragment);
		return true;
	}

	// Only a first fragment carries the L4 header, and its lengths and checksum cover the whole
	// datagram, which the simulator does not reassemble: read the ports, check nothing else.
	bool parse_l4(const Ipv4Header &ip, const LevelReasons &level, TransportHeader &l4)
	{
		if (ip.fragment_offset != 0)
			return false;
		l4.offset = ip.payload_offset();
		l4.protocol = ip.protocol;
		if (ip.protocol == kIpProtoUdp)
			return parse_udp(ip, l4, level);
		if (ip.protocol == kIpProtoTcp)
			return parse_tcp(ip, l4, level);
		return true;
	}

	bool parse_udp(const Ipv4Header &ip, TransportHeader &udp, const LevelReasons &level)
	{
		if (!need(udp.offset, 8, ip.end(), level.l4_truncated))
			return false;
		udp.header_length = 8;
		udp.src_port = be16(udp.offset);
		udp.dst_port = be16(udp.offset + 2);
		udp.udp_length = be16(udp.offset + 4);
		udp.checksum = be16(udp.offset + 6);
		if (ip.is_fragment())
			return true;
		if (udp.udp_length == 0 && ip.payload_length() > kMaxLengthField)
			udp.udp_length = ip.payload_length(); // a UDP tunnel around BIG TCP, as for IPv4
		if (udp.udp_length < 8 || udp.udp_length > ip.payload_length())
			return stop(level.bad_udp_length);
		// Checksum 0 means "none" over IPv4 (RFC 768).
		if (udp.checksum != 0 && udp.offset + udp.udp_length <= frame_.bytes.size()) {
			udp.checksum_ok = l4_checksum_verifies(ip, frame_.bytes.subspan(udp.offset, udp.udp_length));
			if (!*udp.checksum_ok)
				note(level.bad_udp_checksum);
		}
		return true;
	}

	bool parse_tcp(const Ipv4Header &ip, TransportHeader &tcp, const LevelReasons &level)
	{
		if (!need(tcp.offset, 20, ip.end(), level.l4_truncated))
			return false;
		std::size_t header_length = static_cast<std::size_t>(*at(tcp.offset + 12) >> 4) * 4;
		if (header_length < 20 || tcp.offset + header_length > ip.end())
			return stop(level.bad_tcp_offset);
		if (!need(tcp.offset, header_length, ip.end(), level.l4_truncated))
			return false;
		tcp.header_length = header_length;
		tcp.src_port = be16(tcp.offset);
		tcp.dst_port = be16(tcp.offset + 2);
		tcp.tcp_seq = be32(tcp.offset + 4);
		tcp.tcp_ack = be32(tcp.offset + 8);
		tcp.tcp_flags = *at(tcp.offset + 13);
		tcp.tcp_window = be16(tcp.offset + 14);
		tcp.checksum = be16(tcp.offset + 16);
		if (!ip.is_fragment() && ip.end() <= frame_.bytes.size()) {
			tcp.checksum_ok = l4_checksum_verifies(ip, frame_.bytes.subspan(tcp.offset, ip.payload_length()));
			if (!*tcp.checksum_ok)
				note(level.bad_tcp_checksum);
		}
		return true;
	}

	void parse_vxlan_payload(const TransportHeader &udp)
	{
		std::size_t udp_end = udp.offset + udp.udp_length;
		std::size_t offset = udp.offset + udp.header_length;
		if (!need(offset, kVxlanHeaderLength, udp_end, ParseReason::vxlan_truncated))
			return;
		VxlanHeader &vxlan = frame_.vxlan.emplace();
		vxlan.offset = offset;
		vxlan.flags = *at(offset);
		vxlan.reserved_after_flags = be32(offset) & 0x00ffffff;
		vxlan.vni = be32(offset + 4) >> 8;
		vxlan.reserved_after_vni = *at(offset + 7);
		// vxlan_rcv: the I flag is required; then any flag or reserved bit it did not parse drops the
		// packet (a default device enables none of GBP, GPE or remote checksum offload).
		if (!(vxlan.flags & kVxlanFlagVni))
			note(ParseReason::vxlan_flags);
		if ((vxlan.flags & ~kVxlanFlagVni) != 0 || vxlan.reserved_after_flags != 0 || vxlan.reserved_after_vni != 0)
			note(ParseReason::vxlan_reserved);
		parse_inner_packet(offset + kVxlanHeaderLength, udp_end);
	}

	void parse_inner_packet(std::size_t offset, std::size_t limit)
	{
		if (!need(offset, kEthernetHeaderLength, limit, kInner.link_truncated))
			return;
		LinkHeader &eth = frame_.inner_eth.emplace();
		eth.offset = offset;
		eth.dst = mac_at(offset);
		eth.src = mac_at(offset + 6);
		eth.ethertype = be16(offset + 12);
		eth.length = kEthernetHeaderLength;
		if (!skip_vlan_tags(eth, limit, kInner))
			return frame_.inner_eth.reset();
		if (!expect_ipv4(eth, kInner))
			return;
		Ipv4Header &ip = frame_.inner_ip.emplace();
		if (!parse_ipv4(offset + eth.length, limit, kInner, ip))
			return frame_.inner_ip.reset();
		TransportHeader &l4 = frame_.inner_l4.emplace();
		if (!parse_l4(ip, kInner, l4))
			return frame_.inner_l4.reset();
		if (is_vxlan_port(l4))
			note(ParseReason::nested_vxlan);
	}
};

} // namespace

bool is_supported_link_type(int link_type)
{
	return link_type == kLinkTypeEthernet || link_type == kLinkTypeLinuxSll || link_type == kLinkTypeLinuxSll2;
}

std::string_view reason_name(ParseReason reason)
{
	return row_of(reason).name;
}

std::string_view reason_description(ParseReason reason)
{
	return row_of(reason).why;
}

bool reason_stops_parse(ParseReason reason)
{
	return row_of(reason).effect == Effect::stop;
}

std::optional<ParseReason> parse_reason_from_name(std::string_view name)
{
	for (const ReasonRow &row : kReasonRows)
		if (row.name == name)
			return row.reason;
	return std::nullopt;
}

std::span<const ParseReason> all_parse_reasons()
{
	return kAllReasons;
}

const Ipv4Header *ParsedFrame::flow_ip() const
{
	if (vxlan)
		return inner_ip ? &*inner_ip : nullptr;
	return outer_ip ? &*outer_ip : nullptr;
}

const TransportHeader *ParsedFrame::flow_l4() const
{
	if (vxlan)
		return inner_l4 ? &*inner_l4 : nullptr;
	return outer_l4 ? &*outer_l4 : nullptr;
}

std::span<const std::uint8_t> ParsedFrame::outer_header_bytes() const
{
	if (!vxlan)
		return {};
	return bytes.first(vxlan->offset + kVxlanHeaderLength);
}

ParsedFrame parse_frame(std::span<const std::uint8_t> bytes, std::size_t wire_length, int link_type,
			const ParserConfig &config)
{
	ParsedFrame frame;
	parse_frame(frame, bytes, wire_length, link_type, config);
	return frame;
}

void parse_frame(ParsedFrame &frame, std::span<const std::uint8_t> bytes, std::size_t wire_length, int link_type,
		 const ParserConfig &config)
{
	// What ParsedFrame{} holds, member by member: assigning a fresh one builds and copies a
	// temporary the size of every header, per frame. A member added to ParsedFrame is added here.
	frame.bytes = bytes;
	frame.wire_length = std::max(wire_length, bytes.size());
	frame.reason = ParseReason::ok;
	frame.reasons = 0;
	frame.link.reset();
	frame.outer_ip.reset();
	frame.outer_l4.reset();
	frame.vxlan.reset();
	frame.inner_eth.reset();
	frame.inner_ip.reset();
	frame.inner_l4.reset();
	FrameParser(frame, config).parse(link_type);
}

} // namespace econsim::sim
