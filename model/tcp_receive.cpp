// net/ipv4/tcp_ipv4.c: tcp_v4_rcv: where a segment ends, and what it changes. The model has no
// sequence numbers: every segment is taken to be in window, with the sequence and acknowledgment
// numbers the receiver expects (see README).
#include <algorithm>

#include "model/sockets.h"

namespace econsim::model {

const char *to_string(TcpEvent event)
{
	switch (event) {
	case TcpEvent::no_socket: return "no_socket";
	case TcpEvent::request_created: return "request_created";
	case TcpEvent::syn_retransmitted: return "syn_retransmitted";
	case TcpEvent::child_created: return "child_created";
	case TcpEvent::request_reset: return "request_reset";
	case TcpEvent::request_needs_ack: return "request_needs_ack";
	case TcpEvent::listener_needs_syn: return "listener_needs_syn";
	case TcpEvent::syn_fin_dropped: return "syn_fin_dropped";
	case TcpEvent::connection_established: return "connection_established";
	case TcpEvent::delivered: return "delivered";
	case TcpEvent::fin_received: return "fin_received";
	case TcpEvent::socket_reset: return "socket_reset";
	case TcpEvent::challenge_ack: return "challenge_ack";
	case TcpEvent::not_acceptable: return "not_acceptable";
	}
	return "?";
}

namespace {

bool is_delivery(TcpEvent event)
{
	switch (event) {
	case TcpEvent::request_created:
	case TcpEvent::child_created:
	case TcpEvent::connection_established:
	case TcpEvent::delivered:
	case TcpEvent::fin_received: return true;
	default: return false;
	}
}

TcpResult make_result(TcpEvent event, std::string socket, std::string explanation, bool rst_sent = false)
{
	TcpResult result;
	result.event = event;
	result.delivered = is_delivery(event);
	result.socket = std::move(socket);
	result.drop_reason = result.delivered ? "" : to_string(event);
	result.rst_sent = rst_sent;
	result.explanation = std::move(explanation);
	return result;
}

std::string flags_text(TcpFlags flags)
{
	std::string text;
	for (auto [set, name] : {std::pair{flags.syn, "S"}, {flags.ack, "."}, {flags.fin, "F"}, {flags.rst, "R"}})
		if (set)
			text += name;
	return text.empty() ? "none" : text;
}

// How an explanation names the segment: "tcp [S.] 10.0.0.1:1 > 10.0.0.2:2 in c1".
std::string segment_text(TcpFlags flags, const FourTuple &packet, std::string_view ns)
{
	return "tcp [" + flags_text(flags) + "] " + to_string(packet) + " in " + std::string(ns);
}

} // namespace

// tcp_v4_rcv: __inet_lookup_skb looks in the established hash first (full sockets and request
// socks alike), then for a listener.
TcpResult Sockets::tcp_receive(std::string_view ns, const FourTuple &packet, TcpFlags flags)
{
	const TupleKey key{std::string(ns), packet};
	TcpResult result;
	if (auto it = tcp_established_.find(key); it != tcp_established_.end())
		result = tcp_receive_on_full_socket(*find_mutable(it->second), key, flags);
	else if (tcp_requests_.contains(key))
		result = tcp_receive_on_request(key, flags);
	else
		result = tcp_receive_on_listener(key, flags);
	result.explanation = segment_text(flags, packet, ns) + ": " + result.explanation;
	return result;
}

TcpResult Sockets::tcp_receive_on(std::string_view name, std::string_view ns, const FourTuple &packet, TcpFlags flags)
{
	const TupleKey key{std::string(ns), packet};
	auto it = tcp_established_.find(key);
	Socket *socket = find_mutable(name);
	TcpResult result;
	if (socket && it != tcp_established_.end() && it->second == name)
		result = tcp_receive_on_full_socket(*socket, key, flags);
	else
		result = make_result(TcpEvent::delivered, std::string(name),
				     std::string(name) + " no longer holds this 4-tuple: the given socket was stale");
	result.explanation = segment_text(flags, packet, ns) + " on the given socket: " + result.explanation;
	return result;
}

const Socket *Sockets::tcp_established(std::string_view ns, const FourTuple &packet) const
{
	auto it = tcp_established_.find(TupleKey{std::string(ns), packet});
	return it == tcp_established_.end() ? nullptr : find(it->second);
}

const Socket *Sockets::tcp_request_owner(std::string_view ns, const FourTuple &packet) const
{
	auto it = tcp_requests_.find(TupleKey{std::string(ns), packet});
	return it == tcp_requests_.end() ? nullptr : find(it->second);
}

// inet_hashtables.c: __inet_lookup_listener: inet_lhash2_lookup on the destination address, then
// on 0.0.0.0. compute_score is the same for every listener on one address and port (no device
// binding; listeners never get sk_incoming_cpu), so the first one in the chain (the newest) wins,
// or hands the answer to its reuseport group (inet_lookup_reuseport). Returns the listener, or
// the group's members, or nothing.
std::vector<const Socket *> Sockets::tcp_listener_lookup(std::string_view ns, const FourTuple &packet,
							 std::string &explanation) const
{
	std::vector<const Socket *> chain = holding_port(ns, Protocol::tcp, packet.destination.port);
	std::erase_if(chain, [](const Socket *s) { return s->state != SocketState::listen; });
	std::sort(chain.begin(), chain.end(),
		  [](const Socket *a, const Socket *b) { return a->lookup_sequence > b->lookup_sequence; });
	for (const Ipv4Address wanted : {packet.destination.address, any_address}) {
		for (const Socket *listener : chain) {
			if (listener->bound_address != wanted)
				continue;
			explanation = "__inet_lookup_listener: " + listener->name + " listens on " +
				      to_string(listener->local());
			const ReuseportGroup *group = group_of(*listener);
			if (!group)
				return {listener};
			std::vector<const Socket *> members;
			for (const std::string &name : group->members)
				members.push_back(find(name));
			explanation += ", SO_REUSEPORT group picks a member by hash";
			return members;
		}
	}
	explanation = "no established socket, request or listener";
	return {};
}

// tcp_input.c: tcp_rcv_state_process, case TCP_LISTEN (reached through tcp_v4_do_rcv).
TcpResult Sockets::tcp_receive_on_listener(const TupleKey &key, TcpFlags flags)
{
	std::string explanation;
	const std::vector<const Socket *> listeners = tcp_listener_lookup(key.ns, key.packet, explanation);
	if (listeners.empty()) // no_tcp_socket: tcp_v4_send_reset, which never answers a RST
		return make_result(TcpEvent::no_socket, "", explanation + " (RST sent unless RST)", !flags.rst);

	// The kernel's pick among a group's members is a hash with a per-boot secret; the model takes
	// the member that joined first, so that child names are stable (README).
	const Socket &listener = *listeners.front();
	TcpResult result;
	if (flags.ack)
		result = make_result(TcpEvent::listener_needs_syn, listener.name,
				     explanation + "; ACK at a listener: RST", !flags.rst);
	else if (flags.rst)
		result = make_result(TcpEvent::listener_needs_syn, listener.name,
				     explanation + "; RST at a listener: dropped");
	else if (flags.syn && flags.fin)
		result = make_result(TcpEvent::syn_fin_dropped, listener.name, explanation + "; SYN+FIN: dropped");
	else if (flags.syn) {
		tcp_requests_[key] = listener.name; // tcp_conn_request → inet_csk_reqsk_queue_hash_add
		result = make_result(TcpEvent::request_created, listener.name,
				     explanation + "; SYN: request sock (TCP_NEW_SYN_RECV) for " + listener.name);
	} else
		result = make_result(TcpEvent::listener_needs_syn, listener.name, explanation + "; no SYN: dropped");
	if (listeners.size() > 1 || group_of(listener))
		for (const Socket *member : listeners)
			result.reuseport_group.push_back(member->name);
	return result;
}

// tcp_minisocks.c: tcp_check_req, for a segment that found a request sock (TCP_NEW_SYN_RECV).
TcpResult Sockets::tcp_receive_on_request(const TupleKey &key, TcpFlags flags)
{
	const std::string listener_name = tcp_requests_.at(key);
	const std::string explanation = "request sock of " + listener_name;
	if (flags.syn && !flags.ack && !flags.rst) // seq == rcv_isn && flg == TCP_FLAG_SYN
		return make_result(TcpEvent::syn_retransmitted, listener_name,
				   explanation + ": SYN again, SYN-ACK resent");
	if (flags.rst) { // embryonic_reset: the request goes, no RST answers a RST
		tcp_requests_.erase(key);
		return make_result(TcpEvent::request_reset, listener_name, explanation + ": RST, request dropped");
	}
	if (!flags.ack)
		return make_result(TcpEvent::request_needs_ack, listener_name, explanation + ": no ACK, dropped");

	// A SYN with the ACK has seq == rcv_isn, so tcp_check_req truncates the SYN: a bare ACK.
	// The ACK completes the handshake: tcp_v4_syn_recv_sock makes the child, which takes the
	// 4-tuple in the established hash (inet_ehash_nolisten) and processes the segment.
	const Socket &listener = *find(listener_name);
	tcp_requests_.erase(key);
	const std::string child_name = accept_child(listener, key);
	Socket &child = *find_mutable(child_name);
	if (flags.fin)
		child.state = SocketState::close_wait;
	return make_result(TcpEvent::child_created, child_name,
			   explanation + ": handshake complete, child " + child_name +
				   (flags.fin ? " (FIN too: CLOSE_WAIT)" : ""));
}

// inet_connection_sock.c: inet_csk_clone_lock via tcp_create_openreq_child: the child copies the
// listener (socket options, bind locks), takes the request's addresses, leaves the reuseport group
// behind (sk_clone_lock clears sk_reuseport_cb), and shares the listener's port
// (__inet_inherit_port). Named "<listener>/<peer ip>:<peer port>"; should that name have been used
// already (the same peer port again), "#2", "#3", ... is appended.
std::string Sockets::accept_child(const Socket &listener, const TupleKey &key)
{
	const std::string base = listener.name + "/" + to_string(key.packet.source);
	std::string name = base;
	for (int n = 2; sockets_.contains(name) || closed_names_.contains(name); ++n)
		name = base + "#" + std::to_string(n);

	Socket child{.name = name, .ns = key.ns, .protocol = Protocol::tcp, .origin = SocketOrigin::tcp_accept};
	child.reuseaddr = listener.reuseaddr;
	child.reuseport = listener.reuseport;
	child.bound_address = key.packet.destination.address;
	child.address_locked = listener.address_locked;
	child.port_locked = listener.port_locked;
	child.peer = key.packet.source;
	child.state = SocketState::established;
	Socket &stored = store(std::move(child));
	hold_port(stored, key.packet.destination.port);
	tcp_established_[key] = name;
	return name;
}

// tcp_input.c: tcp_rcv_synsent_state_process for SYN_SENT; tcp_validate_incoming (RST first, then
// SYN) and the FIN handling of tcp_rcv_established / tcp_rcv_state_process otherwise.
TcpResult Sockets::tcp_receive_on_full_socket(Socket &socket, const TupleKey &key, TcpFlags flags)
{
	std::string explanation = "__inet_lookup_established: " + socket.name + " (" + to_string(socket.state) + ")";
	auto reset = [&]() { // tcp_reset → tcp_done: TCP_CLOSE, unhashed; the port stays if bind() named it
		tcp_established_.erase(key);
		socket.state = SocketState::closed;
		if (!socket.port_locked)
			release_port(socket);
		return make_result(TcpEvent::socket_reset, socket.name, explanation + ": RST, socket reset");
	};

	if (socket.state == SocketState::syn_sent) {
		if (flags.ack && flags.rst)
			return reset(); // connection refused
		if (flags.ack && flags.syn) {
			socket.state = SocketState::established;
			return make_result(TcpEvent::connection_established, socket.name,
					   explanation + ": SYN-ACK, established");
		}
		if (flags.syn && !flags.rst) {
			// Simultaneous open: the kernel goes to SYN_RECV and answers SYN-ACK; the model counts it
			// as established at once.
			socket.state = SocketState::established;
			return make_result(TcpEvent::connection_established, socket.name,
					   explanation + ": SYN (simultaneous open)");
		}
		return make_result(TcpEvent::not_acceptable, socket.name, explanation + ": no SYN-ACK, dropped");
	}

	if (flags.rst)
		return reset();
	if (flags.syn)
		return make_result(TcpEvent::challenge_ack, socket.name,
				   explanation + ": SYN, challenge ACK (RFC 5961)");
	if (!flags.ack)
		return make_result(TcpEvent::not_acceptable, socket.name, explanation + ": no ACK, dropped");
	if (flags.fin && socket.state == SocketState::established) {
		socket.state = SocketState::close_wait; // tcp_fin; the socket stays until the application closes it
		return make_result(TcpEvent::fin_received, socket.name, explanation + ": FIN, CLOSE_WAIT");
	}
	return make_result(TcpEvent::delivered, socket.name, explanation + ": delivered");
}

} // namespace econsim::model
