// The receiving host's devices and network namespaces: the NIC, VXLAN devices, bridges (with their
// FDB), veth pairs and the containers at their ends. Answers what the kernel's device layer decides:
// which VXLAN device takes a VNI, where a bridge sends a frame, which addresses are local.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "model/bridge_fdb.h"
#include "model/error.h"
#include "model/name_hash.h"
#include "model/types.h"

namespace econsim::model {

inline constexpr std::string_view host_namespace = "host";

// The container end of a veth pair is "<container>/eth0": the scenario names only the host end.
std::string container_end_name(std::string_view container);

enum class DeviceKind { nic, vxlan, bridge, veth_host_end, veth_container_end };
const char *to_string(DeviceKind kind);

struct Device {
	std::string name{};
	DeviceKind kind = DeviceKind::nic;
	std::string ns{};                       // "host", or the container's name
	bool admin_up = true;                   // IFF_UP: what `ip link set dev X up|down` changes
	std::optional<MacAddress> mac{};        // nic and veth container end; routed overlays give others theirs
	std::optional<Ipv4Interface> address{}; // nic and veth container end; a routed VXLAN device, a bridge
	std::string bridge{};                   // vxlan, veth host end: the bridge it is a port of ("" when routed)
	std::string peer{};                     // veth ends: the other end
	std::uint32_t vni = 0;                  // vxlan
	std::uint16_t udp_port = 0;             // vxlan
	// `bridge` and `peer` resolved (null: none, or no such device): Topology keeps them equal to a
	// lookup by name after every device it adds or removes, so that a frame's way through the
	// bridge and the veth pairs follows pointers instead of hashing names.
	const Device *bridge_device = nullptr;
	const Device *peer_device = nullptr;
	// `bridge`'s forwarding database (null: none), kept with them: every bridged frame learns its
	// source there and looks its destination up, so it is found without a search by name.
	BridgeFdb *bridge_fdb = nullptr;
};

struct Container {
	std::string name{}; // also the name of its network namespace
	std::string bridge{};
	std::string host_end{};      // the veth end on the bridge (the scenario's `veth`)
	std::string container_end{}; // container_end_name(name)
	MacAddress mac;
	Ipv4Interface address;
};

// inet_addr_type_table's answer for an address in a namespace (RTN_LOCAL, RTN_BROADCAST,
// RTN_MULTICAST, or RTN_UNICAST: somebody else's).
enum class AddressType { local, broadcast, multicast, remote };

// Where a frame that left a VXLAN device ended, after the bridge and the veth pairs.
struct InnerFrameResult {
	// The namespaces whose eth0 took it (PACKET_HOST, or a broadcast/multicast copy). A known
	// unicast MAC reaches at most one; an unknown one is flooded and reaches the owner of the MAC.
	std::vector<std::string> receivers;
	std::string drop_reason{}; // snake_case, when nobody took it
	std::string explanation{}; // one line for `econ-sim trace`, written only when asked for
	bool explaining = false;
	// br_fdb_update changed where frames to the source MAC go (deliver_inner_frame): a new entry,
	// one that had aged out, or a move to the ingress port.
	bool fdb_changed = false;
	// A unicast frame the bridge flooded, its FDB having no entry for the destination (br_flood):
	// from a port (deliver_inner_frame) or from the bridge itself (bridge_transmit).
	bool flooded = false;

	// Runs `write(explanation)` only when an explanation was asked for: a replay formats nothing.
	template <class Write> void explain(Write &&write)
	{
		if (explaining)
			write(explanation);
	}
};

class Topology {
public:
	Topology();
	Topology(const Topology &) = delete; // addressed_devices_ points into devices_
	Topology &operator=(const Topology &) = delete;

