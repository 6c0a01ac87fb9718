#include "econ_map.h"

#include <stdexcept>
#include <string>

namespace econsim::sim {

std::uint32_t econ_tx_key(std::uint8_t proto, std::uint16_t sport, std::uint16_t dport)
{
	// The 32-bit finaliser of MurmurHash3 over the ports, with the protocol folded in first:
	// any fixed mixer would do, since only which inputs share a key is modelled.
	std::uint32_t h = (std::uint32_t{sport} << 16 | dport) ^ (std::uint32_t{proto} * 0x9E3779B9u);
	h ^= h >> 16;
	h *= 0x85EBCA6Bu;
	h ^= h >> 13;
	h *= 0xC2B2AE35u;
	h ^= h >> 16;
	return h ? h : 1;
}

namespace detail {

template <typename Entry>
EconMapBase<Entry>::EconMapBase(unsigned cpus)
    : cpus_(cpus), chains_(std::size_t{cpus} * kEconMapSize), sizes_(cpus), timestamps_(cpus)
{
	if (cpus == 0)
		throw std::invalid_argument("econ map: at least one CPU");
}

template <typename Entry> void EconMapBase<Entry>::check_cpu(unsigned cpu) const
{
	if (cpu >= cpus_)
		throw std::out_of_range("econ map: CPU " + std::to_string(cpu) + " of " +
					std::to_string(cpus_));
}

template <typename Entry>
auto EconMapBase<Entry>::chain(unsigned cpu, unsigned bucket) const -> const Chain &
{
	return chains_[std::size_t{cpu} * kEconMapSize + bucket];
}

template <typename Entry>
auto EconMapBase<Entry>::chain(unsigned cpu, unsigned bucket) -> Chain &
{
	return chains_[std::size_t{cpu} * kEconMapSize + bucket];
}

template <typename Entry>
auto EconMapBase<Entry>::chain_of_key(unsigned cpu, std::uint32_t key) const -> const Chain &
{
	check_cpu(cpu);
	return chain(cpu, econ_bucket(key));
}

template <typename Entry>
auto EconMapBase<Entry>::chain_of_key(unsigned cpu, std::uint32_t key) -> Chain &
{
	check_cpu(cpu);
	return chain(cpu, econ_bucket(key));
}

template <typename Entry> std::size_t EconMapBase<Entry>::size() const
{
	std::size_t total = 0;
	for (std::size_t n : sizes_)
		total += n;
	return total;
}

template <typename Entry> std::size_t EconMapBase<Entry>::size(unsigned cpu) const
{
	check_cpu(cpu);
	return sizes_[cpu];
}

template <typename Entry>
std::size_t EconMapBase<Entry>::chain_length(unsigned cpu, unsigned bucket) const
{
	check_cpu(cpu);
	if (bucket >= kEconMapSize)
		throw std::out_of_range("econ map: bucket " + std::to_string(bucket));
	return chain(cpu, bucket).size();
}

template <typename Entry> std::vector<Entry> EconMapBase<Entry>::entries(unsigned cpu) const
{
	check_cpu(cpu);
	std::vector<Entry> out;
	out.reserve(sizes_[cpu]);
	for (unsigned bucket = 0; bucket < kEconMapSize; bucket++) {
		const Chain &c = chain(cpu, bucket);
		out.insert(out.end(), c.rbegin(), c.rend());
	}
	return out;
}

template <typename Entry>
std::vector<EconPlacedEntry<Entry>> EconMapBase<Entry>::entries_of(EconSocket socket) const
{
	std::vector<EconPlacedEntry<Entry>> out;
	for (unsigned cpu = 0; cpu < cpus_; cpu++)
		for (unsigned bucket = 0; bucket < kEconMapSize; bucket++) {
			const Chain &c = chain(cpu, bucket);
			for (std::size_t depth = 0; depth < c.size(); depth++) {
				const Entry &e = c[c.size() - 1 - depth];
				if (e.socket == socket)
					out.push_back({cpu, bucket, static_cast<unsigned>(depth), e});
			}
		}
	return out;
}

template <typename Entry>
std::optional<std::uint64_t> EconMapBase<Entry>::timestamp(unsigned cpu) const
{
	check_cpu(cpu);
	return timestamps_[cpu];
}

template <typename Entry>
bool EconMapBase<Entry>::guarded(unsigned cpu, std::uint64_t now_ns) const
{
	// The kernel compares ktime_get_ns() with a timestamp that starts at 0, and the clock has
	// run far past 100 ms by the time traffic flows: no guard before the first flush. A map
	// that was never flushed is therefore unguarded here whatever clock the simulator uses.
	// The subtraction is unsigned, as in the kernel.
	const std::optional<std::uint64_t> &flushed = timestamps_[cpu];
	return flushed && now_ns - *flushed < kEconInsertGuardNs;
}

template <typename Entry> void EconMapBase<Entry>::hash_add(unsigned cpu, const Entry &entry)
{
	// B6: no cap, no eviction, no aging; the chain just grows (kzalloc never fails here, B5).
	chain_of_key(cpu, entry.key).push_back(entry);
	sizes_[cpu]++;
}

template <typename Entry>
template <typename ChainRef, typename Match>
auto EconMapBase<Entry>::first_match(ChainRef &chain, Match match, std::uint32_t &visited)
	-> decltype(&chain.back())
{
	for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
		visited++;
		if (match(*it))
			return &*it;
	}
	return nullptr;
}

template <typename Entry>
EconInsert EconMapBase<Entry>::insert_or_overwrite(unsigned cpu, std::uint64_t now_ns,
						   const Entry &fresh)
{
	Chain &c = chain_of_key(cpu, fresh.key);
	if (guarded(cpu, now_ns))
		return EconInsert::guarded;
	std::uint32_t visited = 0;
	Entry *found = first_match(c, [&](const Entry &e) { return e.key == fresh.key; }, visited);
	if (!found) {
		hash_add(cpu, fresh);
		return EconInsert::inserted;
	}
	// Keyed by the hash alone: whatever flow or socket held the entry loses it (B8).
	if (*found == fresh)
		return EconInsert::refreshed;
	*found = fresh;
	return EconInsert::overwritten;
}

template <typename Entry>
template <typename Match>
std::uint64_t EconMapBase<Entry>::delete_first_match_per_bucket(unsigned cpu, Match match,
								 EconRemoveStats &stats)
{
	std::uint64_t deleted = 0;
	for (unsigned bucket = 0; bucket < kEconMapSize; bucket++) {
		stats.buckets_visited++;
		Chain &c = chain(cpu, bucket);
		for (auto it = c.rbegin(); it != c.rend(); ++it) {
			stats.entries_visited++;
			if (!match(*it))
				continue;
			c.erase(std::next(it).base());
			sizes_[cpu]--;
			deleted++;
			// B4: hash_for_each, not _safe. hash_del (hlist_del_init) has set the freed
			// entry's next to NULL and SLUB keeps its free pointer elsewhere, so the walk
			// reads NULL and leaves this bucket: later entries are never seen.
			break;
		}
	}
	return deleted;
}

template class EconMapBase<EconRxEntry>;
template class EconMapBase<EconTxEntry>;

} // namespace detail

