// The stateful property of issue 5: a fast path never ends a frame where the slow path would not.
// Each case runs on one kind of host (TopologyKind: bridged, flannel-like or Calico-like routed).
//
// The system under test is a pair of HostPipelines over one scenario, a candidate mode (`fixed`,
// or `econ` to show that the original patch fails) and `off`, the vanilla kernel. Commands are
// socket calls, device and bridge events, namespace teardown, flushes, the passing of time and
// received frames. Every event is appended to the scenario's timeline at the current instant and
// applied at once, as a replay applies the events due before the next frame; every frame goes
// through both pipelines. After every frame the verdicts must agree (kind; socket for a delivery;
// reason for a drop or an ignore); after every command no fast-path entry may name a closed socket;
// once the pair is gone, the flow map's allocations are back to zero.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "fpmap.h"
#include "host_pipeline.h"
#include "overlay_host.h"

namespace econsim::sim::property {

// socket, bind, and listen for TCP: a service for frames to reach.
struct ServerSpec {
	std::string name;
	std::string ns;
	SocketProto proto = SocketProto::udp;
	Endpoint local;
	bool reuseaddr = false;
	bool reuseport = false;
};
void showValue(const ServerSpec &server, std::ostream &os); // how rapidcheck prints one

// What the generators may choose from. The full profile is the whole command set; the
// restricted ones steer the search at one of ECON's bugs so that CI finds it within its case count.
struct Profile {
	std::vector<int> cpus{2, 3, 4};
	// The kinds of host a case may run on (overlay_host.h), one drawn per case like the CPU count.
	// The commands are the same on each where they mean something: a routed host has c1 and c2
	// only, Calico's no bridge to give FDB entries, and only a routed host gets routing commands.
	std::vector<TopologyKind> topologies{TopologyKind::bridged};
	std::vector<std::string> socket_namespaces{"c1", "c2", "c3", "c4", "host"};
	std::vector<SocketProto> socket_protos{SocketProto::udp, SocketProto::tcp};
	// "any" (0.0.0.0), "own" (the namespace's address), or a literal address.
	std::vector<std::string> bind_addresses{"any", "own", "10.233.1.255", "10.233.9.9"};
	std::vector<std::uint16_t> ports{5000, 5001, 0};
	std::vector<bool> reuseaddr{false, true};
	std::vector<bool> reuseport{false, true};
	bool disconnect = true;                      // connect may be connect(AF_UNSPEC)
	std::vector<Peer> peers = property::peers(); // remote ends: frames' sources, connect()'s peers

