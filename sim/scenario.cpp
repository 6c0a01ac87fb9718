#include "scenario.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <utility>

namespace econsim::sim {

namespace {

// Linux interface names: IFNAMSIZ is 16 with the terminating NUL.
constexpr std::size_t kMaxDeviceName = 15;
constexpr int kMaxCpus = 4096;
constexpr std::uint32_t kMaxVni = (1u << 24) - 1;

template <typename Enum>
struct EnumName {
	Enum value;
	std::string_view name;
};

constexpr EnumName<RssMode> kRssModes[] = {{RssMode::l4, "l4"}, {RssMode::l3, "l3"}, {RssMode::none, "none"}};
constexpr EnumName<FastpathMode> kFastpathModes[] = {
	{FastpathMode::off, "off"}, {FastpathMode::econ, "econ"}, {FastpathMode::fixed, "fixed"}};
constexpr EnumName<SocketProto> kSocketProtos[] = {{SocketProto::udp, "udp"}, {SocketProto::tcp, "tcp"}};

// Each op with the keys it requires and the ones it allows besides "t" and "op".
struct OpKeys {
	EventOp op;
	std::string_view name;
	std::vector<std::string_view> required;
	std::vector<std::string_view> optional;
};

const OpKeys kOps[] = {
	{EventOp::socket, "socket", {"sock", "ns", "proto"}, {}},
	{EventOp::bind, "bind", {"sock", "addr"}, {"reuseaddr", "reuseport"}},
	{EventOp::connect, "connect", {"sock", "peer"}, {}},
	{EventOp::listen, "listen", {"sock", "backlog"}, {}},
	{EventOp::close, "close", {"sock"}, {}},
	{EventOp::link, "link", {"dev", "up"}, {}},
	{EventOp::flush, "flush", {}, {}},
	{EventOp::fdb, "fdb", {"bridge", "mac", "port"}, {"dst"}},
	{EventOp::fdb_del, "fdb_del", {"bridge", "mac"}, {}},
	{EventOp::vni, "vni", {"dev", "vni"}, {}},
	{EventOp::netns_del, "netns_del", {"ns"}, {}},
};

template <typename Enum, std::size_t N>
std::string names_of(const EnumName<Enum> (&table)[N])
{
	std::string names;
	for (const auto &entry : table)
		names += (names.empty() ? "" : "|") + std::string(entry.name);
	return names;
}

std::string op_names()
{
	std::string names;
	for (const OpKeys &op : kOps)
		names += (names.empty() ? "" : ", ") + std::string(op.name);
	return names;
}

std::string quoted(std::string_view text)
{
	return "'" + std::string(text) + "'";
}

int line_of(const YAML::Node &node)
{
	int line = node.Mark().line;
	return line >= 0 ? line + 1 : 0;
}

// Seconds as written ("1764150000.000100") to exact nanoseconds: a double cannot hold every
// microsecond of a 2025 timestamp, and events must order exactly against the capture's frames.
std::optional<std::int64_t> parse_seconds(std::string_view text)
{
	std::size_t dot = text.find('.');
	std::string_view whole = text.substr(0, dot);
	std::string_view fraction = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
	if (whole.empty() || whole.size() > 11 || fraction.size() > 9 || (dot != std::string_view::npos && fraction.empty()))
		return std::nullopt;
	std::int64_t ns = 0;
	for (char c : whole) {
		if (c < '0' || c > '9')
			return std::nullopt;
		ns = ns * 10 + (c - '0');
	}
	// Nanoseconds since 1970 fit 64 bits until 2262; later (11 digits can say 99999999999) overflows.
	constexpr std::int64_t kMaxSeconds = (std::numeric_limits<std::int64_t>::max() - 999'999'999) / 1'000'000'000;
	if (ns > kMaxSeconds)
		return std::nullopt;
	std::int64_t scale = 100'000'000;
	ns *= 1'000'000'000;
	for (char c : fraction) {
		if (c < '0' || c > '9')
			return std::nullopt;
		ns += (c - '0') * scale;
		scale /= 10;
	}
	return ns;
}

bool is_accepted_name(std::string_view sock)
{
	return sock.find('/') != std::string_view::npos;
}

class ScenarioReader {
public:
	explicit ScenarioReader(std::string file) : file_(std::move(file)) {}

