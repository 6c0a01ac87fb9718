#include "model/udp_table.h"

#include <utility>

namespace econsim::model {

void UdpTable::replace(std::string_view ns, std::uint16_t port, UdpPortChain chain)
{
	auto it = chains_.find(PortName{ns, port});
	if (chain.entries.empty()) {
		if (it != chains_.end())
			chains_.erase(it);
		return;
	}
	if (it != chains_.end())
		it->second = std::move(chain);
	else
		chains_.emplace(Port{std::string(ns), port}, std::move(chain));
}

} // namespace econsim::model
