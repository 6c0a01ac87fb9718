#include "verdict_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "test_frames.h"

namespace econsim::sim {
namespace {

model::FiveTuple udp_flow(const char *src, const char *dst)
{
	return {model::Protocol::udp, {*parse_endpoint(src), *parse_endpoint(dst)}};
}

// The docs' first example: a slow-path delivery.
Verdict docs_slow_delivery()
{
	Verdict slow;
	slow.pkt = 1;
	slow.ts_ns = 1764150000'100000000;
	slow.dir = Direction::rx;
	slow.cpu = 1;
	slow.vni = 42;
	slow.flow = udp_flow("10.233.2.2:4000", "10.233.1.2:5000");
	slow.path = Path::slow;
	slow.verdict = VerdictKind::deliver;
	slow.sock = "s1";
	return slow;
}

TEST(VerdictWriter, WritesTheDocsExamplesByteForByte)
{
	Verdict slow = docs_slow_delivery();
	EXPECT_EQ(format_verdict(slow), R"({"pkt":1,"ts":1764150000.1,"dir":"rx","cpu":1,"vni":42,"flow":"udp 10.233.2.2:4000 > 10.233.1.2:5000","path":"slow","verdict":"deliver","sock":"s1"})");

	Verdict drop = slow;
	drop.pkt = 3;
	drop.ts_ns = 1764150000'300000000;
	drop.cpu = 0;
	drop.flow = udp_flow("10.233.2.2:4001", "10.233.1.2:5001");
	drop.verdict = VerdictKind::drop;
	drop.sock.reset();
	drop.reason = "no_socket";
	EXPECT_EQ(format_verdict(drop), R"({"pkt":3,"ts":1764150000.3,"dir":"rx","cpu":0,"vni":42,"flow":"udp 10.233.2.2:4001 > 10.233.1.2:5001","path":"slow","verdict":"drop","reason":"no_socket"})");

	Verdict other;
	other.pkt = 5;
	other.ts_ns = 1764150000'500000000;
	other.reason = "not_ipv4";
	EXPECT_EQ(format_verdict(other), R"({"pkt":5,"ts":1764150000.5,"dir":"other","verdict":"ignore","reason":"not_ipv4"})");
}

// The replay reuses one verdict per frame: reset() must leave nothing of the frame before, in any
// field the writer prints.
TEST(VerdictWriter, AResetVerdictIsWrittenAsAFreshOne)
{
	Verdict v = docs_slow_delivery(); // and the fields it leaves out
	v.reason = "tx_template_mismatch";
	v.latency_ns = 1200;
	ASSERT_NE(format_verdict(v), format_verdict(Verdict{}));
	v.reset();
	EXPECT_EQ(format_verdict(v), format_verdict(Verdict{}));
}

// A verdict's socket and reason are reset for every frame: a word longer than the string's inline
// capacity must not cost an allocation per frame (bench/replay's allocations_per_frame), so the
// reset keeps the buffer, and a reset word still reads as absent.
TEST(VerdictText, AResetKeepsTheBufferAndReadsAsAbsent)
{
	Verdict v;
	const std::string long_reason = "a_reason_longer_than_the_inline_buffer";
	const std::string long_sock = "a-socket-name-longer-than-fifteen";
	v.reason = long_reason;
	v.sock = long_sock;
	v.reset();
	EXPECT_FALSE(v.reason.has_value());
	EXPECT_EQ(v.reason, std::nullopt);
	EXPECT_FALSE(v.reason == "");
	EXPECT_EQ(v.reason, Verdict{}.reason);
	EXPECT_EQ(v.sock.value_or("none"), "none");
	// The buffers are still there (a pointer comparison would not do: malloc may hand a freed
	// block back at the same address).
	EXPECT_GE(v.reason->capacity(), long_reason.size()) << "the reset freed the reason's buffer";
	EXPECT_GE(v.sock->capacity(), long_sock.size()) << "the reset freed the socket's buffer";
	v.reason = "another_reason_as_long_as_the_first";
	EXPECT_EQ(v.reason, "another_reason_as_long_as_the_first");
	EXPECT_EQ(v.reason, std::optional<std::string>("another_reason_as_long_as_the_first"));
}

TEST(VerdictWriter, TimestampsRoundTripExactly)
{
	EXPECT_EQ(format_timestamp(1764150000'000000000), "1764150000.0");
	EXPECT_EQ(format_timestamp(1764150000'000001000), "1764150000.000001");
	EXPECT_EQ(format_timestamp(1764150000'123456789), "1764150000.123456789");
	EXPECT_EQ(format_timestamp(1764150000'999999000), "1764150000.999999");
	EXPECT_EQ(format_timestamp(0), "0.0");
	for (std::int64_t us = 1764150000'000000; us < 1764150000'000000 + 2000; us += 7) {
		std::string text = format_timestamp(us * 1000);
		double seconds = std::stod(text);
		EXPECT_EQ(std::llround(seconds * 1e6), us) << text; // a reader using doubles gets the microsecond back
	}
}

TEST(VerdictWriter, FlowsOfEitherProtocol)
{
	Verdict v;
	v.flow = udp_flow("10.0.0.1:1", "10.0.0.2:80");
	v.flow->protocol = model::Protocol::tcp;
	EXPECT_NE(format_verdict(v).find(R"("flow":"tcp 10.0.0.1:1 > 10.0.0.2:80")"), std::string::npos) << format_verdict(v);
}

TEST(VerdictWriter, EscapesStringsAndEndsEachLineWithNewline)
{
	std::ostringstream out;
	VerdictWriter writer(out);
	Verdict v;
	v.pkt = 7;
	v.verdict = VerdictKind::deliver;
	v.sock = "t1/10.233.2.2:40312";
	writer.write(v);
	v.sock = "odd\"name\\\n";
	writer.write(v);
	EXPECT_EQ(out.str(), "{\"pkt\":7,\"ts\":0.0,\"dir\":\"other\",\"verdict\":\"deliver\",\"sock\":\"t1/10.233.2.2:40312\"}\n"
			     "{\"pkt\":7,\"ts\":0.0,\"dir\":\"other\",\"verdict\":\"deliver\",\"sock\":\"odd\\\"name\\\\\\u000a\"}\n");
}

TEST(VerdictWriter, WritesAFileOfLines)
{
	test::TempDir dir;
	std::string path = (dir.path() / "V.jsonl").string();
	{
		VerdictWriter writer(path);
		Verdict v;
		v.pkt = 1;
		v.ts_ns = 1764150000'000001000;
		v.dir = Direction::rx;
		v.verdict = VerdictKind::deliver;
		v.sock = "s1";
		writer.write(v);
		writer.flush();
	}
	std::ifstream in(path);
	std::string line;
	std::getline(in, line);
	EXPECT_EQ(line, R"({"pkt":1,"ts":1764150000.000001,"dir":"rx","verdict":"deliver","sock":"s1"})");
	EXPECT_FALSE(std::getline(in, line));
}

TEST(VerdictWriter, UnwritablePathIsNamed)
{
	try {
		VerdictWriter writer("/nonexistent/dir/V.jsonl");
		ADD_FAILURE();
	} catch (const std::runtime_error &e) {
		EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/V.jsonl"), std::string::npos);
	}
}

} // namespace
} // namespace econsim::sim
