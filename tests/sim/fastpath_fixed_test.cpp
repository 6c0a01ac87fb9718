// `fixed` mode (sim/fastpath_fixed.cpp over kernel-port's flow map): a flow the slow path delivered
// is taken by the fast path afterwards, under a key that keeps tenants apart. What each scenario
// event does to a cached flow is in fastpath_events_test.cpp.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "flow_map.h"
#include "pipeline_harness.h"

namespace econsim::sim::test {
namespace {

// Frames of the usual flow at 1, 2, 3 ms: the first teaches the bridge and the VXLAN device the
// remote MAC (an FDB change, so its answer is not cached), the second is cached, the third hits.
void warm_up(Harness &h, std::string_view sock)
{
	ASSERT_TRUE(delivered(h.send(vxlan_udp(), 1), sock, Path::slow));
	ASSERT_TRUE(delivered(h.send(vxlan_udp(), 2), sock, Path::slow));
	ASSERT_TRUE(delivered(h.send(vxlan_udp(), 3), sock, Path::fast));
}

// The key the simulator builds is the kernel's struct, byte for byte: what fpmap hashes, compares
// and stores is what the series' fpath_parse would hand it for the same flow.
TEST(FixedMode, TheFlowKeyHasTheKernelStructsBytes)
{
	const model::FiveTuple udp{model::Protocol::udp,
				   {{model::ipv4(10, 233, 2, 2), 4001}, {model::ipv4(10, 233, 1, 2), 5001}}};
	const fpmap_flow key = fixed_flow_key(udp, 42, 0x01020304);
	const std::uint8_t expected[] = {
		10,   233,  2,    2,    // saddr, network order
		10,   233,  1,    2,    // daddr
		0x0f, 0xa1, 0x13, 0x89, // sport 4001, dport 5001, network order
		17,   0,    0,    0,    // proto, padding
	};
	ASSERT_EQ(sizeof key, sizeof expected + 2 * sizeof(std::uint32_t));
	EXPECT_EQ(0, std::memcmp(&key, expected, sizeof expected));
	EXPECT_EQ(key.vni, 42u);
	EXPECT_EQ(key.netns, 0x01020304u);
	const model::FiveTuple tcp{model::Protocol::tcp, udp.addresses};
	EXPECT_EQ(fixed_flow_key(tcp, 0, 1).proto, 6);
}

TEST(FixedMode, SecondPacketOfAFlowTakesTheFastPath)
{
	Harness h(with_s1(), FastpathMode::fixed);
	warm_up(h, "s1");
	// A new flow from the known remote: its first packet is cached, its second hits.
	InnerFrame other{.src = "10.233.2.2:4001"};
	EXPECT_TRUE(delivered(h.send(vxlan_udp(other), 4), "s1", Path::slow));
	const Packet &hit = h.send(vxlan_udp(other), 5);
	EXPECT_TRUE(delivered(hit, "s1", Path::fast));
	EXPECT_EQ(hit.verdict.vni, 42u);
	EXPECT_EQ(hit.steps.at(1).stage, Stage::fastpath) << "nic_rx, then the hit: the stages in between are skipped";
	EXPECT_EQ(h.pipeline().stage_count(Stage::ip_rcv).entered, 3u) << "only the slow-path frames";
}

TEST(FixedMode, TwoVnisWithTheSameInnerAndOuterTuplesNeverCross)
{
	ScenarioText text;
	text.two_tenants();
	text.udp(0, "s42", "c42", "0.0.0.0:5000").udp(0, "s43", "c43", "0.0.0.0:5000");
	Harness h(text, FastpathMode::fixed);
	int fast = 0;
	for (int i = 0; i < 10; i++) {
		for (std::uint32_t vni : {42u, 43u}) {
			const Packet &p = h.send(vxlan_udp({.vni = vni}), 2 * i + (vni - 42));
			EXPECT_TRUE(delivered(p, vni == 42 ? "s42" : "s43")) << "frame " << p.number;
			fast += p.verdict.path == Path::fast;
		}
	}
	EXPECT_GE(fast, 16) << "both tenants' flows are cached, each under its own VNI";
}

// The bucket hash is the kernel series' (fpath_hash, issue 13 defect 4): the inner key and the VXLAN
// device, never the outer header. A peer VTEP that sends one inner flow from a new outer source port
// (a VTEP restarted, or one that draws source ports from a narrow range) still finds the entry; a
// hash of the outer header put it under another hash, where the lookup misses. One CPU, so that RSS
// cannot move the flow to another CPU's table either.
TEST(FixedMode, AFlowsEntryIsFoundFromAnyOuterSourcePort)
{
	ScenarioText text;
	text.cpus = 1;
	Harness h(with_s1(text), FastpathMode::fixed);
	warm_up(h, "s1");
	for (int port : {40001, 51234, 60999}) {
		InnerFrame from{.outer_src = "192.168.0.1:" + std::to_string(port)};
		EXPECT_TRUE(delivered(h.send(vxlan_udp(from), port), "s1", Path::fast)) << "outer source port " << port;
	}
}

// The key names the VNI but not the UDP port: two VXLAN devices with one VNI on two ports (a
// node running two overlays) share keys, and only the device in the hash (XORed with its ifindex,
// as fpath_hash does) keeps their entries apart. Each frame reaches its own device's container.
TEST(FixedMode, TwoVxlanDevicesWithOneVniOnTwoPortsNeverCross)
{
	ScenarioText text;
	text.two_tenants();
	text.cpus = 1;
	text.vxlan = {"{name: vxlan42, vni: 42, port: 4789, bridge: br42}",
		      "{name: vxlan8472, vni: 42, port: 8472, bridge: br43}"};
	text.udp(0, "s42", "c42", "0.0.0.0:5000").udp(0, "s43", "c43", "0.0.0.0:5000");
	Harness h(text, FastpathMode::fixed);
	int fast = 0;
	for (int i = 0; i < 10; i++) {
		for (const char *port : {"4789", "8472"}) {
			InnerFrame to{.outer_dst = std::string("192.168.0.2:") + port};
			const Packet &p = h.send(vxlan_udp(to), 2 * i + (port[0] == '8'));
			EXPECT_TRUE(delivered(p, port[0] == '4' ? "s42" : "s43")) << "frame " << p.number;
			fast += p.verdict.path == Path::fast;
		}
	}
	EXPECT_GE(fast, 16) << "both devices' flows are cached, each under its own hash";
}

// The remote container moves behind another VTEP (a live migration, a node's new address): vxlan_snoop
// must learn it, or the host's replies keep going to the old node. A hit would skip vxlan_rcv, so the
// moved frame goes the slow way, and the flow is cached again behind its new VTEP by that frame:
// the event its own snoop raised does not refuse its insert (the kernel series looks up, and takes
// its ticket, after vxlan_snoop), so the next frame hits.
TEST(FixedMode, APeerThatMovedToAnotherVtepTakesTheSlowPathOnce)
{
	Harness h(with_s1(), FastpathMode::fixed);
	warm_up(h, "s1");
	InnerFrame moved{.outer_src = "192.168.0.3:40000"};
	EXPECT_TRUE(delivered(h.send(vxlan_udp(moved), 4), "s1", Path::slow)) << "vxlan_snoop learns the move";
	const OverlayHost::RemoteVtep *vtep = h.pipeline().host().remote(h.pipeline().host().device_id("vxlan42").ifindex, kRemoteContainerMac);
	ASSERT_NE(vtep, nullptr);
	EXPECT_EQ(vtep->ip, endpoint("192.168.0.3:0").address);
	EXPECT_TRUE(delivered(h.send(vxlan_udp(moved), 5), "s1", Path::fast)) << "cached behind the new VTEP";
}

// c1's reply to the remote container as the host's NIC sends it, encapsulated to `vtep`: outer MACs
// from the NIC to the peer, DF clear (the VXLAN device does not set it).
Bytes reply_to_remote(std::string_view vtep, std::uint32_t vni = 42, std::size_t payload_bytes = 1)
{
	Bytes inner = ethernet_frame(udp_packet(endpoint("10.233.1.2:5000"), endpoint("10.233.2.2:4000"),
						Bytes(payload_bytes, 'h')),
				     0x0800, kRemoteContainerMac, kContainerMac);
	return sent_vxlan_frame(vni, inner, endpoint("192.168.0.2:40000"), endpoint(std::string(vtep) + ":4789"));
}

// The TX template names the VTEP the peer was behind. When vxlan_snoop learns that it moved, the
// template is stale: the next reply is encapsulated to the new VTEP by the slow path, and checked
// against it, never served from the old template.
TEST(FixedMode, APeerThatMovedInvalidatesTheTxTemplateToItsOldVtep)
{
	Harness h(with_s1(), FastpathMode::fixed);
	warm_up(h, "s1");
	const Packet &first = h.send(reply_to_remote("192.168.0.1"), 4);
	EXPECT_EQ(first.verdict.verdict, VerdictKind::transmit);
	EXPECT_EQ(first.verdict.path, Path::slow);
	EXPECT_FALSE(first.verdict.reason.has_value()) << *first.verdict.reason;
	const Packet &cached = h.send(reply_to_remote("192.168.0.1"), 5);
	EXPECT_EQ(cached.verdict.path, Path::fast) << "the template is cached";
	EXPECT_FALSE(cached.verdict.reason.has_value()) << *cached.verdict.reason;

	EXPECT_TRUE(delivered(h.send(vxlan_udp({.outer_src = "192.168.0.3:40000"}), 6), "s1", Path::slow));
	const Packet &moved = h.send(reply_to_remote("192.168.0.3"), 7);
	EXPECT_EQ(moved.verdict.path, Path::slow) << "the template to the old VTEP is stale";
	EXPECT_FALSE(moved.verdict.reason.has_value()) << *moved.verdict.reason;
}

// A bridged flow whose frames br42 floods (it learns only, and c1 has sent nothing: the model has
// no ARP) is delivered but never cached, as the series refuses it (a flood records no bridge hop).
// Once the FDB knows c1's MAC, by a static entry (`bridge fdb add`, an FDB event) or from c1's own
// frame (its reply, which br42 learns on veth-c1), the flow is forwarded by the FDB, cached and hit.
TEST(FixedMode, ABridgedFlowIsNotCachedWhileTheBridgeFloodsIt)
{
	for (bool by_reply : {false, true}) {
		const char *how = by_reply ? "c1's reply" : "a static entry";
		ScenarioText text = with_s1(ScenarioText{}.learning_bridges());
		if (!by_reply)
			text.at(10, R"(op: fdb, bridge: br42, mac: "02:42:0a:e9:01:02", port: veth-c1)");
		Harness h(text, FastpathMode::fixed);
		for (double ms : {1, 2, 3, 4}) {
			const Packet &flooded = h.send(vxlan_udp(), ms);
			EXPECT_TRUE(delivered(flooded, "s1", Path::slow)) << ms << " ms, before " << how;
			EXPECT_TRUE(flooded.bridge_flooded) << ms << " ms, before " << how;
		}
		if (by_reply) {
			EXPECT_EQ(h.send(reply_to_remote("192.168.0.1"), 10).verdict.verdict, VerdictKind::transmit);
		}
		const Packet &forwarded = h.send(vxlan_udp(), 11);
		EXPECT_TRUE(delivered(forwarded, "s1", Path::slow)) << "the miss that caches it, after " << how;
		EXPECT_FALSE(forwarded.bridge_flooded) << "after " << how;
		EXPECT_TRUE(delivered(h.send(vxlan_udp(), 12), "s1", Path::fast)) << "after " << how;
	}
}

// c1's learned entry ages out of br42 (br_fdb_cleanup at its last frame + 300 s), which the bridge
// notifies (fdb_notify): the series drops the entries through br42. The flow's next frame goes the
// slow way, which floods it (br42 no longer knows c1): not cached again until c1 sends. Hits
// refresh the remote's entry, not c1's.
TEST(FixedMode, AContainerEntryAgeingOutInvalidatesTheFlow)
{
	Harness h(with_s1(ScenarioText{}.learning_bridges()), FastpathMode::fixed);
	EXPECT_EQ(h.send(reply_to_remote("192.168.0.1"), 1).verdict.verdict, VerdictKind::transmit)
	    << "br42 learns c1 on veth-c1 at 1 ms";
	// The first frame's learning of the remote's MAC (an FDB event) refuses its own insert.
	EXPECT_TRUE(delivered(h.send(vxlan_udp(), 2), "s1", Path::slow));
	EXPECT_TRUE(delivered(h.send(vxlan_udp(), 3), "s1", Path::slow));
	EXPECT_TRUE(delivered(h.send(vxlan_udp(), 4), "s1", Path::fast));
	EXPECT_TRUE(delivered(h.send(vxlan_udp(), 200'000), "s1", Path::fast));
	const Packet &aged = h.send(vxlan_udp(), 301'000);
	EXPECT_TRUE(delivered(aged, "s1", Path::slow)) << "c1's entry aged out at 300.001 s";
	EXPECT_TRUE(aged.bridge_flooded);
	EXPECT_TRUE(delivered(h.send(vxlan_udp(), 301'001), "s1", Path::slow)) << "flooded: not cached";
}

// The same where the capture's clock steps back: an entry learned by a frame earlier than the
// last ageing sweep expires before the time that sweep would have come back.
TEST(FixedMode, AnEntryLearnedAfterTheClockSteppedBackAgesOutOnTime)
{
	Harness h(with_s1(ScenarioText{}.learning_bridges()), FastpathMode::fixed);
	EXPECT_TRUE(delivered(h.send(vxlan_udp(), 400'000), "s1", Path::slow)) << "flooded: c1 unknown";
	EXPECT_EQ(h.send(reply_to_remote("192.168.0.1"), 1).verdict.verdict, VerdictKind::transmit)
	    << "the clock back at 1 ms: br42 learns c1, to expire at 300.001 s";
	EXPECT_TRUE(delivered(h.send(vxlan_udp(), 2), "s1", Path::slow));
	EXPECT_TRUE(delivered(h.send(vxlan_udp(), 3), "s1", Path::fast));
	EXPECT_TRUE(delivered(h.send(vxlan_udp(), 200'000), "s1", Path::fast)) << "the remote's entry refreshed";
	const Packet &aged = h.send(vxlan_udp(), 301'000);
	EXPECT_TRUE(delivered(aged, "s1", Path::slow)) << "c1's entry aged out at 300.001 s";
	EXPECT_TRUE(aged.bridge_flooded);
}

// The recorder's host: static bridge entries for both MACs, so the bridge learns nothing new.
ScenarioText with_static_fdb(ScenarioText text, std::string_view vxlan_options)
{
	text.vxlan = {"{name: vxlan42, vni: 42, port: 4789, bridge: br42" + std::string(vxlan_options) + "}"};
	text.bridges = {R"({name: br42, fdb: [{mac: "02:42:0a:e9:01:02", port: veth-c1},
	                                     {mac: "02:42:0a:e9:02:02", port: vxlan42, dst: 192.168.0.1}]})"};
	return with_s1(text);
}

// A learning device's vxlan_snoop learns the new remote on the flow's first frame, and tells the
// fast path (an FDB event on the device). The kernel series looks up, and takes its ticket, after
// vxlan_snoop: the event does not refuse that frame's insert, and the second frame hits.
TEST(FixedMode, TheFirstFrameOfANewRemoteIsCachedDespiteItsOwnSnoop)
{
	Harness h(with_static_fdb({}, ""), FastpathMode::fixed);
	EXPECT_TRUE(delivered(h.send(vxlan_udp(), 1), "s1", Path::slow));
	EXPECT_NE(h.pipeline().host().remote(h.pipeline().host().device_id("vxlan42").ifindex, kRemoteContainerMac), nullptr)
	    << "vxlan_snoop learnt the remote";
	EXPECT_TRUE(delivered(h.send(vxlan_udp(), 2), "s1", Path::fast));
}

// `learning: false` (nolearning): vxlan_rcv runs no vxlan_snoop. The device's remotes are its static
// entries (the bridge's dst for vxlan42), which replies are checked against; frames from another
// VTEP teach it nothing: the first misses (another outer flow, another RSS hash: the entry's), the
// next hits, with nothing to refresh.
TEST(FixedMode, ANolearningDeviceKnowsItsRemotesFromTheStaticEntriesOnly)
{
	Harness h(with_static_fdb({}, ", learning: false"), FastpathMode::fixed);
	const OverlayHost &host = h.pipeline().host();
	const int vxlan42 = host.device_id("vxlan42").ifindex;
	EXPECT_FALSE(host.learns(vxlan42));
	EXPECT_TRUE(delivered(h.send(vxlan_udp(), 1), "s1", Path::slow));
	EXPECT_TRUE(delivered(h.send(vxlan_udp(), 2), "s1", Path::fast));
	// From another VTEP: the entry's hash is the inner key's (the outer header is not in it), and
	// without vxlan_snoop nothing the skipped stages would do depends on the outer source.
	EXPECT_TRUE(delivered(h.send(vxlan_udp({.outer_src = "192.168.0.3:40000"}), 3), "s1", Path::fast))
	    << "no vxlan_snoop: nothing for a hit to stand in for";
	const OverlayHost::RemoteVtep *vtep = host.remote(vxlan42, kRemoteContainerMac);
	ASSERT_NE(vtep, nullptr);
	EXPECT_EQ(vtep->ip, endpoint("192.168.0.1:0").address) << "the static entry's dst, not the frame's source";
	EXPECT_FALSE(h.send(reply_to_remote("192.168.0.1"), 5).verdict.reason.has_value());
	EXPECT_EQ(h.send(reply_to_remote("192.168.0.3"), 6).verdict.reason, "tx_mismatch_outer_dst_ip");
}

// The peer's VTEP keeps its address but its frames now come from another link-layer source (a new
// NIC, another router on the underlay): the flow's RSS hash is unchanged, so the entry would hit,
// but the host's record of the VTEP (what replies are checked against) must be updated first.
TEST(FixedMode, APeerWhoseOuterSourceMacChangedTakesTheSlowPathAndRepliesFollowIt)
{
	constexpr MacAddress kNewUnderlayMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x09}};
	Harness h(with_s1(), FastpathMode::fixed);
	warm_up(h, "s1");
	Bytes frame = vxlan_udp();
	std::copy(kNewUnderlayMac.bytes.begin(), kNewUnderlayMac.bytes.end(), frame.begin() + 6);
	EXPECT_TRUE(delivered(h.send(frame, 4), "s1", Path::slow)) << "the VTEP record changes: no hit";
	Bytes reply = reply_to_remote("192.168.0.1");
	std::copy(kNewUnderlayMac.bytes.begin(), kNewUnderlayMac.bytes.end(), reply.begin());
	const Packet &tx = h.send(reply, 5);
	EXPECT_EQ(tx.verdict.verdict, VerdictKind::transmit);
	EXPECT_FALSE(tx.verdict.reason.has_value()) << *tx.verdict.reason;
}

// A TX hit is checked against the bytes the kernel actually sent: when they differ (here the remote
// VTEP changed through something the scenario does not show, and the host had no record of it to
// check the slow path by), the hit says so instead of passing for a correct one.
TEST(FixedMode, ATxHitWhoseTemplateDiffersFromTheSentHeaderIsReported)
{
	Harness h(with_s1(), FastpathMode::fixed);
	EXPECT_FALSE(h.send(reply_to_remote("192.168.0.1"), 1).verdict.reason.has_value());
	const Packet &hit = h.send(reply_to_remote("192.168.0.1"), 2);
	ASSERT_EQ(hit.verdict.path, Path::fast);
	EXPECT_FALSE(hit.verdict.reason.has_value()) << *hit.verdict.reason;
	const Packet &other = h.send(reply_to_remote("192.168.0.5"), 3);
	EXPECT_EQ(other.verdict.path, Path::fast);
	EXPECT_EQ(other.verdict.reason, "tx_template_mismatch");
}

// A GSO frame (a datagram larger than the NIC's MTU, sent whole and segmented below the capture)
// whose flow is cached is sent by the cache, as the series sends it (fpath_tx_send makes it the
// tunnel's GSO frame): the fast way, its header the cached one but for the lengths, ids and
// checksums; the flow's next wire-sized frame still hits the template.
TEST(FixedMode, AGsoFrameOfACachedTxFlowIsSentByTheCache)
{
	Harness h(with_s1(), FastpathMode::fixed);
	EXPECT_EQ(h.send(reply_to_remote("192.168.0.1"), 1).verdict.path, Path::slow);
	ASSERT_EQ(h.send(reply_to_remote("192.168.0.1"), 2).verdict.path, Path::fast);
	const Packet &gso = h.send(reply_to_remote("192.168.0.1", 42, 3000), 3);
	ASSERT_TRUE(gso.parsed.has(ParseReason::gso_oversize));
	EXPECT_EQ(gso.verdict.verdict, VerdictKind::transmit);
	EXPECT_EQ(gso.verdict.path, Path::fast);
	EXPECT_FALSE(gso.verdict.reason.has_value()) << *gso.verdict.reason;
	EXPECT_EQ(h.send(reply_to_remote("192.168.0.1"), 4).verdict.path, Path::fast);
}

// A UDP socket that connect() autobound (the model's first ephemeral port, 32768) gives the port back
// when it disconnects (__udp_disconnect: the port was not bind()'s). Its cached flow must not hit
// any more: vanilla drops the next datagram, and so must fixed mode, whose hit takes its socket
// from the cache without a lookup.
TEST(FixedMode, ADisconnectThatGivesBackAnAutoboundPortEndsItsFlows)
{
	ScenarioText text;
	text.at(0, "op: socket, sock: s1, ns: c1, proto: udp")
		.at(0, R"(op: connect, sock: s1, peer: "10.233.2.2:4000")")
		.at(10, R"(op: connect, sock: s1, peer: "0.0.0.0:0")");
	InnerFrame to_autobound{.dst = "10.233.1.2:32768"};
	for (FastpathMode mode : {FastpathMode::off, FastpathMode::fixed}) {
		Harness h(text, mode);
		EXPECT_TRUE(delivered(h.send(vxlan_udp(to_autobound), 1), "s1"));
		EXPECT_TRUE(delivered(h.send(vxlan_udp(to_autobound), 2), "s1"));
		EXPECT_TRUE(delivered(h.send(vxlan_udp(to_autobound), 3), "s1",
				      mode == FastpathMode::fixed ? Path::fast : Path::slow));
		EXPECT_TRUE(dropped(h.send(vxlan_udp(to_autobound), 20), "socket_lookup", "no_socket"))
			<< "mode " << static_cast<int>(mode);
	}
}

// The TX template holds the VNI: after `ip link set vxlan42 type vxlan id 44` the kernel sends with
// the new VNI, and the old template must not serve (nor be reported as differing from) it.
TEST(FixedMode, AVniChangeInvalidatesTheTxTemplate)
{
	Harness h(with_s1().at(10, "op: vni, dev: vxlan42, vni: 44"), FastpathMode::fixed);
	warm_up(h, "s1");
	h.send(reply_to_remote("192.168.0.1"), 4);
	ASSERT_EQ(h.send(reply_to_remote("192.168.0.1"), 5).verdict.path, Path::fast) << "the template is cached";
	const Packet &after = h.send(reply_to_remote("192.168.0.1", 44), 11);
	EXPECT_EQ(after.verdict.path, Path::slow) << "the template with VNI 42 is stale";
	EXPECT_FALSE(after.verdict.reason.has_value()) << *after.verdict.reason;
}

// The TX template's path is the series' (fpath_tx_insert, net/core/fpath.c): the veth's host end,
// the bridge, the VXLAN device and the egress NIC, not the container's end (which a scenario cannot
// take down: its events name host devices). The NIC going down and up makes the template stale,
// and the reply after that is cached again.
TEST(FixedMode, TheTxTemplateHangsOnTheEgressNic)
{
	Harness h(with_s1().at(20, "op: link, dev: eth0, up: false").at(21, "op: link, dev: eth0, up: true"),
		  FastpathMode::fixed);
	warm_up(h, "s1");
	h.send(reply_to_remote("192.168.0.1"), 4);
	ASSERT_EQ(h.send(reply_to_remote("192.168.0.1"), 5).verdict.path, Path::fast) << "the template is cached";
	EXPECT_EQ(h.send(reply_to_remote("192.168.0.1"), 22).verdict.path, Path::slow) << "the NIC is on its path";
	EXPECT_EQ(h.send(reply_to_remote("192.168.0.1"), 23).verdict.path, Path::fast) << "cached again";
}

// A reuseport group spreads flows over its members by a hash of the 4-tuple and the member count
// (reuseport_select_sock_by_hash): when a member closes, flows cached on the members that remain
// move too. Every flow's next frame must end where vanilla ends it.
TEST(FixedMode, AReuseportMemberClosingRespreadsTheFlowsCachedOnTheOthers)
{
	ScenarioText text;
	for (const char *sock : {"r1", "r2", "r3"})
		text.udp(0, sock, "c1", "0.0.0.0:5000", "reuseport: true");
	text.at(100, "op: close, sock: r3");
	Harness fixed(text, FastpathMode::fixed);
	Harness off(text, FastpathMode::off);
	constexpr int kFlows = 16;
	auto flow = [](int i) { return vxlan_udp({.src = "10.233.2.2:" + std::to_string(4000 + i)}); };
	int hits = 0, moved = 0;
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < kFlows; i++) {
			double ms = 1 + round * kFlows + i;
			const Packet &p = fixed.send(flow(i), ms);
			hits += p.verdict.path == Path::fast;
			EXPECT_EQ(p.verdict.sock, off.send(flow(i), ms).verdict.sock) << "flow " << i << " before the close";
		}
	}
	ASSERT_GT(hits, kFlows / 2) << "the flows are cached before the close";
	std::vector<std::string> before;
	for (int i = 0; i < kFlows; i++)
		before.push_back(off.send(flow(i), 60 + i).verdict.sock.value_or(""));
	for (int i = 0; i < kFlows; i++) {
		const Packet &vanilla = off.send(flow(i), 200 + i);
		moved += before[i] != "r3" && !(vanilla.verdict.sock == before[i]);
		EXPECT_EQ(fixed.send(flow(i), 200 + i).verdict.sock, vanilla.verdict.sock) << "flow " << i << " after r3 closed";
	}
	ASSERT_GT(moved, 0) << "some flow on r1 or r2 must move, or this test shows nothing";
}

// A cached TCP child's reset (tcp_reset → tcp_done) removes its entries: the segments after it end
// where vanilla's do, through a second child accepted from the same client port (the model names
// it "t1/10.233.2.2:41000#2", a new socket with its own cookie), its own cached data and reset, and
// a last segment the listener refuses. Without the fast path told of a child's end
// (OverlayHost::forget_socket), the segments after each reset hit the dead child's entry.
TEST(FixedMode, AResetChildsEntriesGoAndTheNextChildIsCachedAfresh)
{
	ScenarioText text;
	text.at(0, "op: socket, sock: t1, ns: c1, proto: tcp")
		.at(0, R"(op: bind, sock: t1, addr: "0.0.0.0:7000")")
		.at(0, "op: listen, sock: t1, backlog: 128");
	Harness fixed(text, FastpathMode::fixed);
	Harness off(text, FastpathMode::off);
	const InnerFrame client{.src = "10.233.2.2:41000", .dst = "10.233.1.2:7000"};
	const std::uint8_t segments[] = {kSyn, kAck, kPsh | kAck, kPsh | kAck, kPsh | kAck, kRst,
					 kSyn, kAck, kPsh | kAck, kPsh | kAck, kPsh | kAck, kRst, kPsh | kAck};
	int hits = 0;
	double ms = 1;
	for (std::uint8_t flags : segments) {
		const Packet &f = fixed.send(vxlan_tcp(client, flags), ms);
		const Packet &v = off.send(vxlan_tcp(client, flags), ms);
		hits += f.verdict.path == Path::fast;
		EXPECT_EQ(f.verdict.verdict, v.verdict.verdict) << "segment at " << ms << " ms";
		EXPECT_EQ(f.verdict.sock, v.verdict.sock) << "segment at " << ms << " ms";
		EXPECT_EQ(f.verdict.reason, v.verdict.reason) << "segment at " << ms << " ms";
		ms += 1;
	}
	EXPECT_GE(hits, 2) << "each child's data must be cached, or this test shows nothing";
}

TEST(FixedMode, SummaryCountsTheInvalidationsByKind)
{
	ScenarioText text = with_s1();
	text.at(10, "op: flush").at(20, "op: close, sock: s1");
	Harness h(text, FastpathMode::fixed);
	warm_up(h, "s1");
	h.send(vxlan_udp(), 15);
	h.finish();
	std::ostringstream out;
	h.pipeline().summarize_fastpath(out);
	EXPECT_NE(out.str().find("hits 1,"), std::string::npos) << out.str();
	EXPECT_NE(out.str().find("close 1,"), std::string::npos) << out.str();
	EXPECT_NE(out.str().find("flush 1;"), std::string::npos) << out.str();
}

// What a hit asks for per frame by id (the container of the cached namespace, the VXLAN device's
// ifindex, the NIC) is indexed after each batch of events: a namespace an event deleted has no
// container under its id, as it has none under its name.
TEST(FixedMode, TheHostsIdIndexesFollowTheEvents)
{
	Harness h(with_s1().at(10, "op: netns_del, ns: c1"), FastpathMode::fixed);
	const OverlayHost &host = h.pipeline().host();
	const model::Topology &topology = host.model().topology();
	const std::uint32_t c1 = host.netns_id("c1");
	ASSERT_NE(topology.container("c1"), nullptr);
	EXPECT_EQ(host.container(c1), topology.container("c1"));
	EXPECT_EQ(host.container(kHostNetnsId), nullptr) << "the host's namespace is no container";
	EXPECT_EQ(host.vxlan_id(*topology.device("vxlan42")).ifindex, host.device_id("vxlan42").ifindex);
	EXPECT_EQ(host.nic(), topology.device("eth0"));

	h.send(vxlan_udp(), 20); // the event at 10 ms applies first
	EXPECT_EQ(topology.container("c1"), nullptr);
	EXPECT_EQ(host.container(c1), nullptr);
}

// A hit delivers to the cached socket without a lookup, but keeps the socket's own bookkeeping:
// a connected UDP socket records the CPU it received on (sk_incoming_cpu), which only the hit can
// have set here, as the frames before it went to the socket on the other CPU. The socket is found
// by the cookie the hit gives, through an index that follows the events: after s1 closes, the
// flow's socket is s2.
TEST(FixedMode, AHitRecordsItsCpuOnTheConnectedSocketTheEventsLeft)
{
	const std::string peer = R"(, peer: "10.233.2.2:4000")";
	Harness h(with_s1()
			  .at(0, "op: connect, sock: s1" + peer)
			  .at(50, "op: close, sock: s1")
			  .udp(51, "s2", "c1", "0.0.0.0:5000")
			  .at(51, "op: connect, sock: s2" + peer),
		  FastpathMode::fixed);
	const OverlayHost &host = h.pipeline().host();
	const model::Sockets &sockets = host.model().sockets();
	// Two outer source ports that RSS puts on different CPUs.
	InnerFrame on_a{}, on_b{};
	unsigned cpu_a = h.send(vxlan_udp(on_a), 1).cpu;
	for (int port = 40001; port < 40100 && on_b.outer_src == on_a.outer_src; port++) {
		InnerFrame probe{.outer_src = "192.168.0.1:" + std::to_string(port)};
		if (h.send(vxlan_udp(probe), 2).cpu != cpu_a)
			on_b = probe;
	}
	ASSERT_NE(on_b.outer_src, on_a.outer_src);
	for (const char *sock : {"s1", "s2"}) {
		const double t = sock == std::string("s1") ? 10 : 60;
		ASSERT_TRUE(delivered(h.send(vxlan_udp(on_a), t), sock));
		ASSERT_TRUE(delivered(h.send(vxlan_udp(on_a), t + 1), sock, Path::fast));
		for (int i = 2; i < 5; i++)
			ASSERT_TRUE(delivered(h.send(vxlan_udp(on_b), t + i), sock));
		ASSERT_EQ(sockets.find(sock)->incoming_cpu, static_cast<int>(1 - cpu_a));
		const Packet &hit = h.send(vxlan_udp(on_a), t + 5);
		ASSERT_TRUE(delivered(hit, sock, Path::fast));
		EXPECT_EQ(host.udp_socket(hit.socket), sockets.find(sock));
		EXPECT_EQ(sockets.find(sock)->incoming_cpu, static_cast<int>(cpu_a)) << sock;
	}
}

// The map is the size the kernel patch gives it (FPATH_ENTRIES_PER_CPU), so a replay evicts where
// that kernel would, and a bigger one is not paid for in chunks every flow allocates.
TEST(FixedMode, TheMapHasTheKernelPatchsCapacity)
{
	std::ifstream patch(ECONSIM_KERNEL_PORT_DIR "/patches/hooks/0002-net-core-fpath.patch");
	ASSERT_TRUE(patch) << "the kernel patch's hooks";
	std::stringstream text;
	text << patch.rdbuf();
	std::smatch define;
	const std::string hooks = text.str();
	ASSERT_TRUE(std::regex_search(hooks, define, std::regex(R"(#define FPATH_ENTRIES_PER_CPU (\d+))")));
	const unsigned entries = static_cast<unsigned>(std::stoul(define[1]));
	Harness h(with_s1(), FastpathMode::fixed);
	const FlowMap *map = h.pipeline().fastpath().flow_map();
	ASSERT_NE(map, nullptr);
	EXPECT_EQ(map->buckets_per_cpu(), (5 * entries + 59) / 60) << "⌈5 × entries / 60⌉ buckets (fpmap_create)";
}

} // namespace
} // namespace econsim::sim::test
