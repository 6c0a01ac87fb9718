// IPv4 reassembly as Linux 6.1 does it for local delivery: net/ipv4/ip_fragment.c (ip_defrag,
// ip_frag_queue, ip_frag_too_far, ip_frag_reinit, ip_frag_reasm, ip_expire) on the queues of
// net/ipv4/inet_fragment.c (inet_frag_find, inet_frag_queue_insert). One queue per datagram, in the
// namespace that reassembles it; each arriving fragment is held, completes the datagram, or is
// dropped, and may take its queue with it.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "model/types.h"

namespace econsim::model {

// frag_v4_compare_key (saddr, daddr, user, vif, id, protocol), in the namespace whose fqdir holds
// the queue. `user` is always IP_DEFRAG_LOCAL_DELIVER here (ip_local_deliver); `vif` is
// l3mdev_master_ifindex_rcu of the receiving device: 0 without a VRF, which no scenario makes.
struct FragmentKey {
	std::string ns;
	Ipv4Address source;
	Ipv4Address destination;
	std::uint16_t id = 0;
	std::uint8_t protocol = 0;
	int vif = 0;
	auto operator<=>(const FragmentKey &) const = default;
};

// The transport header at the start of the datagram, as its first fragment (offset 0) brought it:
// the reassembled datagram begins with that fragment's bytes, so this is what udp_rcv or
// tcp_v4_rcv reads of the whole.
struct TransportStart {
	std::uint16_t source_port = 0;
	std::uint16_t destination_port = 0;
	std::uint32_t udp_length = 0; // UDP's length field
	std::uint8_t tcp_flags = 0;
};

// What ip_frag_queue reads of one fragment: where its payload goes in the datagram (the header's
// offset × 8), how many payload bytes it brings (total length − IHL), its header length (the
// completing fragment's becomes the datagram's), MF, and the ECN bits of its TOS. `now_ns` is the
// capture's clock, which the queues' timeouts are measured in.
struct Fragment {
	FragmentKey key;
	std::uint32_t offset = 0;
	std::uint32_t length = 0;
	std::uint32_t header_length = 20;
	bool more_fragments = false;
	std::uint8_t tos = 0;
	std::int64_t now_ns = 0;
	TransportStart transport{}; // read only from the fragment at offset 0
	// The fragment's IPv4 header and payload as received, for a caller that hands the whole
	// datagram on as bytes (the host's reassembly of an outer VXLAN datagram: UDP and VXLAN read
	// what the first fragment brought). Empty: only the decisions are kept, no bytes.
	std::span<const std::uint8_t> bytes{};
};

enum class DefragResult : std::uint8_t {
	held,      // queued; the datagram is not whole yet (-EINPROGRESS)
	complete,  // this fragment completed the datagram (ip_frag_reasm): it carries the whole one on
	duplicate, // lies inside what one run of the queue already holds (IPFRAG_DUP): this fragment
		   // is dropped, the queue kept
	overlap,   // overlaps what the queue holds otherwise (IPFRAG_OVERLAP, RFC 5722): the fragment
		   // and its whole queue are dropped (IPSTATS_MIB_REASM_OVERLAPS)
	invalid,   // a length the queue contradicts (past a known end, a second different end), an
		   // empty fragment, or a whole datagram over 65535 bytes or with CE/not-ECT mixed:
		   // the fragment and its queue are dropped (IPSTATS_MIB_REASMFAILS)
};
const char *to_string(DefragResult result);

struct DefragAnswer {
	DefragResult result = DefragResult::held;
	std::uint32_t datagram_length = 0; // complete: the reassembled payload's bytes (qp->q.len)
	std::uint32_t fragments = 0;       // complete: how many fragments it was built from
	TransportStart transport{};        // complete: the first fragment's
	// complete, when the fragments brought their bytes: the reassembled IPv4 packet as
	// ip_frag_reasm leaves it, the first fragment's header (total length set, fragment field
	// cleared, checksum recomputed by ip_send_check) and the payload in offset order.
	std::vector<std::uint8_t> datagram;
	// The queue this fragment found or made had been reset (ip_frag_too_far → ip_frag_reinit):
	// more than max_dist fragments from the same source arrived since its previous one, and what
	// it held was dropped.
	bool queue_reset = false;
};

// Counts since the start, for the replay's summary.
struct DefragStats {
	std::uint64_t held = 0;
	std::uint64_t reassembled = 0;
	std::uint64_t duplicates = 0;
	std::uint64_t overlaps = 0;
	std::uint64_t invalid = 0;
	std::uint64_t timed_out = 0;           // queues ip_expire removed
	std::uint64_t timed_out_fragments = 0; // the held fragments lost with them
	std::uint64_t resets = 0;              // ip_frag_reinit after ip_frag_too_far
	std::uint64_t reset_fragments = 0;     // the held fragments lost to them
};

class IpDefrag {
public:
	// net.ipv4.ipfrag_time (30 s) and net.ipv4.ipfrag_max_dist (64), their defaults.
	static constexpr std::int64_t default_timeout_ns = 30'000'000'000;
	static constexpr std::uint32_t default_max_dist = 64;

