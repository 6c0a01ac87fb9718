// net/ipv4/udp.c: the UDP socket lookup. Every function here names the kernel function it models.
#include <algorithm>

#include "model/sockets.h"

namespace econsim::model {

const char *to_string(UdpMatch match)
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
int compute_score(const Socket &socket, const FourTuple &packet, Ipv4Address wanted_address, int cpu)
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

std::string describe(const Socket &socket)
{
	std::string text = socket.name + " (" + to_string(socket.local());
	if (socket.peer)
		text += " connected to " + to_string(*socket.peer);
	return text + ")";
}

// The members reuseport_select_sock_by_hash may return: it skips connected ones (TCP_ESTABLISHED).
UdpReuseportChoice reuseport_choice(const ReuseportGroup &group, const Sockets &sockets)
{
	UdpReuseportChoice choice{{}, group.has_conns};
	for (const std::string &name : group.members)
		if (const Socket *member = sockets.find(name); member->state != SocketState::established)
			choice.selectable.push_back(member);
	return choice;
}

// udp.c: udp4_lib_lookup2 over the hash2 chain of one address (the destination, or 0.0.0.0),
// newest first. The first socket with the best score wins; a connected one wins outright within
// its score. An unconnected socket in a reuseport group hands the answer to the group
// (inet_lookup_reuseport); if no member of the group ever connected (!reuseport_has_conns) that
// ends the lookup, otherwise scoring goes on and a better-scoring (connected) socket can still win.
// The kernel then rescores the member it picked; the model keeps the score of the socket that led
// to the group, which differs only when that member has sk_incoming_cpu on this CPU.
UdpAnswer udp4_lib_lookup2(const UdpPortChain &chain, const FourTuple &packet, Ipv4Address wanted_address, int cpu,
			   std::string *explanation)
{
	UdpAnswer answer;
	const Socket *winner = nullptr;
	const UdpReuseportChoice *group = nullptr; // the winner's, when the answer is its group
	int badness = 0;
	for (const UdpChainEntry &entry : chain.entries) {
		const Socket &socket = *entry.socket;
		const int score = compute_score(socket, packet, wanted_address, cpu);
		if (score <= badness)
			continue;
		badness = score;
		answer = UdpAnswer{UdpMatch::socket, {&entry.socket, 1}, score};
		winner = &socket;
		group = nullptr;
		if (socket.state == SocketState::established || entry.group < 0)
			continue;
		const UdpReuseportChoice &choice = chain.groups[static_cast<std::size_t>(entry.group)];
		if (choice.selectable.empty())
			continue;
		answer.match = UdpMatch::reuseport_group;
		answer.sockets = choice.selectable;
		group = &choice;
		if (!choice.has_conns)
			break;
	}
	if (explanation && winner) {
		*explanation = group ? "SO_REUSEPORT group of " + describe(*winner) + ", one member by hash"
				     : describe(*winner);
		if (group && group->has_conns)
			*explanation += " (group has had connections: scoring goes on)";
	}
	return answer;
}

// udp.c: __udp4_lib_mcast_deliver: for a broadcast or multicast destination every socket that
// __udp_is_mcast_sock accepts gets a copy: port, connected peer, and a bound address of 0.0.0.0 or
// the destination itself. (Multicast group membership, ip_check_mc_rcu and ip_mc_sf_allow, is not
// modelled: the scenario cannot join groups.)
UdpAnswer udp4_lib_mcast_deliver(const UdpPortChain *chain, const FourTuple &packet,
				 std::vector<const Socket *> &receivers, std::string *explanation)
{
	receivers.clear();
	if (explanation)
		*explanation =
			"broadcast/multicast to " + to_string(packet.destination) + " (__udp4_lib_mcast_deliver):";
	const std::span<const UdpChainEntry> entries =
		chain ? std::span(chain->entries) : std::span<const UdpChainEntry>();
	for (const UdpChainEntry &entry : entries) {
		const Socket *socket = entry.socket;
		const bool address_ok =
			socket->bound_address.is_any() || socket->bound_address == packet.destination.address;
		const bool peer_ok =
			!socket->peer || (socket->peer->address == packet.source.address &&
					  (socket->peer->port == 0 || socket->peer->port == packet.source.port));
		if (address_ok && peer_ok) {
			receivers.push_back(socket);
			if (explanation)
				*explanation += " " + socket->name;
		}
	}
	if (receivers.empty()) {
		if (explanation)
			*explanation += " no socket";
		return UdpAnswer{};
	}
	return UdpAnswer{UdpMatch::every_socket, receivers, 0};
}

std::string flow_text(std::string_view ns, const FourTuple &packet)
{
	return "udp " + to_string(packet) + " in " + std::string(ns);
}

UdpLookupResult with_names(const UdpAnswer &answer, std::string explanation)
{
	UdpLookupResult result{answer.match, {}, answer.score, std::move(explanation)};
	for (const Socket *socket : answer.sockets)
		result.sockets.push_back(socket->name);
	return result;
}

} // namespace

