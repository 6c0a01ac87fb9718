// ECON's RX and TX maps as the original patch has them (econ-spec.md §2-§3). Each test names the
// rule it pins down and, where the rule is a bug, its id.
#include "econ_map.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace econsim::sim {
namespace {

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint8_t kTcp = 6;
constexpr std::uint8_t kUdp = 17;

EconFlow flow(std::uint32_t saddr, std::uint32_t daddr, std::uint16_t sport, std::uint16_t dport,
	      std::uint8_t proto = kTcp)
{
	return EconFlow{saddr, daddr, sport, dport, proto};
}

// `count` distinct keys that all land in `bucket`.
std::vector<std::uint32_t> keys_in_bucket(unsigned bucket, unsigned count)
{
	std::vector<std::uint32_t> keys;
	for (std::uint32_t key = 1; keys.size() < count; key++)
		if (econ_bucket(key) == bucket)
			keys.push_back(key);
	return keys;
}

EconOuterHeader outer_to(std::uint8_t peer)
{
	EconOuterHeader h{};
	h[14 + 19] = peer; // last byte of the outer destination address
	return h;
}

EconInnerMacs macs_of(std::uint8_t peer)
{
	EconInnerMacs m{};
	m[5] = peer; // last byte of the inner destination MAC
	return m;
}

const EconFlow kFlowA = flow(0x0a000001, 0x0a000002, 40000, 80);
const EconFlow kFlowB = flow(0x0a000003, 0x0a000002, 40001, 80);

TEST(EconBucket, IsHash32OfTheKeyOn10Bits)
{
	EXPECT_EQ(kEconMapSize, 1024u);
	EXPECT_EQ(econ_bucket(0), 0u);
	EXPECT_EQ(econ_bucket(1), 0x61C88647u >> 22);
	for (std::uint32_t key : {2u, 0xdeadbeefu, 0xffffffffu, 0x12345678u})
		EXPECT_EQ(econ_bucket(key), static_cast<std::uint32_t>(key * 0x61C88647u) >> 22) << key;
}

TEST(EconMaps, NeedACpuAndRefuseOthers)
{
	EXPECT_THROW(EconMaps(0), std::invalid_argument);
	EconMaps maps(2);
	EXPECT_THROW(maps.rx().insert(2, 0, 1, 1, 1, kFlowA), std::out_of_range);
	EXPECT_THROW(maps.tx().lookup(2, 1, 1), std::out_of_range);
	EXPECT_THROW((void)maps.rx().chain_length(0, kEconMapSize), std::out_of_range);
}

TEST(EconRx, HitReturnsTheCachedSocketAndDevice)
{
	EconRxMap rx(1);
	EXPECT_EQ(rx.lookup(0, 7, kFlowA).result, EconRxLookupResult::no_key);
	EXPECT_EQ(rx.insert(0, 0, 7, 100, 5, kFlowA), EconInsert::inserted);
	EconRxLookup hit = rx.lookup(0, 7, kFlowA);
	ASSERT_TRUE(hit.hit());
	EXPECT_EQ(hit.socket, 100u);
	EXPECT_EQ(hit.device, 5u);
	EXPECT_EQ(rx.lookup(0, 8, kFlowA).result, EconRxLookupResult::no_key);
	EXPECT_EQ(rx.lookup(0, 7, kFlowB).result, EconRxLookupResult::flow_mismatch);
}

TEST(EconRx, EachCpuHasItsOwnMap)
{
	// Insert on the delivering CPU, lookup on the NIC's: with RPS they differ and never hit.
	EconRxMap rx(2);
	rx.insert(1, 0, 7, 100, 5, kFlowA);
	EXPECT_FALSE(rx.lookup(0, 7, kFlowA).hit());
	EXPECT_TRUE(rx.lookup(1, 7, kFlowA).hit());
	EXPECT_EQ(rx.size(0), 0u);
	EXPECT_EQ(rx.size(1), 1u);
}

TEST(EconRx, FirstEntryWithTheKeyShadowsLaterOnes)
{
	// Insert never makes two entries with one key; built directly, the rule shows: the head
	// entry with the key is the only one compared, a later exact match is never reached.
	EconRxMap rx(1);
	rx.hash_add(0, EconRxEntry{9, 100, 5, kFlowA});
	rx.hash_add(0, EconRxEntry{9, 200, 6, kFlowB}); // now the bucket head
	EXPECT_EQ(rx.lookup(0, 9, kFlowA).result, EconRxLookupResult::flow_mismatch);
	EXPECT_EQ(rx.lookup(0, 9, kFlowB).socket, 200u);
	// Insert overwrites that first entry and leaves the shadowed one alone.
	EXPECT_EQ(rx.insert(0, 0, 9, 300, 7, kFlowA), EconInsert::overwritten);
	EXPECT_EQ(rx.lookup(0, 9, kFlowA).socket, 300u);
	EXPECT_EQ(rx.size(), 2u);
	EXPECT_EQ(rx.entries(0).back(), (EconRxEntry{9, 100, 5, kFlowA}));
}

TEST(EconRx, InsertKeepsOneEntryPerKey)
{
	EconRxMap rx(1);
	std::vector<std::uint32_t> keys = keys_in_bucket(3, 3);
	for (std::uint32_t key : keys)
		rx.insert(0, 0, key, key, 1, kFlowA);
	for (std::uint32_t key : keys)
		EXPECT_EQ(rx.insert(0, 0, key, 999, 1, kFlowB), EconInsert::overwritten);
	EXPECT_EQ(rx.chain_length(0, 3), 3u);
}

TEST(EconRx, CollidingHashOverwritesAndFlowsThrashB8)
{
	// Two flows with one 32-bit skb->hash share one entry: each slow-path insert steals it.
	EconRxMap rx(1);
	EXPECT_EQ(rx.insert(0, 0, 42, 100, 5, kFlowA), EconInsert::inserted);
	EXPECT_EQ(rx.insert(0, 0, 42, 200, 6, kFlowB), EconInsert::overwritten);
	EXPECT_EQ(rx.lookup(0, 42, kFlowA).result, EconRxLookupResult::flow_mismatch);
	EXPECT_EQ(rx.lookup(0, 42, kFlowB).socket, 200u);
	EXPECT_EQ(rx.insert(0, 0, 42, 100, 5, kFlowA), EconInsert::overwritten);
	EXPECT_FALSE(rx.lookup(0, 42, kFlowB).hit());
	EXPECT_EQ(rx.size(), 1u);
	// The same values again is a self-refresh, still a rewrite in the kernel.
	EXPECT_EQ(rx.insert(0, 0, 42, 100, 5, kFlowA), EconInsert::refreshed);
}

TEST(EconRx, TenantsSharingInnerTupleAndHashGetEachOthersSocketB8)
{
	// VNI 100 and VNI 200 both run 10.0.0.1:40000 > 10.0.0.2:80, and their outer packets hash
	// alike. Nothing in the entry says which tenant it belongs to.
	EconRxMap rx(1);
	const std::uint32_t hash = 0x5a5a5a5a;
	const EconSocket tenant1_socket = 0x1000;
	const EconDevice tenant1_eth0 = 11;
	rx.insert(0, 0, hash, tenant1_socket, tenant1_eth0, kFlowA);
	EconRxLookup tenant2_packet = rx.lookup(0, hash, kFlowA);
	ASSERT_TRUE(tenant2_packet.hit());
	EXPECT_EQ(tenant2_packet.socket, tenant1_socket);
	EXPECT_EQ(tenant2_packet.device, tenant1_eth0);
	// And tenant 2's own slow-path insert takes the entry from tenant 1.
	EXPECT_EQ(rx.insert(0, 0, hash, 0x2000, 22, kFlowA), EconInsert::overwritten);
	EXPECT_EQ(rx.lookup(0, hash, kFlowA).socket, 0x2000u);
}

TEST(EconRemoveSocket, StopsAfterTheFirstDeletionInEachBucketB4)
{
	EconMaps maps(2);
	std::vector<std::uint32_t> same_bucket = keys_in_bucket(17, 2);
	const std::uint32_t other_bucket_key = keys_in_bucket(18, 1)[0];
	const EconSocket server = 0xabc;
	maps.rx().insert(0, 0, same_bucket[0], server, 1, kFlowA);
	maps.rx().insert(0, 0, same_bucket[1], server, 1, kFlowB); // the bucket head
	maps.rx().insert(0, 0, other_bucket_key, server, 1, kFlowA);
	maps.rx().insert(1, 0, same_bucket[0], 0xdef, 1, kFlowA);

	EconRemoveStats stats = maps.remove_socket(server);
	EXPECT_EQ(stats.buckets_visited, 2u * 2u * kEconMapSize);
	EXPECT_EQ(stats.rx_deleted, 2u);
	EXPECT_EQ(stats.tx_deleted, 0u);
	// The older entry of bucket 17 is left, still pointing at the closed socket (B14).
	std::vector<EconPlacedEntry<EconRxEntry>> left = maps.rx().entries_of(server);
	ASSERT_EQ(left.size(), 1u);
	EXPECT_EQ(left[0].cpu, 0u);
	EXPECT_EQ(left[0].bucket, 17u);
	EXPECT_EQ(left[0].depth, 0u);
	EXPECT_EQ(left[0].entry.key, same_bucket[0]);
	EXPECT_EQ(maps.rx().lookup(0, same_bucket[0], kFlowA).socket, server);
	EXPECT_EQ(maps.rx().entries_of(0xdef).size(), 1u);

	// Only another close of the same socket would take the leftover.
	EXPECT_EQ(maps.remove_socket(server).rx_deleted, 1u);
	EXPECT_TRUE(maps.rx().entries_of(server).empty());
}

TEST(EconRemoveSocket, DeletesTheFirstMatchBehindOtherSocketsAndCoversTx)
{
	EconMaps maps(1);
	std::vector<std::uint32_t> keys = keys_in_bucket(5, 3);
	maps.rx().insert(0, 0, keys[0], 1, 1, kFlowA);
	maps.rx().insert(0, 0, keys[1], 2, 1, kFlowA);
	maps.rx().insert(0, 0, keys[2], 3, 1, kFlowA); // chain: 3, 2, 1
	maps.tx().insert(0, 0, keys[0], 2, 9, outer_to(1), macs_of(1));
	EconRemoveStats stats = maps.remove_socket(2);
	EXPECT_EQ(stats.rx_deleted, 1u);
	EXPECT_EQ(stats.tx_deleted, 1u);
	EXPECT_EQ(stats.entries_visited, 3u); // RX: entries 3 and 2; TX: entry 2
	std::vector<EconRxEntry> rest = maps.rx().entries(0);
	ASSERT_EQ(rest.size(), 2u);
	EXPECT_EQ(rest[0].socket, 3u);
	EXPECT_EQ(rest[1].socket, 1u);
	EXPECT_EQ(maps.tx().size(), 0u);
}

TEST(EconRemoveSocket, WalksEveryBucketEvenWhenEmpty)
{
	// The cost of every socket close, ECON enabled or not.
	EconMaps maps(8);
	EconRemoveStats stats = maps.remove_socket(1);
	EXPECT_EQ(stats.buckets_visited, 2u * 8u * 1024u);
	EXPECT_EQ(stats.entries_visited, 0u);
}

TEST(EconRemoveAll, DeletesOnlyTheFirstEntryOfEachBucketB4)
{
	EconMaps maps(2);
	std::vector<std::uint32_t> keys = keys_in_bucket(100, 3);
	for (std::uint32_t key : keys)
		maps.rx().insert(0, 0, key, key, 1, kFlowA);
	maps.rx().insert(1, 0, keys[0], 1, 1, kFlowA);
	maps.tx().insert(1, 0, keys[0], 1, 1, outer_to(1), macs_of(1));
	maps.tx().insert(1, 0, keys[1], 1, 1, outer_to(1), macs_of(1));

	EconRemoveStats stats = maps.remove_all(5 * kMs);
	EXPECT_EQ(stats.buckets_visited, 2u * 2u * kEconMapSize);
	EXPECT_EQ(stats.rx_deleted, 2u);
	EXPECT_EQ(stats.tx_deleted, 1u);
	// The newest entry (the head) went; the two older ones of the chain stayed.
	std::vector<EconRxEntry> rest = maps.rx().entries(0);
	ASSERT_EQ(rest.size(), 2u);
	EXPECT_EQ(rest[0].key, keys[1]);
	EXPECT_EQ(rest[1].key, keys[0]);
	EXPECT_EQ(maps.rx().size(1), 0u);
	EXPECT_EQ(maps.tx().size(1), 1u);
	EXPECT_EQ(maps.tx().entries(1)[0].key, keys[0]);
	EXPECT_EQ(maps.size(), 3u);
}

TEST(EconRemoveAll, StartsTheInsertGuardOnEveryCpuOfBothMaps)
{
	EconMaps maps(2);
	EXPECT_FALSE(maps.rx().timestamp(0).has_value());
	maps.remove_all(5 * kMs);
	for (unsigned cpu = 0; cpu < 2; cpu++) {
		EXPECT_EQ(maps.rx().timestamp(cpu), 5 * kMs);
		EXPECT_EQ(maps.tx().timestamp(cpu), 5 * kMs);
	}
}

TEST(EconGuard, RefusesInsertsFor100msAfterAFlushThenAccepts)
{
	EconMaps maps(2);
	std::vector<std::uint32_t> keys = keys_in_bucket(7, 2);
	// No flush yet: no guard, even at time 0.
	EXPECT_EQ(maps.rx().insert(0, 0, keys[0], 1, 1, kFlowA), EconInsert::inserted);
	EXPECT_EQ(maps.rx().insert(0, 0, keys[1], 1, 1, kFlowA), EconInsert::inserted);
	const std::uint64_t flush = 1000 * kMs;
	maps.remove_all(flush); // leaves keys[0] (B4)
	EXPECT_EQ(maps.rx().insert(0, flush, 2, 1, 1, kFlowA), EconInsert::guarded);
	EXPECT_EQ(maps.rx().insert(1, flush + 100 * kMs - 1, 2, 1, 1, kFlowA), EconInsert::guarded);
	EXPECT_EQ(maps.tx().insert(1, flush + 50 * kMs, 2, 1, 1, outer_to(1), macs_of(1)), EconInsert::guarded);
	// A guarded insert does not even overwrite the entry the flush left behind.
	EXPECT_EQ(maps.rx().insert(0, flush + 1, keys[0], 9, 9, kFlowB), EconInsert::guarded);
	EXPECT_EQ(maps.rx().entries(0), (std::vector<EconRxEntry>{{keys[0], 1, 1, kFlowA}}));
	EXPECT_EQ(maps.tx().size(), 0u);
	EXPECT_EQ(maps.rx().insert(0, flush + 100 * kMs, 2, 1, 1, kFlowA), EconInsert::inserted);
	EXPECT_EQ(maps.tx().insert(1, flush + 100 * kMs, 2, 1, 1, outer_to(1), macs_of(1)), EconInsert::inserted);
	// Lookups are never guarded.
	EXPECT_TRUE(maps.rx().lookup(0, 2, kFlowA).hit());
}

TEST(EconTxKey, HashesOnlyProtocolAndPorts)
{
	EXPECT_EQ(econ_tx_key(kUdp, 5000, 11211), econ_tx_key(kUdp, 5000, 11211));
	EXPECT_NE(econ_tx_key(kUdp, 5000, 11211), econ_tx_key(kTcp, 5000, 11211));
	EXPECT_NE(econ_tx_key(kUdp, 5000, 11211), econ_tx_key(kUdp, 11211, 5000));
	EXPECT_NE(econ_tx_key(kUdp, 5000, 11211), econ_tx_key(kUdp, 5001, 11211));
	for (std::uint32_t port = 0; port < 70000; port += 7)
		EXPECT_NE(econ_tx_key(0, 0, static_cast<std::uint16_t>(port)), 0u);
}

TEST(EconTx, LookupNeedsKeyAndSocket)
{
	EconTxMap tx(1);
	const std::uint32_t key = econ_tx_key(kTcp, 40000, 80);
	EXPECT_EQ(tx.insert(0, 0, key, 100, 3, outer_to(1), macs_of(1)), EconInsert::inserted);
	EconTxLookup hit = tx.lookup(0, key, 100);
	ASSERT_TRUE(hit.hit);
	EXPECT_EQ(hit.entry.device, 3u);
	EXPECT_EQ(hit.entry.outer, outer_to(1));
	EXPECT_EQ(hit.entry.inner_macs, macs_of(1));
	EXPECT_FALSE(tx.lookup(0, key, 101).hit);
	EXPECT_FALSE(tx.lookup(0, key + 1, 100).hit);
}

TEST(EconTx, AnotherSocketWithTheSamePortsTakesTheEntryOverB8)
{
	EconTxMap tx(1);
	const std::uint32_t key = econ_tx_key(kUdp, 5000, 53);
	tx.insert(0, 0, key, 100, 3, outer_to(1), macs_of(1));
	// Socket 200, another container, other addresses, same (proto, sport, dport).
	EXPECT_EQ(tx.insert(0, 0, key, 200, 3, outer_to(2), macs_of(2)), EconInsert::overwritten);
	EXPECT_EQ(tx.size(), 1u);
	EXPECT_FALSE(tx.lookup(0, key, 100).hit);
	EconTxLookup taken = tx.lookup(0, key, 200);
	ASSERT_TRUE(taken.hit);
	EXPECT_EQ(taken.entry.outer, outer_to(2));
}

TEST(EconTx, OneSocketToTwoPeersGetsTheFirstPeersHeaderB8)
{
	// An unconnected UDP client sends from port 5000 to port 11211 on peer 1, then peer 2.
	// The key has no addresses, so peer 2's packet hits peer 1's entry.
	EconTxMap tx(1);
	const EconSocket client = 0x77;
	const std::uint32_t to_peer1 = econ_tx_key(kUdp, 5000, 11211);
	const std::uint32_t to_peer2 = econ_tx_key(kUdp, 5000, 11211);
	ASSERT_EQ(to_peer1, to_peer2);
	tx.insert(0, 0, to_peer1, client, 3, outer_to(1), macs_of(1));
	EconTxLookup peer2_packet = tx.lookup(0, to_peer2, client);
	ASSERT_TRUE(peer2_packet.hit);
	EXPECT_EQ(peer2_packet.entry.outer, outer_to(1));
	EXPECT_EQ(peer2_packet.entry.inner_macs, macs_of(1));
	// Re-inserting from that misrouted packet's own headers is a self-refresh (B15).
	EXPECT_EQ(tx.insert(0, 0, to_peer2, client, 3, outer_to(1), macs_of(1)), EconInsert::refreshed);
}

TEST(EconGrowth, DistinctKeysGrowChainsWithoutBoundB6)
{
	EconMaps maps(1);
	constexpr std::uint32_t kFlows = 100'000;
	for (std::uint32_t i = 0; i < kFlows; i++) {
		// Distinct, well-spread keys, like RSS hashes of distinct client flows.
		const std::uint32_t key = i * 2654435761u + 12345u;
		ASSERT_EQ(maps.rx().insert(0, 0, key, 1, 1, flow(i, 2, 1000, 53, kUdp)), EconInsert::inserted);
	}
	EXPECT_EQ(maps.rx().size(), kFlows);
	EXPECT_EQ(maps.rx().memory_bytes(), std::uint64_t{kFlows} * 64);

	std::size_t total = 0, shortest = SIZE_MAX, longest = 0;
	for (unsigned bucket = 0; bucket < kEconMapSize; bucket++) {
		std::size_t length = maps.rx().chain_length(0, bucket);
		total += length;
		shortest = std::min(shortest, length);
		longest = std::max(longest, length);
	}
	EXPECT_EQ(total, kFlows);
	const double mean = double(kFlows) / kEconMapSize; // about 98
	EXPECT_GT(double(shortest), mean * 0.5);
	EXPECT_LT(double(longest), mean * 1.5);
	// The oldest flow sits at the tail of its chain: every lookup for it walks the chain.
	EconRxLookup oldest = maps.rx().lookup(0, 12345u, flow(0, 2, 1000, 53, kUdp));
	ASSERT_TRUE(oldest.hit());
	EXPECT_EQ(oldest.visited, maps.rx().chain_length(0, econ_bucket(12345u)));
	EXPECT_GT(double(oldest.visited), mean * 0.5);

	// One socket owning all of them: a close deletes one per bucket (B4), 1024 at most.
	EconRemoveStats stats = maps.remove_socket(1);
	EXPECT_EQ(stats.rx_deleted, kEconMapSize);
	EXPECT_EQ(maps.rx().size(), kFlows - kEconMapSize);
}

TEST(EconMemory, CountsKmallocSizeClasses)
{
	EconMaps maps(2);
	maps.rx().insert(0, 0, 1, 1, 1, kFlowA);
	maps.rx().insert(1, 0, 1, 1, 1, kFlowA);
	maps.tx().insert(0, 0, 1, 1, 1, outer_to(1), macs_of(1));
	EXPECT_EQ(maps.rx().memory_bytes(), 2u * 64u);
	EXPECT_EQ(maps.tx().memory_bytes(), 128u);
	EXPECT_EQ(maps.memory_bytes(), 2u * 64u + 128u);
	// Deleted entries give their memory back; new ones reuse the freed nodes.
	maps.remove_socket(1);
	EXPECT_EQ(maps.memory_bytes(), 0u);
	maps.rx().insert(0, 0, 2, 2, 2, kFlowB);
	EXPECT_EQ(maps.rx().entries(0), (std::vector<EconRxEntry>{{2, 2, 2, kFlowB}}));
}

} // namespace
} // namespace econsim::sim