	Scenario read(const YAML::Node &root)
	{
		if (!root.IsDefined() || root.IsNull())
			fail(0, "the scenario is empty");
		expect_keys(root, "the scenario", {"version", "host"}, {"fastpath", "events"});
		Scenario scenario;
		scenario.file = file_;
		if (scalar(root, "version") != "1")
			fail(root["version"], "'version': " + quoted(scalar(root, "version")) + " is not a known version (this reads version 1)");
		scenario.version = 1;
		scenario.host = read_host(root["host"]);
		if (root["fastpath"].IsDefined()) {
			expect_keys(root["fastpath"], "fastpath", {"mode"});
			scenario.mode = choose(root["fastpath"], "mode", kFastpathModes);
		}
		if (root["events"].IsDefined())
			scenario.events = read_events(root["events"]);
		// Stable: events at the same instant keep the order the author wrote them in.
		std::stable_sort(scenario.events.begin(), scenario.events.end(),
				 [](const Event &a, const Event &b) { return a.t_ns < b.t_ns; });
		check_timeline(scenario);
		return scenario;
	}

private:
	std::string file_;

	[[noreturn]] void fail(int line, const std::string &message) const { throw ScenarioError(file_, line, message); }
	[[noreturn]] void fail(const YAML::Node &at, const std::string &message) const { fail(line_of(at), message); }

	// A map whose keys are all known, each once, with every required one present.
	void expect_keys(const YAML::Node &map, std::string_view what, const std::vector<std::string_view> &required,
			 const std::vector<std::string_view> &optional = {}) const
	{
		if (!map.IsMap())
			fail(map, std::string(what) + " must be a mapping");
		std::set<std::string> seen;
		for (const auto &pair : map) {
			std::string key = pair.first.Scalar();
			bool known = std::find(required.begin(), required.end(), key) != required.end() ||
				     std::find(optional.begin(), optional.end(), key) != optional.end();
			if (!known) {
				std::string allowed;
				for (const auto *list : {&required, &optional})
					for (std::string_view k : *list)
						allowed += (allowed.empty() ? "" : ", ") + std::string(k);
				fail(pair.first, "unknown key " + quoted(key) + " in " + std::string(what) + " (allowed: " + allowed + ")");
			}
			if (!seen.insert(key).second)
				fail(pair.first, "duplicate key " + quoted(key) + " in " + std::string(what));
		}
		for (std::string_view key : required)
			if (!seen.count(std::string(key)))
				fail(map, std::string(what) + ": missing key " + quoted(key));
	}

	std::string scalar(const YAML::Node &map, std::string_view key) const
	{
		YAML::Node value = map[std::string(key)];
		if (!value.IsScalar())
			fail(value.IsDefined() ? value : map, quoted(key) + " must be a single value");
		return value.Scalar();
	}

	// Names are written into messages, verdicts and accepted-socket names: keep them plain.
	std::string name(const YAML::Node &map, std::string_view key) const
	{
		std::string text = scalar(map, key);
		bool plain = !text.empty() && std::none_of(text.begin(), text.end(), [](char c) {
			return c == '/' || c == '"' || c == '\\' || static_cast<unsigned char>(c) <= ' ';
		});
		if (!plain)
			fail(map[std::string(key)], quoted(key) + ": " + quoted(text) + " is not a name (empty, or has a space, '/', '\"' or '\\')");
		return text;
	}

	std::string device_name(const YAML::Node &map, std::string_view key) const
	{
		std::string text = name(map, key);
		if (text.size() > kMaxDeviceName)
			fail(map[std::string(key)], quoted(key) + ": device name " + quoted(text) + " is longer than 15 characters (IFNAMSIZ)");
		return text;
	}

	std::int64_t integer(const YAML::Node &map, std::string_view key, std::int64_t min, std::int64_t max) const
	{
		std::string text = scalar(map, key);
		std::int64_t value = 0;
		auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
		if (error != std::errc() || end != text.data() + text.size() || value < min || value > max)
			fail(map[std::string(key)], quoted(key) + ": " + quoted(text) + " is not an integer from " +
							   std::to_string(min) + " to " + std::to_string(max));
		return value;
	}

