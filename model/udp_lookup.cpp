// net/ipv4/udp.c: the UDP socket lookup. Every function here names the kernel function it models.
#include <algorithm>

#include "model/sockets.h"

namespace econsim::model {

const char* to_string(UdpMatch match)
{
	switch (match) {
	case UdpMatch::no_socket: return "no_socket";
	case UdpMatch::socket: return "socket";
	case UdpMatch::reuseport_group: return "reuseport_group";
	case UdpMatch::every_socket: return "every_socket";
	}
	return "?";
}

namespace {

// udp.c: compute_score, for a socket already known to be in this namespace and on this port.
// -1: the socket cannot take the datagram. Otherwise 2 (PF_INET), +4 for a connected peer address,
// +4 for a connected peer port, +1 when the socket last received on this CPU. (+4 for a bound
// device does not occur: the scenario cannot set SO_BINDTODEVICE.)
int compute_score(const Socket& socket, const FourTuple& packet, Ipv4Address wanted_address, int cpu)
{
	if (socket.bound_address != wanted_address)
		return -1;
	int score = 2;
	if (socket.peer) {
		if (socket.peer->address != packet.source.address)
			return -1;
		score += 4;
		if (socket.peer->port != 0) { // connect() to port 0 leaves inet_dport a wildcard
			if (socket.peer->port != packet.source.port)
				return -1;
			score += 4;
		}
	}
	if (socket.incoming_cpu == cpu)
		score++;
	return score;
}

std::string describe(const Socket& socket)
{
	std::string text = socket.name + " (" + to_string(socket.local());
	if (socket.peer)
		text += " connected to " + to_string(*socket.peer);
	return text + ")";
}

// The members reuseport_select_sock_by_hash may return: it skips connected ones (TCP_ESTABLISHED).
std::vector<std::string> selectable_members(const ReuseportGroup& group, const Sockets& sockets)
{
	std::vector<std::string> members;
	for (const std::string& name : group.members)
		if (sockets.find(name)->state != SocketState::established)
			members.push_back(name);
	return members;
}

} // namespace

// udp.c: udp4_lib_lookup2 over the hash2 chain of one address (the destination, or 0.0.0.0),
// newest first. The first socket with the best score wins; a connected one wins outright within
// its score. An unconnected socket in a reuseport group hands the answer to the group
// (inet_lookup_reuseport); if no member of the group ever connected (!reuseport_has_conns) that
// ends the lookup, otherwise scoring goes on and a better-scoring (connected) socket can still win.
// The kernel then rescores the member it picked; the model keeps the score of the socket that led
// to the group, which differs only when that member has sk_incoming_cpu on this CPU.
static UdpLookupResult udp4_lib_lookup2(const Sockets& sockets, const std::vector<const Socket*>& chain,
					const FourTuple& packet, Ipv4Address wanted_address, int cpu)
{
	UdpLookupResult result;
	int badness = 0;
	for (const Socket* socket : chain) {
		const int score = compute_score(*socket, packet, wanted_address, cpu);
		if (score <= badness)
			continue;
		badness = score;
		result = UdpLookupResult{UdpMatch::socket, {socket->name}, score, describe(*socket)};
		if (socket->state == SocketState::established)
			continue;
		const ReuseportGroup* group = sockets.group_of(*socket);
		if (!group)
			continue;
		std::vector<std::string> members = selectable_members(*group, sockets);
		if (members.empty())
			continue;
		result.match = UdpMatch::reuseport_group;
		result.sockets = std::move(members);
		result.explanation = "SO_REUSEPORT group of " + describe(*socket) + ", one member by hash";
		if (!group->has_conns)
			return result;
		result.explanation += " (group has had connections: scoring goes on)";
	}
	return result;
}

// udp.c: __udp4_lib_mcast_deliver: for a broadcast or multicast destination every socket that
// __udp_is_mcast_sock accepts gets a copy: port, connected peer, and a bound address of 0.0.0.0 or
// the destination itself. (Multicast group membership, ip_check_mc_rcu and ip_mc_sf_allow, is not
// modelled: the scenario cannot join groups.)
static UdpLookupResult udp4_lib_mcast_deliver(const std::vector<const Socket*>& chain, const FourTuple& packet)
{
	UdpLookupResult result{UdpMatch::every_socket, {}, 0,
			       "broadcast/multicast to " + to_string(packet.destination) + " (__udp4_lib_mcast_deliver):"};
	for (const Socket* socket : chain) {
		const bool address_ok = socket->bound_address.is_any() || socket->bound_address == packet.destination.address;
		const bool peer_ok = !socket->peer || (socket->peer->address == packet.source.address &&
						       (socket->peer->port == 0 || socket->peer->port == packet.source.port));
		if (address_ok && peer_ok) {
			result.sockets.push_back(socket->name);
			result.explanation += " " + socket->name;
		}
	}
	if (result.sockets.empty()) {
		result.match = UdpMatch::no_socket;
		result.explanation += " no socket";
	}
	return result;
}

// udp.c: __udp4_lib_rcv → __udp4_lib_lookup. Phase 1 looks only at sockets bound to the
// destination address, phase 2 only at sockets bound to 0.0.0.0, so any socket bound to the exact
// address (connected or not) shadows every wildcard socket, connected ones included.
// (udp4_lib_lookup1, the fallback for a lookup racing a rehash, and BPF sk_lookup do not apply.)
UdpLookupResult Sockets::udp_lookup(std::string_view ns, const FourTuple& packet, int cpu) const
{
	std::vector<const Socket*> chain = holding_port(ns, Protocol::udp, packet.destination.port);
	std::sort(chain.begin(), chain.end(),
		  [](const Socket* a, const Socket* b) { return a->lookup_sequence > b->lookup_sequence; });

	const AddressType destination_type = topology_.address_type(ns, packet.destination.address);
	if (destination_type == AddressType::broadcast || destination_type == AddressType::multicast)
		return udp4_lib_mcast_deliver(chain, packet);

	const std::string flow = "udp " + to_string(packet) + " in " + std::string(ns);
	UdpLookupResult exact = udp4_lib_lookup2(*this, chain, packet, packet.destination.address, cpu);
	if (exact.found()) {
		exact.explanation = flow + ": __udp4_lib_lookup phase 1 (bound to " +
				    to_string(packet.destination.address) + "): " + exact.explanation +
				    ", compute_score=" + std::to_string(exact.score);
		return exact;
	}
	UdpLookupResult wildcard = udp4_lib_lookup2(*this, chain, packet, any_address, cpu);
	if (wildcard.found()) {
		wildcard.explanation = flow + ": __udp4_lib_lookup phase 2 (bound to 0.0.0.0): " +
				       wildcard.explanation + ", compute_score=" + std::to_string(wildcard.score);
		return wildcard;
	}
	wildcard.explanation = flow + ": no socket on port " + std::to_string(packet.destination.port) +
			       " (ICMP port unreachable)";
	return wildcard;
}

// udp.c: __udp_queue_rcv_skb: a connected socket that receives records the CPU
// (sk_incoming_cpu_update); an unconnected one does not.
UdpLookupResult Sockets::udp_receive(std::string_view ns, const FourTuple& packet, int cpu)
{
	UdpLookupResult result = udp_lookup(ns, packet, cpu);
	if (result.match == UdpMatch::reuseport_group)
		return result; // the member is unknown, and only unconnected members are picked
	for (const std::string& name : result.sockets)
		udp_received_on(name, cpu);
	return result;
}

void Sockets::udp_received_on(std::string_view name, int cpu)
{
	Socket* socket = find_mutable(name);
	if (socket && socket->peer)
		socket->incoming_cpu = cpu;
}

} // namespace econsim::model
