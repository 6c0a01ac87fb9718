#include "pipeline_harness.h"

#include <algorithm>
#include <cstdio>

#include "verdict_writer.h"

namespace econsim::sim::test {

namespace {

std::string list(std::string_view key, const std::vector<std::string> &items)
{
	std::string text = "  " + std::string(key) + ":\n";
	for (const std::string &item : items)
		text += "    - " + item + "\n";
	return text;
}

Bytes inner_ethernet(const InnerFrame &f, const Bytes &ip)
{
	return ethernet_frame(ip, 0x0800, f.dst_mac, f.src_mac);
}

Bytes encapsulate(const InnerFrame &f, const Bytes &inner_ip)
{
	return vxlan_frame(f.vni, inner_ethernet(f, inner_ip), endpoint(f.outer_src), endpoint(f.outer_dst));
}

} // namespace

ScenarioText &ScenarioText::with_c2()
{
	containers.push_back(R"({name: c2, bridge: br42, veth: veth-c2, mac: "02:42:0a:e9:01:03", ip: 10.233.1.3/16})");
	return *this;
}

ScenarioText &ScenarioText::learning_bridges()
{
	static_container_entries = false;
	return *this;
}

ScenarioText &ScenarioText::two_tenants()
{
	vxlan = {"{name: vxlan42, vni: 42, port: 4789, bridge: br42}", "{name: vxlan43, vni: 43, port: 4789, bridge: br43}"};
	bridges = {"{name: br42}", "{name: br43}"};
	containers = {R"({name: c42, bridge: br42, veth: veth-c42, mac: "02:42:0a:e9:01:02", ip: 10.233.1.2/16})",
		      R"({name: c43, bridge: br43, veth: veth-c43, mac: "02:42:0a:e9:01:02", ip: 10.233.1.2/16})"};
	return *this;
}

ScenarioText &ScenarioText::at(double ms, std::string_view fields)
{
	char t[32];
	std::snprintf(t, sizeof(t), "%lld.%06lld", static_cast<long long>(kT0Seconds),
		      static_cast<long long>(ms * 1000 + 0.5));
	events.push_back("{t: " + std::string(t) + ", " + std::string(fields) + "}");
	return *this;
}

ScenarioText &ScenarioText::udp(double ms, std::string_view sock, std::string_view ns, std::string_view addr,
				std::string_view options)
{
	std::string name(sock);
	at(ms, "op: socket, sock: " + name + ", ns: " + std::string(ns) + ", proto: udp");
	return at(ms, "op: bind, sock: " + name + ", addr: \"" + std::string(addr) + "\"" +
			      (options.empty() ? "" : ", " + std::string(options)));
}

ScenarioText with_s1(ScenarioText text)
{
	return text.udp(0, "s1", "c1", "0.0.0.0:5000", "reuseaddr: true");
}

std::string ScenarioText::yaml() const
{
	std::string text = "version: 1\nhost:\n  name: node-b\n  cpus: " + std::to_string(cpus) + "\n  rss: " + rss +
			   "\n  nic: {name: eth0, mac: \"02:00:00:00:00:02\", ip: 192.168.0.2/24}\n";
	text += list("vxlan", vxlan) + list("bridges", bridges) + list("containers", containers) + routing;
	text += "events:\n";
	for (const std::string &e : events)
		text += "  - " + e + "\n";
	return text;
}

Scenario ScenarioText::scenario() const
{
	Scenario parsed = parse_scenario(yaml(), "test.yaml");
	if (!static_container_entries)
		return parsed;
	for (const Container &c : parsed.host.containers) {
		auto bridge = std::find_if(parsed.host.bridges.begin(), parsed.host.bridges.end(),
					   [&](const Bridge &b) { return b.name == c.bridge; });
		if (bridge == parsed.host.bridges.end() ||
		    std::any_of(bridge->fdb.begin(), bridge->fdb.end(),
				[&](const FdbEntry &e) { return e.mac == c.mac; }))
			continue;
		bridge->fdb.push_back({c.mac, c.veth, std::nullopt, c.line});
	}
	return parsed;
}

Bytes vxlan_udp(const InnerFrame &f)
{
	return encapsulate(f, udp_packet(endpoint(f.src), endpoint(f.dst), Bytes{'h', 'i'}));
}

Bytes vxlan_tcp(const InnerFrame &f, std::uint8_t flags)
{
	Bytes payload = (flags & (kSyn | kRst)) ? Bytes{} : Bytes{'d', 'a', 't', 'a'};
	return encapsulate(f, tcp_packet(endpoint(f.src), endpoint(f.dst), flags, payload));
}

Harness::Harness(const ScenarioText &text, FastpathMode mode)
	: scenario_(text.scenario()), pipeline_(std::make_unique<HostPipeline>(scenario_, mode))
{
}

const Packet &Harness::send(const Bytes &frame, double ms)
{
	frame_ = frame;
	CaptureFrame capture;
	capture.number = ++number_;
	capture.timestamp_ns = kT0Seconds * 1'000'000'000 + static_cast<std::int64_t>(ms * 1e6 + 0.5);
	capture.timestamp = static_cast<double>(capture.timestamp_ns) * 1e-9;
	capture.captured_length = static_cast<std::uint32_t>(frame_.size());
	capture.wire_length = capture.captured_length;
	capture.link_type = kLinkTypeEthernet;
	capture.bytes = frame_;
	return pipeline_->process(capture, true);
}

std::string deciding_stage(const Packet &p)
{
	return p.steps.empty() ? std::string() : std::string(stage_name(p.steps.back().stage));
}

namespace {

testing::AssertionResult failure(const Packet &p, std::string_view wanted)
{
	std::string steps;
	for (const TraceStep &s : p.steps)
		steps += "\n    " + std::string(stage_name(s.stage)) + ": " + s.decision + (s.why.empty() ? "" : " (" + s.why + ")");
	return testing::AssertionFailure() << "wanted " << wanted << ", got " << format_verdict(p.verdict) << steps;
}

} // namespace

testing::AssertionResult delivered(const Packet &p, std::string_view sock, std::optional<Path> path)
{
	const Verdict &v = p.verdict;
	std::string wanted = "deliver to " + std::string(sock) + (path ? " on the " + std::string(to_string(*path)) + " path" : "");
	if (v.verdict != VerdictKind::deliver || v.sock != sock || v.reason || (path && v.path != path))
		return failure(p, wanted);
	return testing::AssertionSuccess();
}

testing::AssertionResult dropped(const Packet &p, std::string_view stage, std::string_view reason)
{
	const Verdict &v = p.verdict;
	if (v.verdict != VerdictKind::drop || v.reason != reason || deciding_stage(p) != stage)
		return failure(p, "drop " + std::string(reason) + " in " + std::string(stage));
	return testing::AssertionSuccess();
}

testing::AssertionResult ignored(const Packet &p, std::string_view stage, std::string_view reason)
{
	const Verdict &v = p.verdict;
	if (v.verdict != VerdictKind::ignore || v.reason != reason || deciding_stage(p) != stage)
		return failure(p, "ignore " + std::string(reason) + " in " + std::string(stage));
	return testing::AssertionSuccess();
}

} // namespace econsim::sim::test
