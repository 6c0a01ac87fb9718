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
    : cpus_(cpus), heads_(std::size_t{cpus} * kEconMapSize, kNil), sizes_(cpus), timestamps_(cpus)
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

template <typename Entry> std::uint32_t &EconMapBase<Entry>::head(unsigned cpu, unsigned bucket)
{
	return heads_[std::size_t{cpu} * kEconMapSize + bucket];
}

template <typename Entry> std::uint32_t EconMapBase<Entry>::head(unsigned cpu, unsigned bucket) const
{
	return heads_[std::size_t{cpu} * kEconMapSize + bucket];
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
	std::size_t length = 0;
	for (std::uint32_t n = head(cpu, bucket); n != kNil; n = nodes_[n].next)
		length++;
	return length;
}

template <typename Entry> std::vector<Entry> EconMapBase<Entry>::entries(unsigned cpu) const
{
	check_cpu(cpu);
	std::vector<Entry> out;
	out.reserve(sizes_[cpu]);
	for (unsigned bucket = 0; bucket < kEconMapSize; bucket++)
		for (std::uint32_t n = head(cpu, bucket); n != kNil; n = nodes_[n].next)
			out.push_back(nodes_[n].entry);
	return out;
}

template <typename Entry>
std::vector<EconPlacedEntry<Entry>> EconMapBase<Entry>::entries_of(EconSocket socket) const
{
	std::vector<EconPlacedEntry<Entry>> out;
	for (unsigned cpu = 0; cpu < cpus_; cpu++)
		for (unsigned bucket = 0; bucket < kEconMapSize; bucket++) {
			unsigned depth = 0;
			for (std::uint32_t n = head(cpu, bucket); n != kNil; n = nodes_[n].next, depth++)
				if (nodes_[n].entry.socket == socket)
					out.push_back({cpu, bucket, depth, nodes_[n].entry});
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

template <typename Entry> std::uint32_t EconMapBase<Entry>::allocate(const Entry &entry)
{
	std::uint32_t n = free_;
	if (n != kNil) {
		free_ = nodes_[n].next;
		nodes_[n].entry = entry;
		return n;
	}
	if (nodes_.size() >= kNil)
		throw std::length_error("econ map: node pool full");
	nodes_.push_back({entry, kNil});
	return static_cast<std::uint32_t>(nodes_.size() - 1);
}

template <typename Entry> void EconMapBase<Entry>::release(std::uint32_t node)
{
	nodes_[node].next = free_;
	free_ = node;
}

template <typename Entry> void EconMapBase<Entry>::hash_add(unsigned cpu, const Entry &entry)
{
	check_cpu(cpu);
	// B6: no cap, no eviction, no aging; the chain just grows (kzalloc never fails here, B5).
	std::uint32_t n = allocate(entry);
	std::uint32_t &first = head(cpu, econ_bucket(entry.key));
	nodes_[n].next = first;
	first = n;
	sizes_[cpu]++;
}

template <typename Entry>
template <typename Match>
std::uint32_t EconMapBase<Entry>::find_first(unsigned cpu, std::uint32_t key, Match match,
					     std::uint32_t &visited) const
{
	check_cpu(cpu);
	for (std::uint32_t n = head(cpu, econ_bucket(key)); n != kNil; n = nodes_[n].next) {
		visited++;
		if (match(nodes_[n].entry))
			return n;
	}
	return kNil;
}

template <typename Entry>
EconInsert EconMapBase<Entry>::insert_or_overwrite(unsigned cpu, std::uint64_t now_ns,
						   const Entry &fresh)
{
	check_cpu(cpu);
	if (guarded(cpu, now_ns))
		return EconInsert::guarded;
	std::uint32_t visited = 0;
	std::uint32_t n = find_first(
		cpu, fresh.key, [&](const Entry &e) { return e.key == fresh.key; }, visited);
	if (n == kNil) {
		hash_add(cpu, fresh);
		return EconInsert::inserted;
	}
	// Keyed by the hash alone: whatever flow or socket held the entry loses it (B8).
	if (nodes_[n].entry == fresh)
		return EconInsert::refreshed;
	nodes_[n].entry = fresh;
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
		for (std::uint32_t *link = &head(cpu, bucket); *link != kNil; link = &nodes_[*link].next) {
			stats.entries_visited++;
			if (!match(nodes_[*link].entry))
				continue;
			std::uint32_t dead = *link;
			*link = nodes_[dead].next;
			release(dead);
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
	std::uint32_t n = find_first(
		cpu, key, [key](const EconRxEntry &e) { return e.key == key; }, out.visited);
	if (n == kNil)
		return out;
	const EconRxEntry &found = entry(n);
	// B8: the 32-bit NIC hash is verified by the inner 5-tuple only. VNI, netns, ingress
	// device and outer headers are not compared: overlapping tenants hit each other's entries.
	if (found.flow != inner) {
		out.result = EconRxLookupResult::flow_mismatch;
		return out;
	}
	out.result = EconRxLookupResult::hit;
	out.socket = found.socket;
	out.device = found.device;
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
	std::uint32_t n = find_first(
		cpu, key, [key, socket](const EconTxEntry &e) { return e.key == key && e.socket == socket; },
		out.visited);
	if (n == kNil)
		return out;
	out.hit = true;
	out.entry = entry(n);
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