EconRxLookup EconRxMap::lookup(unsigned cpu, std::uint32_t key, const EconFlow &inner) const
{
	EconRxLookup out;
	// Only the first entry with the key is looked at; on a flow mismatch the lookup misses,
	// even if a later entry with the same key would match.
	const EconRxEntry *found = first_match(
		chain_of_key(cpu, key), [key](const EconRxEntry &e) { return e.key == key; },
		out.visited);
	if (!found)
		return out;
	// B8: the 32-bit NIC hash is verified by the inner 5-tuple only. VNI, netns, ingress
	// device and outer headers are not compared: overlapping tenants hit each other's entries.
	if (found->flow != inner) {
		out.result = EconRxLookupResult::flow_mismatch;
		return out;
	}
	out.result = EconRxLookupResult::hit;
	out.socket = found->socket;
	out.device = found->device;
	return out;
}

EconInsert EconRxMap::insert(unsigned cpu, std::uint64_t now_ns, std::uint32_t key,
			     EconSocket socket, EconDevice device, const EconFlow &flow)
{
	// §2.1 step 4: socket, device and flow are always rewritten, from the packet in hand.
	return insert_or_overwrite(cpu, now_ns, EconRxEntry{key, socket, device, flow});
}

EconTxLookup EconTxMap::lookup(unsigned cpu, std::uint32_t key, EconSocket socket) const
{
	EconTxLookup out;
	// B8: the key carries no addresses and the entry stores none, so a socket sending to
	// several peers with the same ports gets the first peer's outer header and inner MACs.
	const EconTxEntry *found = first_match(
		chain_of_key(cpu, key),
		[key, socket](const EconTxEntry &e) { return e.key == key && e.socket == socket; },
		out.visited);
	if (!found)
		return out;
	out.hit = true;
	out.entry = *found;
	return out;
}

EconInsert EconTxMap::insert(unsigned cpu, std::uint64_t now_ns, std::uint32_t key,
			     EconSocket socket, EconDevice device, const EconOuterHeader &outer,
			     const EconInnerMacs &inner_macs)
{
	// B8: matched by key alone, so any socket with the same (proto, sport, dport) takes the
	// entry over from its owner.
	return insert_or_overwrite(cpu, now_ns, EconTxEntry{key, socket, device, outer, inner_macs});
}

EconRemoveStats EconMaps::remove_socket(EconSocket socket)
{
	EconRemoveStats stats;
	auto owned = [socket](const auto &e) { return e.socket == socket; };
	for (unsigned cpu = 0; cpu < cpus(); cpu++) {
		stats.rx_deleted += rx_.delete_first_match_per_bucket(cpu, owned, stats);
		stats.tx_deleted += tx_.delete_first_match_per_bucket(cpu, owned, stats);
	}
	return stats;
}

EconRemoveStats EconMaps::remove_all(std::uint64_t now_ns)
{
	EconRemoveStats stats;
	auto any = [](const auto &) { return true; };
	for (unsigned cpu = 0; cpu < cpus(); cpu++) {
		stats.rx_deleted += rx_.delete_first_match_per_bucket(cpu, any, stats);
		stats.tx_deleted += tx_.delete_first_match_per_bucket(cpu, any, stats);
		rx_.flush_timestamp(cpu, now_ns);
		tx_.flush_timestamp(cpu, now_ns);
	}
	return stats;
}

} // namespace econsim::sim
