// Hashing names (namespaces, devices, sockets) for unordered maps that are searched with a
// string_view: one function for std::string and std::string_view keys, so a lookup by a name the
// caller holds builds no std::string. Every frame hashes several names (a device, a namespace, a
// socket), so the hash is inline and reads the name eight bytes at a time: names are short, and
// std::hash's out-of-line murmur was a visible part of a replay (perf, issue 15). No map hashed
// with it is iterated, so the order of its buckets decides nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace econsim::model {

struct NameHash {
	using is_transparent = void;
	std::size_t operator()(std::string_view name) const
	{
		const char *p = name.data();
		std::size_t n = name.size();
		std::uint64_t h = n * 0x9E3779B97F4A7C15ull;
		for (; n >= 8; p += 8, n -= 8) {
			std::uint64_t word;
			std::memcpy(&word, p, 8);
			h = (h ^ word) * 0xBF58476D1CE4E5B9ull;
			h ^= h >> 31;
		}
		std::uint64_t tail = 0;
		for (std::size_t i = 0; i < n; i++)
			tail |= std::uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
		h = (h ^ tail) * 0x94D049BB133111EBull;
		return static_cast<std::size_t>(h ^ (h >> 32));
	}
};

} // namespace econsim::model