	// Building the host from the scenario. Each returns Error::none or why it refused.
	Error add_nic(std::string name, MacAddress mac, Ipv4Interface address);
	Error add_bridge(std::string name);
	// vxlan.c: vxlan_config_validate refuses a second device with the same VNI and UDP port. An
	// empty bridge makes a routed device (flannel.1, vxlan.calico): give it a MAC and an address.
	Error add_vxlan(std::string name, std::uint32_t vni, std::uint16_t udp_port, std::string bridge);
	Error add_container(std::string name, std::string bridge, std::string veth, MacAddress mac,
			    Ipv4Interface address);
	// An empty bridge: the host routes to the veth's host end itself (Calico's cali*).
	// `ip link set dev X address MAC` and `ip addr add A dev X` on a host device (routed overlays:
	// the VXLAN device, the bridge, a veth host end). The address joins the namespace's local
	// addresses (fib_add_ifaddr); either may be left out.
	Error set_device_address(std::string_view device, std::optional<MacAddress> mac,
				 std::optional<Ipv4Interface> address);
	Error add_static_fdb_entry(std::string_view bridge, const MacAddress &mac, std::string_view port);
	// `bridge fdb del MAC dev PORT master` (br_fdb_delete): unknown_device if the bridge or the entry
	// does not exist (the kernel answers ENOENT).
	Error remove_fdb_entry(std::string_view bridge, const MacAddress &mac);
	// `ip link set dev X type vxlan id N` is refused by the kernel for a running device (vxlan_changelink
	// forbids changing the VNI); the scenario's `vni` event models delete + re-add with the new VNI,
	// which vxlan_vni_in_use checks like a new device.
	Error set_vni(std::string_view vxlan, std::uint32_t vni);
	// `ip netns del`: the container's veth pair goes (veth_dellink removes both ends), and with the
	// host end its bridge FDB entries (br_fdb_delete_by_port, also the static ones).
	Error remove_container(std::string_view name);

	// `ip link set dev X up|down`. A bridge port that stops forwarding loses its learned FDB entries
	// (br_stp_disable_port → br_fdb_delete_by_port). Taking a VXLAN device up can fail in the kernel
	// when its UDP port is taken: Host::set_link checks that, this does not.
	Error set_link(std::string_view device, bool up);

	const Device *device(std::string_view name) const;
	const Container *container(std::string_view name) const;
	const std::map<std::string, Container, std::less<>> &containers() const { return containers_; }
	bool has_namespace(std::string_view ns) const;

	// netif_running.
	bool is_up(std::string_view device) const;
	// netif_oper_up: a veth end has carrier only while both ends are up (veth_open, veth_close).
	bool has_carrier(std::string_view device) const;
	// A bridge port forwards when the bridge is up and the port device is up with carrier
	// (br_if.c: br_port_carrier_check; with STP off an enabled port forwards at once).
	bool bridge_port_forwards(std::string_view port) const;

	// vxlan_core.c: vxlan_vs_find_vni. Only devices that are up are on their socket's VNI list
	// (vxlan_open → vxlan_vs_add_dev), so a device that is down takes nothing.
	const Device *vxlan_for(std::uint16_t udp_port, std::uint32_t vni) const;
	// Every VXLAN device, up or down, in the order vxlan_for walks them (by name).
	const std::vector<const Device *> &vxlan_devices() const { return vxlan_devices_; }
	// Whether a VXLAN device on this UDP port is up: then the kernel holds a UDP socket on
	// 0.0.0.0:port in the host namespace (vxlan_sock_add).
	bool vxlan_port_in_use(std::uint16_t udp_port) const;

	// The bridge a port (vxlan device or veth host end) belongs to, or "" when none. The name is the
	// device's: valid while the device exists.
	std::string_view bridge_of(std::string_view port) const;
	// The first device on nic → vxlan → bridge → veth host end → container eth0 that would stop a
	// frame (down, no carrier, or a port that does not forward); nullopt when the path is open.
	std::optional<std::string> blocked_device_on_path(std::string_view vxlan, std::string_view container) const;

	// The containers whose address is `address` (tenants on different bridges may share one).
	std::vector<std::string> containers_with_address(Ipv4Address address) const;
	// fib_frontend.c: inet_addr_type_table for the namespace's local table.
	AddressType address_type(std::string_view ns, Ipv4Address address) const;
	// The source address ip_route_connect picks for a connect() to `peer`.
	Ipv4Address source_address_for(std::string_view ns, Ipv4Address peer) const;

