#include "address.h"

#include <charconv>
#include <cstdio>
#include <utility>

namespace econsim::sim {

namespace {

// A decimal number of at most max_digits digits without a leading zero (a lone "0" is fine).
std::optional<unsigned> parse_decimal(std::string_view text, std::size_t max_digits, unsigned max_value)
{
	if (text.empty() || text.size() > max_digits || (text.size() > 1 && text[0] == '0'))
		return std::nullopt;
	unsigned value = 0;
	auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
	if (error != std::errc() || end != text.data() + text.size() || value > max_value)
		return std::nullopt;
	return value;
}

std::optional<unsigned> parse_hex_byte(std::string_view text)
{
	if (text.size() != 2)
		return std::nullopt;
	unsigned value = 0;
	auto [end, error] = std::from_chars(text.data(), text.data() + 2, value, 16);
	if (error != std::errc() || end != text.data() + 2)
		return std::nullopt;
	return value;
}

// "<address><separator><number>", as in a prefix or an endpoint.
std::optional<std::pair<Ipv4Address, unsigned>> parse_address_and_number(std::string_view text, char separator,
									  std::size_t max_digits, unsigned max_value)
{
	std::size_t at = text.find(separator);
	if (at == std::string_view::npos)
		return std::nullopt;
	auto address = parse_ipv4(text.substr(0, at));
	auto number = parse_decimal(text.substr(at + 1), max_digits, max_value);
	if (!address || !number)
		return std::nullopt;
	return std::pair{*address, *number};
}

} // namespace

bool Ipv4Prefix::contains(Ipv4Address a) const
{
	if (length == 0)
		return true;
	std::uint32_t mask = ~std::uint32_t{0} << (32 - length);
	return (a.value & mask) == (address.value & mask);
}

std::optional<MacAddress> parse_mac(std::string_view text)
{
	MacAddress mac;
	for (std::size_t i = 0; i < mac.bytes.size(); ++i) {
		std::size_t at = i * 3;
		if (text.size() < at + 2)
			return std::nullopt;
		auto byte = parse_hex_byte(text.substr(at, 2));
		bool separator_ok = i + 1 == mac.bytes.size() ? text.size() == at + 2 : text.size() > at + 2 && text[at + 2] == ':';
		if (!byte || !separator_ok)
			return std::nullopt;
		mac.bytes[i] = static_cast<std::uint8_t>(*byte);
	}
	return mac;
}

std::optional<Ipv4Address> parse_ipv4(std::string_view text)
{
	std::uint32_t value = 0;
	for (int i = 0; i < 4; ++i) {
		std::size_t dot = i < 3 ? text.find('.') : text.size();
		if (dot == std::string_view::npos)
			return std::nullopt;
		auto octet = parse_decimal(text.substr(0, dot), 3, 255);
		if (!octet)
			return std::nullopt;
		value = value << 8 | *octet;
		text.remove_prefix(i < 3 ? dot + 1 : dot);
	}
	return Ipv4Address{value};
}

std::optional<Ipv4Prefix> parse_ipv4_prefix(std::string_view text)
{
	auto parts = parse_address_and_number(text, '/', 2, 32);
	if (!parts)
		return std::nullopt;
	return Ipv4Prefix{parts->first, static_cast<int>(parts->second)};
}

std::optional<Endpoint> parse_endpoint(std::string_view text)
{
	auto parts = parse_address_and_number(text, ':', 5, 65535);
	if (!parts)
		return std::nullopt;
	return Endpoint{parts->first, static_cast<std::uint16_t>(parts->second)};
}

std::string to_string(MacAddress mac)
{
	char text[18];
	std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", mac.bytes[0], mac.bytes[1], mac.bytes[2],
		      mac.bytes[3], mac.bytes[4], mac.bytes[5]);
	return text;
}

std::string to_string(Ipv4Address address)
{
	std::uint32_t v = address.value;
	return std::to_string(v >> 24) + '.' + std::to_string(v >> 16 & 0xff) + '.' + std::to_string(v >> 8 & 0xff) + '.' +
	       std::to_string(v & 0xff);
}

std::string to_string(Ipv4Prefix prefix)
{
	return to_string(prefix.address) + '/' + std::to_string(prefix.length);
}

std::string to_string(Endpoint endpoint)
{
	return to_string(endpoint.address) + ':' + std::to_string(endpoint.port);
}

} // namespace econsim::sim
