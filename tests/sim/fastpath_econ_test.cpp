// `econ` mode (sim/fastpath_econ.cpp): the original patch as-is, its faults named by bug id
// (../shared/reference/econ-spec.md §4): a cross-tenant delivery when two tenants' flows hash alike
// (B8), a delivery to a closed socket that a close left behind (B4 + B14), and the 100 ms insert
// guard after a flush. The events it does not invalidate on (§3) are in fastpath_events_test.cpp.
#include <gtest/gtest.h>

#include "econ_map.h"
#include "pipeline_harness.h"
#include "stages/nic_rx.h"

namespace econsim::sim::test {
namespace {

// B8: the RX key is the NIC hash and only the inner 5-tuple is compared. Two tenants whose
// clients use the same inner addresses and whose frames have the same outer 5-tuple (the VXLAN
// source port is a hash of the inner headers) share one entry.
TEST(EconMode, CrossTenantDeliveryWhenTheHashesCollide)
{
	ScenarioText text;
	text.two_tenants();
	text.udp(0, "s42", "c42", "0.0.0.0:5000").udp(0, "s43", "c43", "0.0.0.0:5000");
	Harness econ(text, FastpathMode::econ), off(text, FastpathMode::off);
	EXPECT_TRUE(delivered(econ.send(vxlan_udp({.vni = 42}), 1), "s42", Path::slow));
	EXPECT_TRUE(delivered(off.send(vxlan_udp({.vni = 43}), 2), "s43"));
	const Packet &crossed = econ.send(vxlan_udp({.vni = 43}), 2);
	EXPECT_TRUE(delivered(crossed, "s42", Path::fast)) << "VNI 43's frame in VNI 42's container";
	EXPECT_EQ(crossed.verdict.vni, 43u);

	// Another outer source port: another hash, no shared entry, no crossing.
	InnerFrame apart{.vni = 43, .outer_src = "192.168.0.1:40001"};
	ASSERT_NE(rss_hash_l4(endpoint("192.168.0.1:40000"), endpoint("192.168.0.2:4789")),
		  rss_hash_l4(endpoint(apart.outer_src), endpoint("192.168.0.2:4789")));
	EXPECT_TRUE(delivered(econ.send(vxlan_udp(apart), 3), "s43", Path::slow));
}

// An outer source port whose RSS hash lands in the same ECON bucket as 192.168.0.1:40000's, with
// another hash (so both entries are kept, one chain).
std::string same_bucket_outer_source()
{
	Endpoint dst = endpoint("192.168.0.2:4789");
	std::uint32_t first = rss_hash_l4(endpoint("192.168.0.1:40000"), dst);
	for (int port = 40001; port < 65536; port++) {
		std::string src = "192.168.0.1:" + std::to_string(port);
		std::uint32_t hash = rss_hash_l4(endpoint(src), dst);
		if (hash != first && econ_bucket(hash) == econ_bucket(first))
			return src;
	}
	return {};
}

// B4: econ_rx_remove walks each bucket with hash_for_each while deleting, so it removes one entry
// per bucket; B14: the entry left holds the socket without a reference, and the next hit delivers
// to freed memory. Two flows of s1 in one bucket (one CPU): the close leaves the older behind.
TEST(EconMode, CloseLeavesAnEntryThatDeliversToTheClosedSocket)
{
	std::string second_outer = same_bucket_outer_source();
	ASSERT_FALSE(second_outer.empty());
	ScenarioText text = with_s1();
	text.cpus = 1;
	text.at(10, "op: close, sock: s1");
	Harness econ(text, FastpathMode::econ);
	InnerFrame older{}, newer{.src = "10.233.2.2:4001", .outer_src = second_outer};
	EXPECT_TRUE(delivered(econ.send(vxlan_udp(older), 1), "s1", Path::slow));
	EXPECT_TRUE(delivered(econ.send(vxlan_udp(newer), 2), "s1", Path::slow));
	EXPECT_TRUE(delivered(econ.send(vxlan_udp(older), 3), "s1", Path::fast));
	EXPECT_TRUE(delivered(econ.send(vxlan_udp(newer), 4), "s1", Path::fast));

	const Packet &left = econ.send(vxlan_udp(older), 20);
	EXPECT_EQ(left.verdict.verdict, VerdictKind::deliver);
	EXPECT_EQ(left.verdict.sock, "s1");
	EXPECT_EQ(left.verdict.reason, "b14_closed_socket");
	EXPECT_EQ(left.verdict.path, Path::fast);
	// The bucket head was removed: that flow goes the slow way and finds no socket.
	EXPECT_TRUE(dropped(econ.send(vxlan_udp(newer), 21), "socket_lookup", "no_socket"));

	std::ostringstream summary;
	econ.pipeline().summarize_fastpath(summary);
	EXPECT_NE(summary.str().find("left behind (B4) 1"), std::string::npos) << summary.str();
	EXPECT_NE(summary.str().find("deliveries to closed sockets (B4/B14) 1"), std::string::npos) << summary.str();
}

// With one flow per bucket the close removes everything: no delivery to the closed socket.
TEST(EconMode, CloseOfASocketWithOneEntryPerBucketRemovesThem)
{
	ScenarioText text = with_s1();
	text.at(10, "op: close, sock: s1");
	Harness econ(text, FastpathMode::econ);
	econ.send(vxlan_udp(), 1);
	EXPECT_TRUE(delivered(econ.send(vxlan_udp(), 2), "s1", Path::fast));
	EXPECT_TRUE(dropped(econ.send(vxlan_udp(), 20), "socket_lookup", "no_socket"));
}

// /proc/econ "clear" (econ_rx_remove_all) empties the maps and refuses inserts for 100 ms.
TEST(EconMode, FlushEmptiesTheMapAndGuardsInsertsFor100ms)
{
	ScenarioText text = with_s1();
	text.at(10, "op: flush");
	Harness econ(text, FastpathMode::econ);
	econ.send(vxlan_udp(), 1);
	ASSERT_TRUE(delivered(econ.send(vxlan_udp(), 2), "s1", Path::fast));
	EXPECT_TRUE(delivered(econ.send(vxlan_udp(), 20), "s1", Path::slow));
	EXPECT_TRUE(delivered(econ.send(vxlan_udp(), 30), "s1", Path::slow)) << "the insert at 20 ms was refused";
	EXPECT_TRUE(delivered(econ.send(vxlan_udp(), 120), "s1", Path::slow)) << "inserted: the guard is over";
	EXPECT_TRUE(delivered(econ.send(vxlan_udp(), 130), "s1", Path::fast));
}

} // namespace
} // namespace econsim::sim::test
