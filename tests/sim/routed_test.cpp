// The routed overlays' path (flannel, Calico): vxlan_rcv → ip_route_input → ip_forward →
// neigh_output [→ br_dev_xmit] → veth_xmit → the container, or the host's own stack, in `off` mode
// and in `fixed` mode, whose hits must check what the bridged case did not (TTL, routing state).
#include <gtest/gtest.h>

#include "pipeline_harness.h"

namespace econsim::sim::test {
namespace {

inline constexpr MacAddress kVxlanMac{{0x02, 0x00, 0x00, 0x02, 0x00, 0x00}};
constexpr std::size_t kInnerIpOffset = 14 + 20 + 8 + 8 + 14;

const char *const kRouting = R"(  sysctl: {ip_forward: true, rp_filter: 1}
  routes:
    - {dst: 10.233.1.2/32, dev: calic1, scope: link}
    - {dst: 10.233.1.9/32, dev: calic1, scope: link}
    - {dst: 10.233.2.0/24, via: 10.233.2.1, dev: vxlan.calico, onlink: true}
    - {dst: 192.168.0.0/24, dev: eth0, scope: link}
  neighbours:
    - {ip: 10.233.2.1, mac: "02:00:00:01:00:00", dev: vxlan.calico}
)";

// Calico's node: vxlan.calico with an address and no bridge, c1 (10.233.1.2/32) behind calic1.
ScenarioText calico(std::string routing = kRouting)
{
	ScenarioText text;
	text.vxlan = {R"({name: vxlan.calico, vni: 42, port: 4789, mac: "02:00:00:02:00:00", ip: 10.233.1.1/32})"};
	text.bridges = {};
	text.containers = {
		R"({name: c1, veth: calic1, veth_mac: "ee:ee:ee:ee:ee:ee", proxy_arp: true, mac: "02:42:0a:e9:01:02", ip: 10.233.1.2/32, gateway: 169.254.1.1})"};
	text.routing = std::move(routing);
	return text;
}

// flannel's node: flannel.1 routed, c1 and c2 on cni0 (the pods' gateway 10.233.1.1).
ScenarioText flannel()
{
	ScenarioText text;
	text.vxlan = {R"({name: flannel.1, vni: 42, port: 4789, mac: "02:00:00:02:00:00", ip: 10.233.1.0/32})"};
	text.bridges = {R"({name: cni0, mac: "02:00:00:02:01:01", ip: 10.233.1.1/24})"};
	text.containers = {
		R"({name: c1, bridge: cni0, veth: veth-c1, mac: "02:42:0a:e9:01:02", ip: 10.233.1.2/24, gateway: 10.233.1.1})",
		R"({name: c2, bridge: cni0, veth: veth-c2, mac: "02:42:0a:e9:01:03", ip: 10.233.1.3/24, gateway: 10.233.1.1})"};
	text.routing = R"(  sysctl: {ip_forward: true, rp_filter: 1}
  routes:
    - {dst: 10.233.1.0/24, dev: cni0, proto: kernel, scope: link, src: 10.233.1.1}
    - {dst: 10.233.2.0/24, via: 10.233.2.0, dev: flannel.1, onlink: true}
    - {dst: 192.168.0.0/24, dev: eth0, proto: kernel, scope: link, src: 192.168.0.2}
)";
	return text;
}

InnerFrame routed(std::string src = "10.233.2.2:4000", std::string dst = "10.233.1.2:5000")
{
	InnerFrame f;
	f.src = std::move(src);
	f.dst = std::move(dst);
	f.dst_mac = kVxlanMac;
	return f;
}

// c1's reply to 10.233.2.2:4000 as the host sends it: through cni0 (which learns c1's MAC on its
// port) and flannel.1, on the wire from the host's NIC to the peer's.
Bytes pod_reply()
{
	return sent_vxlan_frame(
		42,
		ethernet_frame(udp_packet(endpoint("10.233.1.2:5000"), endpoint("10.233.2.2:4000"), {'r'}), 0x0800,
			       kRemoteContainerMac, kVxlanMac),
		endpoint("192.168.0.2:40000"), endpoint("192.168.0.1:4789"));
}

