// The socket_lookup stage (sim/stages/socket_lookup.cpp) and the rules it asks model/ for, each
// named with the kernel function it comes from (Linux 6.1, net/ipv4/udp.c and tcp_ipv4.c): what a
// frame from the wire ends as, with the scenario's sockets. model/README.md lists the rules.
#include <gtest/gtest.h>

#include <set>

#include "expectations.h"
#include "pipeline_harness.h"

namespace econsim::sim::test {
namespace {

// ---- UDP ----

// __udp4_lib_lookup: phase 1 scores only the sockets bound to the destination address; phase 2,
// the 0.0.0.0 ones, runs only when phase 1 found none. So the bound socket wins although the
// wildcard one is newer (first in the chain).
TEST(UdpLookup, BoundAddressShadowsANewerWildcard_udp4_lib_lookup_phases)
{
	ScenarioText text;
	text.udp(0, "bound", "c1", "10.233.1.2:5000", "reuseaddr: true")
		.udp(0, "wild", "c1", "0.0.0.0:5000", "reuseaddr: true")
		.at(10, "op: close, sock: bound");
	Harness h(text, FastpathMode::off);
	const Packet &p = h.send(vxlan_udp(), 1);
	EXPECT_TRUE(delivered(p, "bound"));
	EXPECT_NE(p.steps.at(p.steps.size() - 2).why.find("phase 1"), std::string::npos) << p.steps.at(p.steps.size() - 2).why;
	// Without the bound socket, phase 2 finds the wildcard one.
	EXPECT_TRUE(delivered(h.send(vxlan_udp(), 20), "wild"));
}

// compute_score: +4 for a matching peer address, +4 for a matching peer port; a socket connected
// to another peer scores -1. The connected socket takes its peer's datagrams even though the
// wildcard socket is newer; the wildcard one takes everybody else's.
TEST(UdpLookup, ConnectedBeatsWildcardForItsPeerOnly_compute_score)
{
	ScenarioText text;
	text.udp(0, "conn", "c1", "0.0.0.0:5000", "reuseaddr: true")
		.at(0, R"(op: connect, sock: conn, peer: "10.233.2.2:4000")")
		.udp(0, "wild", "c1", "0.0.0.0:5000", "reuseaddr: true");
	Harness h(text, FastpathMode::off);
	EXPECT_TRUE(delivered(h.send(vxlan_udp({.src = "10.233.2.2:4000"}), 1), "conn"));
	EXPECT_TRUE(delivered(h.send(vxlan_udp({.src = "10.233.2.3:4000"}), 2), "wild")) << "another peer address";
	EXPECT_TRUE(delivered(h.send(vxlan_udp({.src = "10.233.2.2:4001"}), 3), "wild")) << "another peer port";
}

// udp4_lib_lookup2: of two unconnected SO_REUSEADDR sockets with the same score, the first in the
// chain (the newest bind) wins: the older one gets nothing (traces/README.md, udp-connected).
TEST(UdpLookup, NewestOfEqualScoresWins_udp4_lib_lookup2)
{
	ScenarioText text;
	text.udp(0, "old", "c1", "0.0.0.0:5000", "reuseaddr: true").udp(5, "new", "c1", "0.0.0.0:5000", "reuseaddr: true");
	Harness h(text, FastpathMode::off);
	EXPECT_TRUE(delivered(h.send(vxlan_udp(), 1), "old"));
	EXPECT_TRUE(delivered(h.send(vxlan_udp(), 10), "new"));
	EXPECT_TRUE(delivered(h.send(vxlan_udp({.src = "10.233.2.3:4000"}), 11), "new"));
}

// inet_lookup_reuseport → reuseport_select_sock: a member is picked by a hash of the 4-tuple with a
// per-boot seed. The verdict names one member, the same for every datagram of a flow; an
// expectation listing the group accepts it.
TEST(UdpLookup, ReuseportGroupPicksOneMemberPerFlow_reuseport_select_sock)
{
	ScenarioText text;
	text.udp(0, "r1", "c1", "0.0.0.0:6000", "reuseport: true").udp(0, "r2", "c1", "0.0.0.0:6000", "reuseport: true");
	Harness h(text, FastpathMode::off);
	Expectations group = parse_expectations(R"({"pkt":1,"verdict":"deliver","sock":["r1","r2"]})", "E.jsonl");
	Expectations other = parse_expectations(R"({"pkt":1,"verdict":"deliver","sock":"r3"})", "E.jsonl");
	std::set<std::string> members;
	double ms = 0;
	for (int port = 4000; port < 4016; port++) {
		InnerFrame f{.src = "10.233.2.2:" + std::to_string(port), .dst = "10.233.1.2:6000"};
		const Packet &first = h.send(vxlan_udp(f), ++ms);
		ASSERT_EQ(first.verdict.verdict, VerdictKind::deliver);
		std::string member = *first.verdict.sock;
		EXPECT_TRUE(group.all()[0].met_by(first.verdict));
		EXPECT_FALSE(other.all()[0].met_by(first.verdict));
		members.insert(member);
		EXPECT_TRUE(delivered(h.send(vxlan_udp(f), ++ms), member)) << "the flow stays on its member";
	}
	EXPECT_EQ(members, (std::set<std::string>{"r1", "r2"})) << "sixteen flows over a group of two";
}

// __udp4_lib_rcv: no socket, dropped (ICMP port unreachable).
TEST(UdpLookup, NoSocketOnThePortIsDropped_udp4_lib_rcv)
{
	Harness h(ScenarioText{}, FastpathMode::off);
	EXPECT_TRUE(dropped(h.send(vxlan_udp(), 1), "socket_lookup", "no_socket"));
}

// ---- TCP: tcp_v4_rcv → __inet_lookup_skb (established first, then listeners) ----

class TcpLookup : public ::testing::Test {
protected:
	static ScenarioText listener()
	{
		ScenarioText text;
		text.at(0, "op: socket, sock: t1, ns: c1, proto: tcp")
			.at(0, R"(op: bind, sock: t1, addr: "0.0.0.0:7000")")
			.at(0, "op: listen, sock: t1, backlog: 128");
		return text;
	}
	const InnerFrame kClient{.src = "10.233.2.2:41000", .dst = "10.233.1.2:7000"};
	static constexpr const char *kChild = "t1/10.233.2.2:41000";
};

// tcp_rcv_state_process (TCP_LISTEN) → tcp_conn_request: a SYN makes a request sock on the listener;
// tcp_check_req: the handshake's ACK makes the child (tcp_v4_syn_recv_sock), named after the peer;
// __inet_lookup_established then finds the child for the data.
TEST_F(TcpLookup, SynToListenerThenAckCreatesTheChildThatTakesTheData)
{
	Harness h(listener(), FastpathMode::off);
	const Packet &syn = h.send(vxlan_tcp(kClient, kSyn), 1);
	EXPECT_TRUE(delivered(syn, "t1"));
	EXPECT_EQ(syn.tcp_event, model::TcpEvent::request_created);
	const Packet &ack = h.send(vxlan_tcp(kClient, kAck), 2);
	EXPECT_TRUE(delivered(ack, kChild));
	EXPECT_EQ(ack.tcp_event, model::TcpEvent::child_created);
	EXPECT_TRUE(delivered(h.send(vxlan_tcp(kClient, kPsh | kAck), 3), kChild));
	// Another client port: a new handshake on the listener, the first child untouched.
	InnerFrame other = kClient;
	other.src = "10.233.2.2:41001";
	EXPECT_TRUE(delivered(h.send(vxlan_tcp(other, kSyn), 4), "t1"));
	EXPECT_TRUE(delivered(h.send(vxlan_tcp(kClient, kPsh | kAck), 5), kChild));
}

// tcp_validate_incoming → tcp_reset → tcp_done: a RST takes the child out of the tables; the next
// segment of that 4-tuple finds only the listener, which drops a segment without SYN.
TEST_F(TcpLookup, RstRemovesTheChild_tcp_reset)
{
	Harness h(listener(), FastpathMode::off);
	h.send(vxlan_tcp(kClient, kSyn), 1);
	ASSERT_TRUE(delivered(h.send(vxlan_tcp(kClient, kAck), 2), kChild));
	const Packet &rst = h.send(vxlan_tcp(kClient, kRst), 3);
	EXPECT_EQ(rst.tcp_event, model::TcpEvent::socket_reset);
	EXPECT_TRUE(dropped(rst, "socket_lookup", "socket_reset")) << "a RST is consumed, not data for the child";
	EXPECT_TRUE(dropped(h.send(vxlan_tcp(kClient, kPsh | kAck), 4), "socket_lookup", "listener_needs_syn"));
}

// tcp_v4_rcv → no_tcp_socket: nobody listens, dropped (and a RST sent).
TEST_F(TcpLookup, NoListenerIsDroppedNoSocket_tcp_v4_rcv)
{
	Harness h(ScenarioText{}, FastpathMode::off);
	EXPECT_TRUE(dropped(h.send(vxlan_tcp(kClient, kSyn), 1), "socket_lookup", "no_socket"));
}

// An accepted connection outlives its listener (inet_csk_listen_stop leaves accepted children).
TEST_F(TcpLookup, ChildOutlivesItsClosedListener)
{
	ScenarioText text = listener();
	text.at(5, "op: close, sock: t1");
	Harness h(text, FastpathMode::off);
	h.send(vxlan_tcp(kClient, kSyn), 1);
	ASSERT_TRUE(delivered(h.send(vxlan_tcp(kClient, kAck), 2), kChild));
	EXPECT_TRUE(delivered(h.send(vxlan_tcp(kClient, kPsh | kAck), 10), kChild));
	InnerFrame other = kClient;
	other.src = "10.233.2.2:41001";
	EXPECT_TRUE(dropped(h.send(vxlan_tcp(other, kSyn), 11), "socket_lookup", "no_socket"));
}

} // namespace
} // namespace econsim::sim::test
