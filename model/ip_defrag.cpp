#include "model/ip_defrag.h"

#include <algorithm>

namespace econsim::model {

const char *to_string(DefragResult result)
{
	switch (result) {
	case DefragResult::held: return "held";
	case DefragResult::complete: return "complete";
	case DefragResult::duplicate: return "duplicate";
	case DefragResult::overlap: return "overlap";
	case DefragResult::invalid: return "invalid";
	}
	return "?";
}

namespace {

// include/net/inet_ecn.h and inet_frag.h: ip4_frag_ecn gives one IPFRAG_ECN_* bit per ECN
// codepoint (NOT_ECT 0x01, ECT_1 0x02, ECT_0 0x04, CE 0x08).
constexpr std::uint8_t kEcnNotEct = 0x01;

std::uint8_t frag_ecn(std::uint8_t tos)
{
	return static_cast<std::uint8_t>(1u << (tos & 0x03));
}

// inet_fragment.c: ip_frag_ecn_table marks 0xff (drop) every mix of a not-ECT fragment with an
// ECN-capable or CE one.
bool ecn_mix_invalid(std::uint8_t ecn)
{
	return (ecn & kEcnNotEct) && (ecn & ~kEcnNotEct);
}

constexpr std::uint32_t kMaxDatagram = 65535; // ip_frag_reasm: ihl + q.len above it is -E2BIG

// ip_send_check: the one's complement of the one's complement sum of the header's 16-bit words,
// with the checksum field counted as zero.
void write_header_checksum(std::span<std::uint8_t> header)
{
	header[10] = header[11] = 0;
	std::uint32_t sum = 0;
	for (std::size_t i = 0; i + 1 < header.size(); i += 2)
		sum += static_cast<std::uint32_t>(header[i] << 8 | header[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	const auto checksum = static_cast<std::uint16_t>(~sum);
	header[10] = static_cast<std::uint8_t>(checksum >> 8);
	header[11] = static_cast<std::uint8_t>(checksum & 0xff);
}

} // namespace

void IpDefrag::expire(std::int64_t now_ns)
{
	// ip_expire: the queue is killed and counted (REASMFAILS, REASMTIMEOUT); the ICMP "fragment
	// reassembly time exceeded" it sends when the first fragment was in is the kernel's own frame.
	for (auto it = queues_.begin(); it != queues_.end();) {
		if (it->second.expires_ns <= now_ns) {
			stats_.timed_out++;
			stats_.timed_out_fragments += it->second.fragments;
			it = queues_.erase(it);
		} else {
			++it;
		}
	}
}

void IpDefrag::forget_namespace(std::string_view ns)
{
	std::erase_if(queues_, [&](const auto &entry) { return entry.first.ns == ns; });
	std::erase_if(peer_rid_, [&](const auto &entry) { return std::get<0>(entry.first) == ns; });
}

DefragAnswer IpDefrag::add(const Fragment &fragment)
{
	expire(fragment.now_ns);
	// inet_frag_find → inet_frag_create: a new queue starts its timer (ipfrag_time). The memory
	// limit it checks (ipfrag_high_thresh, 4 MiB of skb truesize per namespace) is not modelled.
	auto [it, made] = queues_.try_emplace(fragment.key);
	if (made)
		it->second.expires_ns = fragment.now_ns + timeout_ns_;
	DefragAnswer answer = queue_fragment(it->second, fragment);
	switch (answer.result) {
	case DefragResult::held: stats_.held++; break;
	case DefragResult::complete:
		stats_.reassembled++;
		queues_.erase(it); // ipq_kill: the reassembled datagram leaves the queue's hash
		break;
	case DefragResult::duplicate:
		stats_.duplicates++; // the fragment goes, its queue stays
		break;
	case DefragResult::overlap:
		stats_.overlaps++;
		queues_.erase(it); // inet_frag_kill
		break;
	case DefragResult::invalid:
		stats_.invalid++;
		queues_.erase(it);
		break;
	}
	return answer;
}

// ip_fragment.c: ip_frag_too_far. Every fragment from the source counts (the inet_peer's rid); if
// more than max_dist came between two of this queue's, the queue is presumed stale.
bool IpDefrag::too_far(Queue &queue, const FragmentKey &key)
{
	if (max_dist_ == 0)
		return false;
	const std::uint32_t start = queue.rid;
	const std::uint32_t end = ++peer_rid_[{key.ns, key.source, key.vif}];
	queue.rid = end;
	return !queue.runs.empty() && end - start > max_dist_;
}

// ip_fragment.c: ip_frag_reinit: the fragments go, the timer starts again.
void IpDefrag::reset(Queue &queue, std::int64_t now_ns)
{
	stats_.resets++;
	stats_.reset_fragments += queue.fragments;
	const std::uint32_t rid = queue.rid;
	queue = Queue{};
	queue.rid = rid;
	queue.expires_ns = now_ns + timeout_ns_;
}

// inet_fragment.c: inet_frag_queue_insert. Past the tail: appended to the last run when it starts
// where that ends, else a run of its own; an overlap with the tail is RFC 5722's. Otherwise the
// rb-tree of runs is searched: inside one run is a duplicate, touching any other way an overlap;
// a fragment that fits a hole becomes a run of its own (runs are never merged).
IpDefrag::Insert IpDefrag::insert(Queue &queue, std::uint32_t offset, std::uint32_t end)
{
	if (queue.runs.empty() || queue.runs.back().end < end) {
		if (!queue.runs.empty() && offset < queue.runs.back().end)
			return Insert::overlap;
		if (!queue.runs.empty() && offset == queue.runs.back().end)
			queue.runs.back().end = end;
		else
			queue.runs.push_back({offset, end});
		return Insert::ok;
	}
	// Runs are disjoint and sorted, so the tree search meets a run the fragment touches exactly
	// when one exists; finding the first such run in order decides the same.
	auto touching = std::find_if(queue.runs.begin(), queue.runs.end(),
				     [&](const Run &run) { return offset < run.end && end > run.offset; });
	if (touching != queue.runs.end())
		return offset >= touching->offset && end <= touching->end ? Insert::duplicate : Insert::overlap;
	auto after =
		std::find_if(queue.runs.begin(), queue.runs.end(), [&](const Run &run) { return run.offset >= end; });
	queue.runs.insert(after, Run{offset, end});
	return Insert::ok;
}

// ip_fragment.c: ip_frag_queue, then ip_frag_reasm when the datagram is whole.
DefragAnswer IpDefrag::queue_fragment(Queue &queue, const Fragment &fragment)
{
	DefragAnswer answer;
	if (too_far(queue, fragment.key)) {
		reset(queue, fragment.now_ns);
		answer.queue_reset = true;
	}
	const std::uint32_t offset = fragment.offset;
	std::uint32_t end = offset + fragment.length;
	auto discard_queue = [&answer](DefragResult why) {
		answer.result = why;
		return answer;
	};
	if (!fragment.more_fragments) {
		// The last fragment: nothing may lie past it, and a second last must agree.
		if (end < queue.length || (queue.last_in && end != queue.length))
			return discard_queue(DefragResult::invalid);
		queue.last_in = true;
		queue.length = end;
	} else {
		end &= ~std::uint32_t{7}; // only the last fragment may end off an 8-byte boundary
		if (end > queue.length) {
			if (queue.last_in)
				return discard_queue(DefragResult::invalid); // bits past the known end
			queue.length = end;
		}
	}
	if (end == offset)
		return discard_queue(DefragResult::invalid);

	switch (insert(queue, offset, end)) {
	case Insert::duplicate: answer.result = DefragResult::duplicate; return answer;
	case Insert::overlap: return discard_queue(DefragResult::overlap);
	case Insert::ok: break;
	}
	queue.meat += end - offset;
	keep_bytes(queue, fragment, end);
	queue.ecn |= frag_ecn(fragment.tos);
	queue.fragments++;
	if (offset == 0) {
		queue.first_in = true;
		queue.transport = fragment.transport;
	}
	if (!(queue.first_in && queue.last_in && queue.meat == queue.length)) {
		answer.result = DefragResult::held;
		return answer;
	}
	// ip_frag_reasm: the queue is killed first; a CE/not-ECT mix or a datagram over 64 KiB is
	// then dropped whole.
	if (ecn_mix_invalid(queue.ecn) || fragment.header_length + queue.length > kMaxDatagram)
		return discard_queue(DefragResult::invalid);
	answer.result = DefragResult::complete;
	answer.datagram_length = queue.length;
	answer.fragments = queue.fragments;
	answer.transport = queue.transport;
	answer.datagram = reassembled_bytes(queue);
	return answer;
}

// The bytes of an accepted fragment: [offset, end) of its payload (a non-last fragment's tail past
// an 8-byte boundary was trimmed off with `end`, as pskb_trim_rcsum does), and the first one's header.
void IpDefrag::keep_bytes(Queue &queue, const Fragment &fragment, std::uint32_t end)
{
	if (fragment.bytes.size() < fragment.header_length)
		return;
	const std::span<const std::uint8_t> payload = fragment.bytes.subspan(fragment.header_length);
	const std::size_t count = std::min<std::size_t>(end - fragment.offset, payload.size());
	if (queue.payload.size() < fragment.offset + count)
		queue.payload.resize(fragment.offset + count);
	std::copy_n(payload.begin(), count, queue.payload.begin() + fragment.offset);
	if (fragment.offset == 0)
		queue.head_header.assign(fragment.bytes.begin(), fragment.bytes.begin() + fragment.header_length);
}

// ip_frag_reasm → the head's header made the datagram's: tot_len the whole, frag_off 0 (IP_DF only
// when every fragment was sent with DF and as large as the largest, which a fragmented datagram
// is not), then ip_send_check.
std::vector<std::uint8_t> IpDefrag::reassembled_bytes(Queue &queue)
{
	if (queue.head_header.size() < 20)
		return {};
	std::vector<std::uint8_t> datagram = std::move(queue.head_header);
	const std::size_t total = datagram.size() + queue.length;
	datagram[2] = static_cast<std::uint8_t>(total >> 8);
	datagram[3] = static_cast<std::uint8_t>(total & 0xff);
	datagram[6] = datagram[7] = 0;
	write_header_checksum(datagram);
	queue.payload.resize(queue.length);
	datagram.insert(datagram.end(), queue.payload.begin(), queue.payload.end());
	return datagram;
}

} // namespace econsim::model
