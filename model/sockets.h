// The socket layer of every namespace of the host: the scenario's socket calls with the kernel's
// rules, and the lookups that decide which socket a received datagram or segment ends at.
// One table for all namespaces, as in the kernel, where every lookup first checks net_eq.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "model/error.h"
#include "model/name_hash.h"
#include "model/reuseport.h"
#include "model/socket.h"
#include "model/tcp_receive.h"
#include "model/topology.h"
#include "model/types.h"
#include "model/udp_lookup.h"
#include "model/udp_table.h"

namespace econsim::model {

// net.ipv4.ip_local_port_range default.
inline constexpr std::uint16_t ephemeral_port_low = 32768;
inline constexpr std::uint16_t ephemeral_port_high = 60999;

// SO_REUSEADDR and SO_REUSEPORT, set before bind.
struct BindOptions {
	bool reuseaddr = false;
	bool reuseport = false;
};

// connect(2) with this peer is connect(AF_UNSPEC): disconnect.
inline constexpr Endpoint disconnect_peer{};

class Sockets {
public:
	explicit Sockets(const Topology &topology);
	Sockets(const Sockets &) = delete; // udp_table_ points into sockets_
	Sockets &operator=(const Sockets &) = delete;

	// socket(2). Names are unique for the whole run: a closed name is not taken again.
	Error create(const std::string &name, std::string_view ns, Protocol protocol);
	// setsockopt(SO_REUSEADDR, SO_REUSEPORT), then bind(2) (af_inet.c: __inet_bind).
	Error bind(std::string_view name, Endpoint local, BindOptions options);
	// connect(2); disconnect_peer means AF_UNSPEC (udp.c: __udp_disconnect, tcp.c: tcp_disconnect).
	Error connect(std::string_view name, Endpoint peer);
	// listen(2) (af_inet.c: inet_listen).
	Error listen(std::string_view name, int backlog);
	// close(2): the socket leaves every table at once (see README: no TIME_WAIT, no lingering).
	Error close(std::string_view name);

	const Socket *find(std::string_view name) const;
	std::vector<const Socket *> all() const; // open sockets, by name
	// The same sockets in the same order, without building a list (the replay's per-frame and
	// per-event paths allocate nothing).
	template <typename Visit> void for_each(Visit &&visit) const
	{
		for (const auto &[_, socket] : sockets_)
			visit(socket);
	}
	bool was_closed(std::string_view name) const;
	const ReuseportGroup *group_of(const Socket &socket) const;

	// UDP: __udp4_lib_lookup on the prepared index (udp_table_): no allocation, no string built.
	// `cpu` is the CPU the packet is processed on (compute_score gives a point to the socket whose
	// sk_incoming_cpu it is). `explanation`, when not null, receives the line for `econ-sim trace`
	// (udp_lookup's); only then is any text made.
	UdpAnswer udp_find(std::string_view ns, const FourTuple &packet, int cpu,
			   std::string *explanation = nullptr) const;
	// udp_find, then what __udp_queue_rcv_skb records on the socket: a connected socket that
	// receives remembers the CPU (sk_incoming_cpu_update). Call it once per delivered datagram.
	UdpAnswer udp_find_and_receive(std::string_view ns, const FourTuple &packet, int cpu,
				       std::string *explanation = nullptr);

	// The same two with the sockets' names and the explanation always written.
	UdpLookupResult udp_lookup(std::string_view ns, const FourTuple &packet, int cpu) const;
	UdpLookupResult udp_receive(std::string_view ns, const FourTuple &packet, int cpu);

	// The same bookkeeping for a datagram whose socket was not looked up but given (a fast path's
	// cached answer): nothing happens to a socket that is closed or unconnected.
	void udp_received_on(std::string_view name, int cpu);
	// The same, for the socket find() gave (a caller that indexed it, to skip the name's hash).
	void udp_received_on(const Socket &socket, int cpu);

	// TCP: tcp_v4_rcv's decision for one segment, and its effect on requests and sockets.
	TcpResult tcp_receive(std::string_view ns, const FourTuple &packet, TcpFlags flags);
	// tcp_v4_do_rcv on a socket the caller already holds (a fast path's cached answer) instead of
	// __inet_lookup_skb's. If that socket no longer holds the 4-tuple (closed, reset, replaced), the
	// segment is still "delivered" to it, changing nothing: a caller that trusted a stale answer
	// shows as a delivery the kernel would not make.
	TcpResult tcp_receive_on(std::string_view name, std::string_view ns, const FourTuple &packet, TcpFlags flags);
	// __inet_lookup_established: the full socket holding this 4-tuple, if any.
	const Socket *tcp_established(std::string_view ns, const FourTuple &packet) const;
	// The listener that owns a pending request (TCP_NEW_SYN_RECV) for this 4-tuple, if any.
	const Socket *tcp_request_owner(std::string_view ns, const FourTuple &packet) const;

