// One stage at a time (sim/stages/*.cpp), through HostPipeline::process with frames built in
// code: each test breaks or changes one thing and checks which stage decided, and how. The
// socket lookup rules are in socket_lookup_test.cpp, the fast paths in fastpath_*_test.cpp.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "pipeline_harness.h"
#include "stages/nic_rx.h"
#include "stages/stages.h"

namespace econsim::sim::test {
namespace {

// Offsets in the frames vxlan_udp() builds: outer Ethernet 14, outer IPv4 20, UDP 8, VXLAN 8, inner
// Ethernet 14.
constexpr std::size_t kOuterIp = 14;
constexpr std::size_t kVxlan = 42;
constexpr std::size_t kInnerIp = 64;

// ---- nic_rx: direction, RSS hash and CPU ----

TEST(NicRx, DirectionIsRxToTheNicAddressTxFromItOtherwiseIgnored)
{
	Harness h(with_s1(), FastpathMode::off);
	EXPECT_EQ(h.send(vxlan_udp(), 1).verdict.dir, Direction::rx);

	// The host's own VXLAN frame out of eth0: c1 answers the remote container.
	InnerFrame reply{.src = "10.233.1.2:5000", .dst = "10.233.2.2:4000", .dst_mac = kRemoteContainerMac,
			 .src_mac = kContainerMac};
	Bytes out = sent_vxlan_frame(42,
				     ethernet_frame(udp_packet(endpoint(reply.src), endpoint(reply.dst), {'h'}), 0x0800,
						    reply.dst_mac, reply.src_mac),
				     endpoint("192.168.0.2:40000"), endpoint("192.168.0.1:4789"));
	const Packet &tx = h.send(out, 2);
	EXPECT_EQ(tx.verdict.dir, Direction::tx);
	EXPECT_EQ(tx.verdict.verdict, VerdictKind::transmit);
	EXPECT_FALSE(tx.verdict.cpu.has_value()) << "a transmitted frame is not steered by RSS";

	// Between two other hosts, to another MAC: not this host's.
	Bytes elsewhere = ethernet_frame(udp_packet(endpoint("192.168.0.1:1"), endpoint("192.168.0.9:2"), {}), 0x0800,
					 kPeerMac, kRemoteContainerMac);
	EXPECT_TRUE(ignored(h.send(elsewhere, 3), "nic_rx", "not_for_host"));
}

// __dev_close_many → ndo_stop disables the NIC's NAPI: nothing it receives goes up, in any mode.
TEST(NicRx, DownNicPassesNothingUp)
{
	for (FastpathMode mode : {FastpathMode::off, FastpathMode::fixed, FastpathMode::econ}) {
		Harness h(with_s1().at(5, "op: link, dev: eth0, up: false").at(15, "op: link, dev: eth0, up: true"), mode);
		EXPECT_TRUE(delivered(h.send(vxlan_udp(), 1), "s1"));
		EXPECT_TRUE(dropped(h.send(vxlan_udp(), 10), "nic_rx", "device_down")) << to_string(mode);
		EXPECT_TRUE(delivered(h.send(vxlan_udp(), 20), "s1"));
	}
}

// Sixteen flows that differ only in the outer source port, on a 4-CPU host.
std::vector<unsigned> cpus_of_sixteen_flows(const std::string &rss)
{
	ScenarioText text = with_s1();
	text.cpus = 4;
	text.rss = rss;
	Harness h(text, FastpathMode::off);
	std::vector<unsigned> cpus;
	for (int i = 0; i < 16; i++) {
		InnerFrame f{.outer_src = "192.168.0.1:" + std::to_string(40000 + i)};
		const Packet &p = h.send(vxlan_udp(f), i);
		EXPECT_TRUE(delivered(p, "s1"));
		cpus.push_back(p.verdict.cpu.value_or(99));
	}
	return cpus;
}

TEST(NicRx, RssL4HashesTheOuterPortsAndSpreadsFlowsOverCpus)
{
	std::vector<unsigned> cpus = cpus_of_sixteen_flows("l4");
	for (int i = 0; i < 16; i++) {
		std::uint32_t hash = rss_hash_l4(endpoint("192.168.0.1:" + std::to_string(40000 + i)), endpoint("192.168.0.2:4789"));
		EXPECT_EQ(cpus[i], rss_cpu(hash, 4)) << "flow " << i;
	}
	EXPECT_GT(std::set<unsigned>(cpus.begin(), cpus.end()).size(), 1u);
}

TEST(NicRx, RssL3HashesOnlyTheOuterAddresses)
{
	std::vector<unsigned> cpus = cpus_of_sixteen_flows("l3");
	unsigned expected = rss_cpu(rss_hash_l3(endpoint("192.168.0.1:0").address, endpoint("192.168.0.2:0").address), 4);
	for (unsigned cpu : cpus)
		EXPECT_EQ(cpu, expected);
}

TEST(NicRx, RssNonePutsEverythingOnCpu0)
{
	for (unsigned cpu : cpus_of_sixteen_flows("none"))
		EXPECT_EQ(cpu, 0u);
}

// ---- A header check in each stage: one edit of the usual frame, and where it must stop ----

struct BrokenFrame {
	std::string name;
	void (*edit)(Bytes &frame);
	std::string stage;
	std::string reason;
};

void PrintTo(const BrokenFrame &f, std::ostream *out)
{
	*out << f.name;
}

const BrokenFrame kBrokenFrames[] = {
	// ip_rcv_core: the header checksum, IHL. Fragments are ip_defrag's (outer: IpDefragHost, inner:
	// IpDefrag below).
	{"outer_header_checksum", [](Bytes &f) { f[kOuterIp + 10] ^= 0x01; }, "ip_rcv", "bad_ip_checksum"},
	{"outer_ihl_4", [](Bytes &f) { f[kOuterIp] = 0x44; }, "ip_rcv", "bad_ihl"},
	// vxlan_rcv: the I flag must be set.
	{"vxlan_without_i_flag", [](Bytes &f) { f[kVxlan] = 0x00; }, "vxlan_rcv", "vxlan_flags"},
	// ip_rcv_core in the container's namespace.
	{"inner_header_checksum", [](Bytes &f) { f[kInnerIp + 10] ^= 0x01; }, "ip_rcv_container", "inner_bad_ip_checksum"},
};

class Broken : public ::testing::TestWithParam<BrokenFrame> {};

TEST_P(Broken, StopsAtTheStageThatChecksIt)
{
	Harness h(with_s1(), FastpathMode::off);
	Bytes frame = vxlan_udp();
	GetParam().edit(frame);
	EXPECT_TRUE(dropped(h.send(frame, 1), GetParam().stage, GetParam().reason));
	EXPECT_TRUE(delivered(h.send(vxlan_udp(), 2), "s1")) << "the unedited frame is delivered";
}

INSTANTIATE_TEST_SUITE_P(Frames, Broken, ::testing::ValuesIn(kBrokenFrames),
			 [](const testing::TestParamInfo<BrokenFrame> &info) { return info.param.name; });

// ---- ip_defrag: inner fragments, reassembled in the container's namespace ----

// One datagram 10.233.2.2:4000 > 10.233.1.2:5000 of 24 bytes (UDP header and 16 bytes), in two
// fragments of IP id 0x1234: bytes 0-16 (MF) and 16-24.
Bytes fragment_of_datagram(bool first, std::uint16_t udp_length = 24)
{
	Bytes payload;
	if (first) {
		Bytes udp = udp_packet(endpoint("10.233.2.2:4000"), endpoint("10.233.1.2:5000"), Bytes(16, 'x'));
		payload.assign(udp.begin() + 20, udp.begin() + 20 + 16); // the UDP header and 8 bytes
		put_be16(payload, 4, udp_length);
		put_be16(payload, 6, 0); // no checksum: the datagram's is not this fragment's to check
	} else {
		payload.assign(8, 'x');
	}
	Bytes ip = ipv4_packet(endpoint("10.233.2.2:0").address, endpoint("10.233.1.2:0").address, 17, payload);
	put_be16(ip, 6, first ? 0x2000 : 16 / 8); // MF at offset 0; the last at byte 16
	fix_ipv4_checksum(ip, 0);
	return vxlan_frame(42, ethernet_frame(ip, 0x0800, kContainerMac, kRemoteContainerMac));
}

testing::AssertionResult held_at(const Packet &p, std::string_view stage)
{
	if (p.verdict.verdict != VerdictKind::held)
		return testing::AssertionFailure() << "verdict " << to_string(p.verdict.verdict);
	if (deciding_stage(p) != stage)
		return testing::AssertionFailure() << "held at " << deciding_stage(p);
	return testing::AssertionSuccess();
}

testing::AssertionResult held(const Packet &p)
{
	return held_at(p, "ip_defrag");
}

TEST(IpDefrag, EarlierFragmentsAreHeldTheCompletingOneDeliversTheDatagram)
{
	Harness h(with_s1(), FastpathMode::off);
	const Packet &first = h.send(fragment_of_datagram(true), 1);
	EXPECT_TRUE(held(first));
	EXPECT_FALSE(first.verdict.flow.has_value());
	const Packet &last = h.send(fragment_of_datagram(false), 2);
	ASSERT_TRUE(delivered(last, "s1", Path::slow));
	ASSERT_TRUE(last.verdict.flow.has_value());
	EXPECT_EQ(model::to_string(*last.verdict.flow), "udp 10.233.2.2:4000 > 10.233.1.2:5000");
	EXPECT_EQ(h.pipeline().stage_count(Stage::ip_defrag).entered, 2u);
}

TEST(IpDefrag, FirstFragmentLastAndDuplicates)
{
	Harness h(with_s1(), FastpathMode::off);
	EXPECT_TRUE(held(h.send(fragment_of_datagram(false), 1)));
	EXPECT_TRUE(dropped(h.send(fragment_of_datagram(false), 2), "ip_defrag", "fragment_duplicate"));
	EXPECT_TRUE(delivered(h.send(fragment_of_datagram(true), 3), "s1"));
	// A UDP length past the reassembled datagram: __udp4_lib_rcv's short packet.
	EXPECT_TRUE(held(h.send(fragment_of_datagram(true, 40), 4)));
	EXPECT_TRUE(dropped(h.send(fragment_of_datagram(false), 5), "ip_defrag", "inner_bad_udp_length"));
}

TEST(IpDefrag, FixedModeNeverCachesAFragment)
{
	Harness h(with_s1(), FastpathMode::fixed);
	for (int round = 0; round < 3; round++) {
		EXPECT_TRUE(held(h.send(fragment_of_datagram(true), 10 * round + 1)));
		EXPECT_TRUE(delivered(h.send(fragment_of_datagram(false), 10 * round + 2), "s1", Path::slow));
	}
	std::ostringstream summary;
	h.pipeline().summarize_fastpath(summary);
	EXPECT_NE(summary.str().find("hits 0, misses 0,"), std::string::npos) << summary.str();
	EXPECT_NE(summary.str().find("inserts 0,"), std::string::npos) << summary.str();
}

// ---- ip_defrag_host: outer fragments, reassembled in the host before UDP ----

// A whole frame's outer IPv4 datagram cut in two after `split` payload bytes (a multiple of 8), as
// a sender whose underlay MTU is too small for it sends it, with IP id `id`: {first, second}.
std::pair<Bytes, Bytes> outer_fragments(const Bytes &frame, std::size_t split, std::uint16_t id = 0x4321)
{
	const std::size_t payload = kOuterIp + 20;
	auto piece = [&](std::size_t from, std::size_t to, bool more) {
		Bytes out(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(payload));
		out.insert(out.end(), frame.begin() + static_cast<std::ptrdiff_t>(payload + from),
			   frame.begin() + static_cast<std::ptrdiff_t>(payload + to));
		put_be16(out, kOuterIp + 2, static_cast<std::uint16_t>(20 + to - from));
		put_be16(out, kOuterIp + 4, id);
		put_be16(out, kOuterIp + 6, static_cast<std::uint16_t>((more ? 0x2000 : 0) | from / 8));
		fix_ipv4_checksum(out, kOuterIp);
		return out;
	};
	const std::size_t length = frame.size() - payload;
	return {piece(0, split, true), piece(split, length, false)};
}

TEST(IpDefragHost, EarlierOuterFragmentIsHeldTheCompletingOneCarriesTheInnerDatagram)
{
	Harness h(with_s1(), FastpathMode::off);
	InnerFrame big;
	auto [first, second] = outer_fragments(vxlan_udp(big), 40); // UDP, VXLAN, 24 bytes of the inner frame
	EXPECT_TRUE(held_at(h.send(first, 1), "ip_defrag_host"));
	const Packet &last = h.send(second, 2);
	ASSERT_TRUE(delivered(last, "s1", Path::slow));
	EXPECT_EQ(model::to_string(*last.verdict.flow), "udp 10.233.2.2:4000 > 10.233.1.2:5000");
	EXPECT_EQ(last.verdict.vni, 42u);
	EXPECT_TRUE(last.outer_reassembled);
	EXPECT_EQ(h.pipeline().stage_count(Stage::ip_defrag_host).entered, 2u);
	EXPECT_EQ(h.pipeline().stage_count(Stage::udp_rcv).entered, 1u) << "UDP sees the datagram once";
	// The reassembled frame is the whole one, byte for byte but the IP id and the fragment field
	// (ip_frag_reasm writes 0: the pieces carried no DF).
	Bytes whole = vxlan_udp(big);
	put_be16(whole, kOuterIp + 4, 0x4321);
	put_be16(whole, kOuterIp + 6, 0);
	fix_ipv4_checksum(whole, kOuterIp);
	EXPECT_EQ(last.reassembled_frame, whole);
}

TEST(IpDefragHost, LastFragmentFirst_DuplicateDropped_InnerFragmentsReassembledAgainInTheContainer)
{
	Harness h(with_s1(), FastpathMode::off);
	auto [first, second] = outer_fragments(vxlan_udp(), 16);
	EXPECT_TRUE(held_at(h.send(second, 1), "ip_defrag_host"));
	EXPECT_TRUE(dropped(h.send(second, 2), "ip_defrag_host", "fragment_duplicate"));
	EXPECT_TRUE(delivered(h.send(first, 3), "s1"));
	// An inner fragment in outer fragments: reassembled in the host, then held in c1 (the host's
	// queue and the container's are apart), until the inner datagram's last piece comes.
	auto [a1, a2] = outer_fragments(fragment_of_datagram(true), 24, 7);
	EXPECT_TRUE(held_at(h.send(a1, 4), "ip_defrag_host"));
	EXPECT_TRUE(held(h.send(a2, 5)));
	EXPECT_TRUE(delivered(h.send(fragment_of_datagram(false), 6), "s1"));
	// A piece overlapping what its queue holds: the piece and its queue go (RFC 5722).
	auto [c1, c2] = outer_fragments(vxlan_udp(), 16, 8);
	auto [d1, d2] = outer_fragments(vxlan_udp(), 8, 8);
	EXPECT_TRUE(held_at(h.send(c2, 7), "ip_defrag_host"));
	EXPECT_TRUE(dropped(h.send(d2, 8), "ip_defrag_host", "fragment_overlap"));
	EXPECT_TRUE(held_at(h.send(c1, 9), "ip_defrag_host")) << "its queue went with the overlap";
}

TEST(IpDefragHost, NoModeCachesAReassembledDatagram)
{
	for (FastpathMode mode : {FastpathMode::fixed, FastpathMode::econ}) {
		Harness h(with_s1(), mode);
		// The first piece holds the inner flow's addresses and ports, as a real one does: what
		// econ_rx_lookup reads of it.
		auto [first, second] = outer_fragments(vxlan_udp(), 56);
		for (int round = 0; round < 3; round++) {
			EXPECT_TRUE(held_at(h.send(first, 10 * round + 1), "ip_defrag_host")) << to_string(mode);
			EXPECT_TRUE(delivered(h.send(second, 10 * round + 2), "s1", Path::slow)) << to_string(mode);
		}
		// A whole frame of the flow is not served from an entry the fragments made.
		EXPECT_TRUE(delivered(h.send(vxlan_udp(), 100), "s1", Path::slow)) << to_string(mode);
	}
}

// econ mode with L3 RSS: a plain datagram to a host socket keeps the NIC's L3 hash, which econ's
// insert keys the flow by; an outer first fragment of the same flow has the same L3 hash and
// econ_rx_lookup reads its UDP ports with no offset check: a hit, delivered alone (B17).
TEST(IpDefragHost, EconHitsAFirstOuterFragmentOfACachedHostFlow)
{
	ScenarioText text = ScenarioText{}.udp(0, "dns", "host", "0.0.0.0:53");
	text.rss = "l3";
	Bytes plain = ethernet_frame(udp_packet(endpoint("192.168.0.1:3000"), endpoint("192.168.0.2:53"), Bytes(64, 'q')));
	auto [first, second] = outer_fragments(plain, 32);
	Harness off(text, FastpathMode::off), econ(text, FastpathMode::econ);
	for (Harness *h : {&off, &econ})
		EXPECT_TRUE(delivered(h->send(plain, 1), "dns"));
	EXPECT_TRUE(held_at(off.send(first, 200), "ip_defrag_host"));
	EXPECT_TRUE(delivered(off.send(second, 201), "dns"));
	EXPECT_TRUE(dropped(econ.send(first, 200), "econ_rx_deliver", "b17_fragment"));
	EXPECT_TRUE(held_at(econ.send(second, 201), "ip_defrag_host")) << "its first piece never reaches ip_defrag";
}

// ---- vxlan_xmit: a container's frame passed its bridge on the way out ----

// br_handle_frame_finish → br_fdb_update on the sender's port moves back an entry an fdb event
// put elsewhere (random-cases seed 14, case-000; the kernel's answer in traces/kr-bridge-learns-tx).
TEST(VxlanXmit, ASentFrameTeachesTheBridgeWhereItsSenderIs)
{
	for (FastpathMode mode : {FastpathMode::off, FastpathMode::fixed}) {
		ScenarioText text = with_s1();
		text.with_c2().at(5, "op: fdb, bridge: br42, mac: \"02:42:0a:e9:01:02\", port: veth-c2");
		Harness h(text, mode);
		EXPECT_TRUE(delivered(h.send(vxlan_udp(), 1), "s1"));
		EXPECT_TRUE(dropped(h.send(vxlan_udp(), 10), "br_handle_frame", "other_host")) << to_string(mode);
		Bytes out = sent_vxlan_frame(
			42,
			ethernet_frame(udp_packet(endpoint("10.233.1.2:5000"), endpoint("10.233.2.2:4000"), {'h'}),
				       0x0800, kRemoteContainerMac, kContainerMac),
			endpoint("192.168.0.2:40000"), endpoint("192.168.0.1:4789"));
		EXPECT_EQ(h.send(out, 12).verdict.verdict, VerdictKind::transmit);
		EXPECT_TRUE(delivered(h.send(vxlan_udp(), 14), "s1")) << to_string(mode);
	}
}

// ---- ip_rcv: whether the outer destination is the host's ----

TEST(IpRcv, DestinationNotTheHostsIsDropped)
{
	Harness h(with_s1(), FastpathMode::off);
	// To the host's MAC, but another host's IPv4 address: ip_forward is off.
	InnerFrame f;
	Bytes frame = vxlan_frame(42, ethernet_frame(udp_packet(endpoint(f.src), endpoint(f.dst), {}), 0x0800, f.dst_mac, f.src_mac),
				  endpoint("192.168.0.1:40000"), endpoint("192.168.0.99:4789"));
	const Packet &p = h.send(frame, 1);
	EXPECT_EQ(p.verdict.dir, Direction::rx) << "addressed to the host's MAC";
	EXPECT_TRUE(dropped(p, "ip_rcv", "not_local"));
}

TEST(IpRcv, ArpIsTheKernelsOwn)
{
	Harness h(with_s1(), FastpathMode::off);
	Bytes arp(28, 0);
	EXPECT_TRUE(ignored(h.send(ethernet_frame(arp, 0x0806), 1), "ip_rcv", "not_ipv4"));
}

// ---- udp_rcv: the VXLAN device's socket, or a host process's ----

TEST(UdpRcv, Port4789GoesToTheVxlanDevicesSocket)
{
	Harness h(with_s1(), FastpathMode::off);
	const Packet &p = h.send(vxlan_udp(), 1);
	ASSERT_TRUE(delivered(p, "s1", Path::slow));
	bool seen = false;
	for (const TraceStep &s : p.steps)
		if (s.stage == Stage::udp_rcv) {
			seen = true;
			EXPECT_EQ(s.decision, "to kernel:vxlan:4789");
		}
	EXPECT_TRUE(seen);
}

TEST(UdpRcv, OtherPortsGoToHostSockets)
{
	Harness h(ScenarioText{}.udp(0, "dns", "host", "0.0.0.0:53"), FastpathMode::off);
	Bytes query = ethernet_frame(udp_packet(endpoint("192.168.0.1:5353"), endpoint("192.168.0.2:53"), {'q'}));
	const Packet &p = h.send(query, 1);
	EXPECT_TRUE(delivered(p, "dns", Path::slow));
	EXPECT_FALSE(p.verdict.vni.has_value());
	Bytes nobody = ethernet_frame(udp_packet(endpoint("192.168.0.1:5353"), endpoint("192.168.0.2:54"), {'q'}));
	EXPECT_TRUE(dropped(h.send(nobody, 2), "socket_lookup", "no_socket"));
}

// ---- vxlan_rcv: flags, VNI → device ----

TEST(VxlanRcv, UnknownVniIsDropped)
{
	Harness h(with_s1(), FastpathMode::off);
	const Packet &p = h.send(vxlan_udp({.vni = 99}), 1);
	EXPECT_TRUE(dropped(p, "vxlan_rcv", "unknown_vni"));
	EXPECT_EQ(p.verdict.vni, 99u);
}

TEST(VxlanRcv, DeviceTakenDownByALinkEventTakesNothing)
{
	// A second device keeps the port's UDP socket open, so the frame gets as far as vxlan_rcv.
	ScenarioText text = with_s1();
	text.vxlan.push_back("{name: vxlan43, vni: 43, port: 4789, bridge: br43}");
	text.bridges.push_back("{name: br43}");
	text.at(5, "op: link, dev: vxlan42, up: false").at(15, "op: link, dev: vxlan42, up: true");
	Harness h(text, FastpathMode::off);
	EXPECT_TRUE(delivered(h.send(vxlan_udp(), 1), "s1"));
	EXPECT_TRUE(dropped(h.send(vxlan_udp(), 10), "vxlan_rcv", "unknown_vni"));
	EXPECT_TRUE(delivered(h.send(vxlan_udp(), 20), "s1"));
}

TEST(VxlanRcv, LastDeviceOnThePortDownClosesItsSocket)
{
	ScenarioText text = with_s1();
	text.at(5, "op: link, dev: vxlan42, up: false");
	Harness h(text, FastpathMode::off);
	// vxlan_stop → vxlan_sock_release: nothing listens on 4789 any more (ICMP port unreachable).
	EXPECT_TRUE(dropped(h.send(vxlan_udp(), 10), "socket_lookup", "no_socket"));
}

// ---- br_handle_frame: learning, FDB, flooding ----

// The bridge's line of the trace: what it decided, and why.
std::string bridge_step(const Packet &p)
{
	for (const TraceStep &s : p.steps)
		if (s.stage == Stage::br_handle_frame)
			return s.decision + " (" + s.why + ")";
	return {};
}

// A bridge that learns only: c2 has sent nothing, so its MAC is unknown and the frame flooded, which
// the packet carries for the fast path (a flood is not cached).
TEST(BrHandleFrame, UnknownMacIsFloodedAndReachesTheContainerThatOwnsIt)
{
	Harness h(with_s1(ScenarioText{}.with_c2().learning_bridges()).udp(0, "s2", "c2", "0.0.0.0:5000"),
		  FastpathMode::off);
	const Packet &p = h.send(vxlan_udp({.dst = "10.233.1.3:5000", .dst_mac = kContainer2Mac}), 1);
	EXPECT_TRUE(delivered(p, "s2"));
	EXPECT_TRUE(bridge_step(p).starts_with("forward on br42 to c2 ")) << bridge_step(p);
	EXPECT_NE(bridge_step(p).find("unknown: flood"), std::string::npos) << "no FDB entry for c2's MAC yet";
	EXPECT_TRUE(p.bridge_flooded);
}

// The harness's bridges have a static entry per container, as the recordings do: br_forward by
// the FDB, no flood.
TEST(BrHandleFrame, KnownMacIsForwardedByTheFdb)
{
	Harness h(with_s1(ScenarioText{}.with_c2()).udp(0, "s2", "c2", "0.0.0.0:5000"), FastpathMode::off);
	const Packet &p = h.send(vxlan_udp({.dst = "10.233.1.3:5000", .dst_mac = kContainer2Mac}), 1);
	EXPECT_TRUE(delivered(p, "s2"));
	EXPECT_NE(bridge_step(p).find("fdb 02:42:0a:e9:01:03 -> veth-c2"), std::string::npos) << bridge_step(p);
	EXPECT_FALSE(p.bridge_flooded);
}

TEST(BrHandleFrame, BroadcastReachesTheContainerWithTheInnerAddress)
{
	Harness h(with_s1(ScenarioText{}.with_c2()).udp(0, "s2", "c2", "0.0.0.0:5000"), FastpathMode::off);
	MacAddress broadcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
	EXPECT_TRUE(delivered(h.send(vxlan_udp({.dst = "10.233.1.3:5000", .dst_mac = broadcast}), 1), "s2"));
	EXPECT_TRUE(delivered(h.send(vxlan_udp({.dst = "10.233.1.2:5000", .dst_mac = broadcast}), 2), "s1"));
}

TEST(BrHandleFrame, StaticFdbEntryOnAnotherPortSendsTheFrameWhereNobodyTakesIt)
{
	ScenarioText text = with_s1(ScenarioText{}.with_c2());
	text.bridges = {R"({name: br42, fdb: [{mac: "02:42:0a:e9:01:02", port: veth-c2}]})"};
	Harness h(text, FastpathMode::off);
	// br_forward to veth-c2; c2's eth0 sees another MAC (PACKET_OTHERHOST).
	EXPECT_TRUE(dropped(h.send(vxlan_udp(), 1), "br_handle_frame", "other_host"));
}

TEST(BrHandleFrame, FdbEventMovesTheMacAndFdbDelFloodsAgain)
{
	ScenarioText text = with_s1(ScenarioText{}.with_c2());
	text.at(5, R"(op: fdb, bridge: br42, mac: "02:42:0a:e9:01:02", port: veth-c2)")
		.at(15, R"(op: fdb_del, bridge: br42, mac: "02:42:0a:e9:01:02")");
	Harness h(text, FastpathMode::off);
	EXPECT_TRUE(delivered(h.send(vxlan_udp(), 1), "s1"));
	EXPECT_TRUE(dropped(h.send(vxlan_udp(), 10), "br_handle_frame", "other_host"));
	EXPECT_TRUE(delivered(h.send(vxlan_udp(), 20), "s1"));
}

// veth-c1 has no carrier, so it does not forward. c1's static entry stays (a port that stops
// forwarding loses its learned entries only) and names it: should_deliver refuses the port.
TEST(BrHandleFrame, ContainerVethDownStopsTheFrame)
{
	ScenarioText text = with_s1();
	text.at(5, "op: link, dev: veth-c1, up: false");
	Harness h(text, FastpathMode::off);
	EXPECT_TRUE(delivered(h.send(vxlan_udp(), 1), "s1"));
	EXPECT_TRUE(dropped(h.send(vxlan_udp(), 10), "br_handle_frame", "bridge_port_disabled"));
}

// The same on a bridge that learns only: c1's MAC is unknown, and the flood reaches nobody.
TEST(BrHandleFrame, ContainerVethDownStopsTheFlood)
{
	ScenarioText text = with_s1(ScenarioText{}.learning_bridges());
	text.at(5, "op: link, dev: veth-c1, up: false");
	Harness h(text, FastpathMode::off);
	EXPECT_TRUE(delivered(h.send(vxlan_udp(), 1), "s1"));
	EXPECT_TRUE(dropped(h.send(vxlan_udp(), 10), "br_handle_frame", "no_receiver"));
}

// ---- veth_xmit and ip_rcv_container: into the container's namespace ----

TEST(VethXmit, CrossesIntoTheContainersNamespace)
{
	Harness h(with_s1(), FastpathMode::off);
	const Packet &p = h.send(vxlan_udp(), 1);
	ASSERT_TRUE(delivered(p, "s1"));
	bool seen = false;
	for (const TraceStep &s : p.steps)
		if (s.stage == Stage::veth_xmit) {
			seen = true;
			EXPECT_EQ(s.decision, "veth-c1 → c1/eth0");
		}
	EXPECT_TRUE(seen);
}

TEST(IpRcvContainer, InnerDestinationNotTheContainersIsDropped)
{
	Harness h(with_s1(), FastpathMode::off);
	EXPECT_TRUE(dropped(h.send(vxlan_udp({.dst = "10.233.1.99:5000"}), 1), "ip_rcv_container", "not_local"));
}

TEST(Deliver, VerdictNamesTheSocketTheSlowPathAndTheFlow)
{
	Harness h(with_s1(), FastpathMode::off);
	const Packet &p = h.send(vxlan_udp(), 1);
	EXPECT_TRUE(delivered(p, "s1", Path::slow));
	EXPECT_EQ(deciding_stage(p), "deliver");
	EXPECT_EQ(p.verdict.vni, 42u);
	ASSERT_TRUE(p.verdict.flow);
	EXPECT_EQ(model::to_string(*p.verdict.flow), "udp 10.233.2.2:4000 > 10.233.1.2:5000");
	EXPECT_EQ(h.pipeline().stage_count(Stage::deliver).ended.at("deliver"), 1u);
	EXPECT_EQ(h.pipeline().stage_count(Stage::nic_rx).entered, 1u);
}

} // namespace
} // namespace econsim::sim::test
