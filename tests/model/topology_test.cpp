// Devices and the bridge: drivers/net/vxlan/vxlan_core.c vxlan_vs_find_vni; net/bridge br_fdb.c,
// br_input.c, br_forward.c, br_stp_if.c; drivers/net/veth.c; net/ipv4/fib_frontend.c.
#include "host_fixture.h"

namespace econsim::model::testing {
namespace {

using Topo = HostTest;

// vxlan_vs_find_vni: the device for a VNI on a UDP port; only devices that are up.
TEST_F(Topo, VxlanVsFindVni_DeviceForVniAndPort)
{
	Topology &topology = host.topology();
	ASSERT_NE(topology.vxlan_for(4789, 42), nullptr);
	EXPECT_EQ(topology.vxlan_for(4789, 42)->name, "vxlan42");
	EXPECT_EQ(topology.vxlan_for(4789, 43)->name, "vxlan43");
	EXPECT_EQ(topology.vxlan_for(4789, 44), nullptr);
	EXPECT_EQ(topology.vxlan_for(8472, 42), nullptr);
	EXPECT_EQ(topology.bridge_of("vxlan42"), "br42");
	ASSERT_EQ(host.set_link("vxlan42", false), Error::none);
	EXPECT_EQ(topology.vxlan_for(4789, 42), nullptr);
}

// vxlan_config_validate → vxlan_vni_in_use: one device per VNI and port.
TEST_F(Topo, VxlanVniInUse_SecondDeviceRefused)
{
	EXPECT_EQ(host.add_vxlan("again42", 42, 4789, "br42"), Error::device_exists);
	EXPECT_EQ(host.add_vxlan("flannel42", 42, 8472, "br42"), Error::none);
	EXPECT_EQ(host.add_vxlan("vxlan42", 44, 4789, "br42"), Error::device_exists); // name taken
	EXPECT_EQ(host.add_vxlan("nobridge", 45, 4789, "br99"), Error::unknown_device);
}

// br_fdb_update learns and moves; br_fdb_find_rcu finds; has_expired after the ageing time.
TEST_F(Topo, BrFdbUpdate_LearnMoveAndAge)
{
	BridgeFdb fdb;
	// learn says whether where frames to the MAC go changed: new, moved, or aged out.
	EXPECT_TRUE(fdb.learn(peer_mac, "vxlan42", 10.0));
	EXPECT_EQ(fdb.lookup(peer_mac, 10.0), "vxlan42");
	EXPECT_EQ(fdb.lookup(c1_mac, 10.0), std::nullopt);
	EXPECT_FALSE(fdb.learn(peer_mac, "vxlan42", 15.0)); // same port: only the age
	EXPECT_TRUE(fdb.learn(peer_mac, "veth-c1", 20.0));  // the MAC moved
	EXPECT_EQ(fdb.lookup(peer_mac, 20.0), "veth-c1");
	EXPECT_EQ(fdb.lookup(peer_mac, 20.0 + 299.0), "veth-c1");
	EXPECT_EQ(fdb.lookup(peer_mac, 20.0 + 300.0), std::nullopt); // updated + 300 s <= now
	// Aged out: learnt anew on the same port.
	EXPECT_TRUE(fdb.learn(peer_mac, "veth-c1", 20.0 + 300.0));
	EXPECT_TRUE(fdb.learn(peer_mac, "vxlan42", 400.0));
	EXPECT_EQ(fdb.lookup(peer_mac, 400.0), "vxlan42");
}

// br_fdb_cleanup: each learned entry deleted once its age reaches the ageing time, which the
// bridge notifies (the fast path's FDB event); static entries never; nothing due, nothing done.
// It says when the earliest learned entry left expires (when the work would run again).
TEST_F(Topo, BrFdbCleanup_DeletesWhatAgedOutAndSaysSo)
{
	constexpr double none = 1e9; // what `next` holds when no learned entry is left
	BridgeFdb fdb;
	fdb.add_static(c1_mac, "veth-c1");
	fdb.learn(peer_mac, "vxlan42", 0.0);
	fdb.learn(c2_mac, "veth-c1", 100.0);
	double next = none;
	EXPECT_FALSE(fdb.expire(299.0, next));
	EXPECT_EQ(next, 300.0) << "peer_mac learnt at 0 s expires first";
	next = none;
	EXPECT_TRUE(fdb.expire(300.0, next)) << "peer_mac learnt at 0 s";
	EXPECT_EQ(fdb.entries().count(peer_mac), 0u);
	EXPECT_EQ(next, 400.0);
	next = none;
	EXPECT_FALSE(fdb.expire(300.5, next)) << "nothing more before 400 s";
	EXPECT_FALSE(fdb.learn(c2_mac, "veth-c1", 350.0)) << "a refresh: c2 now expires at 650 s";
	next = none;
	EXPECT_FALSE(fdb.expire(400.0, next)) << "c2 was refreshed";
	EXPECT_EQ(next, 650.0);
	next = none;
	EXPECT_TRUE(fdb.expire(650.0, next));
	EXPECT_EQ(fdb.entries().size(), 1u) << "the static entry stays";
	EXPECT_EQ(fdb.lookup(c1_mac, 1e6), "veth-c1");
	EXPECT_EQ(next, none) << "no learned entry left: the static one never expires";
	EXPECT_FALSE(fdb.expire(1e6, next));
}

// has_expired: static entries never age; br_fdb_delete_by_port(.., do_all = 0) keeps them.
TEST_F(Topo, BrFdbDeleteByPort_StaticEntriesStay)
{
	BridgeFdb fdb;
	fdb.add_static(c1_mac, "veth-c1");
	fdb.learn(c2_mac, "veth-c1", 0.0);
	EXPECT_EQ(fdb.lookup(c1_mac, 1e6), "veth-c1");
	fdb.forget_learned_on("veth-c1");
	EXPECT_EQ(fdb.lookup(c1_mac, 0.0), "veth-c1");
	EXPECT_EQ(fdb.lookup(c2_mac, 0.0), std::nullopt);
}

// br_handle_frame_finish: learn the source on the VXLAN port, forward a known destination to its
// port; veth_xmit hands it to c1's eth0.
TEST_F(Topo, BrHandleFrameFinish_KnownMacReachesItsContainer)
{
	Topology &topology = host.topology();
	ASSERT_EQ(topology.add_static_fdb_entry("br42", c1_mac, "veth-c1"), Error::none);
	const InnerFrameResult result = topology.deliver_inner_frame("vxlan42", peer_mac, c1_mac, 1.0, true);
	EXPECT_EQ(result.receivers, Names{"c1"});
	EXPECT_EQ(result.drop_reason, "");
	EXPECT_TRUE(result.fdb_changed);
	EXPECT_FALSE(result.flooded);
	EXPECT_EQ(topology.fdb("br42")->lookup(peer_mac, 1.0), "vxlan42"); // learned
	EXPECT_NE(result.explanation.find("br_fdb_find_rcu"), std::string::npos) << result.explanation;
	// The same frame again, not explained: the same answer, no text, and the entry only refreshed.
	const InnerFrameResult again = topology.deliver_inner_frame("vxlan42", peer_mac, c1_mac, 2.0);
	EXPECT_EQ(again.receivers, Names{"c1"});
	EXPECT_FALSE(again.fdb_changed);
	EXPECT_EQ(again.explanation, "");
}

// br_flood: an unknown destination is flooded; only the container owning the MAC takes it
// (the others see PACKET_OTHERHOST). A frame to a MAC nobody has reaches nobody. A unicast flood is
// said to be one (the fast path caches no path the FDB did not choose); a broadcast is not.
TEST_F(Topo, BrFlood_UnknownMacReachesItsOwner)
{
	Topology &topology = host.topology();
	ASSERT_EQ(host.add_container("c3", "br42", "veth-c3", mac(2, 0x42, 0, 0, 0, 3),
				     Ipv4Interface{ipv4(10, 233, 1, 3), 16}),
		  Error::none);
	const InnerFrameResult flooded = topology.deliver_inner_frame("vxlan42", peer_mac, c1_mac, 1.0);
	EXPECT_EQ(flooded.receivers, Names{"c1"});
	EXPECT_TRUE(flooded.flooded);
	const InnerFrameResult nobody = topology.deliver_inner_frame("vxlan42", peer_mac, mac(2, 9, 9, 9, 9, 9), 1.0);
	EXPECT_EQ(nobody.receivers, Names{});
	EXPECT_EQ(nobody.drop_reason, "no_receiver");
	const InnerFrameResult broadcast = topology.deliver_inner_frame("vxlan42", peer_mac, broadcast_mac, 1.0);
	EXPECT_EQ(broadcast.receivers, (Names{"c1", "c3"}));
	EXPECT_FALSE(broadcast.flooded);
	// c2 is on br43: VNI 42 never reaches it, although it has c1's address.
}

// br_handle_frame: a multicast source MAC is dropped before learning.
TEST_F(Topo, BrHandleFrame_InvalidSourceMacDropped)
{
	Topology &topology = host.topology();
	const InnerFrameResult result = topology.deliver_inner_frame("vxlan42", broadcast_mac, c1_mac, 1.0);
	EXPECT_EQ(result.drop_reason, "invalid_source_mac");
	EXPECT_TRUE(topology.fdb("br42")->entries().empty());
}

// should_deliver: no hairpin; a destination learned on the ingress port is dropped.
TEST_F(Topo, ShouldDeliver_NotBackOutOfTheIngressPort)
{
	Topology &topology = host.topology();
	topology.deliver_inner_frame("vxlan42", c1_mac, peer_mac, 1.0); // c1's MAC now learned on vxlan42
	EXPECT_EQ(topology.deliver_inner_frame("vxlan42", peer_mac, c1_mac, 2.0).drop_reason, "fdb_same_port");
}

// br_handle_frame_finish on the container's port: a frame the container sends teaches its bridge
// where its MAC is, moving a static entry an `fdb` event put elsewhere (br_fdb_update moves every
// entry but local and sticky ones). A port that does not forward drops the frame unlearned.
TEST_F(Topo, BrFdbUpdate_SentFrameLearnsTheSenderOnItsPort)
{
	Topology &topology = host.topology();
	ASSERT_EQ(topology.add_static_fdb_entry("br42", c1_mac, "vxlan42"), Error::none); // moved away
	EXPECT_TRUE(topology.learn_sent_frame("c1", 1.0));
	EXPECT_EQ(topology.fdb("br42")->lookup(c1_mac, 1.0), "veth-c1");
	EXPECT_EQ(topology.fdb("br42")->lookup(c1_mac, 1e6), "veth-c1"); // still static: never ages
	EXPECT_FALSE(topology.learn_sent_frame("c1", 2.0));              // only refreshed
	EXPECT_EQ(topology.deliver_inner_frame("vxlan42", peer_mac, c1_mac, 3.0).receivers, Names{"c1"});

	ASSERT_EQ(topology.add_static_fdb_entry("br42", c1_mac, "vxlan42"), Error::none);
	ASSERT_EQ(host.set_link("veth-c1", false), Error::none);
	EXPECT_FALSE(topology.learn_sent_frame("c1", 4.0));
	EXPECT_EQ(topology.fdb("br42")->lookup(c1_mac, 4.0), "vxlan42");
	EXPECT_FALSE(topology.learn_sent_frame("no-such-container", 4.0));
}

// veth_open/veth_close: with the container end down the host end has no carrier, so the bridge
// port stops forwarding (br_port_carrier_check → br_stp_disable_port) and forgets what it
// learned there (br_fdb_delete_by_port).
TEST_F(Topo, BrStpDisablePort_DeviceDownStopsDeliveryAndForgetsLearnedEntries)
{
	Topology &topology = host.topology();
	BridgeFdb &fdb = *topology.fdb("br42");
	fdb.learn(c1_mac, "veth-c1", 1.0);
	ASSERT_TRUE(topology.bridge_port_forwards("veth-c1"));

	ASSERT_EQ(host.set_link(container_end_name("c1"), false), Error::none);
	EXPECT_FALSE(topology.has_carrier("veth-c1"));
	EXPECT_FALSE(topology.bridge_port_forwards("veth-c1"));
	EXPECT_EQ(fdb.lookup(c1_mac, 1.0), std::nullopt);
	EXPECT_EQ(topology.blocked_device_on_path("vxlan42", "c1"), "veth-c1");
	EXPECT_EQ(topology.deliver_inner_frame("vxlan42", peer_mac, c1_mac, 2.0).receivers, Names{});

	ASSERT_EQ(host.set_link(container_end_name("c1"), true), Error::none);
	EXPECT_EQ(topology.blocked_device_on_path("vxlan42", "c1"), std::nullopt);
	EXPECT_EQ(topology.deliver_inner_frame("vxlan42", peer_mac, c1_mac, 3.0).receivers, Names{"c1"});
}

// br_stp_disable_bridge: a bridge going down disables every port; nothing crosses it.
TEST_F(Topo, BrStpDisableBridge_BridgeDownBlocksThePath)
{
	Topology &topology = host.topology();
	topology.fdb("br42")->learn(c1_mac, "veth-c1", 1.0);
	ASSERT_EQ(host.set_link("br42", false), Error::none);
	EXPECT_EQ(topology.fdb("br42")->lookup(c1_mac, 1.0), std::nullopt);
	EXPECT_EQ(topology.blocked_device_on_path("vxlan42", "c1"), "br42");
	EXPECT_EQ(topology.deliver_inner_frame("vxlan42", peer_mac, c1_mac, 2.0).drop_reason, "bridge_port_disabled");
	ASSERT_EQ(host.set_link("eth0", false), Error::none);
	EXPECT_EQ(topology.blocked_device_on_path("vxlan42", "c1"), "eth0");
	EXPECT_EQ(host.set_link("no-such-device", false), Error::unknown_device);
}

// fib_add_ifaddr: the local route comes with the address, up or down; the subnet broadcast only
// while the device is up. Checked against a real kernel while writing this (see README).
TEST_F(Topo, InetAddrType_LocalAndBroadcastRoutes)
{
	Topology &topology = host.topology();
	EXPECT_EQ(topology.address_type("c1", c1_ip), AddressType::local);
	EXPECT_EQ(topology.address_type("c1", ipv4(10, 233, 255, 255)), AddressType::broadcast);
	EXPECT_EQ(topology.address_type("c1", ipv4(127, 0, 0, 9)), AddressType::local);
	EXPECT_EQ(topology.address_type("c1", ipv4(224, 0, 0, 1)), AddressType::multicast);
	EXPECT_EQ(topology.address_type("c1", nic_ip), AddressType::remote);
	EXPECT_EQ(topology.address_type("host", nic_ip), AddressType::local);

	ASSERT_EQ(host.set_link(container_end_name("c1"), false), Error::none);
	EXPECT_EQ(topology.address_type("c1", c1_ip), AddressType::local);
	EXPECT_EQ(topology.address_type("c1", ipv4(10, 233, 255, 255)), AddressType::remote);
}

TEST_F(Topo, ContainersWithAddress_TenantsMayShareAnAddress)
{
	EXPECT_EQ(host.topology().containers_with_address(c1_ip), (Names{"c1", "c2"}));
	EXPECT_EQ(host.topology().containers_with_address(peer_ip), Names{});
	EXPECT_EQ(host.topology().source_address_for("c1", peer_ip), c1_ip);
	EXPECT_EQ(host.topology().source_address_for("c1", loopback_address), loopback_address);
}

// A fixed-mode hit skipped the bridge, so it asks the FDB in one probe whether br_fdb_update would
// only refresh the source's entry (refresh_if_on): yes when the entry names that port and has not
// expired, and then the age is refreshed; otherwise nothing changes (learning is the slow path's).
TEST_F(Topo, BrFdbUpdate_RefreshOnlyWhereTheEntryAlreadyIs)
{
	BridgeFdb fdb;
	EXPECT_FALSE(fdb.refresh_if_on(peer_mac, "vxlan42", 1.0)) << "unknown: learning would add it";
	EXPECT_EQ(fdb.lookup(peer_mac, 1.0), std::nullopt) << "and it was not added";

	fdb.learn(peer_mac, "vxlan42", 1.0);
	EXPECT_FALSE(fdb.refresh_if_on(peer_mac, "veth-c1", 200.0)) << "another port: learning would move it";
	EXPECT_EQ(fdb.lookup(peer_mac, 200.0), "vxlan42") << "not moved";
	EXPECT_EQ(fdb.lookup(peer_mac, 301.0), std::nullopt) << "nor refreshed: learned at 1 s, gone at 301 s";

	fdb.learn(c1_mac, "vxlan42", 10.0);
	EXPECT_TRUE(fdb.refresh_if_on(c1_mac, "vxlan42", 250.0));
	EXPECT_EQ(fdb.lookup(c1_mac, 320.0), "vxlan42") << "refreshed at 250 s";
	EXPECT_FALSE(fdb.refresh_if_on(c1_mac, "vxlan42", 550.0)) << "expired: learning would add it again";
}

// veth_dellink takes both ends of a pair; a container made again under the same names gets a new
// pair whose carrier and bridge port work as the first's did (the ports' links to their bridge and
// peer follow the devices, not what existed when each end was made).
TEST_F(Topo, VethDellink_AContainerMadeAgainForwardsAsBefore)
{
	Topology &topology = host.topology();
	ASSERT_EQ(topology.deliver_inner_frame("vxlan42", peer_mac, c1_mac, 1.0).receivers, Names{"c1"});
	ASSERT_EQ(topology.remove_container("c1"), Error::none);
	EXPECT_FALSE(topology.has_carrier("veth-c1"));
	EXPECT_EQ(topology.deliver_inner_frame("vxlan42", peer_mac, c1_mac, 2.0).receivers, Names{});

	ASSERT_EQ(topology.add_container("c1", "br42", "veth-c1", c1_mac, Ipv4Interface{c1_ip, 16}), Error::none);
	EXPECT_TRUE(topology.has_carrier("veth-c1"));
	EXPECT_TRUE(topology.has_carrier(container_end_name("c1")));
	EXPECT_TRUE(topology.bridge_port_forwards("veth-c1"));
	EXPECT_EQ(topology.deliver_inner_frame("vxlan42", peer_mac, c1_mac, 3.0).receivers, Names{"c1"});
}

} // namespace
} // namespace econsim::model::testing
