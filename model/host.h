// The receiving host as the simulator drives it: its topology and its sockets, plus the one place
// where the two meet in the kernel, the UDP socket a VXLAN device holds while it is up.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "model/error.h"
#include "model/netfilter.h"
#include "model/route.h"
#include "model/sockets.h"
#include "model/topology.h"

namespace econsim::model {

class Host {
public:
	Host();
	Host(const Host &) = delete; // sockets_ refers to topology_
	Host &operator=(const Host &) = delete;

	Topology &topology() { return topology_; }
	const Topology &topology() const { return topology_; }
	Sockets &sockets() { return sockets_; }
	const Sockets &sockets() const { return sockets_; }
	// The host namespace's main table, neighbours and sysctls (routed overlays).
	Routing &routing() { return routing_; }
	const Routing &routing() const { return routing_; }
	// The host namespace's netfilter: null where it has no hooks (no iptables table, no
	// conntrack), the kernel's default.
	Netfilter *netfilter() { return netfilter_ ? &*netfilter_ : nullptr; }
	const Netfilter *netfilter() const { return netfilter_ ? &*netfilter_ : nullptr; }
	void set_netfilter(NetfilterConfig config) { netfilter_.emplace(std::move(config)); }

	// Building the host. Devices are created up, so a VXLAN device opens its UDP socket here.
	Error add_nic(std::string name, MacAddress mac, Ipv4Interface address);
	Error add_bridge(std::string name);
	Error add_vxlan(std::string name, std::uint32_t vni, std::uint16_t udp_port, std::string bridge);
	Error add_container(std::string name, std::string bridge, std::string veth, MacAddress mac,
			    Ipv4Interface address);

	// `ip link set dev X up|down`. vxlan_open fails with EADDRINUSE when another socket holds the
	// device's UDP port (the device stays down); vxlan_stop closes the socket when no other device
	// up shares it.
	Error set_link(std::string_view device, bool up);
	// The scenario's `vni` event (see Topology::set_vni).
	Error set_vni(std::string_view vxlan, std::uint32_t vni) { return topology_.set_vni(vxlan, vni); }
	// `ip netns del`: the namespace's sockets close, its veth pair and its FDB entries go.
	Error delete_container(std::string_view name);

private:
	Topology topology_;
	Sockets sockets_;
	Routing routing_;
	std::optional<Netfilter> netfilter_;
};

} // namespace econsim::model
