// NIC receive's own parts (stages/nic_rx.cpp): the receive-side-scaling hash, Toeplitz over the
// outer IPv4 addresses (and ports), as a NIC computes it before the kernel sees the frame. The
// kernel keeps it in skb->hash, and ECON keys its flow map on it, so the simulator must compute it
// exactly as the hardware does.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "../address.h"

namespace econsim::sim {

// The 40-byte key from Microsoft's RSS specification, which its published verification vectors use.
// Linux drivers mostly take a random key per boot (netdev_rss_key_fill); the simulator uses this
// fixed one so that a replay is reproducible and the hash can be checked against the vectors.
inline constexpr std::array<std::uint8_t, 40> kMicrosoftRssKey = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

// Toeplitz over input, most significant bit first; the key must be at least 4 bytes longer than
// the input (the hash slides a 32-bit window over the key, one bit per input bit).
std::uint32_t toeplitz_hash(std::span<const std::uint8_t> key, std::span<const std::uint8_t> input);

// "l3": the hash over source then destination address (8 bytes, network order).
std::uint32_t rss_hash_l3(Ipv4Address src, Ipv4Address dst,
			  std::span<const std::uint8_t> key = kMicrosoftRssKey);

// "l4": addresses then source and destination port (12 bytes), for TCP and UDP.
std::uint32_t rss_hash_l4(Endpoint src, Endpoint dst, std::span<const std::uint8_t> key = kMicrosoftRssKey);

} // namespace econsim::sim
