// libFuzzer target: one captured frame's bytes -> parse_frame, and the parse's own promises checked.
//
// Input: byte 0 picks the link type (bits 0-2), the VXLAN ports (bits 3-4) and the MTU (bits 5-6);
// bit 7 says the capture was snapped, and then byte 1 says by how much (wire length = captured
// length + byte 1 * 64). The frame's bytes follow byte 1. The same bytes are then parsed a second
// time cut short (a snapped capture of the same packet), at a length taken from byte 1.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "frame_parser.h"
#include "fuzz_check.h"

using namespace econsim::sim;

namespace {

int link_type_of(std::uint8_t selector)
{
	switch (selector & 7) {
	case 5: return kLinkTypeLinuxSll;
	case 6: return kLinkTypeLinuxSll2;
	case 7: return 101; // LINKTYPE_RAW: not decoded here
	default: return kLinkTypeEthernet;
	}
}

ParserConfig config_of(std::uint8_t selector)
{
	static const std::vector<std::uint16_t> kPorts[] = {{4789}, {4789, 8472}, {}, {6081, 8472, 4789, 6080}};
	static const std::size_t kMtus[] = {1500, 9000, 68, 65535};
	ParserConfig config;
	config.vxlan_ports = kPorts[selector >> 3 & 3];
	config.mtu = kMtus[selector >> 5 & 3];
	return config;
}

bool within(std::size_t offset, std::size_t length, std::size_t size)
{
	return offset <= size && length <= size - offset;
}

void check_link(const LinkHeader &link, const ParsedFrame &f)
{
	CHECK(within(link.offset, link.length, f.bytes.size()));
	CHECK(link.vlan_tags >= 0 && link.vlan_tags <= 2);
	CHECK(link.ethertype != 0x8100 && link.ethertype != 0x88a8);
}

void check_ipv4(const Ipv4Header &ip, std::size_t after, std::size_t limit, const ParsedFrame &f)
{
	CHECK(ip.offset == after);
	CHECK(ip.header_length >= 20 && ip.header_length <= 60 && ip.header_length % 4 == 0);
	CHECK(within(ip.offset, ip.header_length, f.bytes.size()));
	CHECK(ip.total_length >= ip.header_length);
	CHECK(ip.end() <= limit);
	CHECK(ip.payload_offset() + ip.payload_length() == ip.end());
}

void check_l4(const TransportHeader &l4, const Ipv4Header &ip, const ParsedFrame &f)
{
	CHECK(l4.offset == ip.payload_offset());
	CHECK(l4.protocol == ip.protocol);
	if (!l4.has_ports()) {
		CHECK(l4.src_port == 0 && l4.dst_port == 0);
		CHECK(!l4.checksum_ok.has_value());
		return;
	}
	CHECK(l4.is_tcp() || l4.is_udp());
	CHECK(within(l4.offset, l4.header_length, f.bytes.size()));
	CHECK(l4.offset + l4.header_length <= ip.end());
	if (l4.is_udp()) {
		CHECK(l4.header_length == 8);
		if (!ip.is_fragment())
			CHECK(l4.udp_length >= 8 && l4.udp_length <= ip.payload_length());
	} else {
		CHECK(l4.header_length >= 20 && l4.header_length <= 60);
	}
	// A verified checksum was computed over bytes the capture holds, and never for a fragment.
	if (l4.checksum_ok) {
		CHECK(!ip.is_fragment());
		std::size_t covered = l4.is_udp() ? l4.udp_length : ip.payload_length();
		CHECK(within(l4.offset, covered, f.bytes.size()));
	}
}

void check_reasons(const ParsedFrame &f)
{
	std::size_t count = all_parse_reasons().size();
	CHECK(count <= 64);
	CHECK(count == 64 || f.reasons >> count == 0);
	CHECK(f.reason == ParseReason::ok ? f.reasons == 0 : f.has(f.reason));
	CHECK(!f.has(ParseReason::ok));
	int stops = 0;
	for (ParseReason r : all_parse_reasons()) {
		CHECK(parse_reason_from_name(reason_name(r)) == r);
		if (f.has(r) && reason_stops_parse(r)) {
			++stops;
			CHECK(f.reason == r); // the reason that ended the parse wins over earlier notes
		}
	}
	CHECK(stops <= 1);
	CHECK(f.ok() == (f.reason == ParseReason::ok));
}

// The headers are filled in order, each inside the one before, and every offset indexes the bytes.
void check_headers(const ParsedFrame &f, const ParserConfig &config)
{
	CHECK(f.wire_length >= f.bytes.size());
	if (f.outer_ip)
		CHECK(f.link);
	if (f.outer_l4)
		CHECK(f.outer_ip);
	if (f.vxlan)
		CHECK(f.outer_l4);
	if (f.inner_eth)
		CHECK(f.vxlan);
	if (f.inner_ip)
		CHECK(f.inner_eth);
	if (f.inner_l4)
		CHECK(f.inner_ip);

	if (f.link) {
		check_link(*f.link, f);
		CHECK(f.link->offset == 0);
	}
	if (f.outer_ip) {
		CHECK(f.link->ethertype == 0x0800);
		check_ipv4(*f.outer_ip, f.link->offset + f.link->length, f.wire_length, f);
	}
	if (f.outer_l4)
		check_l4(*f.outer_l4, *f.outer_ip, f);
	if (f.vxlan) {
		const TransportHeader &udp = *f.outer_l4;
		CHECK(udp.is_udp() && udp.has_ports() && !f.outer_ip->is_fragment());
		bool port_known = false;
		for (std::uint16_t port : config.vxlan_ports)
			port_known |= port == udp.dst_port;
		CHECK(port_known);
		CHECK(f.vxlan->offset == udp.offset + 8);
		CHECK(within(f.vxlan->offset, kVxlanHeaderLength, f.bytes.size()));
		CHECK(f.vxlan->vni <= 0xffffff && f.vxlan->reserved_after_flags <= 0xffffff);
		CHECK(f.outer_header_bytes().size() == f.vxlan->offset + kVxlanHeaderLength);
		CHECK(f.outer_header_bytes().data() == f.bytes.data());
	} else {
		CHECK(f.outer_header_bytes().empty());
	}
	if (f.inner_eth) {
		check_link(*f.inner_eth, f);
		CHECK(f.inner_eth->offset == f.vxlan->offset + kVxlanHeaderLength);
	}
	if (f.inner_ip) {
		CHECK(f.inner_eth->ethertype == 0x0800);
		check_ipv4(*f.inner_ip, f.inner_eth->offset + f.inner_eth->length,
			   f.outer_l4->offset + f.outer_l4->udp_length, f);
	}
	if (f.inner_l4)
		check_l4(*f.inner_l4, *f.inner_ip, f);
}

// flow_ip()/flow_l4(): the inner packet of a VXLAN frame, else the outer one, and the L4 header
// of the same packet.
void check_flow(const ParsedFrame &f)
{
	const Ipv4Header *ip = f.flow_ip();
	const TransportHeader *l4 = f.flow_l4();
	if (f.is_vxlan()) {
		CHECK(ip == (f.inner_ip ? &*f.inner_ip : nullptr));
		CHECK(l4 == (f.inner_l4 ? &*f.inner_l4 : nullptr));
	} else {
		CHECK(ip == (f.outer_ip ? &*f.outer_ip : nullptr));
		CHECK(l4 == (f.outer_l4 ? &*f.outer_l4 : nullptr));
	}
	if (l4) {
		CHECK(ip != nullptr);
		CHECK(l4->protocol == ip->protocol && l4->offset == ip->payload_offset());
	}
}

// Where a parse stopped says what it holds.
void check_stop(const ParsedFrame &f, int link_type)
{
	if (f.reason == ParseReason::unsupported_link_type) {
		CHECK(!is_supported_link_type(link_type));
		CHECK(!f.link);
	}
	if (!is_supported_link_type(link_type))
		CHECK(f.reason == ParseReason::unsupported_link_type && f.reasons == std::uint64_t{1} << static_cast<unsigned>(f.reason));
	if (f.reason == ParseReason::truncated_ethernet || f.reason == ParseReason::not_ipv4)
		CHECK(!f.outer_ip);
	if (f.ok())
		CHECK(f.link && f.outer_ip);
	if (f.has(ParseReason::nested_vxlan))
		CHECK(f.inner_l4 && f.inner_l4->is_udp());
	if (f.has(ParseReason::vxlan_flags) || f.has(ParseReason::vxlan_reserved))
		CHECK(f.vxlan.has_value());
}

void check(const ParsedFrame &f, std::span<const std::uint8_t> bytes, std::size_t wire, int link_type,
	   const ParserConfig &config)
{
	CHECK(f.bytes.data() == bytes.data() && f.bytes.size() == bytes.size());
	CHECK(f.wire_length == std::max(wire, bytes.size()));
	check_reasons(f);
	check_headers(f, config);
	check_flow(f);
	check_stop(f, link_type);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	if (size < 2)
		return 0;
	std::uint8_t selector = data[0], extra = data[1];
	int link_type = link_type_of(selector);
	ParserConfig config = config_of(selector);
	// The frame in a buffer of its own size, so that ASan sees any read past its end.
	std::vector<std::uint8_t> frame(data + 2, data + size);
	std::span<const std::uint8_t> bytes(frame);
	std::size_t wire = bytes.size() + (selector & 0x80 ? std::size_t{extra} * 64 : 0);

	ParsedFrame f = parse_frame(bytes, wire, link_type, config);
	check(f, bytes, wire, link_type, config);

	// The same packet as a capture tool that cut it shorter would hold it: the parse goes no
	// further, and unless it stopped at the cut, exactly as far.
	if (!bytes.empty()) {
		std::size_t cut = extra % bytes.size();
		std::vector<std::uint8_t> head(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut));
		ParsedFrame g = parse_frame(head, wire, link_type, config);
		check(g, head, wire, link_type, config);
		auto headers = [](const ParsedFrame &p) {
			return std::vector<bool>{p.link.has_value(),  p.outer_ip.has_value(),  p.outer_l4.has_value(),
						 p.vxlan.has_value(), p.inner_eth.has_value(), p.inner_ip.has_value(),
						 p.inner_l4.has_value()};
		};
		std::vector<bool> full = headers(f), cut_short = headers(g);
		for (std::size_t i = 0; i < full.size(); ++i)
			CHECK(full[i] || !cut_short[i]);
		if (!g.has(ParseReason::snapped))
			CHECK(full == cut_short);
		if (f.has(ParseReason::snapped))
			CHECK(g.has(ParseReason::snapped) || g.reason == ParseReason::unsupported_link_type);
	}
	return 0;
}
