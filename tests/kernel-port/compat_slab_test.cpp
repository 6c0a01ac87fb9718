// kernel-port/compat's slab for the blocks the flow map makes at create (its RX entry arrays, over
// 256 KiB): zero when given out, fresh or kept from a freed block, counted while in use, and ended
// by a page that faults.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

extern "C" {
#include <linux/slab.h>
}

namespace {

constexpr std::size_t kLarge = (300u << 10) + 64; // over the arena's 256 KiB, a multiple of 64

bool all_zero(const void *p, std::size_t size)
{
	const auto *bytes = static_cast<const std::uint8_t *>(p);
	return std::all_of(bytes, bytes + size, [](std::uint8_t b) { return b == 0; });
}

TEST(CompatSlab, ALargeZeroedBlockIsZeroAlignedAndCounted)
{
	const std::size_t before = compat_arena_in_use();
	void *p = kcalloc(1, kLarge, GFP_KERNEL);
	ASSERT_NE(p, nullptr);
	EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 64, 0u);
	EXPECT_TRUE(all_zero(p, kLarge));
	EXPECT_EQ(compat_arena_in_use() - before, kLarge);
	kfree(p);
	EXPECT_EQ(compat_arena_in_use(), before);
}

// A freed block is kept for the next of its size: that one must be zero all the same.
TEST(CompatSlab, ALargeBlockGivenOutAgainIsZeroedAgain)
{
	for (int round = 0; round < 3; round++) {
		auto *p = static_cast<std::uint8_t *>(kcalloc(1, kLarge, GFP_KERNEL));
		ASSERT_NE(p, nullptr);
		ASSERT_TRUE(all_zero(p, kLarge)) << "round " << round;
		std::memset(p, 0xab, kLarge);
		kfree(p);
	}
}

TEST(CompatSlab, AReadPastALargeBlocksEndFaults)
{
	auto *p = static_cast<volatile std::uint8_t *>(kcalloc(1, kLarge, GFP_KERNEL));
	ASSERT_NE(p, nullptr);
	p[kLarge - 1] = 1; // the last byte is the block's
	EXPECT_DEATH((void)p[kLarge], "");
	kfree(const_cast<std::uint8_t *>(p));
}

} // namespace
