#include "probe.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/inet_diag.h>
#include <linux/neighbour.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#ifndef AF_BRIDGE
#define AF_BRIDGE 7
#endif

namespace econsim::snapshot {

bool Link::up() const
{
	return (flags & IFF_UP) != 0;
}

const Link *Namespace::link(int index) const
{
	for (const Link &l : links)
		if (l.index == index)
			return &l;
	return nullptr;
}

const Link *Namespace::link(const std::string &name) const
{
	for (const Link &l : links)
		if (l.name == name)
			return &l;
	return nullptr;
}

std::string Sock::key() const
{
	std::string l = family == AF_INET6 ? "[" + local_ip + "]" : local_ip;
	std::string r = family == AF_INET6 ? "[" + remote_ip + "]" : remote_ip;
	return std::string(proto == Proto::udp ? "udp " : "tcp ") + l + ":" + std::to_string(local_port) + " > " + r +
	       ":" + std::to_string(remote_port);
}

std::string mac_text(std::span<const std::uint8_t> bytes)
{
	if (bytes.size() != 6)
		return {};
	char buf[18];
	snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2], bytes[3], bytes[4],
		 bytes[5]);
	return buf;
}

std::string ip_text(int family, std::span<const std::uint8_t> bytes)
{
	char buf[INET6_ADDRSTRLEN] = "";
	if (family == AF_INET && bytes.size() >= 4)
		inet_ntop(AF_INET, bytes.data(), buf, sizeof(buf));
	else if (family == AF_INET6 && bytes.size() >= 16)
		inet_ntop(AF_INET6, bytes.data(), buf, sizeof(buf));
	return buf;
}

bool in_namespace(const Namespace &ns, int own_fd, const std::function<void()> &f, std::string *why)
{
	if (ns.is_own) {
		f();
		return true;
	}
	if (setns(ns.fd, CLONE_NEWNET) != 0) {
		if (why)
			*why = std::string("setns: ") + strerror(errno);
		return false;
	}
	try {
		f();
	} catch (...) {
		setns(own_fd, CLONE_NEWNET);
		throw;
	}
	// Returning cannot fail for a namespace we came from and hold open.
	setns(own_fd, CLONE_NEWNET);
	return true;
}

namespace {

std::string read_line(const std::string &path)
{
	std::ifstream in(path);
	std::string line;
	std::getline(in, line);
	return line;
}

// A container runtime's name for the process, from its cgroup path (docker, containerd, CRI-O,
// podman all put the container id there), else "".
std::string runtime_name(int pid)
{
	std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
	static const std::regex id(R"((docker|cri-containerd|crio|libpod)[-/]([0-9a-f]{12})[0-9a-f]{52})");
	std::string line;
	while (std::getline(in, line)) {
		std::smatch m;
		if (std::regex_search(line, m, id))
			return (m[1] == "cri-containerd" ? std::string("containerd") : m[1].str()) + "-" + m[2].str();
	}
	return {};
}

// The characters a scenario name may hold (no whitespace, '/', '"', '\').
std::string clean_name(std::string s)
{
	for (char &c : s)
		if (std::isspace(static_cast<unsigned char>(c)) || c == '/' || c == '"' || c == '\\' || c == ':' ||
		    c == '\'' || !std::isprint(static_cast<unsigned char>(c)))
			c = '_';
	return s.empty() ? "_" : s;
}

bool add_namespace(Discovery &d, std::set<std::pair<std::uint64_t, std::uint64_t>> &seen, const std::string &path,
		   std::string name, std::string origin, bool own)
{
	struct stat st;
	if (stat(path.c_str(), &st) != 0)
		return false; // the process exited, or the file went: not a namespace any more
	if (!seen.insert({st.st_dev, st.st_ino}).second)
		return false;
	int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		d.unreadable.push_back(origin + ": " + strerror(errno));
		return false;
	}
	Namespace ns;
	ns.name = clean_name(std::move(name));
	ns.origin = std::move(origin);
	ns.inode = st.st_ino;
	ns.dev = st.st_dev;
	ns.fd = fd;
	ns.is_own = own;
	d.namespaces.push_back(std::move(ns));
	return true;
}

} // namespace

