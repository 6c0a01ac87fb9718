// The routed overlays' part of the host (docs/scenario-extensions.md, "Routed overlays"): VXLAN
// devices with an address and no bridge (flannel.1, vxlan.calico), containers routed to straight
// over their veth (Calico), and the host namespace's sysctls, main routing table, permanent
// neighbours and kube-proxy's NodePort NAT rules. Each value is checked here; the devices a route or neighbour names must exist.
#include "scenario_reader.h"

#include <map>
#include <set>
#include <utility>

namespace econsim::sim::scenario_reader {

namespace {

inline constexpr EnumName<RouteScope> kRouteScopes[] = {
	{RouteScope::global, "global"}, {RouteScope::global, "universe"}, {RouteScope::link, "link"}, {RouteScope::host, "host"}};

Sysctls read_sysctls(const FieldReader &in, const YAML::Node &node)
{
	in.expect_keys(node, "host.sysctl", {}, {"ip_forward", "rp_filter"});
	Sysctls sysctl;
	sysctl.line = line_of(node);
	if (node["ip_forward"].IsDefined())
		sysctl.ip_forward = in.boolean(node, "ip_forward");
	if (node["rp_filter"].IsDefined())
		sysctl.rp_filter = static_cast<int>(in.integer(node, "rp_filter", 0, 2));
	return sysctl;
}

Route read_route(const FieldReader &in, const YAML::Node &node, const std::string &what)
{
	in.expect_keys(node, what, {"dst", "dev"}, {"via", "scope", "src", "proto", "onlink"});
	return route_fields(in, node);
}

Neighbour read_neighbour(const FieldReader &in, const YAML::Node &node, const std::string &what)
{
	in.expect_keys(node, what, {"ip", "mac", "dev"});
	return neighbour_fields(in, node);
}

// The prefixes a device's address puts on its link (fib_add_ifaddr): a gateway without `onlink`
// must be in one, or in a scope-link route through the same device (fib_check_nh_v4_gw).
bool gateway_on_link(const Host &host, const std::vector<Route> &routes, const Route &route)
{
	auto on = [&](const std::string &dev, const std::optional<Ipv4Prefix> &ip) {
		return dev == route.dev && ip && ip->contains(*route.via);
	};
	if (on(host.nic.name, host.nic.ip))
		return true;
	for (const Bridge &b : host.bridges)
		if (on(b.name, b.ip))
			return true;
	for (const VxlanDevice &v : host.vxlan)
		if (on(v.name, v.ip))
			return true;
	for (const Route &other : routes)
		if (other.dev == route.dev && other.scope == RouteScope::link && other.dst.contains(*route.via))
			return true;
	return false;
}

} // namespace

// The host namespace's devices, by name: the NIC, bridges, VXLAN devices and veth host ends.
std::set<std::string> host_devices(const Host &host)
{
	std::set<std::string> devices{host.nic.name};
	for (const Bridge &b : host.bridges)
		devices.insert(b.name);
	for (const VxlanDevice &v : host.vxlan)
		devices.insert(v.name);
	for (const Container &c : host.containers)
		devices.insert(c.veth);
	return devices;
}

Ipv4Prefix route_destination(const FieldReader &in, const YAML::Node &node)
{
	Ipv4Prefix dst = in.prefix(node, "dst");
	// fib_table_insert refuses a prefix with host bits set ("Invalid prefix for given prefix length").
	if ((dst.address.value & ~dst.netmask()) != 0)
		in.fail(node["dst"], "'dst': " + to_string(dst) + " has host bits set (Linux refuses it)");
	return dst;
}

Route route_fields(const FieldReader &in, const YAML::Node &node)
{
	Route route;
	route.line = line_of(node);
	route.dst = route_destination(in, node);
	route.dev = in.device_name(node, "dev");
	if (node["via"].IsDefined())
		route.via = in.ipv4(node, "via");
	if (node["scope"].IsDefined())
		route.scope = in.choose(node, "scope", kRouteScopes);
	if (node["src"].IsDefined())
		route.src = in.ipv4(node, "src");
	if (node["proto"].IsDefined())
		route.proto = in.name(node, "proto");
	if (node["onlink"].IsDefined())
		route.onlink = in.boolean(node, "onlink");
	if (route.onlink && !route.via)
		in.fail(node["onlink"], "'onlink' needs a gateway ('via')");
	if (route.via && route.scope != RouteScope::global)
		in.fail(node, "a route with a gateway ('via') has scope global (fib_check_nh)");
	return route;
}

Neighbour neighbour_fields(const FieldReader &in, const YAML::Node &node)
{
	Neighbour neighbour;
	neighbour.line = line_of(node);
	neighbour.ip = in.ipv4(node, "ip");
	neighbour.mac = in.mac(node, "mac");
	neighbour.dev = in.device_name(node, "dev");
	return neighbour;
}

void read_routed_vxlan(const FieldReader &in, const YAML::Node &node, const std::string &what, VxlanDevice &vxlan)
{
	if (node["bridge"].IsDefined())
		vxlan.bridge = in.device_name(node, "bridge");
	if (node["mac"].IsDefined())
		vxlan.mac = in.mac(node, "mac");
	if (node["ip"].IsDefined())
		vxlan.ip = in.prefix(node, "ip");
	// Without a bridge the decapsulated frames go to the host's IP stack, which takes only those
	// addressed to the device's MAC, and routes only on a device with an address.
	if (vxlan.bridge.empty() && (!vxlan.mac || !vxlan.ip))
		in.fail(node, what + ": missing key 'bridge' (a VXLAN device without one is routed and needs 'mac' and 'ip')");
	if (!vxlan.bridge.empty() && vxlan.ip)
		in.fail(node["ip"], what + ": a bridge port has no address of its own (give it to the bridge)");
	if (node["fdb"].IsDefined())
		in.for_each_in_list(node["fdb"], what + ".fdb", [&](const YAML::Node &item, const std::string &entry_what) {
			in.expect_keys(item, entry_what, {"mac", "dst"});
			vxlan.fdb.push_back({in.mac(item, "mac"), in.ipv4(item, "dst"), line_of(item)});
		});
}

void read_routed_container(const FieldReader &in, const YAML::Node &node, Container &container)
{
	if (node["gateway"].IsDefined())
		container.gateway = in.ipv4(node, "gateway");
	if (node["veth_mac"].IsDefined())
		container.veth_mac = in.mac(node, "veth_mac");
	if (node["proxy_arp"].IsDefined())
		container.proxy_arp = in.boolean(node, "proxy_arp");
}

void read_routing(const FieldReader &in, const YAML::Node &node, Host &host)
{
	if (node["sysctl"].IsDefined())
		host.sysctl = read_sysctls(in, node["sysctl"]);
	const std::set<std::string> devices = host_devices(host);
	auto known_device = [&](const YAML::Node &item, const std::string &dev) {
		if (!devices.contains(dev))
			in.fail(item["dev"], "'dev': " + quoted(dev) + " is not a device of the host namespace");
	};
	if (node["routes"].IsDefined()) {
		std::vector<Route> routes;
		std::map<Ipv4Prefix, int> prefixes;
		in.for_each_in_list(node["routes"], "host.routes", [&](const YAML::Node &item, const std::string &what) {
			Route route = read_route(in, item, what);
			known_device(item, route.dev);
			// One route per prefix: the scenario has no metrics or TOS to tell two apart.
			auto [it, added] = prefixes.emplace(route.dst, route.line);
			if (!added)
				in.fail(item["dst"], "'dst': a route to " + to_string(route.dst) + " is already at line " +
							     std::to_string(it->second));
			routes.push_back(std::move(route));
		});
		for (std::size_t i = 0; i < routes.size(); i++)
			if (routes[i].via && !routes[i].onlink && !gateway_on_link(host, routes, routes[i]))
				in.fail(node["routes"][i]["via"], "'via': gateway " + to_string(*routes[i].via) +
									  " is not on a link of " + quoted(routes[i].dev) +
									  " (Linux refuses it without 'onlink')");
		host.routes = std::move(routes);
	}
	if (node["nat"].IsDefined()) {
		std::map<std::pair<SocketProto, std::uint16_t>, int> ports;
		in.for_each_in_list(node["nat"], "host.nat", [&](const YAML::Node &item, const std::string &what) {
			in.expect_keys(item, what, {"proto", "port", "to"});
			NatRule rule{.proto = in.choose(item, "proto", kSocketProtos),
				     .port = static_cast<std::uint16_t>(in.integer(item, "port", 1, 65535)),
				     .to = in.endpoint(item, "to"),
				     .line = line_of(item)};
			auto [it, added] = ports.emplace(std::pair{rule.proto, rule.port}, rule.line);
			if (!added)
				in.fail(item["port"], "'port': " + std::string(to_string(rule.proto)) + " port " +
							      std::to_string(rule.port) + " already has a rule at line " +
							      std::to_string(it->second));
			host.nat.push_back(rule);
		});
	}
	if (node["neighbours"].IsDefined()) {
		std::set<std::pair<std::uint32_t, std::string>> seen;
		in.for_each_in_list(node["neighbours"], "host.neighbours", [&](const YAML::Node &item, const std::string &what) {
			Neighbour neighbour = read_neighbour(in, item, what);
			known_device(item, neighbour.dev);
			if (!seen.emplace(neighbour.ip.value, neighbour.dev).second)
				in.fail(item["ip"], "'ip': a neighbour " + to_string(neighbour.ip) + " on " + quoted(neighbour.dev) +
							    " is given twice");
			host.neighbours.push_back(neighbour);
		});
	}
}

} // namespace econsim::sim::scenario_reader
