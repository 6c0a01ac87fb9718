// Issue 5, part 1: the fixed design's fast path ends every frame where vanilla Linux would, whatever
// the sockets, devices, bridges, VNIs and namespaces do between frames (overlay_property.h).
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
constexpr double kFastAfterWarmUpFloor = 75; // one outside the warm-up, among the random commands
constexpr double kInvalidationFloor = 10;    // each kind the profile can raise, while the map holds entries
constexpr double kFragmentFloor = 10;        // a fragment held, and a datagram a fragment completed delivered

double percent_of(std::uint64_t n, std::uint64_t cases)
{
	return cases ? 100.0 * static_cast<double>(n) / static_cast<double>(cases) : 0;
}

// Runs the property as RC_GTEST_PROP would (same id, so RC_PARAMS="reproduce=..." finds it), prints
// rapidcheck's distribution and the coverage, and holds the coverage to the floors for the kinds of
// invalidation this profile can raise. A replay of one case (reproduce) checks no floor.
void check_fixed(const std::string &name, const Profile &profile, const std::vector<fpmap_event> &kinds)
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
		  << percent_of(c.fast, c.cases) << "% (floor " << kFastAfterWarmUpFloor
		  << "%)\ninvalidations while the map held entries:";
	for (int kind = 0; kind < FPMAP_EV_MAX; kind++)
		std::cout << " " << event_name(static_cast<fpmap_event>(kind)) << " "
			  << percent_of(c.events[kind], c.cases) << "%";
	std::cout << " (floor " << kInvalidationFloor << "% each for";
	for (fpmap_event kind : kinds)
		std::cout << " " << event_name(kind);
	std::cout << ")\nfragments: held " << percent_of(c.fragments_held, c.cases)
		  << "%, a datagram delivered by its last " << percent_of(c.fragments_delivered, c.cases) << "% (floor "
		  << kFragmentFloor << "% each)" << std::endl;
	if (!rc::detail::configuration().reproduce.empty())
		return;
	if (profile.fragment_percent == 0)
		return;
	EXPECT_GE(percent_of(c.fragments_held, c.cases), kFragmentFloor) << "too few cases hold a fragment";
	EXPECT_GE(percent_of(c.fragments_delivered, c.cases), kFragmentFloor)
		<< "too few cases deliver a datagram a fragment completed";
	EXPECT_GE(percent_of(c.fast_any, c.cases), kFastFloor) << "too few cases reach the fast path";
	EXPECT_GE(percent_of(c.fast, c.cases), kFastAfterWarmUpFloor)
		<< "too few cases reach the fast path after the warm-up";
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
