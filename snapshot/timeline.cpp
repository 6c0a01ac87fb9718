#include "timeline.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <set>

namespace econsim::snapshot {

namespace {

// TCP states as inet_diag reports them (include/net/tcp_states.h).
constexpr int kEstablished = 1, kSynSent = 2, kSynRecv = 3, kTimeWait = 6, kClose = 7, kListen = 10, kNewSynRecv = 12;

constexpr std::int64_t kForever = std::numeric_limits<std::int64_t>::max();

std::int64_t mid(std::int64_t lo, std::int64_t hi)
{
	return lo + (hi - lo) / 2;
}

std::string peer_of(const Sock &s)
{
	return s.remote_ip + ":" + std::to_string(s.remote_port);
}

bool connected(const Sock &s)
{
	return s.remote_port != 0 || (s.remote_ip != "0.0.0.0" && !s.remote_ip.empty());
}

} // namespace

std::string time_text(std::int64_t t_ns)
{
	char buf[40];
	snprintf(buf, sizeof(buf), "%lld.%09lld", static_cast<long long>(t_ns / 1000000000),
		 static_cast<long long>(t_ns % 1000000000));
	return buf;
}

std::string Timeline::socket_name(const std::string &ns, const Sock &s)
{
	return ns + "-" + (s.proto == Proto::udp ? "udp" : "tcp") + std::to_string(s.local_port) + "-" +
	       std::to_string(s.cookie);
}

void Timeline::read(std::size_t ns, const std::vector<Sock> &socks, std::int64_t start, std::int64_t end)
{
	if (!ns_names_.count(ns))
		return;
	NsState &st = ns_[ns];
	if (st.gone)
		return;
	bool initial = !st.read_once;
	std::set<std::uint64_t> seen;
	for (const Sock &s : socks) {
		if (s.family != AF_INET)
			continue;
		bool tcp = s.proto == Proto::tcp;
		if (tcp && (s.state == kTimeWait || s.state == kSynRecv || s.state == kNewSynRecv))
			continue;
		bool alive = !(tcp && s.inode == 0);
		auto key = std::make_pair(ns, s.cookie);
		auto it = socks_.find(key);
		if (it == socks_.end()) {
			if (!alive || (tcp && s.state == kClose && s.local_port == 0) || (tcp && s.state == kSynSent))
				continue; // closed already, unbound, or a connect still under way: next read
			Tracked t;
			t.ns = ns;
			t.first = t.sock = s;
			t.initial = initial;
			t.open_lo = initial ? start : st.prev_start;
			t.open_hi = initial ? start : end;
			t.last_seen = start;
			t.order = order_++;
			if (tcp && s.state != kListen && s.state != kClose) {
				for (const auto &[k, l] : socks_)
					if (l.ns == ns && l.sock.proto == Proto::tcp && l.sock.state == kListen &&
					    !l.close_lo && l.sock.local_port == s.local_port &&
					    (l.sock.local_ip == "0.0.0.0" || l.sock.local_ip == s.local_ip))
						t.listener = l.name;
			}
			t.name = t.listener.empty() ? socket_name(ns_names_[ns], s) : t.listener + "/" + peer_of(s);
			seen.insert(s.cookie);
			socks_.emplace(key, std::move(t));
			continue;
		}
		Tracked &t = it->second;
		if (t.close_lo)
			continue;
		seen.insert(s.cookie);
		if (!alive) {
			t.close_lo = t.last_seen;
			t.close_hi = end;
			t.closed_by = "closed by its process (orphaned)";
			continue;
		}
		if (!tcp && peer_of(s) != peer_of(t.sock))
			t.connects.push_back({t.last_seen, end, peer_of(s)});
		if (tcp && t.sock.state == kClose && s.state == kListen)
			t.connects.push_back({t.last_seen, end, "listen"});
		t.sock = s;
		t.last_seen = start;
	}
	for (auto &[key, t] : socks_) {
		if (t.ns != ns || t.close_lo || seen.count(key.second))
			continue;
		t.close_lo = t.last_seen;
		t.close_hi = end;
		t.closed_by = "gone from a read";
	}
	st.read_once = true;
	st.prev_start = start;
}

void Timeline::destroyed(std::size_t ns, const Sock &sock, std::int64_t t)
{
	if (!ns_names_.count(ns) || sock.family != AF_INET)
		return;
	NsState &st = ns_[ns];
	if (!st.read_once || st.gone)
		return;
	auto it = socks_.find({ns, sock.cookie});
	if (it != socks_.end()) {
		Tracked &tr = it->second;
		if (!tr.close_lo) {
			tr.close_lo = tr.last_seen;
			tr.close_hi = std::max(t, tr.last_seen);
			tr.closed_by = "destroy notification";
		}
		return;
	}
	if (sock.proto == Proto::tcp && !(sock.state == kListen || sock.state == kClose || sock.state == kEstablished))
		return; // the end of a connection's close sequence: the handshake and FINs are in the capture
	missed_.push_back(ns_names_[ns] + ": " + sock.key() + " (cookie " + std::to_string(sock.cookie) +
			  ") opened and closed between two reads, in " + time_text(st.prev_start) + " .. " +
			  time_text(t) + "; not in the scenario");
	missed_windows_.push_back({st.prev_start, t, sock.local_port, "a socket between two reads: " + sock.key()});
}

void Timeline::namespace_gone(std::size_t ns, std::int64_t lo, std::int64_t hi)
{
	NsState &st = ns_[ns];
	if (st.gone || ns_names_[ns] == "host")
		return;
	st.gone = {lo, hi};
	for (auto &[key, t] : socks_)
		if (t.ns == ns && !t.close_lo) {
			t.close_lo = lo;
			t.close_hi = hi;
			t.closed_by = "namespace deleted";
		}
}

Timeline::Result Timeline::result(const std::map<std::string, std::string> &excluded) const
{
	Result r;
	r.notes = notes_;
	r.missed = missed_;
	r.windows = missed_windows_;

	std::vector<const Tracked *> order;
	for (const auto &[key, t] : socks_)
		order.push_back(&t);
	std::sort(order.begin(), order.end(), [](auto a, auto b) { return a->order < b->order; });

	// Which sockets go in, and over what times they hold their port.
	struct Emit {
		const Tracked *t;
		std::int64_t open, close;
		bool reuseport = false;
	};
	std::vector<Emit> emit;
	std::size_t kernel_socks = 0;
	for (const Tracked *t : order) {
		if (excluded.count(t->name))
			continue;
		const Sock &s = t->first;
		bool tcp = s.proto == Proto::tcp;
		std::int64_t open = t->initial ? t->open_lo : mid(t->open_lo, t->open_hi);
		std::int64_t close = t->close_lo ? mid(*t->close_lo, *t->close_hi) : kForever;
		if (!tcp && (s.inode == 0 || (ns_names_.at(t->ns) == "host" && tunnel_ports_.count(s.local_port) &&
					      s.remote_port == 0))) {
			kernel_socks++; // a tunnel's own socket (VXLAN's): the model has the devices' sockets itself
			continue;
		}
		if (!t->listener.empty() && t->initial) {
			r.notes.push_back(
				ns_names_.at(t->ns) + ": TCP connection " + s.key() +
				" was accepted before the snapshot began; the model knows accepted connections "
				"from their handshake only, so its segments meet the listener's rules");
			r.windows.push_back({std::numeric_limits<std::int64_t>::min(), close, s.local_port,
					     "connection accepted before the snapshot: " + s.key()});
			continue;
		}
		if (tcp && t->listener.empty() && t->first.state != kListen && t->first.state != kClose &&
		    t->first.state != kEstablished) {
			r.notes.push_back(ns_names_.at(t->ns) + ": TCP " + s.key() + " in state " +
					  std::to_string(s.state) +
					  " at the snapshot: the scenario has no such state; left out");
			continue;
		}
		emit.push_back({t, open, close});
	}
	if (kernel_socks)
		r.found.push_back(
			std::to_string(kernel_socks) +
			" UDP sockets of the VXLAN devices themselves (on their ports in the node's namespace) or "
			"of other tunnels are not scenario sockets: the model opens the devices' own");

	// inet_diag does not say whether SO_REUSEADDR or SO_REUSEPORT was set. Two sockets can only
	// hold one port at once with one of them on both: reuseport is assumed, as services that share
	// a port use it (SO_REUSEADDR sharing of UDP, where the newest socket takes all, is rare).
	std::map<std::tuple<std::size_t, Proto, std::uint16_t>, std::vector<std::size_t>> by_port;
	for (std::size_t i = 0; i < emit.size(); i++)
		if (emit[i].t->listener.empty())
			by_port[{emit[i].t->ns, emit[i].t->sock.proto, emit[i].t->sock.local_port}].push_back(i);
	for (const auto &[key, members] : by_port) {
		std::vector<std::string> shared;
		for (std::size_t a = 0; a < members.size(); a++)
			for (std::size_t b = a + 1; b < members.size(); b++) {
				Emit &x = emit[members[a]], &y = emit[members[b]];
				if (x.open < y.close && y.open < x.close) {
					x.reuseport = y.reuseport = true;
				}
			}
		for (std::size_t m : members)
			if (emit[m].reuseport)
				shared.push_back(emit[m].t->name);
		if (!shared.empty())
			r.notes.push_back("sockets sharing a port at once, taken as SO_REUSEPORT (inet_diag does not "
					  "show the option): " +
					  [&] {
						  std::string s;
						  for (const std::string &n : shared)
							  s += (s.empty() ? "" : ", ") + n;
						  return s;
					  }());
	}

	for (const Emit &e : emit) {
		const Tracked &t = *e.t;
		const Sock &s = t.first;
		std::string sock = "sock: \"" + t.name + "\"";
		const std::string &nsname = ns_names_.at(t.ns);
		if (!t.initial)
			r.windows.push_back({t.open_lo, t.open_hi, s.local_port, "opened: " + t.name});
		if (t.listener.empty()) {
			r.sockets++;
			r.events.push_back({e.open, t.name,
					    "op: socket, " + sock + ", ns: " + nsname +
						    ", proto: " + (s.proto == Proto::udp ? "udp" : "tcp")});
			// A UDP socket connected when first seen has the local address connect() chose; unless
			// it was bound to it (which the kernel does not show), it was bound to the wildcard.
			bool udp_connected = s.proto == Proto::udp && connected(s);
			std::string local = udp_connected ? "0.0.0.0" : s.local_ip;
			r.events.push_back(
				{e.open, t.name,
				 "op: bind, " + sock + ", addr: \"" + local + ":" + std::to_string(s.local_port) +
					 "\", reuseaddr: false, reuseport: " + (e.reuseport ? "true" : "false")});
			if (connected(s) && (s.proto == Proto::udp || s.state == kEstablished))
				r.events.push_back(
					{e.open, t.name, "op: connect, " + sock + ", peer: \"" + peer_of(s) + "\""});
			if (s.proto == Proto::tcp && s.state == kListen)
				r.events.push_back({e.open, t.name,
						    "op: listen, " + sock + ", backlog: " + std::to_string(s.backlog)});
		}
		for (const Change &c : t.connects) {
			std::int64_t at = mid(c.lo, c.hi);
			r.windows.push_back(
				{c.lo, c.hi, s.local_port, (c.peer == "listen" ? "listen: " : "connect: ") + t.name});
			r.changes++;
			if (c.peer == "listen")
				r.events.push_back(
					{at, t.name,
					 "op: listen, " + sock + ", backlog: " + std::to_string(t.sock.backlog)});
			else
				r.events.push_back({at, t.name, "op: connect, " + sock + ", peer: \"" + c.peer + "\""});
		}
		if (t.close_lo && t.closed_by != "namespace deleted") {
			r.events.push_back({e.close, t.name, "op: close, " + sock});
			r.windows.push_back(
				{*t.close_lo, *t.close_hi, s.local_port, "closed (" + t.closed_by + "): " + t.name});
			r.changes++;
		}
		if (!t.initial)
			r.changes++;
	}
	for (const auto &[ns, st] : ns_)
		if (st.gone && !excluded.count("ns:" + ns_names_.at(ns))) {
			r.events.push_back(
				{mid(st.gone->first, st.gone->second), "", "op: netns_del, ns: " + ns_names_.at(ns)});
			r.windows.push_back(
				{st.gone->first, st.gone->second, 0, "namespace deleted: " + ns_names_.at(ns)});
			r.changes++;
		}
	std::stable_sort(r.events.begin(), r.events.end(),
			 [](const TimedEvent &a, const TimedEvent &b) { return a.t < b.t; });
	return r;
}

} // namespace econsim::snapshot