	bool boolean(const YAML::Node &map, std::string_view key) const
	{
		std::string text = scalar(map, key);
		if (text != "true" && text != "false")
			fail(map[std::string(key)], quoted(key) + ": " + quoted(text) + " is not true or false");
		return text == "true";
	}

	template <typename T>
	T address(const YAML::Node &map, std::string_view key, std::optional<T> (*parse)(std::string_view),
		  std::string_view form) const
	{
		std::string text = scalar(map, key);
		auto value = parse(text);
		if (!value)
			fail(map[std::string(key)], quoted(key) + ": " + quoted(text) + " is not " + std::string(form));
		return *value;
	}

	MacAddress mac(const YAML::Node &map, std::string_view key) const
	{
		return address(map, key, parse_mac, "a MAC address like \"02:42:0a:e9:01:02\"");
	}

	Ipv4Prefix prefix(const YAML::Node &map, std::string_view key) const
	{
		return address(map, key, parse_ipv4_prefix, "an IPv4 address with a prefix length like 10.233.1.2/16");
	}

	Endpoint endpoint(const YAML::Node &map, std::string_view key) const
	{
		return address(map, key, parse_endpoint, "an IPv4 address and port like \"10.233.1.2:5000\"");
	}

	Ipv4Address ipv4(const YAML::Node &map, std::string_view key) const
	{
		return address(map, key, parse_ipv4, "an IPv4 address like 192.168.0.1");
	}

	template <typename Enum, std::size_t N>
	Enum choose(const YAML::Node &map, std::string_view key, const EnumName<Enum> (&table)[N]) const
	{
		std::string text = scalar(map, key);
		for (const auto &entry : table)
			if (entry.name == text)
				return entry.value;
		fail(map[std::string(key)], quoted(key) + ": " + quoted(text) + " is not one of " + names_of(table));
	}

	// A key written with no value ("events:") is an empty list.
	template <typename Read>
	void for_each_in_list(const YAML::Node &list, std::string_view what, Read read) const
	{
		if (list.IsNull())
			return;
		if (!list.IsSequence())
			fail(list, std::string(what) + " must be a list");
		for (std::size_t i = 0; i < list.size(); ++i)
			read(list[i], std::string(what) + "[" + std::to_string(i) + "]");
	}

	Host read_host(const YAML::Node &node) const
	{
		expect_keys(node, "host", {"name", "cpus", "rss", "nic"}, {"vxlan", "bridges", "containers"});
		Host host;
		host.name = name(node, "name");
		host.cpus = static_cast<int>(integer(node, "cpus", 1, kMaxCpus));
		host.rss = choose(node, "rss", kRssModes);
		host.nic = read_nic(node["nic"]);
		if (node["bridges"].IsDefined())
			for_each_in_list(node["bridges"], "host.bridges",
					 [&](const YAML::Node &item, const std::string &what) { host.bridges.push_back(read_bridge(item, what)); });
		if (node["vxlan"].IsDefined())
			for_each_in_list(node["vxlan"], "host.vxlan",
					 [&](const YAML::Node &item, const std::string &what) { host.vxlan.push_back(read_vxlan(item, what)); });
		if (node["containers"].IsDefined())
			for_each_in_list(node["containers"], "host.containers", [&](const YAML::Node &item, const std::string &what) {
				host.containers.push_back(read_container(item, what));
			});
		check_devices(host);
		return host;
	}

	Nic read_nic(const YAML::Node &node) const
	{
		expect_keys(node, "host.nic", {"name", "mac", "ip"}, {"mtu"});
		Nic nic;
		nic.line = line_of(node);
		nic.name = device_name(node, "name");
		nic.mac = mac(node, "mac");
		nic.ip = prefix(node, "ip");
		if (node["mtu"].IsDefined())
			nic.mtu = static_cast<std::size_t>(integer(node, "mtu", 68, 65535));
		return nic;
	}

