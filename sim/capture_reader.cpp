#include "capture_reader.h"

#include <pcap/pcap.h>

#include <fcntl.h>
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
// What the direct reader asks of the file at a time (it grows for a record that is longer).
constexpr std::size_t kDirectBlockBytes = 64 * 1024;

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
	// A classic pcap file's records are read directly (open_records_directly); libpcap's stream
	// reads its header and whatever follows a record that is not plain, so a small buffer does.
	std::setvbuf(opened, nullptr, _IOFBF, has_classic_magic(fileno(opened)) ? BUFSIZ : kReadBufferBytes);
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
	if (records_summed_)
		open_records_directly();
}

CaptureReader::~CaptureReader()
{
	if (direct_)
		close(direct_->fd);
}

// Only what libpcap hands over unchanged but for the record header's byte order and the
// timestamp's scale: version 2.3 or later (older ones swap caplen and len), and a link type whose
// pseudo-header libpcap leaves alone (it rewrites some when the byte order differs).
void CaptureReader::open_records_directly()
{
	FILE *file = pcap_file(handle_.get());
	std::uint8_t header[kPcapFileHeaderLength];
	if (pread(fileno(file), header, sizeof header, 0) != static_cast<ssize_t>(sizeof header))
		return;
	std::uint32_t magic;
	std::uint16_t major, minor;
	std::memcpy(&magic, header, 4);
	std::memcpy(&major, header + 4, 2);
	std::memcpy(&minor, header + 6, 2);
	const bool swapped = magic == __builtin_bswap32(0xa1b2c3d4u) || magic == __builtin_bswap32(0xa1b23c4du);
	if (swapped) {
		major = __builtin_bswap16(major);
		minor = __builtin_bswap16(minor);
	}
	const bool plain_link = link_type_ == 1 /* Ethernet */ ||
				(!swapped && (link_type_ == 113 /* Linux SLL */ || link_type_ == 276 /* SLL2 */));
	if (major != 2 || minor < 3 || !plain_link || pcap_snapshot(handle_.get()) <= 0)
		return;
	// A descriptor of our own: pread on libpcap's would do, but a pipe or a device has no offsets.
	int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	DirectPcapRecords &d = direct_.emplace();
	d.fd = fd;
	d.swapped = swapped;
	d.microseconds = magic == 0xa1b2c3d4u || magic == __builtin_bswap32(0xa1b2c3d4u);
	d.snapshot = static_cast<std::uint32_t>(pcap_snapshot(handle_.get()));
	d.buffer.resize(kDirectBlockBytes);
	d.buffer_offset = next_offset_;
}

// Whether the buffer holds `bytes` from next_offset_ on, reading more of the file if it has them.
bool CaptureReader::buffer_holds(std::size_t bytes)
{
	DirectPcapRecords &d = *direct_;
	std::size_t start = static_cast<std::size_t>(next_offset_ - d.buffer_offset);
	if (d.buffer_bytes - start >= bytes)
		return true;
	std::memmove(d.buffer.data(), d.buffer.data() + start, d.buffer_bytes - start);
	d.buffer_bytes -= start;
	d.buffer_offset = next_offset_;
	if (d.buffer.size() < bytes)
		d.buffer.resize(bytes);
	while (d.buffer_bytes < bytes) {
		ssize_t got = pread(d.fd, d.buffer.data() + d.buffer_bytes, d.buffer.size() - d.buffer_bytes,
				    d.buffer_offset + static_cast<long>(d.buffer_bytes));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return false;
		d.buffer_bytes += static_cast<std::size_t>(got);
	}
	return true;
}

CaptureReader::Direct CaptureReader::next_direct(CaptureFrame &frame)
{
	DirectPcapRecords &d = *direct_;
	if (!buffer_holds(kPcapRecordHeaderLength)) {
		// No byte left: the end, as libpcap would say (0 bytes of a record header). Some bytes,
		// or a read error: libpcap's message.
		std::size_t start = static_cast<std::size_t>(next_offset_ - d.buffer_offset);
		std::uint8_t probe;
		if (d.buffer_bytes == start && pread(d.fd, &probe, 1, next_offset_) == 0)
			return Direct::end;
		return Direct::to_libpcap;
	}
	const std::uint8_t *record = d.buffer.data() + (next_offset_ - d.buffer_offset);
	std::uint32_t fields[4]; // seconds, fraction, captured length, wire length
	std::memcpy(fields, record, sizeof fields);
	if (d.swapped)
		for (std::uint32_t &field : fields)
			field = __builtin_bswap32(field);
	const std::uint32_t caplen = fields[2], len = fields[3];
	if (caplen >= d.snapshot || caplen > len)
		return Direct::to_libpcap;
	if (!buffer_holds(kPcapRecordHeaderLength + caplen))
		return Direct::to_libpcap;
	record = d.buffer.data() + (next_offset_ - d.buffer_offset);
	// As libpcap (1.10) has them: signed 32-bit numbers in the file's byte order, unsigned ones
	// when it swapped them (its byte swap yields an unsigned value); microseconds scaled up.
	const std::int64_t seconds = d.swapped ? std::int64_t{fields[0]} : static_cast<std::int32_t>(fields[0]);
	std::int64_t fraction = d.swapped ? std::int64_t{fields[1]} : static_cast<std::int32_t>(fields[1]);
	if (d.microseconds)
		fraction *= 1000;
	frames_read_++;
	next_offset_ += kPcapRecordHeaderLength + static_cast<long>(caplen);
	frame.number = frames_read_;
	frame.timestamp_ns = seconds * 1'000'000'000 + fraction;
	frame.timestamp = static_cast<double>(seconds) + static_cast<double>(fraction) * 1e-9;
	frame.captured_length = caplen;
	frame.wire_length = len;
	frame.link_type = link_type_;
	frame.bytes = std::span<const std::uint8_t>(record + kPcapRecordHeaderLength, caplen);
	return Direct::frame;
}

void CaptureReader::hand_over_to_libpcap()
{
	close(direct_->fd);
	direct_.reset();
	if (std::fseek(pcap_file(handle_.get()), next_offset_, SEEK_SET) != 0) {
		at_end_ = true;
		throw CaptureError(path_, frames_read_ + 1, next_offset_,
				   std::string("cannot seek: ") + std::strerror(errno));
	}
}

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
	if (direct_) {
		CaptureFrame frame;
		switch (next_direct(frame)) {
		case Direct::frame:
			return frame;
		case Direct::end:
			at_end_ = true;
			return std::nullopt;
		case Direct::to_libpcap:
			hand_over_to_libpcap();
			break;
		}
	}
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
