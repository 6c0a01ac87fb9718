// The scenario's host: the NIC, bridges with their static FDB entries, VXLAN devices and
// containers, each read and checked, then the names and references between them.
#include "scenario_reader.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

namespace econsim::sim::scenario_reader {

namespace {

constexpr int kMaxCpus = 4096;

Nic read_nic(const FieldReader &in, const YAML::Node &node)
{
	in.expect_keys(node, "host.nic", {"name", "mac", "ip"}, {"mtu"});
	Nic nic;
	nic.line = line_of(node);
	nic.name = in.device_name(node, "name");
	nic.mac = in.mac(node, "mac");
	nic.ip = in.prefix(node, "ip");
	if (node["mtu"].IsDefined())
		nic.mtu = static_cast<std::size_t>(in.integer(node, "mtu", 68, 65535));
	return nic;
}

VxlanDevice read_vxlan(const FieldReader &in, const YAML::Node &node, const std::string &what)
{
	in.expect_keys(node, what, {"name", "vni", "port"}, {"bridge", "mac", "ip", "fdb", "learning"});
	VxlanDevice vxlan;
	vxlan.line = line_of(node);
	vxlan.name = in.device_name(node, "name");
	vxlan.vni = static_cast<std::uint32_t>(in.integer(node, "vni", 0, kMaxVni));
	vxlan.port = static_cast<std::uint16_t>(in.integer(node, "port", 1, 65535));
	read_routed_vxlan(in, node, what, vxlan);
	if (node["learning"].IsDefined())
		vxlan.learning = in.boolean(node, "learning");
	return vxlan;
}

Bridge read_bridge(const FieldReader &in, const YAML::Node &node, const std::string &what)
{
	in.expect_keys(node, what, {"name"}, {"fdb", "mac", "ip"});
	Bridge bridge;
	bridge.line = line_of(node);
	bridge.name = in.device_name(node, "name");
	if (node["mac"].IsDefined())
		bridge.mac = in.mac(node, "mac");
	if (node["ip"].IsDefined())
		bridge.ip = in.prefix(node, "ip");
	if (node["fdb"].IsDefined())
		in.for_each_in_list(node["fdb"], what + ".fdb", [&](const YAML::Node &item, const std::string &entry_what) {
			in.expect_keys(item, entry_what, {"mac", "port"}, {"dst"});
			FdbEntry entry;
			entry.line = line_of(item);
			entry.mac = in.mac(item, "mac");
			entry.port = in.device_name(item, "port");
			if (item["dst"].IsDefined())
				entry.dst = in.ipv4(item, "dst");
			bridge.fdb.push_back(entry);
		});
	return bridge;
}

Container read_container(const FieldReader &in, const YAML::Node &node, const std::string &what)
{
	in.expect_keys(node, what, {"name", "veth", "mac", "ip"}, {"bridge", "gateway", "veth_mac", "proxy_arp"});
	Container container;
	container.line = line_of(node);
	container.name = in.name(node, "name");
	if (container.name == kHostNamespace)
		in.fail(node["name"], "a container cannot be called \"host\": that name is the host's namespace");
	if (node["bridge"].IsDefined())
		container.bridge = in.device_name(node, "bridge");
	container.veth = in.device_name(node, "veth");
	container.mac = in.mac(node, "mac");
	container.ip = in.prefix(node, "ip");
	read_routed_container(in, node, container);
	return container;
}

void check_fdb_port(const FieldReader &in, const Host &host, const std::string &bridge, const std::string &port, bool has_dst, int line)
{
	for (const VxlanDevice &vxlan : host.vxlan)
		if (vxlan.name == port && vxlan.bridge == bridge)
			return;
	if (has_dst)
		in.fail(line, "'dst' is a remote VTEP: only an FDB entry whose port is a VXLAN device has one");
	for (const Container &container : host.containers)
		if (container.veth == port && container.bridge == bridge)
			return;
	in.fail(line, "FDB port " + quoted(port) + " is not a VXLAN device or veth attached to bridge " + quoted(bridge));
}

void check_is_bridge(const FieldReader &in, const Host &host, const std::string &bridge, int line)
{
	auto is_it = [&](const Bridge &b) { return b.name == bridge; };
	if (std::none_of(host.bridges.begin(), host.bridges.end(), is_it))
		in.fail(line, "unknown bridge " + quoted(bridge) + " (not in host.bridges)");
}

// Names that share the host namespace's device list must be unique, and every reference must
// land on a device of the right kind.
void check_devices(const FieldReader &in, const Host &host)
{
	std::map<std::string, int> devices{{host.nic.name, host.nic.line}};
	auto add_device = [&](const std::string &device, int line) {
		auto [it, added] = devices.emplace(device, line);
		if (!added)
			in.fail(line, "device name " + quoted(device) + " is already used at line " + std::to_string(it->second));
	};
	for (const Bridge &bridge : host.bridges)
		add_device(bridge.name, bridge.line);
	std::map<std::pair<std::uint32_t, std::uint16_t>, const VxlanDevice *> vni_ports;
	for (const VxlanDevice &vxlan : host.vxlan) {
		add_device(vxlan.name, vxlan.line);
		if (!vxlan.bridge.empty())
			check_is_bridge(in, host, vxlan.bridge, vxlan.line);
		auto [it, added] = vni_ports.emplace(std::pair{vxlan.vni, vxlan.port}, &vxlan);
		if (!added)
			in.fail(vxlan.line, "VNI " + std::to_string(vxlan.vni) + " on port " + std::to_string(vxlan.port) +
						 " is already taken by " + quoted(it->second->name) + " (Linux refuses a second device)");
	}
	std::set<std::string> containers;
	for (const Container &container : host.containers) {
		if (!containers.insert(container.name).second)
			in.fail(container.line, "container name " + quoted(container.name) + " is used twice");
		add_device(container.veth, container.line);
		if (!container.bridge.empty())
			check_is_bridge(in, host, container.bridge, container.line);
	}
	for (const Bridge &bridge : host.bridges)
		for (const FdbEntry &entry : bridge.fdb)
			check_fdb_port(in, host, bridge.name, entry.port, entry.dst.has_value(), entry.line);
}

} // namespace

Host read_host(const FieldReader &in, const YAML::Node &node)
{
	in.expect_keys(node, "host", {"name", "cpus", "rss", "nic"},
		       {"vxlan", "bridges", "containers", "sysctl", "routes", "neighbours", "nat", "netfilter"});
	Host host;
	host.name = in.name(node, "name");
	host.cpus = static_cast<int>(in.integer(node, "cpus", 1, kMaxCpus));
	host.rss = in.choose(node, "rss", kRssModes);
	host.nic = read_nic(in, node["nic"]);
	if (node["bridges"].IsDefined())
		in.for_each_in_list(node["bridges"], "host.bridges",
				 [&](const YAML::Node &item, const std::string &what) { host.bridges.push_back(read_bridge(in, item, what)); });
	if (node["vxlan"].IsDefined())
		in.for_each_in_list(node["vxlan"], "host.vxlan",
				 [&](const YAML::Node &item, const std::string &what) { host.vxlan.push_back(read_vxlan(in, item, what)); });
	if (node["containers"].IsDefined())
		in.for_each_in_list(node["containers"], "host.containers", [&](const YAML::Node &item, const std::string &what) {
			host.containers.push_back(read_container(in, item, what));
		});
	check_devices(in, host);
	read_routing(in, node, host);
	if (node["netfilter"].IsDefined())
		read_netfilter(in, node["netfilter"], host);
	return host;
}

} // namespace econsim::sim::scenario_reader
