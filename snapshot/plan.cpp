#include "plan.h"

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <sstream>

namespace econsim::snapshot {

const std::string *Plan::scenario_ns(std::size_t ns) const
{
	auto it = ns_name.find(ns);
	return it == ns_name.end() ? nullptr : &it->second;
}

namespace {

std::string first_ipv4(const Namespace &ns, int index)
{
	for (const Addr &a : ns.addrs)
		if (a.index == index && a.family == AF_INET)
			return a.address + "/" + std::to_string(a.prefix);
	return {};
}

std::string join(const std::vector<std::string> &items, const char *sep = ", ")
{
	std::string out;
	for (const std::string &s : items)
		out += (out.empty() ? "" : sep) + s;
	return out;
}

std::string pick_nic(const Namespace &host, const std::string &iface, Plan &plan)
{
	if (!iface.empty()) {
		if (host.link(iface))
			return iface;
		plan.not_represented.push_back("--iface " + iface + ": no such device in namespace " + host.name +
					       "; the NIC was chosen as without --iface");
	}
	for (const Route &r : host.routes)
		if (r.family == AF_INET && r.dst == "default" && r.table == RT_TABLE_MAIN && r.oif)
			if (const Link *l = host.link(r.oif))
				return l->name;
	for (const Link &l : host.links)
		if (l.up() && !(l.flags & IFF_LOOPBACK) && l.kind != "bridge" && l.kind != "vxlan" &&
		    !first_ipv4(host, l.index).empty())
			return l.name;
	return {};
}

} // namespace

Plan make_plan(std::vector<Namespace> &namespaces, std::size_t host_ns, const std::string &iface)
{
	Plan plan;
	plan.host_ns = host_ns;
	Namespace &host = namespaces[host_ns];
	plan.ns_name[host_ns] = "host";
	char hn[256] = "";
	plan.host_name = host.is_own && gethostname(hn, sizeof(hn) - 1) == 0 && hn[0] ? hn : host.name;
	for (char &c : plan.host_name)
		if (std::isspace(static_cast<unsigned char>(c)) || c == '/' || c == '"' || c == '\\')
			c = '_';
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	plan.cpus = cpus > 0 ? static_cast<int>(std::min(cpus, 1024L)) : 1;

	// ---- the NIC --------------------------------------------------------------------------
	plan.nic = pick_nic(host, iface, plan);
	if (const Link *nic = plan.nic.empty() ? nullptr : host.link(plan.nic)) {
		plan.nic_mac = nic->mac;
		plan.nic_ip = first_ipv4(host, nic->index);
		plan.nic_mtu = std::clamp(nic->mtu, 68, 65535);
		if (plan.nic_mac.empty())
			plan.not_represented.push_back("NIC " + plan.nic + " has no Ethernet address (kind '" +
						       nic->kind +
						       "'); the scenario says 00:00:00:00:00:00 and the replay "
						       "cannot decode its frames unless they are Ethernet");
		if (plan.nic_ip.empty())
			plan.not_represented.push_back("NIC " + plan.nic +
						       " has no IPv4 address; the scenario says 0.0.0.0/32, so no "
						       "frame is addressed to the host");
	} else {
		plan.nic = "snapshot-nic";
		plan.not_represented.push_back("no NIC found in namespace " + host.name +
					       " (no IPv4 default route, no device up with an IPv4 address); the "
					       "scenario names a placeholder 'snapshot-nic'");
	}
	if (plan.nic_mac.empty())
		plan.nic_mac = "00:00:00:00:00:00";
	if (plan.nic_ip.empty())
		plan.nic_ip = "0.0.0.0/32";
	plan.found.push_back("the node: namespace " + host.name + " (" + host.origin + "), NIC " + plan.nic + " " +
			     plan.nic_mac + " " + plan.nic_ip + " mtu " + std::to_string(plan.nic_mtu) + ", " +
			     std::to_string(plan.cpus) + " CPUs online");

	// ---- bridges and VXLAN devices ------------------------------------------------------------
	std::set<std::string> bridges_used;
	std::set<std::pair<std::uint32_t, std::uint16_t>> vni_ports;
	for (const Link &l : host.links) {
		if (l.kind != "vxlan")
			continue;
		std::ostringstream d;
		d << "VXLAN " << l.name << ": VNI " << (l.vni ? std::to_string(*l.vni) : "none") << ", port " << l.port
		  << ", learning " << (l.learning ? "on" : "off") << ", local " << (l.local.empty() ? "-" : l.local)
		  << ", remote " << (l.remote.empty() ? "-" : l.remote);
		if (const Link *u = host.link(l.link))
			d << ", underlay " << u->name;
		const Link *master = host.link(l.master);
		d << ", " << (master ? "on bridge " + master->name : std::string("on no bridge")) << ", "
		  << (l.up() ? "up" : "down");
		plan.found.push_back(d.str());
		if (l.collect_metadata || !l.vni) {
			plan.not_represented.push_back(
				"VXLAN " + l.name +
				" is in external (collect_metadata) mode: its VNI comes per packet from the "
				"routing/BPF layer (Cilium, OVS); the scenario has one VNI per device");
			continue;
		}
		if (!master || master->kind != "bridge") {
			plan.not_represented.push_back(
				"VXLAN " + l.name +
				" is not on a bridge (a routed overlay, as flannel's): the scenario's bridged "
				"topology cannot hold it (routed ones follow issue 13); frames to VNI " +
				std::to_string(*l.vni) + " will find no device");
			continue;
		}
		if (!vni_ports.insert({*l.vni, l.port}).second) {
			plan.not_represented.push_back("VXLAN " + l.name + " repeats VNI " + std::to_string(*l.vni) +
						       " on port " + std::to_string(l.port) +
						       " (another local address?); left out");
			continue;
		}
		if (!l.up())
			plan.not_represented.push_back("VXLAN " + l.name +
						       " is down; the scenario has no down state for a device at the "
						       "start, so the replay takes it as up");
		if (l.learning)
			plan.not_represented.push_back("VXLAN " + l.name +
						       " learns remote VTEPs (learning on); the model's VXLAN FDB is "
						       "static: transmitted frames may pick another VTEP");
		if (!l.local.empty() && l.local != "(IPv6)" && plan.nic_ip.rfind(l.local + "/", 0) != 0)
			plan.not_represented.push_back("VXLAN " + l.name + " has local " + l.local +
						       ", not the NIC's " + plan.nic_ip +
						       "; the model takes the NIC's address");
		plan.vxlan.push_back({l.name, *l.vni, l.port ? l.port : std::uint16_t{8472}, master->name});
		bridges_used.insert(master->name);
	}

	// ---- containers: namespaces whose veth's peer is on one of the node's bridges -------------
	std::map<std::string, std::vector<std::string>> bridge_ports;
	for (const Link &l : host.links)
		if (const Link *m = host.link(l.master); m && m->kind == "bridge")
			bridge_ports[m->name].push_back(l.name + (l.port_learning == false ? " (learning off)" : "") +
							(l.port_flood == false ? " (flood off)" : ""));
	std::set<std::string> used_names = {"host"};
	std::vector<std::string> others;
	for (std::size_t j = 0; j < namespaces.size(); j++) {
		if (j == host_ns)
			continue;
		Namespace &ns = namespaces[j];
		std::vector<std::pair<const Link *, const Link *>> ends; // (container end, host end)
		std::vector<std::string> loose;
		int host_id = -2; // asked once per namespace, and only if it has a veth to another one
		for (const Link &l : ns.links) {
			if (l.kind != "veth" || !l.link_netnsid)
				continue;
			if (host_id == -2)
				host_id = nsid_of(ns, host);
			if (*l.link_netnsid != host_id)
				continue;
			const Link *peer = host.link(l.link);
			if (!peer)
				continue;
			const Link *m = host.link(peer->master);
			if (m && m->kind == "bridge")
				ends.push_back({&l, peer});
			else if (peer->name != plan.nic) // the NIC's own peer is the underlay, not a container
				loose.push_back(l.name + " (peer " + peer->name + ")");
		}
		if (ends.empty()) {
			if (!loose.empty())
				plan.not_represented.push_back(
					"namespace " + ns.name + " (" + ns.origin +
					") reaches the node by a veth on no bridge: " + join(loose) +
					" (a routed container, as Calico's; issue 13)");
			else
				others.push_back(ns.name + " (" + ns.origin + ")");
			continue;
		}
		// Prefer the end whose bridge carries a VXLAN device: that is the overlay the model replays.
		std::stable_sort(ends.begin(), ends.end(), [&](auto a, auto b) {
			return bridges_used.count(host.link(a.second->master)->name) >
			       bridges_used.count(host.link(b.second->master)->name);
		});
		const Link *inside = ends[0].first, *outside = ends[0].second;
		std::string ip = first_ipv4(ns, inside->index);
		if (ip.empty()) {
			plan.not_represented.push_back("namespace " + ns.name + " (" + ns.origin +
						       "): " + inside->name +
						       " has no IPv4 address; the model's containers have one");
			continue;
		}
		for (std::size_t k = 1; k < ends.size(); k++)
			plan.not_represented.push_back("namespace " + ns.name + " has a second link to the node (" +
						       ends[k].first->name + " - " + ends[k].second->name +
						       "); the scenario keeps " + inside->name + " only");
		std::string name = ns.name;
		while (!used_names.insert(name).second)
			name += "_";
		std::string bridge = host.link(outside->master)->name;
		plan.containers.push_back({name, j, bridge, outside->name, inside->mac, ip});
		plan.ns_name[j] = name;
		bridges_used.insert(bridge);
		plan.found.push_back("container " + name + " (" + ns.origin + "): " + inside->name + " " + inside->mac +
				     " " + ip + ", peer " + outside->name + " on " + bridge);
		int addresses = 0;
		for (const Addr &a : ns.addrs)
			addresses += a.family == AF_INET && a.address != "127.0.0.1";
		if (addresses > 1)
			plan.not_represented.push_back("container " + name + " has " + std::to_string(addresses) +
						       " IPv4 addresses besides loopback; the scenario keeps " + ip);
	}
	if (!others.empty())
		plan.found.push_back("namespaces not on the node's bridges (not modelled): " + join(others));

	// ---- bridges and their static FDB ----------------------------------------------------------
	std::set<std::string> ports;
	for (const PlanVxlan &v : plan.vxlan)
		ports.insert(v.name);
	for (const PlanContainer &c : plan.containers)
		ports.insert(c.veth);
	std::size_t learned = 0, local = 0, elsewhere = 0;
	for (const std::string &b : bridges_used) {
		PlanBridge pb{b, {}};
		plan.found.push_back("bridge " + b + ": ports " + join(bridge_ports[b]));
		const Link *bl = host.link(b);
		std::set<std::string> macs;
		for (const Neigh &n : host.fdb) {
			const Link *port = host.link(n.index);
			if (!port || n.master != bl->index || n.lladdr.empty())
				continue;
			if (n.state & NUD_PERMANENT) { // the address of a port itself: frames to it stay in the host
				local++;
				continue;
			}
			if (!(n.state & NUD_NOARP)) {
				learned++;
				continue;
			}
			if (!ports.count(port->name)) {
				elsewhere++;
				continue;
			}
			if (!macs.insert(n.lladdr).second)
				continue; // the same MAC again for another VLAN
			PlanFdb f{n.lladdr, port->name, {}};
			if (port->kind == "vxlan") {
				// The VTEP: the VXLAN device's own entry for this MAC, else its default remote.
				for (const Neigh &s : host.fdb)
					if (s.index == port->index && (s.flags & NTF_SELF) && s.lladdr == n.lladdr &&
					    s.dst.find('.') != std::string::npos)
						f.dst = s.dst;
				if (f.dst.empty() && port->remote.find('.') != std::string::npos)
					f.dst = port->remote;
			}
			pb.fdb.push_back(f);
		}
		plan.bridges.push_back(std::move(pb));
	}
	if (learned)
		plan.not_represented.push_back(std::to_string(learned) +
					       " learned (dynamic) bridge FDB entries: the model starts with none and "
					       "learns from the replayed frames; until it does it floods");
	if (elsewhere)
		plan.not_represented.push_back(std::to_string(elsewhere) +
					       " static FDB entries on ports the scenario does not hold; left out");
	if (local)
		plan.found.push_back(std::to_string(local) + " permanent FDB entries (the ports' own addresses), not "
							     "needed by the model");

	// ---- sysctls ------------------------------------------------------------------------------
	for (const auto &[index, sname] : plan.ns_name) {
		const Namespace &ns = namespaces[index];
		for (const auto &[key, dflt] : modelled_sysctls()) {
			auto it = ns.sysctls.find(key);
			if (it == ns.sysctls.end() || it->second == dflt)
				continue;
			if (dflt == "absent" && index != host_ns)
				continue;
			plan.sysctl_notes.push_back(sname + ": " + key + " = " + it->second + " (the model assumes " +
						    dflt + ")");
		}
	}
	return plan;
}

void write_host_yaml(const Plan &plan, std::vector<std::string> &lines, std::vector<std::string> &owners)
{
	auto add = [&](std::string line, std::string owner = "") {
		lines.push_back(std::move(line));
		owners.push_back(std::move(owner));
	};
	add("version: 1");
	add("host:");
	add("  name: \"" + plan.host_name + "\"");
	add("  cpus: " + std::to_string(plan.cpus));
	add("  rss: l4");
	add("  nic: {name: " + plan.nic + ", mac: \"" + plan.nic_mac + "\", ip: " + plan.nic_ip +
	    ", mtu: " + std::to_string(plan.nic_mtu) + "}");
	if (!plan.vxlan.empty())
		add("  vxlan:");
	for (const PlanVxlan &v : plan.vxlan)
		add("    - {name: " + v.name + ", vni: " + std::to_string(v.vni) + ", port: " + std::to_string(v.port) +
			    ", bridge: " + v.bridge + "}",
		    "vxlan:" + v.name);
	if (!plan.bridges.empty())
		add("  bridges:");
	for (const PlanBridge &b : plan.bridges) {
		if (b.fdb.empty()) {
			add("    - {name: " + b.name + "}", "bridge:" + b.name);
			continue;
		}
		add("    - name: " + b.name, "bridge:" + b.name);
		add("      fdb:", "bridge:" + b.name);
		for (const PlanFdb &f : b.fdb)
			add("        - {mac: \"" + f.mac + "\", port: " + f.port +
				    (f.dst.empty() ? "" : ", dst: " + f.dst) + "}",
			    "fdb:" + b.name + ":" + f.mac);
	}
	if (!plan.containers.empty())
		add("  containers:");
	for (const PlanContainer &c : plan.containers)
		add("    - {name: " + c.name + ", bridge: " + c.bridge + ", veth: " + c.veth + ", mac: \"" + c.mac +
			    "\", ip: " + c.ip + "}",
		    "container:" + c.name);
}

bool drop_item(Plan &plan, const std::string &owner, const std::string &why)
{
	auto colon = owner.find(':');
	if (colon == std::string::npos)
		return false;
	std::string kind = owner.substr(0, colon), name = owner.substr(colon + 1);
	auto erase = [](auto &v, auto pred) {
		auto before = v.size();
		std::erase_if(v, pred);
		return v.size() != before;
	};
	bool done = false;
	if (kind == "container") {
		for (const PlanContainer &c : plan.containers)
			if (c.name == name)
				plan.ns_name.erase(c.ns);
		done = erase(plan.containers, [&](const PlanContainer &c) { return c.name == name; });
	} else if (kind == "vxlan") {
		done = erase(plan.vxlan, [&](const PlanVxlan &v) { return v.name == name; });
	} else if (kind == "bridge") {
		for (const PlanContainer &c : plan.containers)
			if (c.bridge == name)
				plan.ns_name.erase(c.ns);
		erase(plan.containers, [&](const PlanContainer &c) { return c.bridge == name; });
		erase(plan.vxlan, [&](const PlanVxlan &v) { return v.bridge == name; });
		done = erase(plan.bridges, [&](const PlanBridge &b) { return b.name == name; });
	} else if (kind == "fdb") {
		auto c2 = name.find(':');
		std::string bridge = name.substr(0, c2), mac = name.substr(c2 + 1);
		for (PlanBridge &b : plan.bridges)
			if (b.name == bridge)
				done = erase(b.fdb, [&](const PlanFdb &f) { return f.mac == mac; });
	}
	if (done)
		plan.not_represented.push_back(kind + " " + name + " left out: the scenario loader refused it (" + why +
					       ")");
	return done;
}

} // namespace econsim::snapshot
