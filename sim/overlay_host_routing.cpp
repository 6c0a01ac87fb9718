// The routed overlays' part of the host (docs/scenario-extensions.md, "Routed overlays"): the
// addresses and MACs of the VXLAN devices, bridges and veth host ends, the sysctls, the main
// table (the scenario's, or the connected routes the addresses make) and permanent neighbours.
#include "overlay_host.h"

#include "model/route.h"
#include "model/topology.h"

namespace econsim::sim {

namespace {

model::RouteScope to_model(RouteScope scope)
{
	switch (scope) {
	case RouteScope::global: return model::RouteScope::universe;
	case RouteScope::link: return model::RouteScope::link;
	case RouteScope::host: return model::RouteScope::host;
	}
	return model::RouteScope::universe;
}

model::Route to_model(const Route &r)
{
	return model::Route{r.dst,
			    r.via ? std::optional(*r.via) : std::nullopt,
			    r.dev,
			    to_model(r.scope),
			    r.onlink};
}

model::Neighbour to_model(const Neighbour &n)
{
	return model::Neighbour{n.ip, n.mac, n.dev};
}

} // namespace

void OverlayHost::build_routing()
{
	const Host &h = scenario_.host;
	model::Topology &topology = model_.topology();
	auto check = [&](model::Error error, int line, const std::string &what) {
		if (error != model::Error::none)
			throw ScenarioError(scenario_.file, line, what + ": " + model::to_string(error));
	};
	for (const VxlanDevice &v : h.vxlan)
		routed_ = routed_ || v.bridge.empty();
	for (const VxlanDevice &v : h.vxlan)
		if (v.mac || v.ip)
			check(topology.set_device_address(v.name, v.mac, v.ip), v.line, "vxlan " + v.name);
	for (const Bridge &b : h.bridges)
		if (b.mac || b.ip)
			check(topology.set_device_address(b.name, b.mac, b.ip), b.line, "bridge " + b.name);
	for (const Container &c : h.containers)
		if (c.veth_mac)
			check(topology.set_device_address(c.veth, c.veth_mac, std::nullopt), c.line, "veth " + c.veth);

	model::Routing &routing = model_.routing();
	routing.set_sysctls({h.sysctl.ip_forward, h.sysctl.rp_filter});
	if (h.routes) {
		for (const Route &r : *h.routes)
			check(routing.add_route(to_model(r)), r.line, "route " + to_string(r.dst));
	} else {
		// fib_add_ifaddr: an address with a prefix shorter than /32 puts its subnet on its device.
		auto connected = [&](const std::string &dev, const std::optional<Ipv4Prefix> &ip) {
			if (!ip || ip->prefix_length >= 32)
				return;
			model::Ipv4Interface subnet = *ip;
			subnet.address.value &= subnet.netmask();
			(void)routing.add_route({subnet, std::nullopt, dev, model::RouteScope::link, false});
		};
		connected(h.nic.name, h.nic.ip);
		for (const Bridge &b : h.bridges)
			connected(b.name, b.ip);
		for (const VxlanDevice &v : h.vxlan)
			connected(v.name, v.ip);
	}
	for (const Neighbour &n : h.neighbours)
		routing.add_neighbour(to_model(n));
}

// Every change of the host's routing reaches the fast path as one generation (routing_changed).
void OverlayHost::apply_routing(const Event &event, FastPath &fastpath)
{
	model::Routing &routing = model_.routing();
	switch (event.op) {
	case EventOp::sysctl: {
		model::RoutingSysctls sysctls = routing.sysctls();
		sysctls.ip_forward = event.ip_forward.value_or(sysctls.ip_forward);
		sysctls.rp_filter = event.rp_filter.value_or(sysctls.rp_filter);
		routing.set_sysctls(sysctls);
		break;
	}
	case EventOp::route:
		routing.replace_route(to_model(event.route));
		break;
	case EventOp::route_del:
		if (routing.remove_route(event.route.dst) != model::Error::none)
			refuse(event, to_string(event.route.dst) + " (no such route)");
		break;
	case EventOp::neigh:
		routing.add_neighbour(to_model(event.neighbour));
		break;
	default:
		return;
	}
	fastpath.routing_changed();
}

std::size_t OverlayHost::mtu(const model::Device &device) const
{
	constexpr std::size_t kVxlanOverhead = 50; // outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8
	constexpr std::size_t kDefaultMtu = 1500;
	switch (device.kind) {
	case model::DeviceKind::nic: return scenario_.host.nic.mtu;
	case model::DeviceKind::vxlan: return scenario_.host.nic.mtu - kVxlanOverhead;
	default: return kDefaultMtu;
	}
}

} // namespace econsim::sim
