#include "model/port_conflict.h"

namespace econsim::model {

bool addresses_overlap(Ipv4Address a, Ipv4Address b)
{
	return a == b || a.is_any() || b.is_any();
}

// All sockets of a scenario belong to one user, so the uid_eq tests hold, and none is bound to a
// device (the scenario cannot say SO_BINDTODEVICE), so the sk_bound_dev_if tests hold too.
bool udp_port_conflict(const Socket &candidate, const Socket &owner)
{
	if (&candidate == &owner || (candidate.reuseaddr && owner.reuseaddr))
		return false;
	if (!addresses_overlap(candidate.bound_address, owner.bound_address))
		return false;
	const bool same_reuseport_owner = candidate.reuseport && owner.reuseport;
	return !same_reuseport_owner;
}

bool tcp_port_conflict(const Socket &candidate, const Socket &owner, TcpPortCheck check)
{
	if (&candidate == &owner || !addresses_overlap(candidate.bound_address, owner.bound_address))
		return false;
	const bool relax = check == TcpPortCheck::named_port;
	const bool reuseport_ok = check == TcpPortCheck::named_port;
	// SO_REUSEADDR on both lets a port be shared with a socket that is not listening.
	if (candidate.reuseaddr && owner.reuseaddr && owner.state != SocketState::listen)
		return !relax;
	// SO_REUSEPORT on both (same uid) lets it be shared with anyone, listeners included.
	return !(reuseport_ok && candidate.reuseport && owner.reuseport);
}

} // namespace econsim::model
