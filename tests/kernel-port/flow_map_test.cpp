// The flow map through its C++ wrapper: the shared C header compiles as C++,
// and the map behaves per CPU as the simulator relies on.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>

extern "C" {
#include <linux/slab.h>
}

#include "flow_map.h"

using econsim::sim::FlowMap;

namespace {

constexpr uint32_t kUnderlay = 1;
constexpr uint32_t kContainer = 7;
constexpr uint8_t kUdp = 17;

fpmap_flow udp_flow(uint16_t sport, uint16_t dport, uint32_t vni)
{
	fpmap_flow flow{};
	flow.saddr = htonl(0x0ae90202);
	flow.daddr = htonl(0x0ae90102);
	flow.sport = htons(sport);
	flow.dport = htons(dport);
	flow.proto = kUdp;
	flow.vni = vni;
	flow.netns = kUnderlay;
	return flow;
}

fpmap_rx_dest dest_for(uint64_t cookie)
{
	fpmap_rx_dest dest{};
	dest.sock_cookie = cookie;
	dest.sock_netns = kContainer;
	dest.dev = {kContainer, 2};
	return dest;
}

fpmap_path path_through(int vxlan_ifindex)
{
	fpmap_path path{};
	path.dev[0] = {kUnderlay, vxlan_ifindex};
	path.dev[1] = {kContainer, 2};
	return path;
}

// Inserts as the simulator does: the ticket comes from the lookup that missed.
void cache(FlowMap &map, unsigned cpu, const fpmap_flow &flow, uint64_t cookie, int vxlan = 10)
{
	fpmap_ticket ticket{};
	ASSERT_FALSE(map.rx_lookup(cpu, flow, 0x1234, ticket).has_value());
	ASSERT_EQ(map.rx_insert(cpu, ticket, flow, 0x1234, dest_for(cookie), path_through(vxlan)), 0);
}

std::optional<uint64_t> cookie_at(FlowMap &map, unsigned cpu, const fpmap_flow &flow)
{
	fpmap_ticket ticket{};
	auto dest = map.rx_lookup(cpu, flow, 0x1234, ticket);
	if (!dest)
		return std::nullopt;
	return dest->sock_cookie;
}

} // namespace

TEST(FlowMap, EntriesArePerCpu)
{
	FlowMap map(2, 64);
	auto flow = udp_flow(4000, 5000, 42);
	cache(map, 0, flow, 11);
	EXPECT_EQ(cookie_at(map, 0, flow), 11u);
	EXPECT_FALSE(cookie_at(map, 1, flow).has_value());
	EXPECT_EQ(map.cpu_stats(0).entries, 1u);
	EXPECT_EQ(map.cpu_stats(1).entries, 0u);
}

TEST(FlowMap, SameFiveTupleOnAnotherVniIsAMiss)
{
	FlowMap map(1, 64);
	cache(map, 0, udp_flow(4000, 5000, 42), 11);
	EXPECT_FALSE(cookie_at(map, 0, udp_flow(4000, 5000, 43)).has_value());
}

TEST(FlowMap, CloseRemovesTheSocketsEntriesOnEveryCpu)
{
	FlowMap map(2, 64);
	for (unsigned cpu = 0; cpu < 2; cpu++) {
		cache(map, cpu, udp_flow(4000, 5000, 42), 21);
		cache(map, cpu, udp_flow(4001, 5000, 42), 22);
	}
	map.sock_closed(21);
	EXPECT_FALSE(map.has_cookie(21));
	EXPECT_TRUE(map.has_cookie(22));
	EXPECT_EQ(map.total_stats().invalidated, 2u);
	EXPECT_EQ(map.total_stats().entries, 2u);
	EXPECT_EQ(map.event_count(FPMAP_EV_SOCK_CLOSE), 1u);
}

// Close finds a socket's entries through a cookie index with fewer buckets than sockets: the
// other sockets in the closed one's bucket keep their entries, and they still hit.
TEST(FlowMap, CloseLeavesTheOtherSocketsOfItsCookieBucket)
{
	constexpr uint64_t kSockets = 48; // a 64-entry map has 16 cookie buckets: some are shared
	FlowMap map(1, 64);
	for (uint64_t cookie = 1; cookie <= kSockets; cookie++)
		cache(map, 0, udp_flow(static_cast<uint16_t>(4000 + cookie), 5000, 42), cookie);
	map.sock_closed(7);
	EXPECT_EQ(map.total_stats().invalidated, 1u);
	EXPECT_EQ(map.total_stats().entries, kSockets - 1);
	for (uint64_t cookie = 1; cookie <= kSockets; cookie++) {
		auto hit = cookie_at(map, 0, udp_flow(static_cast<uint16_t>(4000 + cookie), 5000, 42));
		if (cookie == 7)
			EXPECT_FALSE(hit.has_value());
		else
			EXPECT_EQ(hit, cookie) << "socket " << cookie;
	}
}

