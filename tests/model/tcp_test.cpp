// TCP: net/ipv4/tcp_ipv4.c tcp_v4_rcv; inet_hashtables.c __inet_lookup_established and
// __inet_lookup_listener; tcp_minisocks.c tcp_check_req; tcp_input.c tcp_rcv_state_process.
#include "host_fixture.h"

namespace econsim::model::testing {
namespace {

constexpr TcpFlags syn{.syn = true};
constexpr TcpFlags syn_ack{.syn = true, .ack = true};
constexpr TcpFlags ack{.ack = true};
constexpr TcpFlags fin_ack{.ack = true, .fin = true};
constexpr TcpFlags rst{.rst = true};
constexpr TcpFlags rst_ack{.ack = true, .rst = true};

const Endpoint client = at(peer_ip, 40312);
const Endpoint server = at(c1_ip, 80);

class Tcp : public HostTest {
protected:
	TcpResult segment(Endpoint source, Endpoint destination, TcpFlags flags, std::string_view ns = "c1")
	{
		return sockets().tcp_receive(ns, from_to(source, destination), flags);
	}
	void listener(const std::string &name, Endpoint local, BindOptions options = {}, std::string_view ns = "c1")
	{
		open(name, Protocol::tcp, local, options, ns);
		ASSERT_EQ(sockets().listen(name, 128), Error::none);
	}
	// SYN, then the ACK that completes the handshake; returns the child's name.
	std::string handshake(Endpoint source, Endpoint destination, std::string_view ns = "c1")
	{
		const TcpResult first = segment(source, destination, syn, ns);
		EXPECT_EQ(first.event, TcpEvent::request_created) << first.explanation;
		const TcpResult second = segment(source, destination, ack, ns);
		EXPECT_EQ(second.event, TcpEvent::child_created) << second.explanation;
		return second.socket;
	}
};

// tcp_v4_rcv → no_tcp_socket: dropped, and tcp_v4_send_reset answers (never a RST with a RST).
TEST_F(Tcp, TcpV4Rcv_NoListenerMeansNoSocketAndRst)
{
	const TcpResult result = segment(client, server, syn);
	EXPECT_EQ(result.event, TcpEvent::no_socket);
	EXPECT_FALSE(result.delivered);
	EXPECT_EQ(result.drop_reason, "no_socket");
	EXPECT_TRUE(result.rst_sent);
	EXPECT_FALSE(segment(client, server, rst).rst_sent);
}

// tcp_conn_request makes a request sock; tcp_check_req makes the child on the ACK, named
// "<listener>/<peer ip>:<peer port>", which then receives the connection's segments.
TEST_F(Tcp, TcpCheckReq_HandshakeCreatesNamedChild)
{
	listener("t1", at(any_address, 80));
	const TcpResult first = segment(client, server, syn);
	EXPECT_EQ(first.event, TcpEvent::request_created);
	EXPECT_TRUE(first.delivered);
	EXPECT_EQ(first.socket, "t1");
	EXPECT_EQ(sockets().tcp_request_owner("c1", from_to(client, server))->name, "t1");
	EXPECT_EQ(sockets().find("t1/10.233.2.2:40312"), nullptr);

	const TcpResult second = segment(client, server, ack);
	EXPECT_EQ(second.event, TcpEvent::child_created);
	EXPECT_EQ(second.socket, "t1/10.233.2.2:40312");
	const Socket *child = sockets().find("t1/10.233.2.2:40312");
	ASSERT_NE(child, nullptr);
	EXPECT_EQ(child->state, SocketState::established);
	EXPECT_EQ(child->local(), server);
	EXPECT_EQ(child->origin, SocketOrigin::tcp_accept);
	EXPECT_EQ(sockets().tcp_request_owner("c1", from_to(client, server)), nullptr);

	const TcpResult data = segment(client, server, ack);
	EXPECT_EQ(data.event, TcpEvent::delivered);
	EXPECT_EQ(data.socket, "t1/10.233.2.2:40312");
}

// tcp_check_req: a SYN again (same ISN) only resends the SYN-ACK; a segment without ACK is dropped.
TEST_F(Tcp, TcpCheckReq_SynRetransmissionAndMissingAck)
{
	listener("t1", at(any_address, 80));
	ASSERT_EQ(segment(client, server, syn).event, TcpEvent::request_created);
	const TcpResult again = segment(client, server, syn);
	EXPECT_EQ(again.event, TcpEvent::syn_retransmitted);
	EXPECT_FALSE(again.delivered);
	EXPECT_EQ(again.socket, "t1");
	EXPECT_EQ(segment(client, server, TcpFlags{}).event, TcpEvent::request_needs_ack);
	EXPECT_EQ(segment(client, server, ack).event, TcpEvent::child_created);
}

// __inet_lookup_skb tries __inet_lookup_established before __inet_lookup_listener: the child
// keeps its connection when a more specific listener appears, and when its listener closes.
TEST_F(Tcp, InetLookupEstablished_BeforeListener)
{
	listener("wild", at(any_address, 80), {.reuseport = true});
	const std::string child = handshake(client, server);
	listener("spec", at(c1_ip, 80), {.reuseport = true});
	EXPECT_EQ(segment(client, server, ack).socket, child);
	EXPECT_EQ(segment(at(peer_ip, 40313), server, syn).socket, "spec"); // new connections: the listener
	ASSERT_EQ(sockets().close("wild"), Error::none);
	const TcpResult after = segment(client, server, ack);
	EXPECT_EQ(after.event, TcpEvent::delivered);
	EXPECT_EQ(after.socket, child);
}

// __inet_lookup_listener: inet_lhash2_lookup on the destination address before 0.0.0.0.
TEST_F(Tcp, InetLookupListener_SpecificAddressBeforeWildcard)
{
	listener("spec", at(c1_ip, 80), {.reuseport = true});
	listener("wild", at(any_address, 80), {.reuseport = true}); // listening later: head of its chain
	EXPECT_EQ(segment(client, server, syn).socket, "spec");
	EXPECT_EQ(segment(client, at(loopback_address, 80), syn).socket, "wild");
}

// inet_lhash2_lookup → inet_lookup_reuseport: a group of listeners answers as a group; the
// kernel's pick is a hash, the model names the child after the member that joined first.
TEST_F(Tcp, InetLookupReuseport_ListenerGroup)
{
	listener("r1", at(any_address, 80), {.reuseport = true});
	listener("r2", at(any_address, 80), {.reuseport = true});
	const TcpResult first = segment(client, server, syn);
	EXPECT_EQ(first.event, TcpEvent::request_created);
	EXPECT_EQ(first.reuseport_group, (Names{"r1", "r2"}));
	EXPECT_EQ(first.socket, "r1");
	EXPECT_EQ(segment(client, server, ack).socket, "r1/10.233.2.2:40312");
}

// tcp_validate_incoming → tcp_reset → tcp_done: a RST takes the child out of the tables; later
// segments of the 4-tuple reach the listener, which answers an ACK with a RST. The name stays
// known until the scenario closes it.
TEST_F(Tcp, TcpReset_RstRemovesChild)
{
	listener("t1", at(any_address, 80));
	const std::string child = handshake(client, server);
	const TcpResult reset = segment(client, server, rst);
	EXPECT_EQ(reset.event, TcpEvent::socket_reset);
	EXPECT_EQ(reset.socket, child);
	EXPECT_FALSE(reset.rst_sent);
	EXPECT_EQ(sockets().tcp_established("c1", from_to(client, server)), nullptr);
	EXPECT_EQ(sockets().find(child)->state, SocketState::closed);

	const TcpResult late = segment(client, server, ack);
	EXPECT_EQ(late.event, TcpEvent::listener_needs_syn);
	EXPECT_EQ(late.socket, "t1");
	EXPECT_TRUE(late.rst_sent);
	EXPECT_EQ(sockets().close(child), Error::none);
	EXPECT_EQ(sockets().close(child), Error::unknown_socket);
}

// tcp_fin: the peer's FIN moves the child to CLOSE_WAIT; it stays, and receives, until closed.
TEST_F(Tcp, TcpFin_FinKeepsTheChildUntilClosed)
{
	listener("t1", at(any_address, 80));
	const std::string child = handshake(client, server);
	const TcpResult fin = segment(client, server, fin_ack);
	EXPECT_EQ(fin.event, TcpEvent::fin_received);
	EXPECT_TRUE(fin.delivered);
	EXPECT_EQ(sockets().find(child)->state, SocketState::close_wait);
	EXPECT_EQ(segment(client, server, ack).socket, child);
	ASSERT_EQ(sockets().close(child), Error::none);
	EXPECT_EQ(segment(client, server, ack).event, TcpEvent::listener_needs_syn);
}

// tcp_validate_incoming: a SYN on an established connection draws a challenge ACK (RFC 5961).
TEST_F(Tcp, TcpValidateIncoming_SynOnEstablishedIsChallenged)
{
	listener("t1", at(any_address, 80));
	const std::string child = handshake(client, server);
	const TcpResult result = segment(client, server, syn);
	EXPECT_EQ(result.event, TcpEvent::challenge_ack);
	EXPECT_FALSE(result.delivered);
	EXPECT_EQ(result.socket, child);
	EXPECT_EQ(sockets().find(child)->state, SocketState::established);
}

// tcp_rcv_state_process, TCP_LISTEN: an ACK is answered with a RST, a RST is dropped silently.
TEST_F(Tcp, TcpRcvStateProcess_ListenerWantsSyn)
{
	listener("t1", at(any_address, 80));
	const TcpResult stray = segment(client, server, ack);
	EXPECT_EQ(stray.event, TcpEvent::listener_needs_syn);
	EXPECT_TRUE(stray.rst_sent);
	EXPECT_FALSE(segment(client, server, rst).rst_sent);
	EXPECT_EQ(segment(client, server, TcpFlags{.syn = true, .fin = true}).event, TcpEvent::syn_fin_dropped);
}

// inet_csk_listen_stop: pending requests die with the listener; the handshake's ACK then finds
// nothing.
TEST_F(Tcp, InetCskListenStop_RequestsDieWithTheListener)
{
	listener("t1", at(any_address, 80));
	ASSERT_EQ(segment(client, server, syn).event, TcpEvent::request_created);
	ASSERT_EQ(sockets().close("t1"), Error::none);
	EXPECT_EQ(segment(client, server, ack).event, TcpEvent::no_socket);
}

// __inet_inherit_port: the child shares its listener's port, so after the listener closes a new
// bind without SO_REUSEADDR still conflicts until the child closes.
TEST_F(Tcp, InetInheritPort_ChildHoldsThePort)
{
	listener("t1", at(any_address, 80));
	const std::string child = handshake(client, server);
	ASSERT_EQ(sockets().close("t1"), Error::none);
	ASSERT_EQ(sockets().create("t2", "c1", Protocol::tcp), Error::none);
	EXPECT_EQ(sockets().bind("t2", at(any_address, 80), {}), Error::address_in_use);
	ASSERT_EQ(sockets().close(child), Error::none);
	EXPECT_EQ(sockets().bind("t2", at(any_address, 80), {}), Error::none);
}

// tcp_v4_connect, then tcp_rcv_synsent_state_process: SYN-ACK establishes, RST with ACK refuses.
TEST_F(Tcp, TcpRcvSynsentStateProcess_ClientConnect)
{
	ASSERT_EQ(sockets().create("c", "c1", Protocol::tcp), Error::none);
	ASSERT_EQ(sockets().connect("c", at(peer_ip, 443)), Error::none);
	const Socket &socket = *sockets().find("c");
	EXPECT_EQ(socket.state, SocketState::syn_sent);
	EXPECT_EQ(socket.local(), at(c1_ip, ephemeral_port_low));
	const Endpoint local = socket.local();
	EXPECT_EQ(sockets().connect("c", at(peer_ip, 443)), Error::already_connected);

	EXPECT_EQ(segment(at(peer_ip, 443), local, ack).event, TcpEvent::not_acceptable);
	EXPECT_EQ(segment(at(peer_ip, 443), local, syn_ack).event, TcpEvent::connection_established);
	EXPECT_EQ(segment(at(peer_ip, 443), local, ack).event, TcpEvent::delivered);
	EXPECT_EQ(segment(at(peer_ip, 443), local, rst_ack).event, TcpEvent::socket_reset);
	EXPECT_FALSE(sockets().find("c")->holds_port()); // tcp_set_state(TCP_CLOSE) gives back an autobound port
}

// Two containers with the same address and port have separate listeners and connections.
TEST_F(Tcp, InetLookup_NamespacesAreIndependent)
{
	listener("t1", at(any_address, 80), {}, "c1");
	listener("u1", at(any_address, 80), {}, "c2");
	EXPECT_EQ(handshake(client, server, "c1"), "t1/10.233.2.2:40312");
	EXPECT_EQ(handshake(client, server, "c2"), "u1/10.233.2.2:40312");
	EXPECT_EQ(segment(client, server, rst, "c1").event, TcpEvent::socket_reset);
	EXPECT_EQ(segment(client, server, ack, "c2").event, TcpEvent::delivered);
}

// connect(AF_UNSPEC) on a listener is tcp_disconnect: it stops listening.
TEST_F(Tcp, TcpDisconnect_ListenerStopsListening)
{
	listener("t1", at(any_address, 80));
	ASSERT_EQ(sockets().connect("t1", disconnect_peer), Error::none);
	EXPECT_EQ(sockets().find("t1")->state, SocketState::closed);
	EXPECT_EQ(segment(client, server, syn).event, TcpEvent::no_socket);
	EXPECT_TRUE(sockets().find("t1")->holds_port()); // bind() named the port: SOCK_BINDPORT_LOCK
}

// A second connection from the same peer port after the first child closed gets a fresh name.
TEST_F(Tcp, ChildNamesAreNeverReused)
{
	listener("t1", at(any_address, 80));
	const std::string first = handshake(client, server);
	ASSERT_EQ(sockets().close(first), Error::none);
	EXPECT_EQ(handshake(client, server), "t1/10.233.2.2:40312#2");
}

} // namespace
} // namespace econsim::model::testing
