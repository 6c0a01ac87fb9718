// Each scenario event that can change where a cached flow's next frame ends, in the fast-path modes.
// s1 caches the usual flow with frames at 1, 2 and 3 ms (the third is a fast-path hit: br42 forwards
// to c1 by its static entry, the harness's default); the event is at 10 ms; the frame at 20 ms must
// end where vanilla (`off`) ends it in `fixed` mode, which caches the new answer or not as the
// table says (the frame at 21 ms), and ends where the table says in `econ` mode, which invalidates
// on close and flush only (../shared/reference/econ-spec.md §3).
#include <gtest/gtest.h>

#include "pipeline_harness.h"

namespace econsim::sim::test {
namespace {

struct AfterEvent {
	std::string name;
	ScenarioText scenario;
	std::string vanilla;  // where the 20 ms frame ends: a socket, or "<stage> <drop reason>"
	bool fixed_then_fast; // fixed mode caches the new answer: the 21 ms frame is a hit (else slow)
	std::string econ;     // where econ mode ends it; "fast:" when by a fast-path hit
	std::string econ_bug; // why econ differs from vanilla, when it does
};

void PrintTo(const AfterEvent &c, std::ostream *out)
{
	*out << c.name;
}

std::vector<AfterEvent> after_events()
{
	ScenarioText s2_first; // s2 bound before s1, so the newer s1 takes the flow until s2 connects
	s2_first.udp(0, "s2", "c1", "0.0.0.0:5000", "reuseaddr: true");
	return {
		{"bind_of_a_more_specific_socket", with_s1().udp(10, "s2", "c1", "10.233.1.2:5000", "reuseaddr: true"), "s2",
		 true, "fast:s1", "§3: no invalidation on bind"},
		{"connect_of_another_socket_to_the_peer",
		 with_s1(s2_first).at(10, R"(op: connect, sock: s2, peer: "10.233.2.2:4000")"), "s2", true, "fast:s1",
		 "§3: no invalidation on connect"},
		{"close", with_s1().at(10, "op: close, sock: s1"), "socket_lookup no_socket", false, "socket_lookup no_socket", ""},
		// c1's static entry stays, on a port that does not forward.
		{"link_down_on_the_containers_veth", with_s1().at(10, "op: link, dev: veth-c1, up: false"),
		 "br_handle_frame bridge_port_disabled", false, "fast:s1", "§3/B20: device state is not consulted"},
		{"flush", with_s1().at(10, "op: flush"), "s1", true, "s1", ""},
		{"vni_change", with_s1().at(10, "op: vni, dev: vxlan42, vni: 44"), "vxlan_rcv unknown_vni", false, "fast:s1",
		 "B8: the VNI is not in the key"},
		{"netns_del", with_s1().at(10, "op: netns_del, ns: c1"), "br_handle_frame no_receiver", false,
		 "br_handle_frame no_receiver", ""},
		// br42 no longer knows c1's MAC and floods: delivered, never cached (the series records no
		// bridge hop for a flood), until the bridge learns the MAC again.
		{"fdb_del", with_s1().at(10, R"(op: fdb_del, bridge: br42, mac: "02:42:0a:e9:01:02")"), "s1", false,
		 "fast:s1", ""},
		{"fdb_moves_the_mac_to_another_port",
		 with_s1(ScenarioText{}.with_c2()).at(10, R"(op: fdb, bridge: br42, mac: "02:42:0a:e9:01:02", port: veth-c2)"),
		 "br_handle_frame other_host", false, "fast:s1", "§3: no invalidation on FDB changes"},
	};
}

// `end` as the table writes it.
testing::AssertionResult ends(const Packet &p, const std::string &end, std::optional<Path> path = std::nullopt)
{
	std::size_t space = end.find(' ');
	if (space == std::string::npos)
		return delivered(p, end, path);
	return dropped(p, end.substr(0, space), end.substr(space + 1));
}

class AfterAnEvent : public ::testing::TestWithParam<AfterEvent> {
protected:
	// Frames at 1, 2, 3 ms: by the third the flow is cached (the first teaches the bridge the
	// remote MAC, an FDB change, so fixed mode caches the second).
	static void cache_the_flow(Harness &h)
	{
		for (double ms : {1, 2})
			ASSERT_TRUE(delivered(h.send(vxlan_udp(), ms), "s1"));
		ASSERT_TRUE(delivered(h.send(vxlan_udp(), 3), "s1", Path::fast));
	}
};

TEST_P(AfterAnEvent, FixedModeEndsTheNextFrameWhereVanillaDoes)
{
	const AfterEvent &c = GetParam();
	Harness off(c.scenario, FastpathMode::off), fixed(c.scenario, FastpathMode::fixed);
	for (double ms : {1, 2, 3})
		off.send(vxlan_udp(), ms);
	cache_the_flow(fixed);
	ASSERT_TRUE(ends(off.send(vxlan_udp(), 20), c.vanilla)) << "vanilla";
	EXPECT_TRUE(ends(fixed.send(vxlan_udp(), 20), c.vanilla, Path::slow)) << "no stale fast-path answer";
	EXPECT_TRUE(ends(fixed.send(vxlan_udp(), 21), c.vanilla, c.fixed_then_fast ? Path::fast : Path::slow))
		<< (c.fixed_then_fast ? "the new answer is cached" : "the new answer is not cached");
}

TEST_P(AfterAnEvent, EconModeShowsTheOriginalPatchsFaults)
{
	const AfterEvent &c = GetParam();
	Harness econ(c.scenario, FastpathMode::econ);
	cache_the_flow(econ);
	const Packet &p = econ.send(vxlan_udp(), 20);
	if (c.econ.starts_with("fast:")) {
		EXPECT_TRUE(ends(p, c.econ.substr(5), Path::fast)) << c.econ_bug;
	} else {
		EXPECT_TRUE(ends(p, c.econ, Path::slow));
	}
	EXPECT_EQ(c.econ_bug.empty(), c.econ == c.vanilla || c.econ == "fast:" + c.vanilla)
		<< "the table names a bug exactly where econ mode differs from vanilla";
}

INSTANTIATE_TEST_SUITE_P(Events, AfterAnEvent, ::testing::ValuesIn(after_events()),
			 [](const testing::TestParamInfo<AfterEvent> &info) { return info.param.name; });

} // namespace
} // namespace econsim::sim::test
