// ECON's per-CPU RX and TX flow maps exactly as the original patch keeps them
// (../shared/reference/econ-spec.md §2-§3), bugs included: the data structures of the
// simulator's `econ` mode. No packets here: the pipeline hands in already-parsed fields.
// Behaviours that are bugs name their id (B4, B6, B8, B14); docs/econ-mode.md says which of
// B1-B20 live here and which belong to the pipeline.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace econsim::sim {

// ECON_MAP_SIZE: 1 << 10 buckets per map per CPU, fixed at build time.
inline constexpr unsigned kEconMapBits = 10;
inline constexpr unsigned kEconMapSize = 1u << kEconMapBits;
// After a flush, inserts are refused for this long (§2.3): not a TTL, not a rate limit.
inline constexpr std::uint64_t kEconInsertGuardNs = 100'000'000;

// The kernel's hash_32(): multiply by GOLDEN_RATIO_32 in 32 bits, keep the top `bits` bits.
constexpr std::uint32_t econ_hash_32(std::uint32_t value, unsigned bits)
{
	return (value * 0x61C88647u) >> (32 - bits);
}

// hash_min(key, 10): the bucket that hash_add and hash_for_each_possible pick for a key.
constexpr unsigned econ_bucket(std::uint32_t key)
{
	return econ_hash_32(key, kEconMapBits);
}

// The TX key: flow_hash_from_keys() over the flow_keys that econ_tx_insert and econ_xmit fill.
// Only basic.ip_proto and the ports are hashed (B8): control.flags (the socket pointer) lies
// before FLOW_KEYS_HASH_START_FIELD, and the addresses are cut off because control.addr_type
// stays 0. The real hash is siphash with a per-boot random key, so its values cannot be
// reproduced and only its equality classes matter: same (proto, sport, dport), same key. This is
// a fixed mix of those three; like flow_hash_from_keys it never returns 0.
std::uint32_t econ_tx_key(std::uint8_t proto, std::uint16_t sport, std::uint16_t dport);

// `struct sock *` as ECON stores it: an opaque handle held without a reference (B14). The
// simulator passes its socket cookie; a handle reused after close would reproduce the ABA case.
using EconSocket = std::uint64_t;
// `struct net_device *`, also held without a reference.
using EconDevice = std::uint64_t;

// struct econ_flow: the inner 5-tuple as the container sees it. Byte order is the caller's.
struct EconFlow {
	std::uint32_t saddr = 0;
	std::uint32_t daddr = 0;
	std::uint16_t sport = 0;
	std::uint16_t dport = 0;
	std::uint8_t proto = 0;
	friend bool operator==(const EconFlow &, const EconFlow &) = default;
};

// struct econ_rx_entry: 56 bytes by layout count, so a kmalloc-64 object (§2.1).
struct EconRxEntry {
	static constexpr std::uint64_t kObjectBytes = 56;
	static constexpr std::uint64_t kSlabBytes = 64;

	std::uint32_t key = 0; // skb->hash at insert time
	EconSocket socket = 0;
	EconDevice device = 0;
	EconFlow flow;
	friend bool operator==(const EconRxEntry &, const EconRxEntry &) = default;
};

// struct econ_outer_header: eth 14 + ip 20 + udp 8 + vxlan 8, copied from the first packet.
using EconOuterHeader = std::array<std::uint8_t, 50>;
// inner_mac_addrs: inner destination then source MAC (12 of the 16 bytes are used).
using EconInnerMacs = std::array<std::uint8_t, 12>;

// struct econ_tx_entry: about 112 bytes, so a kmalloc-128 object (§2.2). It stores no inner
// addresses, so nothing can verify them at lookup (B8).
struct EconTxEntry {
	static constexpr std::uint64_t kObjectBytes = 112;
	static constexpr std::uint64_t kSlabBytes = 128;

