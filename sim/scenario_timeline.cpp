// The scenario's timeline walked once in time order, as the replay will apply it: every socket
// used between its socket event and its close (or its namespace's deletion), every device,
// bridge and namespace an event names known at that instant.
#include "scenario_reader.h"

#include <map>

namespace econsim::sim::scenario_reader {

namespace {

bool is_accepted_name(std::string_view sock)
{
	return sock.find('/') != std::string_view::npos;
}

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
	explicit TimelineChecker(const Scenario &scenario) : scenario_(scenario) {}

	void check()
	{
		for (const Event &event : scenario_.events)
			check(event);
	}

private:
	const Scenario &scenario_;
	std::map<std::string, SocketState> sockets_;
	std::map<std::string, int> deleted_namespaces_; // container -> line of its netns_del

	[[noreturn]] void fail(const Event &event, const std::string &message) const
	{
		throw ScenarioError(scenario_.file, event.line, std::string(to_string(event.op)) + ": " + message);
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
		case EventOp::sysctl:
		case EventOp::route_del: // the model refuses a route that is not there
			return;
		case EventOp::route:
			return check_device(event, event.route.dev);
		case EventOp::neigh:
			return check_device(event, event.neighbour.dev);
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

} // namespace

void check_timeline(const Scenario &scenario)
{
	TimelineChecker(scenario).check();
}

} // namespace econsim::sim::scenario_reader
