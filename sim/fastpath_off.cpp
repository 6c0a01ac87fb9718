// `off` mode: the vanilla kernel, no fast path; and the factory of the three modes.
#include <ostream>

#include "fastpath.h"

namespace econsim::sim {

std::unique_ptr<FastPath> make_fixed_fastpath(const Scenario &scenario);
std::unique_ptr<FastPath> make_econ_fastpath(const Scenario &scenario);

namespace {

class NoFastPath : public FastPath {
public:
	bool rx(OverlayHost &, Packet &) override { return false; }
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
	return std::make_unique<NoFastPath>();
}

} // namespace econsim::sim
