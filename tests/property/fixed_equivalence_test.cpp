// Issue 5, part 1: the fixed design's fast path ends every frame where vanilla Linux would, whatever
// the sockets, devices, bridges, VNIs, namespaces and (on a routed host, issue 16) routes,
// neighbours and sysctls do between frames (overlay_property.h).
//
// Each test also holds the run to coverage floors (issue 19): a property whose cases never reach
// the fast path, or never invalidate what it holds, passes whatever the fast path does.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <iomanip>
#include <iostream>
#include <sstream>
#include <vector>

#include "overlay_property.h"

using namespace econsim::sim;
using namespace econsim::sim::property;

namespace {

// Floors, in percent of the cases of a run.
constexpr double kFastFloor = 80;            // a fast-path delivery (the warm-up's count)
// One outside the warm-up, among the random commands. 70: under device churn 74.8 % of bridged
// cases (seed 19) since TCP is cached at a connection's first data segment, not its handshake's ACK.
constexpr double kFastAfterWarmUpFloor = 70;
constexpr double kInvalidationFloor = 10;    // each kind the profile can raise, while the map holds entries
constexpr double kFragmentFloor = 10;        // a fragment held, and a datagram a fragment completed delivered
// Routed hosts, in percent of the cases on a flannel or Calico host: a fast-path delivery outside
// the warm-up, a routing change while the map holds entries, a cached flow's frame after one (it
// must be re-decided), and one that vanilla ends elsewhere than the cached delivery (where a
// missed invalidation shows); and each drop users meet on such a host.
constexpr double kRoutedFastFloor = 50;
constexpr double kRoutingChangeFloor = 30;
constexpr double kRedecidedFloor = 30;
constexpr double kRedecidedElsewhereFloor = 20;
constexpr double kRoutedDropFloor = 5;
// Netfilter nodes (Profile::netfilter_node), in percent of their cases: a frame the FORWARD chain
// drops, and one it drops on a fast-path hit (a cached flow whose conntrack entry timed out).
constexpr double kNetfilterDropFloor = 30;
// 5.4 % at CI's seed (19) over 500 cases, 5.2 % at another: such a case needs a UDP flow to the
// dropped port that the container answered first, cached, then a sleep and the flow again.
constexpr double kNetfilterHitDropFloor = 4;
// Bridged cases with a fast-path delivery after the warm-up: fewer than elsewhere (57 % at seed 19),
// since the chain drops every NEW flow to port 5001 and a sleep makes the cached ones NEW.
constexpr double kNetfilterFastAfterWarmUpFloor = 50;
const char *const kRoutedDrops[] = {"forwarding_disabled", "rp_filter", "no_route", "neigh_unresolved", "ttl_exceeded"};

double percent_of(std::uint64_t n, std::uint64_t cases)
{
	return cases ? 100.0 * static_cast<double>(n) / static_cast<double>(cases) : 0;
}

// Runs the property as RC_GTEST_PROP would (same id, so RC_PARAMS="reproduce=..." finds it), prints
// rapidcheck's distribution and the coverage, and holds the coverage to the floors for the kinds of
// invalidation this profile can raise. A replay of one case (reproduce) checks no floor.
void check_fixed(const std::string &name, const Profile &profile, const std::vector<fpmap_event> &kinds,
		 double fast_after_warm_up_floor = kFastAfterWarmUpFloor)
{
	coverage() = Coverage{};
	rc::detail::TestMetadata metadata;
	metadata.id = "FixedFastPath/" + name;
	metadata.description = name;
	auto result = rc::detail::checkTestable([&] { overlay_equivalence(FastpathMode::fixed, profile); }, metadata);
	if (!result.is<rc::detail::SuccessResult>()) {
		std::ostringstream failure;
		rc::detail::printResultMessage(result, failure);
		FAIL() << failure.str();
	}
	rc::detail::printResultMessage(result, std::cout);
	const Coverage c = coverage();
	std::cout << std::fixed << std::setprecision(1) << "\ncoverage of " << c.cases << " cases: fast-path delivery "
		  << percent_of(c.fast_any, c.cases) << "% (floor " << kFastFloor << "%), outside the warm-up "
		  << percent_of(c.fast, c.cases) << "%, on bridged hosts "
		  << percent_of(c.fast - c.routed_fast, c.cases - c.routed_cases) << "% (floor "
		  << fast_after_warm_up_floor << "%)\ninvalidations while the map held entries:";
	for (int kind = 0; kind < FPMAP_EV_MAX; kind++)
		std::cout << " " << event_name(static_cast<fpmap_event>(kind)) << " "
			  << percent_of(c.events[kind], c.cases) << "%";
	std::cout << " (floor " << kInvalidationFloor << "% each for";
	for (fpmap_event kind : kinds)
		std::cout << " " << event_name(kind);
	std::cout << ")\nfragments: held " << percent_of(c.fragments_held, c.cases)
		  << "%, a datagram delivered by its last " << percent_of(c.fragments_delivered, c.cases) << "% (floor "
		  << kFragmentFloor << "% each)" << std::endl;
	const std::uint64_t routed = c.routed_cases;
	std::cout << "routed hosts: " << routed << " cases; fast-path delivery outside the warm-up "
		  << percent_of(c.routed_fast, routed) << "% (floor " << kRoutedFastFloor
		  << "%), a routing change while the map held entries " << percent_of(c.routing_changes, routed)
		  << "% (floor " << kRoutingChangeFloor << "%), a cached flow re-decided after one "
		  << percent_of(c.redecided, routed) << "% (floor " << kRedecidedFloor << "%), ended elsewhere "
		  << percent_of(c.redecided_elsewhere, routed) << "% (floor " << kRedecidedElsewhereFloor
		  << "%)\nrouted frames vanilla dropped or ignored, by reason (floor " << kRoutedDropFloor << "% for";
	for (const char *reason : kRoutedDrops)
		std::cout << " " << reason;
	std::cout << "):";
	for (const auto &[reason, cases] : c.routed_ends)
		std::cout << " " << reason << " " << percent_of(cases, routed) << "%";
	std::cout << std::endl;
	if (!rc::detail::configuration().reproduce.empty())
		return;
	if (routed > 0) {
		EXPECT_GE(percent_of(c.routed_fast, routed), kRoutedFastFloor)
			<< "too few routed cases reach the fast path after the warm-up";
		EXPECT_GE(percent_of(c.routing_changes, routed), kRoutingChangeFloor)
			<< "too few routed cases change routing while the map holds entries";
		EXPECT_GE(percent_of(c.redecided, routed), kRedecidedFloor)
			<< "too few routed cases send a cached flow's frame after a routing change";
		EXPECT_GE(percent_of(c.redecided_elsewhere, routed), kRedecidedElsewhereFloor)
			<< "too few routed cases have a routing change that changes where a cached flow ends";
		for (const char *reason : kRoutedDrops) {
			auto it = c.routed_ends.find(reason);
			EXPECT_GE(percent_of(it == c.routed_ends.end() ? 0 : it->second, routed), kRoutedDropFloor)
				<< "too few routed cases drop a frame for " << reason;
		}
	}
	// (Only the fragment floors depend on the profile sending fragments: an early return here once
	// left device_churn, which sends none, with no floor at all.)
	if (profile.fragment_percent > 0) {
		EXPECT_GE(percent_of(c.fragments_held, c.cases), kFragmentFloor) << "too few cases hold a fragment";
		EXPECT_GE(percent_of(c.fragments_delivered, c.cases), kFragmentFloor)
			<< "too few cases deliver a datagram a fragment completed";
	}
	EXPECT_GE(percent_of(c.fast_any, c.cases), kFastFloor) << "too few cases reach the fast path";
	// Routed cases have their own floor (above): every routing change or link event there
	// invalidates every routed entry, where a bridged host's invalidate only the flows through it.
	const std::uint64_t bridged = c.cases - routed;
	if (bridged > 0) {
		EXPECT_GE(percent_of(c.fast - c.routed_fast, bridged), fast_after_warm_up_floor)
			<< "too few bridged cases reach the fast path after the warm-up";
	}
	for (fpmap_event kind : kinds)
		EXPECT_GE(percent_of(c.events[kind], c.cases), kInvalidationFloor)
			<< "too few cases invalidate (" << event_name(kind) << ") what the map holds";
}

} // namespace

