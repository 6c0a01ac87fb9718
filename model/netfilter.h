// The host namespace's netfilter as a forwarded IPv4 packet meets it: conntrack's PRE_ROUTING pass
// (nf_conntrack_in), the filter table's FORWARD chain (ipt_do_table with the conntrack match's
// ctstate), and conntrack's confirmation at POST_ROUTING (__nf_conntrack_confirm), for UDP and
// TCP (6.1 net/netfilter/nf_conntrack_core.c, nf_conntrack_proto_udp.c, nf_conntrack_proto_tcp.c,
// xt_conntrack.c; net/ipv4/netfilter/ip_tables.c). A bridged frame reaches it through
// br_netfilter (net/bridge/br_netfilter_hooks.c: br_nf_pre_routing, br_nf_forward_ip,
// br_nf_post_routing; in and out are then the bridge), a routed one through ip_forward.
//
// Not modelled: TCP window tracking (a segment outside the window is INVALID in the kernel, and
// the model's conntrack takes it), RELATED (ICMP errors, helpers' expectations), NAT, zones, the
// INPUT/OUTPUT chains and the other tables, checksum verification (nf_conntrack_checksum: a
// capture cannot vouch for an L4 checksum), early drop under a full table.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/tcp_receive.h"
#include "model/types.h"

namespace econsim::model {

// The conntrack match's states, as bits (xt_conntrack's XT_CONNTRACK_STATE_BIT): a rule's
// `ctstate` is a set of them, a packet has one.
enum CtState : std::uint8_t {
	ct_new = 1,
	ct_established = 2,
	ct_related = 4,
	ct_invalid = 8,
};
std::string_view to_string(CtState state);

// One rule of a chain: every match given must hold (an empty device or no value: any).
struct FilterRule {
	std::optional<Protocol> proto;
	std::optional<Ipv4Interface> src;
	std::optional<Ipv4Interface> dst;
	std::optional<std::uint16_t> sport;
	std::optional<std::uint16_t> dport;
	std::string in;
	std::string out;
	std::uint8_t ctstates = 0; // 0: no conntrack match
	bool accept = true;        // the target: ACCEPT, else DROP
	int line = 0;              // where the scenario wrote it, for explanations
};

struct FilterChain {
	bool policy_accept = true;
	std::vector<FilterRule> rules;
};

// What the scenario configures: whether bridged IPv4 frames cross iptables
// (net.bridge.bridge-nf-call-iptables with br_netfilter loaded), the UDP timeouts
// (net.netfilter.nf_conntrack_udp_timeout{,_stream}), and the FORWARD chain.
struct NetfilterConfig {
	bool bridge_nf_call_iptables = false;
	std::int64_t udp_timeout_ns = 30'000'000'000;
	std::int64_t udp_timeout_stream_ns = 120'000'000'000;
	FilterChain forward;
};

// A forwarded packet: its flow as it travels (source = sender), the TCP flags for TCP, the
// devices iptables sees as in and out, and the time.
struct ForwardedPacket {
	FiveTuple flow;
	TcpFlags tcp;
	std::string_view in;
	std::string_view out;
	std::int64_t now_ns = 0;
};

struct ForwardVerdict {
	bool accept = true;
	CtState state = ct_new;
	int rule = -1; // the index of the rule that decided, -1: the chain's policy
};

// conntrack's TCP states (enum tcp_conntrack), for the entries of a TCP flow.
enum class TcpCtState : std::uint8_t {
	none,
	syn_sent,
	syn_recv,
	established,
	fin_wait,
	close_wait,
	last_ack,
	time_wait,
	close,
	syn_sent2,
};

class Netfilter {
public:
	explicit Netfilter(NetfilterConfig config) : config_(std::move(config)) {}

	const NetfilterConfig &config() const { return config_; }

	// PRE_ROUTING (conntrack finds or makes the packet's entry, refreshes its timeout, moves a
	// TCP entry's state), FORWARD (the first rule that matches, else the policy), POST_ROUTING
	// (a new entry is confirmed: inserted, only if the packet was accepted).
	ForwardVerdict forward(const ForwardedPacket &packet);

	struct Stats {
		std::uint64_t created = 0;      // entries confirmed
		std::uint64_t expired = 0;      // entries found past their timeout (gone, as gc would make them)
		std::uint64_t invalid = 0;      // packets conntrack marked INVALID
		std::uint64_t dropped = 0;      // packets the chain dropped
		std::uint64_t not_modelled = 0; // fragments, ICMP: not tracked (the caller reports them)
	};
	void count_not_modelled() { stats_.not_modelled++; }
	const Stats &stats() const { return stats_; }
	std::size_t entries() const { return entries_.size(); }

private:
	struct Entry {
		std::int64_t expires_ns; // nf_ct_is_expired when now has reached it
		std::int64_t stream_ns;  // UDP: a reply past this makes the entry a stream
		bool seen_reply = false; // IPS_SEEN_REPLY
		TcpCtState tcp = TcpCtState::none;
	};
	using Entries = std::map<FiveTuple, Entry>; // by the original tuple (as the first packet travelled)
	// The entry of either direction's tuple (end(): none) and whether the packet travels in reply;
	// expired entries are erased on the way (their absence is what the kernel's lookup gives).
	Entries::iterator find(const FiveTuple &flow, std::int64_t now_ns, bool &reply);
	// nf_conntrack_udp_packet / nf_conntrack_tcp_packet on an entry: the packet INVALID (no
	// state change, no refresh), or tracked, or tracked and the entry killed (nf_ct_kill_acct).
	enum class Tracked { invalid, tracked, killed };
	Tracked track(Entry &entry, bool reply, const ForwardedPacket &packet, bool confirmed) const;
	bool matches(const FilterRule &rule, const ForwardedPacket &packet, CtState state) const;

	NetfilterConfig config_;
	Entries entries_;
	Stats stats_;
};

} // namespace econsim::model