	// Frames: which tenant they are for, from whom, how.
	std::vector<std::string> frame_targets{"c1", "c2", "c3", "c4", "host"};
	int other_vni_percent = 5;   // a frame for a tenant carries another tenant's (or no) VNI
	int incoherent_percent = 10; // inner MAC and IP of different containers, or broadcast
	// The inner source MAC is a local container's; and where an incoherent frame may be addressed
	// (a peer's MAC too: the bridge drops it as sent back out of its ingress port). These are the
	// frames that showed a hit skipping bridge learning (fixed_learning_test.cpp, README.md
	// "Bridge learning on a hit").
	int spoofed_source_percent = 2;
	std::vector<MacAddress> incoherent_dst_macs{
		{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, tenants()[0].mac, tenants()[1].mac, property::peers()[0].mac};
	int corrupt_percent = 5;
	// A fresh frame (and, less often, a repeat) sent in two fragments, outer or inner
	// (Fragmenting): held, then the datagram completed, in the host or in the container.
	int fragment_percent = 10;
	int repeat_fragment_percent = 4;
	int moved_peer_percent = 3;         // a peer's frame through another VTEP than its own
	int other_source_port_percent = 10; // another outer source port than the flow's own
	// A frame repeats a recent one (a flow's next packet), sometimes through another outer source
	// (another NIC hash and CPU) or with another VNI: what lets the fast path hit, and go stale.
	int repeat_percent = 70;
	// A repeat addressed to another MAC (broadcast, the other container's, a peer's): the same
	// inner 5-tuple, so the flow's entry matches, but the bridge sends the frame elsewhere.
	int retarget_percent = 3;
	std::vector<std::uint32_t> vnis{42, 43, 44};
	std::vector<Endpoint> outer_sources;
	std::vector<SocketProto> frame_protos{SocketProto::udp, SocketProto::tcp};
	// ACK, PSH|ACK (twice as likely as the rest), SYN, FIN|ACK, RST, RST|ACK, SYN|ACK
	std::vector<std::uint8_t> tcp_flags{0x10, 0x18, 0x10, 0x18, 0x02, 0x11, 0x04, 0x14, 0x12};
	// Routed hosts only: frames whose end a routed host decides where a bridged one does not.
	// An inner source whose route back does not leave by the VXLAN device (rp_filter's drop); a
	// destination with no pod (no neighbour) or no route; an inner TTL of 1 (ip_forward's
	// ttl_exceeded), fresh or on a repeat (a hit must check it per packet); and a frame for "host"
	// sent through the overlay to one of the host's overlay addresses (ip_local_deliver_host)
	// rather than plain to the NIC.
	int foreign_source_percent = 0;
	int unrouted_percent = 0;
	int low_ttl_percent = 0;
	int overlay_host_percent = 0;

	// Relative weights of the commands; 0 leaves one out.
	struct Weights {
		int open_server = 8; // socket + bind (+ listen for TCP): a service the frames can reach
		int open_socket = 4, bind = 4, connect = 4, listen = 2, close = 4, close_child = 2;
		int frame = 40, tcp_open = 8;
		int link = 2, fdb = 1, fdb_del = 1, vni = 1, netns_del = 1, flush = 1, sleep = 2;
		// A container sends a datagram to a peer (bridged hosts): its bridge learns its MAC.
		int sent = 0;
		// Routed hosts only (0 unless a profile sets them): `sysctl` (ip_forward, rp_filter),
		// `route` (ip route replace), `route_del`, `neigh` (ip neigh replace … permanent).
		int sysctl = 0, route = 0, route_del = 0, neigh = 0;
	} weights;
	// A fresh frame is aimed at a socket the sequence bound (its namespace, protocol and port).
	int aimed_percent = 80;
	int open_first_percent = 75; // the first command opens a service
	// The first command warms 1 to max_warm_flows flows (WarmFlows): a service in a container
	// each, and its flow's first frames, so that the fast path holds entries, and hits, before
	// the random commands begin. Otherwise open_first_percent applies.
	int warm_percent = 95;
	int max_warm_flows = 3;
	// A repeat is of a warm flow (they keep sending, whatever happens around them), else of one of
	// the recent frames: invalidation matters to a flow that sends again after the event.
	int warm_repeat_percent = 70;
	// A warm flow's frame with its own destination's MAC as the inner source: the bridges learn the
	// container behind the VXLAN port (and relearn it after it aged out: only br_handle_frame's
	// FDB event tells the map; FixedLearning.AMacRelearnedAfterAgeingInvalidatesTheFlow).
	int warm_spoof_percent = 5;
	// Command sequences are at least this long (rapidcheck draws a length from 1 to size + 1, and
	// sizes run from 0 up over a run): a case needs a few commands after the warm-up to send a
	// flow's next frames or an event between them.
	int min_size = 0;
	// How the bridges know their containers (overlay_host.h), one drawn per case where there is
	// a choice: a bridge that only learns floods a flow until its container has sent.
	std::vector<ContainerFdb> container_fdbs{ContainerFdb::static_entries};
	// Bridged hosts with Docker's FORWARD chain (docker_netfilter(), overlay_host.h): a container's
	// sent datagram then leaves from one of `ports` (its replies ESTABLISHED), not from 5999.
	bool netfilter = false;
	// The lengths a sleep draws from, in ms; empty: 150 or 301 000 (past ECON's guard, past the FDB
	// ageing), drawn as the profiles before this field drew them.
	std::vector<std::int64_t> sleeps_ms;

	static Profile full();
	// The full profile narrowed to one kind of invalidation, so that a regression in it is found
	// within the CI case count: sockets on one port of two twin tenants (bind, connect, listen,
	// close, accepted children, reuse options), or devices, bridges, VNIs and namespaces.
	static Profile socket_churn();
	static Profile device_churn();
	// Routed hosts only (flannel, Calico), narrowed to what changes routing: sysctls, routes,
	// neighbours, links, cni0's FDB, the VNI, namespaces; the frames that routing drops.
	static Profile routing_churn();
	// Bridged hosts whose bridges only learn: the containers send (sent frames, and each warm
	// flow's container first), FDB entries move, age and are deleted around cached flows.
	static Profile learning_bridges();
	// Bridged hosts with br_netfilter and Docker's FORWARD chain: containers send (their flows'
	// replies are ESTABLISHED), sleeps outlive conntrack entries (a cached flow's next datagram is
	// NEW, and port 5001's rule drops it on either path), sockets and devices change as in full().
	static Profile netfilter_node();
};

// A command sequence's view of the host: enough to generate valid commands. The kernel model in
// the pipelines has the final word (a bind it refuses is refused by both).
struct OverlayModel {
	// The model a case starts from on a kind of host: its VXLAN devices' VNIs.
	static OverlayModel initial(TopologyKind kind);

