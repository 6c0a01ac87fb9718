// Value types the model speaks in: addresses, ports, tuples. Host byte order everywhere.
#pragma once

#include <array>
#include <bit>
#include <charconv>
#include <compare>
#include <cstdint>
#include <cstring>
#include <string>

namespace econsim::model {

// An IPv4 address in host byte order: 10.233.1.2 is 0x0ae90102.
struct Ipv4Address {
	std::uint32_t value = 0;

	constexpr bool is_any() const { return value == 0; }
	constexpr bool is_loopback() const { return (value >> 24) == 127; }
	constexpr bool is_multicast() const { return (value >> 28) == 0xe; }
	constexpr bool is_limited_broadcast() const { return value == 0xffffffffu; }
	auto operator<=>(const Ipv4Address&) const = default;
};

constexpr Ipv4Address ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d)
{
	return Ipv4Address{(std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | d};
}

inline constexpr Ipv4Address any_address{};
inline constexpr Ipv4Address loopback_address = ipv4(127, 0, 0, 1);

// An address configured on an interface, with its prefix: 10.233.1.2/16.
struct Ipv4Interface {
	Ipv4Address address;
	std::uint8_t prefix_length = 32;

	constexpr std::uint32_t netmask() const
	{
		return prefix_length == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix_length);
	}
	constexpr bool contains(Ipv4Address other) const
	{
		return (other.value & netmask()) == (address.value & netmask());
	}
	// The subnet broadcast the kernel adds as an RTN_BROADCAST route (fib_add_ifaddr) when the
	// prefix is shorter than /31.
	constexpr Ipv4Address subnet_broadcast() const { return Ipv4Address{address.value | ~netmask()}; }
	auto operator<=>(const Ipv4Interface&) const = default;
};

// A MAC's six bytes as one number, first byte highest: ordering it is ordering the bytes, in a few
// instructions rather than a memcmp call (bridges look MACs up per frame, and the frame parser's
// MACs are this type too: sim/address.h).
constexpr std::uint64_t mac_value(const std::array<std::uint8_t, 6> &bytes)
{
	// At run time two loads (four bytes and two, as a 6-byte copy stores them) and byte swaps, all
	// in registers: the loop, which GCC keeps as six shifts and ORs, was an eighth of a fixed-mode
	// replay's instructions. (Copying the bytes into a zeroed 8-byte local and loading that made
	// every call wait for store forwarding, which a load spanning three stores cannot get.)
	if (!std::is_constant_evaluated() && std::endian::native == std::endian::little) {
		std::uint32_t first;
		std::uint16_t last;
		std::memcpy(&first, bytes.data(), sizeof first);
		std::memcpy(&last, bytes.data() + sizeof first, sizeof last);
		return std::uint64_t{__builtin_bswap32(first)} << 16 | __builtin_bswap16(last);
	}
	std::uint64_t v = 0;
	for (auto b : bytes)
		v = v << 8 | b;
	return v;
}

struct MacAddress {
	std::array<std::uint8_t, 6> bytes{};

	constexpr bool is_multicast() const { return (bytes[0] & 1) != 0; } // broadcast included
	constexpr bool is_broadcast() const
	{
		for (auto b : bytes)
			if (b != 0xff)
				return false;
		return true;
	}
	constexpr std::uint64_t value() const { return mac_value(bytes); }
	constexpr bool operator==(const MacAddress &other) const { return value() == other.value(); }
	constexpr std::strong_ordering operator<=>(const MacAddress &other) const { return value() <=> other.value(); }
};

constexpr MacAddress mac(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint8_t e,
			 std::uint8_t f)
{
	return MacAddress{{a, b, c, d, e, f}};
}

inline constexpr MacAddress broadcast_mac = mac(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

enum class Protocol : std::uint8_t { udp, tcp };

struct Endpoint {
	Ipv4Address address;
	std::uint16_t port = 0;
	auto operator<=>(const Endpoint&) const = default;
};

// Addresses as the packet carries them. For a received packet, source is the remote peer and
// destination is the local end.
struct FourTuple {
	Endpoint source;
	Endpoint destination;
	auto operator<=>(const FourTuple&) const = default;
};

struct FiveTuple {
	Protocol protocol = Protocol::udp;
	FourTuple addresses;
	auto operator<=>(const FiveTuple&) const = default;
};

// The text to_string gives, appended to `out` without temporary strings: the verdict writer
// appends a flow for every frame.
inline void append_text(std::string& out, Ipv4Address address)
{
	char text[15]; // "255.255.255.255"
	char* at = text;
	for (int shift = 24; shift >= 0; shift -= 8) {
		at = std::to_chars(at, text + sizeof text, (address.value >> shift) & 0xff).ptr;
		if (shift)
			*at++ = '.';
	}
	out.append(text, at);
}
inline void append_text(std::string& out, const Endpoint& endpoint)
{
	append_text(out, endpoint.address);
	char text[6]; // ":65535"
	text[0] = ':';
	out.append(text, std::to_chars(text + 1, text + sizeof text, endpoint.port).ptr);
}
inline void append_text(std::string& out, const FourTuple& tuple)
{
	append_text(out, tuple.source);
	out += " > ";
	append_text(out, tuple.destination);
}
inline void append_text(std::string& out, const FiveTuple& tuple)
{
	out += tuple.protocol == Protocol::udp ? "udp " : "tcp ";
	append_text(out, tuple.addresses);
}

std::string to_string(Ipv4Address address);
std::string to_string(const Ipv4Interface& interface);
std::string to_string(const MacAddress& address);
std::string to_string(Protocol protocol);
std::string to_string(const Endpoint& endpoint);
std::string to_string(const FourTuple& tuple); // "10.233.2.2:4000 > 10.233.1.2:5000"
std::string to_string(const FiveTuple& tuple); // "udp 10.233.2.2:4000 > 10.233.1.2:5000"

} // namespace econsim::model