// udp.c: __udp4_lib_rcv → __udp4_lib_lookup. Phase 1 looks only at sockets bound to the
// destination address, phase 2 only at sockets bound to 0.0.0.0, so any socket bound to the exact
// address (connected or not) shadows every wildcard socket, connected ones included.
// (udp4_lib_lookup1, the fallback for a lookup racing a rehash, and BPF sk_lookup do not apply.)
UdpAnswer Sockets::udp_find(std::string_view ns, const FourTuple &packet, int cpu, std::string *explanation) const
{
	const UdpPortChain *chain = udp_table_.find(ns, packet.destination.port);
	if (!chain && !explanation)
		return UdpAnswer{}; // no socket on the port, whatever the destination

	const AddressType destination_type = topology_.address_type(ns, packet.destination.address);
	if (destination_type == AddressType::broadcast || destination_type == AddressType::multicast)
		return udp4_lib_mcast_deliver(chain, packet, copy_receivers_, explanation);

	if (chain) {
		const UdpAnswer exact = udp4_lib_lookup2(*chain, packet, packet.destination.address, cpu, explanation);
		if (exact.found()) {
			if (explanation)
				*explanation = flow_text(ns, packet) + ": __udp4_lib_lookup phase 1 (bound to " +
					       to_string(packet.destination.address) + "): " + *explanation +
					       ", compute_score=" + std::to_string(exact.score);
			return exact;
		}
		const UdpAnswer wildcard = udp4_lib_lookup2(*chain, packet, any_address, cpu, explanation);
		if (wildcard.found()) {
			if (explanation)
				*explanation = flow_text(ns, packet) +
					       ": __udp4_lib_lookup phase 2 (bound to 0.0.0.0): " + *explanation +
					       ", compute_score=" + std::to_string(wildcard.score);
			return wildcard;
		}
	}
	if (explanation)
		*explanation = flow_text(ns, packet) + ": no socket on port " +
			       std::to_string(packet.destination.port) + " (ICMP port unreachable)";
	return UdpAnswer{};
}

// udp.c: __udp_queue_rcv_skb: a connected socket that receives records the CPU
// (sk_incoming_cpu_update); an unconnected one does not.
UdpAnswer Sockets::udp_find_and_receive(std::string_view ns, const FourTuple &packet, int cpu, std::string *explanation)
{
	const UdpAnswer answer = udp_find(ns, packet, cpu, explanation);
	if (answer.match == UdpMatch::reuseport_group)
		return answer; // the member is unknown, and only unconnected members are picked
	for (const Socket *socket : answer.sockets)
		if (socket->peer) // every Socket lives in sockets_, which this non-const Sockets owns
			const_cast<Socket *>(socket)->incoming_cpu = cpu;
	return answer;
}

UdpLookupResult Sockets::udp_lookup(std::string_view ns, const FourTuple &packet, int cpu) const
{
	std::string explanation;
	const UdpAnswer answer = udp_find(ns, packet, cpu, &explanation);
	return with_names(answer, std::move(explanation));
}

UdpLookupResult Sockets::udp_receive(std::string_view ns, const FourTuple &packet, int cpu)
{
	std::string explanation;
	const UdpAnswer answer = udp_find_and_receive(ns, packet, cpu, &explanation);
	return with_names(answer, std::move(explanation));
}

void Sockets::udp_received_on(std::string_view name, int cpu)
{
	if (const Socket *socket = find(name))
		udp_received_on(*socket, cpu);
}

void Sockets::udp_received_on(const Socket &socket, int cpu)
{
	// One of sockets_, which this class owns and may change: const only as find() hands it out.
	if (socket.peer)
		const_cast<Socket &>(socket).incoming_cpu = cpu;
}

// The chain of one port in one namespace, from the port's holders: newest hash2 entry first, each
// socket with the members its reuseport group may pick.
void Sockets::reindex_udp_port(std::string_view ns, std::uint16_t port)
{
	if (port == 0)
		return; // the socket held no port: it is on no chain
	UdpPortChain chain;
	for (const Socket *socket : holding_port(ns, Protocol::udp, port)) {
		UdpChainEntry entry{socket, -1};
		if (const ReuseportGroup *group = group_of(*socket)) {
			entry.group = static_cast<int>(chain.groups.size());
			chain.groups.push_back(reuseport_choice(*group, *this));
		}
		chain.entries.push_back(entry);
	}
	std::sort(chain.entries.begin(), chain.entries.end(), [](const UdpChainEntry &a, const UdpChainEntry &b) {
		return a.socket->lookup_sequence > b.socket->lookup_sequence;
	});
	udp_table_.replace(ns, port, std::move(chain));
}

} // namespace econsim::model
