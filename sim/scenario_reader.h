// Inside the scenario reader (scenario*.cpp), not for its users: the checked readers of YAML
// values that the host and the timeline share, the name tables, and the three parts a scenario
// is read in. Every error is a ScenarioError naming the file and the node's line.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "scenario.h"

namespace econsim::sim::scenario_reader {

inline constexpr std::uint32_t kMaxVni = (1u << 24) - 1;

template <typename Enum>
struct EnumName {
	Enum value;
	std::string_view name;
};

inline constexpr EnumName<RssMode> kRssModes[] = {{RssMode::l4, "l4"}, {RssMode::l3, "l3"}, {RssMode::none, "none"}};
inline constexpr EnumName<FastpathMode> kFastpathModes[] = {
	{FastpathMode::off, "off"}, {FastpathMode::econ, "econ"}, {FastpathMode::fixed, "fixed"}};
inline constexpr EnumName<SocketProto> kSocketProtos[] = {{SocketProto::udp, "udp"}, {SocketProto::tcp, "tcp"}};

template <typename Enum, std::size_t N>
std::string names_of(const EnumName<Enum> (&table)[N])
{
	std::string names;
	for (const auto &entry : table)
		names += (names.empty() ? "" : "|") + std::string(entry.name);
	return names;
}

std::string quoted(std::string_view text);
int line_of(const YAML::Node &node);

// The values of one scenario file's mappings, each checked: a wrong one fails with the file, the
// line and what was expected.
class FieldReader {
public:
	explicit FieldReader(std::string file) : file_(std::move(file)) {}

	const std::string &file() const { return file_; }
	[[noreturn]] void fail(int line, const std::string &message) const { throw ScenarioError(file_, line, message); }
	[[noreturn]] void fail(const YAML::Node &at, const std::string &message) const { fail(line_of(at), message); }

	// A map whose keys are all known, each once, with every required one present.
	void expect_keys(const YAML::Node &map, std::string_view what, const std::vector<std::string_view> &required,
			 const std::vector<std::string_view> &optional = {}) const;
	std::string scalar(const YAML::Node &map, std::string_view key) const;
	// Names are written into messages, verdicts and accepted-socket names: keep them plain.
	std::string name(const YAML::Node &map, std::string_view key) const;
	std::string device_name(const YAML::Node &map, std::string_view key) const;
	std::int64_t integer(const YAML::Node &map, std::string_view key, std::int64_t min, std::int64_t max) const;
	bool boolean(const YAML::Node &map, std::string_view key) const;
	MacAddress mac(const YAML::Node &map, std::string_view key) const;
	Ipv4Prefix prefix(const YAML::Node &map, std::string_view key) const;
	Endpoint endpoint(const YAML::Node &map, std::string_view key) const;
	Ipv4Address ipv4(const YAML::Node &map, std::string_view key) const;

	template <typename Enum, std::size_t N>
	Enum choose(const YAML::Node &map, std::string_view key, const EnumName<Enum> (&table)[N]) const
	{
		std::string text = scalar(map, key);
		for (const auto &entry : table)
			if (entry.name == text)
				return entry.value;
		fail(map[std::string(key)], quoted(key) + ": " + quoted(text) + " is not one of " + names_of(table));
	}

	// A key written with no value ("events:") is an empty list.
	template <typename Read>
	void for_each_in_list(const YAML::Node &list, std::string_view what, Read read) const
	{
		if (list.IsNull())
			return;
		if (!list.IsSequence())
			fail(list, std::string(what) + " must be a list");
		for (std::size_t i = 0; i < list.size(); ++i)
			read(list[i], std::string(what) + "[" + std::to_string(i) + "]");
	}

private:
	template <typename T>
	T address(const YAML::Node &map, std::string_view key, std::optional<T> (*parse)(std::string_view),
		  std::string_view form) const;

	std::string file_;
};

// host: the NIC, bridges (with static FDB entries), VXLAN devices and containers, and the checks
// between them (scenario_host.cpp).
Host read_host(const FieldReader &in, const YAML::Node &node);
// Routed overlays (scenario_routes.cpp, docs/scenario-extensions.md): a VXLAN device's bridge, or
// its mac, ip and own FDB; a container's routed keys; and host.sysctl, host.routes and
// host.neighbours, read after the devices they name and checked against them.
void read_routed_vxlan(const FieldReader &in, const YAML::Node &node, const std::string &what, VxlanDevice &vxlan);
void read_routed_container(const FieldReader &in, const YAML::Node &node, Container &container);
void read_routing(const FieldReader &in, const YAML::Node &node, Host &host);
// The values of a route and a neighbour, for host.routes/neighbours and the events of the same
// name (the caller checks the keys).
Route route_fields(const FieldReader &in, const YAML::Node &node);
Ipv4Prefix route_destination(const FieldReader &in, const YAML::Node &node);
Neighbour neighbour_fields(const FieldReader &in, const YAML::Node &node);
// The host namespace's devices, by name: the NIC, bridges, VXLAN devices and veth host ends.
std::set<std::string> host_devices(const Host &host);
// host.netfilter: br_netfilter's switch, conntrack's UDP timeouts, the FORWARD chain, read after
// the devices its rules name (scenario_netfilter.cpp).
void read_netfilter(const FieldReader &in, const YAML::Node &node, Host &host);
// events: each op with its keys and values (scenario_events.cpp).
std::vector<Event> read_events(const FieldReader &in, const YAML::Node &list);
// The sorted timeline, walked once: every socket used between its socket event and its close,
// every device and namespace known (scenario_timeline.cpp).
void check_timeline(const Scenario &scenario);

} // namespace econsim::sim::scenario_reader
