#include "capture_reader.h"

#include <pcap/pcap.h>

#include <cstdio>

namespace econsim::sim {

namespace {

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
	// Nanosecond precision: libpcap scales microsecond files up, and nanosecond pcap and pcapng
	// files keep every digit.
	handle_.reset(pcap_open_offline_with_tstamp_precision(path_.c_str(), PCAP_TSTAMP_PRECISION_NANO, error));
	if (!handle_)
		throw CaptureError(path_, 0, -1, std::string("cannot read as pcap or pcapng: ") + error);
	link_type_ = pcap_datalink(handle_.get());
}

CaptureReader::~CaptureReader() = default;

long CaptureReader::current_offset() const
{
	FILE *file = pcap_file(handle_.get());
	return file ? std::ftell(file) : -1;
}

std::optional<CaptureFrame> CaptureReader::next()
{
	if (at_end_)
		return std::nullopt;
	// Where this record starts: the frame's header for pcap, the next block for pcapng.
	long record_offset = current_offset();
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
