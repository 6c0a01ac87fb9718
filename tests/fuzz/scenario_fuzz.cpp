// libFuzzer target: bytes -> parse_scenario. The parser's promise: a Scenario, or a ScenarioError
// (an InputError) whose message names the file and a line (0 meaning the file as a whole) that
// the text has. Any other exception, or an error without its place, is a crash.
//
// A scenario that parses is then played with no frames: the host built (the model's devices) and
// every event applied (HostPipeline::finish), in the scenario's own mode. There too, the only
// allowed failure is a ScenarioError naming the file and an event's line (an event the kernel
// would refuse, such as a bind to an address in use), and the flow map's memory must all be back
// once the pipeline is gone. Scenarios of more than 16 CPUs are only parsed (see kMaxPlayedCpus).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "flow_map.h"
#include "fuzz_check.h"
#include "host_pipeline.h"
#include "scenario.h"

using namespace econsim::sim;
using econsim::fuzz::check_input_error;
using econsim::fuzz::last_line;

namespace {

const std::string kFile = "fuzz.yaml";

void check_scenario(const Scenario &s, const std::string &text)
{
	CHECK(s.file == kFile);
	CHECK(s.version == 1);
	CHECK(s.host.cpus >= 1 && s.host.cpus <= 4096);
	CHECK(!s.host.name.empty() && !s.host.nic.name.empty());
	CHECK(std::is_sorted(s.events.begin(), s.events.end(),
			     [](const Event &a, const Event &b) { return a.t_ns < b.t_ns; }));
	for (const Event &e : s.events)
		CHECK(e.line >= 1 && e.line <= last_line(text));
	// A container or VXLAN device with no bridge is a routed one (Calico's veths, flannel.1);
	// a bridge it names exists.
	for (const Container &c : s.host.containers)
		CHECK(s.find_container(c.name) && (c.bridge.empty() || s.find_bridge(c.bridge)));
	for (const VxlanDevice &v : s.host.vxlan)
		CHECK(s.find_vxlan(v.name) && (v.bridge.empty() || s.find_bridge(v.bridge)) && v.vni <= 0xffffff);
	ParserConfig config = parser_config(s);
	CHECK(config.mtu == s.host.nic.mtu);
}

// Fixed mode's flow map takes about 1.1 MiB of buckets per CPU up front (65536 entries each): a
// scenario's 4096 CPUs would be 4.6 GiB per run. The many-CPU cases are parsed, not played.
constexpr int kMaxPlayedCpus = 16;

void play(const Scenario &s, const std::string &text)
{
	if (s.host.cpus > kMaxPlayedCpus)
		return;
	try {
		HostPipeline pipeline(s, s.mode.value_or(FastpathMode::off));
		pipeline.finish();
	} catch (const ScenarioError &e) {
		check_input_error(e, kFile, text, true);
	}
	CHECK(FlowMap::live_allocations() == 0);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	std::string text(reinterpret_cast<const char *>(data), size);
	try {
		Scenario s = parse_scenario(text, kFile);
		check_scenario(s, text);
		play(s, text);
	} catch (const InputError &e) { // ScenarioError is one
		check_input_error(e, kFile, text, true);
	}
	return 0;
}
