#include "address.h"

#include <charconv>
#include <cstdint>
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
	return Ipv4Prefix{parts->first, static_cast<std::uint8_t>(parts->second)};
}

std::optional<Endpoint> parse_endpoint(std::string_view text)
{
	auto parts = parse_address_and_number(text, ':', 5, 65535);
	if (!parts)
		return std::nullopt;
	return Endpoint{parts->first, static_cast<std::uint16_t>(parts->second)};
}

} // namespace econsim::sim
