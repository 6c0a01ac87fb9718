#include "model/types.h"

#include <cstdio>

namespace econsim::model {

std::string to_string(Ipv4Address address)
{
	std::string text;
	append_text(text, address);
	return text;
}

std::string to_string(const Ipv4Interface& interface)
{
	return to_string(interface.address) + "/" + std::to_string(interface.prefix_length);
}

std::string to_string(const MacAddress& address)
{
	char text[18];
	const auto& b = address.bytes;
	std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
	return text;
}

std::string to_string(Protocol protocol)
{
	return protocol == Protocol::udp ? "udp" : "tcp";
}

std::string to_string(const Endpoint& endpoint)
{
	std::string text;
	append_text(text, endpoint);
	return text;
}

std::string to_string(const FourTuple& tuple)
{
	std::string text;
	append_text(text, tuple);
	return text;
}

std::string to_string(const FiveTuple& tuple)
{
	std::string text;
	append_text(text, tuple);
	return text;
}

} // namespace econsim::model
