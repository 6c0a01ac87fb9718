// The host namespace's IPv4 routing, as a routed overlay (flannel, Calico) uses it: the main
// table, permanent neighbours and the two sysctls routing reads, and the decisions made from
// them for a packet the host received on one of its devices: ip_route_input_slow (local, forward
// or drop, with fib_validate_source's reverse-path filter), ip_forward's checks, and the
// neighbour ip_finish_output2 resolves the next hop to. The local table is the topology's (the
// addresses of the namespace's devices).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/error.h"
#include "model/topology.h"
#include "model/types.h"

namespace econsim::model {

// rtm_scope: RT_SCOPE_UNIVERSE (a gateway route, or the default), RT_SCOPE_LINK (on the link),
// RT_SCOPE_HOST (this host).
enum class RouteScope : std::uint8_t { universe, link, host };

struct Route {
	Ipv4Interface destination;            // the prefix (host bits zero)
	std::optional<Ipv4Address> gateway{}; // `via`
	std::string device{};                 // `dev`
	RouteScope scope = RouteScope::universe;
	bool onlink = false;
};

// A permanent neighbour (NUD_PERMANENT): `ip neigh add IP lladdr MAC dev DEV`.
struct Neighbour {
	Ipv4Address address;
	MacAddress mac;
	std::string device{};
};

// net.ipv4.ip_forward (every device's forwarding follows it: devinet_sysctl_forward) and
// net.ipv4.conf.all.rp_filter (IN_DEV_RPFILTER takes the larger of all and the device's, and the
// scenario sets them alike): 0 off, 1 strict, 2 loose.
struct RoutingSysctls {
	bool ip_forward = false;
	int rp_filter = 0;
};

// Where ip_route_input_slow sends a packet.
enum class RouteInputKind : std::uint8_t {
	local,     // RTN_LOCAL: ip_local_deliver in the host namespace
	broadcast, // RTN_BROADCAST: the same, as a broadcast
	forward,   // RTN_UNICAST: ip_forward through `route`
	drop,      // `drop_reason` says why
};

struct RouteInputResult {
	RouteInputKind kind = RouteInputKind::drop;
	// martian_source, martian_destination, rp_filter (-EXDEV: LINUX_MIB_IPRPFILTER),
	// no_route (ip_error, ICMP net unreachable), forwarding_disabled (ip_error, IPSTATS_MIB_INADDRERRORS)
	std::string_view drop_reason{};
	const Route *route = nullptr; // forward: the route taken
	Ipv4Address next_hop{};       // forward: the gateway, or the destination on the link
};

// Why ip_forward drops, if it does.
enum class ForwardCheck : std::uint8_t {
	ok,
	not_packet_host, // skb->pkt_type != PACKET_HOST: a broadcast or multicast frame is never forwarded
	ttl_exceeded,    // ttl <= 1: ICMP time exceeded (IPSTATS_MIB_INHDRERRORS)
	frag_needed,     // longer than the egress MTU with DF set: ICMP fragmentation needed
};
std::string_view to_string(ForwardCheck check);

class Routing {
public:
	// ip route add: Error::device_exists for a second route to the same prefix (the scenario has no
	// metric or TOS to tell them apart).
	Error add_route(Route route);
	// `ip route replace`: the route to the same prefix, if any, gives way.
	void replace_route(Route route);
	// `ip route del`: Error::unknown_device when no route has this prefix (the kernel: ESRCH).
	Error remove_route(const Ipv4Interface &destination);
	void add_neighbour(Neighbour neighbour);
	// A device of the host namespace set down (fib_netdev_event NETDEV_DOWN → fib_disable_ip,
	// net/ipv4/fib_frontend.c): fib_sync_down_dev marks every nexthop through it dead and
	// fib_flush deletes those routes, gateway routes and its connected subnet alike (they do not
	// come back when it is up again); arp_ifdown → neigh_ifdown flushes its neighbours, permanent
	// ones included. `keep_neighbours`: the NIC's, which the underlay answers ARP for again.
	void device_down(std::string_view device, bool keep_neighbours);
	// Set up again (NETDEV_UP): fib_add_ifaddr puts back the subnet route its address makes (scope
	// link, for a prefix shorter than /32); nothing else comes back.
	void device_up(std::string_view device, const std::optional<Ipv4Interface> &address);
	void set_sysctls(RoutingSysctls sysctls) { sysctls_ = sysctls; }

	const RoutingSysctls &sysctls() const { return sysctls_; }
	const std::vector<Route> &routes() const { return routes_; }
	const std::vector<Neighbour> &neighbours() const { return neighbours_; }

	// fib_table_lookup on the main table: the longest prefix among the routes whose device is up
	// (a device that goes down takes its routes' nexthops dead: fib_sync_down_dev; device_down
	// deletes them when the scenario sets one down).
	const Route *lookup(const Topology &topology, Ipv4Address destination) const;

	// route.c: ip_route_input_slow for a packet from `source` to `destination` received on
	// `in_device` (host namespace), with fib_validate_source (fib_frontend.c) on the local and
	// the forwarded branch. The explanation is written only when asked for.
	RouteInputResult route_input(const Topology &topology, std::string_view in_device, Ipv4Address source,
				     Ipv4Address destination, std::string *explanation = nullptr) const;

	// ip_forward.c: ip_forward's checks, in its order, for a packet of `length` bytes (IPv4 total
	// length) with `ttl` and DF, to go out with `mtu`.
	static ForwardCheck forward_check(bool packet_host, std::uint8_t ttl, std::size_t length, bool dont_fragment,
					  std::size_t mtu);

	// ip_output.c: ip_finish_output2 → ip_neigh_for_gw: the next hop's link-layer address on
	// `device`, if known without asking ARP: a permanent neighbour, or a container the scenario
	// puts behind the device (its MAC is what ARP would learn). nullopt: unresolved (the kernel
	// would queue the packet and send an ARP request the capture cannot answer).
	std::optional<MacAddress> resolve_neighbour(const Topology &topology, std::string_view device,
						    Ipv4Address next_hop) const;

private:
	// fib_frontend.c: fib_validate_source / __fib_validate_source. 0 or more: accepted; -EINVAL:
	// a martian source; -EXDEV: the reverse-path filter.
	int validate_source(const Topology &topology, std::string_view in_device, Ipv4Address source,
			    std::string_view out_device) const;

	std::vector<Route> routes_;
	std::vector<Neighbour> neighbours_;
	RoutingSysctls sysctls_;
};

} // namespace econsim::model
