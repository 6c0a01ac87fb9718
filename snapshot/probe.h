// What the snapshot reads from the running kernel: every network namespace, and in each its
// devices, addresses, routes, neighbours, bridge/VXLAN FDB, sysctls and IPv4 UDP/TCP sockets.
// Read-only: netlink dumps and /proc reads; nothing it inspects is changed.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <functional>

#include "netlink.h"

namespace econsim::snapshot {

struct Link {
	int index = 0;
	std::string name;
	std::string kind;       // IFLA_INFO_KIND: veth, bridge, vxlan, ... ("" for a physical NIC, lo)
	std::string slave_kind; // "bridge" when enslaved to a bridge
	unsigned flags = 0;     // IFF_*
	std::string mac;        // "" when the device has none
	int mtu = 0;
	int master = 0;                  // ifindex of the bridge, 0 for none
	int link = 0;                    // veth: the peer's ifindex (in link_netnsid's namespace); vxlan: underlay
	std::optional<int> link_netnsid; // the peer's namespace, as this namespace numbers it
	// vxlan
	std::optional<std::uint32_t> vni;
	std::uint16_t port = 0;
	bool learning = true;
	bool collect_metadata = false;
	std::string local, remote; // IPv4 text, "" when unset (IPv6 ones are noted as such)
	// bridge port (slave data)
	std::optional<bool> port_learning, port_flood;

	bool up() const;
};

struct Addr {
	int index = 0;
	int family = 0;
	std::string address; // text
	int prefix = 0;
};

struct Route {
	int table = 0, type = 0, scope = 0, protocol = 0;
	std::string dst; // "default" or prefix text
	std::string gateway;
	int oif = 0;
	int family = 0;
};

struct Neigh {
	int index = 0;
	int family = 0;     // AF_INET, AF_INET6 or AF_BRIDGE (an FDB entry)
	std::string dst;    // IP (for an FDB entry: the remote VTEP, "" if none)
	std::string lladdr; // MAC
	unsigned state = 0, flags = 0;
	int master = 0; // FDB: the bridge
	std::optional<std::uint32_t> vni;
};

enum class Proto { udp, tcp };

struct Sock {
	Proto proto = Proto::udp;
	int family = 0; // AF_INET or AF_INET6
	int state = 0;  // TCP_* (UDP: 7 unconnected, 1 connected)
	std::string local_ip, remote_ip;
	std::uint16_t local_port = 0, remote_port = 0;
	std::uint64_t cookie = 0;
	std::uint64_t inode = 0;   // 0: a kernel socket, or a TCP socket its process has closed
	bool v6only = false;       // for AF_INET6 wildcard sockets that take IPv4 too
	std::uint32_t backlog = 0; // a TCP listener's (inet_diag's idiag_wqueue for LISTEN)
	std::string key() const;   // "udp 10.0.0.1:53 > 0.0.0.0:0"
};

// One network namespace and what was read in it.
struct Namespace {
	std::string name;   // useful: /run/netns name, container runtime name, or process name-pid
	std::string origin; // where it was found: "/run/netns/x", "pid 123 (nginx)", "this process"
	std::uint64_t inode = 0, dev = 0;
	int fd = -1; // an open handle (O_RDONLY), for setns and RTM_GETNSID
	bool is_own = false;
	Netlink rtnl, diag;

	std::vector<Link> links;
	std::vector<Addr> addrs;
	std::vector<Route> routes;
	std::vector<Neigh> neighs; // IPv4/IPv6 neighbours
	std::vector<Neigh> fdb;    // AF_BRIDGE: bridge and VXLAN FDB
	std::vector<Sock> socks;
	std::map<std::string, std::string> sysctls;
	std::vector<std::string> problems; // what could not be read, and why

	const Link *link(int index) const;
	const Link *link(const std::string &name) const;
};

// Every namespace on the host, the snapshot's own first. Never throws for one namespace that
// cannot be opened: it is listed in unreadable with the reason.
struct Discovery {
	std::vector<Namespace> namespaces;
	std::vector<std::string> unreadable;
};
Discovery discover_namespaces();

// Reads devices, addresses, routes, neighbours, FDB and sysctls of ns (problems go in ns.problems).
void read_namespace(Namespace &ns);
// The sysctls of modelled_sysctls(), read in ns (setns: /proc/sys/net is per namespace).
void read_namespace_sysctls(Namespace &ns, int own_fd);
// The IPv4 UDP/TCP sockets (IPv6 ones too when with_v6): one sock_diag dump per protocol.
std::vector<Sock> read_sockets(Namespace &ns, bool with_v6, std::string *problem);
// One sock_diag message (a dump's or a destroy notification's), or nullopt for another kind.
std::optional<Sock> parse_diag_msg(const nlmsghdr &h, Proto proto);
// The id by which `from` knows `target` (IFLA_LINK_NETNSID values), or -1 when it has none. Asking
// never assigns one (RTM_GETNSID only reads).
int nsid_of(Namespace &from, const Namespace &target);

// The sysctls the model assumes at their default, and those defaults.
const std::vector<std::pair<std::string, std::string>> &modelled_sysctls();

// Runs f with the calling thread in ns's network namespace, then returns to the original one.
// Returns false (and the reason) if it cannot enter it.
bool in_namespace(const Namespace &ns, int own_fd, const std::function<void()> &f, std::string *why);

std::string mac_text(std::span<const std::uint8_t> bytes);
std::string ip_text(int family, std::span<const std::uint8_t> bytes);

} // namespace econsim::snapshot