Bytes with_inner_ttl(Bytes frame, std::uint8_t ttl)
{
	frame[kInnerIpOffset + 8] = ttl;
	fix_ipv4_checksum(frame, kInnerIpOffset);
	return frame;
}

TEST(Routed, CalicoPodReachedThroughRouteAndVeth)
{
	Harness h(with_s1(calico()), FastpathMode::off);
	const Packet &p = h.send(vxlan_udp(routed()), 1);
	EXPECT_TRUE(delivered(p, "s1", Path::slow));
	std::vector<Stage> stages;
	for (const TraceStep &s : p.steps)
		if (stages.empty() || stages.back() != s.stage)
			stages.push_back(s.stage);
	EXPECT_EQ(stages, (std::vector<Stage>{Stage::nic_rx, Stage::ip_rcv, Stage::udp_rcv, Stage::vxlan_rcv,
					      Stage::ip_route_input, Stage::ip_forward, Stage::neigh_output,
					      Stage::veth_xmit, Stage::ip_rcv_container, Stage::socket_lookup,
					      Stage::deliver}));
}

TEST(Routed, FlannelPodReachedThroughTheBridge)
{
	Harness h(with_s1(flannel()), FastpathMode::off);
	const Packet &p = h.send(vxlan_udp(routed()), 1);
	EXPECT_TRUE(delivered(p, "s1", Path::slow));
	EXPECT_EQ(h.pipeline().stage_count(Stage::br_dev_xmit).entered, 1u);
	EXPECT_EQ(h.pipeline().stage_count(Stage::br_handle_frame).entered, 0u);
}

TEST(Routed, FrameForAnotherMacIsOtherHost)
{
	Harness h(with_s1(calico()), FastpathMode::off);
	InnerFrame f = routed();
	f.dst_mac = kContainerMac; // bridged thinking: the pod's MAC, which only the pod's eth0 has
	EXPECT_TRUE(dropped(h.send(vxlan_udp(f), 1), "ip_route_input", "other_host"));
}

TEST(Routed, DropsAsTheKernelRoutes)
{
	Harness h(with_s1(calico()), FastpathMode::off);
	EXPECT_TRUE(dropped(h.send(vxlan_udp(routed("192.168.0.7:4000")), 1), "ip_route_input", "rp_filter"));
	EXPECT_TRUE(dropped(h.send(vxlan_udp(routed("10.233.2.2:4000", "10.233.3.2:5000")), 2), "ip_route_input",
			    "no_route"));
	EXPECT_TRUE(dropped(h.send(with_inner_ttl(vxlan_udp(routed()), 1), 3), "ip_forward", "ttl_exceeded"));
	EXPECT_TRUE(dropped(h.send(vxlan_udp(routed("10.233.2.2:4000", "10.233.1.9:5000")), 4), "neigh_output",
			    "neigh_unresolved"));
	EXPECT_TRUE(delivered(h.send(with_inner_ttl(vxlan_udp(routed()), 2), 5), "s1"));
}

TEST(Routed, ForwardingDisabled)
{
	Harness h(with_s1(calico("  sysctl: {ip_forward: false, rp_filter: 1}\n")), FastpathMode::off);
	EXPECT_TRUE(dropped(h.send(vxlan_udp(routed()), 1), "ip_route_input", "forwarding_disabled"));
}

// The device's own address is the host's: its stack takes the frame, a host socket gets it.
TEST(Routed, HostAddressGoesToTheHostStack)
{
	Harness without(with_s1(calico()), FastpathMode::off);
	EXPECT_TRUE(ignored(without.send(vxlan_udp(routed("10.233.2.2:4000", "10.233.1.1:5000")), 1),
			    "ip_local_deliver_host", "host_stack"));
	Harness with(calico().udp(0, "h1", "host", "0.0.0.0:5000"), FastpathMode::off);
	EXPECT_TRUE(delivered(with.send(vxlan_udp(routed("10.233.2.2:4000", "10.233.1.1:5000")), 1), "h1"));
}