	// A VXLAN device handed an inner Ethernet frame to its bridge at `now`: br_handle_frame_finish
	// (learn the source, look up the destination), br_forward or br_flood, veth_xmit to the
	// container end, and the container's eth0 accepting or ignoring the destination MAC. The
	// explanation is written only when `explain`. This and the two transmits below answer in one
	// result the topology keeps (so that a frame allocates nothing): valid until the next call.
	const InnerFrameResult &deliver_inner_frame(std::string_view vxlan, const MacAddress &source,
						    const MacAddress &destination, double now, bool explain = false);

	// br_handle_frame → br_handle_frame_finish for a frame the container sent, on its bridge's
	// veth port: br_fdb_update learns the container's MAC there, as a received frame's source is
	// learnt on the VXLAN port. True when that made the entry or moved it (where frames to the MAC
	// go changed); false when only its age was refreshed, or the port does not forward (the bridge
	// drops the frame without learning).
	bool learn_sent_frame(std::string_view container, double now);
	// The host routed a frame out of a bridge (br_dev_xmit: FDB lookup, br_forward or br_flood, no
	// learning) or out of a veth's host end (veth_xmit) to `destination`: where it ended.
	const InnerFrameResult &bridge_transmit(std::string_view bridge, const MacAddress &destination, double now,
						bool explain = false) const;
	const InnerFrameResult &veth_transmit(std::string_view host_end, const MacAddress &destination,
					      bool explain = false) const;

	const BridgeFdb *fdb(std::string_view bridge) const;
	BridgeFdb *fdb(std::string_view bridge);

	// Every bridge's br_fdb_cleanup at `now` (BridgeFdb::expire): `aged(bridge)` for each bridge
	// that deleted an entry, whose fdb_notify the kernel's fast path hears. Returns when the next
	// can delete one: the earliest expiry left, or that of an entry learned at `now`.
	template <typename Aged>
	double expire_fdb_entries(double now, Aged &&aged)
	{
		double next = now + BridgeFdb::default_ageing_seconds;
		for (auto &[bridge, fdb] : fdbs_)
			if (fdb.expire(now, next))
				aged(bridge);
		return next;
	}

private:
	Error add_device(Device device);
	bool has_carrier(const Device &device) const;
	bool port_forwards(const Device &port) const;
	void remove_device(std::string_view name);
	std::vector<std::string> forwarding_ports() const;
	const Ipv4Interface *namespace_address(std::string_view ns) const;
	void relink(); // the devices' bridge and peer links, and host_addressed_
	void receive_on_container_end(const Device *host_end, const MacAddress &destination,
				      InnerFrameResult &result) const;
	void receive_on_ports(const std::vector<const Device *> &egress, const MacAddress &destination,
			      InnerFrameResult &result) const;
	InnerFrameResult &fresh_result(bool explain) const;

	std::map<std::string, Device, std::less<>> devices_;
	std::map<std::string, Container, std::less<>> containers_;
	std::map<std::string, BridgeFdb, std::less<>> fdbs_;
	// The same devices and containers by name, hashed (each frame asks for several): views of the
	// maps' keys, kept with them.
	absl::flat_hash_map<std::string_view, Device *, NameHash, std::equal_to<>> device_index_;
	absl::flat_hash_map<std::string_view, const Container *, NameHash, std::equal_to<>> container_index_;
	// The devices of each namespace that have an address, in name order (the order of devices_):
	// address_type runs for every received datagram and reads only these.
	std::unordered_map<std::string, std::vector<const Device *>, NameHash, std::equal_to<>> addressed_devices_;
	// The VXLAN devices in name order (the order of devices_, so vxlan_for answers as a walk of
	// devices_ would): every received frame asks which one takes its VNI.
	std::vector<const Device *> vxlan_devices_;
	// addressed_devices_' list of the host namespace (null: none yet), kept by relink.
	const std::vector<const Device *> *host_addressed_ = nullptr;
	// The answer of deliver_inner_frame and the transmits, and the ports a frame leaves by,
	// reused from frame to frame.
	mutable InnerFrameResult result_;
	mutable std::vector<const Device *> egress_;
};

} // namespace econsim::model
