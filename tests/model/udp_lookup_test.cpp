// UDP socket lookup: net/ipv4/udp.c __udp4_lib_lookup, udp4_lib_lookup2, compute_score,
// __udp4_lib_mcast_deliver; reuseport groups from net/core/sock_reuseport.c.
#include "host_fixture.h"

namespace econsim::model::testing {
namespace {

using UdpLookup = HostTest;

const BindOptions reuseaddr{.reuseaddr = true};
const BindOptions reuseport{.reuseport = true};
constexpr Ipv4Address subnet_broadcast = ipv4(10, 233, 255, 255); // c1's 10.233.1.2/16

// __udp4_lib_lookup phase 2: a socket bound to 0.0.0.0 takes datagrams for every local address.
TEST_F(UdpLookup, Udp4LibLookup_WildcardSocketTakesEveryLocalAddress)
{
	open("s1", Protocol::udp, at(any_address, 5000));
	EXPECT_EQ(udp_to(at(peer_ip, 4000), at(c1_ip, 5000)), Names{"s1"});
	EXPECT_EQ(udp_to(at(loopback_address, 4000), at(loopback_address, 5000)), Names{"s1"});
	EXPECT_EQ(udp_to(at(peer_ip, 4000), at(c1_ip, 5001)), Names{}); // other port: no socket
}

// __udp4_lib_lookup phase 1 runs before phase 2: a socket bound to the destination address wins
// over a wildcard one, whichever was created first.
TEST_F(UdpLookup, Udp4LibLookup_SpecificAddressShadowsWildcard)
{
	open("wild", Protocol::udp, at(any_address, 5000), reuseaddr);
	open("spec", Protocol::udp, at(c1_ip, 5000), reuseaddr);
	EXPECT_EQ(udp_to(at(peer_ip, 4000), at(c1_ip, 5000)), Names{"spec"});
	EXPECT_EQ(udp_to(at(loopback_address, 4000), at(loopback_address, 5000)), Names{"wild"});

	open("spec-first", Protocol::udp, at(c1_ip, 6000), reuseaddr);
	open("wild-later", Protocol::udp, at(any_address, 6000), reuseaddr);
	EXPECT_EQ(udp_to(at(peer_ip, 4000), at(c1_ip, 6000)), Names{"spec-first"});
}

// compute_score: +4 for the connected peer address, +4 for its port: a connected socket beats an
// unconnected one bound to the same address, for datagrams from its peer only.
TEST_F(UdpLookup, ComputeScore_ConnectedBeatsUnconnected)
{
	open("server", Protocol::udp, at(c1_ip, 5000), reuseaddr);
	open("client", Protocol::udp, at(c1_ip, 5000), reuseaddr);
	ASSERT_EQ(sockets().connect("client", at(peer_ip, 4000)), Error::none);

	const UdpLookupResult from_peer = sockets().udp_lookup("c1", from_to(at(peer_ip, 4000), at(c1_ip, 5000)), 0);
	EXPECT_EQ(from_peer.sockets, Names{"client"});
	EXPECT_EQ(from_peer.score, 10);
	EXPECT_EQ(udp_to(at(peer_ip, 4001), at(c1_ip, 5000)), Names{"server"});
	EXPECT_EQ(udp_to(at(other_peer_ip, 4000), at(c1_ip, 5000)), Names{"server"});
}

// compute_score returns -1 for a connected socket and a datagram from anyone but its peer.
TEST_F(UdpLookup, ComputeScore_ConnectedSocketRefusesOtherPeers)
{
	open("client", Protocol::udp, at(c1_ip, 5000));
	ASSERT_EQ(sockets().connect("client", at(peer_ip, 4000)), Error::none);
	EXPECT_EQ(udp_to(at(peer_ip, 4000), at(c1_ip, 5000)), Names{"client"});
	EXPECT_EQ(udp_to(at(peer_ip, 4001), at(c1_ip, 5000)), Names{});
}

// __ip4_datagram_connect sets inet_rcv_saddr of a wildcard socket to the route's source and
// rehashes it: from then on it is a phase-1 socket of that address only.
TEST_F(UdpLookup, Ip4DatagramConnect_WildcardSocketTakesTheSourceAddress)
{
	open("s1", Protocol::udp, at(any_address, 5000));
	ASSERT_EQ(sockets().connect("s1", at(peer_ip, 4000)), Error::none);
	EXPECT_EQ(sockets().find("s1")->bound_address, c1_ip);
	EXPECT_EQ(udp_to(at(peer_ip, 4000), at(c1_ip, 5000)), Names{"s1"});
	EXPECT_EQ(udp_to(at(loopback_address, 4000), at(loopback_address, 5000)), Names{});
}

// A wildcard socket bound after the connect stays in phase 2: the connected socket, now bound to
// c1's address, shadows it even for datagrams from other peers, which it then refuses.
TEST_F(UdpLookup, Udp4LibLookup_ConnectedSocketOnTheAddressShadowsWildcardForOtherPeersToo)
{
	open("connected", Protocol::udp, at(c1_ip, 5000), reuseaddr);
	ASSERT_EQ(sockets().connect("connected", at(peer_ip, 4000)), Error::none);
	open("wild", Protocol::udp, at(any_address, 5000), reuseaddr);
	// Phase 1 finds nothing that scores for another peer, so phase 2 answers.
	EXPECT_EQ(udp_to(at(other_peer_ip, 4000), at(c1_ip, 5000)), Names{"wild"});
	EXPECT_EQ(udp_to(at(peer_ip, 4000), at(c1_ip, 5000)), Names{"connected"});
}

// udp4_lib_lookup2: among equal scores the first in the hash2 chain wins, and the chain has the
// newest bind at its head.
TEST_F(UdpLookup, Udp4LibLookup2_EqualScoresGoToTheNewestSocket)
{
	open("older", Protocol::udp, at(c1_ip, 5000), reuseaddr);
	open("newer", Protocol::udp, at(c1_ip, 5000), reuseaddr);
	EXPECT_EQ(udp_to(at(peer_ip, 4000), at(c1_ip, 5000)), Names{"newer"});
	ASSERT_EQ(sockets().close("newer"), Error::none);
	EXPECT_EQ(udp_to(at(peer_ip, 4000), at(c1_ip, 5000)), Names{"older"});
}

// compute_score gives +1 to the socket whose sk_incoming_cpu is this CPU; a connected socket
// records it when it receives (__udp_queue_rcv_skb → sk_incoming_cpu_update).
TEST_F(UdpLookup, ComputeScore_IncomingCpuBreaksTiesBetweenEqualConnectedSockets)
{
	open("a", Protocol::udp, at(c1_ip, 5000), reuseaddr);
	ASSERT_EQ(sockets().connect("a", at(peer_ip, 4000)), Error::none);
	const FourTuple datagram = from_to(at(peer_ip, 4000), at(c1_ip, 5000));
	ASSERT_EQ(sockets().udp_receive("c1", datagram, 1).sockets, Names{"a"});
	EXPECT_EQ(sockets().find("a")->incoming_cpu, 1);

	open("b", Protocol::udp, at(c1_ip, 5000), reuseaddr); // newer: first in the chain
	ASSERT_EQ(sockets().connect("b", at(peer_ip, 4000)), Error::none);
	EXPECT_EQ(sockets().udp_lookup("c1", datagram, 1).sockets, Names{"a"}); // 11 beats 10
	EXPECT_EQ(sockets().udp_lookup("c1", datagram, 0).sockets, Names{"b"}); // 10 = 10: the newer
}

// inet_lookup_reuseport → reuseport_select_sock: the answer is the group; the kernel picks one
// member by hash with a per-boot seed.
TEST_F(UdpLookup, InetLookupReuseport_GroupAnswersWithItsMembers)
{
	open("r1", Protocol::udp, at(any_address, 6000), reuseport);
	open("r2", Protocol::udp, at(any_address, 6000), reuseport);
	const UdpLookupResult result = sockets().udp_lookup("c1", from_to(at(peer_ip, 4000), at(c1_ip, 6000)), 0);
	EXPECT_EQ(result.match, UdpMatch::reuseport_group);
	EXPECT_EQ(result.sockets, (Names{"r1", "r2"}));
	ASSERT_EQ(sockets().close("r1"), Error::none);
	EXPECT_EQ(udp_to(at(peer_ip, 4000), at(c1_ip, 6000)), Names{"r2"});
}

// reuseport_has_conns: once a member connected, lookups keep scoring after the group, so the
// connected member wins for its peer; reuseport_select_sock_by_hash skips connected members.
TEST_F(UdpLookup, ReuseportHasConns_ConnectedMemberWinsForItsPeerOnly)
{
	open("r1", Protocol::udp, at(c1_ip, 6000), reuseport);
	open("r2", Protocol::udp, at(c1_ip, 6000), reuseport);
	ASSERT_EQ(sockets().connect("r2", at(peer_ip, 4000)), Error::none);
	ASSERT_TRUE(sockets().group_of(*sockets().find("r2"))->has_conns);

	EXPECT_EQ(udp_to(at(peer_ip, 4000), at(c1_ip, 6000)), Names{"r2"});
	const UdpLookupResult other = sockets().udp_lookup("c1", from_to(at(other_peer_ip, 4000), at(c1_ip, 6000)), 0);
	EXPECT_EQ(other.match, UdpMatch::reuseport_group);
	EXPECT_EQ(other.sockets, Names{"r1"});
}

// udp_lib_rehash: a member bound to 0.0.0.0 that connects gets a new address, is rehashed and
// leaves its group (reuseport_detach_sock). The group never learns it had a connection.
TEST_F(UdpLookup, UdpLibRehash_ConnectingWildcardMemberLeavesItsGroup)
{
	open("r1", Protocol::udp, at(any_address, 6000), reuseport);
	open("r2", Protocol::udp, at(any_address, 6000), reuseport);
	ASSERT_EQ(sockets().connect("r2", at(peer_ip, 4000)), Error::none);
	EXPECT_FALSE(sockets().find("r2")->reuseport_group.has_value());
	EXPECT_EQ(sockets().group_of(*sockets().find("r1"))->members, Names{"r1"});
	EXPECT_FALSE(sockets().group_of(*sockets().find("r1"))->has_conns);

	EXPECT_EQ(udp_to(at(peer_ip, 4000), at(c1_ip, 6000)), Names{"r2"});
	const UdpLookupResult other = sockets().udp_lookup("c1", from_to(at(other_peer_ip, 4000), at(c1_ip, 6000)), 0);
	EXPECT_EQ(other.match, UdpMatch::reuseport_group); // phase 2: the group, now r1 alone
	EXPECT_EQ(other.sockets, Names{"r1"});
}

// After the member that left by rehash disconnects, it is a lone socket at the head of the
// 0.0.0.0 chain: it takes every datagram (first of equal scores). A new reuseport socket joins it,
// not the old group (udp_reuseport_add_sock takes the newest matching socket, reuseport_add_sock
// gives that one a group). Seen on a real kernel too: KernelUdp.UdpLibRehash_DetachedMemberShadowsItsOldGroup.
TEST_F(UdpLookup, UdpReuseportAddSock_DetachedMemberShadowsItsOldGroup)
{
	open("r1", Protocol::udp, at(any_address, 6000), reuseport);
	open("r2", Protocol::udp, at(any_address, 6000), reuseport);
	ASSERT_EQ(sockets().connect("r2", at(peer_ip, 4000)), Error::none);
	ASSERT_EQ(sockets().connect("r2", disconnect_peer), Error::none);
	EXPECT_EQ(udp_to(at(other_peer_ip, 4000), at(c1_ip, 6000)), Names{"r2"});

	open("r3", Protocol::udp, at(any_address, 6000), reuseport);
	EXPECT_EQ(sockets().group_of(*sockets().find("r3"))->members, (Names{"r2", "r3"}));
	EXPECT_EQ(udp_to(at(other_peer_ip, 4000), at(c1_ip, 6000)), (Names{"r2", "r3"}));
}

// __udp_disconnect (connect AF_UNSPEC): the peer goes, and an address bind() did not name is reset
// to 0.0.0.0, so the socket is a wildcard socket again.
TEST_F(UdpLookup, UdpDisconnect_RestoresTheWildcard)
{
	open("s1", Protocol::udp, at(any_address, 5000));
	ASSERT_EQ(sockets().connect("s1", at(peer_ip, 4000)), Error::none);
	ASSERT_EQ(udp_to(at(other_peer_ip, 4000), at(c1_ip, 5000)), Names{});
	ASSERT_EQ(sockets().connect("s1", disconnect_peer), Error::none);
	EXPECT_EQ(sockets().find("s1")->bound_address, any_address);
	EXPECT_EQ(udp_to(at(other_peer_ip, 4000), at(c1_ip, 5000)), Names{"s1"});
	EXPECT_EQ(udp_to(at(loopback_address, 4000), at(loopback_address, 5000)), Names{"s1"});
}

// __udp_disconnect without SOCK_BINDPORT_LOCK: an autobound port is given back (unhash).
TEST_F(UdpLookup, UdpDisconnect_GivesBackAnAutoboundPort)
{
	ASSERT_EQ(sockets().create("s1", "c1", Protocol::udp), Error::none);
	ASSERT_EQ(sockets().connect("s1", at(peer_ip, 4000)), Error::none); // inet_autobind
	const std::uint16_t port = sockets().find("s1")->port;
	EXPECT_EQ(port, ephemeral_port_low);
	EXPECT_EQ(udp_to(at(peer_ip, 4000), at(c1_ip, port)), Names{"s1"});

	ASSERT_EQ(sockets().connect("s1", disconnect_peer), Error::none);
	EXPECT_FALSE(sockets().find("s1")->holds_port());
	EXPECT_EQ(udp_to(at(peer_ip, 4000), at(c1_ip, port)), Names{});
}

// Close then reopen (udp_lib_unhash): the port is free at once; the closed name stays taken.
TEST_F(UdpLookup, UdpLibUnhash_CloseThenReopen)
{
	open("s1", Protocol::udp, at(any_address, 5000));
	ASSERT_EQ(sockets().close("s1"), Error::none);
	EXPECT_EQ(udp_to(at(peer_ip, 4000), at(c1_ip, 5000)), Names{});
	EXPECT_EQ(sockets().find("s1"), nullptr);
	EXPECT_TRUE(sockets().was_closed("s1"));
	EXPECT_EQ(sockets().create("s1", "c1", Protocol::udp), Error::socket_name_taken);

	open("s2", Protocol::udp, at(c1_ip, 5000));
	EXPECT_EQ(udp_to(at(peer_ip, 4000), at(c1_ip, 5000)), Names{"s2"});
}

// compute_score's net_eq: two containers with the same address and port are independent.
TEST_F(UdpLookup, ComputeScore_NamespacesAreIndependent)
{
	open("in-c1", Protocol::udp, at(c1_ip, 5000), {}, "c1");
	open("in-c2", Protocol::udp, at(c1_ip, 5000), {}, "c2");
	EXPECT_EQ(udp_to(at(peer_ip, 4000), at(c1_ip, 5000), "c1"), Names{"in-c1"});
	EXPECT_EQ(udp_to(at(peer_ip, 4000), at(c1_ip, 5000), "c2"), Names{"in-c2"});
	ASSERT_EQ(sockets().close("in-c1"), Error::none);
	EXPECT_EQ(udp_to(at(peer_ip, 4000), at(c1_ip, 5000), "c1"), Names{});
	EXPECT_EQ(udp_to(at(peer_ip, 4000), at(c1_ip, 5000), "c2"), Names{"in-c2"});
}

// __udp4_lib_mcast_deliver: a subnet broadcast goes to every socket on the port bound to 0.0.0.0
// or to the broadcast address, connected ones only from their peer.
TEST_F(UdpLookup, Udp4LibMcastDeliver_BroadcastCopiesToEveryMatchingSocket)
{
	open("wild", Protocol::udp, at(any_address, 7000), reuseaddr);
	open("unicast-only", Protocol::udp, at(c1_ip, 7000), reuseaddr);
	open("bcast", Protocol::udp, at(subnet_broadcast, 7000), reuseaddr);
	open("connected-elsewhere", Protocol::udp, at(any_address, 7000), reuseaddr);
	ASSERT_EQ(sockets().connect("connected-elsewhere", at(other_peer_ip, 4000)), Error::none);

	const UdpLookupResult result =
		sockets().udp_lookup("c1", from_to(at(peer_ip, 4000), at(subnet_broadcast, 7000)), 0);
	EXPECT_EQ(result.match, UdpMatch::every_socket);
	EXPECT_EQ(result.sockets, (Names{"bcast", "wild"}));
}

// The explanation names the kernel function and the score, for `econ-sim trace`.
TEST_F(UdpLookup, ExplanationNamesTheRuleAndScore)
{
	open("s1", Protocol::udp, at(c1_ip, 5000));
	ASSERT_EQ(sockets().connect("s1", at(peer_ip, 4000)), Error::none);
	const std::string text = sockets().udp_lookup("c1", from_to(at(peer_ip, 4000), at(c1_ip, 5000)), 0).explanation;
	EXPECT_NE(text.find("__udp4_lib_lookup phase 1"), std::string::npos) << text;
	EXPECT_NE(text.find("compute_score=10"), std::string::npos) << text;
	EXPECT_NE(text.find("connected to 10.233.2.2:4000"), std::string::npos) << text;
}

// The UDP socket a VXLAN device opens (vxlan_sock_add) takes the outer datagrams in the host
// namespace and holds its port against user sockets; it goes when the last device on the port
// goes down, and a device cannot come up while a user socket holds the port (vxlan_open).
TEST_F(UdpLookup, VxlanSockAdd_DeviceSocketHoldsItsPort)
{
	const std::string vxlan_socket = Sockets::vxlan_socket_name(4789);
	EXPECT_EQ(udp_to(at(ipv4(192, 168, 0, 1), 50000), at(nic_ip, 4789), "host"), Names{vxlan_socket});
	ASSERT_EQ(sockets().create("user", "host", Protocol::udp), Error::none);
	EXPECT_EQ(sockets().bind("user", at(nic_ip, 4789), {}), Error::address_in_use);

	ASSERT_EQ(host.set_link("vxlan42", false), Error::none);
	EXPECT_NE(sockets().find(vxlan_socket), nullptr); // vxlan43 still shares it
	ASSERT_EQ(host.set_link("vxlan43", false), Error::none);
	EXPECT_EQ(sockets().find(vxlan_socket), nullptr);
	EXPECT_EQ(udp_to(at(ipv4(192, 168, 0, 1), 50000), at(nic_ip, 4789), "host"), Names{});

	ASSERT_EQ(sockets().bind("user", at(nic_ip, 4789), {}), Error::none);
	EXPECT_EQ(host.set_link("vxlan42", true), Error::address_in_use);
	EXPECT_FALSE(host.topology().is_up("vxlan42"));
	ASSERT_EQ(sockets().close("user"), Error::none);
	EXPECT_EQ(host.set_link("vxlan42", true), Error::none);
	EXPECT_EQ(udp_to(at(ipv4(192, 168, 0, 1), 50000), at(nic_ip, 4789), "host"), Names{vxlan_socket});
}

// udp_find is the per-datagram call: the same answer as udp_lookup, as pointers into the table,
// with the explanation written only into a sink the caller passes, and then the same text.
TEST_F(UdpLookup, UdpFind_SameAnswerAsUdpLookup_ExplainsOnlyWhenAsked)
{
	open("wild", Protocol::udp, at(any_address, 5000), reuseport);
	open("wild-2", Protocol::udp, at(any_address, 5000), reuseport);
	open("spec", Protocol::udp, at(c1_ip, 6000), reuseaddr);
	open("client", Protocol::udp, at(c1_ip, 6000), reuseaddr);
	open("spec-2", Protocol::udp, at(c1_ip, 6000), reuseaddr);
	ASSERT_EQ(sockets().connect("client", at(peer_ip, 4000)), Error::none);

	const FourTuple datagrams[] = {
		from_to(at(peer_ip, 4000), at(c1_ip, 5000)),            // reuseport group, phase 2
		from_to(at(peer_ip, 4000), at(c1_ip, 6000)),            // connected socket, phase 1
		from_to(at(other_peer_ip, 4000), at(c1_ip, 6000)),      // unconnected, phase 1
		from_to(at(peer_ip, 4000), at(subnet_broadcast, 5000)), // a copy to each
		from_to(at(peer_ip, 4000), at(c1_ip, 7000)),            // no socket
		from_to(at(peer_ip, 4000), at(subnet_broadcast, 7000)), // broadcast, no socket
	};
	for (const FourTuple &datagram : datagrams) {
		const UdpLookupResult named = sockets().udp_lookup("c1", datagram, 0);
		const UdpAnswer unexplained = sockets().udp_find("c1", datagram, 0);
		Names found;
		for (const Socket *socket : unexplained.sockets)
			found.push_back(socket->name);
		EXPECT_EQ(unexplained.match, named.match) << to_string(datagram);
		EXPECT_EQ(found, named.sockets) << to_string(datagram);
		EXPECT_EQ(unexplained.score, named.score) << to_string(datagram);

		std::string explanation = "left from before";
		const UdpAnswer explained = sockets().udp_find("c1", datagram, 0, &explanation);
		EXPECT_EQ(explained.match, named.match) << to_string(datagram);
		EXPECT_EQ(explanation, named.explanation) << to_string(datagram);
	}
}

// udp_find_and_receive records the CPU on a connected socket that receives (sk_incoming_cpu),
// which then earns it compute_score's +1 there; an unconnected one records nothing.
TEST_F(UdpLookup, UdpFindAndReceive_ConnectedSocketRemembersTheCpu)
{
	open("server", Protocol::udp, at(c1_ip, 5000));
	open("client", Protocol::udp, at(any_address, 6000));
	ASSERT_EQ(sockets().connect("client", at(peer_ip, 4000)), Error::none);

	EXPECT_EQ(sockets().udp_find_and_receive("c1", from_to(at(peer_ip, 4000), at(c1_ip, 6000)), 1).score, 10);
	EXPECT_EQ(sockets().find("client")->incoming_cpu, 1);
	EXPECT_EQ(sockets().udp_find("c1", from_to(at(peer_ip, 4000), at(c1_ip, 6000)), 1).score, 11);
	EXPECT_EQ(sockets().udp_find_and_receive("c1", from_to(at(peer_ip, 4000), at(c1_ip, 5000)), 1).score, 2);
	EXPECT_EQ(sockets().find("server")->incoming_cpu, -1);
}

// The lookup's index follows every call that moves a socket: connect takes a wildcard socket to
// its address's chain (rehash), disconnect brings it back, close and rebinding another port take
// it off; and the subnet broadcast is one only while the interface is up (fib_add_ifaddr), so
// it reaches every wildcard socket then, and the newest one otherwise.
TEST_F(UdpLookup, UdpFind_IndexFollowsSocketCallsAndLinks)
{
	auto found = [this](Endpoint from, Endpoint to) {
		Names names;
		for (const Socket *socket : sockets().udp_find("c1", from_to(from, to), 0).sockets)
			names.push_back(socket->name);
		return names;
	};
	open("wild", Protocol::udp, at(any_address, 5000), reuseaddr);
	open("spec", Protocol::udp, at(c1_ip, 5000), reuseaddr);
	open("later", Protocol::udp, at(any_address, 5000), reuseaddr);
	EXPECT_EQ(found(at(peer_ip, 4000), at(c1_ip, 5000)), Names{"spec"});
	ASSERT_EQ(sockets().close("spec"), Error::none);
	EXPECT_EQ(found(at(peer_ip, 4000), at(c1_ip, 5000)), Names{"later"});
	ASSERT_EQ(sockets().connect("wild", at(peer_ip, 4000)), Error::none); // now on 10.233.1.2's chain
	EXPECT_EQ(found(at(peer_ip, 4000), at(c1_ip, 5000)), Names{"wild"});
	EXPECT_EQ(found(at(peer_ip, 4001), at(c1_ip, 5000)), Names{"later"}); // phase 1 finds nothing
	ASSERT_EQ(sockets().connect("wild", disconnect_peer), Error::none);
	EXPECT_EQ(found(at(peer_ip, 4000), at(c1_ip, 5000)), Names{"wild"}); // back, at the head of 0.0.0.0's
	EXPECT_EQ(found(at(peer_ip, 4000), at(subnet_broadcast, 5000)), (Names{"wild", "later"}));

	ASSERT_EQ(host.set_link(container_end_name("c1"), false), Error::none);
	EXPECT_EQ(found(at(peer_ip, 4000), at(subnet_broadcast, 5000)), Names{"wild"}); // a unicast: phase 2
	ASSERT_EQ(host.set_link(container_end_name("c1"), true), Error::none);
	EXPECT_EQ(found(at(peer_ip, 4000), at(subnet_broadcast, 5000)), (Names{"wild", "later"}));

	ASSERT_EQ(host.delete_container("c1"), Error::none);
	EXPECT_EQ(found(at(peer_ip, 4000), at(c1_ip, 5000)), Names{});
}

} // namespace
} // namespace econsim::model::testing