// kube-proxy's NodePort NAT, declared by the scenario: the NodePort's frames to any host address and
// its pod's replies to a host address end under reasons of their own; the rest goes on as before.
TEST(Routed, NatDecidedFramesAreNamedNotGuessed)
{
	ScenarioText text = flannel();
	text.routing += "  nat:\n    - {proto: tcp, port: 32150, to: 10.233.2.2:80}\n";
	for (FastpathMode mode : {FastpathMode::off, FastpathMode::fixed}) {
		Harness h(with_s1(text), mode);
		Bytes nodeport = ethernet_frame(tcp_packet(endpoint("192.168.0.9:61000"), endpoint("192.168.0.2:32150"), kSyn, {}));
		EXPECT_TRUE(ignored(h.send(nodeport, 1), "ip_rcv", "nat_nodeport")) << to_string(mode);
		EXPECT_TRUE(ignored(h.send(vxlan_tcp(routed("10.233.2.2:4000", "10.233.1.0:32150"), kSyn), 2),
				    "ip_route_input", "nat_nodeport"))
			<< "flannel.1's address is the host's too";
		EXPECT_TRUE(ignored(h.send(vxlan_tcp(routed("10.233.2.2:80", "10.233.1.0:40000"), kSyn | kAck), 3),
				    "ip_route_input", "nat_reply"));
		// Another peer's reply to the host is the host's stack; the pod's frame to a pod is routed.
		EXPECT_TRUE(ignored(h.send(vxlan_tcp(routed("10.233.2.2:81", "10.233.1.0:40000"), kAck), 4),
				    "ip_local_deliver_host", "host_stack"));
		EXPECT_TRUE(delivered(h.send(vxlan_udp(routed("10.233.2.2:80", "10.233.1.2:5000")), 5), "s1"));
		Bytes udp_nodeport = ethernet_frame(udp_packet(endpoint("192.168.0.9:61000"), endpoint("192.168.0.2:32150"), {'x'}));
		EXPECT_TRUE(dropped(h.send(udp_nodeport, 6), "socket_lookup", "no_socket")) << "the rule is TCP's";
	}
}

// A fixed-mode hit keeps ip_forward's per-packet checks: a cached flow's TTL-1 frame is dropped
// as vanilla drops it.
TEST(Routed, FixedHitChecksTheTtl)
{
	for (FastpathMode mode : {FastpathMode::off, FastpathMode::fixed}) {
		Harness h(with_s1(calico()), mode);
		for (double ms : {1.0, 2.0, 3.0})
			h.send(vxlan_udp(routed()), ms);
		if (mode == FastpathMode::fixed) {
			EXPECT_TRUE(delivered(h.send(vxlan_udp(routed()), 4), "s1", Path::fast));
		}
		EXPECT_TRUE(dropped(h.send(with_inner_ttl(vxlan_udp(routed()), 1), 5), "ip_forward", "ttl_exceeded"))
			<< to_string(mode);
	}
}

// The bridge port of a flannel pod is not in a routed entry's path: its link change reaches the
// entry through the routing generation.
TEST(Routed, FixedHitSeesARoutingChange)
{
	for (FastpathMode mode : {FastpathMode::off, FastpathMode::fixed}) {
		Harness h(with_s1(flannel()).at(10, "op: link, dev: veth-c1, up: false"), mode);
		for (double ms : {1.0, 2.0, 3.0})
			h.send(vxlan_udp(routed()), ms);
		const Packet &p = h.send(vxlan_udp(routed()), 20);
		EXPECT_EQ(p.verdict.verdict, VerdictKind::drop) << to_string(mode);
		EXPECT_EQ(deciding_stage(p), "br_dev_xmit") << to_string(mode);
	}
}

