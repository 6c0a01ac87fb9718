// A receiving host built from scenario text and fed frames built in code, one at a time, for the
// tests of the stages, the socket lookup rules and the fast-path modes. Times are milliseconds
// after kT0 (1000 s on the scenario's clock), so an event at 5 ms is written `t: 1000.005`.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "host_pipeline.h"
#include "scenario.h"
#include "test_frames.h"

namespace econsim::sim::test {

inline constexpr std::int64_t kT0Seconds = 1000;

// The second container of the two-container topologies, on the same bridge as c1.
inline constexpr MacAddress kContainer2Mac{{0x02, 0x42, 0x0a, 0xe9, 0x01, 0x03}};

// The scenario as text: node-b with eth0 192.168.0.2/24, one VXLAN device (VNI 42 on 4789) on br42
// and container c1 (10.233.1.2, kContainerMac) unless a test changes the lists.
struct ScenarioText {
	int cpus = 2;
	std::string rss = "l4";
	std::vector<std::string> vxlan{"{name: vxlan42, vni: 42, port: 4789, bridge: br42}"};
	std::vector<std::string> bridges{"{name: br42}"};
	std::vector<std::string> containers{
		R"({name: c1, bridge: br42, veth: veth-c1, mac: "02:42:0a:e9:01:02", ip: 10.233.1.2/16})"};
	std::vector<std::string> events;
	std::string routing; // routed overlays: raw YAML under host (sysctl, routes, neighbours), indented 2
	// Each container on a bridge has its MAC as a static entry of that bridge's FDB, on its veth
	// (`bridge fdb add MAC dev VETH master static`), as traces/record installs them, unless the
	// bridge's text gives that MAC an entry of its own: the bridge forwards to the container by its
	// FDB from the first frame, as a path the fast path may cache must be forwarded (a flood is
	// never cached). They are added to the parsed scenario (scenario()), not to yaml(), whose lines
	// the CLI tests' messages name. false: see learning_bridges().
	bool static_container_entries = true;

	// Adds c2 (10.233.1.3, kContainer2Mac) on br42.
	ScenarioText &with_c2();
	// No static entries for the containers: the bridges learn only, and flood a frame to a
	// container until it has sent one (the model has no ARP), for the tests of learning and flooding.
	ScenarioText &learning_bridges();
	// The two-vni recording's host: c42 on VNI 42 and c43 on VNI 43, both 10.233.1.2 with kContainerMac.
	ScenarioText &two_tenants();
	// An event at `ms` after kT0: at(5, "op: close, sock: s1").
	ScenarioText &at(double ms, std::string_view fields);
	// A UDP socket made and bound at `ms`: udp(0, "s1", "c1", "0.0.0.0:5000", "reuseaddr: true").
	ScenarioText &udp(double ms, std::string_view sock, std::string_view ns, std::string_view addr,
			  std::string_view options = {});
	std::string yaml() const;
	// yaml() parsed, with the containers' static entries.
	Scenario scenario() const;
};

// The usual host with s1 on 0.0.0.0:5000 (SO_REUSEADDR) in c1 from the start.
ScenarioText with_s1(ScenarioText text = {});

// Frames: VXLAN from 192.168.0.1 (outer source port 40000 unless given) to the host, carrying a
// UDP datagram or a TCP segment from kRemoteContainerMac to dst_mac.
struct InnerFrame {
	std::uint32_t vni = 42;
	std::string src = "10.233.2.2:4000";
	std::string dst = "10.233.1.2:5000";
	MacAddress dst_mac = kContainerMac;
	MacAddress src_mac = kRemoteContainerMac;
	std::string outer_src = "192.168.0.1:40000";
	std::string outer_dst = "192.168.0.2:4789";
};
Bytes vxlan_udp(const InnerFrame &f = {});
Bytes vxlan_tcp(const InnerFrame &f, std::uint8_t flags);

inline constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;

class Harness {
public:
	Harness(const ScenarioText &text, FastpathMode mode);
	Harness(const Harness &) = delete;
	Harness &operator=(const Harness &) = delete;

	// The frame at `ms` after kT0, traced (the packet's steps are filled in). The packet is valid
	// until the next send.
	const Packet &send(const Bytes &frame, double ms);
	// Events left after the last frame.
	void finish() { pipeline_->finish(); }

	HostPipeline &pipeline() { return *pipeline_; }
	const Scenario &scenario() const { return scenario_; }

private:
	Scenario scenario_;
	std::unique_ptr<HostPipeline> pipeline_;
	Bytes frame_;
	std::uint64_t number_ = 0;
};

// The stage that decided the packet: the last line `econ-sim trace` prints before the verdict.
std::string deciding_stage(const Packet &p);

testing::AssertionResult delivered(const Packet &p, std::string_view sock, std::optional<Path> path = std::nullopt);
testing::AssertionResult dropped(const Packet &p, std::string_view stage, std::string_view reason);
testing::AssertionResult ignored(const Packet &p, std::string_view stage, std::string_view reason);

} // namespace econsim::sim::test
