// Every public capture under ../shared/traces/public/ replayed by the built econ-sim with a small
// scenario of tests/sim/public-scenarios/ (a host whose NIC has the capture's VXLAN destination
// address): no mode crashes, every frame gets one verdict line, fixed mode agrees with vanilla,
// and the VNIs in the verdicts are those of the tcpdump and Zeek golden decodes.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "capture_reader.h"
#include "frame_parser.h"
#include "run_binary.h"

namespace econsim::sim::test {
namespace {

namespace fs = std::filesystem;

const fs::path kPublic = fs::path(ECONSIM_SHARED_DIR) / "traces" / "public";
const fs::path kScenarios = ECONSIM_PUBLIC_SCENARIOS;

#define SKIP_WITHOUT_PUBLIC_CAPTURES()                                                              \
	if (!fs::is_directory(kPublic))                                                             \
	GTEST_SKIP() << "no public captures at " << kPublic.string()                                \
		     << " (../shared is absent; configure with -DECONSIM_SHARED_DIR=... to run this)"

// Which scenario each capture is replayed with (its file comment says why).
const std::map<std::string, std::string> kScenarioOf{
	{"tcpdump/vxlan.pcap", "tcpdump-vxlan"},
	{"tcpdump/vxlan_port_8472.pcap", "tcpdump-vxlan-8472"},
	{"tcpdump/gso-ipv4-vxlan-ipv4.pcap", "tcpdump-gso"},
	{"tcpdump/gso-ipv4-vxlan-ipv6.pcap", "tcpdump-gso"},
	{"tcpdump/gso-ipv6-vxlan-ipv4.pcap", "tcpdump-gso"},
	{"tcpdump/gso-ipv6-vxlan-ipv6.pcap", "tcpdump-gso"},
	{"tcpdump/bigtcp-ipv4-vxlan-ipv4.pcap", "tcpdump-gso"},
	{"tcpdump/bigtcp-ipv4-vxlan-ipv6.pcap", "tcpdump-gso"},
	{"tcpdump/bigtcp-ipv6-vxlan-ipv4.pcap", "tcpdump-gso"},
	{"tcpdump/bigtcp-ipv6-vxlan-ipv6.pcap", "tcpdump-gso"},
	{"tcpdump/geneve.pcap", "tcpdump-geneve"},
	{"tcpdump/geneve-gcp.pcap", "tcpdump-geneve-gcp"},
	{"suricata-verify/tests/arp/detect-arp-04-vxlan/vxlan-arp.pcap", "tcpdump-vxlan"},
	{"suricata-verify/tests/vxlan-decoder-01/input.pcap", "suricata-decoder-01"},
	{"suricata-verify/tests/vxlan-decoder-03/vxlan.pcap", "suricata-decoder-03"},
	{"suricata-verify/tests/vxlan-non-zero-reserved-fields/input.pcap", "suricata-reserved"},
	{"zeek/vxlan.pcap", "zeek-vxlan"},
	{"zeek/vxlan-encapsulated-http.pcap", "zeek-http"},
	{"zeek/vxlan-encapsulated-igmp-v2.pcap", "zeek-igmp"},
	{"zeek/vxlan-inner-tcp-bad-checksum.pcap", "zeek-tcp-bad-checksum"},
	{"zeek/vxlan-triple-v2.pcap", "zeek-triple"},
	{"zeek/geneve-vxlan-dns-truncated.pcap", "zeek-loopback"},
	{"zeek/vxlan-overlapping-http-get.pcap", "zeek-loopback"},
	{"wz1st-test/flannel.pcap", "flannel"},
	{"ysaied-K8S-CKA/cn-ngfw.pcap", "cn-ngfw"},
};

// One line of V.jsonl, the fields these tests read.
struct VerdictLine {
	std::uint64_t pkt = 0;
	std::string verdict;
	std::optional<std::string> reason;
	std::optional<std::uint32_t> vni;
};

std::vector<VerdictLine> read_verdicts(const std::string &path)
{
	static const std::regex pkt(R"re(^\{"pkt":(\d+),)re"), vni(R"re("vni":(\d+))re"),
		verdict(R"re("verdict":"(\w+)")re"), reason(R"re("reason":"(\w+)")re");
	std::vector<VerdictLine> lines;
	std::istringstream text(read_text(path));
	for (std::string line; std::getline(text, line);) {
		std::smatch m;
		VerdictLine v;
		if (std::regex_search(line, m, pkt))
			v.pkt = std::stoull(m[1]);
		if (std::regex_search(line, m, verdict))
			v.verdict = m[1];
		if (std::regex_search(line, m, reason))
			v.reason = m[1];
		if (std::regex_search(line, m, vni))
			v.vni = static_cast<std::uint32_t>(std::stoul(m[1]));
		lines.push_back(v);
	}
	return lines;
}

std::uint64_t frames_in(const fs::path &capture)
{
	CaptureReader reader(capture.string());
	std::uint64_t n = 0;
	while (reader.next())
		n++;
	return n;
}

// Frame numbers of the frames whose outer header is not IPv4 (an IPv6 underlay): the simulator
// models IPv4 only, so their VXLAN header is never read.
std::set<std::uint64_t> not_ipv4_frames(const fs::path &capture)
{
	std::set<std::uint64_t> numbers;
	CaptureReader reader(capture.string());
	while (auto frame = reader.next())
		if (parse_frame(frame->bytes, frame->wire_length, frame->link_type, ParserConfig{}).has(ParseReason::not_ipv4))
			numbers.insert(frame->number);
	return numbers;
}

class PublicReplay : public ::testing::Test {
protected:
	// Replays the capture in `mode` (with --check but in off mode, which is vanilla and refuses it)
	// and returns its verdicts; checks the exit code and that every frame has exactly one line, in order.
	std::vector<VerdictLine> replay(const std::string &relative, const std::string &mode)
	{
		SCOPED_TRACE(relative + ", mode " + mode);
		auto scenario = kScenarioOf.find(relative);
		if (scenario == kScenarioOf.end()) {
			ADD_FAILURE() << "no scenario for " << relative << " in kScenarioOf";
			return {};
		}
		std::string verdicts = (dir_.path() / "V.jsonl").string();
		std::vector<std::string> args{"replay", "--scenario", (kScenarios / (scenario->second + ".yaml")).string(),
					      "--mode", mode, "--verdicts", verdicts, (kPublic / relative).string()};
		if (mode != "off")
			args.insert(args.begin() + 5, "--check");
		Exit r = econ_sim(args, dir_);
		// fixed must end every frame where vanilla does; econ may not (exit 1), and nothing may crash.
		if (mode == "econ")
			EXPECT_TRUE(r.code == 0 || r.code == 1) << "exit " << r.code << "\n" << r.err;
		else
			EXPECT_EQ(r.code, 0) << r.out << r.err;
		std::uint64_t frames = frames_in(kPublic / relative);
		EXPECT_NE(r.out.find("frames " + std::to_string(frames) + ":"), std::string::npos) << r.out;
		std::vector<VerdictLine> lines = read_verdicts(verdicts);
		EXPECT_EQ(lines.size(), frames) << "one verdict line per frame";
		for (std::size_t i = 0; i < lines.size(); i++)
			EXPECT_EQ(lines[i].pkt, i + 1) << "line " << i + 1;
		return lines;
	}