	VxlanDevice read_vxlan(const YAML::Node &node, const std::string &what) const
	{
		expect_keys(node, what, {"name", "vni", "port", "bridge"});
		VxlanDevice vxlan;
		vxlan.line = line_of(node);
		vxlan.name = device_name(node, "name");
		vxlan.vni = static_cast<std::uint32_t>(integer(node, "vni", 0, kMaxVni));
		vxlan.port = static_cast<std::uint16_t>(integer(node, "port", 1, 65535));
		vxlan.bridge = device_name(node, "bridge");
		return vxlan;
	}

	Bridge read_bridge(const YAML::Node &node, const std::string &what) const
	{
		expect_keys(node, what, {"name"}, {"fdb"});
		Bridge bridge;
		bridge.line = line_of(node);
		bridge.name = device_name(node, "name");
		if (node["fdb"].IsDefined())
			for_each_in_list(node["fdb"], what + ".fdb", [&](const YAML::Node &item, const std::string &entry_what) {
				expect_keys(item, entry_what, {"mac", "port"}, {"dst"});
				FdbEntry entry;
				entry.line = line_of(item);
				entry.mac = mac(item, "mac");
				entry.port = device_name(item, "port");
				if (item["dst"].IsDefined())
					entry.dst = ipv4(item, "dst");
				bridge.fdb.push_back(entry);
			});
		return bridge;
	}

	Container read_container(const YAML::Node &node, const std::string &what) const
	{
		expect_keys(node, what, {"name", "bridge", "veth", "mac", "ip"});
		Container container;
		container.line = line_of(node);
		container.name = name(node, "name");
		if (container.name == kHostNamespace)
			fail(node["name"], "a container cannot be called \"host\": that name is the host's namespace");
		container.bridge = device_name(node, "bridge");
		container.veth = device_name(node, "veth");
		container.mac = mac(node, "mac");
		container.ip = prefix(node, "ip");
		return container;
	}

	// Names that share the host namespace's device list must be unique, and every reference must
	// land on a device of the right kind.
	void check_devices(const Host &host) const
	{
		std::map<std::string, int> devices{{host.nic.name, host.nic.line}};
		auto add_device = [&](const std::string &device, int line) {
			auto [it, added] = devices.emplace(device, line);
			if (!added)
				fail(line, "device name " + quoted(device) + " is already used at line " + std::to_string(it->second));
		};
		for (const Bridge &bridge : host.bridges)
			add_device(bridge.name, bridge.line);
		std::map<std::pair<std::uint32_t, std::uint16_t>, const VxlanDevice *> vni_ports;
		for (const VxlanDevice &vxlan : host.vxlan) {
			add_device(vxlan.name, vxlan.line);
			check_is_bridge(host, vxlan.bridge, vxlan.line);
			auto [it, added] = vni_ports.emplace(std::pair{vxlan.vni, vxlan.port}, &vxlan);
			if (!added)
				fail(vxlan.line, "VNI " + std::to_string(vxlan.vni) + " on port " + std::to_string(vxlan.port) +
							 " is already taken by " + quoted(it->second->name) + " (Linux refuses a second device)");
		}
		std::set<std::string> containers;
		for (const Container &container : host.containers) {
			if (!containers.insert(container.name).second)
				fail(container.line, "container name " + quoted(container.name) + " is used twice");
			add_device(container.veth, container.line);
			check_is_bridge(host, container.bridge, container.line);
		}
		for (const Bridge &bridge : host.bridges)
			for (const FdbEntry &entry : bridge.fdb)
				check_fdb_port(host, bridge.name, entry.port, entry.dst.has_value(), entry.line);
	}

	void check_is_bridge(const Host &host, const std::string &bridge, int line) const
	{
		auto is_it = [&](const Bridge &b) { return b.name == bridge; };
		if (std::none_of(host.bridges.begin(), host.bridges.end(), is_it))
			fail(line, "unknown bridge " + quoted(bridge) + " (not in host.bridges)");
	}

