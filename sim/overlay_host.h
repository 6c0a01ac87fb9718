// The receiving host of a replay: the model's devices and sockets built from the scenario, the
// numbers the kernel would give them (namespace ids, ifindexes, socket cookies), and the
// scenario's timeline applied in time order.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "fastpath.h"
#include "model/host.h"
#include "model/ip_defrag.h"
#include "model/name_hash.h"
#include "scenario.h"

namespace econsim::sim {

class OverlayHost {
public:
	// Throws ScenarioError when the model refuses the host (a name twice, an unknown bridge).
	explicit OverlayHost(const Scenario &scenario);

	// Apply every event with t <= now_ns not applied yet; tells the fast path what changed.
	// Throws ScenarioError (file:line) for an event the kernel would refuse.
	// A frame asks before every arrival, and most find nothing due: that answer is inline.
	void apply_events_until(std::int64_t now_ns, FastPath &fastpath)
	{
		if (next_event_ < scenario_.events.size() && scenario_.events[next_event_].t_ns <= now_ns)
			apply_events_due(now_ns, fastpath);
	}
	void apply_remaining_events(FastPath &fastpath);
	// The bridges' FDB ageing due by now_ns (br_fdb_cleanup): an entry deleted is an FDB event for
	// the fast path, as fdb_notify makes it for the kernel's. A frame asks before its arrival:
	// nothing is looked at before the earliest time an entry can expire.
	void age_fdb_entries(std::int64_t now_ns, FastPath &fastpath)
	{
		const double now = static_cast<double>(now_ns) * 1e-9; // the FDB's clock (model/bridge_fdb.h)
		// An entry a frame learns expires ageing time after it, later than the next sweep unless
		// the capture's clock stepped back past the last one.
		if (now < fdb_swept_)
			next_fdb_sweep_ = std::min(next_fdb_sweep_, now + model::BridgeFdb::default_ageing_seconds);
		if (now >= next_fdb_sweep_)
			sweep_fdb_entries(now, fastpath);
	}

	const Scenario &scenario() const { return scenario_; }
	model::Host &model() { return model_; }
	const model::Host &model() const { return model_; }

	// The numbers the kernel would give: net->ns.inum, dev->ifindex, sock_gen_cookie(). From an id
	// back to a name is an index; from a name to an id a hash lookup. The host's namespace is
	// kHostNetnsId (scenario.h), the containers' follow it.
	std::uint32_t netns_id(std::string_view ns) const;
	const std::string &namespace_name(std::uint32_t netns_id) const;
	fpmap_dev device_id(std::string_view device) const;
	std::uint64_t socket_cookie(std::string_view socket) const; // 0: never created
	const std::string &socket_name(std::uint64_t cookie) const
	{
		static const std::string unknown = "?";
		return cookie != 0 && cookie < socket_names_.size() ? socket_names_[cookie] : unknown;
	}
	bool socket_open(std::uint64_t cookie) const;
	// The UDP socket the model holds under a cookie's name (null: none, or not UDP), for a fast
	// path's cached answer. Only events create and close UDP sockets, so it is indexed after each
	// batch of them (index_udp_senders).
	const model::Socket *udp_socket(std::uint64_t cookie) const
	{
		return cookie < udp_sockets_.size() ? udp_sockets_[cookie] : nullptr;
	}
	// What a fast-path hit asks for per frame, by id or by the device the model answered with:
	// the container of a namespace id (null: none, or gone), and a VXLAN device's id (device_id of
	// its name). Indexed after every batch of events, so no frame hashes a name for them.
	const model::Container *container(std::uint32_t netns_id) const
	{
		return netns_id < containers_.size() ? containers_[netns_id] : nullptr;
	}
	fpmap_dev vxlan_id(const model::Device &vxlan) const;
	// The model's VXLAN device of that id (null: none), valid until the next event.
	const model::Device *vxlan_device(const fpmap_dev &id) const
	{
		for (const auto &[dev, dev_id] : vxlan_ids_)
			if (dev_id.netns == id.netns && dev_id.ifindex == id.ifindex)
				return dev;
		return nullptr;
	}
	// What the fixed fast path asks of the host before its lookup, in one call: the VXLAN device
	// up for the frame's UDP port and VNI as Topology::vxlan_for answers (null: none, and the slow
	// path drops the frame), its id, which the lookup's bucket hash binds, and whether vxlan_snoop
	// would learn from the frame (the inner source MAC new, or behind another VTEP or underlay
	// MAC), which a hit cannot stand in for. `f` is a VXLAN frame with an inner source MAC.
	struct VxlanForLookup {
		const model::Device *device = nullptr;
		fpmap_dev id{};
		bool snoop_would_learn = false;
	};
	VxlanForLookup vxlan_for_lookup(const ParsedFrame &f) const;
	// The NIC's device in the model (null: none), which every received frame checks is up.
	const model::Device *nic() const { return nic_; }

	// The sockets an accepted TCP connection adds (the model names them) get their cookie here.
	std::uint64_t adopt_socket(const std::string &name);
	// A TCP child the model reset or that a close removed.
	void forget_socket(const std::string &name, FastPath &fastpath);

	std::uint64_t events_applied() const { return next_event_; }
	// Whether the host routes decapsulated frames (a VXLAN device with no bridge).
	bool routed() const { return routed_; }
	// A host device's MTU: the NIC's from the scenario, a VXLAN device's 50 bytes less
	// (vxlan_config_apply), 1500 for the rest (the scenario gives bridges and veths none).
	std::size_t mtu(const model::Device &device) const;