Discovery discover_namespaces()
{
	Discovery d;
	std::set<std::pair<std::uint64_t, std::uint64_t>> seen;
	add_namespace(d, seen, "/proc/self/ns/net", "init", "the snapshot's own namespace", true);

	std::vector<std::string> named;
	if (DIR *dir = opendir("/run/netns")) {
		while (dirent *e = readdir(dir))
			if (e->d_name[0] != '.')
				named.emplace_back(e->d_name);
		closedir(dir);
	}
	std::sort(named.begin(), named.end());
	for (const std::string &n : named) {
		// A name of the snapshot's own namespace names it better than "init".
		struct stat st;
		if (stat(("/run/netns/" + n).c_str(), &st) == 0 && st.st_ino == d.namespaces[0].inode &&
		    st.st_dev == d.namespaces[0].dev) {
			d.namespaces[0].name = clean_name(n);
			continue;
		}
		add_namespace(d, seen, "/run/netns/" + n, n, "/run/netns/" + n, false);
	}

	std::vector<int> pids;
	if (DIR *dir = opendir("/proc")) {
		while (dirent *e = readdir(dir)) {
			char *end = nullptr;
			long pid = strtol(e->d_name, &end, 10);
			if (*end == 0 && pid > 0)
				pids.push_back(static_cast<int>(pid));
		}
		closedir(dir);
	}
	std::sort(pids.begin(), pids.end()); // the lowest pid of a namespace names it: its first process
	for (int pid : pids) {
		std::string p = "/proc/" + std::to_string(pid);
		std::string comm = read_line(p + "/comm");
		std::string runtime = runtime_name(pid);
		std::string name = runtime.empty() ? comm + "-" + std::to_string(pid) : runtime;
		add_namespace(d, seen, p + "/ns/net", name, "pid " + std::to_string(pid) + " (" + comm + ")", false);
	}

	// Two namespaces may get one name (two /run/netns names cannot, processes can): number them.
	std::map<std::string, int> count;
	for (Namespace &ns : d.namespaces)
		if (int n = count[ns.name]++; n > 0)
			ns.name += "." + std::to_string(n + 1);
	return d;
}

const std::vector<std::pair<std::string, std::string>> &modelled_sysctls()
{
	// The model follows the kernel's defaults for these (model/README.md: "default sysctls").
	static const std::vector<std::pair<std::string, std::string>> list = {
		{"net/ipv4/ip_forward", "0"},
		{"net/ipv4/conf/all/rp_filter", "0"},
		{"net/ipv4/conf/all/accept_local", "0"},
		{"net/ipv4/ip_nonlocal_bind", "0"},
		{"net/ipv4/udp_l3mdev_accept", "0"},
		{"net/ipv4/tcp_l3mdev_accept", "0"},
		{"net/ipv4/ip_early_demux", "1"},
		{"net/ipv4/udp_early_demux", "1"},
		{"net/ipv4/tcp_early_demux", "1"},
		{"net/bridge/bridge-nf-call-iptables", "absent"},
	};
	return list;
}

