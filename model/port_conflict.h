// Whether a socket may take a port another socket of the same namespace and protocol holds:
// the kernel's bind conflict rules, one function per kernel function.
#pragma once

#include "model/socket.h"

namespace econsim::model {

// inet_connection_sock.c: ipv4_rcv_saddr_equal with match_wildcard: equal, or either is 0.0.0.0.
bool addresses_overlap(Ipv4Address a, Ipv4Address b);

// udp.c: udp_lib_lport_inuse (and udp_lib_lport_inuse2, its hash2 twin). `owner` holds the port;
// may `candidate` (not yet in a reuseport group) have it too?
bool udp_port_conflict(const Socket &candidate, const Socket &owner);

// Which of inet_csk_get_port's two callers is asking.
enum class TcpPortCheck {
	// bind() to a named port, and the re-check listen() makes (inet_csk_listen_start):
	// inet_csk_bind_conflict(relax = true, reuseport_ok = true).
	named_port,
	// bind() to port 0: inet_csk_find_open_port uses relax = false, reuseport_ok = false, so any
	// owner whose address overlaps makes the port unusable.
	ephemeral_port,
};

// inet_connection_sock.c: inet_bind_conflict, applied to owners whose address overlaps as
// inet_csk_bind_conflict does (ipv4_rcv_saddr_equal with match_wildcard).
bool tcp_port_conflict(const Socket &candidate, const Socket &owner, TcpPortCheck check);

} // namespace econsim::model