	std::uint32_t key = 0; // econ_tx_key()
	EconSocket socket = 0;
	EconDevice device = 0; // the pNIC the packet left by
	EconOuterHeader outer{};
	EconInnerMacs inner_macs{};
	friend bool operator==(const EconTxEntry &, const EconTxEntry &) = default;
};

// What an insert did, for counters. The kernel does not tell `refreshed` from `overwritten`
// (both rewrite the entry in place); the split shows collision thrash (B8) apart from the
// self-refresh every fast-path transmit causes (B15).
enum class EconInsert : std::uint8_t {
	inserted,    // no entry had the key: allocated and added at the bucket head
	overwritten, // the first entry with the key now holds other values
	refreshed,   // the first entry with the key already held exactly these values
	guarded,     // refused: less than 100 ms since the last flush of this CPU's map
};

enum class EconRxLookupResult : std::uint8_t {
	hit,
	no_key,        // no entry in the bucket has the key
	flow_mismatch, // the first entry with the key is for another inner 5-tuple
};

struct EconRxLookup {
	EconRxLookupResult result = EconRxLookupResult::no_key;
	EconSocket socket = 0;
	EconDevice device = 0;
	std::uint32_t visited = 0; // chain entries examined: what an unbounded chain costs (B6)
	bool hit() const { return result == EconRxLookupResult::hit; }
};

struct EconTxLookup {
	bool hit = false;
	EconTxEntry entry; // valid on a hit
	std::uint32_t visited = 0;
};

// An entry and where it sits: `depth` 0 is the bucket head.
template <typename Entry> struct EconPlacedEntry {
	unsigned cpu = 0;
	unsigned bucket = 0;
	unsigned depth = 0;
	Entry entry;
};

// What one econ_rx_remove or econ_rx_remove_all call cost and did.
struct EconRemoveStats {
	std::uint64_t buckets_visited = 0; // always 2 maps x CPUs x 1024
	std::uint64_t entries_visited = 0;
	std::uint64_t rx_deleted = 0;
	std::uint64_t tx_deleted = 0;
};

class EconMaps;

namespace detail {

// One map type on every CPU: per CPU, 1024 chains (the hlist_head array) and the flush
// timestamp. Each chain is one vector stored tail first, so that back() is the hlist head: head
// insertion is push_back, and a walk from the head runs through contiguous memory, which keeps
// millions of entries cheap. Order and deletion rules are exactly the hlist ones ECON relies on.
template <typename Entry> class EconMapBase {
public:
	unsigned cpus() const { return cpus_; }
	std::size_t size() const;
	std::size_t size(unsigned cpu) const;
	std::size_t chain_length(unsigned cpu, unsigned bucket) const;
	// One CPU's entries, bucket by bucket, each chain from its head.
	std::vector<Entry> entries(unsigned cpu) const;
	// Every entry still pointing at `socket`, on every CPU (what B4 leaves behind).
	std::vector<EconPlacedEntry<Entry>> entries_of(EconSocket socket) const;
	// Slab memory the entries hold: entries x the kmalloc size class. The bucket arrays are
	// static per-CPU data (8 KiB per map per CPU) and are not counted.
	std::uint64_t memory_bytes() const { return size() * Entry::kSlabBytes; }
	// When econ_rx_remove_all last ran, or nothing if it never ran on this map.
	std::optional<std::uint64_t> timestamp(unsigned cpu) const;

	// hash_add alone, without insert's search for the key. ECON's insert keeps at most one
	// entry per key; this lets tests and what-if scenarios build the state lookup's
	// first-match rule is about.
	void hash_add(unsigned cpu, const Entry &entry);

protected:
	explicit EconMapBase(unsigned cpus);

	using Chain = std::vector<Entry>; // tail first: back() is the head

	const Chain &chain(unsigned cpu, unsigned bucket) const;
	Chain &chain(unsigned cpu, unsigned bucket);
	// The chain a key hashes to on `cpu`, after checking the CPU.
	const Chain &chain_of_key(unsigned cpu, std::uint32_t key) const;
	Chain &chain_of_key(unsigned cpu, std::uint32_t key);
	// The first entry from the head of `chain` that `match` accepts, or null; counts the walk.
	template <typename ChainRef, typename Match>
	static auto first_match(ChainRef &chain, Match match, std::uint32_t &visited)
		-> decltype(&chain.back());
	// econ_rx_insert / econ_tx_insert after the field extraction: the guard, then overwrite
	// the first entry with the key, or add one at the head.
	EconInsert insert_or_overwrite(unsigned cpu, std::uint64_t now_ns, const Entry &fresh);

private:
	friend class econsim::sim::EconMaps;

	bool guarded(unsigned cpu, std::uint64_t now_ns) const;
	// The hash_for_each + hash_del + kfree walk of econ_rx_remove / econ_rx_remove_all.
	template <typename Match>
	std::uint64_t delete_first_match_per_bucket(unsigned cpu, Match match,
						    EconRemoveStats &stats);
	void flush_timestamp(unsigned cpu, std::uint64_t now_ns) { timestamps_[cpu] = now_ns; }
	void check_cpu(unsigned cpu) const;

	unsigned cpus_;
	std::vector<Chain> chains_;      // cpus_ x kEconMapSize
	std::vector<std::size_t> sizes_; // per CPU
	std::vector<std::optional<std::uint64_t>> timestamps_;
};

} // namespace detail