namespace {

void read_links(Namespace &ns)
{
	Request r(RTM_GETLINK, NLM_F_DUMP);
	ifinfomsg ifi{};
	ifi.ifi_family = AF_UNSPEC;
	r.payload(ifi);
	ns.rtnl.request(r.done(), [&](const nlmsghdr &h) {
		if (h.nlmsg_type != RTM_NEWLINK)
			return;
		auto p = payload_of(h);
		if (p.size() < sizeof(ifinfomsg))
			return;
		std::memcpy(&ifi, p.data(), sizeof(ifi));
		Attrs a = parse_attrs(p.subspan(NLMSG_ALIGN(sizeof(ifinfomsg))));
		Link l;
		l.index = ifi.ifi_index;
		l.flags = ifi.ifi_flags;
		l.name = attr_string(a, IFLA_IFNAME);
		if (auto it = a.find(IFLA_ADDRESS); it != a.end())
			l.mac = mac_text(it->second);
		l.mtu = static_cast<int>(attr_as<std::uint32_t>(a, IFLA_MTU));
		l.master = static_cast<int>(attr_as<std::uint32_t>(a, IFLA_MASTER));
		l.link = static_cast<int>(attr_as<std::uint32_t>(a, IFLA_LINK));
		if (has_attr(a, IFLA_LINK_NETNSID))
			l.link_netnsid = attr_as<std::int32_t>(a, IFLA_LINK_NETNSID);
		if (auto it = a.find(IFLA_LINKINFO); it != a.end()) {
			Attrs info = parse_attrs(it->second);
			l.kind = attr_string(info, IFLA_INFO_KIND);
			l.slave_kind = attr_string(info, IFLA_INFO_SLAVE_KIND);
			if (auto d = info.find(IFLA_INFO_DATA); d != info.end() && l.kind == "vxlan") {
				Attrs v = parse_attrs(d->second);
				if (has_attr(v, IFLA_VXLAN_ID))
					l.vni = attr_as<std::uint32_t>(v, IFLA_VXLAN_ID);
				l.port = ntohs(attr_as<std::uint16_t>(v, IFLA_VXLAN_PORT));
				l.learning = attr_as<std::uint8_t>(v, IFLA_VXLAN_LEARNING, 1) != 0;
				l.collect_metadata = attr_as<std::uint8_t>(v, IFLA_VXLAN_COLLECT_METADATA) != 0;
				if (auto g = v.find(IFLA_VXLAN_GROUP); g != v.end())
					l.remote = ip_text(AF_INET, g->second);
				else if (has_attr(v, IFLA_VXLAN_GROUP6))
					l.remote = "(IPv6)";
				if (auto g = v.find(IFLA_VXLAN_LOCAL); g != v.end())
					l.local = ip_text(AF_INET, g->second);
				else if (has_attr(v, IFLA_VXLAN_LOCAL6))
					l.local = "(IPv6)";
				l.link = static_cast<int>(attr_as<std::uint32_t>(v, IFLA_VXLAN_LINK));
			}
			if (auto d = info.find(IFLA_INFO_SLAVE_DATA); d != info.end() && l.slave_kind == "bridge") {
				Attrs b = parse_attrs(d->second);
				if (has_attr(b, IFLA_BRPORT_LEARNING))
					l.port_learning = attr_as<std::uint8_t>(b, IFLA_BRPORT_LEARNING) != 0;
				if (has_attr(b, IFLA_BRPORT_UNICAST_FLOOD))
					l.port_flood = attr_as<std::uint8_t>(b, IFLA_BRPORT_UNICAST_FLOOD) != 0;
			}
		}
		ns.links.push_back(std::move(l));
	});
}

void read_addrs(Namespace &ns)
{
	Request r(RTM_GETADDR, NLM_F_DUMP);
	ifaddrmsg ifa{};
	r.payload(ifa);
	ns.rtnl.request(r.done(), [&](const nlmsghdr &h) {
		auto p = payload_of(h);
		if (h.nlmsg_type != RTM_NEWADDR || p.size() < sizeof(ifaddrmsg))
			return;
		std::memcpy(&ifa, p.data(), sizeof(ifa));
		Attrs a = parse_attrs(p.subspan(NLMSG_ALIGN(sizeof(ifaddrmsg))));
		auto it = a.find(IFA_LOCAL);
		if (it == a.end())
			it = a.find(IFA_ADDRESS);
		if (it == a.end())
			return;
		ns.addrs.push_back({static_cast<int>(ifa.ifa_index), ifa.ifa_family,
				    ip_text(ifa.ifa_family, it->second), ifa.ifa_prefixlen});
	});
}

void read_routes(Namespace &ns)
{
	Request r(RTM_GETROUTE, NLM_F_DUMP);
	rtmsg rt{};
	rt.rtm_family = AF_INET;
	r.payload(rt);
	ns.rtnl.request(r.done(), [&](const nlmsghdr &h) {
		auto p = payload_of(h);
		if (h.nlmsg_type != RTM_NEWROUTE || p.size() < sizeof(rtmsg))
			return;
		std::memcpy(&rt, p.data(), sizeof(rt));
		Attrs a = parse_attrs(p.subspan(NLMSG_ALIGN(sizeof(rtmsg))));
		Route route;
		route.family = rt.rtm_family;
		route.table =
			has_attr(a, RTA_TABLE) ? static_cast<int>(attr_as<std::uint32_t>(a, RTA_TABLE)) : rt.rtm_table;
		route.type = rt.rtm_type;
		route.scope = rt.rtm_scope;
		route.protocol = rt.rtm_protocol;
		if (auto it = a.find(RTA_DST); it != a.end())
			route.dst = ip_text(rt.rtm_family, it->second) + "/" + std::to_string(rt.rtm_dst_len);
		else
			route.dst = "default";
		if (auto it = a.find(RTA_GATEWAY); it != a.end())
			route.gateway = ip_text(rt.rtm_family, it->second);
		route.oif = static_cast<int>(attr_as<std::uint32_t>(a, RTA_OIF));
		ns.routes.push_back(std::move(route));
	});
}

void read_neighbours(Namespace &ns, int family, std::vector<Neigh> &out)
{
	Request r(RTM_GETNEIGH, NLM_F_DUMP);
	ndmsg nd{};
	nd.ndm_family = static_cast<std::uint8_t>(family);
	r.payload(nd);
	ns.rtnl.request(r.done(), [&](const nlmsghdr &h) {
		auto p = payload_of(h);
		if (h.nlmsg_type != RTM_NEWNEIGH || p.size() < sizeof(ndmsg))
			return;
		std::memcpy(&nd, p.data(), sizeof(nd));
		Attrs a = parse_attrs(p.subspan(NLMSG_ALIGN(sizeof(ndmsg))));
		Neigh n;
		n.index = nd.ndm_ifindex;
		n.family = nd.ndm_family;
		n.state = nd.ndm_state;
		n.flags = nd.ndm_flags;
		if (auto it = a.find(NDA_DST); it != a.end())
			n.dst = ip_text(it->second.size() == 16 ? AF_INET6 : AF_INET, it->second);
		if (auto it = a.find(NDA_LLADDR); it != a.end())
			n.lladdr = mac_text(it->second);
		n.master = static_cast<int>(attr_as<std::uint32_t>(a, NDA_MASTER));
		if (has_attr(a, NDA_VNI))
			n.vni = attr_as<std::uint32_t>(a, NDA_VNI);
		out.push_back(std::move(n));
	});
}

void read_sysctls(Namespace &ns)
{
	for (const auto &[key, dflt] : modelled_sysctls()) {
		std::ifstream in("/proc/sys/" + key);
		std::string value;
		if (in && std::getline(in, value))
			ns.sysctls[key] = value;
		else
			ns.sysctls[key] = "absent";
	}
}

} // namespace

