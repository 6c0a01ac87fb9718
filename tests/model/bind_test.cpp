// bind(2), connect(2) and listen(2) refusals: af_inet.c __inet_bind; udp.c udp_lib_get_port /
// udp_lib_lport_inuse; inet_connection_sock.c inet_csk_get_port / inet_bind_conflict.
#include "host_fixture.h"

namespace econsim::model::testing {
namespace {

using Bind = HostTest;

const BindOptions none{};
const BindOptions reuseaddr{.reuseaddr = true};
const BindOptions reuseport{.reuseport = true};

// Open `first` bound with `first_options`, then try `second` with `second_options`.
Error second_bind(Sockets &sockets, Protocol protocol, Endpoint first_at, BindOptions first_options, Endpoint second_at,
		  BindOptions second_options)
{
	static int counter = 0;
	const std::string first = "first" + std::to_string(++counter);
	const std::string second = "second" + std::to_string(counter);
	EXPECT_EQ(sockets.create(first, "c1", protocol), Error::none);
	EXPECT_EQ(sockets.bind(first, first_at, first_options), Error::none);
	EXPECT_EQ(sockets.create(second, "c1", protocol), Error::none);
	const Error error = sockets.bind(second, second_at, second_options);
	EXPECT_EQ(sockets.close(first), Error::none);
	EXPECT_EQ(sockets.close(second), Error::none);
	return error;
}

// udp_lib_lport_inuse: same port, overlapping address (equal, or either 0.0.0.0), and neither
// both SO_REUSEADDR nor both SO_REUSEPORT: EADDRINUSE.
TEST_F(Bind, UdpLibLportInuse_OverlappingAddressesConflict)
{
	auto &s = sockets();
	const Protocol udp = Protocol::udp;
	EXPECT_EQ(second_bind(s, udp, at(c1_ip, 5000), none, at(c1_ip, 5000), none), Error::address_in_use);
	EXPECT_EQ(second_bind(s, udp, at(any_address, 5000), none, at(c1_ip, 5000), none), Error::address_in_use);
	EXPECT_EQ(second_bind(s, udp, at(c1_ip, 5000), none, at(any_address, 5000), none), Error::address_in_use);
	EXPECT_EQ(second_bind(s, udp, at(c1_ip, 5000), none, at(loopback_address, 5000), none), Error::none);
	EXPECT_EQ(second_bind(s, udp, at(c1_ip, 5000), none, at(c1_ip, 5001), none), Error::none);
}

TEST_F(Bind, UdpLibLportInuse_ReuseaddrOnBothShares)
{
	auto &s = sockets();
	const Protocol udp = Protocol::udp;
	EXPECT_EQ(second_bind(s, udp, at(c1_ip, 5000), reuseaddr, at(c1_ip, 5000), reuseaddr), Error::none);
	EXPECT_EQ(second_bind(s, udp, at(any_address, 5000), reuseaddr, at(c1_ip, 5000), reuseaddr), Error::none);
	EXPECT_EQ(second_bind(s, udp, at(c1_ip, 5000), reuseaddr, at(c1_ip, 5000), none), Error::address_in_use);
	EXPECT_EQ(second_bind(s, udp, at(c1_ip, 5000), none, at(c1_ip, 5000), reuseaddr), Error::address_in_use);
}

TEST_F(Bind, UdpLibLportInuse_ReuseportOnBothShares)
{
	auto &s = sockets();
	const Protocol udp = Protocol::udp;
	EXPECT_EQ(second_bind(s, udp, at(c1_ip, 5000), reuseport, at(c1_ip, 5000), reuseport), Error::none);
	EXPECT_EQ(second_bind(s, udp, at(any_address, 5000), reuseport, at(c1_ip, 5000), reuseport), Error::none);
	EXPECT_EQ(second_bind(s, udp, at(c1_ip, 5000), reuseport, at(c1_ip, 5000), none), Error::address_in_use);
	EXPECT_EQ(second_bind(s, udp, at(c1_ip, 5000), none, at(c1_ip, 5000), reuseport), Error::address_in_use);
}

// inet_bind_conflict with relax and reuseport_ok (a named port): SO_REUSEADDR on both shares a
// port only while the holder is not listening; SO_REUSEPORT on both shares it with listeners too.
TEST_F(Bind, InetBindConflict_TcpReuseaddrNeedsAHolderThatIsNotListening)
{
	auto &s = sockets();
	const Protocol tcp = Protocol::tcp;
	EXPECT_EQ(second_bind(s, tcp, at(c1_ip, 80), none, at(c1_ip, 80), none), Error::address_in_use);
	EXPECT_EQ(second_bind(s, tcp, at(any_address, 80), none, at(c1_ip, 80), none), Error::address_in_use);
	EXPECT_EQ(second_bind(s, tcp, at(c1_ip, 80), reuseaddr, at(c1_ip, 80), reuseaddr), Error::none);
	EXPECT_EQ(second_bind(s, tcp, at(c1_ip, 80), reuseport, at(c1_ip, 80), reuseport), Error::none);
	EXPECT_EQ(second_bind(s, tcp, at(c1_ip, 80), none, at(loopback_address, 80), none), Error::none);

	open("listening", tcp, at(any_address, 81), reuseaddr);
	ASSERT_EQ(s.listen("listening", 128), Error::none);
	ASSERT_EQ(s.create("late", "c1", tcp), Error::none);
	EXPECT_EQ(s.bind("late", at(c1_ip, 81), reuseaddr), Error::address_in_use);

	open("rp-listening", tcp, at(any_address, 82), reuseport);
	ASSERT_EQ(s.listen("rp-listening", 128), Error::none);
	ASSERT_EQ(s.create("rp-late", "c1", tcp), Error::none);
	EXPECT_EQ(s.bind("rp-late", at(any_address, 82), reuseport), Error::none);
}

// inet_csk_listen_start takes the port again in TCP_LISTEN: two sockets bound with SO_REUSEADDR
// cannot both listen.
TEST_F(Bind, InetCskListenStart_SecondListenerWithReuseaddrFails)
{
	open("t1", Protocol::tcp, at(any_address, 80), reuseaddr);
	open("t2", Protocol::tcp, at(any_address, 80), reuseaddr);
	ASSERT_EQ(sockets().listen("t1", 128), Error::none);
	EXPECT_EQ(sockets().listen("t2", 128), Error::address_in_use);
	EXPECT_EQ(sockets().find("t2")->state, SocketState::closed);
	ASSERT_EQ(sockets().close("t1"), Error::none);
	EXPECT_EQ(sockets().listen("t2", 128), Error::none);
}

// __inet_bind: the address must be local, broadcast or multicast (inet_addr_valid_or_nonlocal).
TEST_F(Bind, InetBind_AddressMustBeLocal)
{
	auto attempt = [this](Ipv4Address address) {
		static int counter = 0;
		const std::string name = "a" + std::to_string(++counter);
		EXPECT_EQ(sockets().create(name, "c1", Protocol::udp), Error::none);
		return sockets().bind(name, at(address, 5000), {});
	};
	EXPECT_EQ(attempt(peer_ip), Error::address_not_available);
	EXPECT_EQ(attempt(nic_ip), Error::address_not_available); // the host's address, not c1's
	EXPECT_EQ(attempt(ipv4(10, 233, 0, 0)), Error::address_not_available);
	EXPECT_EQ(attempt(c1_ip), Error::none);
	EXPECT_EQ(attempt(ipv4(127, 1, 2, 3)), Error::none);
	EXPECT_EQ(attempt(ipv4(10, 233, 255, 255)), Error::none);
	EXPECT_EQ(attempt(ipv4(255, 255, 255, 255)), Error::none);
	EXPECT_EQ(attempt(ipv4(239, 1, 1, 1)), Error::none);
	EXPECT_EQ(attempt(ipv4(0, 1, 2, 3)), Error::address_not_available); // 0/8 is unicast in 6.1
}

// __inet_bind: EINVAL for a socket that holds a port already, or is not TCP_CLOSE.
TEST_F(Bind, InetBind_OnlyOnce)
{
	open("s1", Protocol::udp, at(c1_ip, 5000));
	EXPECT_EQ(sockets().bind("s1", at(c1_ip, 5001), {}), Error::invalid_argument);
	ASSERT_EQ(sockets().create("s2", "c1", Protocol::udp), Error::none);
	ASSERT_EQ(sockets().connect("s2", at(peer_ip, 4000)), Error::none);
	EXPECT_EQ(sockets().bind("s2", at(c1_ip, 5002), {}), Error::invalid_argument);
}

// udp_lib_get_port with port 0: an ephemeral port; the model takes the lowest free one.
TEST_F(Bind, UdpLibGetPort_PortZeroTakesTheLowestFreeEphemeralPort)
{
	open("s1", Protocol::udp, at(any_address, 0));
	open("s2", Protocol::udp, at(any_address, 0));
	EXPECT_EQ(sockets().find("s1")->port, ephemeral_port_low);
	EXPECT_EQ(sockets().find("s2")->port, ephemeral_port_low + 1);
	EXPECT_FALSE(sockets().find("s1")->port_locked);
}

TEST_F(Bind, SockNoListen_UdpCannotListen)
{
	open("s1", Protocol::udp, at(any_address, 5000));
	EXPECT_EQ(sockets().listen("s1", 10), Error::not_supported);
}

// __ip4_datagram_connect: a broadcast destination needs SO_BROADCAST, which the scenario cannot set.
TEST_F(Bind, Ip4DatagramConnect_BroadcastNeedsSoBroadcast)
{
	open("s1", Protocol::udp, at(any_address, 5000));
	EXPECT_EQ(sockets().connect("s1", at(ipv4(10, 233, 255, 255), 4000)), Error::permission_denied);
	EXPECT_EQ(sockets().connect("s1", at(ipv4(255, 255, 255, 255), 4000)), Error::permission_denied);
}

TEST_F(Bind, UnknownNamesAreErrors)
{
	EXPECT_EQ(sockets().bind("nobody", at(c1_ip, 5000), {}), Error::unknown_socket);
	EXPECT_EQ(sockets().connect("nobody", at(peer_ip, 5000)), Error::unknown_socket);
	EXPECT_EQ(sockets().listen("nobody", 1), Error::unknown_socket);
	EXPECT_EQ(sockets().close("nobody"), Error::unknown_socket);
	EXPECT_EQ(sockets().create("s1", "no-such-container", Protocol::udp), Error::unknown_namespace);
	ASSERT_EQ(sockets().create("s1", "c1", Protocol::udp), Error::none);
	EXPECT_EQ(sockets().create("s1", "c2", Protocol::tcp), Error::socket_name_taken);
	EXPECT_STREQ(to_string(Error::address_in_use), "EADDRINUSE");
}

} // namespace
} // namespace econsim::model::testing
