// The scenario's events: each op, the keys it takes and their values; the time of each as
// exact nanoseconds.
#include "scenario_reader.h"

#include <limits>

namespace econsim::sim::scenario_reader {

namespace {

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
	{EventOp::sysctl, "sysctl", {}, {"ip_forward", "rp_filter"}},
	{EventOp::route, "route", {"dst", "dev"}, {"via", "scope", "src", "proto", "onlink"}},
	{EventOp::route_del, "route_del", {"dst"}, {}},
	{EventOp::neigh, "neigh", {"ip", "mac", "dev"}, {}},
};

std::string op_names()
{
	std::string names;
	for (const OpKeys &op : kOps)
		names += (names.empty() ? "" : ", ") + std::string(op.name);
	return names;
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

// A socket's name, or a connection accepted by a listener: "<listener>/<peer ip>:<peer port>".
std::string socket_reference(const FieldReader &in, const YAML::Node &node)
{
	std::string sock = in.scalar(node, "sock");
	std::size_t slash = sock.find('/');
	if (slash == std::string::npos)
		return in.name(node, "sock");
	if (slash == 0 || !parse_endpoint(std::string_view(sock).substr(slash + 1)))
		in.fail(node["sock"], "'sock': " + quoted(sock) + " is not a socket name or \"<listener>/<peer ip>:<port>\"");
	return sock;
}

void read_op_fields(const FieldReader &in, const YAML::Node &node, Event &event)
{
	switch (event.op) {
	case EventOp::socket:
		event.sock = in.name(node, "sock");
		event.ns = in.name(node, "ns");
		event.proto = in.choose(node, "proto", kSocketProtos);
		break;
	case EventOp::bind:
		event.sock = socket_reference(in, node);
		event.addr = in.endpoint(node, "addr");
		event.reuseaddr = node["reuseaddr"].IsDefined() && in.boolean(node, "reuseaddr");
		event.reuseport = node["reuseport"].IsDefined() && in.boolean(node, "reuseport");
		break;
	case EventOp::connect:
		event.sock = socket_reference(in, node);
		event.peer = in.endpoint(node, "peer");
		if ((event.peer.address.value == 0) != (event.peer.port == 0))
			in.fail(node["peer"], "'peer': use \"0.0.0.0:0\" to disconnect; an address or port alone cannot be 0");
		break;
	case EventOp::listen:
		event.sock = socket_reference(in, node);
		event.backlog = static_cast<int>(in.integer(node, "backlog", 0, 65535));
		break;
	case EventOp::close:
		event.sock = socket_reference(in, node);
		break;
	case EventOp::link:
		event.dev = in.device_name(node, "dev");
		event.up = in.boolean(node, "up");
		break;
	case EventOp::flush:
		break;
	case EventOp::fdb:
	case EventOp::fdb_del:
		event.bridge = in.device_name(node, "bridge");
		event.mac = in.mac(node, "mac");
		if (event.op == EventOp::fdb)
			event.port = in.device_name(node, "port");
		if (node["dst"].IsDefined())
			event.dst = in.ipv4(node, "dst");
		break;
	case EventOp::vni:
		event.dev = in.device_name(node, "dev");
		event.vni = static_cast<std::uint32_t>(in.integer(node, "vni", 0, kMaxVni));
		break;
	case EventOp::netns_del:
		event.ns = in.name(node, "ns");
		break;
	case EventOp::sysctl:
		if (node["ip_forward"].IsDefined())
			event.ip_forward = in.boolean(node, "ip_forward");
		if (node["rp_filter"].IsDefined())
			event.rp_filter = static_cast<int>(in.integer(node, "rp_filter", 0, 2));
		if (!event.ip_forward && !event.rp_filter)
			in.fail(node, "sysctl: give 'ip_forward', 'rp_filter' or both");
		break;
	case EventOp::route:
		event.route = route_fields(in, node);
		break;
	case EventOp::route_del:
		event.route.dst = route_destination(in, node);
		break;
	case EventOp::neigh:
		event.neighbour = neighbour_fields(in, node);
		break;
	}
}

const OpKeys &op_keys(const FieldReader &in, const YAML::Node &node, const std::string &what)
{
	if (!node["op"].IsDefined())
		in.fail(node, what + ": missing key 'op'");
	std::string text = in.scalar(node, "op");
	for (const OpKeys &op : kOps)
		if (op.name == text)
			return op;
	in.fail(node["op"], "unknown op " + quoted(text) + " (known: " + op_names() + ")");
}

Event read_event(const FieldReader &in, const YAML::Node &node, const std::string &what)
{
	if (!node.IsMap())
		in.fail(node, what + " must be a mapping");
	Event event;
	event.line = line_of(node);
	const OpKeys &op = op_keys(in, node, what);
	std::string op_what = what + " (" + std::string(op.name) + ")";
	std::vector<std::string_view> required{"t", "op"};
	required.insert(required.end(), op.required.begin(), op.required.end());
	in.expect_keys(node, op_what, required, op.optional);
	event.op = op.op;
	std::string t = in.scalar(node, "t");
	auto t_ns = parse_seconds(t);
	if (!t_ns)
		in.fail(node["t"], "'t': " + quoted(t) + " is not a time in seconds like 1764150000.000100 (at most 9 decimals)");
	event.t_ns = *t_ns;
	event.t = static_cast<double>(*t_ns) / 1e9;
	read_op_fields(in, node, event);
	return event;
}

} // namespace

std::vector<Event> read_events(const FieldReader &in, const YAML::Node &list)
{
	std::vector<Event> events;
	in.for_each_in_list(list, "events",
			 [&](const YAML::Node &item, const std::string &what) { events.push_back(read_event(in, item, what)); });
	return events;
}

} // namespace econsim::sim::scenario_reader

namespace econsim::sim {

std::string_view to_string(EventOp op)
{
	for (const scenario_reader::OpKeys &keys : scenario_reader::kOps)
		if (keys.op == op)
			return keys.name;
	return "?";
}

} // namespace econsim::sim