TEST(FlowMap, RebindMakesFlowsToThatPortStale)
{
	FlowMap map(1, 64);
	auto flow = udp_flow(4000, 5000, 42);
	cache(map, 0, flow, 31);
	map.sock_rebound(kContainer, kUdp, 5000);
	EXPECT_FALSE(cookie_at(map, 0, flow).has_value());
	EXPECT_EQ(map.cpu_stats(0).stale, 1u);
}

TEST(FlowMap, DeviceEventOnThePathMakesTheFlowStale)
{
	FlowMap map(1, 64);
	auto via_10 = udp_flow(4000, 5000, 42);
	auto via_20 = udp_flow(4001, 5000, 43);
	cache(map, 0, via_10, 41, 10);
	cache(map, 0, via_20, 42, 20);
	map.dev_event({kUnderlay, 10}, FPMAP_EV_VNI_CHANGE);
	EXPECT_FALSE(cookie_at(map, 0, via_10).has_value());
	EXPECT_EQ(cookie_at(map, 0, via_20), 42u);
	EXPECT_EQ(map.event_count(FPMAP_EV_VNI_CHANGE), 1u);
}

TEST(FlowMap, InsertAfterAnEventSinceTheTicketIsRefused)
{
	FlowMap map(1, 64);
	auto flow = udp_flow(4000, 5000, 42);
	fpmap_ticket ticket{};
	ASSERT_FALSE(map.rx_lookup(0, flow, 1, ticket).has_value());
	map.flush();
	EXPECT_NE(map.rx_insert(0, ticket, flow, 1, dest_for(51), path_through(10)), 0);
	EXPECT_EQ(map.cpu_stats(0).insert_races, 1u);
}

// Issue 13, defect 7: with RPS the socket's CPU (1) inserts what the NIC's CPU (0) looked up. The
// entry lands in CPU 0's table, the one the ticket names, where the flow's next lookup runs.
TEST(FlowMap, InsertFromAnotherCpuGoesToTheLookupsCpu)
{
	FlowMap map(2, 64);
	auto flow = udp_flow(4000, 5000, 42);
	fpmap_ticket ticket{};
	ASSERT_FALSE(map.rx_lookup(0, flow, 0x1234, ticket).has_value());
	EXPECT_EQ(ticket.cpu, 0u);
	ASSERT_EQ(map.rx_insert(1, ticket, flow, 0x1234, dest_for(51), path_through(10)), 0);
	EXPECT_EQ(cookie_at(map, 0, flow), 51u);
	EXPECT_FALSE(cookie_at(map, 1, flow).has_value());
	EXPECT_EQ(map.cpu_stats(0).entries, 1u);
	EXPECT_EQ(map.cpu_stats(1).entries, 0u);
}

TEST(FlowMap, TxTemplateRoundTripsAndIsPerSocket)
{
	FlowMap map(1, 64);
	auto flow = udp_flow(5000, 4000, 0);
	fpmap_tx_template tmpl{};
	for (unsigned i = 0; i < FPMAP_OUTER_LEN; i++)
		tmpl.outer[i] = static_cast<uint8_t>(i * 3);
	tmpl.egress = {kUnderlay, 3};
	fpmap_ticket ticket{};
	EXPECT_FALSE(map.tx_lookup(0, flow, 9, 61, ticket).has_value());
	ASSERT_EQ(map.tx_insert(0, ticket, flow, 9, 61, tmpl, path_through(10)), 0);
	auto hit = map.tx_lookup(0, flow, 9, 61, ticket);
	ASSERT_TRUE(hit.has_value());
	EXPECT_EQ(std::memcmp(hit->outer, tmpl.outer, FPMAP_OUTER_LEN), 0);
	EXPECT_FALSE(map.tx_lookup(0, flow, 9, 62, ticket).has_value());
}

TEST(FlowMap, CapacityBoundsEntries)
{
	FlowMap map(1, 16);
	for (uint16_t port = 0; port < 100; port++)
		cache(map, 0, udp_flow(1000 + port, 5000, 42), 70);
	EXPECT_EQ(map.cpu_stats(0).entries, 16u);
	EXPECT_EQ(map.cpu_stats(0).evictions, 84u);
	EXPECT_EQ(map.buckets_per_cpu(), 2u); // 15 slots each, 4 slots for every 3 entries
}

