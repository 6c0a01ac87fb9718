// The factory of the three modes, and what both fast paths compare when they hit on transmit.
#include "fastpath.h"

#include <array>
#include <utility>

namespace econsim::sim {

std::unique_ptr<FastPath> make_off_fastpath();
std::unique_ptr<FastPath> make_fixed_fastpath(const Scenario &scenario);
std::unique_ptr<FastPath> make_econ_fastpath(const Scenario &scenario);

std::unique_ptr<FastPath> make_fastpath(FastpathMode mode, const Scenario &scenario)
{
	switch (mode) {
	case FastpathMode::fixed:
		return make_fixed_fastpath(scenario);
	case FastpathMode::econ:
		return make_econ_fastpath(scenario);
	case FastpathMode::off:
		break;
	}
	return make_off_fastpath();
}

namespace {

constexpr std::size_t kOuterHeaderLength = 50; // Ethernet 14, IPv4 20, UDP 8, VXLAN 8
// (offset, length) of the fields written per packet.
constexpr std::array<std::pair<std::size_t, std::size_t>, 5> kPerPacketOuterBytes{
	{{16, 2}, {18, 2}, {24, 2}, {38, 2}, {40, 2}}};

} // namespace

bool same_outer_header(std::span<const std::uint8_t> cached, std::span<const std::uint8_t> sent)
{
	if (cached.size() != kOuterHeaderLength || sent.size() != kOuterHeaderLength)
		return false;
	std::size_t at = 0;
	for (auto [offset, length] : kPerPacketOuterBytes) {
		if (!std::equal(cached.begin() + at, cached.begin() + offset, sent.begin() + at))
			return false;
		at = offset + length;
	}
	return std::equal(cached.begin() + at, cached.end(), sent.begin() + at);
}

} // namespace econsim::sim
