#include "model/topology.h"

#include <algorithm>

namespace econsim::model {

std::string container_end_name(std::string_view container)
{
	return std::string(container) + "/eth0";
}

const char *to_string(DeviceKind kind)
{
	switch (kind) {
	case DeviceKind::nic: return "nic";
	case DeviceKind::vxlan: return "vxlan";
	case DeviceKind::bridge: return "bridge";
	case DeviceKind::veth_host_end: return "veth";
	case DeviceKind::veth_container_end: return "veth (container end)";
	}
	return "?";
}

Topology::Topology() = default;

Error Topology::add_device(Device device)
{
	if (devices_.contains(device.name))
		return Error::device_exists;
	std::string name = device.name;
	const auto added_at = devices_.emplace(std::move(name), std::move(device)).first;
	const Device &added = added_at->second;
	device_index_.emplace(added_at->first, &added_at->second);
	// Both lists in name order, the order of devices_.
	auto insert_by_name = [&added](std::vector<const Device *> &list) {
		auto by_name = [](const Device *a, const Device *b) { return a->name < b->name; };
		list.insert(std::upper_bound(list.begin(), list.end(), &added, by_name), &added);
	};
	if (added.kind == DeviceKind::vxlan)
		insert_by_name(vxlan_devices_);
	if (added.address)
		insert_by_name(addressed_devices_[added.ns]);
	relink();
	return Error::none;
}

void Topology::relink()
{
	for (auto &[_, dev] : devices_) {
		dev.bridge_device = dev.bridge.empty() ? nullptr : device(dev.bridge);
		dev.bridge_fdb = dev.bridge.empty() ? nullptr : fdb(dev.bridge);
		dev.peer_device = dev.peer.empty() ? nullptr : device(dev.peer);
	}
	auto host = addressed_devices_.find(host_namespace);
	host_addressed_ = host == addressed_devices_.end() ? nullptr : &host->second;
}

void Topology::remove_device(std::string_view name)
{
	auto it = devices_.find(name);
	if (it == devices_.end())
		return;
	if (auto in_namespace = addressed_devices_.find(it->second.ns); in_namespace != addressed_devices_.end()) {
		std::erase(in_namespace->second, &it->second);
		if (in_namespace->second.empty())
			addressed_devices_.erase(in_namespace);
	}
	std::erase(vxlan_devices_, &it->second);
	device_index_.erase(it->first);
	devices_.erase(it);
	relink();
}

Error Topology::add_nic(std::string name, MacAddress mac, Ipv4Interface address)
{
	Device nic{.name = std::move(name), .kind = DeviceKind::nic, .ns = std::string(host_namespace)};
	nic.mac = mac;
	nic.address = address;
	return add_device(std::move(nic));
}

Error Topology::add_bridge(std::string name)
{
	if (devices_.contains(name))
		return Error::device_exists;
	fdbs_.try_emplace(name);
	return add_device(
		Device{.name = std::move(name), .kind = DeviceKind::bridge, .ns = std::string(host_namespace)});
}

Error Topology::add_vxlan(std::string name, std::uint32_t vni, std::uint16_t udp_port, std::string bridge)
{
	const Device *master = device(bridge);
	if (!bridge.empty() && !master)
		return Error::unknown_device;
	if (master && master->kind != DeviceKind::bridge)
		return Error::wrong_device_kind;
	for (const auto &[_, other] : devices_)
		if (other.kind == DeviceKind::vxlan && other.vni == vni && other.udp_port == udp_port)
			return Error::device_exists; // vxlan_vni_in_use: "VNI already exists"
	return add_device(Device{.name = std::move(name),
				 .kind = DeviceKind::vxlan,
				 .ns = std::string(host_namespace),
				 .bridge = std::move(bridge),
				 .vni = vni,
				 .udp_port = udp_port});
}

Error Topology::add_container(std::string name, std::string bridge, std::string veth, MacAddress mac,
			      Ipv4Interface address)
{
	const Device *master = device(bridge);
	if (!bridge.empty() && !master)
		return Error::unknown_device;
	if (master && master->kind != DeviceKind::bridge)
		return Error::wrong_device_kind;
	if (name == host_namespace || containers_.contains(name))
		return Error::device_exists;
	std::string inside = container_end_name(name);
	if (devices_.contains(veth) || devices_.contains(inside) || veth == inside)
		return Error::device_exists;

	Device host_end{.name = veth,
			.kind = DeviceKind::veth_host_end,
			.ns = std::string(host_namespace),
			.bridge = bridge,
			.peer = inside};
	Device container_end{.name = inside, .kind = DeviceKind::veth_container_end, .ns = name, .peer = veth};
	container_end.mac = mac;
	container_end.address = address;
	(void)add_device(std::move(host_end));
	(void)add_device(std::move(container_end));
	Container added{name, std::move(bridge), std::move(veth), std::move(inside), mac, address};
	const auto stored = containers_.emplace(name, std::move(added)).first;
	container_index_.emplace(stored->first, &stored->second);
	return Error::none;
}

Error Topology::set_device_address(std::string_view name, std::optional<MacAddress> mac,
				   std::optional<Ipv4Interface> address)
{
	auto it = devices_.find(name);
	if (it == devices_.end())
		return Error::unknown_device;
	Device device = it->second;
	if (mac)
		device.mac = mac;
	if (address)
		device.address = address;
	remove_device(name); // re-added, so that addressed_devices_ holds it when it has an address
	return add_device(std::move(device));
}

Error Topology::add_static_fdb_entry(std::string_view bridge, const MacAddress &mac, std::string_view port)
{
	BridgeFdb *table = fdb(bridge);
	if (!table || bridge_of(port) != bridge)
		return Error::unknown_device;
	table->add_static(mac, port);
	return Error::none;
}

Error Topology::remove_fdb_entry(std::string_view bridge, const MacAddress &mac)
{
	BridgeFdb *table = fdb(bridge);
	if (!table || !table->remove(mac))
		return Error::unknown_device;
	return Error::none;
}

Error Topology::set_vni(std::string_view vxlan, std::uint32_t vni)
{
	auto it = devices_.find(vxlan);
	if (it == devices_.end())
		return Error::unknown_device;
	if (it->second.kind != DeviceKind::vxlan)
		return Error::wrong_device_kind;
	for (const auto &[name, other] : devices_)
		if (name != vxlan && other.kind == DeviceKind::vxlan && other.vni == vni &&
		    other.udp_port == it->second.udp_port)
			return Error::device_exists; // vxlan_vni_in_use
	it->second.vni = vni;
	return Error::none;
}

Error Topology::remove_container(std::string_view name)
{
	auto it = containers_.find(name);
	if (it == containers_.end())
		return Error::unknown_namespace;
	const Container &c = it->second;
	if (BridgeFdb *table = fdb(c.bridge)) {
		std::vector<MacAddress> on_port;
		for (const auto &[mac, entry] : table->entries())
			if (entry.port == c.host_end)
				on_port.push_back(mac);
		for (const MacAddress &mac : on_port)
			table->remove(mac);
	}
	remove_device(c.host_end);
	remove_device(c.container_end);
	container_index_.erase(it->first);
	containers_.erase(it);
	return Error::none;
}

Error Topology::set_link(std::string_view name, bool up)
{
	auto it = devices_.find(name);
	if (it == devices_.end())
		return Error::unknown_device;
	const std::vector<std::string> forwarding_before = forwarding_ports();
	it->second.admin_up = up;
	for (const std::string &port : forwarding_before)
		if (!bridge_port_forwards(port))
			fdbs_.find(bridge_of(port))->second.forget_learned_on(port);
	return Error::none;
}

const Device *Topology::device(std::string_view name) const
{
	auto it = device_index_.find(name);
	return it == device_index_.end() ? nullptr : it->second;
}

const Container *Topology::container(std::string_view name) const
{
	auto it = container_index_.find(name);
	return it == container_index_.end() ? nullptr : it->second;
}

bool Topology::has_namespace(std::string_view ns) const
{
	return ns == host_namespace || containers_.contains(ns);
}

bool Topology::is_up(std::string_view name) const
{
	const Device *dev = device(name);
	return dev && dev->admin_up;
}

bool Topology::has_carrier(std::string_view name) const
{
	const Device *dev = device(name);
	return dev && has_carrier(*dev);
}

bool Topology::has_carrier(const Device &dev) const
{
	if (!dev.admin_up)
		return false;
	if (dev.kind == DeviceKind::veth_host_end || dev.kind == DeviceKind::veth_container_end)
		return dev.peer_device && dev.peer_device->admin_up; // is_up(dev.peer)
	return true;
}

bool Topology::bridge_port_forwards(std::string_view port) const
{
	const Device *dev = device(port);
	return dev && port_forwards(*dev);
}

bool Topology::port_forwards(const Device &port) const
{
	return port.bridge_device && port.bridge_device->admin_up && has_carrier(port); // is_up(port.bridge)
}

const Device *Topology::vxlan_for(std::uint16_t udp_port, std::uint32_t vni) const
{
	for (const Device *dev : vxlan_devices_)
		if (dev->udp_port == udp_port && dev->vni == vni && dev->admin_up)
			return dev;
	return nullptr;
}

bool Topology::vxlan_port_in_use(std::uint16_t udp_port) const
{
	for (const Device *dev : vxlan_devices_)
		if (dev->udp_port == udp_port && dev->admin_up)
			return true;
	return false;
}

std::string_view Topology::bridge_of(std::string_view port) const
{
	const Device *dev = device(port);
	return dev ? std::string_view(dev->bridge) : std::string_view();
}

std::optional<std::string> Topology::blocked_device_on_path(std::string_view vxlan, std::string_view name) const
{
	for (const auto &[_, dev] : devices_)
		if (dev.kind == DeviceKind::nic && !dev.admin_up)
			return dev.name;
	const Container *target = container(name);
	if (!target)
		return std::string(name);
	if (!is_up(vxlan))
		return std::string(vxlan);
	if (!is_up(target->bridge))
		return target->bridge;
	if (!bridge_port_forwards(vxlan))
		return std::string(vxlan);
	if (!bridge_port_forwards(target->host_end))
		return target->host_end;
	if (!is_up(target->container_end))
		return target->container_end;
	return std::nullopt;
}

std::vector<std::string> Topology::containers_with_address(Ipv4Address address) const
{
	std::vector<std::string> owners;
	for (const auto &[name, c] : containers_)
		if (c.address.address == address)
			owners.push_back(name);
	return owners;
}

// The one interface address a namespace has: the NIC's for "host", eth0's for a container.
const Ipv4Interface *Topology::namespace_address(std::string_view ns) const
{
	for (const auto &[_, dev] : devices_)
		if (dev.ns == ns && dev.address &&
		    (dev.kind == DeviceKind::nic || dev.kind == DeviceKind::veth_container_end))
			return &*dev.address;
	return nullptr;
}

// fib_frontend.c: inet_addr_type_table, with the routes fib_add_ifaddr installs. Every namespace
// is assumed to have lo up (container runtimes bring it up), so 127/8 is local.
AddressType Topology::address_type(std::string_view ns, Ipv4Address address) const
{
	if (address.is_multicast())
		return AddressType::multicast;
	// ipv4_is_lbcast, ipv4_is_zeronet (which in 6.1 is 0.0.0.0 only: the rest of 0/8 is unicast)
	if (address.is_limited_broadcast() || address.is_any())
		return AddressType::broadcast;
	if (address.is_loopback())
		return AddressType::local;
	// The host's namespace without a hash: most frames ask about it (ip_rcv, the VXLAN port's lookup).
	const std::vector<const Device *> *addressed = host_addressed_;
	if (ns != host_namespace) {
		auto in_namespace = addressed_devices_.find(ns);
		addressed = in_namespace == addressed_devices_.end() ? nullptr : &in_namespace->second;
	}
	if (!addressed)
		return AddressType::remote;
	for (const Device *dev : *addressed) {
		// The local route is added with the address, whether the device is up or not; the subnet
		// broadcast route only while it is up, and only for prefixes shorter than /31.
		if (dev->address->address == address)
			return AddressType::local;
		if (dev->admin_up && dev->address->prefix_length < 31 && dev->address->subnet_broadcast() == address)
			return AddressType::broadcast;
	}
	return AddressType::remote;
}

// route.c: ip_route_connect → ip_route_output_key → fib_select_default/inet_select_addr. The model
// gives each namespace one interface and a default route through it, so the source is that
// interface's address, or 127.0.0.1 towards loopback.
Ipv4Address Topology::source_address_for(std::string_view ns, Ipv4Address peer) const
{
	if (peer.is_loopback())
		return loopback_address;
	if (address_type(ns, peer) == AddressType::local)
		return peer;
	const Ipv4Interface *own = namespace_address(ns);
	return own ? own->address : loopback_address;
}

std::vector<std::string> Topology::forwarding_ports() const
{
	std::vector<std::string> ports;
	for (const auto &[name, dev] : devices_)
		if (!dev.bridge.empty() && bridge_port_forwards(name))
			ports.push_back(name);
	return ports;
}

// The bridge sent the frame out of `egress`: who took it. No receiver is `no_receiver`, unless the
// one port's container end said why (down, another MAC).
void Topology::receive_on_ports(const std::vector<const Device *> &egress, const MacAddress &destination,
				InnerFrameResult &result) const
{
	for (const Device *port : egress)
		receive_on_container_end(port, destination, result);
	if (!result.receivers.empty())
		result.drop_reason.clear();
	else if (result.drop_reason.empty() || egress.size() != 1)
		result.drop_reason = "no_receiver";
}

// veth.c: veth_xmit → __dev_forward_skb refuses a peer that is down (is_skb_forwardable); then
// eth_type_trans on the container's eth0 marks a frame for another MAC PACKET_OTHERHOST, which
// ip_rcv drops.
void Topology::receive_on_container_end(const Device *end, const MacAddress &destination,
					InnerFrameResult &result) const
{
	if (!end || end->kind != DeviceKind::veth_host_end)
		return; // another VXLAN device on the bridge: the copy leaves the host
	const Device *inside = end->peer_device;
	if (!inside->admin_up) {
		result.explain([&](std::string &text) { text += ", " + inside->name + " down"; });
		result.drop_reason = "device_down";
		return;
	}
	if (destination.is_multicast() || inside->mac == destination) {
		result.receivers.push_back(inside->ns);
		result.explain([&](std::string &text) { text += ", " + inside->name + " takes it"; });
		return;
	}
	result.explain([&](std::string &text) { text += ", " + inside->name + " ignores it (PACKET_OTHERHOST)"; });
	result.drop_reason = "other_host";
}

// The result of the last call, emptied for the next, its buffers kept: a frame allocates nothing
// once the receivers and the egress ports have been as many as they will be.
InnerFrameResult &Topology::fresh_result(bool explain) const
{
	result_.receivers.clear();
	result_.drop_reason.clear();
	result_.explanation.clear();
	result_.explaining = explain;
	result_.fdb_changed = false;
	result_.flooded = false;
	egress_.clear();
	return result_;
}

const InnerFrameResult &Topology::deliver_inner_frame(std::string_view vxlan, const MacAddress &source,
						      const MacAddress &destination, double now, bool explain)
{
	InnerFrameResult &result = fresh_result(explain);
	const Device *ingress = device(vxlan);
	auto drop = [&result](const char *reason, auto &&why) -> const InnerFrameResult & {
		result.drop_reason = reason;
		result.explain([&](std::string &text) { text = why(); });
		return result;
	};
	if (!ingress || ingress->kind != DeviceKind::vxlan)
		return drop("unknown_device", [&] { return "no VXLAN device " + std::string(vxlan); });
	if (!ingress->admin_up)
		return drop("device_down", [&] { return ingress->name + " is down"; });
	if (ingress->bridge.empty())
		return drop("no_bridge", [&] { return ingress->name + " is not a bridge port"; });
	if (!port_forwards(*ingress))
		return drop("bridge_port_disabled", [&] {
			return "bridge " + ingress->bridge + ": port " + ingress->name +
			       " does not forward (br_handle_frame_finish)";
		});
	// br_input.c: br_handle_frame drops a frame whose source is not a valid unicast MAC.
	if (source.is_multicast() || source == MacAddress{})
		return drop("invalid_source_mac", [&] {
			return "bridge " + ingress->bridge + ": source " + to_string(source) +
			       " is not a unicast MAC (br_handle_frame)";
		});

	BridgeFdb &table = *ingress->bridge_fdb;
	result.fdb_changed = table.learn(source, vxlan, now); // br_fdb_update, before forwarding
	result.explain([&](std::string &text) {
		text = "bridge " + ingress->bridge + ": learned " + to_string(source) + " on " + ingress->name;
	});

	const bool unicast = !destination.is_multicast();
	const std::optional<std::string_view> known = unicast ? table.lookup(destination, now) : std::nullopt;
	if (known) {
		result.explain([&](std::string &text) {
			text += "; fdb " + to_string(destination) + " -> " + std::string(*known) + " (br_fdb_find_rcu)";
		});
		// br_forward.c: should_deliver: not back out of the port it came in on (no hairpin mode),
		// and only to a port that forwards.
		if (*known == vxlan) {
			result.drop_reason = "fdb_same_port";
			result.explain(
				[](std::string &text) { text += ", the ingress port: dropped (should_deliver)"; });
			return result;
		}
		const Device *port = device(*known);
		if (!port || !port_forwards(*port)) { // bridge_port_forwards(*known)
			result.drop_reason = "bridge_port_disabled";
			result.explain([](std::string &text) { text += ", which does not forward"; });
			return result;
		}
		egress_.push_back(port);
	} else {
		result.explain([&](std::string &text) {
			text += unicast ? "; " + to_string(destination) + " unknown: flood (br_flood)"
					: "; broadcast/multicast: flood (br_flood)";
		});
		result.flooded = unicast;
		for (const auto &[name, dev] : devices_)
			if (dev.bridge == ingress->bridge && name != vxlan && port_forwards(dev))
				egress_.push_back(&dev);
	}
	receive_on_ports(egress_, destination, result);
	return result;
}

// br_device.c: br_dev_xmit looks the destination up (br_fdb_find_rcu) and forwards or floods
// without learning: the bridge itself is the sender. should_deliver's ingress-port rule does not
// apply (the frame came from the bridge's own stack).
const InnerFrameResult &Topology::bridge_transmit(std::string_view bridge, const MacAddress &destination, double now,
						  bool explain) const
{
	InnerFrameResult &result = fresh_result(explain);
	const BridgeFdb *table = fdb(bridge);
	if (!table || !is_up(bridge)) {
		result.drop_reason = "device_down";
		result.explain([&](std::string &text) { text = std::string(bridge) + " is down"; });
		return result;
	}
	const std::optional<std::string_view> known =
		destination.is_multicast() ? std::nullopt : table->lookup(destination, now);
	if (known) {
		result.explain([&](std::string &text) {
			text = "bridge " + std::string(bridge) + ": fdb " + to_string(destination) + " -> " +
			       std::string(*known) + " (br_fdb_find_rcu)";
		});
		const Device *port = device(*known);
		if (!port || !port_forwards(*port)) { // bridge_port_forwards(*known)
			result.drop_reason = "bridge_port_disabled";
			result.explain([](std::string &text) { text += ", which does not forward"; });
			return result;
		}
		egress_.push_back(port);
	} else {
		result.explain([&](std::string &text) {
			text = "bridge " + std::string(bridge) + ": " + to_string(destination) +
			       " unknown: flood (br_flood)";
		});
		result.flooded = !destination.is_multicast();
		for (const auto &[_, dev] : devices_)
			if (dev.bridge == bridge && port_forwards(dev))
				egress_.push_back(&dev);
	}
	receive_on_ports(egress_, destination, result);
	return result;
}

// veth.c: veth_xmit needs the host end up with carrier (the peer up), then the container's eth0
// takes its own MAC (eth_type_trans).
const InnerFrameResult &Topology::veth_transmit(std::string_view host_end, const MacAddress &destination,
						bool explain) const
{
	InnerFrameResult &result = fresh_result(explain);
	if (!has_carrier(host_end)) {
		result.drop_reason = "device_down";
		result.explain([&](std::string &text) { text = std::string(host_end) + " is down or has no carrier"; });
		return result;
	}
	result.explain([&](std::string &text) { text = std::string(host_end); });
	receive_on_container_end(device(host_end), destination, result);
	return result;
}

// br_input.c: br_handle_frame_finish drops a frame from a port in BR_STATE_DISABLED before it
// learns; a port that forwards has BR_LEARNING (the default) and learns with br_fdb_update, which
// moves every entry but BR_FDB_LOCAL and BR_FDB_STICKY ones, static entries included.
bool Topology::learn_sent_frame(std::string_view name, double now)
{
	const Container *sender = container(name);
	const Device *port = sender ? device(sender->host_end) : nullptr;
	if (!port || !port_forwards(*port)) // bridge_port_forwards(sender->host_end)
		return false;
	return port->bridge_fdb->learn(sender->mac, sender->host_end, now);
}

const BridgeFdb *Topology::fdb(std::string_view bridge) const
{
	auto it = fdbs_.find(bridge);
	return it == fdbs_.end() ? nullptr : &it->second;
}

BridgeFdb *Topology::fdb(std::string_view bridge)
{
	auto it = fdbs_.find(bridge);
	return it == fdbs_.end() ? nullptr : &it->second;
}

} // namespace econsim::model