// One datagram 10.233.2.2:4000 > 10.233.1.1:5000 (vxlan.calico's own address) of 24 bytes, in two
// inner fragments of IP id 0x1234: bytes 0-16 (MF) and 16-24, addressed to the device's MAC.
Bytes fragment_to_the_host(bool first)
{
	Bytes payload;
	if (first) {
		Bytes udp = udp_packet(endpoint("10.233.2.2:4000"), endpoint("10.233.1.1:5000"), Bytes(16, 'x'));
		payload.assign(udp.begin() + 20, udp.begin() + 20 + 16); // the UDP header and 8 bytes
		put_be16(payload, 6, 0); // no checksum: the datagram's is not this fragment's to check
	} else {
		payload.assign(8, 'x');
	}
	Bytes ip = ipv4_packet(endpoint("10.233.2.2:0").address, endpoint("10.233.1.1:0").address, 17, payload);
	put_be16(ip, 6, first ? 0x2000 : 16 / 8);
	fix_ipv4_checksum(ip, 0);
	return vxlan_frame(42, ethernet_frame(ip, 0x0800, kVxlanMac, kRemoteContainerMac));
}

// An inner fragment routed to the host itself is reassembled there (ip_local_deliver → ip_defrag
// in the host namespace), as the host kernel did on random-cases (seed 14, case-029): held, then
// the whole datagram to the host's socket. It was dropped as `fragment` before.
TEST(Routed, FragmentsToTheHostAreReassembledThere)
{
	for (FastpathMode mode : {FastpathMode::off, FastpathMode::fixed}) {
		Harness h(calico().udp(0, "h1", "host", "0.0.0.0:5000"), mode);
		const Packet &first = h.send(fragment_to_the_host(true), 1);
		EXPECT_EQ(first.verdict.verdict, VerdictKind::held) << to_string(mode);
		EXPECT_EQ(deciding_stage(first), "ip_defrag") << to_string(mode);
		const Packet &last = h.send(fragment_to_the_host(false), 2);
		ASSERT_TRUE(delivered(last, "h1", Path::slow)) << to_string(mode);
		EXPECT_EQ(model::to_string(*last.verdict.flow), "udp 10.233.2.2:4000 > 10.233.1.1:5000");
	}
}

// A flannel pod's reply crosses cni0, which learns where the pod is (br_fdb_update moves a static
// entry too) though the VXLAN device it is routed to has no bridge: the entry moved to the other
// pod's port comes back, and the next frame for the pod reaches it.
TEST(Routed, APodsReplyTeachesItsBridgeNotTheVxlanDevices)
{
	for (FastpathMode mode : {FastpathMode::off, FastpathMode::fixed}) {
		Harness h(with_s1(flannel()).at(5, R"(op: fdb, bridge: cni0, mac: "02:42:0a:e9:01:02", port: veth-c2)"), mode);
		EXPECT_TRUE(delivered(h.send(vxlan_udp(routed()), 1), "s1")) << to_string(mode);
		EXPECT_EQ(h.send(vxlan_udp(routed()), 10).verdict.verdict, VerdictKind::drop) << "c2 is not 10.233.1.2";
		EXPECT_EQ(h.send(pod_reply(), 20).verdict.verdict, VerdictKind::transmit) << to_string(mode);
		EXPECT_TRUE(delivered(h.send(vxlan_udp(routed()), 30), "s1")) << to_string(mode);
	}
}

// A frame cni0 floods (it learns only, and has not learned the pod's MAC yet) is delivered but not
// cached: the series' insert asks the bridge's FDB (br_fpath_tx_to) and refuses a flooded path.
// Once the pod's reply has taught cni0 its MAC, the flow is cached and hits.
TEST(Routed, FixedModeCachesNoPathTheBridgeFlooded)
{
	Harness h(with_s1(flannel().learning_bridges()), FastpathMode::fixed);
	for (double ms : {1.0, 2.0, 3.0, 4.0})
		EXPECT_TRUE(delivered(h.send(vxlan_udp(routed()), ms), "s1", Path::slow)) << ms << " ms";
	EXPECT_EQ(h.send(pod_reply(), 20).verdict.verdict, VerdictKind::transmit);
	EXPECT_TRUE(delivered(h.send(vxlan_udp(routed()), 30), "s1", Path::slow)) << "the miss that caches it";
	EXPECT_TRUE(delivered(h.send(vxlan_udp(routed()), 31), "s1", Path::fast));
}

