// The command line (sim/main.cpp, sim/replay.cpp) as a user meets it: the built econ-sim binary
// run with arguments, its exit code (0 all agree, 1 a disagreement, 2 bad usage or input) and what
// it says. Every malformed input here must end with 2 and a message that names the problem.
#include <gtest/gtest.h>

#include <filesystem>

#include "pipeline_harness.h"
#include "run_binary.h"

namespace econsim::sim::test {
namespace {

namespace fs = std::filesystem;

const fs::path kTraces = ECONSIM_TRACES_DIR;

std::string recording(const std::string &name, const std::string &file)
{
	return (kTraces / name / file).string();
}

class Cli : public ::testing::Test {
protected:
	Exit run(const std::vector<std::string> &args) { return econ_sim(args, dir_); }

	// A scenario file (the harness's host, c1 with s1 on 0.0.0.0:5000) and a capture of two
	// datagrams for s1, at 1764150000 s.
	std::string scenario(ScenarioText text = {}) const
	{
		if (text.events.empty())
			text.events = {R"({t: 1764149999.0, op: socket, sock: s1, ns: c1, proto: udp})",
				       R"({t: 1764149999.0, op: bind, sock: s1, addr: "0.0.0.0:5000"})"};
		return dir_.write("S.yaml", text.yaml());
	}
	std::string capture() const
	{
		return dir_.write("trace.pcap", pcap_file({simple_vxlan_udp_frame(), simple_vxlan_udp_frame()}));
	}

	// Exit 2 and a message on stderr that contains every one of `says`.
	static void expect_bad_input(const Exit &r, std::initializer_list<std::string_view> says)
	{
		EXPECT_EQ(r.code, 2) << r.out << r.err;
		for (std::string_view s : says)
			EXPECT_NE(r.err.find(s), std::string::npos) << "stderr lacks '" << s << "':\n" << r.err;
	}