	void check_fdb_port(const Host &host, const std::string &bridge, const std::string &port, bool has_dst, int line) const
	{
		for (const VxlanDevice &vxlan : host.vxlan)
			if (vxlan.name == port && vxlan.bridge == bridge)
				return;
		if (has_dst)
			fail(line, "'dst' is a remote VTEP: only an FDB entry whose port is a VXLAN device has one");
		for (const Container &container : host.containers)
			if (container.veth == port && container.bridge == bridge)
				return;
		fail(line, "FDB port " + quoted(port) + " is not a VXLAN device or veth attached to bridge " + quoted(bridge));
	}

	std::vector<Event> read_events(const YAML::Node &list) const
	{
		std::vector<Event> events;
		for_each_in_list(list, "events",
				 [&](const YAML::Node &item, const std::string &what) { events.push_back(read_event(item, what)); });
		return events;
	}

	Event read_event(const YAML::Node &node, const std::string &what) const
	{
		if (!node.IsMap())
			fail(node, what + " must be a mapping");
		Event event;
		event.line = line_of(node);
		const OpKeys &op = op_keys(node, what);
		std::string op_what = what + " (" + std::string(op.name) + ")";
		std::vector<std::string_view> required{"t", "op"};
		required.insert(required.end(), op.required.begin(), op.required.end());
		expect_keys(node, op_what, required, op.optional);
		event.op = op.op;
		std::string t = scalar(node, "t");
		auto t_ns = parse_seconds(t);
		if (!t_ns)
			fail(node["t"], "'t': " + quoted(t) + " is not a time in seconds like 1764150000.000100 (at most 9 decimals)");
		event.t_ns = *t_ns;
		event.t = static_cast<double>(*t_ns) / 1e9;
		read_op_fields(node, event);
		return event;
	}

	const OpKeys &op_keys(const YAML::Node &node, const std::string &what) const
	{
		if (!node["op"].IsDefined())
			fail(node, what + ": missing key 'op'");
		std::string text = scalar(node, "op");
		for (const OpKeys &op : kOps)
			if (op.name == text)
				return op;
		fail(node["op"], "unknown op " + quoted(text) + " (known: " + op_names() + ")");
	}

	void read_op_fields(const YAML::Node &node, Event &event) const
	{
		switch (event.op) {
		case EventOp::socket:
			event.sock = name(node, "sock");
			event.ns = name(node, "ns");
			event.proto = choose(node, "proto", kSocketProtos);
			break;
		case EventOp::bind:
			event.sock = socket_reference(node);
			event.addr = endpoint(node, "addr");
			event.reuseaddr = node["reuseaddr"].IsDefined() && boolean(node, "reuseaddr");
			event.reuseport = node["reuseport"].IsDefined() && boolean(node, "reuseport");
			break;
		case EventOp::connect:
			event.sock = socket_reference(node);
			event.peer = endpoint(node, "peer");
			if ((event.peer.address.value == 0) != (event.peer.port == 0))
				fail(node["peer"], "'peer': use \"0.0.0.0:0\" to disconnect; an address or port alone cannot be 0");
			break;
		case EventOp::listen:
			event.sock = socket_reference(node);
			event.backlog = static_cast<int>(integer(node, "backlog", 0, 65535));
			break;
		case EventOp::close:
			event.sock = socket_reference(node);
			break;
		case EventOp::link:
			event.dev = device_name(node, "dev");
			event.up = boolean(node, "up");
			break;
		case EventOp::flush:
			break;
		case EventOp::fdb:
		case EventOp::fdb_del:
			event.bridge = device_name(node, "bridge");
			event.mac = mac(node, "mac");
			if (event.op == EventOp::fdb)
				event.port = device_name(node, "port");
			if (node["dst"].IsDefined())
				event.dst = ipv4(node, "dst");
			break;
		case EventOp::vni:
			event.dev = device_name(node, "dev");
			event.vni = static_cast<std::uint32_t>(integer(node, "vni", 0, kMaxVni));
			break;
		case EventOp::netns_del:
			event.ns = name(node, "ns");
			break;
		}
	}