	// The UDP socket a VXLAN device holds on 0.0.0.0:port in the host namespace (vxlan_sock_add,
	// udp_sock_create: no SO_REUSEADDR/SO_REUSEPORT). Named vxlan_socket_name(port).
	Error open_vxlan_socket(std::uint16_t port);
	void close_vxlan_socket(std::uint16_t port);
	static std::string vxlan_socket_name(std::uint16_t port);

private:
	struct PortKey {
		std::string ns;
		Protocol protocol;
		std::uint16_t port;
		auto operator<=>(const PortKey &) const = default;
	};
	struct TupleKey {
		std::string ns;
		FourTuple packet; // as a received packet carries it: source is the peer
		auto operator<=>(const TupleKey &) const = default;
	};

	Socket *find_mutable(std::string_view name);
	Socket &store(Socket socket); // into sockets_ and by_name_
	std::vector<const Socket *> holding_port(std::string_view ns, Protocol protocol, std::uint16_t port) const;
	std::uint64_t next_sequence() { return ++sequence_; }

	// Ports: udp.c: udp_lib_get_port / inet_connection_sock.c: inet_csk_get_port.
	bool port_conflicts(const Socket &socket, std::uint16_t port, bool ephemeral) const;
	Error take_port(Socket &socket, std::uint16_t port);
	Error take_ephemeral_port(Socket &socket);
	void hold_port(Socket &socket, std::uint16_t port);
	void release_port(Socket &socket);

	// UDP hash chains and reuseport groups.
	void join_udp_reuseport_group(Socket &socket);
	void join_tcp_reuseport_group(Socket &socket);
	void leave_reuseport_group(Socket &socket);
	void rehash_udp(Socket &socket, Ipv4Address old_address);
	// Every call that can change what a UDP lookup sees (bind, connect, close, the VXLAN socket)
	// ends by rebuilding the chain of each port its socket left or took.
	void reindex_udp_port(std::string_view ns, std::uint16_t port);

	Error connect_udp(Socket &socket, Endpoint peer);
	Error connect_tcp(Socket &socket, Endpoint peer);
	void disconnect_udp(Socket &socket);
	void disconnect_tcp(Socket &socket);
	std::optional<std::uint16_t> free_port_for_tcp_connect(const Socket &socket) const;
	void stop_listening(Socket &socket);
	void unhash_tcp(Socket &socket);
	void forget(Socket &socket);

	// TCP segment handling, in tcp_receive.cpp.
	TcpResult tcp_receive_on_request(const TupleKey &key, TcpFlags flags);
	TcpResult tcp_receive_on_full_socket(Socket &socket, const TupleKey &key, TcpFlags flags);
	TcpResult tcp_receive_on_listener(const TupleKey &key, TcpFlags flags);
	std::vector<const Socket *> tcp_listener_lookup(std::string_view ns, const FourTuple &packet,
							std::string &explanation) const;
	std::string accept_child(const Socket &listener, const TupleKey &key);

	const Topology &topology_;
	std::map<std::string, Socket, std::less<>> sockets_;
	// The same sockets by name, hashed: a fast path's hit finds its socket once per frame. Views of
	// sockets_' keys, kept with them (store, forget).
	absl::flat_hash_map<std::string_view, Socket *, NameHash, std::equal_to<>> by_name_;
	std::set<std::string, std::less<>> closed_names_;
	std::map<PortKey, std::set<std::string>> port_holders_; // UDP: hashed; TCP: the bind bucket's owners
	std::map<TupleKey, std::string> tcp_established_;       // TCP ehash: full sockets
	std::map<TupleKey, std::string> tcp_requests_;          // TCP ehash: request socks → their listener
	ReuseportGroups groups_;
	std::uint64_t sequence_ = 0;
	UdpTable udp_table_;
	// The sockets that get a copy of the last broadcast or multicast datagram (UdpAnswer::sockets
	// views it): kept so that a lookup allocates only while the table is warming up.
	mutable std::vector<const Socket *> copy_receivers_;
};

} // namespace econsim::model