	TempDir dir_;
};

// ---- 0: everything agrees ----

TEST_F(Cli, AgreementExits0)
{
	Exit r = run({"replay", "--scenario", recording("udp-reopen", "scenario.yaml"), "--mode", "fixed", "--expect",
		     recording("udp-reopen", "expect.jsonl"), "--check", recording("udp-reopen", "trace.pcap")});
	EXPECT_EQ(r.code, 0) << r.err;
	EXPECT_NE(r.out.find("expectations: 100 checked, 100 met, 0 unmet"), std::string::npos) << r.out;
	EXPECT_NE(r.out.find("check against vanilla: 0 mismatches"), std::string::npos) << r.out;
	EXPECT_EQ(r.err, "");
}

TEST_F(Cli, HelpExits0)
{
	Exit r = run({"--help"});
	EXPECT_EQ(r.code, 0);
	EXPECT_NE(r.out.find("usage: econ-sim replay"), std::string::npos);
}

TEST_F(Cli, TraceOfOneFrameExits0AndPrintsItsVerdict)
{
	Exit r = run({"trace", "--scenario", scenario(), "--mode", "off", "--pkt", "2", capture()});
	EXPECT_EQ(r.code, 0) << r.err;
	EXPECT_NE(r.out.find("frame 2 at 1764150000.001,"), std::string::npos) << r.out;
	EXPECT_NE(r.out.find(R"("pkt":2,)"), std::string::npos) << r.out;
	EXPECT_NE(r.out.find(R"("verdict":"deliver","sock":"s1")"), std::string::npos) << r.out;
}

// ---- 1: a disagreement ----

TEST_F(Cli, UnmetExpectationExits1AndSaysWhich)
{
	// Frame 1 of udp-reopen went to s1; this file claims a drop.
	std::string expect = dir_.write("E.jsonl", std::string(R"({"pkt":1,"verdict":"drop"})" "\n"));
	Exit r = run({"replay", "--scenario", recording("udp-reopen", "scenario.yaml"), "--expect", expect,
		     recording("udp-reopen", "trace.pcap")});
	EXPECT_EQ(r.code, 1) << r.err;
	EXPECT_NE(r.out.find("expectations: 1 checked, 0 met, 1 unmet"), std::string::npos) << r.out;
	EXPECT_NE(r.out.find("pkt 1: expected drop, got deliver s1"), std::string::npos) << r.out;
}

TEST_F(Cli, CheckMismatchExits1_EconOnTwoVni)
{
	Exit r = run({"replay", "--scenario", recording("two-vni", "scenario.yaml"), "--mode", "econ", "--check",
		     recording("two-vni", "trace.pcap")});
	EXPECT_EQ(r.code, 1) << r.err;
	EXPECT_NE(r.out.find("check against vanilla: 99 mismatches"), std::string::npos) << r.out;
	EXPECT_NE(r.out.find("[B8: cross-tenant"), std::string::npos) << r.out;
}

TEST_F(Cli, TraceUnlikeItsGoldenExits1)
{
	std::string golden = dir_.write("frame.trace", std::string_view("not what econ-sim prints\n"));
	Exit r = run({"trace", "--scenario", scenario(), "--mode", "off", "--pkt", "1", "--golden", golden, capture()});
	EXPECT_EQ(r.code, 1);
	EXPECT_NE(r.err.find("differs from " + golden), std::string::npos) << r.err;
}

// ---- 2: usage ----

TEST_F(Cli, NoCommand) { expect_bad_input(run({}), {"a command is needed", "usage:"}); }
TEST_F(Cli, UnknownCommand) { expect_bad_input(run({"rerun"}), {"unknown command rerun"}); }

TEST_F(Cli, UnknownOption)
{
	expect_bad_input(run({"replay", "--scenario", scenario(), "--fast", capture()}), {"unknown or incomplete option --fast"});
}

TEST_F(Cli, MissingScenario)
{
	expect_bad_input(run({"replay", capture()}), {"replay needs --scenario and a capture"});
	expect_bad_input(run({"replay", "--scenario"}), {"--scenario needs a value"});
}

// In off mode --check would compare the vanilla pipeline with itself, which cannot fail.
TEST_F(Cli, CheckInOffModeIsRefused)
{
	expect_bad_input(run({"replay", "--scenario", recording("udp-reopen", "scenario.yaml"), "--mode", "off", "--check",
			      recording("udp-reopen", "trace.pcap")}),
			 {"--check compares a fast-path mode with vanilla", "(--mode off)"});
}

TEST_F(Cli, PktZero)
{
	expect_bad_input(run({"trace", "--scenario", scenario(), "--pkt", "0", capture()}),
			 {"--pkt needs a frame number from 1, not '0'"});
}

TEST_F(Cli, UnknownMode)
{
	expect_bad_input(run({"replay", "--scenario", scenario(), "--mode", "fast", capture()}),
			 {"--mode must be off, econ or fixed, not 'fast'"});
}

TEST_F(Cli, TwoCaptures)
{
	std::string pcap = capture();
	expect_bad_input(run({"replay", "--scenario", scenario(), pcap, pcap}), {"one capture only"});
}

TEST_F(Cli, UpdateWithoutGolden)
{
	expect_bad_input(run({"trace", "--scenario", scenario(), "--pkt", "1", "--update", capture()}),
			 {"--update needs --golden FILE"});
}

// ---- 2: the scenario ----

TEST_F(Cli, ScenarioFileMissing)
{
	std::string missing = (dir_.path() / "nothing.yaml").string();
	expect_bad_input(run({"replay", "--scenario", missing, capture()}), {missing});
}

TEST_F(Cli, UnknownScenarioKey)
{
	ScenarioText text;
	text.rss = "l4\n  colour: blue";
	expect_bad_input(run({"replay", "--scenario", scenario(text), capture()}), {"S.yaml:6:", "unknown key 'colour'"});
}

TEST_F(Cli, BadAddressInTheScenario)
{
	ScenarioText text;
	text.containers = {R"({name: c1, bridge: br42, veth: veth-c1, mac: "02:42:0a:e9:01:02", ip: 10.233.1.300/16})"};
	expect_bad_input(run({"replay", "--scenario", scenario(text), capture()}), {"S.yaml:12:", "10.233.1.300/16"});
}

TEST_F(Cli, EventForAnUnknownSocket)
{
	ScenarioText text;
	text.events = {R"({t: 1764149999.0, op: bind, sock: s9, addr: "0.0.0.0:5000"})"};
	expect_bad_input(run({"replay", "--scenario", scenario(text), capture()}),
			 {"S.yaml:14:", "socket 's9' is used before its socket event"});
}

TEST_F(Cli, BindTheKernelWouldRefuse_EADDRINUSE)
{
	ScenarioText text;
	text.events = {R"({t: 1764149999.0, op: socket, sock: s1, ns: c1, proto: udp})",
		       R"({t: 1764149999.0, op: bind, sock: s1, addr: "0.0.0.0:5000"})",
		       R"({t: 1764149999.0, op: socket, sock: s2, ns: c1, proto: udp})",
		       R"({t: 1764149999.0, op: bind, sock: s2, addr: "10.233.1.2:5000"})"};
	expect_bad_input(run({"replay", "--scenario", scenario(text), capture()}),
			 {"S.yaml:17:", "bind s2 to 10.233.1.2:5000 (EADDRINUSE)"});
}

TEST_F(Cli, BindOnTheVxlanPortIsRefused)
{
	ScenarioText text;
	text.events = {R"({t: 1764149999.0, op: socket, sock: h1, ns: host, proto: udp})",
		       R"({t: 1764149999.0, op: bind, sock: h1, addr: "0.0.0.0:4789"})"};
	expect_bad_input(run({"replay", "--scenario", scenario(text), capture()}), {"S.yaml:15:", "EADDRINUSE"});
}

// ---- 2: the capture ----

TEST_F(Cli, CaptureFileMissing)
{
	std::string missing = (dir_.path() / "nothing.pcap").string();
	expect_bad_input(run({"replay", "--scenario", scenario(), missing}), {missing, "No such file"});
}

TEST_F(Cli, NotACapture)
{
	std::string text = dir_.write("notes.pcap", std::string_view("these are notes, not packets\n"));
	expect_bad_input(run({"replay", "--scenario", scenario(), text}), {text, "cannot read as pcap or pcapng"});
}

TEST_F(Cli, TruncatedCaptureNamesFrameAndOffsetAndCountsTheFramesBefore)
{
	Bytes frame = simple_vxlan_udp_frame();
	Bytes file = pcap_file({frame, frame, frame});
	file.resize(file.size() - frame.size() / 2);
	std::string pcap = dir_.write("cut.pcap", file);
	const std::size_t third_record = 24 + 2 * (16 + frame.size());
	Exit r = run({"replay", "--scenario", scenario(), pcap});
	expect_bad_input(r, {pcap + ": frame 3 at byte offset " + std::to_string(third_record) + ":"});
	EXPECT_NE(r.out.find("frames 2: rx 2"), std::string::npos) << "the summary of the frames before it:\n" << r.out;
	EXPECT_NE(r.out.find("verdicts: deliver 2"), std::string::npos) << r.out;
}

TEST_F(Cli, TraceOfAFrameThatIsNotThere)
{
	std::string pcap = capture();
	expect_bad_input(run({"trace", "--scenario", scenario(), "--pkt", "3", pcap}), {pcap + " has no frame 3"});
}

// ---- 2: the expectations ----

TEST_F(Cli, MalformedExpectationLine)
{
	std::string expect = dir_.write("E.jsonl", std::string_view("{\"pkt\":1,\"verdict\":\"deliver\",\"sock\":\"s1\"}\n"
								    "{\"pkt\":2,\"verdict\":\"explode\"}\n"));
	expect_bad_input(run({"replay", "--scenario", scenario(), "--expect", expect, capture()}),
			 {"E.jsonl:2:", "explode"});
}

TEST_F(Cli, ExpectationNotJson)
{
	std::string expect = dir_.write("E.jsonl", std::string_view("pkt 1 deliver s1\n"));
	expect_bad_input(run({"replay", "--scenario", scenario(), "--expect", expect, capture()}), {"E.jsonl:1:"});
}

} // namespace
} // namespace econsim::sim::test
