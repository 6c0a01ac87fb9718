// SO_REUSEPORT groups (net/core/sock_reuseport.c): the sockets a lookup treats as one, of which
// the kernel picks one per packet.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace econsim::model {

struct ReuseportGroup {
	std::vector<std::string> members; // in the order they joined
	// sock_reuseport.h: has_conns. Set by reuseport_has_conns_set when a member connect()s while
	// in the group, never cleared: from then on UDP lookups keep scoring after picking a member.
	bool has_conns = false;
};

class ReuseportGroups {
public:
	// reuseport_alloc: a new group whose only member is `first`.
	std::uint64_t create(const std::string &first);
	// reuseport_add_sock.
	void add(std::uint64_t group, const std::string &member);
	// reuseport_detach_sock; the last member leaving frees the group.
	void detach(std::uint64_t group, const std::string &member);
	// reuseport_has_conns_set.
	void mark_has_conns(std::uint64_t group);
	const ReuseportGroup &at(std::uint64_t group) const { return groups_.at(group); }

private:
	std::map<std::uint64_t, ReuseportGroup> groups_;
	std::uint64_t next_id_ = 1;
};

} // namespace econsim::model
