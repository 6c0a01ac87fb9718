#include "model/netfilter.h"

#include <array>
#include <utility>

namespace econsim::model {

namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

// nf_conntrack_udp_packet: a reply seen more than two seconds after the entry was made marks a
// stream, which gets the stream timeout.
constexpr std::int64_t kUdpStreamAfter = 2 * kSecond;

FiveTuple reversed(const FiveTuple &flow)
{
	return {flow.protocol, {flow.addresses.destination, flow.addresses.source}};
}

// ---- TCP (6.1 nf_conntrack_proto_tcp.c) ----------------------------------------------------

// The packet's column in the state table (get_conntrack_index): RST first, then SYN (with or
// without ACK), FIN, ACK, none.
enum TcpIndex : std::uint8_t { tcp_syn, tcp_synack, tcp_fin, tcp_ack, tcp_rst, tcp_none };

TcpIndex tcp_index(const TcpFlags &f)
{
	if (f.rst)
		return tcp_rst;
	if (f.syn)
		return f.ack ? tcp_synack : tcp_syn;
	if (f.fin)
		return tcp_fin;
	return f.ack ? tcp_ack : tcp_none;
}

// A transition's result beyond the states: the packet is invalid (sIV) or ignored (sIG).
enum class Move : std::uint8_t { to, invalid, ignore };
struct Transition {
	Move move;
	TcpCtState state;
};

constexpr Transition to(TcpCtState s)
{
	return {Move::to, s};
}
constexpr Transition IV{Move::invalid, TcpCtState::none};
constexpr Transition IG{Move::ignore, TcpCtState::none};

using S = TcpCtState;
constexpr std::size_t kTcpStates = 10;
using Row = std::array<Transition, kTcpStates>; // by the entry's state, none … syn_sent2

// tcp_conntracks[direction][index][state], the table the tracker's comments explain: rows by
// the packet's flags, columns none, syn_sent, syn_recv, established, fin_wait, close_wait,
// last_ack, time_wait, close, syn_sent2.
constexpr std::array<std::array<Row, 6>, 2> kTcpTable = {{
	{{
		// original direction
		{to(S::syn_sent), to(S::syn_sent), IG, IG, IG, IG, IG, to(S::syn_sent), to(S::syn_sent),
		 to(S::syn_sent2)},
		{IV, IV, to(S::syn_recv), IV, IV, IV, IV, IV, IV, to(S::syn_recv)},
		{IV, IV, to(S::fin_wait), to(S::fin_wait), to(S::last_ack), to(S::last_ack), to(S::last_ack),
		 to(S::time_wait), to(S::close), IV},
		{to(S::established), IV, to(S::established), to(S::established), to(S::close_wait), to(S::close_wait),
		 to(S::time_wait), to(S::time_wait), to(S::close), IV},
		{IV, to(S::close), to(S::close), to(S::close), to(S::close), to(S::close), to(S::close), to(S::close),
		 to(S::close), to(S::close)},
		{IV, IV, IV, IV, IV, IV, IV, IV, IV, IV},
	}},
	{{
		// reply direction
		{IV, to(S::syn_sent2), IV, IV, IV, IV, IV, to(S::syn_sent), IV, to(S::syn_sent2)},
		{IV, to(S::syn_recv), IG, IG, IG, IG, IG, IG, IG, to(S::syn_recv)},
		{IV, IV, to(S::fin_wait), to(S::fin_wait), to(S::last_ack), to(S::last_ack), to(S::last_ack),
		 to(S::time_wait), to(S::close), IV},
		{IV, IG, to(S::syn_recv), to(S::established), to(S::close_wait), to(S::close_wait), to(S::time_wait),
		 to(S::time_wait), to(S::close), IG},
		{IV, to(S::close), to(S::close), to(S::close), to(S::close), to(S::close), to(S::close), to(S::close),
		 to(S::close), to(S::close)},
		{IV, IV, IV, IV, IV, IV, IV, IV, IV, IV},
	}},
}};

// tcp_timeouts (the sysctls' defaults): by state.
constexpr std::int64_t tcp_timeout(TcpCtState s)
{
	switch (s) {
	case S::syn_sent:
	case S::syn_sent2:
	case S::fin_wait:
	case S::time_wait: return 120 * kSecond;
	case S::syn_recv:
	case S::close_wait: return 60 * kSecond;
	case S::established: return 5 * 24 * 3600 * kSecond;
	case S::last_ack: return 30 * kSecond;
	case S::close:
	case S::none: return 10 * kSecond;
	}
	return 10 * kSecond;
}
constexpr std::int64_t kTcpUnacknowledged = 300 * kSecond; // TCP_CONNTRACK_UNACK

bool prefix_holds(const std::optional<Ipv4Interface> &prefix, Ipv4Address address)
{
	return !prefix || prefix->contains(address);
}

} // namespace

std::string_view to_string(CtState state)
{
	switch (state) {
	case ct_new: return "NEW";
	case ct_established: return "ESTABLISHED";
	case ct_related: return "RELATED";
	case ct_invalid: return "INVALID";
	}
	return "?";
}