	TopologyKind kind = TopologyKind::bridged;
	ContainerFdb fdb = ContainerFdb::static_entries;
	struct Socket {
		std::string ns;
		SocketProto proto;
		bool open = true;
		std::uint16_t port = 0; // the port a bind asked for (the kernel may have refused it)
	};
	std::map<std::string, Socket> sockets;
	std::set<std::string> deleted_namespaces;
	std::vector<FrameSpec> recent_frames; // the last few, newest last
	std::vector<FrameSpec> warm_flows;    // a frame of each flow the warm-up began
	std::map<std::string, std::uint32_t> vni_of{{"vxlan42", 42}, {"vxlan43", 43}};

	void received(const FrameSpec &frame);
	void open(const ServerSpec &server);

	std::vector<std::string> open_sockets(std::optional<SocketProto> proto = std::nullopt) const;
	bool open(const std::string &socket) const;
};

// What the cases of a run exercised, counted by overlay_equivalence for each case that passed,
// to be printed and held to floors by the tests. An invalidation counts in a case when it happens
// while the candidate's flow map holds at least one entry (counted before the command), as told
// by the command and vanilla's acceptance of it, not by the map: so a mutant that drops an
// invalidation still shows up as the property's failure, not as missing coverage. A frame counts
// as an FDB change when vanilla's bridge moved or learned its inner source MAC, or its VXLAN
// device learned a new VTEP for it (what br_handle_frame and vxlan_snoop report to the fast path).
struct Coverage {
	std::uint64_t cases = 0;
	std::uint64_t fast = 0;                           // cases with a fast-path delivery outside the warm-up
	std::uint64_t fast_any = 0;                       // cases with a fast-path delivery anywhere
	std::array<std::uint64_t, FPMAP_EV_MAX> events{}; // cases where that kind of invalidation counted
	std::uint64_t fragments_held = 0;                 // cases where vanilla held a fragment
	std::uint64_t fragments_delivered = 0;            // cases where a fragment completed a delivered datagram
	// Routed hosts (flannel, Calico). A routing change is an accepted sysctl, route, route_del or
	// neigh event, or a link event on a host device; a flow counts as re-decided when one of its
	// frames comes after a routing change that followed its last fast-path delivery.
	std::uint64_t routed_cases = 0;
	std::uint64_t routed_fast = 0;         // a fast-path delivery outside the warm-up
	std::uint64_t routing_changes = 0;     // a routing change while the map held entries
	std::uint64_t redecided = 0;           // a fast-path flow's frame after a routing change
	std::uint64_t redecided_elsewhere = 0; // ... that vanilla ended otherwise than the flow's fast delivery
	std::map<std::string, std::uint64_t> routed_ends; // a routed frame's vanilla drop or ignore, by reason
	// Hosts with netfilter (Profile::netfilter): cases where vanilla's FORWARD chain dropped a
	// frame, and where the candidate's did on a fast-path hit (a cached flow the chain stops).
	std::uint64_t netfilter_cases = 0;
	std::uint64_t netfilter_dropped = 0;
	std::uint64_t netfilter_dropped_on_hit = 0;
};
// Accumulated over every case overlay_equivalence finished since the last reset.
Coverage &coverage();
const char *event_name(fpmap_event event); // "close", "rebind", "dev down", ...

// How a candidate's verdict differs from vanilla's, for counterexamples to say which bug they show.
//   closed_socket: delivered to a socket that was closed (ECON: B4 left the entry, B14)
//   cross_tenant:  delivered to a socket of another tenant than the frame's VNI (B8)
//   shadowed:      both delivered, to different sockets of one namespace (§3: bind/connect)
//   shadowed_by_connected: the same, and vanilla's socket is a connected one
//   stale:         delivered where vanilla drops, or dropped where vanilla delivers (§3)
//   other:         any other difference (a drop reason, a refusal)
std::string classify_divergence(const Packet &candidate, const Packet &vanilla, const HostPipeline &candidate_pipeline,
				const HostPipeline &vanilla_pipeline);

// One frame's verdicts as the log prints them ("deliver u1 [fast]"), and the divergence class.
struct FrameOutcome {
	std::string candidate;
	std::string vanilla;
	std::string divergence; // empty: the same end
};

class OverlayPair {
public:
	// fail_on: the divergence class that fails the property; nullopt: every divergence does.
	OverlayPair(int cpus, TopologyKind kind, FastpathMode candidate, std::optional<std::string> fail_on,
		    ContainerFdb fdb = ContainerFdb::static_entries, bool netfilter = false);
	OverlayPair(const OverlayPair &) = delete;
	OverlayPair &operator=(const OverlayPair &) = delete;