// DEFINE_PER_CPU(struct econ_rx_map, econ_rx_map).
class EconRxMap : public detail::EconMapBase<EconRxEntry> {
public:
	explicit EconRxMap(unsigned cpus) : EconMapBase(cpus) {}

	// econ_rx_lookup: the first entry with the key decides, alone.
	EconRxLookup lookup(unsigned cpu, std::uint32_t key, const EconFlow &inner) const;
	// econ_rx_insert: guarded for 100 ms after a flush; overwrites the first entry with the
	// key whatever it held, else allocates.
	EconInsert insert(unsigned cpu, std::uint64_t now_ns, std::uint32_t key, EconSocket socket,
			  EconDevice device, const EconFlow &flow);
};

// DEFINE_PER_CPU(struct econ_tx_map, econ_tx_map).
class EconTxMap : public detail::EconMapBase<EconTxEntry> {
public:
	explicit EconTxMap(unsigned cpus) : EconMapBase(cpus) {}

	// econ_xmit's lookup: the first entry with the key and the socket.
	EconTxLookup lookup(unsigned cpu, std::uint32_t key, EconSocket socket) const;
	// econ_tx_insert: guarded like RX; the first entry with the key is taken over whatever
	// socket owns it, else one is allocated.
	EconInsert insert(unsigned cpu, std::uint64_t now_ns, std::uint32_t key, EconSocket socket,
			  EconDevice device, const EconOuterHeader &outer,
			  const EconInnerMacs &inner_macs);
};

// Both maps, and the two calls that walk both.
class EconMaps {
public:
	explicit EconMaps(unsigned cpus) : rx_(cpus), tx_(cpus) {}

	EconRxMap &rx() { return rx_; }
	const EconRxMap &rx() const { return rx_; }
	EconTxMap &tx() { return tx_; }
	const EconTxMap &tx() const { return tx_; }
	unsigned cpus() const { return rx_.cpus(); }

	// econ_rx_remove(sk), run on every socket close: per CPU, every RX bucket then every TX
	// bucket, deleting the first entry of `socket` in each (B4).
	EconRemoveStats remove_socket(EconSocket socket);
	// econ_rx_remove_all() from a /proc/econ write of "0", "0d" or "clear": deletes the first
	// entry of every bucket (B4) and starts the 100 ms insert guard on every CPU, both maps.
	EconRemoveStats remove_all(std::uint64_t now_ns);

	std::size_t size() const { return rx_.size() + tx_.size(); }
	std::uint64_t memory_bytes() const { return rx_.memory_bytes() + tx_.memory_bytes(); }

private:
	EconRxMap rx_;
	EconTxMap tx_;
};

} // namespace econsim::sim