Netfilter::Entries::iterator Netfilter::find(const FiveTuple &flow, std::int64_t now_ns, bool &reply)
{
	auto it = entries_.find(flow);
	reply = false;
	if (it == entries_.end()) {
		it = entries_.find(reversed(flow));
		reply = it != entries_.end();
	}
	if (it != entries_.end() && now_ns >= it->second.expires_ns) { // nf_ct_is_expired: the lookup
		entries_.erase(it);                                    // skips it, gc frees it
		stats_.expired++;
		reply = false;
		return entries_.end();
	}
	return it;
}

Netfilter::Tracked Netfilter::track(Entry &entry, bool reply, const ForwardedPacket &packet, bool confirmed) const
{
	const std::int64_t now = packet.now_ns;
	if (packet.flow.protocol == Protocol::udp) {
		if (!confirmed)
			entry.stream_ns = now + kUdpStreamAfter;
		std::int64_t timeout = config_.udp_timeout_ns;
		if (entry.seen_reply && now > entry.stream_ns)
			timeout = config_.udp_timeout_stream_ns;
		entry.expires_ns = now + timeout;
		return Tracked::tracked;
	}
	const TcpIndex index = tcp_index(packet.tcp);
	const TcpCtState old_state = entry.tcp;
	const Transition t = kTcpTable[reply ? 1 : 0][index][static_cast<std::size_t>(old_state)];
	if (t.move == Move::invalid)
		return Tracked::invalid;
	if (t.move == Move::ignore) // accepted as it is: no state change, no refresh
		return Tracked::tracked;
	entry.tcp = t.state;
	std::int64_t timeout = index == tcp_rst ? tcp_timeout(S::close) : tcp_timeout(t.state);
	if (!entry.seen_reply) {
		// Only a RST back: there was no connection, and the entry goes at once.
		if (index == tcp_rst)
			return Tracked::killed;
		// A retransmitted SYN does not renew it (port reuse would keep it alive forever).
		if (index == tcp_syn && old_state == S::syn_sent)
			return Tracked::tracked;
		// Picked up mid-connection and never answered: not the long established timeout.
		if (t.state == S::established && timeout > kTcpUnacknowledged)
			timeout = kTcpUnacknowledged;
	}
	entry.expires_ns = now + timeout;
	return Tracked::tracked;
}

bool Netfilter::matches(const FilterRule &rule, const ForwardedPacket &packet, CtState state) const
{
	const FourTuple &a = packet.flow.addresses;
	return (!rule.proto || *rule.proto == packet.flow.protocol) && prefix_holds(rule.src, a.source.address) &&
	       prefix_holds(rule.dst, a.destination.address) && (!rule.sport || *rule.sport == a.source.port) &&
	       (!rule.dport || *rule.dport == a.destination.port) && (rule.in.empty() || rule.in == packet.in) &&
	       (rule.out.empty() || rule.out == packet.out) && (rule.ctstates == 0 || (rule.ctstates & state) != 0);
}

ForwardVerdict Netfilter::forward(const ForwardedPacket &packet)
{
	ForwardVerdict verdict;
	const bool tcp = packet.flow.protocol == Protocol::tcp;

	// PRE_ROUTING: nf_conntrack_in.
	bool reply = false;
	auto found = find(packet.flow, packet.now_ns, reply);
	// A SYN that reopens a connection in TIME_WAIT or CLOSE: the old entry is killed and the
	// packet looked up again (NF_REPEAT), which makes a new one.
	if (found != entries_.end() && tcp && !reply && tcp_index(packet.tcp) == tcp_syn &&
	    (found->second.tcp == S::time_wait || found->second.tcp == S::close)) {
		entries_.erase(found);
		found = entries_.end();
	}
	const bool confirmed = found != entries_.end();
	Entry fresh{};
	Entry &entry = confirmed ? found->second : fresh;
	verdict.state = reply || entry.seen_reply ? ct_established : ct_new;
	// tcp_new: only a SYN, or an ACK picked up mid-connection (nf_conntrack_tcp_loose = 1), makes
	// an entry; the table's first column says so.
	const Tracked tracked = track(entry, reply, packet, confirmed);
	if (tracked == Tracked::invalid) {
		verdict.state = ct_invalid;
		stats_.invalid++;
	} else if (tracked == Tracked::killed) {
		if (confirmed)
			entries_.erase(found);
	} else if (reply) {
		entry.seen_reply = true;
	}

	// FORWARD: ipt_do_table, the first rule that matches.
	verdict.accept = config_.forward.policy_accept;
	for (std::size_t i = 0; i < config_.forward.rules.size(); i++) {
		const FilterRule &rule = config_.forward.rules[i];
		if (matches(rule, packet, verdict.state)) {
			verdict.accept = rule.accept;
			verdict.rule = static_cast<int>(i);
			break;
		}
	}
	if (!verdict.accept) {
		stats_.dropped++;
		return verdict; // an unconfirmed entry goes with the packet
	}

	// POST_ROUTING: __nf_conntrack_confirm puts a new entry in the table.
	if (!confirmed && tracked == Tracked::tracked) {
		entries_.emplace(packet.flow, fresh);
		stats_.created++;
	}
	return verdict;
}

} // namespace econsim::model
