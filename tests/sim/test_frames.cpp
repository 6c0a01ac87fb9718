#include "test_frames.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <unistd.h>

namespace econsim::sim::test {

namespace {

void append_be16(Bytes &bytes, std::uint16_t value)
{
	bytes.push_back(static_cast<std::uint8_t>(value >> 8));
	bytes.push_back(static_cast<std::uint8_t>(value));
}

void append_be32(Bytes &bytes, std::uint32_t value)
{
	append_be16(bytes, static_cast<std::uint16_t>(value >> 16));
	append_be16(bytes, static_cast<std::uint16_t>(value));
}

void append_le32(Bytes &bytes, std::uint32_t value)
{
	for (int shift = 0; shift < 32; shift += 8)
		bytes.push_back(static_cast<std::uint8_t>(value >> shift));
}

void append_le16(Bytes &bytes, std::uint16_t value)
{
	bytes.push_back(static_cast<std::uint8_t>(value));
	bytes.push_back(static_cast<std::uint8_t>(value >> 8));
}

std::uint16_t fold_checksum(std::uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return static_cast<std::uint16_t>(~sum);
}

std::uint64_t sum_words(const std::uint8_t *data, std::size_t length, std::uint64_t sum = 0)
{
	for (std::size_t i = 0; i + 1 < length; i += 2)
		sum += static_cast<std::uint64_t>(data[i] << 8 | data[i + 1]);
	if (length % 2)
		sum += static_cast<std::uint64_t>(data[length - 1] << 8);
	return sum;
}

// Fills the L4 checksum at checksum_at (relative to the L4 start) of a built IPv4 packet.
void fill_l4_checksum(Bytes &packet, std::size_t checksum_at)
{
	const std::size_t l4 = 20;
	std::uint64_t sum = sum_words(&packet[12], 8) + packet[9] + (packet.size() - l4);
	std::uint16_t checksum = fold_checksum(sum_words(&packet[l4], packet.size() - l4, sum));
	if (packet[9] == 17 && checksum == 0)
		checksum = 0xffff; // UDP sends a computed 0 as all ones
	put_be16(packet, l4 + checksum_at, checksum);
}

} // namespace

Endpoint endpoint(std::string_view text)
{
	auto parsed = parse_endpoint(text);
	if (!parsed) {
		std::fprintf(stderr, "test_frames: bad endpoint literal %.*s\n", static_cast<int>(text.size()), text.data());
		std::abort();
	}
	return *parsed;
}

void put_be16(Bytes &bytes, std::size_t offset, std::uint16_t value)
{
	bytes.at(offset) = static_cast<std::uint8_t>(value >> 8);
	bytes.at(offset + 1) = static_cast<std::uint8_t>(value);
}

void fix_ipv4_checksum(Bytes &frame, std::size_t offset)
{
	std::size_t header_length = static_cast<std::size_t>(frame.at(offset) & 0x0f) * 4;
	put_be16(frame, offset + 10, 0);
	put_be16(frame, offset + 10, fold_checksum(sum_words(&frame.at(offset), header_length)));
}

Bytes ipv4_packet(Ipv4Address src, Ipv4Address dst, std::uint8_t protocol, const Bytes &l4)
{
	Bytes packet;
	packet.push_back(0x45);
	packet.push_back(0);
	append_be16(packet, static_cast<std::uint16_t>(20 + l4.size()));
	append_be16(packet, 0x1234); // id
	append_be16(packet, 0x4000); // DF
	packet.push_back(64);
	packet.push_back(protocol);
	append_be16(packet, 0); // checksum, below
	append_be32(packet, src.value);
	append_be32(packet, dst.value);
	packet.insert(packet.end(), l4.begin(), l4.end());
	fix_ipv4_checksum(packet, 0);
	return packet;
}

Bytes udp_packet(Endpoint src, Endpoint dst, const Bytes &payload)
{
	Bytes udp;
	append_be16(udp, src.port);
	append_be16(udp, dst.port);
	append_be16(udp, static_cast<std::uint16_t>(8 + payload.size()));
	append_be16(udp, 0);
	udp.insert(udp.end(), payload.begin(), payload.end());
	Bytes packet = ipv4_packet(src.address, dst.address, 17, udp);
	fill_l4_checksum(packet, 6);
	return packet;
}

Bytes tcp_packet(Endpoint src, Endpoint dst, std::uint8_t flags, const Bytes &payload)
{
	Bytes tcp;
	append_be16(tcp, src.port);
	append_be16(tcp, dst.port);
	append_be32(tcp, 1000); // seq
	append_be32(tcp, 2000); // ack
	tcp.push_back(5 << 4);  // data offset
	tcp.push_back(flags);
	append_be16(tcp, 65535); // window
	append_be16(tcp, 0);     // checksum, below
	append_be16(tcp, 0);     // urgent pointer
	tcp.insert(tcp.end(), payload.begin(), payload.end());
	Bytes packet = ipv4_packet(src.address, dst.address, 6, tcp);
	fill_l4_checksum(packet, 16);
	return packet;
}

Bytes ethernet_frame(const Bytes &payload, std::uint16_t ethertype, MacAddress dst, MacAddress src)
{
	// Reserved first: growing a 6-byte vector by inserting 6 more makes GCC 12 at -O2 warn
	// (-Warray-bounds, a false positive in the inlined memcpy of the reallocation).
	Bytes frame;
	frame.reserve(14 + payload.size());
	frame.insert(frame.end(), dst.bytes.begin(), dst.bytes.end());
	frame.insert(frame.end(), src.bytes.begin(), src.bytes.end());
	append_be16(frame, ethertype);
	frame.insert(frame.end(), payload.begin(), payload.end());
	return frame;
}

Bytes vxlan_frame(std::uint32_t vni, const Bytes &inner_ethernet, Endpoint outer_src, Endpoint outer_dst)
{
	Bytes vxlan{0x08, 0, 0, 0};
	append_be32(vxlan, vni << 8);
	vxlan.insert(vxlan.end(), inner_ethernet.begin(), inner_ethernet.end());
	return ethernet_frame(udp_packet(outer_src, outer_dst, vxlan));
}

Bytes sent_vxlan_frame(std::uint32_t vni, const Bytes &inner_ethernet, Endpoint outer_src, Endpoint outer_dst)
{
	Bytes out = vxlan_frame(vni, inner_ethernet, outer_src, outer_dst);
	std::copy(kPeerMac.bytes.begin(), kPeerMac.bytes.end(), out.begin());
	std::copy(kHostMac.bytes.begin(), kHostMac.bytes.end(), out.begin() + 6);
	put_be16(out, 14 + 6, 0); // flags and fragment offset: DF clear
	fix_ipv4_checksum(out, 14);
	return out;
}

Bytes simple_vxlan_udp_frame()
{
	Bytes inner = udp_packet(endpoint("10.233.2.2:4000"), endpoint("10.233.1.2:5000"), Bytes{'h', 'i'});
	return vxlan_frame(42, ethernet_frame(inner, 0x0800, kContainerMac, kRemoteContainerMac));
}

Bytes pcap_file(const std::vector<Bytes> &frames, std::uint32_t link_type, std::uint32_t ts_sec)
{
	Bytes file;
	append_le32(file, 0xa1b2c3d4); // microsecond timestamps, little-endian
	append_le16(file, 2);
	append_le16(file, 4);
	append_le32(file, 0);      // thiszone
	append_le32(file, 0);      // sigfigs
	append_le32(file, 262144); // snaplen
	append_le32(file, link_type);
	std::uint32_t usec = 0;
	for (const Bytes &frame : frames) {
		append_le32(file, ts_sec);
		append_le32(file, usec);
		append_le32(file, static_cast<std::uint32_t>(frame.size()));
		append_le32(file, static_cast<std::uint32_t>(frame.size()));
		file.insert(file.end(), frame.begin(), frame.end());
		usec += 1000;
	}
	return file;
}

TempDir::TempDir()
{
	static std::atomic<unsigned> counter{0};
	path_ = std::filesystem::temp_directory_path() /
		("econsim-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
	std::filesystem::create_directories(path_);
}

TempDir::~TempDir()
{
	std::error_code ignored;
	std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::write(const std::string &name, const Bytes &bytes) const
{
	std::filesystem::path file = path_ / name;
	std::ofstream out(file, std::ios::binary);
	out.write(reinterpret_cast<const char *>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
	return file.string();
}

std::string TempDir::write(const std::string &name, std::string_view text) const
{
	return write(name, Bytes(text.begin(), text.end()));
}

} // namespace econsim::sim::test
