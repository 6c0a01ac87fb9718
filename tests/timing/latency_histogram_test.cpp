#include <gtest/gtest.h>

#include "timing/latency_histogram.h"

namespace econsim::sim::timing {
namespace {

TEST(LatencyHistogram, SmallValuesAreExact)
{
	LatencyHistogram h;
	for (int v = 1; v <= 100; v++)
		h.add(v);
	EXPECT_EQ(h.count(), 100u);
	EXPECT_EQ(h.percentile(0.5), 50);
	EXPECT_EQ(h.percentile(0.99), 99);
	EXPECT_EQ(h.percentile(1.0), 100);
	EXPECT_EQ(h.max(), 100);
}

TEST(LatencyHistogram, LargeValuesWithinOnePartIn128)
{
	LatencyHistogram h;
	for (std::int64_t v :
	     {std::int64_t{1'000}, std::int64_t{10'000}, std::int64_t{123'456}, std::int64_t{9'876'543'210}})
		h.add(v);
	EXPECT_EQ(h.percentile(1.0), 9'876'543'210) << "capped at the maximum";
	for (double q : {0.25, 0.5, 0.75}) {
		std::int64_t expected = q == 0.25 ? 1'000 : q == 0.5 ? 10'000 : 123'456;
		std::int64_t got = h.percentile(q);
		EXPECT_GE(got, expected);
		EXPECT_LE(got, expected + expected / 128) << q;
	}
}

TEST(LatencyHistogram, EmptyIsZero)
{
	LatencyHistogram h;
	EXPECT_EQ(h.percentile(0.5), 0);
}

} // namespace
} // namespace econsim::sim::timing