	TempDir dir_;
};

TEST_F(PublicReplay, EveryCaptureInEveryModeGivesOneVerdictPerFrame)
{
	SKIP_WITHOUT_PUBLIC_CAPTURES();
	int captures = 0;
	for (const auto &entry : fs::recursive_directory_iterator(kPublic)) {
		if (!entry.is_regular_file() || (entry.path().extension() != ".pcap" && entry.path().extension() != ".pcapng"))
			continue;
		std::string relative = fs::relative(entry.path(), kPublic).string();
		for (const char *mode : {"off", "fixed", "econ"})
			replay(relative, mode);
		captures++;
	}
	EXPECT_EQ(captures, static_cast<int>(kScenarioOf.size())) << "a capture in the table is missing";
}

// tcpdump -# output: a frame's first line starts with its number; a "VXLAN, flags [..] (0x..),
// vni N" on that line or the ones after it until the next frame is that frame's.
std::map<std::uint64_t, std::optional<std::uint32_t>> tcpdump_vnis(const fs::path &golden)
{
	static const std::regex frame(R"(^\s+(\d+)  )"), vxlan(R"(VXLAN, flags \[[^\]]*\] \(0x[0-9a-f]+\), vni (\d+))");
	std::map<std::uint64_t, std::optional<std::uint32_t>> vnis;
	std::istringstream text(read_text(golden.string()));
	std::uint64_t current = 0;
	for (std::string line; std::getline(text, line);) {
		std::smatch m;
		if (std::regex_search(line, m, frame))
			vnis[current = std::stoull(m[1])];
		if (current && std::regex_search(line, m, vxlan) && !vnis[current])
			vnis[current] = static_cast<std::uint32_t>(std::stoul(m[1]));
	}
	return vnis;
}

// TESTLIST.vxlan-geneve: the goldens made without a filter decode every frame of their capture.
TEST_F(PublicReplay, VnisInTheVerdictsAreThoseOfTheTcpdumpGoldens)
{
	SKIP_WITHOUT_PUBLIC_CAPTURES();
	std::istringstream testlist(read_text((kPublic / "tcpdump" / "TESTLIST.vxlan-geneve").string()));
	int compared = 0;
	for (std::string line; std::getline(testlist, line);) {
		std::istringstream fields(line);
		std::string name, capture, golden, flags;
		if (line.empty() || line[0] == '#' || !(fields >> name >> capture >> golden))
			continue;
		std::getline(fields, flags);
		if (flags.find("--") != std::string::npos)
			continue;
		SCOPED_TRACE(golden);
		auto expected = tcpdump_vnis(kPublic / "tcpdump" / golden);
		std::set<std::uint64_t> ipv6_underlay = not_ipv4_frames(kPublic / "tcpdump" / capture);
		std::vector<VerdictLine> verdicts = replay("tcpdump/" + capture, "off");
		ASSERT_EQ(verdicts.size(), expected.size());
		for (const VerdictLine &v : verdicts) {
			if (ipv6_underlay.contains(v.pkt))
				EXPECT_FALSE(v.vni) << "frame " << v.pkt << ": an IPv6 underlay is not decapsulated";
			else
				EXPECT_EQ(v.vni, expected[v.pkt]) << "frame " << v.pkt;
		}
		compared++;
	}
	EXPECT_EQ(compared, 12) << "vxlan, vxlan_port_8472, 4 gso, 4 bigtcp, geneve-vv, geneve-gcp";
}

// Zeek's vxlan_packet events (Baseline/<test>/out) end with the VNI; one event per VXLAN frame
// that carries IPv4.
std::vector<std::uint32_t> zeek_vnis(const std::string &test)
{
	static const std::regex event(R"(^vxlan_packet, .*, (\d+)$)");
	std::vector<std::uint32_t> vnis;
	std::istringstream text(read_text((kPublic / "zeek" / "Baseline" / test / "out").string()));
	for (std::string line; std::getline(text, line);) {
		std::smatch m;
		if (std::regex_search(line, m, event))
			vnis.push_back(static_cast<std::uint32_t>(std::stoul(m[1])));
	}
	return vnis;
}

TEST_F(PublicReplay, VnisInTheVerdictsAreThoseOfTheZeekBaselines)
{
	SKIP_WITHOUT_PUBLIC_CAPTURES();
	for (auto [capture, test] : {std::pair{"zeek/vxlan.pcap", "core.tunnels.vxlan"},
				     std::pair{"zeek/vxlan-inner-tcp-bad-checksum.pcap", "core.tunnels.vxlan-inner-tcp-bad-checksum"}}) {
		SCOPED_TRACE(capture);
		std::vector<std::uint32_t> expected = zeek_vnis(test);
		ASSERT_FALSE(expected.empty());
		std::vector<std::uint32_t> got;
		for (const VerdictLine &v : replay(capture, "off"))
			if (v.vni)
				got.push_back(*v.vni);
		EXPECT_EQ(std::set<std::uint32_t>(got.begin(), got.end()), std::set<std::uint32_t>(expected.begin(), expected.end()));
		EXPECT_GE(got.size(), expected.size()) << "every frame Zeek saw as VXLAN reached vxlan_rcv";
	}
}

// The README: the same inner 5-tuple in VNI 4711, in VNI 4242 and unencapsulated, 14 frames each.
TEST_F(PublicReplay, OverlappingInnerFlowsKeepTheirVnis)
{
	SKIP_WITHOUT_PUBLIC_CAPTURES();
	std::map<std::string, int> counts;
	for (const VerdictLine &v : replay("zeek/vxlan-overlapping-http-get.pcap", "fixed"))
		counts[v.vni ? std::to_string(*v.vni) : v.verdict + " " + v.reason.value_or("")]++;
	EXPECT_EQ(counts, (std::map<std::string, int>{{"4711", 14}, {"4242", 14}, {"ignore not_for_host", 14}}));
}

// UDP 6080 is not a VXLAN port on this host: nothing is decapsulated, no socket takes it.
TEST_F(PublicReplay, NonStandardPortIsPlainUdp)
{
	SKIP_WITHOUT_PUBLIC_CAPTURES();
	for (const VerdictLine &v : replay("ysaied-K8S-CKA/cn-ngfw.pcap", "off")) {
		EXPECT_FALSE(v.vni) << "frame " << v.pkt;
		if (v.verdict == "drop") {
			EXPECT_EQ(v.reason, "no_socket") << "frame " << v.pkt;
		}
	}
}

// flannel.pcap on its routed scenario, every frame accounted for (40: 19 received, 21 sent). The
// client's NodePort segments to 192.168.2.100:32150 (9) are DNAT'ed by kube-proxy to the pod
// 10.244.1.25:80 (the scenario's nat rule): only the NAT decides where they go. The pod's replies
// to the node's flannel.1 address (8) are conntrack's to turn back. The two segments from
// 10.244.2.5:443 to 10.244.0.0 answer a connection the node itself opened (no rule covers it): the
// host's stack. None is no_receiver or no_socket.
TEST_F(PublicReplay, FlannelEveryVerdictNamedTheNatsFramesUnderReasonsOfTheirOwn)
{
	SKIP_WITHOUT_PUBLIC_CAPTURES();
	const std::map<std::string, int> expected{{"transmit ", 21},
						  {"ignore nat_nodeport", 9},
						  {"ignore nat_reply", 8},
						  {"ignore host_stack", 2}};
	for (const char *mode : {"off", "fixed"}) {
		std::map<std::string, int> counts;
		for (const VerdictLine &v : replay("wz1st-test/flannel.pcap", mode))
			counts[v.verdict + " " + v.reason.value_or("")]++;
		EXPECT_EQ(counts, expected) << mode;
	}
}

} // namespace
} // namespace econsim::sim::test
