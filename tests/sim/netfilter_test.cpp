// The host's netfilter (host.netfilter) on the bridged path: br_handle_frame runs conntrack and the
// FORWARD chain with br_netfilter on, and fixed mode's hit runs the same (the series runs
// br_netfilter's hooks on a hit), so a flow the chain stops drops on either path; the TX cache is
// not looked up on such a node. traces/docker-netfilter is the same on a real kernel.
#include <gtest/gtest.h>

#include "pipeline_harness.h"

namespace econsim::sim::test {
namespace {

// Docker's chain for br42 with short UDP timeouts (traces/docker-netfilter's).
std::string docker_netfilter(bool bridge_nf_call_iptables = true)
{
	return std::string("  netfilter:\n    bridge_nf_call_iptables: ") +
	       (bridge_nf_call_iptables ? "true" : "false") +
	       R"(
    conntrack: {udp_timeout: 3, udp_timeout_stream: 6}
    forward:
      policy: drop
      rules:
        - {ctstate: [related, established], target: accept}
        - {proto: udp, dport: 5000, target: drop}
        - {in: br42, out: br42, target: accept}
)";
}

// c1's datagram from s1 (:5000) to the remote client, as the host sends it.
Bytes c1_sends()
{
	Bytes inner = ethernet_frame(udp_packet(endpoint("10.233.1.2:5000"), endpoint("10.233.2.2:4000"), {'h'}),
				     0x0800, kRemoteContainerMac, kContainerMac);
	return sent_vxlan_frame(42, inner, endpoint("192.168.0.2:40000"), endpoint("192.168.0.1:4789"));
}

ScenarioText docker_node(bool bridge_nf_call_iptables = true)
{
	ScenarioText text = with_s1();
	text.routing = docker_netfilter(bridge_nf_call_iptables);
	return text;
}

// The port rule drops what the client starts; c1's own datagram makes the client's replies
// ESTABLISHED until the entry times out (3 s, not a stream: replied within 2 s). In fixed mode
// the replies hit, and the hit after the timeout is dropped by the same rule, on the fast path.
TEST(Netfilter, TheForwardChainDecidesOnTheSlowPathAndOnEveryBridgedHit)
{
	for (FastpathMode mode : {FastpathMode::off, FastpathMode::fixed}) {
		SCOPED_TRACE(to_string(mode));
		Harness h(docker_node(), mode);
		EXPECT_TRUE(dropped(h.send(vxlan_udp(), 1), "br_handle_frame", "netfilter_drop"))
			<< "NEW, the port rule";
		const Packet &sent = h.send(c1_sends(), 2);
		EXPECT_EQ(sent.verdict.verdict, VerdictKind::transmit);
		EXPECT_FALSE(sent.verdict.reason) << *sent.verdict.reason;
		EXPECT_TRUE(delivered(h.send(vxlan_udp(), 3), "s1", Path::slow)) << "ESTABLISHED";
		const std::optional<Path> hit = mode == FastpathMode::fixed ? std::optional(Path::fast) : std::nullopt;
		EXPECT_TRUE(delivered(h.send(vxlan_udp(), 1000), "s1", hit));
		// 3 s after the last datagram: the entry is gone, the next one NEW.
		const Packet &late = h.send(vxlan_udp(), 4001);
		EXPECT_TRUE(
			dropped(late, mode == FastpathMode::fixed ? "fastpath" : "br_handle_frame", "netfilter_drop"));
		if (mode == FastpathMode::fixed) {
			EXPECT_EQ(late.verdict.path, Path::fast);
		}
		// Another client's flow is NEW from its first datagram: dropped, never cached.
		EXPECT_TRUE(dropped(h.send(vxlan_udp({.src = "10.233.2.3:4000"}), 4002), "br_handle_frame",
				    "netfilter_drop"));
	}
}

// Without bridge-nf-call-iptables the bridge hands nothing to iptables: the same ruleset decides
// nothing on a bridged path, on either path.
TEST(Netfilter, WithoutBridgeNfCallIptablesABridgedFrameSkipsTheChain)
{
	for (FastpathMode mode : {FastpathMode::off, FastpathMode::fixed}) {
		Harness h(docker_node(false), mode);
		// The first frame teaches br42 the client's MAC (an FDB event): the second is cached.
		for (double ms : {1.0, 2.0})
			EXPECT_TRUE(delivered(h.send(vxlan_udp(), ms), "s1")) << to_string(mode);
		const std::optional<Path> hit = mode == FastpathMode::fixed ? std::optional(Path::fast) : std::nullopt;
		EXPECT_TRUE(delivered(h.send(vxlan_udp(), 3), "s1", hit)) << to_string(mode);
	}
}

// The series declines every transmit on a node with netfilter hooks, before its lookup: c1's
// datagrams stay on the slow path, and conntrack sees each (the replies stay ESTABLISHED).
TEST(Netfilter, NoTransmitIsCachedOnANodeWithNetfilter)
{
	Harness h(docker_node(), FastpathMode::fixed);
	for (double ms : {1.0, 2.0, 3.0})
		EXPECT_EQ(h.send(c1_sends(), ms).verdict.path, Path::slow);
	EXPECT_TRUE(delivered(h.send(vxlan_udp(), 4), "s1", Path::slow));
	EXPECT_TRUE(delivered(h.send(vxlan_udp(), 5), "s1", Path::slow)) << "br42 learnt the client at 4 ms";
	// c1 keeps sending, the client's datagrams keep being ESTABLISHED past the 3 s timeout.
	EXPECT_EQ(h.send(c1_sends(), 2500).verdict.path, Path::slow);
	EXPECT_TRUE(delivered(h.send(vxlan_udp(), 5000), "s1", Path::fast));
}

// A transmitted frame the scenario's chain would drop was sent all the same: the ruleset is not
// the node's, and the frame says so.
TEST(Netfilter, ASentFrameTheChainWouldDropIsAMismatch)
{
	ScenarioText text = with_s1();
	text.routing = "  netfilter:\n    bridge_nf_call_iptables: true\n    forward: {policy: drop}\n";
	Harness h(text, FastpathMode::off);
	const Packet &sent = h.send(c1_sends(), 1);
	EXPECT_EQ(sent.verdict.verdict, VerdictKind::transmit);
	ASSERT_TRUE(sent.verdict.reason);
	EXPECT_EQ(*sent.verdict.reason, "tx_mismatch_netfilter");
}

// What the model cannot track is reported, not guessed: an inner fragment crossing the chain.
TEST(Netfilter, AFragmentCrossingTheChainIsIgnoredAndCounted)
{
	Harness h(docker_node(), FastpathMode::off);
	Bytes frame = vxlan_udp();
	constexpr std::size_t kInnerIp = 14 + 20 + 8 + 8 + 14;
	put_be16(frame, kInnerIp + 6, 0x2000); // MF, offset 0
	fix_ipv4_checksum(frame, kInnerIp);
	EXPECT_TRUE(ignored(h.send(frame, 1), "br_handle_frame", "netfilter_not_modelled"));
	std::ostringstream out;
	h.pipeline().summarize_netfilter(out);
	EXPECT_NE(out.str().find("not tracked (fragments, not UDP or TCP) 1"), std::string::npos) << out.str();
}

} // namespace
} // namespace econsim::sim::test
