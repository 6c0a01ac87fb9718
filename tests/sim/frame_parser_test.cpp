#include "frame_parser.h"

#include <gtest/gtest.h>

#include <cctype>
#include <set>

#include "test_frames.h"

namespace econsim::sim {
namespace {

using test::Bytes;
using test::endpoint;

// Offsets in test::simple_vxlan_udp_frame().
constexpr std::size_t kOuterIp = 14;
constexpr std::size_t kOuterUdp = 34;
constexpr std::size_t kVxlan = 42;
constexpr std::size_t kInnerEth = 50;
constexpr std::size_t kInnerIp = 64;
constexpr std::size_t kInnerUdp = 84;

ParsedFrame parse(const Bytes &frame, ParserConfig config = {})
{
	return parse_frame(frame, frame.size(), kLinkTypeEthernet, config);
}

Bytes inner_frame(const Bytes &ip_packet, std::uint16_t ethertype = 0x0800)
{
	return test::ethernet_frame(ip_packet, ethertype, test::kContainerMac, test::kRemoteContainerMac);
}

#define EXPECT_REASON(frame, expected) \
	EXPECT_EQ(reason_name((frame).reason), reason_name(ParseReason::expected))

TEST(FrameParser, DecodesVxlanUdpFrame)
{
	Bytes bytes = test::simple_vxlan_udp_frame();
	ParsedFrame frame = parse(bytes);
	EXPECT_REASON(frame, ok);
	EXPECT_EQ(frame.reasons, 0u);
	ASSERT_TRUE(frame.link && frame.outer_ip && frame.outer_l4 && frame.vxlan && frame.inner_eth && frame.inner_ip &&
		    frame.inner_l4);
	EXPECT_EQ(frame.link->dst, test::kHostMac);
	EXPECT_EQ(to_string(frame.outer_ip->src), "192.168.0.1");
	EXPECT_EQ(frame.outer_l4->dst_port, 4789);
	EXPECT_EQ(frame.outer_l4->checksum_ok, true);
	EXPECT_EQ(frame.vxlan->vni, 42u);
	EXPECT_EQ(frame.inner_eth->dst, test::kContainerMac);
	EXPECT_EQ(frame.inner_eth->offset, kInnerEth);
	EXPECT_EQ(frame.inner_ip->offset, kInnerIp);
	EXPECT_EQ(to_string(frame.flow_ip()->dst), "10.233.1.2");
	EXPECT_TRUE(frame.flow_l4()->is_udp());
	EXPECT_EQ(frame.flow_l4()->src_port, 4000);
	EXPECT_EQ(frame.flow_l4()->dst_port, 5000);
	EXPECT_EQ(frame.flow_l4()->checksum_ok, true);
	EXPECT_EQ(frame.flow_l4()->offset, kInnerUdp);
	EXPECT_EQ(frame.outer_header_bytes().size(), kInnerEth);
}

TEST(FrameParser, DecodesPlainTcpAndLeavesOuterHeaderBytesEmpty)
{
	Bytes bytes = test::ethernet_frame(test::tcp_packet(endpoint("192.168.0.1:40000"), endpoint("192.168.0.2:80"), 0x02, {}));
	ParsedFrame frame = parse(bytes);
	EXPECT_REASON(frame, ok);
	EXPECT_FALSE(frame.is_vxlan());
	ASSERT_TRUE(frame.flow_l4());
	EXPECT_TRUE(frame.flow_l4()->is_tcp());
	EXPECT_EQ(frame.flow_l4()->tcp_flags, 0x02);
	EXPECT_EQ(frame.flow_l4()->header_length, 20u);
	EXPECT_EQ(frame.flow_l4()->checksum_ok, true);
	EXPECT_TRUE(frame.outer_header_bytes().empty());
}

TEST(FrameParser, OtherProtocolsKeepOnlyTheProtocolNumber)
{
	Bytes icmp{8, 0, 0xf7, 0xff, 0, 0, 0, 0};
	ParsedFrame frame = parse(test::ethernet_frame(test::ipv4_packet(*parse_ipv4("10.0.0.1"), *parse_ipv4("10.0.0.2"), 1, icmp)));
	EXPECT_REASON(frame, ok);
	ASSERT_TRUE(frame.outer_l4);
	EXPECT_EQ(frame.outer_l4->protocol, 1);
	EXPECT_FALSE(frame.outer_l4->has_ports());
}

TEST(FrameParser, EthernetPaddingIsNotPartOfThePacket)
{
	Bytes bytes = test::ethernet_frame(test::udp_packet(endpoint("10.0.0.1:1"), endpoint("10.0.0.2:2"), {}));
	bytes.resize(60, 0); // 42 bytes of headers, padded to the Ethernet minimum
	ParsedFrame frame = parse(bytes);
	EXPECT_REASON(frame, ok);
	EXPECT_EQ(frame.outer_ip->total_length, 28u);
	EXPECT_EQ(frame.outer_l4->udp_length, 8u);
}

TEST(FrameParser, TruncatedEthernet)
{
	EXPECT_REASON(parse(Bytes(10, 0)), truncated_ethernet);
	EXPECT_REASON(parse(Bytes{}), truncated_ethernet);
}

TEST(FrameParser, Ipv6AndArpAreNotIpv4)
{
	Bytes ipv6 = test::ethernet_frame(Bytes(40, 0), 0x86dd);
	Bytes arp = test::ethernet_frame(Bytes(28, 0), 0x0806);
	EXPECT_REASON(parse(ipv6), not_ipv4);
	EXPECT_REASON(parse(arp), not_ipv4);
	EXPECT_FALSE(parse(arp).outer_ip);
}

TEST(FrameParser, BadVersionAndBadIhlStop)
{
	Bytes version = test::simple_vxlan_udp_frame();
	version[kOuterIp] = 0x65;
	EXPECT_REASON(parse(version), bad_ip_version);

	Bytes ihl = test::simple_vxlan_udp_frame();
	ihl[kOuterIp] = 0x44;
	ParsedFrame frame = parse(ihl);
	EXPECT_REASON(frame, bad_ihl);
	EXPECT_FALSE(frame.outer_ip);
	EXPECT_FALSE(frame.outer_l4);
}

TEST(FrameParser, WrongIpChecksumIsNotedAndTheParseGoesOn)
{
	Bytes bytes = test::simple_vxlan_udp_frame();
	bytes[kOuterIp + 8] = 3; // TTL changed, checksum left alone
	ParsedFrame frame = parse(bytes);
	EXPECT_REASON(frame, bad_ip_checksum);
	EXPECT_FALSE(frame.outer_ip->checksum_ok);
	ASSERT_TRUE(frame.inner_l4); // ECON's fast path looks these up before validating (econ-spec B1)
	EXPECT_EQ(frame.inner_l4->dst_port, 5000);

	Bytes inner = test::simple_vxlan_udp_frame();
	inner[kInnerIp + 8] = 3;
	EXPECT_REASON(parse(inner), bad_udp_checksum); // the outer UDP checksum covers the inner header
	EXPECT_TRUE(parse(inner).has(ParseReason::inner_bad_ip_checksum));
}

TEST(FrameParser, TotalLengthPastTheFrameIsIpTruncated)
{
	Bytes bytes = test::simple_vxlan_udp_frame();
	test::put_be16(bytes, kOuterIp + 2, static_cast<std::uint16_t>(bytes.size() - kOuterIp + 1));
	test::fix_ipv4_checksum(bytes, kOuterIp);
	EXPECT_REASON(parse(bytes), ip_truncated);

	Bytes header = test::simple_vxlan_udp_frame();
	header.resize(kOuterIp + 12);
	EXPECT_REASON(parse(header), ip_truncated);
}

TEST(FrameParser, ZeroTotalLengthIsBigTcpOnlyOver64KiB)
{
	Bytes small = test::simple_vxlan_udp_frame();
	test::put_be16(small, kOuterIp + 2, 0);
	test::fix_ipv4_checksum(small, kOuterIp);
	EXPECT_REASON(parse(small), bad_ip_length);

	Bytes payload(70000, 'x');
	Bytes big = test::ethernet_frame(test::tcp_packet(endpoint("10.0.0.1:1"), endpoint("10.0.0.2:2"), 0x18, payload));
	test::put_be16(big, kOuterIp + 2, 0); // what BIG TCP writes, since 70040 does not fit
	test::fix_ipv4_checksum(big, kOuterIp);
	ParsedFrame frame = parse(big);
	EXPECT_REASON(frame, gso_oversize);
	EXPECT_EQ(frame.reasons, std::uint64_t{1} << static_cast<unsigned>(ParseReason::gso_oversize));
	EXPECT_EQ(frame.outer_ip->total_length, 70040u);
	EXPECT_EQ(frame.outer_l4->checksum_ok, true);
}

TEST(FrameParser, ChecksumOfTheLargestCapturableFrame)
{
	// libpcap's largest snap length is 256 KiB; all-ones words are the worst case for the sum.
	Bytes big = test::ethernet_frame(test::tcp_packet(endpoint("10.0.0.1:1"), endpoint("10.0.0.2:2"), 0x18, Bytes(262000, 0xff)));
	test::put_be16(big, kOuterIp + 2, 0);
	test::fix_ipv4_checksum(big, kOuterIp);
	ParsedFrame frame = parse(big);
	EXPECT_EQ(frame.outer_l4->checksum_ok, true);
}

TEST(FrameParser, FirstFragmentKeepsPortsButIsNotDecapsulated)
{
	Bytes bytes = test::simple_vxlan_udp_frame();
	bytes[kOuterIp + 6] |= 0x20; // MF
	test::fix_ipv4_checksum(bytes, kOuterIp);
	ParsedFrame frame = parse(bytes);
	EXPECT_REASON(frame, fragment);
	ASSERT_TRUE(frame.outer_l4);
	EXPECT_EQ(frame.outer_l4->dst_port, 4789);
	EXPECT_FALSE(frame.outer_l4->checksum_ok);
	EXPECT_FALSE(frame.vxlan);
}

TEST(FrameParser, LaterFragmentHasNoTransportHeader)
{
	Bytes bytes = test::simple_vxlan_udp_frame();
	test::put_be16(bytes, kOuterIp + 6, 104 / 8); // offset 104 bytes, DF cleared
	test::fix_ipv4_checksum(bytes, kOuterIp);
	ParsedFrame frame = parse(bytes);
	EXPECT_REASON(frame, fragment);
	EXPECT_EQ(frame.outer_ip->fragment_offset, 104);
	EXPECT_FALSE(frame.outer_l4);
}

TEST(FrameParser, InnerFragment)
{
	Bytes inner = test::udp_packet(endpoint("10.233.2.2:4000"), endpoint("10.233.1.2:5000"), Bytes(16, 1));
	inner[6] |= 0x20;
	test::fix_ipv4_checksum(inner, 0);
	ParsedFrame frame = parse(test::vxlan_frame(42, inner_frame(inner)));
	EXPECT_REASON(frame, inner_fragment);
	ASSERT_TRUE(frame.inner_l4);
	EXPECT_EQ(frame.inner_l4->dst_port, 5000);
}

TEST(FrameParser, UdpLengthBelowHeaderOrPastPayload)
{
	Bytes shorter = test::simple_vxlan_udp_frame();
	test::put_be16(shorter, kOuterUdp + 4, 4);
	EXPECT_REASON(parse(shorter), bad_udp_length);

	Bytes longer = test::simple_vxlan_udp_frame();
	test::put_be16(longer, kOuterUdp + 4, static_cast<std::uint16_t>(longer.size() - kOuterUdp + 1));
	EXPECT_REASON(parse(longer), bad_udp_length);
}

TEST(FrameParser, WrongUdpChecksumsAreNoted)
{
	Bytes bytes = test::simple_vxlan_udp_frame();
	bytes.back() ^= 0xff; // payload changed: both the inner and the outer UDP checksum break
	ParsedFrame frame = parse(bytes);
	EXPECT_REASON(frame, bad_udp_checksum);
	EXPECT_TRUE(frame.has(ParseReason::inner_bad_udp_checksum));
	EXPECT_EQ(frame.inner_l4->checksum_ok, false);

	Bytes no_checksum = bytes;
	test::put_be16(no_checksum, kOuterUdp + 6, 0); // "no checksum" over IPv4
	frame = parse(no_checksum);
	EXPECT_REASON(frame, inner_bad_udp_checksum);
	EXPECT_FALSE(frame.outer_l4->checksum_ok.has_value());
}

TEST(FrameParser, TcpDataOffsetOutOfRange)
{
	Bytes bytes = test::ethernet_frame(test::tcp_packet(endpoint("10.0.0.1:1"), endpoint("10.0.0.2:2"), 0x10, {}));
	bytes[kOuterIp + 20 + 12] = 4 << 4;
	EXPECT_REASON(parse(bytes), bad_tcp_offset);
	bytes[kOuterIp + 20 + 12] = 6 << 4; // 24 bytes of header in a 20-byte segment
	EXPECT_REASON(parse(bytes), bad_tcp_offset);
}

TEST(FrameParser, WrongTcpChecksum)
{
	Bytes inner = test::tcp_packet(endpoint("10.233.2.2:4000"), endpoint("10.233.1.2:80"), 0x02, {});
	test::put_be16(inner, 20 + 16, 0xdead);
	ParsedFrame frame = parse(test::vxlan_frame(42, inner_frame(inner)));
	EXPECT_REASON(frame, inner_bad_tcp_checksum);
	EXPECT_EQ(frame.inner_l4->tcp_flags, 0x02);
}

TEST(FrameParser, VxlanWithoutIFlag)
{
	Bytes bytes = test::simple_vxlan_udp_frame();
	bytes[kVxlan] = 0x00;
	test::put_be16(bytes, kOuterUdp + 6, 0); // keep the outer checksum out of the way
	ParsedFrame frame = parse(bytes);
	EXPECT_REASON(frame, vxlan_flags);
	EXPECT_FALSE(frame.has(ParseReason::vxlan_reserved));
	EXPECT_TRUE(frame.inner_l4); // ECON does not check the flags; the pipeline must see the flow
}

TEST(FrameParser, VxlanReservedBitsAndOtherFlags)
{
	Bytes flags = test::simple_vxlan_udp_frame();
	flags[kVxlan] = 0xff; // as in suricata-verify's vxlan-non-zero-reserved-fields
	test::put_be16(flags, kOuterUdp + 6, 0);
	EXPECT_REASON(parse(flags), vxlan_reserved);

	Bytes reserved = test::simple_vxlan_udp_frame();
	reserved[kVxlan + 7] = 0x01;
	test::put_be16(reserved, kOuterUdp + 6, 0);
	EXPECT_REASON(parse(reserved), vxlan_reserved);
	EXPECT_EQ(parse(reserved).vxlan->vni, 42u);
}

TEST(FrameParser, VxlanPortsComeFromTheConfig)
{
	Bytes bytes = test::simple_vxlan_udp_frame();
	ParserConfig flannel;
	flannel.vxlan_ports = {8472};
	ParsedFrame frame = parse(bytes, flannel);
	EXPECT_REASON(frame, ok);
	EXPECT_FALSE(frame.is_vxlan()); // plain UDP to 4789: a socket lookup, not a decapsulation
	EXPECT_EQ(frame.flow_l4()->dst_port, 4789);
}

TEST(FrameParser, VxlanHeaderCutShort)
{
	Bytes bytes = test::ethernet_frame(test::udp_packet(endpoint("192.168.0.1:1"), endpoint("192.168.0.2:4789"), Bytes(5, 8)));
	EXPECT_REASON(parse(bytes), vxlan_truncated);
}

TEST(FrameParser, TruncatedInnerHeaders)
{
	Bytes eth = test::vxlan_frame(42, Bytes(10, 0));
	EXPECT_REASON(parse(eth), inner_truncated);

	Bytes inner = test::udp_packet(endpoint("10.233.2.2:4000"), endpoint("10.233.1.2:5000"), {});
	inner.resize(16); // an inner IPv4 header cut at 16 bytes
	EXPECT_REASON(parse(test::vxlan_frame(42, inner_frame(inner))), inner_truncated);

	Bytes total = test::udp_packet(endpoint("10.233.2.2:4000"), endpoint("10.233.1.2:5000"), {});
	test::put_be16(total, 2, 200);
	test::fix_ipv4_checksum(total, 0);
	EXPECT_REASON(parse(test::vxlan_frame(42, inner_frame(total))), inner_truncated);

	Bytes tcp = test::tcp_packet(endpoint("10.233.2.2:4000"), endpoint("10.233.1.2:80"), 0x02, {});
	tcp.resize(30);
	test::put_be16(tcp, 2, 30);
	test::fix_ipv4_checksum(tcp, 0);
	EXPECT_REASON(parse(test::vxlan_frame(42, inner_frame(tcp))), inner_truncated);
}

TEST(FrameParser, InnerNonIpv4)
{
	ParsedFrame frame = parse(test::vxlan_frame(42, inner_frame(Bytes(28, 0), 0x0806)));
	EXPECT_REASON(frame, inner_not_ipv4);
	ASSERT_TRUE(frame.inner_eth);
	EXPECT_EQ(frame.inner_eth->ethertype, 0x0806);
	EXPECT_FALSE(frame.inner_ip);
}

TEST(FrameParser, InnerBadIhl)
{
	Bytes inner = test::udp_packet(endpoint("10.233.2.2:4000"), endpoint("10.233.1.2:5000"), {});
	inner[0] = 0x43;
	EXPECT_REASON(parse(test::vxlan_frame(42, inner_frame(inner))), inner_bad_ihl);
}

TEST(FrameParser, NestedVxlanIsNotDecapsulatedTwice)
{
	Bytes innermost = inner_frame(test::udp_packet(endpoint("10.1.0.1:53"), endpoint("10.1.0.2:53"), {}));
	Bytes middle_vxlan{0x08, 0, 0, 0, 0, 0, 7, 0};
	middle_vxlan.insert(middle_vxlan.end(), innermost.begin(), innermost.end());
	Bytes middle = inner_frame(test::udp_packet(endpoint("10.233.2.2:4789"), endpoint("10.233.1.2:4789"), middle_vxlan));
	ParsedFrame frame = parse(test::vxlan_frame(42, middle));
	EXPECT_REASON(frame, nested_vxlan);
	ASSERT_TRUE(frame.inner_l4);
	EXPECT_EQ(frame.inner_l4->dst_port, 4789);
	EXPECT_EQ(frame.vxlan->vni, 42u);
}

TEST(FrameParser, GsoSuperFrameIsNotedAndFullyParsed)
{
	Bytes inner = test::tcp_packet(endpoint("10.233.2.2:4000"), endpoint("10.233.1.2:80"), 0x18, Bytes(6990, 'x'));
	Bytes bytes = test::vxlan_frame(5001, inner_frame(inner));
	ParsedFrame frame = parse(bytes);
	EXPECT_REASON(frame, gso_oversize);
	ASSERT_TRUE(frame.inner_l4);
	EXPECT_EQ(frame.inner_l4->checksum_ok, true);

	ParserConfig jumbo;
	jumbo.mtu = 9000;
	EXPECT_REASON(parse(bytes, jumbo), ok);

	Bytes exactly_mtu = test::ethernet_frame(test::udp_packet(endpoint("10.0.0.1:1"), endpoint("10.0.0.2:2"), Bytes(1472, 0)));
	EXPECT_EQ(exactly_mtu.size(), 1514u);
	EXPECT_REASON(parse(exactly_mtu), ok);
}

TEST(FrameParser, VlanPriorityTagIsAcceptedOtherIdsNoted)
{
	Bytes plain = test::simple_vxlan_udp_frame();
	auto tagged = [&](std::uint16_t tci) {
		Bytes bytes(plain.begin(), plain.begin() + 12);
		bytes.insert(bytes.end(), {0x81, 0x00, static_cast<std::uint8_t>(tci >> 8), static_cast<std::uint8_t>(tci)});
		bytes.insert(bytes.end(), plain.begin() + 12, plain.end());
		return bytes;
	};
	ParsedFrame priority = parse(tagged(0x6000)); // PCP 3, VLAN ID 0
	EXPECT_REASON(priority, ok);
	EXPECT_EQ(priority.link->vlan_tags, 1);
	EXPECT_EQ(priority.outer_ip->offset, 18u);
	EXPECT_EQ(priority.inner_l4->dst_port, 5000);

	ParsedFrame vlan = parse(tagged(100));
	EXPECT_REASON(vlan, vlan_tagged);
	EXPECT_EQ(vlan.link->vlan_id, 100);
	EXPECT_TRUE(vlan.inner_l4);

	Bytes cut(plain.begin(), plain.begin() + 12);
	cut.insert(cut.end(), {0x81, 0x00, 0x00});
	EXPECT_REASON(parse(cut), truncated_ethernet);
}

TEST(FrameParser, LinuxCookedV2)
{
	// protocol, reserved, ifindex 3, ARPHRD_ETHER, packet type 4 (outgoing), address length 6, address.
	Bytes bytes{0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 4, 6, 0x02, 0, 0, 0, 0, 0x02, 0, 0};
	Bytes packet = test::udp_packet(endpoint("192.168.0.2:5000"), endpoint("192.168.0.1:40000"), Bytes{1, 2});
	bytes.insert(bytes.end(), packet.begin(), packet.end());
	ParsedFrame frame = parse_frame(bytes, bytes.size(), kLinkTypeLinuxSll2, {});
	EXPECT_REASON(frame, ok);
	EXPECT_EQ(frame.link->sll_packet_type, 4);
	EXPECT_EQ(frame.link->src, test::kHostMac);
	EXPECT_FALSE(frame.link->dst);
	EXPECT_EQ(frame.outer_ip->offset, 20u);
	EXPECT_EQ(frame.outer_l4->src_port, 5000);
	EXPECT_REASON(parse_frame(std::span(bytes).first(19), 19, kLinkTypeLinuxSll2, {}), truncated_ethernet);
}

TEST(FrameParser, SnappedHeadersAreTheCapturesFault)
{
	Bytes bytes = test::simple_vxlan_udp_frame();
	ParsedFrame frame = parse_frame(std::span(bytes).first(46), bytes.size(), kLinkTypeEthernet, {});
	EXPECT_REASON(frame, snapped);
	EXPECT_TRUE(frame.outer_l4);
	EXPECT_FALSE(frame.outer_l4->checksum_ok.has_value()); // not all captured: not verified
	EXPECT_FALSE(frame.vxlan);

	ParsedFrame payload_cut = parse_frame(std::span(bytes).first(bytes.size() - 1), bytes.size(), kLinkTypeEthernet, {});
	EXPECT_REASON(payload_cut, ok);
	EXPECT_FALSE(payload_cut.captured_whole());
	EXPECT_FALSE(payload_cut.inner_l4->checksum_ok.has_value());
}

TEST(FrameParser, EveryPrefixAndEveryByteFlipParsesWithoutHarm)
{
	// Under ASan/UBSan: no read past the captured bytes whatever the headers claim.
	Bytes bytes = test::simple_vxlan_udp_frame();
	for (std::size_t n = 0; n < bytes.size(); ++n) {
		ParsedFrame short_wire = parse_frame(std::span(bytes).first(n), n, kLinkTypeEthernet, {});
		EXPECT_NE(short_wire.reason, ParseReason::ok) << n;
		parse_frame(std::span(bytes).first(n), bytes.size(), kLinkTypeEthernet, {});
	}
	// The outer MAC addresses (bytes 0-11) are the only bytes no check covers.
	for (std::size_t i = 12; i < bytes.size(); ++i)
		for (std::uint8_t flip : {0x01, 0x0f, 0x80, 0xff}) {
			Bytes changed = bytes;
			changed[i] ^= flip;
			ParsedFrame frame = parse(changed);
			if (frame.reason == ParseReason::ok)
				ADD_FAILURE() << "byte " << i << " ^ " << int(flip) << " went unnoticed";
		}
}

TEST(FrameParser, ReasonTableIsOneListOfSnakeCaseNames)
{
	std::set<std::string_view> names;
	for (ParseReason reason : all_parse_reasons()) {
		std::string_view name = reason_name(reason);
		EXPECT_TRUE(names.insert(name).second) << name;
		for (char c : name)
			EXPECT_TRUE(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_')
				<< name;
		EXPECT_EQ(parse_reason_from_name(name), reason);
		EXPECT_FALSE(reason_description(reason).empty());
	}
	EXPECT_FALSE(parse_reason_from_name("no_such_reason"));
	EXPECT_TRUE(reason_stops_parse(ParseReason::bad_ihl));
	EXPECT_FALSE(reason_stops_parse(ParseReason::bad_ip_checksum));
}

} // namespace
} // namespace econsim::sim
