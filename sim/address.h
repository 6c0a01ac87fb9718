// The scenario's spelling of addresses: Ethernet MACs, IPv4 addresses, prefixes and address:port
// endpoints, parsed strictly into model/'s value types, which the frame parser, the stages and the
// model all use (one set of types: nothing to convert between the simulator and the model).
#pragma once

#include <optional>
#include <string_view>

#include "model/types.h"

namespace econsim::sim {

using model::Endpoint;
using model::Ipv4Address;
using model::MacAddress;
// An interface's address with its prefix length, host bits kept ("10.233.1.2/16").
using Ipv4Prefix = model::Ipv4Interface;
// model::to_string spells them as the scenario does; ADL finds it, and sim::to_string too.
using model::to_string;

// Each parser accepts exactly one spelling and returns nullopt for anything else:
//   MAC "02:42:0a:e9:01:02" (two hex digits per byte, either case),
//   IPv4 "10.233.1.2" (decimal, no leading zeros: inet_aton would read "010" as octal),
//   prefix "10.233.1.2/16", endpoint "10.233.1.2:5000".
std::optional<MacAddress> parse_mac(std::string_view text);
std::optional<Ipv4Address> parse_ipv4(std::string_view text);
std::optional<Ipv4Prefix> parse_ipv4_prefix(std::string_view text);
std::optional<Endpoint> parse_endpoint(std::string_view text);

} // namespace econsim::sim
