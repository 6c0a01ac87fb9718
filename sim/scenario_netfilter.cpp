// host.netfilter (docs/scenario-extensions.md, "Netfilter"): br_netfilter's switch, conntrack's
// UDP timeouts and the filter table's FORWARD chain, each rule's matches checked against the
// host's devices.
#include "scenario_reader.h"

#include <set>

namespace econsim::sim::scenario_reader {

namespace {

struct CtStateName {
	model::CtState state;
	std::string_view name;
};
constexpr CtStateName kCtStates[] = {{model::ct_new, "new"},
				     {model::ct_established, "established"},
				     {model::ct_related, "related"},
				     {model::ct_invalid, "invalid"}};

std::uint8_t read_ctstates(const FieldReader &in, const YAML::Node &list, const std::string &what)
{
	std::uint8_t states = 0;
	in.for_each_in_list(list, what, [&](const YAML::Node &item, const std::string &item_what) {
		if (!item.IsScalar())
			in.fail(item, item_what + " must be one of new|established|related|invalid");
		const std::string text = item.Scalar();
		for (const CtStateName &entry : kCtStates)
			if (entry.name == text) {
				states |= entry.state;
				return;
			}
		in.fail(item, item_what + ": " + quoted(text) + " is not one of new|established|related|invalid");
	});
	if (states == 0)
		in.fail(list, what + " must name at least one state");
	return states;
}

model::FilterRule read_rule(const FieldReader &in, const YAML::Node &node, const std::string &what,
			    const std::set<std::string> &devices)
{
	in.expect_keys(node, what, {"target"}, {"proto", "src", "dst", "sport", "dport", "in", "out", "ctstate"});
	model::FilterRule rule;
	rule.line = line_of(node);
	constexpr EnumName<bool> kTargets[] = {{true, "accept"}, {false, "drop"}};
	rule.accept = in.choose(node, "target", kTargets);
	if (node["proto"].IsDefined())
		rule.proto = in.choose(node, "proto", kSocketProtos) == SocketProto::tcp ? model::Protocol::tcp
											  : model::Protocol::udp;
	for (const char *key : {"sport", "dport"})
		if (node[key].IsDefined()) {
			// iptables takes a port match only from the protocol's own match module (-p udp).
			if (!rule.proto)
				in.fail(node[key], quoted(key) + " needs 'proto' (iptables: --" + key + " needs -p udp or -p tcp)");
			(key[0] == 's' ? rule.sport : rule.dport) =
				static_cast<std::uint16_t>(in.integer(node, key, 0, 65535));
		}
	if (node["src"].IsDefined())
		rule.src = in.prefix(node, "src");
	if (node["dst"].IsDefined())
		rule.dst = in.prefix(node, "dst");
	for (const char *key : {"in", "out"})
		if (node[key].IsDefined()) {
			std::string device = in.device_name(node, key);
			if (!devices.contains(device))
				in.fail(node[key], quoted(key) + ": " + quoted(device) + " is not a device of the host namespace");
			(key[0] == 'i' ? rule.in : rule.out) = std::move(device);
		}
	if (node["ctstate"].IsDefined())
		rule.ctstates = read_ctstates(in, node["ctstate"], what + ".ctstate");
	return rule;
}

} // namespace

void read_netfilter(const FieldReader &in, const YAML::Node &node, Host &host)
{
	in.expect_keys(node, "host.netfilter", {"forward"}, {"bridge_nf_call_iptables", "conntrack"});
	model::NetfilterConfig config;
	if (node["bridge_nf_call_iptables"].IsDefined())
		config.bridge_nf_call_iptables = in.boolean(node, "bridge_nf_call_iptables");
	if (const YAML::Node ct = node["conntrack"]; ct.IsDefined()) {
		in.expect_keys(ct, "host.netfilter.conntrack", {}, {"udp_timeout", "udp_timeout_stream"});
		constexpr std::int64_t kSecond = 1'000'000'000;
		constexpr std::int64_t kMaxTimeout = 30 * 24 * 3600; // seconds: long enough for any capture
		if (ct["udp_timeout"].IsDefined())
			config.udp_timeout_ns = in.integer(ct, "udp_timeout", 1, kMaxTimeout) * kSecond;
		if (ct["udp_timeout_stream"].IsDefined())
			config.udp_timeout_stream_ns = in.integer(ct, "udp_timeout_stream", 1, kMaxTimeout) * kSecond;
	}
	const std::set<std::string> devices = host_devices(host);
	const YAML::Node forward = node["forward"];
	in.expect_keys(forward, "host.netfilter.forward", {"policy"}, {"rules"});
	constexpr EnumName<bool> kPolicies[] = {{true, "accept"}, {false, "drop"}};
	config.forward.policy_accept = in.choose(forward, "policy", kPolicies);
	if (forward["rules"].IsDefined())
		in.for_each_in_list(forward["rules"], "host.netfilter.forward.rules",
				    [&](const YAML::Node &item, const std::string &what) {
					    config.forward.rules.push_back(read_rule(in, item, what, devices));
				    });
	host.netfilter = std::move(config);
}

} // namespace econsim::sim::scenario_reader
