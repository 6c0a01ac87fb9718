#include "rss_hash.h"

#include <cassert>

namespace econsim::sim {

namespace {

void put_be32(std::uint8_t *at, std::uint32_t value)
{
	at[0] = static_cast<std::uint8_t>(value >> 24);
	at[1] = static_cast<std::uint8_t>(value >> 16);
	at[2] = static_cast<std::uint8_t>(value >> 8);
	at[3] = static_cast<std::uint8_t>(value);
}

void put_be16(std::uint8_t *at, std::uint16_t value)
{
	at[0] = static_cast<std::uint8_t>(value >> 8);
	at[1] = static_cast<std::uint8_t>(value);
}

// Toeplitz is linear over XOR: the hash of an input is the XOR, over its bytes, of the hash each
// byte gives alone at its position. For the default key those are tabled once (12 positions, the
// longest input, by 256 values), so a frame's hash is 12 lookups instead of 96 bit steps.
constexpr std::size_t kTabledInputBytes = 12;
using ToeplitzTable = std::array<std::array<std::uint32_t, 256>, kTabledInputBytes>;

// Built at compile time, so the evaluation is kept small (clang stops a constant evaluation after
// a million steps): the key's 32-bit window is taken once per input bit, and each entry is a
// smaller entry XOR one window (value without its lowest set bit, plus that bit's window).
constexpr ToeplitzTable make_table(const std::array<std::uint8_t, 40> &key)
{
	constexpr std::size_t kBits = 8 * kTabledInputBytes;
	std::array<std::uint32_t, kBits> window_at_bit{};
	for (std::size_t first = 0; first < kBits; ++first) {
		// The key's 32 bits starting at bit `first`, most significant first.
		std::uint32_t window = 0;
		for (std::size_t k = first; k < first + 32; ++k)
			window = window << 1 | (key[k / 8] >> (7 - k % 8) & 1);
		window_at_bit[first] = window;
	}
	ToeplitzTable table{};
	for (std::size_t position = 0; position < kTabledInputBytes; ++position) {
		for (unsigned value = 1; value < 256; ++value) {
			unsigned lowest = 0;
			while (!(value >> lowest & 1))
				++lowest;
			// Bit `lowest` of the byte (counted from its least significant) is input bit 7 - lowest.
			table[position][value] = table[position][value & (value - 1)] ^
						 window_at_bit[8 * position + 7 - lowest];
		}
	}
	return table;
}

constexpr ToeplitzTable kMicrosoftKeyTable = make_table(kMicrosoftRssKey);

// The default key's table when `key` is it (kMicrosoftRssKey is one object for the whole program,
// so its address says which key the caller gave), the bit-by-bit hash otherwise.
std::uint32_t hash_input(std::span<const std::uint8_t> key, std::span<const std::uint8_t> input)
{
	if (key.data() != kMicrosoftRssKey.data() || key.size() != kMicrosoftRssKey.size() ||
	    input.size() > kTabledInputBytes)
		return toeplitz_hash(key, input);
	std::uint32_t hash = 0;
	for (std::size_t i = 0; i < input.size(); ++i)
		hash ^= kMicrosoftKeyTable[i][input[i]];
	return hash;
}

} // namespace

std::uint32_t toeplitz_hash(std::span<const std::uint8_t> key, std::span<const std::uint8_t> input)
{
	assert(key.size() >= input.size() + 4);
	std::uint32_t result = 0;
	// window holds the key bits aligned with the current input bit: its top 32 bits are the
	// "left-most 32 bits of K" of the specification; the low 32 bits are the bits about to enter.
	std::uint64_t window = 0;
	for (std::size_t i = 0; i < 8; ++i)
		window = window << 8 | key[i];
	for (std::size_t byte = 0; byte < input.size(); ++byte) {
		for (int bit = 7; bit >= 0; --bit) {
			if (input[byte] >> bit & 1)
				result ^= static_cast<std::uint32_t>(window >> 32);
			window <<= 1;
		}
		// After 8 shifts the low byte is empty: feed the next key byte into it.
		std::size_t next = byte + 8;
		window |= next < key.size() ? key[next] : 0;
	}
	return result;
}

std::uint32_t rss_hash_l3(Ipv4Address src, Ipv4Address dst, std::span<const std::uint8_t> key)
{
	std::array<std::uint8_t, 8> input;
	put_be32(&input[0], src.value);
	put_be32(&input[4], dst.value);
	return hash_input(key, input);
}

std::uint32_t rss_hash_l4(Endpoint src, Endpoint dst, std::span<const std::uint8_t> key)
{
	std::array<std::uint8_t, 12> input;
	put_be32(&input[0], src.address.value);
	put_be32(&input[4], dst.address.value);
	put_be16(&input[8], src.port);
	put_be16(&input[10], dst.port);
	return hash_input(key, input);
}

} // namespace econsim::sim