	// The event happens now, in both pipelines; both must accept it or both refuse it.
	void event(Event event, const std::string &text);
	FrameOutcome frame(const FrameSpec &spec);
	void open(const ServerSpec &server); // its socket, bind and listen events
	void sleep(std::int64_t ns);
	// No entry of the candidate's flow map names a socket that is closed (fixed mode only).
	void check_closed_sockets();
	// Fast-path deliveries from here to warm_up_done() are the warm-up's, not the random commands'.
	void warm_up_begins() { warm_start_ = fast_frames_; }
	void warm_up_done() { warm_fast_frames_ += fast_frames_ - warm_start_; }

	const HostPipeline &candidate() const { return *candidate_; }
	const HostPipeline &vanilla() const { return *vanilla_; }
	std::uint64_t divergences() const { return divergences_; }
	std::uint64_t fast_frames() const { return fast_frames_; }
	std::uint64_t warm_fast_frames() const { return warm_fast_frames_; }
	std::uint64_t held_fragments() const { return held_fragments_; }
	std::uint64_t delivered_datagrams() const { return delivered_datagrams_; } // completed by a fragment
	// Which invalidations happened while the candidate's map held an entry (see Coverage).
	const std::array<bool, FPMAP_EV_MAX> &invalidations() const { return invalidations_; }
	// Routed hosts (see Coverage): what routing did in this case.
	TopologyKind kind() const { return kind_; }
	bool routing_changed_while_held() const { return routing_changed_while_held_; }
	bool redecided() const { return redecided_; }
	bool redecided_elsewhere() const { return redecided_elsewhere_; }
	const std::set<std::string> &routed_ends() const { return routed_ends_; }
	// Frames vanilla's FORWARD chain dropped, and frames the candidate's dropped on a hit.
	std::uint64_t netfilter_drops() const { return netfilter_drops_; }
	std::uint64_t netfilter_hit_drops() const { return netfilter_hit_drops_; }
	// Every command so far and what it did, one line each: the evidence a failure prints.
	std::string history() const;

private:
	[[noreturn]] void fail(const std::string &what) const;
	// One frame of `spec` (the whole, or one of its fragments) through both pipelines.
	FrameOutcome send(const FrameSpec &spec, const Bytes &bytes);
	bool map_holds_entries() const;
	void raised(fpmap_event event, bool held) { invalidations_[event] = invalidations_[event] || held; }
	// The invalidations an event accepted by vanilla raises; the socket's port before it.
	void count_invalidations(const Event &event, bool held, std::uint16_t port_before, bool sockets_in_ns);
	bool changes_routing(const Event &event) const;
	// The routed-host coverage of one frame: whether its flow is re-decided, how vanilla ended it.
	void count_routed(const FrameSpec &spec, const Packet &candidate, const Packet &vanilla);

	TopologyKind kind_;
	Scenario scenario_;
	std::unique_ptr<HostPipeline> candidate_;
	std::unique_ptr<HostPipeline> vanilla_;
	std::optional<std::string> fail_on_;
	std::int64_t now_ns_;
	std::uint64_t frames_ = 0;
	int lines_ = 0;
	std::uint64_t divergences_ = 0;
	std::uint64_t fast_frames_ = 0;
	std::uint64_t warm_start_ = 0;
	std::uint64_t warm_fast_frames_ = 0;
	std::uint64_t held_fragments_ = 0;
	std::uint64_t delivered_datagrams_ = 0;
	VerdictKind last_vanilla_ = VerdictKind::ignore; // the vanilla verdict of the last frame sent
	std::array<bool, FPMAP_EV_MAX> invalidations_{};
	std::uint64_t routing_changes_ = 0; // accepted routing changes so far
	bool routing_changed_while_held_ = false;
	bool redecided_ = false;
	bool redecided_elsewhere_ = false;
	struct FastFlow {
		std::uint64_t routing_changes; // routing_changes_ at its last fast-path delivery
		std::string end;               // that delivery, as describe_end prints it
	};
	std::map<std::string, FastFlow> fast_flows_; // by describe_flow
	std::set<std::string> routed_ends_;
	std::uint64_t netfilter_drops_ = 0;
	std::uint64_t netfilter_hit_drops_ = 0;
	std::vector<std::string> log_;
};

// The property: a scenario with a generated CPU count, a generated command sequence, the checks
// above, and zero live flow-map allocations once the pair is destroyed.
void overlay_equivalence(FastpathMode candidate, const Profile &profile,
			 const std::optional<std::string> &fail_on = std::nullopt);

} // namespace econsim::sim::property
