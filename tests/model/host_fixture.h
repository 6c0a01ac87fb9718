// The host most model tests start from: node B of the recorder's overlay (traces/record), with one
// container c1 on VNI 42 and a second tenant c2 on VNI 43 that reuses c1's address.
#pragma once

#include <gtest/gtest.h>

#include <ostream>

#include "model/host.h"

namespace econsim::model {

// gtest prints these by name (found by argument-dependent lookup).
inline void PrintTo(Error error, std::ostream *out)
{
	*out << to_string(error);
}
inline void PrintTo(TcpEvent event, std::ostream *out)
{
	*out << to_string(event);
}
inline void PrintTo(SocketState state, std::ostream *out)
{
	*out << to_string(state);
}
inline void PrintTo(UdpMatch match, std::ostream *out)
{
	*out << to_string(match);
}
inline void PrintTo(Ipv4Address address, std::ostream *out)
{
	*out << to_string(address);
}
inline void PrintTo(const Endpoint &endpoint, std::ostream *out)
{
	*out << to_string(endpoint);
}

} // namespace econsim::model

namespace econsim::model::testing {

inline constexpr Ipv4Address c1_ip = ipv4(10, 233, 1, 2);
inline constexpr Ipv4Address peer_ip = ipv4(10, 233, 2, 2);
inline constexpr Ipv4Address other_peer_ip = ipv4(10, 233, 2, 3);
inline constexpr Ipv4Address nic_ip = ipv4(192, 168, 0, 2);
inline constexpr MacAddress c1_mac = mac(0x02, 0x42, 0x0a, 0xe9, 0x01, 0x02);
inline constexpr MacAddress c2_mac = mac(0x02, 0x42, 0x0a, 0xe9, 0x01, 0x03);
inline constexpr MacAddress peer_mac = mac(0x02, 0x42, 0x0a, 0xe9, 0x02, 0x02);

inline Endpoint at(Ipv4Address address, std::uint16_t port)
{
	return Endpoint{address, port};
}

// A datagram or segment as received: from `source` to `destination`.
inline FourTuple from_to(Endpoint source, Endpoint destination)
{
	return FourTuple{source, destination};
}

class HostTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		ASSERT_EQ(host.add_nic("eth0", mac(2, 0, 0, 0, 0, 2), Ipv4Interface{nic_ip, 24}), Error::none);
		ASSERT_EQ(host.add_bridge("br42"), Error::none);
		ASSERT_EQ(host.add_bridge("br43"), Error::none);
		ASSERT_EQ(host.add_vxlan("vxlan42", 42, 4789, "br42"), Error::none);
		ASSERT_EQ(host.add_vxlan("vxlan43", 43, 4789, "br43"), Error::none);
		ASSERT_EQ(host.add_container("c1", "br42", "veth-c1", c1_mac, Ipv4Interface{c1_ip, 16}), Error::none);
		ASSERT_EQ(host.add_container("c2", "br43", "veth-c2", c2_mac, Ipv4Interface{c1_ip, 16}), Error::none);
	}

	// socket + bind in one step, as most tests need; fails the test if either is refused.
	void open(const std::string &name, Protocol protocol, Endpoint local, BindOptions options = {},
		  std::string_view ns = "c1")
	{
		ASSERT_EQ(sockets().create(name, ns, protocol), Error::none) << name;
		ASSERT_EQ(sockets().bind(name, local, options), Error::none) << name;
	}

	Sockets &sockets() { return host.sockets(); }

	// The names a UDP datagram from `source` to `destination` in c1 ends at.
	std::vector<std::string> udp_to(Endpoint source, Endpoint destination, std::string_view ns = "c1", int cpu = 0)
	{
		return sockets().udp_lookup(ns, from_to(source, destination), cpu).sockets;
	}

	Host host;
};

using Names = std::vector<std::string>;

} // namespace econsim::model::testing
