// model/types.h: a MAC's six bytes as one number, first byte highest, the same at run time (two
// loads and byte swaps) as in a constant expression (the loop), so that ordering and hashing agree.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>

#include "model/types.h"

using econsim::model::mac;
using econsim::model::mac_value;
using econsim::model::MacAddress;

namespace {

// Not constant-evaluated: the bytes come through memory the compiler cannot see through.
MacAddress from_runtime(const volatile std::uint8_t *bytes)
{
	MacAddress m;
	for (std::size_t i = 0; i < m.bytes.size(); i++)
		m.bytes[i] = bytes[i];
	return m;
}

} // namespace

TEST(MacValue, FirstByteHighestAtRunTimeAsInAConstantExpression)
{
	static constexpr std::uint64_t at_compile_time = mac_value({0x02, 0x2a, 0x0a, 0xe9, 0x01, 0x02});
	static_assert(at_compile_time == 0x022a0ae90102u);
	const volatile std::uint8_t bytes[6] = {0x02, 0x2a, 0x0a, 0xe9, 0x01, 0x02};
	EXPECT_EQ(from_runtime(bytes).value(), at_compile_time);
	const volatile std::uint8_t top[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xfe};
	EXPECT_EQ(from_runtime(top).value(), 0xfffffffffffeu);
}

TEST(MacValue, OrdersAsTheBytesDo)
{
	const volatile std::uint8_t low[6] = {0x01, 0xff, 0xff, 0xff, 0xff, 0xff};
	const volatile std::uint8_t high[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x00};
	EXPECT_LT(from_runtime(low), from_runtime(high));
	EXPECT_EQ(from_runtime(high), mac(0x02, 0, 0, 0, 0, 0));
	EXPECT_NE(from_runtime(low), mac(0x01, 0xff, 0xff, 0xff, 0xff, 0xfe));
	const volatile std::uint8_t last_differs[6] = {0x01, 0xff, 0xff, 0xff, 0xff, 0xfe};
	EXPECT_EQ(from_runtime(last_differs), mac(0x01, 0xff, 0xff, 0xff, 0xff, 0xfe));
}
