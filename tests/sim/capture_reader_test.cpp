#include "capture_reader.h"

#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <random>
#include <tuple>

#include "frame_parser.h"
#include "test_frames.h"

namespace econsim::sim {
namespace {

using test::Bytes;
using test::TempDir;

std::vector<Bytes> three_frames()
{
	return {test::simple_vxlan_udp_frame(), Bytes(60, 0xaa), test::simple_vxlan_udp_frame()};
}

// Reads until the end or an error; returns the frame numbers seen and the error, if any.
struct ReadResult {
	std::vector<std::uint64_t> numbers;
	std::optional<CaptureError> error;
};

ReadResult read_all(const std::string &path)
{
	ReadResult result;
	try {
		CaptureReader reader(path);
		while (auto frame = reader.next())
			result.numbers.push_back(frame->number);
	} catch (const CaptureError &e) {
		result.error = e;
	}
	return result;
}

TEST(CaptureReader, YieldsFramesInOrderWithTimestampsAndLengths)
{
	TempDir dir;
	std::vector<Bytes> frames = three_frames();
	CaptureReader reader(dir.write("ok.pcap", test::pcap_file(frames)));
	EXPECT_EQ(reader.link_type(), kLinkTypeEthernet);
	for (std::size_t i = 0; i < frames.size(); ++i) {
		auto frame = reader.next();
		ASSERT_TRUE(frame);
		EXPECT_EQ(frame->number, i + 1);
		EXPECT_EQ(frame->timestamp_ns, 1764150000'000000000 + static_cast<std::int64_t>(i) * 1'000'000);
		EXPECT_DOUBLE_EQ(frame->timestamp, 1764150000.0 + static_cast<double>(i) * 0.001);
		EXPECT_EQ(frame->captured_length, frames[i].size());
		EXPECT_EQ(frame->wire_length, frames[i].size());
		EXPECT_EQ(frame->link_type, kLinkTypeEthernet);
		EXPECT_EQ(Bytes(frame->bytes.begin(), frame->bytes.end()), frames[i]);
	}
	EXPECT_FALSE(reader.next());
	EXPECT_FALSE(reader.next()); // stays at the end
}

TEST(CaptureReader, KeepsNanosecondTimestamps)
{
	TempDir dir;
	Bytes file = test::pcap_file({Bytes(60, 0)});
	file[0] = 0x4d; // magic 0xa1b23c4d: nanosecond timestamps
	file[1] = 0x3c;
	file[24 + 4] = 0x39; // 0x00000139 = 313 ns
	file[24 + 5] = 0x01;
	CaptureReader reader(dir.write("ns.pcap", file));
	auto frame = reader.next();
	ASSERT_TRUE(frame);
	EXPECT_EQ(frame->timestamp_ns, 1764150000'000000313);
}

TEST(CaptureReader, ReadsPcapng)
{
	// Section header, one Ethernet interface (microsecond resolution), one enhanced packet block.
	auto le32 = [](Bytes &b, std::uint32_t v) {
		for (int s = 0; s < 32; s += 8)
			b.push_back(static_cast<std::uint8_t>(v >> s));
	};
	Bytes file;
	for (std::uint32_t v : {0x0a0d0d0au, 28u, 0x1a2b3c4du, 0x00000001u, 0xffffffffu, 0xffffffffu, 28u})
		le32(file, v);
	for (std::uint32_t v : {1u, 20u, 1u /* linktype, reserved */, 262144u, 20u})
		le32(file, v);
	Bytes frame = test::simple_vxlan_udp_frame();
	std::uint64_t usec = 1764150000'000001ull;
	std::uint32_t padded = static_cast<std::uint32_t>((frame.size() + 3) / 4 * 4);
	std::uint32_t block_length = 32 + padded;
	for (std::uint32_t v : {6u, block_length, 0u, static_cast<std::uint32_t>(usec >> 32), static_cast<std::uint32_t>(usec),
				static_cast<std::uint32_t>(frame.size()), static_cast<std::uint32_t>(frame.size())})
		le32(file, v);
	file.insert(file.end(), frame.begin(), frame.end());
	file.resize(file.size() + padded - frame.size(), 0);
	le32(file, block_length);

	TempDir dir;
	CaptureReader reader(dir.write("one.pcapng", file));
	auto read = reader.next();
	ASSERT_TRUE(read);
	EXPECT_EQ(read->number, 1u);
	EXPECT_EQ(read->timestamp_ns, 1764150000'000001000);
	EXPECT_EQ(read->captured_length, frame.size());
	EXPECT_FALSE(reader.next());
}

TEST(CaptureReader, EmptyCaptureHasNoFrames)
{
	TempDir dir;
	EXPECT_TRUE(read_all(dir.write("empty.pcap", test::pcap_file({}))).numbers.empty());
}

TEST(CaptureReader, MissingFileNamesIt)
{
	ReadResult result = read_all("/nonexistent/trace.pcap");
	ASSERT_TRUE(result.error);
	EXPECT_EQ(result.error->frame(), 0u);
	EXPECT_NE(std::string(result.error->what()).find("/nonexistent/trace.pcap"), std::string::npos);
}

TEST(CaptureReader, TruncatedFileHeaderIsAnErrorNamingTheFile)
{
	TempDir dir;
	Bytes file = test::pcap_file({});
	file.resize(10);
	std::string path = dir.write("short-header.pcap", file);
	ReadResult result = read_all(path);
	ASSERT_TRUE(result.error);
	EXPECT_TRUE(result.numbers.empty());
	EXPECT_EQ(result.error->file(), path);
	EXPECT_NE(std::string(result.error->what()).find(path), std::string::npos) << result.error->what();
}

TEST(CaptureReader, TruncatedRecordHeaderNamesFrameAndOffsetAfterEarlierFrames)
{
	TempDir dir;
	std::vector<Bytes> frames = three_frames();
	Bytes file = test::pcap_file(frames);
	std::size_t third_record = 24 + 16 + frames[0].size() + 16 + frames[1].size();
	file.resize(third_record + 7); // 7 of the record header's 16 bytes
	std::string path = dir.write("short-record-header.pcap", file);
	ReadResult result = read_all(path);
	EXPECT_EQ(result.numbers, (std::vector<std::uint64_t>{1, 2}));
	ASSERT_TRUE(result.error);
	EXPECT_EQ(result.error->frame(), 3u);
	EXPECT_EQ(result.error->offset(), static_cast<long>(third_record));
	std::string message = result.error->what();
	EXPECT_NE(message.find(path + ": frame 3 at byte offset " + std::to_string(third_record) + ": "), std::string::npos)
		<< message;
}

TEST(CaptureReader, TruncatedRecordDataNamesFrameAndOffset)
{
	TempDir dir;
	std::vector<Bytes> frames = three_frames();
	Bytes file = test::pcap_file(frames);
	file.resize(file.size() - 5);
	std::size_t third_record = 24 + 16 + frames[0].size() + 16 + frames[1].size();
	ReadResult result = read_all(dir.write("short-record.pcap", file));
	EXPECT_EQ(result.numbers, (std::vector<std::uint64_t>{1, 2}));
	ASSERT_TRUE(result.error);
	EXPECT_EQ(result.error->frame(), 3u);
	EXPECT_EQ(result.error->offset(), static_cast<long>(third_record));
	EXPECT_NE(std::string(result.error->what()).find("truncated"), std::string::npos) << result.error->what();
}

TEST(CaptureReader, CorruptRecordLengthNamesFrameAndOffset)
{
	TempDir dir;
	std::vector<Bytes> frames = three_frames();
	Bytes file = test::pcap_file(frames);
	std::size_t second_record = 24 + 16 + frames[0].size();
	for (std::size_t i = 8; i < 16; ++i) // caplen and len: 0x7fffffff
		file[second_record + i] = (i % 4 == 3) ? 0x7f : 0xff;
	std::string path = dir.write("bad-length.pcap", file);
	ReadResult result = read_all(path);
	EXPECT_EQ(result.numbers, (std::vector<std::uint64_t>{1}));
	ASSERT_TRUE(result.error);
	EXPECT_EQ(result.error->frame(), 2u);
	EXPECT_EQ(result.error->offset(), static_cast<long>(second_record));
	EXPECT_NE(std::string(result.error->what()).find(path + ": frame 2 at byte offset"), std::string::npos)
		<< result.error->what();
}

TEST(CaptureReader, CapturedLongerThanWireIsCorrupt)
{
	TempDir dir;
	Bytes file = test::pcap_file({Bytes(60, 0)});
	file[24 + 12] = 59; // len 59 < caplen 60
	ReadResult result = read_all(dir.write("caplen-over-len.pcap", file));
	EXPECT_TRUE(result.numbers.empty());
	ASSERT_TRUE(result.error);
	EXPECT_EQ(result.error->frame(), 1u);
	EXPECT_EQ(result.error->offset(), 24);
}

TEST(CaptureReader, LinuxCookedFramesAreDecodedAndOtherLinkTypesFlagged)
{
	// SLL: packet type 0 (to us), ARPHRD_ETHER, 6-byte address, padding, protocol IPv4.
	Bytes inner = test::udp_packet(test::endpoint("192.168.0.1:40000"), test::endpoint("192.168.0.2:5000"), Bytes{1});
	Bytes sll{0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00};
	sll.insert(sll.end(), inner.begin(), inner.end());
	TempDir dir;
	CaptureReader reader(dir.write("sll.pcap", test::pcap_file({sll}, kLinkTypeLinuxSll)));
	auto frame = reader.next();
	ASSERT_TRUE(frame);
	EXPECT_EQ(frame->link_type, kLinkTypeLinuxSll);
	ParsedFrame parsed = parse_frame(frame->bytes, frame->wire_length, frame->link_type, ParserConfig{});
	EXPECT_EQ(parsed.reason, ParseReason::ok) << reason_name(parsed.reason);
	ASSERT_TRUE(parsed.outer_l4);
	EXPECT_EQ(parsed.outer_l4->dst_port, 5000);
	EXPECT_EQ(parsed.link->sll_packet_type, 0);
	EXPECT_EQ(parsed.link->src, test::kPeerMac);

	CaptureReader raw(dir.write("raw.pcap", test::pcap_file({inner}, 101 /* LINKTYPE_RAW */)));
	auto raw_frame = raw.next();
	ASSERT_TRUE(raw_frame); // yielded, not skipped: the parser names it
	EXPECT_EQ(parse_frame(raw_frame->bytes, raw_frame->wire_length, raw_frame->link_type, ParserConfig{}).reason,
		  ParseReason::unsupported_link_type);
}

// The direct reader of classic pcap (CaptureReader::next_direct) against libpcap itself, record by
// record: every frame's timestamp, lengths and bytes, and how the file ends (cleanly, or with
// libpcap's own error), on files that take each of its ways: either byte order and timestamp
// scale, timestamps with the sign bit set, records cut at the snap length, longer than its block,
// across block boundaries, truncated at every byte, captured longer than sent, old versions.
struct RecordSpec {
	std::uint32_t seconds, fraction, caplen, len;
	std::uint8_t fill;
};

struct FileSpec {
	bool big_endian = false;
	bool nanoseconds = false;
	std::uint16_t minor = 4;
	std::uint32_t snaplen = 262144;
	std::uint32_t link_type = 1;
	std::vector<RecordSpec> records;
};

Bytes build(const FileSpec &spec)
{
	Bytes file;
	auto put32 = [&](std::uint32_t v) {
		for (int i = 0; i < 4; i++)
			file.push_back(static_cast<std::uint8_t>(spec.big_endian ? v >> (24 - 8 * i) : v >> (8 * i)));
	};
	auto put16 = [&](std::uint16_t v) {
		for (int i = 0; i < 2; i++)
			file.push_back(static_cast<std::uint8_t>(spec.big_endian ? v >> (8 - 8 * i) : v >> (8 * i)));
	};
	put32(spec.nanoseconds ? 0xa1b23c4d : 0xa1b2c3d4);
	put16(2);
	put16(spec.minor);
	put32(0);
	put32(0);
	put32(spec.snaplen);
	put32(spec.link_type);
	for (const RecordSpec &r : spec.records) {
		put32(r.seconds);
		put32(r.fraction);
		put32(r.caplen);
		put32(r.len);
		for (std::uint32_t i = 0; i < r.caplen; i++)
			file.push_back(static_cast<std::uint8_t>(r.fill + i));
	}
	return file;
}

struct Seen {
	std::vector<std::tuple<std::int64_t, double, std::uint32_t, std::uint32_t, Bytes>> frames;
	std::string error; // empty: the file ended cleanly
};

Seen read_with_libpcap(const std::string &path)
{
	Seen seen;
	char error[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, error);
	if (!p) {
		seen.error = error;
		return seen;
	}
	pcap_pkthdr *header;
	const u_char *data;
	int status;
	while ((status = pcap_next_ex(p, &header, &data)) == 1) {
		if (header->caplen > header->len) {
			seen.error = "corrupt record";
			break;
		}
		seen.frames.emplace_back(std::int64_t{header->ts.tv_sec} * 1'000'000'000 + header->ts.tv_usec,
					 static_cast<double>(header->ts.tv_sec) +
						 static_cast<double>(header->ts.tv_usec) * 1e-9,
					 header->caplen, header->len, Bytes(data, data + header->caplen));
	}
	if (status != 1 && status != PCAP_ERROR_BREAK)
		seen.error = pcap_geterr(p);
	pcap_close(p);
	return seen;
}

Seen read_with_reader(const std::string &path)
{
	Seen seen;
	try {
		CaptureReader reader(path);
		while (auto f = reader.next()) {
			EXPECT_EQ(f->number, seen.frames.size() + 1);
			seen.frames.emplace_back(f->timestamp_ns, f->timestamp, f->captured_length, f->wire_length,
						 Bytes(f->bytes.begin(), f->bytes.end()));
		}
	} catch (const CaptureError &e) {
		seen.error = e.what();
	}
	return seen;
}

void expect_as_libpcap(const TempDir &dir, const std::string &name, const Bytes &file)
{
	SCOPED_TRACE(name);
	const std::string path = dir.write(name, file);
	Seen expected = read_with_libpcap(path), got = read_with_reader(path);
	ASSERT_EQ(got.frames.size(), expected.frames.size());
	for (std::size_t i = 0; i < got.frames.size(); i++)
		EXPECT_EQ(got.frames[i], expected.frames[i]) << "frame " << i + 1;
	if (expected.error.empty())
		EXPECT_EQ(got.error, "");
	else
		EXPECT_NE(got.error.find(expected.error), std::string::npos) << got.error << " / " << expected.error;
}

TEST(CaptureReader, ReadsClassicPcapAsLibpcapDoes)
{
	TempDir dir;
	const std::vector<RecordSpec> odd_times{{1764150000, 0, 60, 60, 1},
						{0x80000001u, 999999, 61, 1500, 2},
						{0xffffffffu, 0xffffff00u, 62, 62, 3},
						{7, 0x7fffffffu, 0, 0, 4}};
	for (bool big_endian : {false, true})
		for (bool nanoseconds : {false, true})
			for (std::uint32_t link_type : {1u, 113u, 276u, 101u}) {
				FileSpec spec{big_endian, nanoseconds, 4, 262144, link_type, odd_times};
				expect_as_libpcap(dir,
						  "t" + std::to_string(big_endian) + std::to_string(nanoseconds) + "-" +
							  std::to_string(link_type) + ".pcap",
						  build(spec));
			}

	// Cut at the snap length (equal to it, longer), then plain records again.
	FileSpec cut;
	cut.snaplen = 100;
	cut.records = {{1, 0, 60, 60, 1}, {1, 1, 100, 100, 2}, {1, 2, 150, 150, 3}, {1, 3, 60, 60, 4}};
	expect_as_libpcap(dir, "cut.pcap", build(cut));
	cut.records.erase(cut.records.begin() + 1, cut.records.begin() + 3);
	cut.records.insert(cut.records.begin() + 1, {1, 9, 99, 99, 5});
	expect_as_libpcap(dir, "under-snaplen.pcap", build(cut));

	// A record longer than a block of the direct reader, and many records across blocks.
	FileSpec many;
	std::mt19937 random(15);
	for (int i = 0; i < 3000; i++) {
		std::uint32_t caplen = i == 1000 ? 200000 : static_cast<std::uint32_t>(random() % 1600);
		many.records.push_back({static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(i * 7), caplen,
					caplen + (i % 3 ? 0 : 20), static_cast<std::uint8_t>(i)});
	}
	expect_as_libpcap(dir, "many.pcap", build(many));

	// Captured longer than sent in the middle; old versions (2.2 swaps caplen and len, 2.3 may).
	FileSpec corrupt;
	corrupt.records = {{1, 0, 60, 60, 1}, {1, 1, 70, 65, 2}, {1, 2, 60, 60, 3}};
	expect_as_libpcap(dir, "caplen-over-len.pcap", build(corrupt));
	for (std::uint16_t minor : {2, 3}) {
		FileSpec old;
		old.minor = minor;
		old.records = {{1, 0, 60, 80, 1}, {1, 1, 90, 70, 2}};
		expect_as_libpcap(dir, "v2." + std::to_string(minor) + ".pcap", build(old));
	}

	// Truncated at every byte of the last two records.
	FileSpec whole;
	whole.records = {{1, 0, 60, 60, 1}, {1, 1, 40, 60, 2}, {1, 2, 30, 30, 3}};
	Bytes file = build(whole);
	for (std::size_t size = file.size() - (16 + 40 + 16 + 30); size <= file.size(); size++)
		expect_as_libpcap(dir, "truncated-" + std::to_string(size) + ".pcap",
				  Bytes(file.begin(), file.begin() + size));
}

} // namespace
} // namespace econsim::sim
