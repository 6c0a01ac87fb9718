// Addresses as the scenario and the frame parser both see them: Ethernet MACs, IPv4 addresses,
// prefixes and address:port endpoints, with strict text forms (the scenario format's spelling).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "model/types.h"

namespace econsim::sim {

struct MacAddress {
	std::array<std::uint8_t, 6> bytes{};

	bool is_multicast() const { return (bytes[0] & 0x01) != 0; } // includes broadcast
	constexpr std::uint64_t value() const { return model::mac_value(bytes); } // compared as one number
	constexpr bool operator==(const MacAddress &other) const { return value() == other.value(); }
	constexpr std::strong_ordering operator<=>(const MacAddress &other) const { return value() <=> other.value(); }
};

// Host byte order, so that ordering and prefix masks are plain integer operations; the parser
// converts from network order once, where it reads the header.
struct Ipv4Address {
	std::uint32_t value = 0;

	auto operator<=>(const Ipv4Address &) const = default;
};

struct Ipv4Prefix {
	Ipv4Address address; // the interface's own address, host bits kept ("10.233.1.2/16")
	int length = 32;

	bool contains(Ipv4Address a) const;
	auto operator<=>(const Ipv4Prefix &) const = default;
};

struct Endpoint {
	Ipv4Address address;
	std::uint16_t port = 0;

	auto operator<=>(const Endpoint &) const = default;
};

// Each parser accepts exactly one spelling and returns nullopt for anything else:
//   MAC "02:42:0a:e9:01:02" (two hex digits per byte, either case),
//   IPv4 "10.233.1.2" (decimal, no leading zeros: inet_aton would read "010" as octal),
//   prefix "10.233.1.2/16", endpoint "10.233.1.2:5000".
std::optional<MacAddress> parse_mac(std::string_view text);
std::optional<Ipv4Address> parse_ipv4(std::string_view text);
std::optional<Ipv4Prefix> parse_ipv4_prefix(std::string_view text);
std::optional<Endpoint> parse_endpoint(std::string_view text);

std::string to_string(MacAddress mac);
std::string to_string(Ipv4Address address);
std::string to_string(Ipv4Prefix prefix);
std::string to_string(Endpoint endpoint);

} // namespace econsim::sim
