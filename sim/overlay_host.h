// The receiving host of a replay: the model's devices and sockets built from the scenario, the
// numbers the kernel would give them (namespace ids, ifindexes, socket cookies), and the
// scenario's timeline applied in time order.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "fastpath.h"
#include "model/host.h"
#include "scenario.h"

namespace econsim::sim {

model::Ipv4Address to_model(Ipv4Address address);
model::MacAddress to_model(const MacAddress &mac);
model::Endpoint to_model(Endpoint endpoint);

class OverlayHost {
public:
	// Throws ScenarioError when the model refuses the host (a name twice, an unknown bridge).
	explicit OverlayHost(const Scenario &scenario);

	// Apply every event with t <= now_ns not applied yet; tells the fast path what changed.
	// Throws ScenarioError (file:line) for an event the kernel would refuse.
	void apply_events_until(std::int64_t now_ns, FastPath &fastpath);
	void apply_remaining_events(FastPath &fastpath);

	const Scenario &scenario() const { return scenario_; }
	model::Host &model() { return model_; }
	const model::Host &model() const { return model_; }

	// The numbers the kernel would give: net->ns.inum, dev->ifindex, sock_gen_cookie().
	std::uint32_t netns_id(std::string_view ns) const;
	const std::string &namespace_name(std::uint32_t netns_id) const;
	fpmap_dev device_id(std::string_view device) const;
	std::uint64_t socket_cookie(std::string_view socket) const; // 0: never created
	const std::string &socket_name(std::uint64_t cookie) const;
	bool socket_open(std::uint64_t cookie) const;

	// The sockets an accepted TCP connection adds (the model names them) get their cookie here.
	std::uint64_t adopt_socket(const std::string &name);
	// A TCP child the model reset or that a close removed.
	void forget_socket(const std::string &name, FastPath &fastpath);

	std::uint64_t events_applied() const { return next_event_; }

	// vxlan_snoop: a received frame teaches its VXLAN device where the inner source MAC lives
	// (the remote VTEP, and the underlay neighbour's MAC). True when that changed what was known.
	struct RemoteVtep {
		Ipv4Address ip;
		std::optional<MacAddress> mac;
	};
	bool learn_remote(const std::string &vxlan, const MacAddress &inner_src, const RemoteVtep &vtep);
	const RemoteVtep *remote(const std::string &vxlan, const MacAddress &inner_dst) const;

	// udp_flow_src_port: the outer source port the host picked for an inner flow, first time seen.
	// Returns the port seen before, or nullopt (and remembers this one) for a new flow.
	std::optional<std::uint16_t> outer_source_port(const std::string &inner_flow, std::uint16_t port);

private:
	void build_devices();
	void apply(const Event &event, FastPath &fastpath);
	[[noreturn]] void refuse(const Event &event, const std::string &what) const;
	void close_socket(const Event &event, const std::string &name, FastPath &fastpath);
	std::uint16_t local_port(std::string_view socket) const;

	const Scenario &scenario_;
	model::Host model_;
	std::map<std::string, std::uint32_t, std::less<>> netns_ids_;
	std::map<std::uint32_t, std::string> netns_names_;
	std::map<std::string, fpmap_dev, std::less<>> devices_;
	std::map<std::string, std::uint64_t, std::less<>> cookies_;
	std::map<std::uint64_t, std::string> names_;
	std::map<std::uint64_t, bool> open_;
	std::map<std::pair<std::string, MacAddress>, RemoteVtep> remotes_;
	std::map<std::string, std::uint16_t, std::less<>> outer_source_ports_;
	std::uint64_t next_cookie_ = 1;
	std::size_t next_event_ = 0;
};

} // namespace econsim::sim
