// NIC receive: the frame as the host's physical NIC sees it. The capture holds both directions,
// so this first says which way the frame went, then does what the NIC does for a received one:
// an RSS hash over the outer headers and the CPU the indirection table maps it to.
#include "nic_rx.h"

#include <cassert>

#include "stages.h"
#include "model/topology.h"

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

bool is_default_key(std::span<const std::uint8_t> key)
{
	// kMicrosoftRssKey is one object for the whole program: its address says which key was given.
	return key.data() == kMicrosoftRssKey.data() && key.size() == kMicrosoftRssKey.size();
}

// The default key's hash of four input bytes at `position`, given as a big-endian word: four
// table loads, no bytes stored and read back.
std::uint32_t tabled_word(std::size_t position, std::uint32_t word)
{
	const ToeplitzTable &t = kMicrosoftKeyTable;
	return t[position][word >> 24] ^ t[position + 1][word >> 16 & 0xff] ^ t[position + 2][word >> 8 & 0xff] ^
	       t[position + 3][word & 0xff];
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
	if (is_default_key(key))
		return tabled_word(0, src.value) ^ tabled_word(4, dst.value);
	std::array<std::uint8_t, 8> input;
	put_be32(&input[0], src.value);
	put_be32(&input[4], dst.value);
	return toeplitz_hash(key, input);
}

std::uint32_t rss_hash_l4(Endpoint src, Endpoint dst, std::span<const std::uint8_t> key)
{
	if (is_default_key(key))
		return tabled_word(0, src.address.value) ^ tabled_word(4, dst.address.value) ^
		       tabled_word(8, std::uint32_t{src.port} << 16 | dst.port);
	std::array<std::uint8_t, 12> input;
	put_be32(&input[0], src.address.value);
	put_be32(&input[4], dst.address.value);
	put_be16(&input[8], src.port);
	put_be16(&input[10], dst.port);
	return toeplitz_hash(key, input);
}

unsigned rss_cpu(std::uint32_t hash, unsigned cpus)
{
	constexpr std::uint32_t kIndirectionSlots = 128;
	return (hash % kIndirectionSlots) % cpus;
}

namespace {

Direction direction_of(const Scenario &scenario, const ParsedFrame &f)
{
	const Nic &nic = scenario.host.nic;
	if (f.outer_ip) {
		if (f.outer_ip->dst == nic.ip.address)
			return Direction::rx;
		if (f.outer_ip->src == nic.ip.address)
			return Direction::tx;
	}
	if (f.link && f.link->src && *f.link->src == nic.mac)
		return Direction::tx;
	if (f.link && f.link->dst && (*f.link->dst == nic.mac || f.link->dst->is_multicast()))
		return Direction::rx;
	return Direction::other;
}

std::uint32_t outer_hash(RssMode mode, const ParsedFrame &f)
{
	if (!f.outer_ip || mode == RssMode::none)
		return 0;
	// NICs hash L4 ports only for unfragmented TCP and UDP (the L4 RSS types).
	if (mode == RssMode::l4 && f.outer_l4 && f.outer_l4->has_ports() && !f.outer_ip->is_fragment())
		return rss_hash_l4({f.outer_ip->src, f.outer_l4->src_port}, {f.outer_ip->dst, f.outer_l4->dst_port});
	return rss_hash_l3(f.outer_ip->src, f.outer_ip->dst);
}

} // namespace

bool nic_rx(StageContext &ctx, Packet &pkt)
{
	const Scenario &scenario = ctx.host.scenario();
	const ParsedFrame &f = pkt.parsed;
	pkt.dir = direction_of(scenario, f);
	pkt.verdict.dir = pkt.dir;

	if (f.reason == ParseReason::unsupported_link_type || f.reason == ParseReason::truncated_ethernet) {
		pkt.ignore(Stage::nic_rx, reason_name(f.reason), reason_description(f.reason));
		return false;
	}
	if (pkt.dir == Direction::other) {
		pkt.ignore(Stage::nic_rx, "not_for_host", [&] { return "neither addressed to nor sent by " + scenario.host.nic.name; });
		return false;
	}
	if (pkt.dir == Direction::tx) {
		pkt.step(Stage::nic_rx, [&] { return "transmitted by " + scenario.host.nic.name; });
		return true;
	}
	// A NIC that is down passes nothing up: dev_close → __dev_close_many clears netif_running and
	// calls ndo_stop, which disables the NIC's NAPI instances (net/core/dev.c, 6.1), so no frame
	// reaches mlx5e_handle_rx_cqe, let alone a protocol or the fast path's hook.
	if (const model::Device *nic = ctx.host.nic(); !nic || !nic->admin_up) { // is_up(nic.name)
		pkt.drop(Stage::nic_rx, "device_down", [&] { return scenario.host.nic.name + " is down"; });
		return false;
	}
	pkt.rss_hash = outer_hash(scenario.host.rss, f);
	pkt.cpu = rss_cpu(pkt.rss_hash, static_cast<unsigned>(scenario.host.cpus));
	pkt.verdict.cpu = pkt.cpu;
	pkt.step(Stage::nic_rx, [&] { return "received on CPU " + std::to_string(pkt.cpu); },
		 [&] { return "rss " + std::string(to_string(scenario.host.rss)) + " hash " + hex32(pkt.rss_hash); });
	return true;
}

} // namespace econsim::sim
