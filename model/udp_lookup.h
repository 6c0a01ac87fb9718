// What the kernel's UDP receive path answers for a datagram: which socket, or sockets, take it
// (net/ipv4/udp.c: __udp4_lib_rcv → __udp4_lib_lookup, or __udp4_lib_mcast_deliver).
#pragma once

#include <span>
#include <string>
#include <vector>

namespace econsim::model {

struct Socket;

enum class UdpMatch {
	// No socket: the kernel drops the datagram and answers ICMP port unreachable.
	no_socket,
	// One socket takes it.
	socket,
	// An SO_REUSEPORT group: the kernel delivers to one unconnected member, picked by
	// reuseport_select_sock_by_hash from a hash of the 4-tuple with a per-boot random seed
	// (udp_ehashfn: udp_ehash_secret + net_hash_mix), so the model cannot say which.
	reuseport_group,
	// A broadcast or multicast destination: every matching socket gets its own copy.
	every_socket,
};
const char *to_string(UdpMatch match);

// A lookup's answer as the socket table holds it: pointers, no names, nothing allocated. The
// pointers are valid until the next socket call (bind, connect, close, ...) or UDP lookup on the
// same Sockets.
struct UdpAnswer {
	UdpMatch match = UdpMatch::no_socket;
	// The socket; the reuseport group's members a hash may pick, in joining order; or every socket
	// that gets a copy. Empty for no_socket.
	std::span<const Socket *const> sockets;
	int score = 0; // compute_score of the socket (or group member) that won

	bool found() const { return !sockets.empty(); }
};

// The same answer with names, and the explanation always written (tests, tools).
struct UdpLookupResult {
	UdpMatch match = UdpMatch::no_socket;
	std::vector<std::string> sockets; // empty for no_socket
	int score = 0;                    // compute_score of the socket (or group member) that won
	std::string explanation;          // one line for `econ-sim trace`

	bool found() const { return !sockets.empty(); }
};

} // namespace econsim::model
