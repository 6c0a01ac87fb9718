// Routing on a routed overlay's node: net/ipv4/route.c ip_route_input_slow, fib_frontend.c
// fib_validate_source, fib_trie.c fib_table_lookup, ip_forward.c ip_forward, ip_output.c
// ip_finish_output2's neighbour. The host is node B of traces/flannel-udp (flannel.1 routed, pods
// on cni0), plus a Calico-style pod c3 routed straight to its veth.
#include "host_fixture.h"

#include "model/route.h"

namespace econsim::model::testing {
namespace {

inline constexpr Ipv4Address flannel_ip = ipv4(10, 233, 1, 0);
inline constexpr Ipv4Address cni0_ip = ipv4(10, 233, 1, 1);
inline constexpr Ipv4Address pod_ip = ipv4(10, 233, 1, 2);
inline constexpr Ipv4Address calico_pod_ip = ipv4(10, 233, 1, 3);
inline constexpr Ipv4Address remote_pod_ip = ipv4(10, 233, 2, 2);
inline constexpr Ipv4Address remote_vtep_ip = ipv4(10, 233, 2, 0);
inline constexpr Ipv4Address underlay_peer_ip = ipv4(192, 168, 0, 7);
inline constexpr MacAddress flannel_mac = mac(2, 0, 0, 2, 0, 1);
inline constexpr MacAddress remote_vtep_mac = mac(2, 0, 0, 1, 0, 1);
inline constexpr MacAddress pod_mac = mac(2, 1, 0x0a, 0xe9, 1, 2);
inline constexpr MacAddress calico_pod_mac = mac(2, 1, 0x0a, 0xe9, 1, 3);

class RoutedHost : public ::testing::Test {
protected:
	void SetUp() override
	{
		Topology &topology = host.topology();
		ASSERT_EQ(host.add_nic("eth0", mac(2, 0, 0, 0, 0, 2), Ipv4Interface{nic_ip, 24}), Error::none);
		ASSERT_EQ(host.add_bridge("cni0"), Error::none);
		ASSERT_EQ(topology.set_device_address("cni0", mac(2, 0, 0, 2, 1, 1), Ipv4Interface{cni0_ip, 24}),
			  Error::none);
		ASSERT_EQ(host.add_vxlan("flannel.1", 1, 8472, ""), Error::none);
		ASSERT_EQ(topology.set_device_address("flannel.1", flannel_mac, Ipv4Interface{flannel_ip, 32}), Error::none);
		ASSERT_EQ(host.add_container("c1", "cni0", "veth-c1", pod_mac, Ipv4Interface{pod_ip, 24}), Error::none);
		ASSERT_EQ(host.add_container("c3", "", "calic3", calico_pod_mac, Ipv4Interface{calico_pod_ip, 32}),
			  Error::none);
		// Less specific first: a lookup that takes the first match goes wrong.
		add({{ipv4(10, 233, 0, 0), 16}, underlay_peer_ip, "eth0"});
		add({{ipv4(10, 233, 1, 0), 24}, std::nullopt, "cni0", RouteScope::link});
		add({{calico_pod_ip, 32}, std::nullopt, "calic3", RouteScope::link});
		add({{ipv4(10, 233, 2, 0), 24}, remote_vtep_ip, "flannel.1", RouteScope::universe, true});
		add({{ipv4(192, 168, 0, 0), 24}, std::nullopt, "eth0", RouteScope::link});
		routing().add_neighbour({remote_vtep_ip, remote_vtep_mac, "flannel.1"});
		routing().set_sysctls({.ip_forward = true, .rp_filter = 1});
	}

	void add(Route route) { ASSERT_EQ(routing().add_route(std::move(route)), Error::none); }
	Routing &routing() { return host.routing(); }
	RouteInputResult from_flannel(Ipv4Address source, Ipv4Address destination)
	{
		return routing().route_input(host.topology(), "flannel.1", source, destination);
	}