void read_namespace(Namespace &ns)
{
	auto step = [&](const char *what, const std::function<void()> &f) {
		try {
			f();
		} catch (const NetlinkError &e) {
			ns.problems.push_back(std::string("reading ") + what + ": " + e.what());
		}
	};
	step("devices", [&] { read_links(ns); });
	step("addresses", [&] { read_addrs(ns); });
	step("routes", [&] { read_routes(ns); });
	step("neighbours", [&] { read_neighbours(ns, AF_INET, ns.neighs); });
	step("the bridge/VXLAN FDB", [&] { read_neighbours(ns, AF_BRIDGE, ns.fdb); });
}

void read_namespace_sysctls(Namespace &ns, int own_fd)
{
	std::string why;
	if (!in_namespace(
		    ns, own_fd, [&] { read_sysctls(ns); }, &why))
		ns.problems.push_back("reading sysctls: " + why);
}

std::optional<Sock> parse_diag_msg(const nlmsghdr &h, Proto proto)
{
	auto p = payload_of(h);
	if (h.nlmsg_type != SOCK_DIAG_BY_FAMILY || p.size() < sizeof(inet_diag_msg))
		return std::nullopt;
	inet_diag_msg m;
	std::memcpy(&m, p.data(), sizeof(m));
	Attrs a = parse_attrs(p.subspan(NLMSG_ALIGN(sizeof(inet_diag_msg))));
	Sock s;
	s.proto = proto;
	s.family = m.idiag_family;
	s.state = m.idiag_state;
	std::span<const std::uint8_t> src(reinterpret_cast<const std::uint8_t *>(m.id.idiag_src), 16);
	std::span<const std::uint8_t> dst(reinterpret_cast<const std::uint8_t *>(m.id.idiag_dst), 16);
	s.local_ip = ip_text(m.idiag_family, src);
	s.remote_ip = ip_text(m.idiag_family, dst);
	s.local_port = ntohs(m.id.idiag_sport);
	s.remote_port = ntohs(m.id.idiag_dport);
	s.cookie = static_cast<std::uint64_t>(m.id.idiag_cookie[0]) | static_cast<std::uint64_t>(m.id.idiag_cookie[1])
									      << 32;
	s.inode = m.idiag_inode;
	s.v6only = attr_as<std::uint8_t>(a, INET_DIAG_SKV6ONLY) != 0;
	if (proto == Proto::tcp && m.idiag_state == 10) // TCP_LISTEN: wqueue is the backlog
		s.backlog = m.idiag_wqueue;
	return s;
}

