#include "model/reuseport.h"

#include <algorithm>

namespace econsim::model {

std::uint64_t ReuseportGroups::create(const std::string &first)
{
	const std::uint64_t id = next_id_++;
	groups_[id].members.push_back(first);
	return id;
}

void ReuseportGroups::add(std::uint64_t group, const std::string &member)
{
	groups_.at(group).members.push_back(member);
}

void ReuseportGroups::detach(std::uint64_t group, const std::string &member)
{
	auto &members = groups_.at(group).members;
	members.erase(std::remove(members.begin(), members.end(), member), members.end());
	if (members.empty())
		groups_.erase(group);
}

void ReuseportGroups::mark_has_conns(std::uint64_t group)
{
	groups_.at(group).has_conns = true;
}

} // namespace econsim::model
