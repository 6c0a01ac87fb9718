#include "model/bridge_fdb.h"

#include <algorithm>

namespace econsim::model {

bool BridgeFdb::learn(const MacAddress &mac, std::string_view port, double now)
{
	auto [it, added] = entries_.try_emplace(mac);
	if (added) {
		it->second = Entry{std::string(port), false, now};
		return true;
	}
	Entry &entry = it->second; // an expired one too: refreshing it is what re-learning would do
	const bool changed = has_expired(entry, now) || entry.port != port;
	if (entry.port != port)
		entry.port = port;
	entry.updated = now;
	return changed;
}

void BridgeFdb::add_static(const MacAddress &mac, std::string_view port)
{
	entries_[mac] = Entry{std::string(port), true, 0};
}

std::optional<std::string_view> BridgeFdb::lookup(const MacAddress &mac, double now) const
{
	auto it = entries_.find(mac);
	if (it == entries_.end() || has_expired(it->second, now))
		return std::nullopt;
	return it->second.port;
}

bool BridgeFdb::refresh_if_on(const MacAddress &mac, std::string_view port, double now)
{
	auto it = entries_.find(mac);
	if (it == entries_.end() || has_expired(it->second, now) || it->second.port != port)
		return false;
	it->second.updated = now;
	return true;
}

void BridgeFdb::forget_learned_on(std::string_view port)
{
	for (auto it = entries_.begin(); it != entries_.end();) {
		if (!it->second.is_static && it->second.port == port)
			entries_.erase(it++); // a flat table's erase returns nothing; the idiom it supports
		else
			++it;
	}
}

bool BridgeFdb::expire(double now, double &next_expiry)
{
	bool expired = false;
	for (auto it = entries_.begin(); it != entries_.end();) {
		if (has_expired(it->second, now)) {
			entries_.erase(it++);
			expired = true;
			continue;
		}
		if (!it->second.is_static)
			next_expiry = std::min(next_expiry, it->second.updated + ageing_seconds_);
		++it;
	}
	return expired;
}

// br_fdb.c: has_expired: time_before_eq(updated + hold_time, now), static entries never.
bool BridgeFdb::has_expired(const Entry &entry, double now) const
{
	return !entry.is_static && entry.updated + ageing_seconds_ <= now;
}

bool BridgeFdb::remove(const MacAddress &mac)
{
	return entries_.erase(mac) != 0;
}

} // namespace econsim::model
