#include "stages/nic_rx.h"

#include <gtest/gtest.h>

namespace econsim::sim {
namespace {

// Microsoft, "Verifying the RSS Hash Calculation": IPv4 vectors for the default key.
struct RssVector {
	const char *dst;
	const char *src;
	std::uint32_t l3;
	std::uint32_t l4;
};

constexpr RssVector kVectors[] = {
	{"161.142.100.80:1766", "66.9.149.187:2794", 0x323e8fc2, 0x51ccc178},
	{"65.69.140.83:4739", "199.92.111.2:14230", 0xd718262a, 0xc626b0ea},
	{"12.22.207.184:38024", "24.19.198.95:12898", 0xd2d0a5de, 0x5c2b394a},
	{"209.142.163.6:2217", "38.27.205.30:48228", 0x82989176, 0xafc7327f},
	{"202.188.127.2:1303", "153.39.163.191:44251", 0x5d1809c5, 0x10e828a2},
};

TEST(RssHash, MatchesMicrosoftVerificationVectors)
{
	for (const RssVector &v : kVectors) {
		Endpoint src = *parse_endpoint(v.src);
		Endpoint dst = *parse_endpoint(v.dst);
		EXPECT_EQ(rss_hash_l3(src.address, dst.address), v.l3) << v.src << " > " << v.dst;
		EXPECT_EQ(rss_hash_l4(src, dst), v.l4) << v.src << " > " << v.dst;
	}
}

// The default key's hash is tabled; any other key (here the same bytes elsewhere) goes bit by bit.
// Both must give the same hash for every input.
TEST(RssHash, TabledAndBitByBitAgree)
{
	const std::array<std::uint8_t, 40> same_key = kMicrosoftRssKey;
	std::uint64_t state = 0x9E3779B97F4A7C15ull;
	auto next = [&state] {
		state ^= state << 13;
		state ^= state >> 7;
		state ^= state << 17;
		return state;
	};
	for (int i = 0; i < 10000; i++) {
		const std::uint64_t a = next(), b = next();
		const Endpoint src{Ipv4Address{static_cast<std::uint32_t>(a)}, static_cast<std::uint16_t>(a >> 32)};
		const Endpoint dst{Ipv4Address{static_cast<std::uint32_t>(b)}, static_cast<std::uint16_t>(b >> 32)};
		ASSERT_EQ(rss_hash_l4(src, dst), rss_hash_l4(src, dst, same_key)) << i;
		ASSERT_EQ(rss_hash_l3(src.address, dst.address), rss_hash_l3(src.address, dst.address, same_key)) << i;
	}
}

TEST(RssHash, DependsOnDirection)
{
	// Not symmetric with this key: the two directions of a flow may land on different CPUs.
	Endpoint a = *parse_endpoint("10.0.0.1:4789");
	Endpoint b = *parse_endpoint("10.0.0.2:40000");
	EXPECT_NE(rss_hash_l4(a, b), rss_hash_l4(b, a));
}

} // namespace
} // namespace econsim::sim
