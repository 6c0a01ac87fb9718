// Where a TCP segment ends in a namespace and what it changes (net/ipv4/tcp_ipv4.c: tcp_v4_rcv).
#pragma once

#include <string>
#include <vector>

namespace econsim::model {

struct TcpFlags {
	bool syn = false;
	bool ack = false;
	bool fin = false;
	bool rst = false;
};

// What the segment did, in the order tcp_v4_rcv decides it.
enum class TcpEvent {
	no_socket,              // no established socket, request or listener: dropped, RST sent (unless RST)
	request_created,        // SYN to a listener: a request sock (TCP_NEW_SYN_RECV) now holds the 4-tuple
	syn_retransmitted,      // SYN again for a pending request: the SYN-ACK is sent again
	child_created,          // ACK completing the handshake: a child socket now holds the 4-tuple
	request_reset,          // RST or SYN (not a retransmission) on a request: the request is gone
	request_needs_ack,      // a segment without ACK on a request: silently dropped
	listener_needs_syn,     // anything but a SYN at a listener: dropped (RST sent for an ACK)
	syn_fin_dropped,        // SYN+FIN at a listener: dropped
	connection_established, // SYN-ACK for our connect(): SYN_SENT → ESTABLISHED
	delivered,              // to an established (or CLOSE_WAIT) socket
	fin_received,           // FIN: ESTABLISHED → CLOSE_WAIT; the socket stays until closed
	socket_reset,           // RST: the socket leaves the tables (it keeps its name until closed)
	challenge_ack,          // SYN on a synchronized socket: RFC 5961 challenge ACK, segment dropped
	not_acceptable,         // the socket's state machine discards it (no ACK flag; no SYN in SYN_SENT)
};
const char *to_string(TcpEvent event);

struct TcpResult {
	TcpEvent event = TcpEvent::no_socket;
	// The skb's fate in the kernel: consumed by the socket (true: request_created, child_created,
	// connection_established, delivered, fin_received) or freed as a drop (false, with
	// drop_reason = to_string(event), e.g. "no_socket", "socket_reset", "challenge_ack").
	bool delivered = false;
	// The socket that processed it, delivered or not: the listener for a request, the child or
	// connected socket otherwise; empty for no_socket.
	std::string socket;
	std::vector<std::string> reuseport_group; // the listener group a SYN was looked up in, if any
	std::string drop_reason;
	bool rst_sent = false;   // the kernel answers with a RST
	std::string explanation; // one line for `econ-sim trace`
};

} // namespace econsim::model
