// Issue 5, part 1: the fixed design's fast path ends every frame where vanilla Linux would, whatever
// the sockets, devices, bridges, VNIs and namespaces do between frames (overlay_property.h).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "overlay_property.h"

using namespace econsim::sim;
using namespace econsim::sim::property;

RC_GTEST_PROP(FixedFastPath, EndsWhereTheSlowPathDoes, ())
{
	overlay_equivalence(FastpathMode::fixed, Profile::full());
}

RC_GTEST_PROP(FixedFastPath, EndsWhereTheSlowPathDoesUnderSocketChurn, ())
{
	overlay_equivalence(FastpathMode::fixed, Profile::socket_churn());
}

RC_GTEST_PROP(FixedFastPath, EndsWhereTheSlowPathDoesUnderDeviceChurn, ())
{
	overlay_equivalence(FastpathMode::fixed, Profile::device_churn());
}
