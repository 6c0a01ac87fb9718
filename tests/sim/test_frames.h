// Builders for the frames and capture files the sim/ tests feed to the parsers: small, explicit,
// correct by default (checksums and lengths filled in), so that each test breaks one thing.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "address.h"

namespace econsim::sim::test {

using Bytes = std::vector<std::uint8_t>;

inline constexpr MacAddress kHostMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
inline constexpr MacAddress kPeerMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
inline constexpr MacAddress kContainerMac{{0x02, 0x42, 0x0a, 0xe9, 0x01, 0x02}};
inline constexpr MacAddress kRemoteContainerMac{{0x02, 0x42, 0x0a, 0xe9, 0x02, 0x02}};

Endpoint endpoint(std::string_view text); // "10.0.0.1:5000", aborts the test binary on a typo

// A whole IPv4 packet (header + L4), checksums right, DF set, TTL 64.
Bytes udp_packet(Endpoint src, Endpoint dst, const Bytes &payload);
Bytes tcp_packet(Endpoint src, Endpoint dst, std::uint8_t flags, const Bytes &payload);
Bytes ipv4_packet(Ipv4Address src, Ipv4Address dst, std::uint8_t protocol, const Bytes &l4);

Bytes ethernet_frame(const Bytes &payload, std::uint16_t ethertype = 0x0800, MacAddress dst = kHostMac,
		     MacAddress src = kPeerMac);

// Outer Ethernet + IPv4 + UDP to dst (4789 by default) + VXLAN (I flag, vni) + inner frame.
Bytes vxlan_frame(std::uint32_t vni, const Bytes &inner_ethernet, Endpoint outer_src = endpoint("192.168.0.1:40000"),
		  Endpoint outer_dst = endpoint("192.168.0.2:4789"));

// A VXLAN frame as the host sends it (a container's frame its VXLAN device encapsulated): from the
// NIC's MAC (kHostMac) to the peer's (kPeerMac), DF clear, as a device made with defaults writes it.
Bytes sent_vxlan_frame(std::uint32_t vni, const Bytes &inner_ethernet, Endpoint outer_src, Endpoint outer_dst);

// The usual test frame: VXLAN 42 carrying UDP 10.233.2.2:4000 > 10.233.1.2:5000 with payload "hi".
Bytes simple_vxlan_udp_frame();

// Recompute the IPv4 header checksum of the header at offset (after a test edited the header).
void fix_ipv4_checksum(Bytes &frame, std::size_t offset);
void put_be16(Bytes &bytes, std::size_t offset, std::uint16_t value);

// A classic pcap file (microsecond timestamps) holding frames, the first at ts_sec, one ms apart.
Bytes pcap_file(const std::vector<Bytes> &frames, std::uint32_t link_type = 1, std::uint32_t ts_sec = 1764150000);

// A directory under the system's temporary directory, removed with everything in it at scope exit.
class TempDir {
public:
	TempDir();
	~TempDir();
	TempDir(const TempDir &) = delete;
	TempDir &operator=(const TempDir &) = delete;

	std::string write(const std::string &name, const Bytes &bytes) const;
	std::string write(const std::string &name, std::string_view text) const;
	const std::filesystem::path &path() const { return path_; }

private:
	std::filesystem::path path_;
};

} // namespace econsim::sim::test
