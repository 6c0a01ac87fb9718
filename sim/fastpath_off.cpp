// `off` mode: the vanilla kernel, no fast path.
#include <ostream>

#include "fastpath.h"

namespace econsim::sim {

namespace {

class NoFastPath : public FastPath {
public:
	FastRx rx(OverlayHost &, Packet &) override { return FastRx::miss; }
	void rx_delivered(OverlayHost &, const Packet &) override {}
	bool tx(OverlayHost &, Packet &) override { return false; }
	void tx_sent(OverlayHost &, const Packet &) override {}
	void socket_closed(std::uint64_t) override {}
	void socket_rebound(std::uint32_t, model::Protocol, std::uint16_t) override {}
	void device_changed(const fpmap_dev &, fpmap_event) override {}
	void netns_exit(std::uint32_t) override {}
	void flush(std::int64_t) override {}
	void summarize(std::ostream &out) const override { out << "fast path: off (vanilla kernel)\n"; }
};

} // namespace

std::unique_ptr<FastPath> make_off_fastpath()
{
	return std::make_unique<NoFastPath>();
}

} // namespace econsim::sim
