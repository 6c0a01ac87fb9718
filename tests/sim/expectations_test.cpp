#include "expectations.h"

#include <gtest/gtest.h>

#include "test_frames.h"

namespace econsim::sim {
namespace {

Verdict delivered(std::uint64_t pkt, std::string sock)
{
	Verdict v;
	v.pkt = pkt;
	v.verdict = VerdictKind::deliver;
	v.sock = std::move(sock);
	return v;
}

TEST(Expectations, ReadsEachFormOfTheDoc)
{
	Expectations e = parse_expectations(R"({"pkt":17,"verdict":"deliver","sock":"s1"}
{"pkt":18,"verdict":"drop"}

{"pkt":19,"verdict":"deliver","sock":["r1","r2"]}
{"pkt": 3, "verdict": "ignore", "reason": "not_ipv4"}
{"pkt":20,"verdict":"transmit"}
{"pkt":21,"verdict":"held"}
)",
					    "E.jsonl");
	ASSERT_EQ(e.all().size(), 6u);
	EXPECT_EQ(e.all().front().pkt, 3u); // sorted by frame
	const Expectation *e17 = e.find(17);
	ASSERT_TRUE(e17);
	EXPECT_EQ(e17->line, 1);
	EXPECT_EQ(e17->socks, std::vector<std::string>{"s1"});
	EXPECT_EQ(e.find(19)->socks, (std::vector<std::string>{"r1", "r2"}));
	EXPECT_EQ(e.find(19)->line, 4);
	EXPECT_EQ(e.find(3)->reason, "not_ipv4");
	EXPECT_EQ(e.find(20)->verdict, VerdictKind::transmit);
	EXPECT_EQ(e.find(21)->verdict, VerdictKind::held); // a fragment kept for reassembly
	EXPECT_EQ(e.find(4), nullptr);
	EXPECT_EQ(e.find(100), nullptr);
}

TEST(Expectations, MetBy)
{
	Expectations e = parse_expectations(R"({"pkt":1,"verdict":"deliver","sock":["r1","r2"]}
{"pkt":2,"verdict":"drop"}
{"pkt":3,"verdict":"drop","reason":"no_socket"}
{"pkt":4,"verdict":"deliver"})",
					    "E.jsonl");
	EXPECT_TRUE(e.find(1)->met_by(delivered(1, "r2")));
	EXPECT_FALSE(e.find(1)->met_by(delivered(1, "s1")));
	Verdict drop;
	drop.verdict = VerdictKind::drop;
	drop.reason = "bad_ip_checksum";
	EXPECT_TRUE(e.find(2)->met_by(drop));
	EXPECT_FALSE(e.find(3)->met_by(drop));
	drop.reason = "no_socket";
	EXPECT_TRUE(e.find(3)->met_by(drop));
	EXPECT_FALSE(e.find(1)->met_by(drop));
	EXPECT_TRUE(e.find(4)->met_by(delivered(4, "anything")));
}

void expect_error(const std::string &text, int line, const std::string &needle)
{
	try {
		parse_expectations(text, "E.jsonl");
		ADD_FAILURE() << "no error for: " << text;
	} catch (const ExpectationError &e) {
		std::string message = e.what();
		EXPECT_EQ(e.line(), line) << message;
		EXPECT_EQ(message.rfind("E.jsonl:" + std::to_string(line) + ": ", 0), 0u) << message;
		EXPECT_NE(message.find(needle), std::string::npos) << "'" << needle << "' not in: " << message;
	}
}

TEST(ExpectationErrors, BadLinesNameFileAndLine)
{
	const std::string good = "{\"pkt\":1,\"verdict\":\"drop\"}\n";
	expect_error(good + "{\"pkt\":2,\"verdict\":\"deliver\",\"sock\":\"s1\"\n", 2, "not valid JSON");
	expect_error(good + "pkt 2 drop\n", 2, "not a JSON object");
	expect_error(good + "{\"pkt\":2,\"verdict\":\"dropped\"}\n", 2, "deliver, drop, transmit, ignore or held");
	expect_error(good + "{\"pkt\":2,\"verdict\":\"held\",\"sock\":\"s1\"}\n", 2, "\"deliver\" only");
	expect_error(good + "{\"pkt\":0,\"verdict\":\"drop\"}\n", 2, "frame number from 1");
	expect_error(good + "{\"pkt\":\"2\",\"verdict\":\"drop\"}\n", 2, "frame number from 1");
	expect_error(good + "{\"pkt\":2.5,\"verdict\":\"drop\"}\n", 2, "frame number from 1");
	expect_error(good + "{\"verdict\":\"drop\"}\n", 2, "missing key \"pkt\"");
	expect_error(good + "{\"pkt\":2}\n", 2, "missing key \"verdict\"");
	expect_error(good + "{\"pkt\":2,\"verdict\":\"drop\",\"why\":\"x\"}\n", 2, "unknown key \"why\"");
	expect_error(good + "{\"pkt\":2,\"verdict\":\"drop\",\"sock\":\"s1\"}\n", 2, "\"deliver\" only");
	expect_error(good + "{\"pkt\":2,\"verdict\":\"deliver\",\"sock\":[]}\n", 2, "empty list");
	expect_error(good + "{\"pkt\":2,\"verdict\":\"deliver\",\"sock\":{\"a\":1}}\n", 2, "non-empty string");
	expect_error(good + "\n{\"pkt\":1,\"verdict\":\"deliver\"}\n", 3, "already has an expectation at line 1");
}

TEST(ExpectationErrors, MissingFileIsNamed)
{
	test::TempDir dir;
	std::string path = dir.write("E.jsonl", std::string_view("{\"pkt\":1,\"verdict\":\"drop\"}\n"));
	EXPECT_EQ(load_expectations(path).all().size(), 1u);
	try {
		load_expectations(path + ".missing");
		ADD_FAILURE();
	} catch (const ExpectationError &e) {
		EXPECT_NE(std::string(e.what()).find("E.jsonl.missing"), std::string::npos);
	}
}

} // namespace
} // namespace econsim::sim
