// One socket as the model keeps it: the fields of struct sock / inet_sock that the kernel's
// lookups and bind rules read, under names that say what they are.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "model/types.h"

namespace econsim::model {

// The kernel's sk_state, as far as the model needs it. A connected UDP socket is `established`,
// as __ip4_datagram_connect marks it (and as reuseport_select_sock_by_hash tests it).
enum class SocketState {
	closed,      // TCP_CLOSE: new, bound, disconnected, or a TCP socket that was reset
	listen,      // TCP_LISTEN
	syn_sent,    // TCP_SYN_SENT: TCP connect() waiting for the SYN-ACK
	established, // TCP_ESTABLISHED, or a connected UDP socket
	close_wait,  // TCP_CLOSE_WAIT: the peer sent FIN; still hashed, still receives
};
const char *to_string(SocketState state);

enum class SocketOrigin {
	scenario,     // socket() in the scenario
	tcp_accept,   // a TCP child made by a completed handshake: "<listener>/<peer ip>:<peer port>"
	vxlan_device, // the UDP socket a VXLAN device opens on 0.0.0.0:port (vxlan_sock_add)
};

struct Socket {
	std::string name{};
	std::string ns{};
	Protocol protocol = Protocol::udp;
	SocketOrigin origin = SocketOrigin::scenario;

	bool reuseaddr = false;         // sk_reuse (SO_REUSEADDR)
	bool reuseport = false;         // sk_reuseport (SO_REUSEPORT)
	Ipv4Address bound_address{};    // inet_rcv_saddr: what lookups match the destination against
	std::uint16_t port = 0;         // inet_num; 0 while the socket holds no port
	bool address_locked = false;    // SOCK_BINDADDR_LOCK: bind() named an address
	bool port_locked = false;       // SOCK_BINDPORT_LOCK: bind() named a port
	std::optional<Endpoint> peer{}; // inet_daddr:inet_dport, once connected
	SocketState state = SocketState::closed;
	int backlog = 0; // sk_max_ack_backlog (recorded; see README)

	int incoming_cpu = -1;                          // sk_incoming_cpu: compute_score gives +1 on this CPU
	std::optional<std::uint64_t> reuseport_group{}; // sk_reuseport_cb

	// Hash chains are lists with the newest entry at the head, and lookups take the first of equal
	// scores, so the model records when a socket entered each chain. Larger is nearer the head.
	std::uint64_t bind_sequence = 0;   // the port's chain (UDP primary hash, TCP bind bucket)
	std::uint64_t lookup_sequence = 0; // the address+port chain (UDP hash2, TCP lhash2), renewed by rehash

	bool holds_port() const { return port != 0; }
	Endpoint local() const { return Endpoint{bound_address, port}; }
};

} // namespace econsim::model
