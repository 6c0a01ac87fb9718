#include "overlay_host.h"

#include <stdexcept>

#include "model/topology.h"

namespace econsim::sim {

namespace {

model::Protocol to_model(SocketProto proto)
{
	return proto == SocketProto::udp ? model::Protocol::udp : model::Protocol::tcp;
}

} // namespace

OverlayHost::OverlayHost(const Scenario &scenario) : scenario_(scenario)
{
	// The host's namespace first, then each container's in the scenario's order; a name given
	// twice keeps its first id (the model refuses the second container).
	netns_names_.resize(kHostNetnsId);
	auto number = [&](const std::string &name) {
		if (netns_ids_.emplace(name, static_cast<std::uint32_t>(netns_names_.size())).second)
			netns_names_.push_back(name);
	};
	number(std::string(kHostNamespace));
	for (const Container &c : scenario.host.containers)
		number(c.name);
	socket_names_.resize(next_cookie_);
	socket_open_.resize(next_cookie_);
	build_devices();
	build_routing();
	if (scenario.host.netfilter)
		model_.set_netfilter(*scenario.host.netfilter);
	seed_static_remotes();
	index_udp_senders();
	index_devices();
}

// A device that does not learn knows its remotes from its static FDB only: the bridge entries
// whose port it is (their `dst`, as traces/record installs them) and its own entries. What the
// transmit checks compare a frame's outer destination with; no underlay MAC is known.
void OverlayHost::seed_static_remotes()
{
	const Host &h = scenario_.host;
	for (const VxlanDevice &v : h.vxlan) {
		if (v.learning)
			continue;
		const int ifindex = device_id(v.name).ifindex;
		nolearning_.push_back(ifindex);
		for (const VxlanFdbEntry &entry : v.fdb)
			remotes_.insert_or_assign({ifindex, entry.mac}, RemoteVtep{entry.dst, std::nullopt});
		for (const Bridge &bridge : h.bridges)
			for (const FdbEntry &entry : bridge.fdb)
				if (entry.port == v.name && entry.dst)
					remotes_.insert_or_assign({ifindex, entry.mac}, RemoteVtep{*entry.dst, std::nullopt});
	}
}

void OverlayHost::build_devices()
{
	const Host &h = scenario_.host;
	auto check = [&](model::Error error, int line, const std::string &what) {
		if (error != model::Error::none)
			throw ScenarioError(scenario_.file, line, what + ": " + model::to_string(error));
	};
	// ifindexes as the kernel hands them out: one counter per namespace, lo is 1.
	std::map<std::uint32_t, int> next_ifindex;
	auto number = [&](const std::string &device, std::string_view ns) {
		std::uint32_t netns = netns_id(ns);
		auto [it, fresh] = next_ifindex.emplace(netns, 2);
		devices_[device] = fpmap_dev{netns, it->second++};
		(void)fresh;
	};

	check(model_.add_nic(h.nic.name, h.nic.mac, h.nic.ip), h.nic.line, "nic " + h.nic.name);
	number(h.nic.name, kHostNamespace);
	for (const Bridge &b : h.bridges) {
		check(model_.add_bridge(b.name), b.line, "bridge " + b.name);
		number(b.name, kHostNamespace);
	}
	for (const VxlanDevice &v : h.vxlan) {
		check(model_.add_vxlan(v.name, v.vni, v.port, v.bridge), v.line, "vxlan " + v.name);
		number(v.name, kHostNamespace);
	}
	for (const Container &c : h.containers) {
		check(model_.add_container(c.name, c.bridge, c.veth, c.mac, c.ip), c.line,
		      "container " + c.name);
		number(c.veth, kHostNamespace);
		number(model::container_end_name(c.name), c.name);
	}
	for (const Bridge &b : h.bridges)
		for (const FdbEntry &e : b.fdb)
			check(model_.topology().add_static_fdb_entry(b.name, e.mac, e.port), e.line,
			      "fdb entry on " + b.name);
}

std::uint32_t OverlayHost::netns_id(std::string_view ns) const
{
	auto it = netns_ids_.find(ns);
	if (it == netns_ids_.end())
		throw std::logic_error("no namespace " + std::string(ns));
	return it->second;
}

const std::string &OverlayHost::namespace_name(std::uint32_t netns_id) const
{
	static const std::string unknown;
	return netns_id < netns_names_.size() ? netns_names_[netns_id] : unknown;
}

fpmap_dev OverlayHost::device_id(std::string_view device) const
{
	auto it = devices_.find(device);
	if (it == devices_.end())
		throw std::logic_error("no device " + std::string(device));
	return it->second;
}

std::uint64_t OverlayHost::socket_cookie(std::string_view socket) const
{
	auto it = cookies_.find(socket);
	return it == cookies_.end() ? 0 : it->second;
}

bool OverlayHost::socket_open(std::uint64_t cookie) const
{
	return cookie < socket_open_.size() && socket_open_[cookie];
}

std::uint64_t OverlayHost::adopt_socket(const std::string &name)
{
	if (auto known = socket_cookie(name))
		return known;
	std::uint64_t cookie = next_cookie_++;
	cookies_.emplace(name, cookie);
	socket_names_.push_back(name);
	socket_open_.push_back(true);
	return cookie;
}

void OverlayHost::forget_socket(const std::string &name, FastPath &fastpath)
{
	std::uint64_t cookie = socket_cookie(name);
	if (!cookie || !socket_open_[cookie])
		return;
	socket_open_[cookie] = false;
	fastpath.socket_closed(cookie);
}

namespace {

// A 64-bit mix (splitmix64's finaliser), so that nearby addresses and ports spread over buckets.
std::size_t mix(std::uint64_t h)
{
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	return static_cast<std::size_t>(h ^ (h >> 31));
}

} // namespace

std::size_t OverlayHost::DeviceMacHash::operator()(const DeviceMac &key) const
{
	std::uint64_t h = static_cast<std::uint32_t>(key.device);
	for (std::uint8_t b : key.mac.bytes)
		h = h << 8 | b;
	return mix(h);
}

std::size_t OverlayHost::InnerFlowHash::operator()(const InnerFlow &flow) const
{
	std::uint64_t addresses = std::uint64_t{flow.source.address.value} << 32 | flow.destination.address.value;
	std::uint64_t rest = std::uint64_t{flow.source.port} << 40 | std::uint64_t{flow.destination.port} << 24 |
			     std::uint64_t{flow.ip_protocol} << 16 | static_cast<std::uint16_t>(flow.vxlan);
	return mix(addresses ^ mix(rest));
}

bool OverlayHost::learn_remote(int vxlan, const MacAddress &inner_src, const RemoteVtep &vtep)
{
	auto [it, fresh] = remotes_.try_emplace({vxlan, inner_src}, vtep);
	if (fresh)
		return true;
	bool changed = it->second.ip != vtep.ip || it->second.mac != vtep.mac;
	it->second = vtep;
	return changed;
}

const OverlayHost::RemoteVtep *OverlayHost::remote(int vxlan, const MacAddress &inner_dst) const
{
	auto it = remotes_.find({vxlan, inner_dst});
	return it == remotes_.end() ? nullptr : &it->second;
}

std::optional<std::uint16_t> OverlayHost::outer_source_port(const InnerFlow &flow, std::uint16_t port)
{
	auto [it, fresh] = outer_source_ports_.try_emplace(flow, port);
	if (fresh)
		return std::nullopt;
	return it->second;
}

void OverlayHost::apply_events_due(std::int64_t now_ns, FastPath &fastpath)
{
	const auto &events = scenario_.events;
	while (next_event_ < events.size() && events[next_event_].t_ns <= now_ns)
		apply(events[next_event_++], fastpath);
	index_udp_senders();
	index_devices();
}

void OverlayHost::apply_remaining_events(FastPath &fastpath)
{
	const auto &events = scenario_.events;
	while (next_event_ < events.size())
		apply(events[next_event_++], fastpath);
	index_udp_senders();
	index_devices();
}

void OverlayHost::sweep_fdb_entries(double now, FastPath &fastpath)
{
	next_fdb_sweep_ = model_.topology().expire_fdb_entries(now, [&](std::string_view bridge) {
		fastpath.device_changed(device_id(bridge), FPMAP_EV_FDB_CHANGE);
	});
	fdb_swept_ = now;
}

// Events add and remove containers and devices (netns exit, VNI changes), and the model's
// pointers go with them: the indexes are rebuilt from the names, as a lookup by name would answer.
void OverlayHost::index_devices()
{
	const model::Topology &topology = model_.topology();
	containers_.assign(netns_names_.size(), nullptr);
	for (std::size_t id = 0; id < netns_names_.size(); id++)
		containers_[id] = topology.container(netns_names_[id]);
	nic_ = topology.device(scenario_.host.nic.name);
	vxlan_ids_.clear();
	for (const VxlanDevice &v : scenario_.host.vxlan)
		if (const model::Device *dev = topology.device(v.name))
			vxlan_ids_.emplace_back(dev, device_id(v.name));
	vxlan_up_.clear();
	for (const model::Device *dev : topology.vxlan_devices())
		if (dev->admin_up) {
			const fpmap_dev id = vxlan_id(*dev);
			vxlan_up_.push_back({dev, id, learns(id.ifindex)});
		}
}

OverlayHost::VxlanForLookup OverlayHost::vxlan_for_lookup(const ParsedFrame &f) const
{
	for (const VxlanUp &up : vxlan_up_) {
		if (up.device->udp_port != f.outer_l4->dst_port || up.device->vni != f.vxlan->vni)
			continue;
		bool would_learn = false;
		if (f.link && up.learns) {
			const RemoteVtep *vtep = remote(up.id.ifindex, *f.inner_eth->src);
			would_learn = !vtep || vtep->ip != f.outer_ip->src || vtep->mac != f.link->src;
		}
		return {up.device, up.id, would_learn};
	}
	return {};
}

fpmap_dev OverlayHost::vxlan_id(const model::Device &vxlan) const
{
	for (const auto &[dev, id] : vxlan_ids_)
		if (dev == &vxlan)
			return id;
	return device_id(vxlan.name);
}

void OverlayHost::index_udp_senders()
{
	for (auto &[_, senders] : udp_senders_)
		senders.clear();
	udp_sockets_.assign(socket_names_.size(), nullptr);
	model_.sockets().for_each([this](const model::Socket &s) { // by name
		if (s.protocol != model::Protocol::udp)
			return;
		const std::uint64_t cookie = socket_cookie(s.name);
		if (s.port)
			udp_senders_[{netns_id(s.ns), s.port}].push_back({&s, cookie});
		if (cookie != 0 && cookie < udp_sockets_.size())
			udp_sockets_[cookie] = &s;
	});
}

std::uint64_t OverlayHost::udp_sender(std::uint32_t netns_id, std::uint16_t port, const model::Endpoint &peer) const
{
	auto it = udp_senders_.find({netns_id, port});
	if (it == udp_senders_.end())
		return 0;
	std::uint64_t unconnected = 0;
	for (const auto &[s, cookie] : it->second) {
		if (s->peer && *s->peer == peer)
			return cookie;
		if (!s->peer && !unconnected)
			unconnected = cookie;
	}
	return unconnected;
}

void OverlayHost::refuse(const Event &event, const std::string &what) const
{
	throw ScenarioError(scenario_.file, event.line,
			    std::string(to_string(event.op)) + " " + what + ": the kernel would refuse it");
}

std::uint16_t OverlayHost::local_port(std::string_view socket) const
{
	const model::Socket *s = model_.sockets().find(socket);
	return s ? s->port : 0;
}

void OverlayHost::close_socket(const Event &event, const std::string &name, FastPath &fastpath)
{
	auto &sockets = model_.sockets();
	const model::Socket *s = sockets.find(name);
	bool in_group = s && s->reuseport_group.has_value();
	std::string ns = s ? s->ns : std::string();
	model::Protocol protocol = s ? s->protocol : model::Protocol::udp;
	std::uint16_t port = s ? s->port : 0;
	if (auto error = sockets.close(name); error != model::Error::none)
		refuse(event, name + " (" + model::to_string(error) + ")");
	forget_socket(name, fastpath);
	// A reuseport group that loses a member spreads its flows anew (reuseport_select_sock_by_hash).
	if (in_group)
		fastpath.socket_rebound(netns_id(ns), protocol, port);
}

void OverlayHost::apply(const Event &event, FastPath &fastpath)
{
	auto &sockets = model_.sockets();
	auto rebound = [&](const std::string &name) {
		const model::Socket *s = sockets.find(name);
		if (s && s->port)
			fastpath.socket_rebound(netns_id(s->ns), s->protocol, s->port);
	};
	auto must = [&](model::Error error, const std::string &what) {
		if (error != model::Error::none)
			refuse(event, what + " (" + model::to_string(error) + ")");
	};

	switch (event.op) {
	case EventOp::socket:
		must(sockets.create(event.sock, event.ns, to_model(event.proto)), event.sock);
		adopt_socket(event.sock);
		break;
	case EventOp::bind:
		must(sockets.bind(event.sock, event.addr, {event.reuseaddr, event.reuseport}),
		     event.sock + " to " + to_string(event.addr));
		rebound(event.sock);
		break;
	case EventOp::connect: {
		// A disconnect gives back what bind did not name: tell the map about the port it had.
		std::uint16_t port_before = local_port(event.sock);
		const model::Socket *s = sockets.find(event.sock);
		std::string ns = s ? s->ns : std::string();
		model::Protocol protocol = s ? s->protocol : model::Protocol::udp;
		must(sockets.connect(event.sock, event.peer), event.sock + " to " + to_string(event.peer));
		if (port_before)
			fastpath.socket_rebound(netns_id(ns), protocol, port_before);
		rebound(event.sock);
		break;
	}
	case EventOp::listen:
		must(sockets.listen(event.sock, event.backlog), event.sock);
		rebound(event.sock);
		break;
	case EventOp::close:
		close_socket(event, event.sock, fastpath);
		break;
	case EventOp::link: {
		const model::Device *before = model_.topology().device(event.dev);
		const bool changes = before && before->admin_up != event.up; // a no-op sends no NETDEV_UP/DOWN
		must(model_.set_link(event.dev, event.up), event.dev);
		// A device going down or up can only take deliveries away from flows that crossed it
		// or give them to flows that were dropped (never cached): down is what invalidates.
		if (!event.up)
			fastpath.device_changed(device_id(event.dev), FPMAP_EV_DEV_DOWN);
		if (routed_ && device_id(event.dev).netns == kHostNetnsId) {
			// fib_disable_ip deletes its routes and neighbours; up brings back its subnet only.
			const model::Device *d = model_.topology().device(event.dev);
			if (d && changes && !event.up)
				model_.routing().device_down(event.dev, d->kind == model::DeviceKind::nic);
			else if (d && changes)
				model_.routing().device_up(event.dev, d->address);
			fastpath.routing_changed();
		}
		break;
	}
	case EventOp::flush:
		fastpath.flush(event.t_ns);
		break;
	case EventOp::fdb:
		must(model_.topology().add_static_fdb_entry(event.bridge, event.mac, event.port),
		     "on " + event.bridge);
		fastpath.device_changed(device_id(event.bridge), FPMAP_EV_FDB_CHANGE);
		break;
	case EventOp::fdb_del:
		must(model_.topology().remove_fdb_entry(event.bridge, event.mac), "on " + event.bridge);
		fastpath.device_changed(device_id(event.bridge), FPMAP_EV_FDB_CHANGE);
		break;
	case EventOp::vni:
		must(model_.set_vni(event.dev, event.vni), event.dev);
		fastpath.device_changed(device_id(event.dev), FPMAP_EV_VNI_CHANGE);
		break;
	case EventOp::netns_del: {
		std::vector<std::string> in_namespace;
		for (const model::Socket *s : sockets.all())
			if (s->ns == event.ns)
				in_namespace.push_back(s->name);
		for (const std::string &name : in_namespace)
			close_socket(event, name, fastpath);
		const model::Container *c = model_.topology().container(event.ns);
		if (!c)
			refuse(event, event.ns + " (no such container)");
		fpmap_dev host_end = device_id(c->host_end);
		fpmap_dev container_end = device_id(c->container_end);
		must(model_.delete_container(event.ns), event.ns);
		fastpath.device_changed(host_end, FPMAP_EV_DEV_DELETE);
		fastpath.device_changed(container_end, FPMAP_EV_DEV_DELETE);
		fastpath.netns_exit(netns_id(event.ns));
		defrag_.forget_namespace(event.ns);
		break;
	}
	case EventOp::sysctl:
	case EventOp::route:
	case EventOp::route_del:
	case EventOp::neigh:
		apply_routing(event, fastpath);
		break;
	}
}

} // namespace econsim::sim
