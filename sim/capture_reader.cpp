#include "capture_reader.h"

#include <pcap/pcap.h>

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace econsim::sim {

namespace {

// The classic pcap format: a 24-byte file header, then per record a 16-byte header and the bytes.
constexpr long kPcapFileHeaderLength = 24;
constexpr std::size_t kReadBufferBytes = 64 * 1024;
constexpr long kPcapRecordHeaderLength = 16;

// Microsecond or nanosecond pcap, either byte order; not pcapng, not the modified formats whose
// record headers are longer. pread leaves the stream's position where libpcap has it.
bool has_classic_magic(int fd)
{
	std::uint32_t magic = 0;
	if (fd < 0 || pread(fd, &magic, sizeof magic, 0) != static_cast<ssize_t>(sizeof magic))
		return false;
	for (std::uint32_t classic : {0xa1b2c3d4u, 0xa1b23c4du})
		if (magic == classic || magic == __builtin_bswap32(classic))
			return true;
	return false;
}

std::string describe(const std::string &file, std::uint64_t frame, long offset, const std::string &detail)
{
	std::string where = file;
	if (frame != 0)
		where += ": frame " + std::to_string(frame);
	if (offset >= 0)
		where += " at byte offset " + std::to_string(offset);
	return where + ": " + detail;
}

} // namespace

CaptureError::CaptureError(std::string file, std::uint64_t frame, long offset, const std::string &detail)
	: std::runtime_error(describe(file, frame, offset, detail)), file_(std::move(file)), frame_(frame),
	  offset_(offset)
{
}

void CaptureReader::PcapCloser::operator()(pcap_t *handle) const
{
	pcap_close(handle);
}

CaptureReader::CaptureReader(std::string path) : path_(std::move(path))
{
	char error[PCAP_ERRBUF_SIZE] = "";
	// The file is opened here so that its stdio buffer can be larger than the block size libpcap's
	// fopen would give (4 KiB): a read(2) per 4 KiB was a twentieth of a replay's CPU time.
	FILE *opened = std::fopen(path_.c_str(), "rb");
	if (!opened)
		throw CaptureError(path_, 0, -1, std::string("cannot read as pcap or pcapng: ") + std::strerror(errno));
	std::setvbuf(opened, nullptr, _IOFBF, kReadBufferBytes);
	// Nanosecond precision: libpcap scales microsecond files up, and nanosecond pcap and pcapng
	// files keep every digit. pcap_close closes the file; a failed open leaves it to us.
	handle_.reset(pcap_fopen_offline_with_tstamp_precision(opened, PCAP_TSTAMP_PRECISION_NANO, error));
	if (!handle_) {
		std::fclose(opened);
		throw CaptureError(path_, 0, -1, std::string("cannot read as pcap or pcapng: ") + error);
	}
	link_type_ = pcap_datalink(handle_.get());
	// libpcap has read the file header (pcap) or the first section's header blocks (pcapng).
	FILE *file = pcap_file(handle_.get());
	next_offset_ = file ? std::ftell(file) : -1;
	records_summed_ = file && next_offset_ == kPcapFileHeaderLength && has_classic_magic(fileno(file));
}

CaptureReader::~CaptureReader() = default;

long CaptureReader::record_offset() const
{
	if (records_summed_)
		return next_offset_;
	FILE *file = pcap_file(handle_.get());
	return file ? std::ftell(file) : -1;
}

std::optional<CaptureFrame> CaptureReader::next()
{
	if (at_end_)
		return std::nullopt;
	// Where this record starts: the frame's header for pcap, the next block for pcapng.
	long record_offset = this->record_offset();
	std::uint64_t number = frames_read_ + 1;
	pcap_pkthdr *header = nullptr;
	const u_char *data = nullptr;
	int status = pcap_next_ex(handle_.get(), &header, &data);
	if (status == PCAP_ERROR_BREAK) {
		at_end_ = true;
		return std::nullopt;
	}
	if (status != 1) {
		at_end_ = true;
		throw CaptureError(path_, number, record_offset, pcap_geterr(handle_.get()));
	}
	if (header->caplen > header->len) {
		at_end_ = true;
		throw CaptureError(path_, number, record_offset,
				   "corrupt record: captured length " + std::to_string(header->caplen) +
					   " is larger than the wire length " + std::to_string(header->len));
	}
	frames_read_ = number;
	if (records_summed_) {
		// libpcap cuts a record longer than the file's snap length to it and skips the rest, so
		// a frame of that length may have been longer in the file: ask the stream then.
		if (header->caplen < static_cast<bpf_u_int32>(pcap_snapshot(handle_.get())))
			next_offset_ += kPcapRecordHeaderLength + static_cast<long>(header->caplen);
		else
			next_offset_ = std::ftell(pcap_file(handle_.get()));
	}
	CaptureFrame frame;
	frame.number = number;
	frame.timestamp_ns = std::int64_t{header->ts.tv_sec} * 1'000'000'000 + header->ts.tv_usec;
	frame.timestamp = static_cast<double>(header->ts.tv_sec) + static_cast<double>(header->ts.tv_usec) * 1e-9;
	frame.captured_length = header->caplen;
	frame.wire_length = header->len;
	frame.link_type = link_type_;
	frame.bytes = std::span<const std::uint8_t>(data, header->caplen);
	return frame;
}

} // namespace econsim::sim
