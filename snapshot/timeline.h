// Sockets along the capture: what each read of a namespace's sockets and each sock_diag destroy
// notification says, turned into scenario events with the window of time each really happened in.
// No I/O here: the capture loop feeds it, so the tests can feed it too.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "probe.h"

namespace econsim::snapshot {

// An instant the snapshot cannot place exactly: the event happened somewhere in [lo, hi]. Frames
// in that window on that port may be judged differently by the replay than by the kernel.
struct Window {
	std::int64_t lo = 0, hi = 0; // ns since the epoch, CLOCK_REALTIME
	std::uint16_t port = 0;      // the socket's local port; 0: any frame
	std::string what;
};

struct TimedEvent {
	std::int64_t t = 0; // where the scenario puts it
	std::string sock;   // the scenario socket it is about ("" for namespace events)
	std::string text;   // the YAML flow mapping without t: "op: close, sock: \"x\""
};

class Timeline {
public:
	// ns_names: the modelled namespaces (index -> "host" or container name).
	// tunnel_ports: the UDP ports of the node's VXLAN devices, whose sockets in the host namespace
	// are the devices' own (kernel sockets, which the model opens itself).
	explicit Timeline(std::map<std::size_t, std::string> ns_names, std::set<std::uint16_t> tunnel_ports = {})
		: ns_names_(std::move(ns_names)), tunnel_ports_(std::move(tunnel_ports))
	{}

	// One read of ns's sockets that began at start and ended at end. The first read of each
	// namespace is the state at the snapshot's start: its sockets exist from the beginning.
	void read(std::size_t ns, const std::vector<Sock> &socks, std::int64_t start, std::int64_t end);
	// sock_diag told that this socket was destroyed; received at t.
	void destroyed(std::size_t ns, const Sock &sock, std::int64_t t);
	// The namespace went away (its /run/netns name was removed, or its last process left) in [lo, hi].
	void namespace_gone(std::size_t ns, std::int64_t lo, std::int64_t hi);

	// The scenario events, in time order, and the windows the report flags frames in.
	struct Result {
		std::vector<TimedEvent> events;
		std::vector<Window> windows;
		std::vector<std::string> found;       // what was read and left out on purpose
		std::vector<std::string> notes;       // what could not be represented
		std::vector<std::string> missed;      // what it may have missed
		std::size_t sockets = 0, changes = 0; // sockets in the scenario, events after the start
	};
	// excluded: sockets the loader refused, left out with their events.
	Result result(const std::map<std::string, std::string> &excluded = {}) const;

	static std::string socket_name(const std::string &ns, const Sock &s);

private:
	struct Change {
		std::int64_t lo, hi;
		std::string peer; // connect: "ip:port" ("0.0.0.0:0" disconnects)
	};
	struct Tracked {
		std::size_t ns = 0;
		Sock first, sock; // as first seen, as last seen
		std::string name;
		bool initial = false;
		std::int64_t open_lo = 0, open_hi = 0;
		std::int64_t last_seen = 0; // start of the last read that saw it open
		std::optional<std::int64_t> close_lo, close_hi;
		std::string closed_by;
		std::vector<Change> connects;
		std::string listener; // an accepted TCP connection: its listener's name
		std::uint64_t order = 0;
	};
	struct NsState {
		bool read_once = false;
		std::int64_t prev_start = 0;
		std::optional<std::pair<std::int64_t, std::int64_t>> gone;
	};

	std::map<std::size_t, std::string> ns_names_;
	std::set<std::uint16_t> tunnel_ports_;
	std::map<std::pair<std::size_t, std::uint64_t>, Tracked> socks_;
	std::map<std::size_t, NsState> ns_;
	std::vector<Window> missed_windows_;
	std::vector<std::string> missed_, notes_;
	std::uint64_t order_ = 0;
};

// "1795687759.687527000": nanoseconds as the scenario writes times.
std::string time_text(std::int64_t t_ns);

} // namespace econsim::snapshot