	// A socket's name, or a connection accepted by a listener: "<listener>/<peer ip>:<peer port>".
	std::string socket_reference(const YAML::Node &node) const
	{
		std::string sock = scalar(node, "sock");
		std::size_t slash = sock.find('/');
		if (slash == std::string::npos)
			return name(node, "sock");
		if (slash == 0 || !parse_endpoint(std::string_view(sock).substr(slash + 1)))
			fail(node["sock"], "'sock': " + quoted(sock) + " is not a socket name or \"<listener>/<peer ip>:<port>\"");
		return sock;
	}

	void check_timeline(const Scenario &scenario) const;
};

// What the timeline walk knows about each socket name at the current instant.
struct SocketState {
	std::string ns;
	SocketProto proto = SocketProto::udp;
	int declared_line = 0;
	int bound_line = 0;
	int listen_line = 0;
	int closed_line = 0;
	std::string closed_by; // "closed" or "namespace c1 deleted"
};

class TimelineChecker {
public:
	TimelineChecker(const Scenario &scenario, const std::string &file) : scenario_(scenario), file_(file) {}

	void check()
	{
		for (const Event &event : scenario_.events)
			check(event);
	}

private:
	const Scenario &scenario_;
	const std::string &file_;
	std::map<std::string, SocketState> sockets_;
	std::map<std::string, int> deleted_namespaces_; // container -> line of its netns_del

	[[noreturn]] void fail(const Event &event, const std::string &message) const
	{
		throw ScenarioError(file_, event.line, std::string(to_string(event.op)) + ": " + message);
	}

	void check(const Event &event)
	{
		switch (event.op) {
		case EventOp::socket:
			return declare_socket(event);
		case EventOp::bind: {
			SocketState &socket = live_socket(event);
			if (socket.bound_line)
				fail(event, "socket " + quoted(event.sock) + " is already bound (line " + std::to_string(socket.bound_line) + ")");
			socket.bound_line = event.line;
			return;
		}
		case EventOp::connect:
			live_socket(event);
			return;
		case EventOp::listen: {
			SocketState &socket = live_socket(event);
			if (socket.proto != SocketProto::tcp)
				fail(event, "socket " + quoted(event.sock) + " is UDP; only a TCP socket listens");
			socket.listen_line = event.line;
			return;
		}
		case EventOp::close:
			return close_socket(event);
		case EventOp::link:
			return check_device(event, event.dev);
		case EventOp::flush:
			return;
		case EventOp::fdb:
		case EventOp::fdb_del:
			return check_fdb(event);
		case EventOp::vni:
			if (!scenario_.find_vxlan(event.dev))
				fail(event, "unknown VXLAN device " + quoted(event.dev));
			return;
		case EventOp::netns_del:
			return delete_namespace(event);
		}
	}

	void check_namespace(const Event &event, const std::string &ns) const
	{
		if (ns == kHostNamespace)
			return;
		if (!scenario_.find_container(ns))
			fail(event, "unknown namespace " + quoted(ns) + " (a container's name, or \"host\")");
		if (auto deleted = deleted_namespaces_.find(ns); deleted != deleted_namespaces_.end())
			fail(event, "namespace " + quoted(ns) + " was deleted at line " + std::to_string(deleted->second));
	}

	void declare_socket(const Event &event)
	{
		check_namespace(event, event.ns);
		if (auto it = sockets_.find(event.sock); it != sockets_.end())
			fail(event, "socket name " + quoted(event.sock) + " is already used (line " +
					    std::to_string(it->second.declared_line) + "); names are unique for the whole run");
		SocketState &socket = sockets_[event.sock];
		socket.ns = event.ns;
		socket.proto = event.proto;
		socket.declared_line = event.line;
	}

	// An accepted connection exists once its listener listens; the scenario only ever closes it.
	SocketState &live_socket(const Event &event)
	{
		if (is_accepted_name(event.sock)) {
			if (event.op != EventOp::close)
				fail(event, "only close applies to an accepted connection like " + quoted(event.sock));
			std::string listener = event.sock.substr(0, event.sock.find('/'));
			auto it = sockets_.find(listener);
			if (it == sockets_.end() || !it->second.listen_line)
				fail(event, "socket " + quoted(event.sock) + " names listener " + quoted(listener) +
						    ", which has not listened by then");
			auto [accepted, added] = sockets_.try_emplace(event.sock);
			if (added) {
				accepted->second.ns = it->second.ns;
				accepted->second.proto = SocketProto::tcp;
				accepted->second.declared_line = event.line;
			}
			return live(event, accepted->second);
		}
		auto it = sockets_.find(event.sock);
		if (it == sockets_.end())
			fail(event, "socket " + quoted(event.sock) + " is used before its socket event");
		return live(event, it->second);
	}

