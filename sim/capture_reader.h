// Streaming reader over a capture file (pcap or pcapng, opened by libpcap): one frame at a time, so
// that a replay's memory never grows with the capture.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

struct pcap; // libpcap's handle (pcap_t); kept out of this header so users need no pcap.h

namespace econsim::sim {

// A capture that cannot be opened or read further. The frames before the failing one have already
// been returned by next(); what() names the file, the frame and the byte offset of its record.
class CaptureError : public std::runtime_error {
public:
	CaptureError(std::string file, std::uint64_t frame, long offset, const std::string &detail);

	const std::string &file() const { return file_; }
	std::uint64_t frame() const { return frame_; } // 0: the file header
	long offset() const { return offset_; }        // -1 when unknown

private:
	std::string file_;
	std::uint64_t frame_;
	long offset_;
};

struct CaptureFrame {
	std::uint64_t number = 0;            // from 1, as Wireshark counts
	std::int64_t timestamp_ns = 0;       // since the epoch (CLOCK_REALTIME), exact
	double timestamp = 0;                // the same in seconds, for printing and rough comparisons
	std::uint32_t captured_length = 0;   // bytes.size()
	std::uint32_t wire_length = 0;       // the frame's length on the wire
	int link_type = 0;                   // pcap LINKTYPE_, see frame_parser.h for the ones decoded
	std::span<const std::uint8_t> bytes; // valid until the next call to next()
};

// A classic pcap file whose records need nothing of libpcap but their bytes is read by
// CaptureReader itself, in large blocks (pread, so libpcap's stream stays where it was): libpcap's two freads a record
// were most of the cost of reading. The first record that is anything but plain (cut at the
// snap length, truncated, unreadable, captured longer than sent) and everything after it go
// through libpcap from that record's offset, so what a frame or an error looks like is
// libpcap's own. (Not nested in CaptureReader: clang does not see a nested struct with member
// initializers as default-constructible inside its enclosing class, which std::optional needs.)
struct DirectPcapRecords {
	int fd = -1;
	bool swapped = false;      // the file's byte order is not ours
	bool microseconds = false; // magic 0xa1b2c3d4: fractions scaled up to nanoseconds
	std::uint32_t snapshot = 0;
	std::vector<std::uint8_t> buffer;
	long buffer_offset = 0;       // the file offset of buffer[0]
	std::size_t buffer_bytes = 0; // how much of buffer holds file bytes
};

class CaptureReader {
public:
	// Throws CaptureError when the file is missing or its header is not a capture's.
	explicit CaptureReader(std::string path);
	~CaptureReader();
	CaptureReader(const CaptureReader &) = delete;
	CaptureReader &operator=(const CaptureReader &) = delete;

	// The next frame, or nullopt at the end of the file. Throws CaptureError on a truncated or
	// corrupt record.
	std::optional<CaptureFrame> next();

	const std::string &path() const { return path_; }
	int link_type() const { return link_type_; }

private:
	struct PcapCloser {
		void operator()(::pcap *handle) const;
	};

	long record_offset() const;
	void open_records_directly();
	enum class Direct { frame, end, to_libpcap };
	Direct next_direct(CaptureFrame &frame);
	bool buffer_holds(std::size_t bytes);
	void hand_over_to_libpcap();

	std::string path_;
	std::unique_ptr<::pcap, PcapCloser> handle_;
	int link_type_ = 0;
	// Where the next record starts. pcap's records are a 16-byte header and the captured bytes, so
	// it is a sum (no lseek per frame); pcapng's blocks carry options, padding and blocks libpcap
	// skips without saying, so there the stream is asked (ftell) before each record.
	bool records_summed_ = false;
	long next_offset_ = -1;
	std::uint64_t frames_read_ = 0;
	bool at_end_ = false;

	std::optional<DirectPcapRecords> direct_;
};

} // namespace econsim::sim
