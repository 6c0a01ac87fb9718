#include "model/route.h"

namespace econsim::model {

namespace {

// The errors fib_validate_source returns, as route.c tells them apart.
constexpr int kMartianSource = -22; // -EINVAL
constexpr int kReversePath = -18;   // -EXDEV

// Whether `source` is an address of a device of the host namespace (inet_lookup_ifaddr_rcu).
bool is_host_address(const Topology &topology, Ipv4Address source)
{
	return topology.address_type(host_namespace, source) == AddressType::local;
}

const char *scope_name(RouteScope scope)
{
	switch (scope) {
	case RouteScope::universe: return "global";
	case RouteScope::link: return "link";
	case RouteScope::host: return "host";
	}
	return "?";
}

std::string describe(const Route &route)
{
	std::string text = to_string(route.destination);
	if (route.gateway)
		text += " via " + to_string(*route.gateway);
	text += " dev " + route.device;
	if (route.scope != RouteScope::universe)
		text += std::string(" scope ") + scope_name(route.scope);
	return text;
}

} // namespace

std::string_view to_string(ForwardCheck check)
{
	switch (check) {
	case ForwardCheck::ok: return "ok";
	case ForwardCheck::not_packet_host: return "forward_not_packet_host";
	case ForwardCheck::ttl_exceeded: return "ttl_exceeded";
	case ForwardCheck::frag_needed: return "frag_needed";
	}
	return "?";
}

Error Routing::add_route(Route route)
{
	for (const Route &other : routes_)
		if (other.destination == route.destination)
			return Error::device_exists; // fib_table_insert: -EEXIST
	routes_.push_back(std::move(route));
	return Error::none;
}

void Routing::replace_route(Route route)
{
	for (Route &known : routes_) {
		if (known.destination == route.destination) {
			known = std::move(route);
			return;
		}
	}
	routes_.push_back(std::move(route));
}

Error Routing::remove_route(const Ipv4Interface &destination)
{
	auto removed = std::erase_if(routes_, [&](const Route &r) { return r.destination == destination; });
	return removed ? Error::none : Error::unknown_device;
}

void Routing::add_neighbour(Neighbour neighbour)
{
	for (Neighbour &known : neighbours_) {
		if (known.address == neighbour.address && known.device == neighbour.device) {
			known = std::move(neighbour); // `ip neigh replace`
			return;
		}
	}
	neighbours_.push_back(std::move(neighbour));
}

// 6.1: fib_disable_ip (fib_frontend.c:1436) on NETDEV_DOWN: fib_sync_down_dev
// (fib_semantics.c:2009) marks a nexthop dead when its scope is not RT_SCOPE_NOWHERE, which only
// the local table's are (a gateway route's nexthop is RT_SCOPE_LINK, a route on the link's
// RT_SCOPE_HOST: fib_check_nh), so every main-table route through the device dies and fib_flush
// deletes it; arp_ifdown → neigh_ifdown → neigh_flush_dev(skip_perm false) (neighbour.c:463).
void Routing::device_down(std::string_view device, bool keep_neighbours)
{
	std::erase_if(routes_, [&](const Route &r) { return r.device == device; });
	if (!keep_neighbours)
		std::erase_if(neighbours_, [&](const Neighbour &n) { return n.device == device; });
}

// NETDEV_UP (fib_frontend.c:1498): fib_add_ifaddr for each address of the device: its subnet on
// the link when the prefix leaves host bits (the local and broadcast routes are the topology's).
void Routing::device_up(std::string_view device, const std::optional<Ipv4Interface> &address)
{
	if (!address || address->prefix_length >= 32)
		return;
	Ipv4Interface subnet = *address;
	subnet.address.value &= subnet.netmask();
	replace_route({subnet, std::nullopt, std::string(device), RouteScope::link, false});
}

// fib_trie.c: fib_table_lookup takes the longest matching prefix whose nexthop is alive
// (fib_lookup_good_nhc skips RTNH_F_DEAD, which fib_sync_down_dev sets when the device goes down;
// RTNH_F_LINKDOWN counts only with ignore_routes_with_linkdown, 0 by default).
const Route *Routing::lookup(const Topology &topology, Ipv4Address destination) const
{
	const Route *best = nullptr;
	for (const Route &route : routes_) {
		if (!route.destination.contains(destination) || !topology.is_up(route.device))
			continue;
		if (!best || route.destination.prefix_length > best->destination.prefix_length)
			best = &route;
	}
	return best;
}

// fib_frontend.c: fib_validate_source. With rp_filter off the only check (no tclassid users, no
// custom rules, accept_local 0) is that the source is not one of the host's own addresses; a
// packet that leaves by the device it came in on is checked in full, as send_redirects (1 by
// default) asks. Otherwise __fib_validate_source: the route back to the source must be unicast;
// strict mode wants it through the device the packet came in on, loose mode any route at all.
int Routing::validate_source(const Topology &topology, std::string_view in_device, Ipv4Address source,
			     std::string_view out_device) const
{
	const int rpf = sysctls_.rp_filter;
	if (rpf == 0 && out_device != in_device)
		return is_host_address(topology, source) ? kMartianSource : 0;

	// __fib_validate_source: a lookup of the source, as if replying to it.
	AddressType type = topology.address_type(host_namespace, source);
	if (type == AddressType::local || type == AddressType::broadcast)
		return kMartianSource; // res.type != RTN_UNICAST (and accept_local is 0)
	const Route *back = lookup(topology, source);
	if (!back)
		return rpf ? kReversePath : 0; // last_resort
	if (back->device == in_device)
		return 0; // dev_match
	const Device *in = topology.device(in_device);
	if (!in || !in->address)
		return rpf ? kReversePath : 0; // no_addr: last_resort
	if (rpf == 1)
		return kReversePath;
	return 0; // loose: a route exists, through whichever device
}

RouteInputResult Routing::route_input(const Topology &topology, std::string_view in_device, Ipv4Address source,
				      Ipv4Address destination, std::string *explanation) const
{
	RouteInputResult result;
	auto drop = [&](std::string_view reason, const char *why) {
		result.kind = RouteInputKind::drop;
		result.drop_reason = reason;
		if (explanation)
			*explanation = to_string(source) + " > " + to_string(destination) + " on " + std::string(in_device) +
				       ": " + why;
		return result;
	};
	auto validated = [&](int err, const char *where) -> std::optional<RouteInputResult> {
		if (err == kReversePath)
			return drop("rp_filter", where);
		if (err < 0)
			return drop("martian_source", where);
		return std::nullopt;
	};
	auto to_host = [&](RouteInputKind kind, const char *why) {
		result.kind = kind;
		if (explanation)
			*explanation = to_string(destination) + " is " + why + " (ip_route_input_slow → ip_local_deliver)";
		return result;
	};

	// ip_route_input_slow's martian checks, in its order (route_localnet is 0).
	if (source.is_multicast() || source.is_limited_broadcast())
		return drop("martian_source", "a multicast or broadcast source");
	if (destination.is_limited_broadcast() || (source.is_any() && destination.is_any())) {
		if (!source.is_any())
			if (auto dropped = validated(validate_source(topology, in_device, source, {}),
						     "fib_validate_source refuses the source of a broadcast"))
				return *dropped;
		return to_host(RouteInputKind::broadcast, "the limited broadcast");
	}
	if (source.is_any())
		return drop("martian_source", "source 0.0.0.0 to a unicast destination");
	if (destination.is_any())
		return drop("martian_destination", "destination 0.0.0.0");
	if (destination.is_loopback())
		return drop("martian_destination", "a loopback destination from outside (route_localnet 0)");
	if (source.is_loopback())
		return drop("martian_source", "a loopback source from outside (route_localnet 0)");

	// fib_lookup: the local table (the namespace's addresses) before the main table. Multicast
	// group membership is not modelled: a multicast destination is taken as the host's.
	const AddressType type = topology.address_type(host_namespace, destination);
	if (type != AddressType::remote) {
		if (auto dropped = validated(validate_source(topology, in_device, source, {}),
					     "fib_validate_source refuses the source of a packet for the host"))
			return *dropped;
		return type == AddressType::local
			       ? to_host(RouteInputKind::local, "a local address (RTN_LOCAL)")
			       : to_host(RouteInputKind::broadcast, "a broadcast or multicast address of the host");
	}
	const Route *route = lookup(topology, destination);
	if (!sysctls_.ip_forward)
		return drop("forwarding_disabled",
			    route ? "not local, and ip_forward is 0 (ip_error: EHOSTUNREACH)"
				  : "no route, and ip_forward is 0 (ip_error: EHOSTUNREACH)");
	if (!route)
		return drop("no_route", "no route in the main table (ip_error: ICMP net unreachable)");
	if (auto dropped = validated(validate_source(topology, in_device, source, route->device),
				     sysctls_.rp_filter == 1 ? "rp_filter 1: the route back to the source is not through this device"
							     : "fib_validate_source refuses the source (__mkroute_input)"))
		return *dropped;
	result.kind = RouteInputKind::forward;
	result.route = route;
	result.next_hop = route->gateway.value_or(destination);
	if (explanation)
		*explanation = to_string(destination) + ": route " + describe(*route) + " (fib_lookup), next hop " +
			       to_string(result.next_hop) + ", rp_filter " + std::to_string(sysctls_.rp_filter) + " passes";
	return result;
}

ForwardCheck Routing::forward_check(bool packet_host, std::uint8_t ttl, std::size_t length, bool dont_fragment,
				    std::size_t mtu)
{
	if (!packet_host)
		return ForwardCheck::not_packet_host;
	if (ttl <= 1)
		return ForwardCheck::ttl_exceeded;
	if (length > mtu && dont_fragment) // ip_exceeds_mtu
		return ForwardCheck::frag_needed;
	return ForwardCheck::ok;
}

std::optional<MacAddress> Routing::resolve_neighbour(const Topology &topology, std::string_view device,
						     Ipv4Address next_hop) const
{
	for (const Neighbour &n : neighbours_)
		if (n.device == device && n.address == next_hop)
			return n.mac;
	const Device *dev = topology.device(device);
	if (!dev)
		return std::nullopt;
	for (const auto &[name, c] : topology.containers()) {
		if (c.address.address != next_hop)
			continue;
		if ((dev->kind == DeviceKind::bridge && c.bridge == device) ||
		    (dev->kind == DeviceKind::veth_host_end && c.host_end == device))
			return c.mac;
	}
	return std::nullopt;
}

} // namespace econsim::model