	Host host;
};

// fib_table_lookup: the longest prefix wins, whatever the order the routes were added in.
TEST_F(RoutedHost, FibLookup_LongestPrefixMatch)
{
	const Topology &topology = host.topology();
	ASSERT_NE(routing().lookup(topology, pod_ip), nullptr);
	EXPECT_EQ(routing().lookup(topology, pod_ip)->device, "cni0");
	EXPECT_EQ(routing().lookup(topology, calico_pod_ip)->device, "calic3");
	EXPECT_EQ(routing().lookup(topology, remote_pod_ip)->device, "flannel.1");
	EXPECT_EQ(routing().lookup(topology, ipv4(10, 233, 9, 9))->device, "eth0");
	EXPECT_EQ(routing().lookup(topology, ipv4(172, 16, 0, 1)), nullptr);
	EXPECT_EQ(routing().add_route({{ipv4(10, 233, 1, 0), 24}, std::nullopt, "eth0"}), Error::device_exists);
}

// fib_sync_down_dev: a device that goes down takes its routes' nexthops dead; the lookup falls
// back to a shorter prefix.
TEST_F(RoutedHost, FibLookup_RouteThroughDownDeviceSkipped)
{
	ASSERT_EQ(host.set_link("cni0", false), Error::none);
	EXPECT_EQ(routing().lookup(host.topology(), pod_ip)->device, "eth0");
}

// The local table: every address of the host namespace is RTN_LOCAL, whichever device holds it
// and whichever device the packet came in on.
// fib_disable_ip on NETDEV_DOWN: every route through the device is deleted, its neighbours
// flushed (permanent ones too); NETDEV_UP puts back only the subnet its address makes.
TEST_F(RoutedHost, DeviceDown_DeletesItsRoutesAndNeighbours_UpBringsBackItsSubnetOnly)
{
	routing().device_down("flannel.1", false);
	routing().device_down("cni0", false);
	for (const Route &r : routing().routes())
		EXPECT_TRUE(r.device != "flannel.1" && r.device != "cni0") << r.device;
	EXPECT_TRUE(routing().neighbours().empty());
	routing().device_up("flannel.1", Ipv4Interface{flannel_ip, 32}); // a /32: no subnet route
	routing().device_up("cni0", Ipv4Interface{cni0_ip, 24});
	const Route *pod = routing().lookup(host.topology(), pod_ip);
	ASSERT_NE(pod, nullptr);
	EXPECT_EQ(pod->device, "cni0");
	EXPECT_EQ(pod->destination, (Ipv4Interface{ipv4(10, 233, 1, 0), 24}));
	EXPECT_EQ(pod->scope, RouteScope::link);
	// The remote pods' route through flannel.1 stays gone: 10.233.0.0/16 via the NIC answers.
	const Route *remote = routing().lookup(host.topology(), remote_pod_ip);
	ASSERT_NE(remote, nullptr);
	EXPECT_EQ(remote->device, "eth0");
	EXPECT_FALSE(routing().resolve_neighbour(host.topology(), "flannel.1", remote_vtep_ip));
}

// The NIC's neighbours are the underlay's, which answers ARP again once the NIC is up.
TEST_F(RoutedHost, DeviceDown_KeepsTheNeighboursAskedToKeep)
{
	routing().add_neighbour({underlay_peer_ip, mac(2, 0, 0, 0, 0, 7), "eth0"});
	routing().device_down("eth0", true);
	EXPECT_EQ(routing().neighbours().size(), 2u);
	EXPECT_EQ(routing().lookup(host.topology(), underlay_peer_ip), nullptr); // its routes are gone all the same
}

TEST_F(RoutedHost, RouteInput_HostAddressesAreLocal)
{
	for (Ipv4Address own : {flannel_ip, cni0_ip, nic_ip}) {
		RouteInputResult r = from_flannel(remote_pod_ip, own);
		EXPECT_EQ(r.kind, RouteInputKind::local) << to_string(own);
		EXPECT_EQ(r.route, nullptr);
	}
	EXPECT_EQ(from_flannel(remote_pod_ip, ipv4(10, 233, 1, 255)).kind, RouteInputKind::broadcast);
}

TEST_F(RoutedHost, RouteInput_ForwardsToPodWithNextHop)
{
	RouteInputResult to_pod = from_flannel(remote_pod_ip, pod_ip);
	ASSERT_EQ(to_pod.kind, RouteInputKind::forward) << to_pod.drop_reason;
	EXPECT_EQ(to_pod.route->device, "cni0");
	EXPECT_EQ(to_pod.next_hop, pod_ip);
	RouteInputResult to_remote = from_flannel(remote_pod_ip, ipv4(10, 233, 2, 3));
	ASSERT_EQ(to_remote.kind, RouteInputKind::forward);
	EXPECT_EQ(to_remote.next_hop, remote_vtep_ip); // the gateway, not the destination
}

// fib_validate_source, strict mode: the route back to the source must leave by the device the
// packet came in on; loose mode takes any route; no route at all fails both; off checks neither.
TEST_F(RoutedHost, FibValidateSource_StrictDropsWrongInterface)
{
	std::string why;
	RouteInputResult r = routing().route_input(host.topology(), "flannel.1", underlay_peer_ip, pod_ip, &why);
	EXPECT_EQ(r.kind, RouteInputKind::drop);
	EXPECT_EQ(r.drop_reason, "rp_filter") << why;
	EXPECT_EQ(from_flannel(ipv4(172, 16, 0, 1), pod_ip).drop_reason, "rp_filter"); // no route back
	EXPECT_EQ(routing().route_input(host.topology(), "eth0", underlay_peer_ip, pod_ip).kind, RouteInputKind::forward);

	routing().set_sysctls({.ip_forward = true, .rp_filter = 2});
	EXPECT_EQ(from_flannel(underlay_peer_ip, pod_ip).kind, RouteInputKind::forward);
	EXPECT_EQ(from_flannel(ipv4(172, 16, 0, 1), pod_ip).drop_reason, "rp_filter");

	routing().set_sysctls({.ip_forward = true, .rp_filter = 0});
	EXPECT_EQ(from_flannel(underlay_peer_ip, pod_ip).kind, RouteInputKind::forward);
	EXPECT_EQ(from_flannel(ipv4(172, 16, 0, 1), pod_ip).kind, RouteInputKind::forward);
}

// A source that is one of the host's own addresses is a martian, rp_filter or not.
TEST_F(RoutedHost, FibValidateSource_OwnAddressIsMartian)
{
	EXPECT_EQ(from_flannel(cni0_ip, pod_ip).drop_reason, "martian_source");
	routing().set_sysctls({.ip_forward = true, .rp_filter = 0});
	EXPECT_EQ(from_flannel(nic_ip, pod_ip).drop_reason, "martian_source");
	EXPECT_EQ(from_flannel(ipv4(0, 0, 0, 0), pod_ip).drop_reason, "martian_source");
	EXPECT_EQ(from_flannel(remote_pod_ip, ipv4(127, 0, 0, 1)).drop_reason, "martian_destination");
}

// ip_route_input_slow: not local and forwarding off is EHOSTUNREACH (ip_error drops it), with a
// route or without; with forwarding on and no route it is ENETUNREACH.
TEST_F(RoutedHost, RouteInput_ForwardingDisabled)
{
	routing().set_sysctls({.ip_forward = false, .rp_filter = 1});
	EXPECT_EQ(from_flannel(remote_pod_ip, pod_ip).drop_reason, "forwarding_disabled");
	EXPECT_EQ(from_flannel(remote_pod_ip, ipv4(172, 16, 0, 1)).drop_reason, "forwarding_disabled");
	EXPECT_EQ(from_flannel(remote_pod_ip, flannel_ip).kind, RouteInputKind::local); // still the host's
	routing().set_sysctls({.ip_forward = true, .rp_filter = 1});
	EXPECT_EQ(from_flannel(remote_pod_ip, ipv4(172, 16, 0, 1)).drop_reason, "no_route");
}

// ip_forward: a broadcast frame is never forwarded, TTL 1 is the last hop, DF and too long fails.
TEST_F(RoutedHost, IpForward_TtlAndMtu)
{
	EXPECT_EQ(Routing::forward_check(true, 64, 1000, true, 1500), ForwardCheck::ok);
	EXPECT_EQ(Routing::forward_check(true, 2, 1000, true, 1500), ForwardCheck::ok);
	EXPECT_EQ(Routing::forward_check(true, 1, 1000, true, 1500), ForwardCheck::ttl_exceeded);
	EXPECT_EQ(Routing::forward_check(true, 0, 1000, true, 1500), ForwardCheck::ttl_exceeded);
	EXPECT_EQ(Routing::forward_check(true, 64, 1501, true, 1500), ForwardCheck::frag_needed);
	EXPECT_EQ(Routing::forward_check(true, 64, 1501, false, 1500), ForwardCheck::ok); // fragmented
	EXPECT_EQ(Routing::forward_check(true, 64, 1500, true, 1500), ForwardCheck::ok);
	EXPECT_EQ(Routing::forward_check(false, 64, 100, false, 1500), ForwardCheck::not_packet_host);
}

// ip_finish_output2: a permanent neighbour, or the pod's MAC behind the bridge or the veth;
// anything else would wait for ARP.
TEST_F(RoutedHost, NeighOutput_ResolvesKnownNextHopsOnly)
{
	const Topology &topology = host.topology();
	EXPECT_EQ(routing().resolve_neighbour(topology, "flannel.1", remote_vtep_ip), remote_vtep_mac);
	EXPECT_EQ(routing().resolve_neighbour(topology, "cni0", pod_ip), pod_mac);
	EXPECT_EQ(routing().resolve_neighbour(topology, "calic3", calico_pod_ip), calico_pod_mac);
	EXPECT_EQ(routing().resolve_neighbour(topology, "calic3", pod_ip), std::nullopt);  // not behind it
	EXPECT_EQ(routing().resolve_neighbour(topology, "cni0", ipv4(10, 233, 1, 9)), std::nullopt);
	EXPECT_EQ(routing().resolve_neighbour(topology, "eth0", remote_vtep_ip), std::nullopt); // other device
}

// br_dev_xmit and veth_xmit for what the host routed: the pod's eth0 takes its own MAC.
TEST_F(RoutedHost, RoutedTransmit_ReachesThePod)
{
	const Topology &topology = host.topology();
	InnerFrameResult bridged = topology.bridge_transmit("cni0", pod_mac, 0.0);
	ASSERT_EQ(bridged.receivers.size(), 1u) << bridged.explanation;
	EXPECT_EQ(bridged.receivers.front(), "c1");
	InnerFrameResult direct = topology.veth_transmit("calic3", calico_pod_mac);
	ASSERT_EQ(direct.receivers.size(), 1u) << direct.explanation;
	EXPECT_EQ(direct.receivers.front(), "c3");
	EXPECT_EQ(topology.veth_transmit("calic3", pod_mac).drop_reason, "other_host");
	ASSERT_EQ(host.set_link("c3/eth0", false), Error::none);
	EXPECT_EQ(topology.veth_transmit("calic3", calico_pod_mac).drop_reason, "device_down");
}

} // namespace
} // namespace econsim::model::testing
