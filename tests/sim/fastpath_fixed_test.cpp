// `fixed` mode (sim/fastpath_fixed.cpp over kernel-port's flow map): a flow the slow path delivered
// is taken by the fast path afterwards, under a key that keeps tenants apart. What each scenario
// event does to a cached flow is in fastpath_events_test.cpp.
#include <gtest/gtest.h>

#include "pipeline_harness.h"

namespace econsim::sim::test {
namespace {

// Frames of the usual flow at 1, 2, 3 ms: the first teaches the bridge and the VXLAN device the
// remote MAC (an FDB change, so its answer is not cached), the second is cached, the third hits.
void warm_up(Harness &h, std::string_view sock)
{
	ASSERT_TRUE(delivered(h.send(vxlan_udp(), 1), sock, Path::slow));
	ASSERT_TRUE(delivered(h.send(vxlan_udp(), 2), sock, Path::slow));
	ASSERT_TRUE(delivered(h.send(vxlan_udp(), 3), sock, Path::fast));
}

TEST(FixedMode, SecondPacketOfAFlowTakesTheFastPath)
{
	Harness h(with_s1(), FastpathMode::fixed);
	warm_up(h, "s1");
	// A new flow from the known remote: its first packet is cached, its second hits.
	InnerFrame other{.src = "10.233.2.2:4001"};
	EXPECT_TRUE(delivered(h.send(vxlan_udp(other), 4), "s1", Path::slow));
	const Packet &hit = h.send(vxlan_udp(other), 5);
	EXPECT_TRUE(delivered(hit, "s1", Path::fast));
	EXPECT_EQ(hit.verdict.vni, 42u);
	EXPECT_EQ(hit.steps.at(1).stage, "fastpath") << "nic_rx, then the hit: the stages in between are skipped";
	EXPECT_EQ(h.pipeline().stage_counts().at("ip_rcv").entered, 3u) << "only the slow-path frames";
}

TEST(FixedMode, TwoVnisWithTheSameInnerAndOuterTuplesNeverCross)
{
	ScenarioText text;
	text.two_tenants();
	text.udp(0, "s42", "c42", "0.0.0.0:5000").udp(0, "s43", "c43", "0.0.0.0:5000");
	Harness h(text, FastpathMode::fixed);
	int fast = 0;
	for (int i = 0; i < 10; i++) {
		for (std::uint32_t vni : {42u, 43u}) {
			const Packet &p = h.send(vxlan_udp({.vni = vni}), 2 * i + (vni - 42));
			EXPECT_TRUE(delivered(p, vni == 42 ? "s42" : "s43")) << "frame " << p.number;
			fast += p.verdict.path == Path::fast;
		}
	}
	EXPECT_GE(fast, 16) << "both tenants' flows are cached, each under its own VNI";
}

TEST(FixedMode, SummaryCountsTheInvalidationsByKind)
{
	ScenarioText text = with_s1();
	text.at(10, "op: flush").at(20, "op: close, sock: s1");
	Harness h(text, FastpathMode::fixed);
	warm_up(h, "s1");
	h.send(vxlan_udp(), 15);
	h.finish();
	std::ostringstream out;
	h.pipeline().summarize_fastpath(out);
	EXPECT_NE(out.str().find("hits 1,"), std::string::npos) << out.str();
	EXPECT_NE(out.str().find("close 1,"), std::string::npos) << out.str();
	EXPECT_NE(out.str().find("flush 1;"), std::string::npos) << out.str();
}

} // namespace
} // namespace econsim::sim::test
