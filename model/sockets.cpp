// The socket calls: socket, bind, connect, listen, close, and the port and group bookkeeping they
// share. The lookups are in udp_lookup.cpp and tcp_receive.cpp.
#include "model/sockets.h"

#include <algorithm>

#include "model/port_conflict.h"

namespace econsim::model {

const char *to_string(SocketState state)
{
	switch (state) {
	case SocketState::closed: return "closed";
	case SocketState::listen: return "listen";
	case SocketState::syn_sent: return "syn_sent";
	case SocketState::established: return "established";
	case SocketState::close_wait: return "close_wait";
	}
	return "?";
}

Sockets::Sockets(const Topology &topology) : topology_(topology) {}

// ---- the table ---------------------------------------------------------------------------------

const Socket *Sockets::find(std::string_view name) const
{
	auto it = by_name_.find(name);
	return it == by_name_.end() ? nullptr : it->second;
}

Socket *Sockets::find_mutable(std::string_view name)
{
	auto it = by_name_.find(name);
	return it == by_name_.end() ? nullptr : it->second;
}

Socket &Sockets::store(Socket socket)
{
	std::string name = socket.name;
	const auto stored = sockets_.emplace(std::move(name), std::move(socket)).first;
	by_name_.emplace(stored->first, &stored->second);
	return stored->second;
}

std::vector<const Socket *> Sockets::all() const
{
	std::vector<const Socket *> list;
	for (const auto &[_, socket] : sockets_)
		list.push_back(&socket);
	return list;
}

bool Sockets::was_closed(std::string_view name) const
{
	return closed_names_.contains(name);
}

const ReuseportGroup *Sockets::group_of(const Socket &socket) const
{
	return socket.reuseport_group ? &groups_.at(*socket.reuseport_group) : nullptr;
}

// The sockets holding a port, newest bind first: the order of the kernel's per-port chain
// (sk_add_node_rcu adds at the head).
std::vector<const Socket *> Sockets::holding_port(std::string_view ns, Protocol protocol, std::uint16_t port) const
{
	std::vector<const Socket *> holders;
	auto it = port_holders_.find(PortKey{std::string(ns), protocol, port});
	if (it == port_holders_.end())
		return holders;
	for (const std::string &name : it->second)
		holders.push_back(find(name));
	std::sort(holders.begin(), holders.end(),
		  [](const Socket *a, const Socket *b) { return a->bind_sequence > b->bind_sequence; });
	return holders;
}

// ---- socket(2), bind(2) ------------------------------------------------------------------------

Error Sockets::create(const std::string &name, std::string_view ns, Protocol protocol)
{
	if (sockets_.contains(name) || closed_names_.contains(name))
		return Error::socket_name_taken;
	if (!topology_.has_namespace(ns))
		return Error::unknown_namespace;
	store(Socket{.name = name, .ns = std::string(ns), .protocol = protocol});
	return Error::none;
}

// af_inet.c: __inet_bind, in its order: the address, then the socket's state, then the port.
Error Sockets::bind(std::string_view name, Endpoint local, BindOptions options)
{
	Socket *socket = find_mutable(name);
	if (!socket || socket->origin == SocketOrigin::vxlan_device)
		return Error::unknown_socket;
	socket->reuseaddr = options.reuseaddr;
	socket->reuseport = options.reuseport;

	// inet_addr_valid_or_nonlocal: 0.0.0.0, or an RTN_LOCAL, RTN_BROADCAST or RTN_MULTICAST address.
	if (!local.address.is_any() && topology_.address_type(socket->ns, local.address) == AddressType::remote)
		return Error::address_not_available;
	if (socket->state != SocketState::closed || socket->holds_port())
		return Error::invalid_argument;

	socket->bound_address = local.address;
	const Error taken = local.port ? take_port(*socket, local.port) : take_ephemeral_port(*socket);
	if (taken != Error::none) {
		socket->bound_address = any_address;
		return Error::address_in_use; // both get_port functions fail with -EADDRINUSE
	}
	socket->address_locked = !local.address.is_any();
	socket->port_locked = local.port != 0;
	socket->peer.reset();
	if (socket->protocol == Protocol::udp)
		reindex_udp_port(socket->ns, socket->port);
	return Error::none;
}

// ---- ports -------------------------------------------------------------------------------------

bool Sockets::port_conflicts(const Socket &socket, std::uint16_t port, bool ephemeral) const
{
	const TcpPortCheck check = ephemeral ? TcpPortCheck::ephemeral_port : TcpPortCheck::named_port;
	for (const Socket *owner : holding_port(socket.ns, socket.protocol, port)) {
		const bool conflict = socket.protocol == Protocol::udp ? udp_port_conflict(socket, *owner)
								       : tcp_port_conflict(socket, *owner, check);
		if (conflict)
			return true;
	}
	return false;
}

// udp_lib_get_port / inet_csk_get_port with a port number.
Error Sockets::take_port(Socket &socket, std::uint16_t port)
{
	if (port_conflicts(socket, port, false))
		return Error::address_in_use;
	hold_port(socket, port);
	return Error::none;
}

// udp_lib_get_port / inet_csk_find_open_port with port 0. The kernel starts at a random offset
// (and TCP prefers odd ports); the model takes the lowest free port, so that runs repeat.
Error Sockets::take_ephemeral_port(Socket &socket)
{
	for (std::uint32_t port = ephemeral_port_low; port <= ephemeral_port_high; ++port) {
		if (!port_conflicts(socket, static_cast<std::uint16_t>(port), true)) {
			hold_port(socket, static_cast<std::uint16_t>(port));
			return Error::none;
		}
	}
	return Error::no_free_port;
}

// A UDP socket that takes a port is hashed at once, in both chains (udp_lib_get_port: found:),
// and joins a reuseport group then. A TCP socket only enters the bind bucket; it is hashed for
// lookups by listen() or connect().
void Sockets::hold_port(Socket &socket, std::uint16_t port)
{
	socket.port = port;
	socket.bind_sequence = next_sequence();
	if (socket.protocol == Protocol::udp) {
		socket.lookup_sequence = socket.bind_sequence;
		if (socket.reuseport)
			join_udp_reuseport_group(socket);
	}
	port_holders_[PortKey{socket.ns, socket.protocol, port}].insert(socket.name);
}

// udp_lib_unhash / inet_put_port.
void Sockets::release_port(Socket &socket)
{
	leave_reuseport_group(socket);
	auto it = port_holders_.find(PortKey{socket.ns, socket.protocol, socket.port});
	if (it != port_holders_.end()) {
		it->second.erase(socket.name);
		if (it->second.empty())
			port_holders_.erase(it);
	}
	socket.port = 0;
}

// ---- reuseport groups --------------------------------------------------------------------------

// udp.c: udp_reuseport_add_sock: join the group of the newest socket on the port that has
// SO_REUSEPORT and exactly the same address. reuseport_add_sock makes a group for that socket
// first if it has none (it left its group when a connect() rehashed it).
void Sockets::join_udp_reuseport_group(Socket &socket)
{
	for (const Socket *other : holding_port(socket.ns, Protocol::udp, socket.port)) {
		if (other == &socket || !other->reuseport || other->bound_address != socket.bound_address)
			continue;
		Socket &leader = *find_mutable(other->name);
		if (!leader.reuseport_group)
			leader.reuseport_group = groups_.create(leader.name);
		groups_.add(*leader.reuseport_group, socket.name);
		socket.reuseport_group = leader.reuseport_group;
		return;
	}
	socket.reuseport_group = groups_.create(socket.name); // reuseport_alloc
}

// inet_hashtables.c: inet_reuseport_add_sock: join the group of the newest listener with
// SO_REUSEPORT on the same port and exactly the same address.
void Sockets::join_tcp_reuseport_group(Socket &socket)
{
	const Socket *newest = nullptr;
	for (const Socket *other : holding_port(socket.ns, Protocol::tcp, socket.port)) {
		if (other == &socket || other->state != SocketState::listen || !other->reuseport ||
		    other->bound_address != socket.bound_address || !other->reuseport_group)
			continue;
		if (!newest || other->lookup_sequence > newest->lookup_sequence)
			newest = other;
	}
	if (!newest) {
		socket.reuseport_group = groups_.create(socket.name);
		return;
	}
	groups_.add(*newest->reuseport_group, socket.name);
	socket.reuseport_group = newest->reuseport_group;
}

void Sockets::leave_reuseport_group(Socket &socket)
{
	if (!socket.reuseport_group)
		return;
	groups_.detach(*socket.reuseport_group, socket.name);
	socket.reuseport_group.reset();
}

// udp.c: udp_lib_rehash, after inet_rcv_saddr changed (or was reset). A socket in a reuseport
// group always leaves it, even when its hash2 slot stays the same; a new address puts it at the
// head of the new chain. (Should old and new slot collide, the kernel leaves it in place; the
// model ignores that 1-in-table-size case.)
void Sockets::rehash_udp(Socket &socket, Ipv4Address old_address)
{
	leave_reuseport_group(socket);
	if (socket.bound_address != old_address)
		socket.lookup_sequence = next_sequence();
}

// ---- connect(2) --------------------------------------------------------------------------------

Error Sockets::connect(std::string_view name, Endpoint peer)
{
	Socket *socket = find_mutable(name);
	if (!socket || socket->origin == SocketOrigin::vxlan_device)
		return Error::unknown_socket;
	if (socket->protocol == Protocol::tcp) {
		if (peer != disconnect_peer)
			return connect_tcp(*socket, peer);
		disconnect_tcp(*socket);
		return Error::none;
	}
	// Connecting can take a port (autobind), move the socket to another address's chain (rehash)
	// and change its group; disconnecting can give the port back.
	const std::uint16_t port_before = socket->port;
	Error connected = Error::none;
	if (peer == disconnect_peer)
		disconnect_udp(*socket);
	else
		connected = connect_udp(*socket, peer);
	reindex_udp_port(socket->ns, port_before);
	if (socket->port != port_before)
		reindex_udp_port(socket->ns, socket->port);
	return connected;
}

// route.c: a connect() to 0.0.0.0 goes to the loopback (ip_route_output_key_hash_rcu).
static Ipv4Address routed_destination(Ipv4Address peer)
{
	return peer.is_any() ? loopback_address : peer;
}

// af_inet.c: inet_dgram_connect (autobind), then datagram.c: __ip4_datagram_connect.
Error Sockets::connect_udp(Socket &socket, Endpoint peer)
{
	if (!socket.holds_port() && take_ephemeral_port(socket) != Error::none)
		return Error::no_free_port; // inet_autobind: -EAGAIN
	const Ipv4Address destination = routed_destination(peer.address);
	if (topology_.address_type(socket.ns, destination) == AddressType::broadcast)
		return Error::permission_denied; // RTCF_BROADCAST without SO_BROADCAST
	if (socket.bound_address.is_any()) {
		socket.bound_address = topology_.source_address_for(socket.ns, destination);
		rehash_udp(socket, any_address);
	}
	socket.peer = Endpoint{destination, peer.port};
	if (socket.reuseport_group)
		groups_.mark_has_conns(*socket.reuseport_group);
	socket.state = SocketState::established;
	return Error::none;
}

// udp.c: __udp_disconnect. What bind() did not name is given back: the address always, the port
// (and with it the socket's place in the tables) when it came from autobind.
void Sockets::disconnect_udp(Socket &socket)
{
	socket.state = SocketState::closed;
	socket.peer.reset();
	if (!socket.address_locked) {
		const Ipv4Address old_address = socket.bound_address;
		socket.bound_address = any_address;
		if (socket.port_locked && socket.holds_port())
			rehash_udp(socket, old_address);
	}
	if (!socket.port_locked && socket.holds_port())
		release_port(socket);
}

// tcp_ipv4.c: tcp_v4_connect, via af_inet.c: __inet_stream_connect. The model lets a socket
// connect once: a listener, a child, or a socket that already connected gets EISCONN.
Error Sockets::connect_tcp(Socket &socket, Endpoint peer)
{
	if (socket.state != SocketState::closed || socket.peer || socket.origin != SocketOrigin::scenario)
		return Error::already_connected;
	const Ipv4Address destination = routed_destination(peer.address);
	const AddressType type = topology_.address_type(socket.ns, destination);
	if (type == AddressType::broadcast || type == AddressType::multicast)
		return Error::network_unreachable; // rt_flags & (RTCF_MULTICAST | RTCF_BROADCAST)

	const Endpoint remote{destination, peer.port};
	const Ipv4Address source = socket.bound_address.is_any() ? topology_.source_address_for(socket.ns, destination)
								 : socket.bound_address;
	if (socket.holds_port()) {
		// inet_hash_connect → __inet_check_established: the 4-tuple must be free.
		const TupleKey key{socket.ns, FourTuple{remote, Endpoint{source, socket.port}}};
		if (tcp_established_.contains(key) || tcp_requests_.contains(key))
			return Error::address_not_available;
		socket.bound_address = source;
	} else {
		socket.bound_address = source;
		const std::optional<std::uint16_t> port = free_port_for_tcp_connect(socket);
		if (!port) {
			socket.bound_address = any_address;
			return Error::address_not_available; // __inet_hash_connect ran out of ports
		}
		hold_port(socket, *port);
	}
	socket.peer = remote;
	socket.state = SocketState::syn_sent;
	tcp_established_[TupleKey{socket.ns, FourTuple{remote, socket.local()}}] = socket.name;
	return Error::none;
}

// inet_hashtables.c: __inet_hash_connect. The kernel walks the range from a hashed offset and may
// share a port among connections to different peers; the model takes the lowest port nobody holds.
std::optional<std::uint16_t> Sockets::free_port_for_tcp_connect(const Socket &socket) const
{
	for (std::uint32_t port = ephemeral_port_low; port <= ephemeral_port_high; ++port)
		if (!port_holders_.contains(PortKey{socket.ns, Protocol::tcp, static_cast<std::uint16_t>(port)}))
			return static_cast<std::uint16_t>(port);
	return std::nullopt;
}

// tcp.c: tcp_disconnect: a listener stops listening, a connection leaves the established table;
// tcp_set_state(TCP_CLOSE) gives back a port bind() did not name.
void Sockets::disconnect_tcp(Socket &socket)
{
	if (socket.state == SocketState::listen)
		stop_listening(socket);
	else
		unhash_tcp(socket);
	socket.state = SocketState::closed;
	socket.peer.reset();
	if (!socket.address_locked)
		socket.bound_address = any_address;
	if (!socket.port_locked && socket.holds_port())
		release_port(socket);
}

// ---- listen(2), close(2) -----------------------------------------------------------------------

// af_inet.c: inet_listen → inet_connection_sock.c: inet_csk_listen_start, which sets TCP_LISTEN
// and takes the port again: a second listener on a port fails here even with SO_REUSEADDR.
Error Sockets::listen(std::string_view name, int backlog)
{
	Socket *socket = find_mutable(name);
	if (!socket || socket->origin == SocketOrigin::vxlan_device)
		return Error::unknown_socket;
	if (socket->protocol == Protocol::udp)
		return Error::not_supported; // sock_no_listen
	if (socket->state == SocketState::listen) {
		socket->backlog = backlog; // listen() again only changes the backlog
		return Error::none;
	}
	if (socket->state != SocketState::closed || socket->peer || socket->origin != SocketOrigin::scenario)
		return Error::invalid_argument; // not SS_UNCONNECTED

	socket->state = SocketState::listen;
	const bool refused = socket->holds_port() ? port_conflicts(*socket, socket->port, false)
						  : take_ephemeral_port(*socket) != Error::none;
	if (refused) {
		socket->state = SocketState::closed;
		return Error::address_in_use;
	}
	socket->backlog = backlog;
	socket->lookup_sequence = next_sequence(); // __inet_hash: head of the lhash2 chain
	if (socket->reuseport)
		join_tcp_reuseport_group(*socket);
	return Error::none;
}

Error Sockets::close(std::string_view name)
{
	Socket *socket = find_mutable(name);
	if (!socket)
		return Error::unknown_socket;
	if (socket->origin == SocketOrigin::vxlan_device)
		return Error::invalid_argument; // the device owns it
	closed_names_.insert(socket->name);
	const std::string ns = socket->ns;
	const bool indexed = socket->protocol == Protocol::udp && socket->holds_port();
	const std::uint16_t port = socket->port;
	forget(*socket);
	if (indexed)
		reindex_udp_port(ns, port);
	return Error::none;
}

// inet_csk_listen_stop: pending requests die with their listener. (Children are assumed accepted
// already, so they live on; see README.)
void Sockets::stop_listening(Socket &socket)
{
	std::erase_if(tcp_requests_, [&socket](const auto &entry) { return entry.second == socket.name; });
	leave_reuseport_group(socket);
}

// inet_unhash for a socket in the established table.
void Sockets::unhash_tcp(Socket &socket)
{
	if (!socket.peer)
		return;
	auto it = tcp_established_.find(TupleKey{socket.ns, FourTuple{*socket.peer, socket.local()}});
	if (it != tcp_established_.end() && it->second == socket.name)
		tcp_established_.erase(it);
}

void Sockets::forget(Socket &socket)
{
	if (socket.protocol == Protocol::tcp) {
		if (socket.state == SocketState::listen)
			stop_listening(socket);
		else
			unhash_tcp(socket);
	}
	if (socket.holds_port())
		release_port(socket);
	const std::string name = socket.name;
	by_name_.erase(name);
	sockets_.erase(name); // `socket` dangles from here
}

// ---- the VXLAN device's socket -----------------------------------------------------------------

std::string Sockets::vxlan_socket_name(std::uint16_t port)
{
	return "kernel:vxlan:" + std::to_string(port);
}

Error Sockets::open_vxlan_socket(std::uint16_t port)
{
	const std::string name = vxlan_socket_name(port);
	if (sockets_.contains(name))
		return Error::none; // devices on one port share one socket (vxlan_find_sock)
	Socket socket{.name = name,
		      .ns = std::string(host_namespace),
		      .protocol = Protocol::udp,
		      .origin = SocketOrigin::vxlan_device};
	socket.address_locked = false;
	socket.port_locked = true;
	if (port_conflicts(socket, port, false))
		return Error::address_in_use;
	Socket &stored = store(std::move(socket));
	hold_port(stored, port);
	reindex_udp_port(host_namespace, port);
	return Error::none;
}

void Sockets::close_vxlan_socket(std::uint16_t port)
{
	if (Socket *socket = find_mutable(vxlan_socket_name(port))) {
		forget(*socket);
		reindex_udp_port(host_namespace, port);
	}
}

} // namespace econsim::model
