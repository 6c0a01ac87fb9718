// The fast path a replay runs with: `off` (none), `fixed` (the kernel-port map) or `econ` (the
// original patch as-is). The pipeline asks it at NIC RX and tells it about slow-path deliveries
// and transmissions; the host tells it about every scenario event that could change an answer.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "fpmap.h"
#include "model/types.h"
#include "scenario.h"

namespace econsim::sim {

class FlowMap;
class OverlayHost;
struct Packet;

class FastPath {
public:
	virtual ~FastPath() = default;

	// NIC RX, before GRO: true when the fast path decided the packet (verdict and path set).
	virtual bool rx(OverlayHost &host, Packet &pkt) = 0;
	// The slow path delivered pkt to pkt.socket.
	virtual void rx_delivered(OverlayHost &host, const Packet &pkt) = 0;
	// A container's packet left by the NIC (pkt.socket sent it): true when the fast path would
	// have built the outer headers itself (verdict and path set).
	virtual bool tx(OverlayHost &host, Packet &pkt) = 0;
	virtual void tx_sent(OverlayHost &host, const Packet &pkt) = 0;

	// Scenario events, after the model applied them.
	virtual void socket_closed(std::uint64_t cookie) = 0;
	virtual void socket_rebound(std::uint32_t netns, model::Protocol protocol, std::uint16_t port) = 0;
	virtual void device_changed(const fpmap_dev &dev, fpmap_event event) = 0;
	virtual void netns_exit(std::uint32_t netns) = 0;
	virtual void flush(std::int64_t now_ns) = 0;

	// Lines for the replay's summary: hits, entries, invalidations by kind.
	virtual void summarize(std::ostream &out) const = 0;

	// The kernel-port map behind `fixed` mode, for tests that look inside it; null otherwise.
	virtual const FlowMap *flow_map() const { return nullptr; }
};

std::unique_ptr<FastPath> make_fastpath(FastpathMode mode, const Scenario &scenario);

} // namespace econsim::sim
