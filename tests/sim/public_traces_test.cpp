// Every public capture under ../shared/traces/public/ is read and parsed without an error, and its
// frame count matches the README's table and, where one exists, tcpdump's golden decode. A few
// known oddities that the README describes are checked against the parser's reasons.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "capture_reader.h"
#include "frame_parser.h"

namespace econsim::sim {
namespace {

namespace fs = std::filesystem;

const fs::path kPublic = fs::path(ECONSIM_SHARED_DIR) / "traces" / "public";

#define SKIP_WITHOUT_SHARED()                                                                  \
	if (!fs::is_directory(kPublic))                                                            \
	GTEST_SKIP() << "no public captures at " << kPublic.string()                               \
		     << " (the ../shared directory is absent; configure ECONSIM_SHARED_DIR to run this)"

std::string read_text(const fs::path &path)
{
	std::ifstream in(path);
	std::stringstream text;
	text << in.rdbuf();
	return text.str();
}

std::vector<fs::path> public_captures()
{
	std::vector<fs::path> captures;
	for (const auto &entry : fs::recursive_directory_iterator(kPublic))
		if (entry.is_regular_file() && (entry.path().extension() == ".pcap" || entry.path().extension() == ".pcapng"))
			captures.push_back(entry.path());
	std::sort(captures.begin(), captures.end());
	return captures;
}

// The README's file tables: | `relative/path.pcap` | source | size | pkts | ...
std::map<std::string, std::uint64_t> readme_frame_counts()
{
	std::map<std::string, std::uint64_t> counts;
	std::regex row(R"(^\| `([^`]+\.pcap)` \|[^|]*\|\s*\d+\s*\|\s*(\d+)\s*\|)");
	std::istringstream lines(read_text(kPublic / "README.md"));
	for (std::string line; std::getline(lines, line);) {
		std::smatch match;
		if (std::regex_search(line, match, row))
			counts[match[1]] = std::stoull(match[2]);
	}
	return counts;
}

struct GoldenFrame {
	std::optional<std::uint32_t> vxlan_vni;
};

// tcpdump -# golden output: a frame starts with its number; a "VXLAN, flags [..] (0x..), vni N"
// on that line or a continuation line belongs to it.
std::map<std::uint64_t, GoldenFrame> read_golden(const fs::path &out)
{
	std::map<std::uint64_t, GoldenFrame> frames;
	std::regex frame_line(R"(^\s+(\d+)  )");
	std::regex vxlan(R"(VXLAN, flags \[[^\]]*\] \(0x[0-9a-f]+\), vni (\d+))");
	std::istringstream lines(read_text(out));
	std::uint64_t current = 0;
	for (std::string line; std::getline(lines, line);) {
		std::smatch match;
		if (std::regex_search(line, match, frame_line))
			frames[current = std::stoull(match[1])];
		if (current != 0 && std::regex_search(line, match, vxlan))
			frames[current].vxlan_vni = static_cast<std::uint32_t>(std::stoul(match[1]));
	}
	return frames;
}

// TESTLIST lines whose flags hold no filter expression ("--") decode every frame of the capture.
std::map<std::string, std::string> unfiltered_goldens()
{
	std::map<std::string, std::string> golden_of_capture;
	std::istringstream lines(read_text(kPublic / "tcpdump" / "TESTLIST.vxlan-geneve"));
	for (std::string line; std::getline(lines, line);) {
		std::istringstream fields(line);
		std::string name, capture, golden, flags;
		if (line.empty() || line[0] == '#' || !(fields >> name >> capture >> golden))
			continue;
		std::getline(fields, flags);
		if (flags.find("--") == std::string::npos)
			golden_of_capture[capture] = golden;
	}
	return golden_of_capture;
}

struct ParsedCapture {
	std::vector<ParsedFrame> frames;
	std::vector<std::vector<std::uint8_t>> storage; // the parsed frames' bytes
};

ParsedCapture parse_capture(const fs::path &path, const ParserConfig &config)
{
	ParsedCapture result;
	CaptureReader reader(path.string());
	while (auto frame = reader.next())
		result.storage.emplace_back(frame->bytes.begin(), frame->bytes.end());
	// Parse after reading so that the spans point into storage that no longer moves.
	CaptureReader again(path.string());
	for (const auto &bytes : result.storage) {
		auto frame = again.next();
		result.frames.push_back(parse_frame(bytes, frame->wire_length, frame->link_type, config));
	}
	return result;
}

ParserConfig public_config()
{
	ParserConfig config;
	config.vxlan_ports = {4789, 8472}; // IANA and the Linux/flannel default
	return config;
}

std::string reason_summary(const ParsedCapture &capture)
{
	std::map<std::string_view, int> counts;
	for (const ParsedFrame &frame : capture.frames)
		++counts[reason_name(frame.reason)];
	std::string summary;
	for (auto [name, count] : counts)
		summary += " " + std::string(name) + "=" + std::to_string(count);
	return summary;
}

TEST(PublicTraces, EveryCaptureReadsAndParsesWithTheDocumentedFrameCount)
{
	SKIP_WITHOUT_SHARED();
	auto readme = readme_frame_counts();
	auto goldens = unfiltered_goldens();
	std::vector<fs::path> captures = public_captures();
	ASSERT_FALSE(captures.empty());
	int golden_checked = 0;
	for (const fs::path &path : captures) {
		std::string relative = fs::relative(path, kPublic).string();
		SCOPED_TRACE(relative);
		ParsedCapture capture;
		try {
			capture = parse_capture(path, public_config());
		} catch (const CaptureError &e) {
			ADD_FAILURE() << e.what();
			continue;
		}
		std::cout << "  " << relative << ": " << capture.frames.size() << " frames," << reason_summary(capture) << "\n";
		ASSERT_TRUE(readme.count(relative)) << "not in the README's tables";
		EXPECT_EQ(capture.frames.size(), readme[relative]);

		auto golden_name = goldens.find(path.filename().string());
		if (path.parent_path().filename() != "tcpdump" || golden_name == goldens.end())
			continue;
		auto golden = read_golden(path.parent_path() / golden_name->second);
		ASSERT_FALSE(golden.empty());
		EXPECT_EQ(capture.frames.size(), golden.rbegin()->first) << "frames in " << golden_name->second;
		for (auto [number, expected] : golden) {
			if (!expected.vxlan_vni || number > capture.frames.size())
				continue;
			const ParsedFrame &frame = capture.frames[number - 1];
			if (frame.has(ParseReason::not_ipv4))
				continue; // an IPv6 underlay: the simulator models IPv4 only
			ASSERT_TRUE(frame.is_vxlan()) << "frame " << number;
			EXPECT_EQ(frame.vxlan->vni, *expected.vxlan_vni) << "frame " << number;
		}
		++golden_checked;
	}
	EXPECT_GE(golden_checked, 6) << "the tcpdump goldens were not found";
}

class PublicCapture : public ::testing::Test {
protected:
	ParsedCapture parse(const std::string &relative, ParserConfig config = public_config())
	{
		return parse_capture(kPublic / relative, config);
	}
};

TEST_F(PublicCapture, ReservedBitsAreFlaggedOnEveryFrame)
{
	SKIP_WITHOUT_SHARED();
	auto capture = parse("suricata-verify/tests/vxlan-non-zero-reserved-fields/input.pcap");
	for (const ParsedFrame &frame : capture.frames) {
		EXPECT_TRUE(frame.has(ParseReason::vxlan_reserved));
		EXPECT_EQ(frame.vxlan->vni, 11u);
	}
}

TEST_F(PublicCapture, TripleVxlanIsNested)
{
	SKIP_WITHOUT_SHARED();
	auto capture = parse("zeek/vxlan-triple-v2.pcap");
	ASSERT_EQ(capture.frames.size(), 1u);
	EXPECT_TRUE(capture.frames[0].has(ParseReason::nested_vxlan));
	EXPECT_EQ(capture.frames[0].vxlan->vni, 1u);
}

TEST_F(PublicCapture, GsoAndBigTcpSuperFramesParseThrough)
{
	SKIP_WITHOUT_SHARED();
	for (const char *name : {"tcpdump/gso-ipv4-vxlan-ipv4.pcap", "tcpdump/bigtcp-ipv4-vxlan-ipv4.pcap"}) {
		SCOPED_TRACE(name);
		auto capture = parse(name);
		ASSERT_EQ(capture.frames.size(), 1u);
		const ParsedFrame &frame = capture.frames[0];
		EXPECT_EQ(reason_name(frame.reason), "gso_oversize");
		EXPECT_TRUE(frame.has(ParseReason::inner_bad_tcp_checksum)); // CHECKSUM_PARTIAL, per the README
		ASSERT_TRUE(frame.inner_l4);
		EXPECT_EQ(frame.vxlan->vni, 5001u);
	}
	auto outer_ipv6 = parse("tcpdump/gso-ipv6-vxlan-ipv4.pcap");
	EXPECT_EQ(reason_name(outer_ipv6.frames.at(0).reason), "not_ipv4");
	auto inner_ipv6 = parse("tcpdump/gso-ipv4-vxlan-ipv6.pcap");
	EXPECT_TRUE(inner_ipv6.frames.at(0).has(ParseReason::inner_not_ipv4));
}

TEST_F(PublicCapture, ZeekChecksumOddities)
{
	SKIP_WITHOUT_SHARED();
	auto tcp = parse("zeek/vxlan-inner-tcp-bad-checksum.pcap");
	EXPECT_EQ(reason_name(tcp.frames.at(0).reason), "inner_bad_tcp_checksum");
	for (const ParsedFrame &frame : parse("zeek/vxlan-encapsulated-igmp-v2.pcap").frames)
		EXPECT_TRUE(frame.has(ParseReason::bad_udp_checksum));
}

TEST_F(PublicCapture, SnapLengthCutsOnlyThePayload)
{
	SKIP_WITHOUT_SHARED();
	// Geneve on 6081 is plain UDP to the simulator; the snap length cut the DNS payload only.
	for (const ParsedFrame &frame : parse("zeek/geneve-vxlan-dns-truncated.pcap").frames) {
		EXPECT_EQ(reason_name(frame.reason), "ok");
		EXPECT_FALSE(frame.captured_whole());
		EXPECT_FALSE(frame.outer_l4->checksum_ok.has_value());
	}
}

TEST_F(PublicCapture, NonStandardPortIsNotDecapsulated)
{
	SKIP_WITHOUT_SHARED();
	for (const ParsedFrame &frame : parse("ysaied-K8S-CKA/cn-ngfw.pcap").frames)
		EXPECT_FALSE(frame.is_vxlan());
}

} // namespace
} // namespace econsim::sim