	explicit IpDefrag(std::int64_t timeout_ns = default_timeout_ns, std::uint32_t max_dist = default_max_dist)
		: timeout_ns_(timeout_ns), max_dist_(max_dist)
	{}

	// ip_defrag(net, skb, IP_DEFRAG_LOCAL_DELIVER): first the queues whose timer ran out by the
	// fragment's time go (ip_expire), then its queue is found or made (inet_frag_find) and the
	// fragment queued (ip_frag_queue).
	DefragAnswer add(const Fragment &fragment);
	// ip_expire for every queue whose ipfrag_time has passed at `now_ns`.
	void expire(std::int64_t now_ns);
	// fqdir_exit: a namespace that goes takes its queues with it (not counted as timeouts).
	void forget_namespace(std::string_view ns);

	std::size_t queues() const { return queues_.size(); }
	const DefragStats &stats() const { return stats_; }

private:
	// A run of fragments that arrived in order, each starting where the previous ended
	// (inet_fragment.c: fragrun_create, fragrun_append_to_last); [offset, end) in bytes.
	struct Run {
		std::uint32_t offset;
		std::uint32_t end;
	};
	struct Queue {
		// By offset, disjoint (the rb-tree of run heads). The last one ends where
		// fragments_tail does: only a fragment that reaches past it goes to the tail.
		std::vector<Run> runs;
		std::uint32_t length = 0;    // q.len: the datagram's length as far as known
		std::uint32_t meat = 0;      // q.meat: the payload bytes held
		bool first_in = false;       // INET_FRAG_FIRST_IN: the offset-0 fragment is here
		bool last_in = false;        // INET_FRAG_LAST_IN: the MF=0 fragment is here
		std::uint8_t ecn = 0;        // qp->ecn: IPFRAG_ECN_* bits seen
		TransportStart transport{};  // from the offset-0 fragment, once in
		std::uint32_t fragments = 0; // held
		std::uint32_t rid = 0;       // qp->rid: the peer's fragment count at its last fragment
		std::int64_t expires_ns = 0; // the timer: made (or reset) + ipfrag_time
		// Only when the fragments bring bytes: the offset-0 fragment's IPv4 header, and the
		// payload at its offsets (holes stay zero until a fragment fills them).
		std::vector<std::uint8_t> head_header;
		std::vector<std::uint8_t> payload;
	};
	enum class Insert { ok, duplicate, overlap };

	DefragAnswer queue_fragment(Queue &queue, const Fragment &fragment);
	static Insert insert(Queue &queue, std::uint32_t offset, std::uint32_t end);
	static void keep_bytes(Queue &queue, const Fragment &fragment, std::uint32_t end);
	static std::vector<std::uint8_t> reassembled_bytes(Queue &queue);
	bool too_far(Queue &queue, const FragmentKey &key);
	void reset(Queue &queue, std::int64_t now_ns);

	std::int64_t timeout_ns_;
	std::uint32_t max_dist_;
	std::map<FragmentKey, Queue> queues_;
	// inet_peer's rid: every fragment from a source counts, per namespace and vif
	// (inet_getpeer_v4(net->ipv4.peers, saddr, vif)).
	std::map<std::tuple<std::string, Ipv4Address, int>, std::uint32_t> peer_rid_;
	DefragStats stats_;
};

} // namespace econsim::model