namespace {

void dump_sockets(Namespace &ns, int family, Proto proto, std::vector<Sock> &out)
{
	Request r(SOCK_DIAG_BY_FAMILY, NLM_F_DUMP);
	inet_diag_req_v2 req{};
	req.sdiag_family = static_cast<std::uint8_t>(family);
	req.sdiag_protocol = proto == Proto::udp ? IPPROTO_UDP : IPPROTO_TCP;
	req.idiag_states = ~0u;
	r.payload(req);
	ns.diag.request(r.done(), [&](const nlmsghdr &h) {
		if (auto s = parse_diag_msg(h, proto))
			out.push_back(std::move(*s));
	});
}

} // namespace

std::vector<Sock> read_sockets(Namespace &ns, bool with_v6, std::string *problem)
{
	std::vector<Sock> out;
	for (int family : {AF_INET, AF_INET6}) {
		if (family == AF_INET6 && !with_v6)
			continue;
		for (Proto proto : {Proto::udp, Proto::tcp}) {
			try {
				dump_sockets(ns, family, proto, out);
			} catch (const NetlinkError &e) {
				if (problem)
					*problem = std::string("sock_diag ") + (family == AF_INET ? "IPv4 " : "IPv6 ") +
						   (proto == Proto::udp ? "UDP" : "TCP") + ": " + e.what();
			}
		}
	}
	return out;
}

int nsid_of(Namespace &from, const Namespace &target)
{
	if (!from.rtnl.valid())
		return -1;
	Request r(RTM_GETNSID, 0);
	rtgenmsg g{};
	g.rtgen_family = AF_UNSPEC;
	r.payload(g);
	std::uint32_t fd = static_cast<std::uint32_t>(target.fd);
	r.attr(NETNSA_FD, &fd, sizeof(fd));
	int id = -1;
	try {
		from.rtnl.request(r.done(), [&](const nlmsghdr &h) {
			auto p = payload_of(h);
			if (h.nlmsg_type != RTM_NEWNSID || p.size() < NLMSG_ALIGN(sizeof(rtgenmsg)))
				return;
			id = attr_as<std::int32_t>(parse_attrs(p.subspan(NLMSG_ALIGN(sizeof(rtgenmsg)))), NETNSA_NSID,
						   -1);
		});
	} catch (const NetlinkError &) {
		// no answer: no id
	}
	return id;
}

} // namespace econsim::snapshot