// Evicted and closed entries' slots are reused: churn far past the capacity needs no memory beyond
// what the table had once full, and no insert is refused.
TEST(FlowMap, RemovedEntriesAreReused)
{
	constexpr unsigned kCapacity = 8;
	FlowMap map(1, kCapacity);
	fpmap_ticket ticket{};
	auto insert = [&](unsigned i, uint64_t cookie) {
		auto flow = udp_flow(static_cast<uint16_t>(1000 + i), 5000, 42);
		map.rx_lookup(0, flow, i, ticket);
		return map.rx_insert(0, ticket, flow, i, dest_for(cookie), path_through(10));
	};
	for (unsigned i = 0; i < kCapacity; i++)
		ASSERT_EQ(insert(i, 70), 0);
	const long allocations = compat_live_allocations();
	for (unsigned i = kCapacity; i < 5000; i++) {
		ASSERT_EQ(insert(i, 70 + i % 3), 0) << "insert " << i;
		if (i % 100 == 0)
			map.sock_closed(70 + i % 3);
	}
	EXPECT_EQ(compat_live_allocations(), allocations);
	EXPECT_EQ(map.cpu_stats(0).alloc_failures, 0u);
	EXPECT_EQ(map.cpu_stats(0).entries, kCapacity);
	auto hit = map.rx_lookup(0, udp_flow(1000 + 4999, 5000, 42), 4999, ticket);
	ASSERT_TRUE(hit.has_value());
	EXPECT_EQ(hit->sock_cookie, 70u + 4999 % 3);
}

// Entries are numbered slot by slot across the buckets, and an insert takes its bucket's first free
// slot in one fixed order: a table at a third of its capacity (5,000 flows in 16,384: 3.7 a
// bucket) allocates the chunks of the low slots only. Numbered bucket by bucket, each chunk of 64
// slots spans four buckets and every one was allocated. The RX entries themselves are one array
// made at create (their pages, in userspace, resident only where entries landed).
TEST(FlowMap, ATableAtAThirdOfItsCapacityAllocatesOnlyTheLowSlotsChunks)
{
	constexpr unsigned kCapacity = 16384;
	constexpr unsigned kFlows = 5000;
	constexpr unsigned kSlotsPerBucket = 15;
	constexpr unsigned kChunkEntries = 64;
	FlowMap map(1, kCapacity);
	const unsigned chunks = (map.buckets_per_cpu() * kSlotsPerBucket + kChunkEntries - 1) / kChunkEntries;
	const long before = compat_live_allocations();
	fpmap_ticket ticket{};
	for (unsigned i = 0; i < kFlows; i++) {
		auto flow = udp_flow(static_cast<uint16_t>(i), static_cast<uint16_t>(5000 + i / 65536), 42);
		// At random over the buckets, as the callers' hashes are (murmur3's finalizer of i; a
		// multiple of i would fill them evenly, as no real hash does).
		uint32_t hash = i + 1;
		hash = (hash ^ hash >> 16) * 0x85EBCA6Bu;
		hash = (hash ^ hash >> 13) * 0xC2B2AE35u;
		hash ^= hash >> 16;
		ASSERT_FALSE(map.rx_lookup(0, flow, hash, ticket).has_value());
		ASSERT_EQ(map.rx_insert(0, ticket, flow, hash, dest_for(70), path_through(10)), 0);
	}
	ASSERT_EQ(map.cpu_stats(0).entries, kFlows);
	// One allocation a chunk: an RX chunk holds its entries' cold parts.
	const long allocated = compat_live_allocations() - before;
	EXPECT_GT(allocated, 0);
	EXPECT_LT(allocated, chunks * 7 / 10) << "of " << chunks << " chunks";
}

TEST(FlowMap, RejectsBadCpuAndMixedCpuCounts)
{
	FlowMap map(2, 64);
	fpmap_ticket ticket{};
	EXPECT_THROW(map.rx_lookup(2, udp_flow(1, 2, 3), 0, ticket), std::out_of_range);
	EXPECT_THROW(FlowMap(3, 64), std::invalid_argument);
	EXPECT_THROW(FlowMap(0, 64), std::invalid_argument);
}

TEST(FlowMap, NothingStaysAllocatedAfterTheLastMap)
{
	{
		FlowMap map(2, 64);
		cache(map, 0, udp_flow(4000, 5000, 42), 81);
		map.sock_closed(81);
		cache(map, 1, udp_flow(4000, 5000, 42), 82);
	}
	EXPECT_EQ(FlowMap::live_allocations(), 0);
}
