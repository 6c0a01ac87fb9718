// From what probe read to what a scenario can hold: which namespace is the node ("host"), its
// NIC, VXLAN devices, bridges and static FDB, and which namespaces are its containers. Everything
// that does not fit (routed overlays, VXLAN without a bridge, containers with no IPv4, ...) becomes
// a line of the report instead.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "probe.h"

namespace econsim::snapshot {

struct PlanFdb {
	std::string mac, port, dst;
};
struct PlanBridge {
	std::string name;
	std::vector<PlanFdb> fdb;
};
struct PlanVxlan {
	std::string name;
	std::uint32_t vni = 0;
	std::uint16_t port = 0;
	std::string bridge;
};
struct PlanContainer {
	std::string name; // also its namespace's name in the scenario
	std::size_t ns = 0;
	std::string bridge, veth, mac, ip; // ip as "a.b.c.d/len"
};

struct Plan {
	std::size_t host_ns = 0;
	std::string host_name;
	int cpus = 1;
	std::string nic, nic_mac, nic_ip;
	int nic_mtu = 1500;
	std::vector<PlanVxlan> vxlan;
	std::vector<PlanBridge> bridges;
	std::vector<PlanContainer> containers;
	std::map<std::size_t, std::string> ns_name; // modelled namespace index -> "host" or container name

	std::vector<std::string> found;           // what the snapshot found (report)
	std::vector<std::string> not_represented; // what it could not represent, and why (report)
	std::vector<std::string> sysctl_notes;    // sysctls unlike the model's defaults

	const std::string *scenario_ns(std::size_t ns) const;
};

// host_ns: the namespace of the node; iface: its NIC ("" = the device of its IPv4 default route,
// else its first device that is up and has an IPv4 address).
Plan make_plan(std::vector<Namespace> &namespaces, std::size_t host_ns, const std::string &iface);

// Plan text for the scenario's host section (YAML), one item per line; owners[i] names what line
// i belongs to ("container:NAME", "vxlan:NAME", "bridge:NAME", "fdb:BRIDGE:MAC", "" for the rest),
// so that the verification can drop the item a loader error points at.
void write_host_yaml(const Plan &plan, std::vector<std::string> &lines, std::vector<std::string> &owners);
// Removes the item an owner tag names; returns false for a tag it cannot remove.
bool drop_item(Plan &plan, const std::string &owner, const std::string &why);

} // namespace econsim::snapshot