	SocketState &live(const Event &event, SocketState &socket) const
	{
		if (socket.closed_line)
			fail(event, "socket " + quoted(event.sock) + " is used after it was " + socket.closed_by + " at line " +
					    std::to_string(socket.closed_line));
		return socket;
	}

	void close_socket(const Event &event)
	{
		SocketState &socket = live_socket(event);
		socket.closed_line = event.line;
		socket.closed_by = "closed";
	}

	void delete_namespace(const Event &event)
	{
		if (event.ns == kHostNamespace)
			fail(event, "the host namespace cannot be deleted");
		check_namespace(event, event.ns);
		deleted_namespaces_[event.ns] = event.line;
		for (auto &[name, socket] : sockets_)
			if (socket.ns == event.ns && !socket.closed_line) {
				socket.closed_line = event.line;
				socket.closed_by = "closed with namespace " + quoted(event.ns);
			}
	}

	// Host devices: the NIC, bridges, VXLAN devices, and veths until their container's netns goes.
	void check_device(const Event &event, const std::string &device) const
	{
		const Host &host = scenario_.host;
		if (device == host.nic.name || scenario_.find_bridge(device) || scenario_.find_vxlan(device))
			return;
		for (const Container &container : host.containers)
			if (container.veth == device) {
				if (auto deleted = deleted_namespaces_.find(container.name); deleted != deleted_namespaces_.end())
					fail(event, "device " + quoted(device) + " went with namespace " + quoted(container.name) +
							    " at line " + std::to_string(deleted->second));
				return;
			}
		fail(event, "unknown device " + quoted(device));
	}

	void check_fdb(const Event &event) const
	{
		const Bridge *bridge = scenario_.find_bridge(event.bridge);
		if (!bridge)
			fail(event, "unknown bridge " + quoted(event.bridge));
		if (event.op == EventOp::fdb_del)
			return;
		check_device(event, event.port);
		const VxlanDevice *vxlan = scenario_.find_vxlan(event.port);
		const Container *container = nullptr;
		for (const Container &c : scenario_.host.containers)
			if (c.veth == event.port)
				container = &c;
		bool attached = (vxlan && vxlan->bridge == event.bridge) || (container && container->bridge == event.bridge);
		if (!attached)
			fail(event, "port " + quoted(event.port) + " is not attached to bridge " + quoted(event.bridge));
		if (event.dst && !vxlan)
			fail(event, "'dst' is a remote VTEP: only an entry whose port is a VXLAN device has one");
	}
};

void ScenarioReader::check_timeline(const Scenario &scenario) const
{
	TimelineChecker(scenario, file_).check();
}

template <typename Enum, std::size_t N>
std::string_view name_in(const EnumName<Enum> (&table)[N], Enum value)
{
	for (const auto &entry : table)
		if (entry.value == value)
			return entry.name;
	return "?";
}

} // namespace

const Container *Scenario::find_container(std::string_view name) const
{
	for (const Container &container : host.containers)
		if (container.name == name)
			return &container;
	return nullptr;
}

const Bridge *Scenario::find_bridge(std::string_view name) const
{
	for (const Bridge &bridge : host.bridges)
		if (bridge.name == name)
			return &bridge;
	return nullptr;
}

const VxlanDevice *Scenario::find_vxlan(std::string_view name) const
{
	for (const VxlanDevice &vxlan : host.vxlan)
		if (vxlan.name == name)
			return &vxlan;
	return nullptr;
}

namespace {

// Where the root node of each document the parser reports is; nothing else is kept.
class DocumentRoots : public YAML::EventHandler {
public:
	std::vector<YAML::Mark> marks;

