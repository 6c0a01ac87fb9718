// libFuzzer target: the whole replay of a small capture against a fixed scenario
// (replay-scenario.yaml), through the library API: the input becomes a pcap file in memory, the
// CaptureReader reads it back, and HostPipeline::process takes each frame, in the mode the first
// byte picks. Checked: one verdict per frame, each well formed; in `fixed` mode every frame ends
// where a vanilla (`off`) pipeline run beside it ends it; the per-stage counts add up; and the
// flow map's memory is all given back once the pipelines are gone.
//
// Input (tests/fuzz/make-corpus writes seeds in this form):
//   byte 0       mode: % 3 gives off, econ, fixed; bits 2-3 the capture's link type (0-1 Ethernet,
//                2 Linux SLL, 3 Linux SLL2)
//   then records, each:
//     flags      bit 0: set the IPv4 total and UDP lengths from the frame's size (outer, inner);
//                bit 1: fill in the IPv4, UDP and TCP checksums (inner, then outer), so that the
//                fuzzer's changes reach past the checksum checks; bits 4-7: wire length beyond
//                the captured bytes, in 64-byte steps (a snapped capture)
//     dt         time since the previous frame, in 4 ms steps (the first: since 1795687741.0)
//     length     2 bytes, little endian: the captured length, cut to what the input has left
//     bytes
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "capture_reader.h"
#include "flow_map.h"
#include "frame_parser.h"
#include "fuzz_check.h"
#include "host_pipeline.h"
#include "replay_scenario.h"
#include "scenario.h"

using namespace econsim::sim;

namespace {

constexpr std::int64_t kStartNs = 1'795'687'741'000'000'000;
constexpr std::int64_t kTickNs = 4'000'000;
constexpr std::size_t kRecordHeader = 4;

using Bytes = std::vector<std::uint8_t>;

struct Record {
	std::int64_t ts_ns = 0;
	std::uint32_t wire_length = 0;
	Bytes bytes;
};

std::uint16_t be16(const Bytes &b, std::size_t at)
{
	return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]);
}

void put_be16(Bytes &b, std::size_t at, std::uint16_t value)
{
	b[at] = static_cast<std::uint8_t>(value >> 8);
	b[at + 1] = static_cast<std::uint8_t>(value);
}