TEST(FixedFastPath, EndsWhereTheSlowPathDoes)
{
	check_fixed("EndsWhereTheSlowPathDoes", Profile::full(),
		    {FPMAP_EV_SOCK_CLOSE, FPMAP_EV_SOCK_REBIND, FPMAP_EV_DEV_DOWN, FPMAP_EV_DEV_DELETE,
		     FPMAP_EV_FDB_CHANGE, FPMAP_EV_VNI_CHANGE, FPMAP_EV_NETNS_EXIT, FPMAP_EV_FLUSH});
}

// Sockets only: no device, FDB, VNI or namespace commands.
TEST(FixedFastPath, EndsWhereTheSlowPathDoesUnderSocketChurn)
{
	check_fixed("EndsWhereTheSlowPathDoesUnderSocketChurn", Profile::socket_churn(),
		    {FPMAP_EV_SOCK_CLOSE, FPMAP_EV_SOCK_REBIND, FPMAP_EV_FLUSH});
}

// Devices only: no bind, connect or listen after a service is open.
TEST(FixedFastPath, EndsWhereTheSlowPathDoesUnderDeviceChurn)
{
	check_fixed("EndsWhereTheSlowPathDoesUnderDeviceChurn", Profile::device_churn(),
		    {FPMAP_EV_SOCK_CLOSE, FPMAP_EV_DEV_DOWN, FPMAP_EV_DEV_DELETE, FPMAP_EV_FDB_CHANGE,
		     FPMAP_EV_VNI_CHANGE, FPMAP_EV_NETNS_EXIT, FPMAP_EV_FLUSH});
}

