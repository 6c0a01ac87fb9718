#include "address.h"

#include <gtest/gtest.h>

namespace econsim::sim {
namespace {

TEST(Address, ParsesAndPrintsEachForm)
{
	EXPECT_EQ(to_string(*parse_mac("02:42:0A:e9:01:02")), "02:42:0a:e9:01:02");
	EXPECT_EQ(parse_ipv4("10.233.1.2")->value, 0x0ae90102u);
	EXPECT_EQ(to_string(*parse_ipv4_prefix("10.233.1.2/16")), "10.233.1.2/16");
	EXPECT_EQ(to_string(*parse_endpoint("0.0.0.0:5000")), "0.0.0.0:5000");
	EXPECT_TRUE(parse_ipv4_prefix("10.233.1.2/16")->contains(*parse_ipv4("10.233.200.1")));
	EXPECT_FALSE(parse_ipv4_prefix("10.233.1.2/16")->contains(*parse_ipv4("10.234.0.1")));
	EXPECT_TRUE(parse_ipv4_prefix("0.0.0.0/0")->contains(*parse_ipv4("1.2.3.4")));
}

TEST(Address, RejectsEverythingElse)
{
	for (const char *bad : {"02:42:0a:e9:01", "02:42:0a:e9:01:02:03", "0242.0ae9.0102", "02:42:0a:e9:01:0g", "2:42:0a:e9:01:02"})
		EXPECT_FALSE(parse_mac(bad)) << bad;
	for (const char *bad : {"10.233.1", "10.233.1.256", "010.1.1.1", "10.233.1.2.", "10..1.2", " 10.0.0.1", "1.2.3.-4", "1.2.3.+4"})
		EXPECT_FALSE(parse_ipv4(bad)) << bad;
	for (const char *bad : {"10.0.0.1", "10.0.0.1/33", "10.0.0.1/", "10.0.0.1/08"})
		EXPECT_FALSE(parse_ipv4_prefix(bad)) << bad;
	for (const char *bad : {"10.0.0.1", "10.0.0.1:65536", "10.0.0.1:", "10.0.0.1:http", ":80"})
		EXPECT_FALSE(parse_endpoint(bad)) << bad;
}

} // namespace
} // namespace econsim::sim