	// The UDP socket a container's datagram from `port` to `peer` left by, as its cookie: the one
	// connected to that peer, else the first unconnected one bound to the port (by name). Only
	// events open, bind, connect and close UDP sockets, so the index is rebuilt after each; 0: none.
	std::uint64_t udp_sender(std::uint32_t netns_id, std::uint16_t port, const model::Endpoint &peer) const;

	// vxlan_snoop: a received frame teaches its VXLAN device (by ifindex) where the inner source
	// MAC lives (the remote VTEP, and the underlay neighbour's MAC). True when that changed what
	// was known.
	struct RemoteVtep {
		Ipv4Address ip;
		std::optional<MacAddress> mac;
	};
	bool learn_remote(int vxlan, const MacAddress &inner_src, const RemoteVtep &vtep);
	// Whether a VXLAN device (by ifindex) learns: false for the scenario's `learning: false`
	// (`nolearning`), where vxlan_rcv runs no vxlan_snoop and only the static entries say where a
	// MAC lives.
	bool learns(int vxlan) const
	{
		return std::find(nolearning_.begin(), nolearning_.end(), vxlan) == nolearning_.end();
	}
	const RemoteVtep *remote(int vxlan, const MacAddress &inner_dst) const; // valid until learn_remote

	// udp_flow_src_port: the outer source port the VXLAN device picked for an inner flow (any IP
	// protocol; ports 0 when it has none), first time seen. Returns the port seen before, or
	// nullopt (and remembers this one) for a new flow.
	struct InnerFlow {
		int vxlan; // ifindex
		std::uint8_t ip_protocol;
		model::Endpoint source;
		model::Endpoint destination;
		auto operator<=>(const InnerFlow &) const = default;
	};
	std::optional<std::uint16_t> outer_source_port(const InnerFlow &flow, std::uint16_t port);

	// The IPv4 reassembly queues of every namespace (each namespace's fqdir).
	model::IpDefrag &defrag() { return defrag_; }
	const model::IpDefrag &defrag() const { return defrag_; }

private:
	void apply_events_due(std::int64_t now_ns, FastPath &fastpath); // at least one is
	void build_devices();
	void build_routing(); // overlay_host_routing.cpp
	void seed_static_remotes();
	void apply_routing(const Event &event, FastPath &fastpath); // sysctl, route, route_del, neigh
	void index_udp_senders();
	void index_devices();
	void apply(const Event &event, FastPath &fastpath);
	void sweep_fdb_entries(double now, FastPath &fastpath);
	[[noreturn]] void refuse(const Event &event, const std::string &what) const;
	void close_socket(const Event &event, const std::string &name, FastPath &fastpath);
	std::uint16_t local_port(std::string_view socket) const;

	// A transmitted frame asks for its socket's cookie and namespace's id by name: flat, one probe.
	template <class Id> using ByName = absl::flat_hash_map<std::string, Id, model::NameHash, std::equal_to<>>;

	const Scenario &scenario_;
	model::Host model_;
	ByName<std::uint32_t> netns_ids_;
	std::vector<std::string> netns_names_;   // by netns id
	ByName<fpmap_dev> devices_;
	ByName<std::uint64_t> cookies_;
	std::vector<std::string> socket_names_;  // by cookie
	std::vector<bool> socket_open_;          // by cookie
	std::vector<const model::Socket *> udp_sockets_; // by cookie (index_udp_senders)
	std::vector<const model::Container *> containers_;                   // by netns id (index_devices)
	std::vector<std::pair<const model::Device *, fpmap_dev>> vxlan_ids_; // every VXLAN device
	// The VXLAN devices that are up, in vxlan_for's order, with their ids and whether they learn.
	struct VxlanUp {
		const model::Device *device;
		fpmap_dev id;
		bool learns;
	};
	std::vector<VxlanUp> vxlan_up_;
	const model::Device *nic_ = nullptr;                                 // (index_devices)
	// Per frame: hashed, one probe each (a tree of 10K flows is a dozen cache misses), in flat
	// tables: a std::unordered_map's probe is three dependent misses (bucket, node before, node),
	// which bench's 10K flows made a tenth of a fixed-mode replay.
	struct DeviceMac {
		int device;
		MacAddress mac;
		bool operator==(const DeviceMac &) const = default;
	};
	struct DeviceMacHash {
		std::size_t operator()(const DeviceMac &key) const;
	};
	struct InnerFlowHash {
		std::size_t operator()(const InnerFlow &flow) const;
	};
	// The UDP sockets holding each (netns id, port), by name, with their cookies. Valid until the
	// next event: the index is rebuilt after each batch, keeping each list's capacity so that an
	// event allocates no list.
	struct UdpSender {
		const model::Socket *socket;
		std::uint64_t cookie;
	};
	absl::flat_hash_map<std::pair<std::uint32_t, std::uint16_t>, std::vector<UdpSender>> udp_senders_;
	absl::flat_hash_map<DeviceMac, RemoteVtep, DeviceMacHash> remotes_;
	std::vector<int> nolearning_; // ifindexes of the VXLAN devices that do not learn (few)
	absl::flat_hash_map<InnerFlow, std::uint16_t, InnerFlowHash> outer_source_ports_;
	model::IpDefrag defrag_;
	bool routed_ = false; // a VXLAN device with no bridge: the host routes (build_routing)
	std::uint64_t next_cookie_ = 1;
	std::size_t next_event_ = 0;
	double fdb_swept_ = 0;      // seconds: the last sweep (age_fdb_entries)
	double next_fdb_sweep_ = 0; // no learned entry expires before this
};

} // namespace econsim::sim