// Bridged hosts whose bridges only learn (no static entry per container): a flow is cached only
// once its container has sent, and FDB entries learned, moved, deleted or aged out change what
// the bridge does with a cached flow's next frame.
TEST(FixedFastPath, EndsWhereTheSlowPathDoesOnLearningBridges)
{
	check_fixed("EndsWhereTheSlowPathDoesOnLearningBridges", Profile::learning_bridges(),
		    {FPMAP_EV_SOCK_CLOSE, FPMAP_EV_SOCK_REBIND, FPMAP_EV_DEV_DOWN, FPMAP_EV_DEV_DELETE,
		     FPMAP_EV_FDB_CHANGE, FPMAP_EV_VNI_CHANGE, FPMAP_EV_NETNS_EXIT, FPMAP_EV_FLUSH});
}

// Routed hosts only (flannel, Calico): sysctls, routes, neighbours, links, cni0's FDB, the VNI.
TEST(FixedFastPath, EndsWhereTheSlowPathDoesUnderRoutingChurn)
{
	check_fixed("EndsWhereTheSlowPathDoesUnderRoutingChurn", Profile::routing_churn(),
		    {FPMAP_EV_SOCK_CLOSE, FPMAP_EV_DEV_DOWN, FPMAP_EV_DEV_DELETE, FPMAP_EV_FDB_CHANGE,
		     FPMAP_EV_VNI_CHANGE, FPMAP_EV_NETNS_EXIT, FPMAP_EV_FLUSH});
}

// A Docker-like node: br_netfilter and Docker's FORWARD chain (overlay_host.h, docker_netfilter).
// Every bridged hit runs conntrack and the chain as the slow path's bridge does; a cached flow
// whose entry timed out (a sleep) is NEW again, and the port rule drops it on either path.
TEST(FixedFastPath, EndsWhereTheSlowPathDoesOnANetfilterNode)
{
	check_fixed("EndsWhereTheSlowPathDoesOnANetfilterNode", Profile::netfilter_node(),
		    {FPMAP_EV_SOCK_CLOSE, FPMAP_EV_SOCK_REBIND, FPMAP_EV_DEV_DOWN, FPMAP_EV_DEV_DELETE,
		     FPMAP_EV_FDB_CHANGE, FPMAP_EV_VNI_CHANGE, FPMAP_EV_NETNS_EXIT, FPMAP_EV_FLUSH},
		    kNetfilterFastAfterWarmUpFloor);
	const Coverage c = coverage();
	std::cout << "netfilter: " << c.netfilter_cases << " cases; the chain dropped a frame in "
		  << percent_of(c.netfilter_dropped, c.netfilter_cases) << "% (floor " << kNetfilterDropFloor
		  << "%), on a fast-path hit in " << percent_of(c.netfilter_dropped_on_hit, c.netfilter_cases)
		  << "% (floor " << kNetfilterHitDropFloor << "%)" << std::endl;
	if (!rc::detail::configuration().reproduce.empty())
		return;
	EXPECT_GE(percent_of(c.netfilter_dropped, c.netfilter_cases), kNetfilterDropFloor)
		<< "too few cases meet a FORWARD drop";
	EXPECT_GE(percent_of(c.netfilter_dropped_on_hit, c.netfilter_cases), kNetfilterHitDropFloor)
		<< "too few cases drop a cached flow's frame on a hit";
}
