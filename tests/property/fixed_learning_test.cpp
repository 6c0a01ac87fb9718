// What the fixed design's fast path still gets wrong, as found by the property (fixed_equivalence_
// test.cpp) and reduced by hand: a hit skips br_handle_frame, so the bridge never learns (or
// refreshes) the frame's inner source MAC. Each test asserts the divergence is there, so that the
// change that closes it also turns the test red: then delete the test, and give the generator
// back what Profile::full() takes away for it (README.md, "Known gaps of the fixed design").
#include <gtest/gtest.h>

#include "overlay_property.h"

using namespace econsim::sim;
using namespace econsim::sim::property;

namespace {

// UDP server u1 in c1 on 0.0.0.0:5000, and a flow to it cached: the first frame from the peer's
// MAC moves the bridge's FDB (an insert race), the second is cached, the third is a hit.
FrameSpec cached_flow(OverlayPair &pair)
{
	pair.open(ServerSpec{"u1", "c1", SocketProto::udp, test::endpoint("0.0.0.0:5000"), false, false});
	FrameSpec f;
	f.outer_src = test::endpoint("192.168.0.1:40000");
	f.vni = 42;
	f.inner_src_mac = peers()[0].mac;
	f.inner_dst_mac = tenants()[0].mac;
	f.src = peers()[0].endpoint;
	f.dst = test::endpoint("10.233.1.2:5000");
	pair.frame(f);
	pair.frame(f);
	EXPECT_EQ(pair.frame(f).candidate, "deliver u1 [fast]") << pair.history();
	return f;
}

} // namespace

// A frame of the cached flow whose inner source MAC is c1's own: vanilla's bridge learns c1's MAC
// on vxlan42 and drops the frame (the destination is now behind the port it came in on); the
// fast path delivers it, and leaves the FDB as it was, so the flow's next frames differ too.
TEST(FixedKnownGap, AHitSkipsLearningASpoofedSourceMac)
{
	OverlayPair pair(2, FastpathMode::fixed, "none");
	FrameSpec f = cached_flow(pair);
	FrameSpec spoofed = f;
	spoofed.inner_src_mac = tenants()[0].mac;
	FrameOutcome first = pair.frame(spoofed);
	EXPECT_EQ(first.vanilla, "drop (fdb_same_port)");
	EXPECT_EQ(first.candidate, "deliver u1 [fast]");
	FrameOutcome next = pair.frame(f);
	EXPECT_EQ(next.vanilla, "drop (fdb_same_port)");
	EXPECT_EQ(next.candidate, "deliver u1 [fast]") << pair.history();
}

// Hits do not refresh the peer's FDB entry: 300 s after the last slow-path frame it ages out of the
// fixed pipeline's bridge while vanilla's, refreshed by every frame, still has it. A frame to the
// peer's MAC (a stray or flooded one) then ends differently: vanilla drops it at the bridge as
// addressed back out of its ingress port, the fixed pipeline floods it to the containers, whose
// eth0s ignore it (no_receiver).
TEST(FixedKnownGap, HitsDoNotRefreshTheSourceMacsFdbEntry)
{
	OverlayPair pair(2, FastpathMode::fixed, "none");
	FrameSpec f = cached_flow(pair);
	pair.sleep(200'000'000'000);
	EXPECT_EQ(pair.frame(f).candidate, "deliver u1 [fast]");
	pair.sleep(150'000'000'000);
	FrameSpec to_peer = f;
	to_peer.inner_src_mac = peers()[1].mac; // from another peer: the bridge learns that one
	to_peer.inner_dst_mac = peers()[0].mac;
	FrameOutcome stray = pair.frame(to_peer);
	EXPECT_EQ(stray.vanilla, "drop (fdb_same_port)");
	EXPECT_EQ(stray.candidate, "drop (no_receiver)") << pair.history();
}