void put_le32(Bytes &b, std::uint32_t value)
{
	for (int i = 0; i < 4; ++i)
		b.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

// --- the fix-ups of a record's flags: test-side encoders, deliberately simple ---

bool is_vxlan_port(std::uint16_t port)
{
	return port == 4789 || port == 8472;
}

// Past up to two VLAN tags; the offset of the IPv4 header, or nullopt when it is not IPv4.
std::optional<std::size_t> ipv4_after(const Bytes &b, std::size_t type_at, std::size_t header_end)
{
	for (int tags = 0; tags <= 2; ++tags) {
		if (header_end > b.size())
			return std::nullopt;
		std::uint16_t type = be16(b, type_at);
		if (type == 0x0800)
			return header_end;
		if (type != 0x8100 && type != 0x88a8)
			return std::nullopt;
		type_at = header_end + 2;
		header_end += 4;
	}
	return std::nullopt;
}

// The IPv4 total length, and the UDP length under it, to what [ip, end) holds; then the same one
// level down for a VXLAN payload.
void fix_lengths(Bytes &b, std::size_t ip, std::size_t end, bool inner)
{
	if (ip + 20 > end)
		return;
	std::size_t header = static_cast<std::size_t>(b[ip] & 0x0f) * 4;
	std::size_t total = std::min<std::size_t>(end - ip, 0xffff);
	put_be16(b, ip + 2, static_cast<std::uint16_t>(total));
	if (b[ip + 9] != 17 || header < 20 || ip + header + 8 > ip + total)
		return;
	std::size_t udp = ip + header;
	put_be16(b, udp + 4, static_cast<std::uint16_t>(total - header));
	if (inner || !is_vxlan_port(be16(b, udp + 2)))
		return;
	std::size_t eth = udp + 8 + 8;
	if (auto inner_ip = ipv4_after(b, eth + 12, eth + 14))
		fix_lengths(b, *inner_ip, ip + total, true);
}

std::uint16_t checksum(const std::uint8_t *data, std::size_t length, std::uint64_t sum)
{
	for (std::size_t i = 0; i + 1 < length; i += 2)
		sum += static_cast<std::uint64_t>(data[i] << 8 | data[i + 1]);
	if (length % 2)
		sum += static_cast<std::uint64_t>(data[length - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return static_cast<std::uint16_t>(~sum);
}

void fix_ip_checksum(Bytes &b, const Ipv4Header &ip)
{
	put_be16(b, ip.offset + 10, 0);
	put_be16(b, ip.offset + 10, checksum(b.data() + ip.offset, ip.header_length, 0));
}

void fix_l4_checksum(Bytes &b, const Ipv4Header &ip, const TransportHeader &l4)
{
	if (!l4.has_ports() || ip.is_fragment())
		return;
	std::size_t length = l4.is_udp() ? l4.udp_length : ip.payload_length();
	if (l4.offset + length > b.size() || (l4.is_udp() && l4.checksum == 0))
		return; // not all captured, or "no checksum"
	std::size_t at = l4.offset + (l4.is_udp() ? 6 : 16);
	put_be16(b, at, 0);
	std::uint64_t pseudo = (ip.src.value >> 16) + (ip.src.value & 0xffff) + (ip.dst.value >> 16) +
			       (ip.dst.value & 0xffff) + ip.protocol + (length >> 16) + (length & 0xffff);
	std::uint16_t sum = checksum(b.data() + l4.offset, length, pseudo);
	put_be16(b, at, l4.is_udp() && sum == 0 ? 0xffff : sum);
}

void fix_checksums(Bytes &b, std::uint32_t wire, int link_type, const ParserConfig &config)
{
	ParsedFrame f = parse_frame(b, wire, link_type, config); // offsets only: checksums are notes
	if (f.inner_ip)
		fix_ip_checksum(b, *f.inner_ip);
	if (f.inner_l4)
		fix_l4_checksum(b, *f.inner_ip, *f.inner_l4);
	if (f.outer_ip)
		fix_ip_checksum(b, *f.outer_ip);
	if (f.outer_l4)
		fix_l4_checksum(b, *f.outer_ip, *f.outer_l4);
}

// --- the input as a capture ---

struct Capture {
	FastpathMode mode = FastpathMode::off;
	int link_type = kLinkTypeEthernet;
	std::vector<Record> records;
};

Capture decode(const std::uint8_t *data, std::size_t size, const ParserConfig &config)
{
	Capture capture;
	static const FastpathMode kModes[] = {FastpathMode::off, FastpathMode::econ, FastpathMode::fixed};
	static const int kLinkTypes[] = {kLinkTypeEthernet, kLinkTypeEthernet, kLinkTypeLinuxSll, kLinkTypeLinuxSll2};
	capture.mode = kModes[data[0] % 3];
	capture.link_type = kLinkTypes[data[0] >> 2 & 3];
	std::size_t header_length = capture.link_type == kLinkTypeLinuxSll2 ? 20 : capture.link_type == kLinkTypeLinuxSll ? 16 : 14;
	std::size_t type_at = capture.link_type == kLinkTypeLinuxSll2 ? 0 : capture.link_type == kLinkTypeLinuxSll ? 14 : 12;
	std::int64_t ts = kStartNs;
	for (std::size_t at = 1; at + kRecordHeader <= size;) {
		std::uint8_t flags = data[at];
		ts += kTickNs * data[at + 1];
		std::size_t length = data[at + 2] | std::size_t{data[at + 3]} << 8;
		at += kRecordHeader;
		length = std::min(length, size - at);
		Record r;
		r.ts_ns = ts;
		r.bytes.assign(data + at, data + at + length);
		r.wire_length = static_cast<std::uint32_t>(length + static_cast<std::size_t>(flags >> 4) * 64);
		at += length;
		if (flags & 1)
			if (auto ip = ipv4_after(r.bytes, type_at, header_length))
				fix_lengths(r.bytes, *ip, r.bytes.size(), false);
		if (flags & 2)
			fix_checksums(r.bytes, r.wire_length, capture.link_type, config);
		capture.records.push_back(std::move(r));
	}
	return capture;
}

// Nanosecond pcap (magic a1b23c4d), version 2.4.
Bytes pcap_file(const Capture &capture)
{
	Bytes file;
	put_le32(file, 0xa1b23c4d);
	put_le32(file, 2 | 4u << 16);
	put_le32(file, 0);
	put_le32(file, 0);
	put_le32(file, 262144);
	put_le32(file, static_cast<std::uint32_t>(capture.link_type));
	for (const Record &r : capture.records) {
		put_le32(file, static_cast<std::uint32_t>(r.ts_ns / 1'000'000'000));
		put_le32(file, static_cast<std::uint32_t>(r.ts_ns % 1'000'000'000));
		put_le32(file, static_cast<std::uint32_t>(r.bytes.size()));
		put_le32(file, r.wire_length);
		file.insert(file.end(), r.bytes.begin(), r.bytes.end());
	}
	return file;
}

// The capture as a file, without touching the disk: a memfd, reopened by libpcap by its /proc name.
class MemoryFile {
public:
	MemoryFile() : fd_(memfd_create("econsim-fuzz.pcap", MFD_CLOEXEC))
	{
		if (fd_ < 0)
			econsim::fuzz::broken("memfd_create");
		path_ = "/proc/self/fd/" + std::to_string(fd_);
	}
	const std::string &write(const Bytes &bytes)
	{
		if (ftruncate(fd_, 0) != 0 || pwrite(fd_, bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size()))
			econsim::fuzz::broken("write the capture");
		return path_;
	}

private:
	int fd_;
	std::string path_;
};

const Scenario &scenario()
{
	static const Scenario s = parse_scenario(econsim::fuzz::kReplayScenario, "replay-scenario.yaml");
	return s;
}

// --- the checks ---

void check_verdict(const Verdict &v, const CaptureFrame &frame, const Scenario &s)
{
	CHECK(v.pkt == frame.number);
	CHECK(v.ts_ns == frame.timestamp_ns);
	switch (v.verdict) {
	case VerdictKind::deliver:
		CHECK(v.sock && !v.sock->empty() && !v.reason);
		CHECK(v.path.has_value() && v.dir == Direction::rx);
		break;
	case VerdictKind::drop:
	case VerdictKind::ignore:
		CHECK(v.reason && !v.reason->empty() && !v.sock);
		break;
	case VerdictKind::transmit:
		CHECK(v.dir == Direction::tx && !v.sock);
		break;
	case VerdictKind::held: // an inner fragment kept for reassembly
		CHECK(v.dir == Direction::rx && !v.sock && !v.reason);
		break;
	}
	if (v.dir == Direction::rx && v.cpu)
		CHECK(*v.cpu < static_cast<unsigned>(s.host.cpus));
	if (v.dir == Direction::other)
		CHECK(v.verdict == VerdictKind::ignore);
}

// Where a frame ended, for the equivalence of `fixed` with `off`: the verdict, the socket of a
// delivery, the reason of a drop.
void check_same_end(const Verdict &fixed, const Verdict &off)
{
	std::string detail = "pkt " + std::to_string(fixed.pkt) + ": fixed " + std::string(to_string(fixed.verdict)) + " " +
			     fixed.sock.value_or("") + fixed.reason.value_or("") + ", off " + std::string(to_string(off.verdict)) +
			     " " + off.sock.value_or("") + off.reason.value_or("");
	CHECK(fixed.verdict == off.verdict, detail);
	if (fixed.verdict == VerdictKind::deliver)
		CHECK(fixed.sock == off.sock, detail);
	if (fixed.verdict == VerdictKind::drop)
		CHECK(fixed.reason == off.reason, detail);
}

// Every frame enters nic_rx, and ends at exactly one stage.
void check_counts(const HostPipeline &pipeline, std::uint64_t frames)
{
	CHECK(pipeline.stage_count(Stage::nic_rx).entered == frames);
	std::uint64_t ended = 0;
	for (const StageCount &count : pipeline.stage_counts())
		for (const auto &[why, n] : count.ended)
			ended += n;
	CHECK(ended == frames, std::to_string(ended) + " ends for " + std::to_string(frames) + " frames");
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
	scenario(); // a bad replay-scenario.yaml fails here, once, with its file:line
	return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	if (size < 1)
		return 0;
	static MemoryFile file;
	const Scenario &s = scenario();
	Capture capture = decode(data, size, parser_config(s));
	const std::string &path = file.write(pcap_file(capture));
	{
		HostPipeline pipeline(s, capture.mode);
		std::optional<HostPipeline> vanilla;
		if (capture.mode == FastpathMode::fixed)
			vanilla.emplace(s, FastpathMode::off);
		CaptureReader reader(path);
		CHECK(reader.link_type() == capture.link_type);
		std::uint64_t frames = 0;
		while (auto frame = reader.next()) {
			++frames;
			CHECK(frames <= capture.records.size());
			const Record &r = capture.records[frames - 1];
			CHECK(frame->number == frames && frame->timestamp_ns == r.ts_ns && frame->link_type == capture.link_type);
			CHECK(frame->bytes.size() == r.bytes.size() && frame->wire_length == r.wire_length);
			const Verdict &v = pipeline.process(*frame).verdict;
			check_verdict(v, *frame, s);
			if (vanilla) {
				const Verdict &slow = vanilla->process(*frame).verdict;
				check_verdict(slow, *frame, s);
				check_same_end(v, slow);
			}
		}
		CHECK(frames == capture.records.size());
		pipeline.finish();
		check_counts(pipeline, frames);
		if (vanilla) {
			vanilla->finish();
			check_counts(*vanilla, frames);
		}
	}
	CHECK(FlowMap::live_allocations() == 0, std::to_string(FlowMap::live_allocations()) + " allocations left");
	return 0;
}