	void OnDocumentStart(const YAML::Mark &) override { in_root_ = false; }
	void OnDocumentEnd() override {}
	void OnNull(const YAML::Mark &mark, YAML::anchor_t) override { node(mark); }
	void OnAlias(const YAML::Mark &mark, YAML::anchor_t) override { node(mark); }
	void OnScalar(const YAML::Mark &mark, const std::string &, YAML::anchor_t, const std::string &) override { node(mark); }
	void OnSequenceStart(const YAML::Mark &mark, const std::string &, YAML::anchor_t, YAML::EmitterStyle::value) override { node(mark); }
	void OnSequenceEnd() override {}
	void OnMapStart(const YAML::Mark &mark, const std::string &, YAML::anchor_t, YAML::EmitterStyle::value) override { node(mark); }
	void OnMapEnd() override {}

private:
	bool in_root_ = false;

	void node(const YAML::Mark &mark)
	{
		if (!in_root_)
			marks.push_back(mark);
		in_root_ = true;
	}
};

// The root nodes of the first two documents at most. Not YAML::LoadAll: on some malformed streams
// (a lone ",") yaml-cpp 0.7's parser reports an empty document without taking the token, and
// LoadAll asks for the next one forever, its memory growing until the process dies (yaml-cpp issue
// #1040, fixed upstream after 0.7).
std::vector<YAML::Mark> first_document_roots(const std::string &text)
{
	std::istringstream in(text);
	YAML::Parser parser(in);
	DocumentRoots roots;
	for (int documents = 0; documents < 2 && parser.HandleNextDocument(roots); ++documents)
		;
	return roots.marks;
}

} // namespace

Scenario parse_scenario(const std::string &text, const std::string &file)
{
	YAML::Node root;
	std::vector<YAML::Mark> roots;
	try {
		root = YAML::Load(text); // the first document
		roots = first_document_roots(text);
	} catch (const YAML::Exception &e) {
		throw ScenarioError(file, e.mark.line >= 0 ? e.mark.line + 1 : 0, "not valid YAML or JSON: " + e.msg);
	}
	if (roots.size() > 1) {
		int line = roots[1].line >= 0 ? roots[1].line + 1 : 0;
		// A second document whose root is the first one's is the stuck parser, not a document.
		if (roots[1].pos == roots[0].pos)
			throw ScenarioError(file, line, "not valid YAML or JSON: no node can start here");
		throw ScenarioError(file, line, "a scenario is one YAML document; this is the second");
	}
	try {
		return ScenarioReader(file).read(root);
	} catch (const YAML::Exception &e) {
		// The reader checks shapes before it converts; this is the net under anything it missed.
		throw ScenarioError(file, e.mark.line >= 0 ? e.mark.line + 1 : 0, e.msg);
	}
}

Scenario load_scenario(const std::string &path)
{
	auto text = read_input_file(path);
	if (!text)
		throw ScenarioError(path, 0, "cannot open the scenario");
	return parse_scenario(*text, path);
}

ParserConfig parser_config(const Scenario &scenario)
{
	ParserConfig config;
	config.vxlan_ports.clear();
	for (const VxlanDevice &vxlan : scenario.host.vxlan)
		if (std::find(config.vxlan_ports.begin(), config.vxlan_ports.end(), vxlan.port) == config.vxlan_ports.end())
			config.vxlan_ports.push_back(vxlan.port);
	config.mtu = scenario.host.nic.mtu;
	return config;
}

std::string_view to_string(RssMode mode)
{
	return name_in(kRssModes, mode);
}

std::string_view to_string(FastpathMode mode)
{
	return name_in(kFastpathModes, mode);
}

std::string_view to_string(SocketProto proto)
{
	return name_in(kSocketProtos, proto);
}

std::string_view to_string(EventOp op)
{
	for (const OpKeys &keys : kOps)
		if (keys.op == op)
			return keys.name;
	return "?";
}

std::optional<FastpathMode> parse_fastpath_mode(std::string_view text)
{
	for (const auto &entry : kFastpathModes)
		if (entry.name == text)
			return entry.value;
	return std::nullopt;
}

} // namespace econsim::sim
