// model/netfilter: conntrack's states and timeouts (6.1 nf_conntrack_proto_udp.c,
// nf_conntrack_proto_tcp.c) and the FORWARD chain, as the recording traces/docker-netfilter saw
// them on a real kernel (traces/README.md) and as the 6.1 source reads.
#include "model/netfilter.h"

#include <gtest/gtest.h>

namespace econsim::model {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr std::int64_t kT0 = 1000 * kSecond;

const Endpoint kPod{ipv4(10, 233, 1, 2), 5099};
const Endpoint kRemote{ipv4(10, 233, 2, 2), 4099};

FiveTuple udp(Endpoint from, Endpoint to)
{
	return {Protocol::udp, {from, to}};
}
FiveTuple tcp(Endpoint from, Endpoint to)
{
	return {Protocol::tcp, {from, to}};
}

// Docker's FORWARD chain for one bridge, as traces/docker-netfilter has it.
NetfilterConfig docker(std::int64_t udp_timeout = 3 * kSecond, std::int64_t stream = 6 * kSecond)
{
	NetfilterConfig c;
	c.bridge_nf_call_iptables = true;
	c.udp_timeout_ns = udp_timeout;
	c.udp_timeout_stream_ns = stream;
	c.forward.policy_accept = false;
	FilterRule established;
	established.ctstates = ct_related | ct_established;
	FilterRule port;
	port.proto = Protocol::udp;
	port.dport = 5099;
	port.accept = false;
	FilterRule bridged;
	bridged.in = "br42";
	bridged.out = "br42";
	c.forward.rules = {established, port, bridged};
	return c;
}

ForwardVerdict pass(Netfilter &nf, const FiveTuple &flow, std::int64_t at, TcpFlags flags = {})
{
	return nf.forward({.flow = flow, .tcp = flags, .in = "br42", .out = "br42", .now_ns = at});
}

TEST(Netfilter, ANewFlowToTheDroppedPortIsDroppedAndLeavesNoEntry)
{
	Netfilter nf(docker());
	const ForwardVerdict v = pass(nf, udp(kRemote, kPod), kT0);
	EXPECT_FALSE(v.accept);
	EXPECT_EQ(v.state, ct_new);
	EXPECT_EQ(v.rule, 1);
	EXPECT_EQ(nf.entries(), 0u); // never confirmed: the next datagram is NEW again
	EXPECT_EQ(pass(nf, udp(kRemote, kPod), kT0 + 1).state, ct_new);
	EXPECT_EQ(nf.stats().dropped, 2u);
}

TEST(Netfilter, TheRepliesToAFlowThePodStartedAreEstablished)
{
	Netfilter nf(docker());
	const ForwardVerdict out = pass(nf, udp(kPod, kRemote), kT0); // NEW, the bridge rule
	EXPECT_TRUE(out.accept);
	EXPECT_EQ(out.rule, 2);
	EXPECT_EQ(nf.entries(), 1u);
	const ForwardVerdict back = pass(nf, udp(kRemote, kPod), kT0 + kSecond / 10);
	EXPECT_TRUE(back.accept);
	EXPECT_EQ(back.state, ct_established);
	EXPECT_EQ(back.rule, 0);
}

TEST(Netfilter, AnEntryRepliedWithinTwoSecondsKeepsTheShortTimeout)
{
	// nf_conntrack_udp_packet: the stream timeout only for a packet more than 2 s after the
	// entry was made; until then each packet renews the unreplied timeout.
	Netfilter nf(docker());
	pass(nf, udp(kPod, kRemote), kT0);
	pass(nf, udp(kRemote, kPod), kT0 + kSecond);
	// 3 s after the last packet: gone, the next one is NEW and the port rule drops it.
	const ForwardVerdict late = pass(nf, udp(kRemote, kPod), kT0 + 4 * kSecond);
	EXPECT_FALSE(late.accept);
	EXPECT_EQ(late.state, ct_new);
	EXPECT_EQ(nf.stats().expired, 1u);
}

TEST(Netfilter, AStreamGetsTheStreamTimeoutAndLosesItWhenSilentLonger)
{
	Netfilter nf(docker());
	pass(nf, udp(kPod, kRemote), kT0);
	pass(nf, udp(kRemote, kPod), kT0 + kSecond / 10);
	pass(nf, udp(kRemote, kPod), kT0 + 2500 * kSecond / 1000); // a stream from here: 6 s
	const ForwardVerdict within = pass(nf, udp(kRemote, kPod), kT0 + 8 * kSecond);
	EXPECT_TRUE(within.accept);
	EXPECT_EQ(within.state, ct_established);
	// traces/docker-netfilter: 7.26 s of silence, then the port rule drops the flow's datagrams.
	const ForwardVerdict after = pass(nf, udp(kRemote, kPod), kT0 + 8 * kSecond + 7260 * kSecond / 1000);
	EXPECT_FALSE(after.accept);
	EXPECT_EQ(after.state, ct_new);
	// The pod sends again: a new entry, and the replies are delivered again.
	EXPECT_TRUE(pass(nf, udp(kPod, kRemote), kT0 + 20 * kSecond).accept);
	EXPECT_TRUE(pass(nf, udp(kRemote, kPod), kT0 + 20 * kSecond + 1).accept);
}

TEST(Netfilter, ADroppedPacketOfAnEntryStillRefreshesIt)
{
	// Conntrack runs at PRE_ROUTING, before the FORWARD chain: a packet the chain then drops has
	// renewed the entry's timeout already.
	NetfilterConfig c = docker();
	FilterRule from_4099;
	from_4099.proto = Protocol::udp;
	from_4099.sport = 4099;
	from_4099.accept = false;
	c.forward.rules.insert(c.forward.rules.begin(), from_4099);
	Netfilter nf(c);
	pass(nf, udp(kPod, kRemote), kT0);
	EXPECT_FALSE(pass(nf, udp(kRemote, kPod), kT0 + 2 * kSecond).accept);
	EXPECT_TRUE(pass(nf, udp(kPod, kRemote), kT0 + 4 * kSecond).accept); // 2 s after: kept
	EXPECT_EQ(nf.stats().expired, 0u);
}

TEST(Netfilter, TcpFromSynToEstablishedAndAMidStreamPickup)
{
	Netfilter nf(docker());
	const FiveTuple in = tcp(kRemote, {kPod.address, 7000});
	const FiveTuple back = tcp({kPod.address, 7000}, kRemote);
	EXPECT_EQ(pass(nf, in, kT0, {.syn = true}).state, ct_new);
	EXPECT_EQ(pass(nf, back, kT0 + 1, {.syn = true, .ack = true}).state, ct_established);
	EXPECT_EQ(pass(nf, in, kT0 + 2, {.ack = true}).state, ct_established);
	// An ACK with no entry: picked up (nf_conntrack_tcp_loose), NEW.
	const FiveTuple other = tcp({kRemote.address, 4100}, {kPod.address, 7000});
	EXPECT_EQ(pass(nf, other, kT0, {.ack = true}).state, ct_new);
	// A SYN-ACK or a lone RST with no entry: INVALID, no entry; the chain decides on that.
	const FiveTuple third = tcp({kRemote.address, 4101}, {kPod.address, 7000});
	const ForwardVerdict synack = pass(nf, third, kT0, {.syn = true, .ack = true});
	EXPECT_EQ(synack.state, ct_invalid);
	EXPECT_TRUE(synack.accept); // the bridge rule takes it: Docker's chain has no INVALID drop
	EXPECT_EQ(pass(nf, third, kT0, {.rst = true}).state, ct_invalid);
	EXPECT_EQ(nf.stats().invalid, 2u);
	EXPECT_EQ(nf.entries(), 2u);
}

TEST(Netfilter, ARstAnsweringASynKillsTheEntry)
{
	Netfilter nf(docker());
	const FiveTuple in = tcp(kRemote, {kPod.address, 7000});
	pass(nf, in, kT0, {.syn = true});
	pass(nf, tcp({kPod.address, 7000}, kRemote), kT0 + 1, {.ack = true, .rst = true});
	EXPECT_EQ(nf.entries(), 0u);
	EXPECT_EQ(pass(nf, in, kT0 + 2, {.syn = true}).state, ct_new);
}

TEST(Netfilter, ASynInTimeWaitStartsANewConnection)
{
	Netfilter nf(docker());
	const FiveTuple in = tcp(kRemote, {kPod.address, 7000});
	const FiveTuple back = tcp({kPod.address, 7000}, kRemote);
	pass(nf, in, kT0, {.syn = true});
	pass(nf, back, kT0 + 1, {.syn = true, .ack = true});
	pass(nf, in, kT0 + 2, {.ack = true});
	pass(nf, in, kT0 + 3, {.ack = true, .fin = true});
	pass(nf, back, kT0 + 4, {.ack = true, .fin = true});
	pass(nf, in, kT0 + 5, {.ack = true}); // TIME_WAIT
	EXPECT_EQ(pass(nf, in, kT0 + 6, {.syn = true}).state, ct_new);
	EXPECT_EQ(nf.stats().created, 2u);
}

TEST(Netfilter, RulesMatchOnEveryFieldTheyName)
{
	NetfilterConfig c;
	c.forward.policy_accept = true;
	FilterRule rule;
	rule.proto = Protocol::tcp;
	rule.src = Ipv4Interface{ipv4(10, 233, 2, 0), 24};
	rule.dst = Ipv4Interface{ipv4(10, 233, 1, 2), 32};
	rule.sport = 4099;
	rule.dport = 7000;
	rule.in = "vxlan42";
	rule.out = "veth-c1";
	rule.ctstates = ct_new;
	rule.accept = false;
	c.forward.rules = {rule};
	auto verdict = [&](FiveTuple flow, std::string_view in, std::string_view out) {
		Netfilter nf(c);
		return nf.forward({.flow = flow, .tcp = {.syn = true}, .in = in, .out = out, .now_ns = kT0}).accept;
	};
	const FiveTuple flow = tcp(kRemote, {kPod.address, 7000});
	EXPECT_FALSE(verdict(flow, "vxlan42", "veth-c1"));
	EXPECT_TRUE(verdict(udp(kRemote, {kPod.address, 7000}), "vxlan42", "veth-c1"));
	EXPECT_TRUE(verdict(tcp({ipv4(10, 233, 3, 2), 4099}, {kPod.address, 7000}), "vxlan42", "veth-c1"));
	EXPECT_TRUE(verdict(tcp(kRemote, {ipv4(10, 233, 1, 3), 7000}), "vxlan42", "veth-c1"));
	EXPECT_TRUE(verdict(tcp({kRemote.address, 4098}, {kPod.address, 7000}), "vxlan42", "veth-c1"));
	EXPECT_TRUE(verdict(tcp(kRemote, {kPod.address, 7001}), "vxlan42", "veth-c1"));
	EXPECT_TRUE(verdict(flow, "br42", "veth-c1"));
	EXPECT_TRUE(verdict(flow, "vxlan42", "veth-c2"));
}

} // namespace
} // namespace econsim::model