// A host device set down loses its routes for good (fib_disable_ip → fib_flush), as the host kernel
// showed on random-cases (kernel-replay/random-cases, seed 14, case-016): the Calico pod's /32
// through its veth does not come back with the veth, until the `route` event puts it back.
TEST(Routed, LinkDownDeletesTheRoutesThroughTheDevice)
{
	for (FastpathMode mode : {FastpathMode::off, FastpathMode::fixed}) {
		Harness h(with_s1(calico())
				  .at(10, "op: link, dev: calic1, up: false")
				  .at(11, "op: link, dev: calic1, up: true")
				  .at(30, "op: route, dst: 10.233.1.2/32, dev: calic1, scope: link"),
			  mode);
		for (double ms : {1.0, 2.0, 3.0})
			h.send(vxlan_udp(routed()), ms);
		EXPECT_TRUE(dropped(h.send(vxlan_udp(routed()), 20), "ip_route_input", "no_route")) << to_string(mode);
		EXPECT_TRUE(delivered(h.send(vxlan_udp(routed()), 40), "s1")) << to_string(mode);
	}
}

// The events that change routing (sysctl, route, route_del, neigh) invalidate routed entries: the
// frame after each ends in `fixed` mode where it ends in `off` mode, and the answer is cached again.
TEST(Routed, FixedModeFollowsRoutingEvents)
{
	struct Case {
		std::string event;
		std::string stage; // where the frame after it ends ("" delivered to s1)
		std::string reason;
	};
	const Case cases[] = {
		{"op: sysctl, ip_forward: false", "ip_route_input", "forwarding_disabled"},
		{"op: sysctl, rp_filter: 0", "", ""},
		{"op: route_del, dst: 10.233.1.2/32", "ip_route_input", "no_route"},
		{"op: route, dst: 10.233.1.2/32, dev: vxlan.calico", "neigh_output", "neigh_unresolved"},
		{R"(op: neigh, ip: 10.233.1.2, mac: "02:42:0a:e9:01:09", dev: calic1)", "neigh_output", "other_host"},
	};
	for (const Case &c : cases) {
		for (FastpathMode mode : {FastpathMode::off, FastpathMode::fixed}) {
			Harness h(with_s1(calico()).at(10, c.event), mode);
			for (double ms : {1.0, 2.0, 3.0})
				h.send(vxlan_udp(routed()), ms);
			const Packet &p = h.send(vxlan_udp(routed()), 20);
			if (c.stage.empty())
				EXPECT_TRUE(delivered(p, "s1")) << c.event << " " << to_string(mode);
			else
				EXPECT_TRUE(dropped(p, c.stage, c.reason)) << c.event << " " << to_string(mode);
		}
	}
}

} // namespace
} // namespace econsim::sim::test

namespace econsim::sim::test {
namespace {

// A routed hit is declined where the host has netfilter (the series declines it where the host
// namespace has IPv4 hooks: it does not run ip_forward's FORWARD and conntrack); the slow path's
// ip_forward runs the chain, in the VXLAN device, out the pod's veth.
TEST(Routed, OnANodeWithNetfilterRoutedFramesTakeTheSlowPathAndItsChain)
{
	std::string routing = std::string(kRouting) + R"(  netfilter:
    forward:
      policy: accept
      rules:
        - {in: vxlan.calico, out: calic1, proto: udp, dport: 5001, target: drop}
)";
	for (FastpathMode mode : {FastpathMode::off, FastpathMode::fixed}) {
		Harness h(with_s1(calico(routing)), mode);
		for (double ms : {1.0, 2.0, 3.0})
			EXPECT_TRUE(delivered(h.send(vxlan_udp(routed()), ms), "s1", Path::slow)) << to_string(mode);
		EXPECT_TRUE(dropped(h.send(vxlan_udp(routed("10.233.2.2:4000", "10.233.1.2:5001")), 4), "ip_forward",
				    "netfilter_drop"));
		std::ostringstream out;
		h.pipeline().summarize_fastpath(out);
		if (mode == FastpathMode::fixed) {
			EXPECT_NE(out.str().find("declined for the host's netfilter: routed hits 2"), std::string::npos)
				<< out.str();
		}
	}
}

} // namespace
} // namespace econsim::sim::test
