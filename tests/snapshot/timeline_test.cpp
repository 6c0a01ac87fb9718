// The snapshot's timeline: reads and destroy notifications in, scenario events and the windows of
// uncertainty out. Times are plain nanoseconds here; the rules are what snapshot/README.md says.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "timeline.h"

namespace econsim::snapshot {
namespace {

constexpr std::size_t kHost = 0, kC1 = 1;

Sock udp(std::uint64_t cookie, std::string ip, std::uint16_t port, std::string peer_ip = "0.0.0.0",
	 std::uint16_t peer_port = 0)
{
	Sock s;
	s.proto = Proto::udp;
	s.family = AF_INET;
	s.state = peer_port ? 1 : 7;
	s.local_ip = std::move(ip);
	s.local_port = port;
	s.remote_ip = std::move(peer_ip);
	s.remote_port = peer_port;
	s.cookie = cookie;
	s.inode = 1000 + cookie;
	return s;
}

Sock tcp(std::uint64_t cookie, int state, std::string ip, std::uint16_t port, std::string peer_ip = "0.0.0.0",
	 std::uint16_t peer_port = 0)
{
	Sock s = udp(cookie, std::move(ip), port, std::move(peer_ip), peer_port);
	s.proto = Proto::tcp;
	s.state = state;
	s.backlog = 16;
	return s;
}

Timeline make()
{
	return Timeline({{kHost, "host"}, {kC1, "c1"}}, {4789});
}

std::vector<std::string> lines(const Timeline::Result &r)
{
	std::vector<std::string> out;
	for (const TimedEvent &e : r.events)
		out.push_back(std::to_string(e.t) + " " + e.text);
	return out;
}

TEST(SnapshotTimeline, SocketsOfTheFirstReadExistFromItsStartWithoutWindow)
{
	Timeline tl = make();
	tl.read(kC1, {udp(7, "0.0.0.0", 5000)}, 100, 110);
	auto r = tl.result();
	EXPECT_EQ(
		lines(r),
		(std::vector<std::string>{
			"100 op: socket, sock: \"c1-udp5000-7\", ns: c1, proto: udp",
			"100 op: bind, sock: \"c1-udp5000-7\", addr: \"0.0.0.0:5000\", reuseaddr: false, reuseport: false",
		}));
	EXPECT_TRUE(r.windows.empty());
	EXPECT_EQ(r.sockets, 1u);
	EXPECT_EQ(r.changes, 0u);
}

TEST(SnapshotTimeline, ANewSocketIsPlacedMidwayBetweenTheReadThatMissedItAndTheOneThatSawIt)
{
	Timeline tl = make();
	tl.read(kC1, {}, 100, 110);
	tl.read(kC1, {}, 200, 210);
	tl.read(kC1, {udp(7, "10.0.0.2", 5000)}, 300, 310);
	auto r = tl.result();
	ASSERT_EQ(r.events.size(), 2u);
	EXPECT_EQ(r.events[0].t, 255); // in [200, 310]
	ASSERT_EQ(r.windows.size(), 1u);
	EXPECT_EQ(r.windows[0].lo, 200);
	EXPECT_EQ(r.windows[0].hi, 310);
	EXPECT_EQ(r.windows[0].port, 5000);
	EXPECT_EQ(r.changes, 1u);
}

TEST(SnapshotTimeline, ACloseIsBetweenTheLastReadThatSawItAndTheDestroyNotification)
{
	Timeline tl = make();
	tl.read(kC1, {udp(7, "0.0.0.0", 5000)}, 100, 110);
	tl.read(kC1, {udp(7, "0.0.0.0", 5000)}, 200, 210);
	tl.destroyed(kC1, udp(7, "0.0.0.0", 5000), 240);
	tl.read(kC1, {}, 300, 310); // a later read that misses it changes nothing
	auto r = tl.result();
	ASSERT_EQ(r.events.size(), 3u);
	EXPECT_EQ(r.events[2].text, "op: close, sock: \"c1-udp5000-7\"");
	EXPECT_EQ(r.events[2].t, 220);
	ASSERT_EQ(r.windows.size(), 1u);
	EXPECT_EQ(r.windows[0].lo, 200);
	EXPECT_EQ(r.windows[0].hi, 240);
}

TEST(SnapshotTimeline, WithoutNotificationTheReadThatMissesASocketClosesIt)
{
	Timeline tl = make();
	tl.read(kC1, {udp(7, "0.0.0.0", 5000)}, 100, 110);
	tl.read(kC1, {}, 200, 210);
	auto r = tl.result();
	ASSERT_EQ(r.events.size(), 3u);
	EXPECT_EQ(r.events[2].t, 155); // in [100, 210]
}

TEST(SnapshotTimeline, AUdpConnectAndDisconnectBecomeConnectEvents)
{
	Timeline tl = make();
	tl.read(kC1, {udp(7, "0.0.0.0", 5000)}, 100, 110);
	tl.read(kC1, {udp(7, "10.0.0.2", 5000, "10.0.0.9", 4000)}, 200, 210);
	tl.read(kC1, {udp(7, "0.0.0.0", 5000)}, 300, 310);
	auto r = tl.result();
	ASSERT_EQ(r.events.size(), 4u);
	EXPECT_EQ(r.events[2].text, "op: connect, sock: \"c1-udp5000-7\", peer: \"10.0.0.9:4000\"");
	EXPECT_EQ(r.events[2].t, 155);
	EXPECT_EQ(r.events[3].text, "op: connect, sock: \"c1-udp5000-7\", peer: \"0.0.0.0:0\"");
}

TEST(SnapshotTimeline, AUdpSocketConnectedWhenFirstSeenIsBoundToTheWildcardThenConnected)
{
	Timeline tl = make();
	tl.read(kC1, {udp(7, "10.0.0.2", 5000, "10.0.0.9", 4000)}, 100, 110);
	auto r = tl.result();
	ASSERT_EQ(r.events.size(), 3u);
	EXPECT_NE(r.events[1].text.find("addr: \"0.0.0.0:5000\""), std::string::npos);
	EXPECT_EQ(r.events[2].text, "op: connect, sock: \"c1-udp5000-7\", peer: \"10.0.0.9:4000\"");
}

TEST(SnapshotTimeline, SocketsHoldingOnePortAtOnceAreTakenAsReuseport)
{
	Timeline tl = make();
	tl.read(kC1, {udp(7, "0.0.0.0", 5000), udp(8, "0.0.0.0", 5000), udp(9, "0.0.0.0", 6000)}, 100, 110);
	auto r = tl.result();
	int reuseport = 0, plain = 0;
	for (const TimedEvent &e : r.events) {
		reuseport += e.text.find("reuseport: true") != std::string::npos;
		plain += e.text.find("reuseport: false") != std::string::npos;
	}
	EXPECT_EQ(reuseport, 2);
	EXPECT_EQ(plain, 1);
	EXPECT_EQ(r.notes.size(), 1u);
}

TEST(SnapshotTimeline, SocketsOnOnePortOneAfterTheOtherNeedNoReuse)
{
	Timeline tl = make();
	tl.read(kC1, {udp(7, "0.0.0.0", 5000)}, 100, 110);
	tl.read(kC1, {}, 200, 210);
	tl.read(kC1, {udp(8, "0.0.0.0", 5000)}, 300, 310);
	for (const TimedEvent &e : tl.result().events)
		EXPECT_EQ(e.text.find("reuseport: true"), std::string::npos) << e.text;
}

TEST(SnapshotTimeline, AnAcceptedConnectionIsNamedAfterItsListenerAndOnlyItsCloseIsAnEvent)
{
	Timeline tl = make();
	tl.read(kC1, {tcp(7, 10, "0.0.0.0", 7000)}, 100, 110);
	tl.read(kC1, {tcp(7, 10, "0.0.0.0", 7000), tcp(8, 1, "10.0.0.2", 7000, "10.0.0.9", 41000)}, 200, 210);
	tl.read(kC1, {tcp(7, 10, "0.0.0.0", 7000)}, 300, 310);
	auto r = tl.result();
	EXPECT_EQ(
		lines(r),
		(std::vector<std::string>{
			"100 op: socket, sock: \"c1-tcp7000-7\", ns: c1, proto: tcp",
			"100 op: bind, sock: \"c1-tcp7000-7\", addr: \"0.0.0.0:7000\", reuseaddr: false, reuseport: false",
			"100 op: listen, sock: \"c1-tcp7000-7\", backlog: 16",
			"255 op: close, sock: \"c1-tcp7000-7/10.0.0.9:41000\"",
		}));
}

TEST(SnapshotTimeline, AConnectionAcceptedBeforeTheSnapshotIsFlaggedNotEmitted)
{
	Timeline tl = make();
	tl.read(kC1, {tcp(7, 10, "0.0.0.0", 7000), tcp(8, 1, "10.0.0.2", 7000, "10.0.0.9", 41000)}, 100, 110);
	auto r = tl.result();
	EXPECT_EQ(r.events.size(), 3u); // the listener's
	ASSERT_EQ(r.windows.size(), 1u);
	EXPECT_EQ(r.windows[0].lo, std::numeric_limits<std::int64_t>::min());
	EXPECT_EQ(r.windows[0].port, 7000);
	EXPECT_EQ(r.notes.size(), 1u);
}

TEST(SnapshotTimeline, AnOrphanedTcpSocketIsClosedByItsProcess)
{
	Timeline tl = make();
	Sock client = tcp(9, 1, "10.0.0.2", 40000, "10.0.0.9", 80);
	tl.read(kC1, {client}, 100, 110);
	client.inode = 0;
	client.state = 4; // FIN_WAIT1
	tl.read(kC1, {client}, 200, 210);
	auto r = tl.result();
	ASSERT_EQ(r.events.size(), 4u);
	EXPECT_EQ(r.events[2].text, "op: connect, sock: \"c1-tcp40000-9\", peer: \"10.0.0.9:80\"");
	EXPECT_EQ(r.events[3].text, "op: close, sock: \"c1-tcp40000-9\"");
	EXPECT_EQ(r.events[3].t, 155);
}

TEST(SnapshotTimeline, ASocketLivingBetweenTwoReadsIsReportedAsMissed)
{
	Timeline tl = make();
	tl.read(kC1, {}, 100, 110);
	tl.destroyed(kC1, udp(7, "0.0.0.0", 5000), 150);
	auto r = tl.result();
	EXPECT_TRUE(r.events.empty());
	ASSERT_EQ(r.missed.size(), 1u);
	ASSERT_EQ(r.windows.size(), 1u);
	EXPECT_EQ(r.windows[0].lo, 100);
	EXPECT_EQ(r.windows[0].hi, 150);
}

TEST(SnapshotTimeline, TheVxlanDevicesOwnSocketIsNotAScenarioSocket)
{
	Timeline tl = make();
	tl.read(kHost, {udp(7, "0.0.0.0", 4789), udp(8, "0.0.0.0", 53)}, 100, 110);
	tl.read(kC1, {udp(9, "0.0.0.0", 4789)}, 100, 110); // in a container it is anyone's
	auto r = tl.result();
	EXPECT_EQ(r.sockets, 2u);
	for (const TimedEvent &e : r.events)
		EXPECT_NE(e.sock, "host-udp4789-7");
}

TEST(SnapshotTimeline, ExcludedSocketsAndDeletedNamespaces)
{
	Timeline tl = make();
	tl.read(kC1, {udp(7, "0.0.0.0", 5000), udp(8, "0.0.0.0", 6000)}, 100, 110);
	tl.namespace_gone(kC1, 500, 700);
	tl.read(kC1, {}, 800, 810); // reads after the namespace went change nothing
	auto r = tl.result({{"c1-udp6000-8", "refused"}});
	EXPECT_EQ(
		lines(r),
		(std::vector<std::string>{
			"100 op: socket, sock: \"c1-udp5000-7\", ns: c1, proto: udp",
			"100 op: bind, sock: \"c1-udp5000-7\", addr: \"0.0.0.0:5000\", reuseaddr: false, reuseport: false",
			"600 op: netns_del, ns: c1",
		}));
}

TEST(SnapshotTimeline, TimesAreWrittenWithNineDecimals)
{
	EXPECT_EQ(time_text(1796198734252075812), "1796198734.252075812");
	EXPECT_EQ(time_text(5), "0.000000005");
}

} // namespace
} // namespace econsim::snapshot
