#include "overlay_property.h"

#include <rapidcheck.h>
#include <rapidcheck/state.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "flow_map.h"
#include "model/sockets.h"
#include "model/topology.h"
#include "verdict_writer.h"

namespace econsim::sim::property {

namespace {

constexpr std::int64_t kStartNs = 1'764'150'000'000'000'000;
constexpr std::int64_t kStepNs = 1'000'000; // every command happens 1 ms after the one before

bool same_end(const Verdict &a, const Verdict &b)
{
	return a.verdict == b.verdict && a.sock == b.sock && a.reason == b.reason;
}

// The refusal without the file:line prefix and the boilerplate.
std::string refusal_text(const std::string &what)
{
	std::string s = what;
	if (auto colon = s.find(": "); colon != std::string::npos && s.rfind("property:", 0) == 0)
		s = s.substr(colon + 2);
	const std::string tail = ": the kernel would refuse it";
	if (s.size() > tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0)
		s.resize(s.size() - tail.size());
	return s;
}

} // namespace

Coverage &coverage()
{
	static Coverage counted;
	return counted;
}

const char *event_name(fpmap_event event)
{
	switch (event) {
	case FPMAP_EV_SOCK_CLOSE: return "close";
	case FPMAP_EV_SOCK_REBIND: return "rebind";
	case FPMAP_EV_DEV_DOWN: return "dev down";
	case FPMAP_EV_DEV_DELETE: return "dev delete";
	case FPMAP_EV_FDB_CHANGE: return "fdb change";
	case FPMAP_EV_VNI_CHANGE: return "vni change";
	case FPMAP_EV_NETNS_EXIT: return "netns exit";
	case FPMAP_EV_FLUSH: return "flush";
	case FPMAP_EV_MAX: break;
	}
	return "?";
}

Profile Profile::full()
{
	Profile p;
	p.min_size = 40;
	p.topologies = {TopologyKind::bridged, TopologyKind::flannel, TopologyKind::calico};
	p.weights.sysctl = p.weights.route = p.weights.route_del = p.weights.neigh = 1;
	p.foreign_source_percent = 5;
	p.unrouted_percent = 10;
	p.low_ttl_percent = 3;
	p.overlay_host_percent = 50;
	p.outer_sources = outer_sources_per_cpu();
	p.outer_sources.push_back(econ_bucket_collision().first);
	p.outer_sources.push_back(econ_bucket_collision().second);
	return p;
}

Profile Profile::learning_bridges()
{
	Profile p = full();
	p.topologies = {TopologyKind::bridged};
	p.container_fdbs = {ContainerFdb::learned};
	p.weights.sent = 3;
	return p;
}

Profile Profile::netfilter_node()
{
	Profile p = full();
	p.topologies = {TopologyKind::bridged};
	p.netfilter = true;
	p.ports = {5000, kNetfilterDroppedPort};
	// UDP twice as often: a UDP flow's conntrack entry times out in a sleep, a TCP one's does not.
	p.frame_protos = {SocketProto::udp, SocketProto::udp, SocketProto::tcp};
	p.weights.sent = 4;
	p.weights.sleep = 6; // each outlives the conntrack entries: what makes a cached flow NEW again
	// Mostly short: a 301 s sleep also ages the peers' MACs out of the bridges, which sends the
	// flow's next frame the slow way before its conntrack entry is asked.
	p.sleeps_ms = {150, 150, 150, 301'000};
	return p;
}

Profile Profile::socket_churn()
{
	Profile p = full();
	p.topologies = {TopologyKind::bridged}; // the twin tenants c1 and c3
	p.socket_namespaces = p.frame_targets = {"c1", "c3"};
	p.bind_addresses = {"any", "own"};
	p.ports = {5000};
	p.incoherent_percent = p.corrupt_percent = 0;
	p.weights = Weights{.open_server = 6,
			    .open_socket = 3,
			    .bind = 4,
			    .connect = 5,
			    .listen = 2,
			    .close = 4,
			    .close_child = 2,
			    .frame = 30,
			    .tcp_open = 6,
			    .link = 0,
			    .fdb = 0,
			    .fdb_del = 0,
			    .vni = 0,
			    .netns_del = 0,
			    .flush = 1,
			    .sleep = 1};
	return p;
}

Profile Profile::device_churn()
{
	Profile p = full();
	p.topologies = {TopologyKind::bridged}; // routing_churn is its routed counterpart
	p.socket_namespaces = p.frame_targets = {"c1", "c2", "c3"};
	p.bind_addresses = {"any"};
	p.ports = {5000};
	p.warm_percent = 100; // device events take flows down fast: every case starts with some
	// No fragments: they are slow by design and would take this profile's fast frames below its
	// floor (72.6 % against 75 % outside the warm-up at CI's seed); full and socket_churn send them.
	p.fragment_percent = p.repeat_fragment_percent = 0;
	p.weights = Weights{.open_server = 4,
			    .open_socket = 0,
			    .bind = 0,
			    .connect = 0,
			    .listen = 0,
			    .close = 1,
			    .close_child = 0,
			    .frame = 30,
			    .tcp_open = 4,
			    .link = 6,
			    .fdb = 4,
			    .fdb_del = 3,
			    .vni = 4,
			    .netns_del = 1,
			    .flush = 1,
			    .sleep = 1};
	return p;
}

Profile Profile::routing_churn()
{
	Profile p = full();
	p.topologies = {TopologyKind::flannel, TopologyKind::calico};
	p.socket_namespaces = p.frame_targets = {"c1", "c2", "host"};
	p.bind_addresses = {"any"};
	p.ports = {5000};
	p.warm_percent = 100;
	p.foreign_source_percent = p.unrouted_percent = 8;
	p.low_ttl_percent = 5;
	// device_churn's commands, with fewer device events and routing's own.
	p.weights = device_churn().weights;
	p.weights.frame = 40;
	p.weights.link = 2;
	p.weights.fdb = p.weights.fdb_del = p.weights.vni = 1;
	p.weights.sysctl = p.weights.route_del = p.weights.neigh = 2;
	p.weights.route = 3;
	return p;
}

OverlayModel OverlayModel::initial(TopologyKind kind)
{
	OverlayModel m;
	m.kind = kind;
	if (is_routed(kind))
		m.vni_of = {{routed_overlay(kind).vxlan, 42}};
	return m;
}

std::vector<std::string> OverlayModel::open_sockets(std::optional<SocketProto> proto) const
{
	std::vector<std::string> names;
	for (const auto &[name, s] : sockets)
		if (s.open && (!proto || s.proto == *proto))
			names.push_back(name);
	return names;
}

void OverlayModel::received(const FrameSpec &frame)
{
	constexpr std::size_t kRemembered = 6;
	recent_frames.push_back(frame);
	if (recent_frames.size() > kRemembered)
		recent_frames.erase(recent_frames.begin());
}

void OverlayModel::open(const ServerSpec &server)
{
	sockets[server.name] = {server.ns, server.proto, true, server.local.port};
}

bool OverlayModel::open(const std::string &socket) const
{
	auto it = sockets.find(socket);
	return it != sockets.end() && it->second.open;
}

// ---------------------------------------------------------------------------------------------
// The pair of pipelines.

OverlayPair::OverlayPair(int cpus, TopologyKind kind, FastpathMode candidate, std::optional<std::string> fail_on,
			 ContainerFdb fdb, bool netfilter)
	: kind_(kind), scenario_(overlay_scenario(cpus, kind, fdb, netfilter)), fail_on_(std::move(fail_on)),
	  now_ns_(kStartNs)
{
	candidate_ = std::make_unique<HostPipeline>(scenario_, candidate);
	vanilla_ = std::make_unique<HostPipeline>(scenario_, FastpathMode::off);
	log_.push_back(std::string(to_string(kind)) + " host with " + std::to_string(cpus) + " CPUs, candidate mode " +
		       std::string(to_string(candidate)) +
		       (fdb == ContainerFdb::learned ? ", bridges that learn only" : "") +
		       (netfilter ? ", br_netfilter and Docker's FORWARD chain" : ""));
}

std::string OverlayPair::history() const
{
	std::string text = "what happened:\n";
	for (const std::string &line : log_)
		text += "  " + line + "\n";
	return text;
}

void OverlayPair::fail(const std::string &what) const
{
	RC_FAIL(what + "\n" + history());
}

bool OverlayPair::map_holds_entries() const
{
	const FlowMap *map = candidate_->fastpath().flow_map();
	return map && map->total_stats().entries > 0;
}

void OverlayPair::count_invalidations(const Event &event, bool held, std::uint16_t port_before, bool sockets_in_ns)
{
	const model::Socket *socket = vanilla_->host().model().sockets().find(event.sock);
	std::uint16_t port_after = socket ? socket->port : 0;
	switch (event.op) {
	case EventOp::socket: break;
	case EventOp::bind:
	case EventOp::listen:
		if (port_after)
			raised(FPMAP_EV_SOCK_REBIND, held);
		break;
	case EventOp::connect:
		if (port_before || port_after)
			raised(FPMAP_EV_SOCK_REBIND, held);
		break;
	case EventOp::close: raised(FPMAP_EV_SOCK_CLOSE, held); break;
	case EventOp::link:
		if (!event.up)
			raised(FPMAP_EV_DEV_DOWN, held);
		break;
	case EventOp::flush: raised(FPMAP_EV_FLUSH, held); break;
	case EventOp::fdb:
	case EventOp::fdb_del: raised(FPMAP_EV_FDB_CHANGE, held); break;
	case EventOp::vni: raised(FPMAP_EV_VNI_CHANGE, held); break;
	case EventOp::netns_del:
		if (sockets_in_ns)
			raised(FPMAP_EV_SOCK_CLOSE, held);
		raised(FPMAP_EV_DEV_DELETE, held);
		raised(FPMAP_EV_NETNS_EXIT, held);
		break;
	case EventOp::sysctl:
	case EventOp::route:
	case EventOp::route_del:
	case EventOp::neigh: raised(FPMAP_EV_FDB_CHANGE, held); break; // the routing generation
	}
}

// What sim/ turns into the fast path's routing_changed on a routed host (OverlayHost::apply).
bool OverlayPair::changes_routing(const Event &event) const
{
	if (!is_routed(kind_))
		return false;
	switch (event.op) {
	case EventOp::sysctl:
	case EventOp::route:
	case EventOp::route_del:
	case EventOp::neigh: return true;
	case EventOp::link: return vanilla_->host().device_id(event.dev).netns == kHostNetnsId;
	default: return false;
	}
}

void OverlayPair::event(Event event, const std::string &text)
{
	// What the coverage count needs from before the event (see Coverage).
	const bool held = map_holds_entries();
	const model::Sockets &sockets = vanilla_->host().model().sockets();
	const model::Socket *socket = sockets.find(event.sock);
	const std::uint16_t port_before = socket ? socket->port : 0;
	bool sockets_in_ns = false;
	for (const model::Socket *s : sockets.all())
		sockets_in_ns = sockets_in_ns || s->ns == event.ns;
	now_ns_ += kStepNs;
	event.t_ns = now_ns_;
	event.t = static_cast<double>(now_ns_) * 1e-9;
	event.line = ++lines_;
	scenario_.events.push_back(std::move(event));
	auto apply = [](HostPipeline &p) -> std::optional<std::string> {
		try {
			p.finish();
			return std::nullopt;
		} catch (const ScenarioError &e) {
			return refusal_text(e.what());
		}
	};
	std::optional<std::string> by_candidate = apply(*candidate_);
	std::optional<std::string> by_vanilla = apply(*vanilla_);
	log_.push_back(text + (by_vanilla ? "  → refused: " + *by_vanilla : ""));
	if (!by_vanilla) {
		count_invalidations(scenario_.events.back(), held, port_before, sockets_in_ns);
		if (changes_routing(scenario_.events.back())) {
			routing_changes_++;
			routing_changed_while_held_ = routing_changed_while_held_ || held;
		}
	}
	if (by_candidate.has_value() != by_vanilla.has_value()) {
		divergences_++;
		std::string what = "divergence [other]: " + text + ": " + std::string(to_string(candidate_->mode())) +
				   " " + (by_candidate ? "refused" : "accepted") + ", vanilla " +
				   (by_vanilla ? "refused" : "accepted");
		if (!fail_on_ || *fail_on_ == "other")
			fail(what);
		log_.back() += "  (tolerated: " + what + ")";
	}
}

void OverlayPair::open(const ServerSpec &server)
{
	Event e;
	e.op = EventOp::socket;
	e.sock = server.name;
	e.ns = server.ns;
	e.proto = server.proto;
	event(e, "socket " + server.name + " " + std::string(to_string(server.proto)) + " in " + server.ns);
	Event b;
	b.op = EventOp::bind;
	b.sock = server.name;
	b.addr = server.local;
	b.reuseaddr = server.reuseaddr;
	b.reuseport = server.reuseport;
	event(b, "bind " + server.name + " " + to_string(server.local) + (server.reuseaddr ? " SO_REUSEADDR" : "") +
			 (server.reuseport ? " SO_REUSEPORT" : ""));
	if (server.proto == SocketProto::tcp) {
		Event l;
		l.op = EventOp::listen;
		l.sock = server.name;
		l.backlog = 16;
		event(l, "listen " + server.name);
	}
}

void showValue(const ServerSpec &server, std::ostream &os)
{
	os << "server " << server.name << " " << to_string(server.proto) << " in " << server.ns << " on "
	   << to_string(server.local) << (server.reuseaddr ? " SO_REUSEADDR" : "")
	   << (server.reuseport ? " SO_REUSEPORT" : "");
}

void OverlayPair::sleep(std::int64_t ns)
{
	now_ns_ += ns;
	log_.push_back("sleep " + std::to_string(ns / 1'000'000) + " ms");
}

FrameOutcome OverlayPair::frame(const FrameSpec &spec)
{
	const std::vector<Bytes> pieces = frame_pieces(spec, static_cast<std::uint16_t>(frames_ + 1));
	FrameOutcome outcome;
	for (const Bytes &bytes : pieces) {
		outcome = send(spec, bytes);
		if (last_vanilla_ == VerdictKind::held)
			held_fragments_++;
	}
	if (pieces.size() > 1 && last_vanilla_ == VerdictKind::deliver)
		delivered_datagrams_++;
	return outcome;
}

FrameOutcome OverlayPair::send(const FrameSpec &spec, const Bytes &bytes)
{
	now_ns_ += kStepNs;
	// Where vanilla's bridge and VXLAN device have the inner source MAC: the learning that raises
	// an FDB change in the fast path when it moves (br_handle_frame, vxlan_snoop).
	auto learned = [&]() -> std::string {
		const OverlayHost &host = vanilla_->host();
		const model::Topology &topology = host.model().topology();
		const model::Device *vxlan = spec.vxlan ? topology.vxlan_for(kVxlanPort, spec.vni) : nullptr;
		if (!vxlan)
			return {};
		std::string where = "-";
		if (const model::BridgeFdb *fdb = topology.fdb(vxlan->bridge))
			where = fdb->lookup(spec.inner_src_mac, static_cast<double>(now_ns_) * 1e-9)
					.value_or("-");
		if (const OverlayHost::RemoteVtep *vtep =
			    host.remote(host.device_id(vxlan->name).ifindex, spec.inner_src_mac))
			where += " " + to_string(vtep->ip) + " " + (vtep->mac ? to_string(*vtep->mac) : "-");
		return where;
	};
	const bool held = map_holds_entries();
	const std::string learned_before = learned();
	CaptureFrame f;
	f.number = ++frames_;
	f.timestamp_ns = now_ns_;
	f.timestamp = static_cast<double>(now_ns_) * 1e-9;
	f.captured_length = static_cast<std::uint32_t>(bytes.size());
	f.wire_length = f.captured_length;
	f.link_type = kLinkTypeEthernet;
	f.bytes = bytes;
	const Packet &c = candidate_->process(f);
	const Packet &v = vanilla_->process(f);
	last_vanilla_ = v.verdict.verdict;
	if (learned() != learned_before)
		raised(FPMAP_EV_FDB_CHANGE, held);
	count_routed(spec, c, v);
	std::string mode(to_string(candidate_->mode()));
	std::string line = "frame " + std::to_string(f.number) + ": " + describe(spec) + " on CPU " +
			   std::to_string(v.cpu) + " → vanilla " + describe_end(v.verdict);
	if (c.verdict.path == Path::fast)
		fast_frames_++;
	netfilter_drops_ += v.verdict.reason == "netfilter_drop";
	netfilter_hit_drops_ += c.verdict.path == Path::fast && c.verdict.reason == "netfilter_drop";
	FrameOutcome outcome{describe_end(c.verdict), describe_end(v.verdict), {}};
	if (same_end(c.verdict, v.verdict)) {
		log_.push_back(line + ", " + mode + " the same" + (c.verdict.path == Path::fast ? " [fast]" : ""));
		return outcome;
	}
	divergences_++;
	outcome.divergence = classify_divergence(c, v, *candidate_, *vanilla_);
	line += ", " + mode + " " + outcome.candidate;
	log_.push_back(line);
	if (!fail_on_ || *fail_on_ == outcome.divergence)
		fail("divergence [" + outcome.divergence + "] at frame " + std::to_string(f.number) + ": " + mode +
		     " → " + outcome.candidate + ", vanilla → " + outcome.vanilla);
	log_.back() += "  (tolerated [" + outcome.divergence + "])";
	return outcome;
}

namespace {

// A flow as the fixed map keys it: the inner 5-tuple and the VNI.
std::string describe_flow(const FrameSpec &spec)
{
	return std::to_string(spec.vni) + " " + std::string(to_string(spec.proto)) + " " + to_string(spec.src) + " > " +
	       to_string(spec.dst);
}

// Where a frame ended, whichever path took it there.
std::string end_of(Verdict verdict)
{
	verdict.path.reset();
	return describe_end(verdict);
}

} // namespace

void OverlayPair::count_routed(const FrameSpec &spec, const Packet &candidate, const Packet &vanilla)
{
	if (!is_routed(kind_) || !spec.vxlan)
		return;
	if (vanilla.verdict.reason && vanilla.verdict.verdict != VerdictKind::deliver)
		routed_ends_.insert(std::string(*vanilla.verdict.reason));
	const std::string flow = describe_flow(spec);
	auto known = fast_flows_.find(flow);
	if (known != fast_flows_.end() && known->second.routing_changes < routing_changes_) {
		redecided_ = true;
		redecided_elsewhere_ = redecided_elsewhere_ || end_of(vanilla.verdict) != known->second.end;
	}
	if (candidate.verdict.path == Path::fast && candidate.verdict.verdict == VerdictKind::deliver)
		fast_flows_[flow] = {routing_changes_, end_of(candidate.verdict)};
}

void OverlayPair::check_closed_sockets()
{
	const FlowMap *map = candidate_->fastpath().flow_map();
	if (!map)
		return;
	const OverlayHost &host = candidate_->host();
	for (std::uint64_t cookie = 1; host.socket_name(cookie) != "?"; cookie++)
		if (!host.socket_open(cookie) && map->has_cookie(cookie))
			fail("the flow map still holds an entry for " + host.socket_name(cookie) + " (cookie " +
			     std::to_string(cookie) + "), which is closed");
}

std::string classify_divergence(const Packet &candidate, const Packet &vanilla, const HostPipeline &candidate_pipeline,
				const HostPipeline &vanilla_pipeline)
{
	const Verdict &c = candidate.verdict;
	const Verdict &v = vanilla.verdict;
	if (c.reason == "b14_closed_socket")
		return "closed_socket";
	if (c.verdict != VerdictKind::deliver && v.verdict != VerdictKind::deliver)
		return "other";
	if (c.verdict != VerdictKind::deliver)
		return "stale";
	const model::Socket *socket = candidate_pipeline.host().model().sockets().find(*c.sock);
	if (!socket)
		return "closed_socket";
	// The tenant the frame's VNI belongs to now, per the vanilla host's devices.
	if (candidate.parsed.is_vxlan() && socket->ns != kHostNamespace) {
		const model::Topology &topology = vanilla_pipeline.host().model().topology();
		const model::Device *vxlan =
			topology.vxlan_for(candidate.parsed.outer_l4->dst_port, candidate.parsed.vxlan->vni);
		const model::Container *owner = candidate_pipeline.host().model().topology().container(socket->ns);
		// A routed host has one overlay, whose device is no bridge's port: every pod is its tenant.
		const bool routed = vxlan && vxlan->bridge.empty();
		if (!vxlan || !owner || (!routed && owner->bridge != vxlan->bridge))
			return "cross_tenant";
	}
	if (v.verdict == VerdictKind::deliver) {
		const model::Socket *chosen = vanilla_pipeline.host().model().sockets().find(*v.sock);
		if (!chosen || chosen->ns != socket->ns)
			return "other";
		return chosen->peer ? "shadowed_by_connected" : "shadowed";
	}
	return "stale";
}

// ---------------------------------------------------------------------------------------------
// Commands.

namespace {

using Command = rc::state::Command<OverlayModel, OverlayPair>;
using CommandPtr = std::shared_ptr<const Command>;

template <typename T> T pick(const std::vector<T> &choices)
{
	RC_PRE(!choices.empty());
	return *rc::gen::elementOf(choices);
}

template <typename T> bool contains(const std::vector<T> &values, const T &value)
{
	return std::find(values.begin(), values.end(), value) != values.end();
}

// gen::inRange narrows its range with the case's size (only min at size 0); choices between kinds
// of command or frame must not, or the small cases would all be alike.
int uniform(int min, int max)
{
	return *rc::gen::resize(100, rc::gen::inRange(min, max));
}

bool percent(int p)
{
	return p > 0 && uniform(0, 100) < p;
}

// The namespaces of `from` that this kind of host has (a routed host has no c3 or c4) and that
// the sequence has not deleted.
std::vector<std::string> live_namespaces(const OverlayModel &m, const std::vector<std::string> &from)
{
	std::vector<std::string> live;
	for (const std::string &ns : from)
		if (!m.deleted_namespaces.contains(ns) && (ns == kHostNamespace || tenant(m.kind, ns)))
			live.push_back(ns);
	return live;
}

Ipv4Address namespace_address(const std::string &ns)
{
	const Tenant *t = tenant(ns);
	return t ? t->ip : host_ip();
}

// A command that is one scenario event, printed the same way in the counterexample and the log.
class EventCommand : public Command {
public:
	void run(const OverlayModel &, OverlayPair &sut) const override
	{
		sut.event(event(), text());
		sut.check_closed_sockets();
	}
	void show(std::ostream &os) const override { os << text(); }

protected:
	virtual Event event() const = 0;
	virtual std::string text() const = 0;

	static Event make(EventOp op)
	{
		Event e;
		e.op = op;
		return e;
	}
};

// Commands on one socket check that it is still open in the model (shrinking removes its
// `socket` command, or adds a `close` before it).
class SocketCommand : public EventCommand {
public:
	explicit SocketCommand(std::string socket) : socket_(std::move(socket)) {}
	void checkPreconditions(const OverlayModel &m) const override { RC_PRE(m.open(socket_)); }

protected:
	Event make(EventOp op) const
	{
		Event e = EventCommand::make(op);
		e.sock = socket_;
		return e;
	}
	std::string socket_;
};

std::string socket_name(const OverlayModel &m, SocketProto proto)
{
	return (proto == SocketProto::udp ? "u" : "t") + std::to_string(m.sockets.size() + 1);
}

class OpenSocket : public EventCommand {
public:
	OpenSocket(const OverlayModel &m, const Profile &p)
	{
		ns_ = pick(live_namespaces(m, p.socket_namespaces));
		proto_ = pick(p.socket_protos);
		name_ = socket_name(m, proto_);
	}
	void checkPreconditions(const OverlayModel &m) const override
	{
		RC_PRE(!m.sockets.contains(name_));
		RC_PRE(!m.deleted_namespaces.contains(ns_));
	}
	void apply(OverlayModel &m) const override { m.sockets[name_] = {ns_, proto_, true}; }

private:
	Event event() const override
	{
		Event e = make(EventOp::socket);
		e.sock = name_;
		e.ns = ns_;
		e.proto = proto_;
		return e;
	}
	std::string text() const override
	{
		return "socket " + name_ + " " + std::string(to_string(proto_)) + " in " + ns_;
	}
	std::string ns_;
	SocketProto proto_ = SocketProto::udp;
	std::string name_;
};

ServerSpec generate_server(const OverlayModel &m, const Profile &p)
{
	ServerSpec server;
	server.ns = pick(live_namespaces(m, p.socket_namespaces));
	server.proto = pick(p.socket_protos);
	server.name = socket_name(m, server.proto);
	std::vector<std::uint16_t> ports;
	for (std::uint16_t port : p.ports)
		if (port)
			ports.push_back(port);
	bool any = pick(p.bind_addresses) != "own";
	server.local = Endpoint{any ? Ipv4Address{} : namespace_address(server.ns), pick(ports)};
	server.reuseaddr = pick(p.reuseaddr);
	server.reuseport = pick(p.reuseport);
	return server;
}

// socket, bind to 0.0.0.0 or the namespace's address and a fixed port, listen for TCP: the
// service a test of a fast path wants to see traffic reach.
class OpenServer : public Command {
public:
	OpenServer(const OverlayModel &m, const Profile &p) : server_(generate_server(m, p)) {}
	void checkPreconditions(const OverlayModel &m) const override
	{
		RC_PRE(!m.sockets.contains(server_.name));
		RC_PRE(!m.deleted_namespaces.contains(server_.ns));
	}
	void apply(OverlayModel &m) const override { m.open(server_); }
	void run(const OverlayModel &, OverlayPair &sut) const override
	{
		sut.open(server_);
		sut.check_closed_sockets();
	}
	void show(std::ostream &os) const override { showValue(server_, os); }

private:
	ServerSpec server_;
};

class Bind : public SocketCommand {
public:
	Bind(const OverlayModel &m, const Profile &p) : SocketCommand(pick(m.open_sockets()))
	{
		std::string address = pick(p.bind_addresses);
		Ipv4Address a = address == "any"   ? Ipv4Address{}
				: address == "own" ? namespace_address(m.sockets.at(socket_).ns)
						   : ip(address.c_str());
		local_ = Endpoint{a, pick(p.ports)};
		reuseaddr_ = pick(p.reuseaddr);
		reuseport_ = pick(p.reuseport);
	}
	void apply(OverlayModel &m) const override
	{
		if (local_.port)
			m.sockets[socket_].port = local_.port;
	}

private:
	Event event() const override
	{
		Event e = make(EventOp::bind);
		e.addr = local_;
		e.reuseaddr = reuseaddr_;
		e.reuseport = reuseport_;
		return e;
	}
	std::string text() const override
	{
		return "bind " + socket_ + " " + to_string(local_) + (reuseaddr_ ? " SO_REUSEADDR" : "") +
		       (reuseport_ ? " SO_REUSEPORT" : "");
	}
	Endpoint local_;
	bool reuseaddr_ = false, reuseport_ = false;
};

class Connect : public SocketCommand {
public:
	Connect(const OverlayModel &m, const Profile &p) : SocketCommand(pick(m.open_sockets()))
	{
		std::vector<Endpoint> choices;
		for (const Peer &peer : p.peers)
			choices.push_back(peer.endpoint);
		if (p.disconnect)
			choices.push_back(Endpoint{});
		peer_ = pick(choices);
	}

private:
	Event event() const override
	{
		Event e = make(EventOp::connect);
		e.peer = peer_;
		return e;
	}
	std::string text() const override
	{
		return peer_ == Endpoint{} ? "disconnect " + socket_ : "connect " + socket_ + " " + to_string(peer_);
	}
	Endpoint peer_;
};

class Listen : public SocketCommand {
public:
	Listen(const OverlayModel &m, const Profile &) : SocketCommand(pick(m.open_sockets(SocketProto::tcp))) {}

private:
	Event event() const override
	{
		Event e = make(EventOp::listen);
		e.backlog = 16;
		return e;
	}
	std::string text() const override { return "listen " + socket_; }
};

class Close : public SocketCommand {
public:
	Close(const OverlayModel &m, const Profile &) : SocketCommand(pick(m.open_sockets())) {}
	void apply(OverlayModel &m) const override { m.sockets[socket_].open = false; }

private:
	Event event() const override { return make(EventOp::close); }
	std::string text() const override { return "close " + socket_; }
};

// close(2) on an accepted connection "<listener>/<peer>"; refused by both if there is none.
class CloseChild : public EventCommand {
public:
	CloseChild(const OverlayModel &m, const Profile &p)
	{
		std::vector<std::string> tcp;
		for (const auto &[name, s] : m.sockets)
			if (s.proto == SocketProto::tcp)
				tcp.push_back(name);
		listener_ = pick(tcp);
		std::vector<Endpoint> from;
		for (const Peer &peer : p.peers)
			from.push_back(peer.endpoint);
		child_ = listener_ + "/" + to_string(pick(from));
	}
	void checkPreconditions(const OverlayModel &m) const override { RC_PRE(m.sockets.contains(listener_)); }

private:
	Event event() const override
	{
		Event e = make(EventOp::close);
		e.sock = child_;
		return e;
	}
	std::string text() const override { return "close " + child_; }
	std::string listener_;
	std::string child_;
};

// Where a flow's frames come from: the peer's own VTEP, and the source port the sender's
// udp_flow_src_port derives from the inner flow, so one inner flow keeps one NIC hash and CPU
// while several share it. Now and then another port (the sender rehashed), or another VTEP (a
// container that moved: vxlan_snoop learns the new VTEP, an FDB change for the VXLAN device).
Endpoint outer_source(const Profile &p, const Peer &from, const FrameSpec &flow)
{
	std::vector<Endpoint> own;
	for (const Endpoint &e : p.outer_sources)
		if (e.address == from.vtep)
			own.push_back(e);
	if (own.empty() || percent(p.moved_peer_percent))
		return pick(p.outer_sources);
	if (percent(p.other_source_port_percent))
		return pick(own);
	std::uint32_t h =
		flow.src.port * 31u + flow.dst.port * 7u + flow.dst.address.value + (flow.proto == SocketProto::tcp);
	return own[h % own.size()];
}

FrameSpec generate_frame(const OverlayModel &m, const Profile &p)
{
	if (!m.recent_frames.empty() && percent(p.repeat_percent)) {
		bool warm = !m.warm_flows.empty() && percent(p.warm_repeat_percent);
		FrameSpec again = pick(warm ? m.warm_flows : m.recent_frames);
		if (again.vxlan && percent(25))
			again.outer_src =
				outer_source(p, {again.src, again.inner_src_mac, again.outer_src.address}, again);
		if (again.vxlan && percent(p.other_vni_percent))
			again.vni = pick(p.vnis);
		if (again.vxlan && percent(p.retarget_percent))
			again.inner_dst_mac = pick(p.incoherent_dst_macs);
		if (warm && percent(p.warm_spoof_percent))
			again.inner_src_mac = again.inner_dst_mac;
		// A warm flow is a long-lived connection: mostly data, now and then any segment (a RST or
		// FIN ends it for good, as the recent frames' random flags end theirs).
		if (again.proto == SocketProto::tcp)
			again.tcp_flags = warm && !percent(25) ? std::uint8_t{0x18} : pick(p.tcp_flags);
		again.corruption = Corruption::none;
		again.ttl = is_routed(m.kind) && percent(p.low_ttl_percent) ? 1 : 64;
		again.fragmenting = percent(p.repeat_fragment_percent)
					    ? *rc::gen::element(Fragmenting::outer, Fragmenting::inner)
					    : Fragmenting::none;
		return again;
	}
	FrameSpec f;
	f.proto = pick(p.frame_protos);
	if (f.proto == SocketProto::tcp)
		f.tcp_flags = pick(p.tcp_flags);
	std::vector<std::uint16_t> ports;
	for (std::uint16_t port : p.ports)
		if (port)
			ports.push_back(port);
	std::string target;
	// Names, not pointers into m: rapidcheck replays generated values when it shrinks, and the
	// model they pointed into is gone by then.
	std::vector<std::string> servers;
	for (const auto &[name, s] : m.sockets)
		if (s.open && s.port && contains(p.frame_targets, s.ns) && contains(p.frame_protos, s.proto))
			servers.push_back(name);
	if (!servers.empty() && percent(p.aimed_percent)) {
		const OverlayModel::Socket &aim = m.sockets.at(pick(servers));
		target = aim.ns;
		f.proto = aim.proto;
		ports = {aim.port};
	} else {
		target = pick(live_namespaces(m, p.frame_targets));
	}
	if (f.proto == SocketProto::tcp && !f.tcp_flags)
		f.tcp_flags = pick(p.tcp_flags);
	const bool routed = is_routed(m.kind);
	if (target == "host" && routed && percent(p.overlay_host_percent)) {
		// Through the overlay to one of the routed host's own addresses (flannel.1's, cni0's,
		// vxlan.calico's): ip_route_input → ip_local_deliver_host, never a pod.
		const RoutedOverlay &overlay = routed_overlay(m.kind);
		const Peer from = pick(p.peers);
		f.vni = m.vni_of.at(overlay.vxlan);
		f.inner_src_mac = from.mac;
		f.src = from.endpoint;
		f.inner_dst_mac = overlay.mac;
		f.dst = Endpoint{pick(overlay.host_addresses), pick(ports)};
		f.outer_src = outer_source(p, from, f);
		if (percent(p.fragment_percent))
			f.fragmenting = Fragmenting::outer;
		return f;
	}
	if (target == "host") {
		f.vxlan = false;
		f.outer_src = pick(p.outer_sources);
		f.dst = Endpoint{host_ip(), pick(ports)};
		if (percent(p.fragment_percent))
			f.fragmenting = Fragmenting::outer;
		return f;
	}
	const Tenant &to = *tenant(m.kind, target);
	const Peer from = pick(p.peers);
	f.vni = m.vni_of.at(to.vxlan);
	if (percent(p.other_vni_percent))
		f.vni = pick(p.vnis);
	f.inner_src_mac = from.mac;
	if (percent(p.spoofed_source_percent))
		f.inner_src_mac = pick(tenants()).mac;
	f.src = from.endpoint;
	// A routed host's pods are reached through the VXLAN device's own MAC (the sender routed to it).
	f.inner_dst_mac = routed ? routed_overlay(m.kind).mac : to.mac;
	f.dst = Endpoint{to.ip, pick(ports)};
	if (percent(p.incoherent_percent)) {
		f.inner_dst_mac = pick(p.incoherent_dst_macs);
		f.dst.address = *rc::gen::element(subnet_broadcast(), tenants()[0].ip, tenants()[1].ip);
	}
	if (routed) {
		if (percent(p.unrouted_percent))
			f.dst.address = *rc::gen::element(absent_pod(), unrouted_address());
		if (percent(p.foreign_source_percent))
			f.src = pick(foreign_sources());
		if (percent(p.low_ttl_percent))
			f.ttl = 1;
	}
	f.outer_src = outer_source(p, from, f);
	if (percent(p.corrupt_percent))
		f.corruption = *rc::gen::element(Corruption::outer_ip_checksum, Corruption::inner_ip_checksum,
						 Corruption::vxlan_flags);
	else if (percent(p.fragment_percent))
		f.fragmenting = *rc::gen::element(Fragmenting::outer, Fragmenting::inner);
	return f;
}

// A datagram container `t` sends to `peer`, as the host puts it on the wire (FrameSpec::sent),
// from the one outer source port a flow keeps: `t`'s bridge learns its MAC on its veth
// (br_fdb_update), which a bridge that only learns needs before its FDB forwards a frame to `t`.
FrameSpec sent_by(const Tenant &t, const Peer &peer, std::uint16_t port = 5999)
{
	FrameSpec f;
	f.sent = true;
	f.outer_src = Endpoint{peer.vtep, 40000};
	f.vni = t.vni;
	f.inner_src_mac = t.mac;
	f.inner_dst_mac = peer.mac;
	f.src = Endpoint{t.ip, port};
	f.dst = peer.endpoint;
	return f;
}

// The peer a frame came from (its inner source endpoint), or the first one.
const Peer &peer_of(const FrameSpec &frame)
{
	for (const Peer &peer : peers())
		if (peer.endpoint.address == frame.src.address)
			return peer;
	return peers().front();
}

// A container of a bridged host sends to a peer (Profile::Weights::sent).
class Sent : public Command {
public:
	Sent(const OverlayModel &m, const Profile &p)
	{
		std::vector<std::string> senders;
		for (const Tenant &t : tenants(m.kind))
			if (!m.deleted_namespaces.contains(t.container))
				senders.push_back(t.container);
		RC_PRE(!senders.empty());
		// The peer drawn first, as GCC evaluated the arguments of the call this replaced (right to
		// left): the learning profile's cases stay what they were.
		const Peer peer = pick(p.peers);
		const Tenant &sender = *tenant(m.kind, pick(senders));
		// On a netfilter node from a service's port, so that the peer's frames to it are replies.
		spec_ = p.netfilter ? sent_by(sender, peer, pick(p.ports)) : sent_by(sender, peer);
	}
	void checkPreconditions(const OverlayModel &m) const override
	{
		RC_PRE(m.kind == TopologyKind::bridged);
		for (const Tenant &t : tenants(m.kind))
			RC_PRE(t.mac != spec_.inner_src_mac || !m.deleted_namespaces.contains(t.container));
	}
	void apply(OverlayModel &) const override {}
	void run(const OverlayModel &, OverlayPair &sut) const override { sut.frame(spec_); }
	void show(std::ostream &os) const override { os << "sent " << describe(spec_); }

private:
	FrameSpec spec_;
};

class Frame : public Command {
public:
	Frame(const OverlayModel &m, const Profile &p) : spec_(generate_frame(m, p)) {}
	void apply(OverlayModel &m) const override { m.received(spec_); }
	void run(const OverlayModel &, OverlayPair &sut) const override
	{
		sut.frame(spec_);
		sut.check_closed_sockets();
	}
	void show(std::ostream &os) const override { os << "frame " << describe(spec_); }

private:
	FrameSpec spec_;
};

// A remote client opens a connection: SYN, then the ACK of the handshake (the SYN-ACK leaves).
class TcpOpen : public Command {
public:
	TcpOpen(const OverlayModel &m, const Profile &p)
	{
		Profile tcp = p;
		tcp.frame_protos = {SocketProto::tcp};
		tcp.frame_targets.erase(std::remove(tcp.frame_targets.begin(), tcp.frame_targets.end(), "host"),
					tcp.frame_targets.end());
		tcp.incoherent_percent = tcp.corrupt_percent = tcp.spoofed_source_percent = 0;
		tcp.unrouted_percent = tcp.foreign_source_percent = tcp.low_ttl_percent = 0;
		tcp.tcp_flags = {0x02};
		tcp.repeat_percent = 0;
		tcp.aimed_percent = 80;
		syn_ = generate_frame(m, tcp);
	}
	void apply(OverlayModel &m) const override
	{
		FrameSpec ack = syn_;
		ack.tcp_flags = 0x10;
		m.received(ack);
	}
	void run(const OverlayModel &, OverlayPair &sut) const override
	{
		FrameSpec ack = syn_;
		ack.tcp_flags = 0x10;
		sut.frame(syn_);
		sut.frame(ack);
		sut.check_closed_sockets();
	}
	void show(std::ostream &os) const override { os << "tcp open (SYN, ACK): " << describe(syn_); }

private:
	FrameSpec syn_;
};

// The first command of most sequences: one to max_warm_flows services in containers, and for each
// the first frames of a flow to it from a peer (UDP: three datagrams; TCP: SYN, ACK and two data
// segments), coherent and through the flow's own outer source. The first frame of a peer moves
// the bridge's FDB (the insert races with that event), the next inserts, the rest hit: the random
// commands start with entries in the map, and their repeats of these flows can hit or go stale.
class WarmFlows : public Command {
public:
	WarmFlows(const OverlayModel &m, const Profile &p) : answer_first_(p.netfilter)
	{
		Profile server_profile = p;
		server_profile.socket_namespaces = warm_namespaces(m, p);
		OverlayModel next = m;
		const int flows = uniform(1, p.max_warm_flows + 1);
		for (int i = 0; i < flows; i++) {
			ServerSpec server = generate_server(next, server_profile);
			next.open(server);
			// The flow's first frame: fresh (not a repeat), to this service, nothing odd about it.
			Profile flow = p;
			flow.frame_targets = {server.ns};
			flow.frame_protos = {server.proto};
			flow.ports = {server.local.port};
			flow.tcp_flags = {0x02};
			flow.repeat_percent = flow.aimed_percent = 0;
			flow.other_vni_percent = flow.incoherent_percent = flow.spoofed_source_percent = 0;
			flow.corrupt_percent = flow.moved_peer_percent = flow.other_source_port_percent = 0;
			flow.unrouted_percent = flow.foreign_source_percent = flow.low_ttl_percent = 0;
			warm_.push_back({server, generate_frame(next, flow)});
		}
	}
	// The namespaces whose services a warm flow can reach through the fast path (not the host's).
	static std::vector<std::string> warm_namespaces(const OverlayModel &m, const Profile &p)
	{
		std::vector<std::string> containers;
		for (const std::string &ns : live_namespaces(m, p.socket_namespaces))
			if (tenant(m.kind, ns) && contains(p.frame_targets, ns))
				containers.push_back(ns);
		return containers;
	}
	void checkPreconditions(const OverlayModel &m) const override
	{
		for (const Warm &w : warm_) {
			RC_PRE(!m.sockets.contains(w.server.name));
			RC_PRE(!m.deleted_namespaces.contains(w.server.ns));
		}
	}
	void apply(OverlayModel &m) const override
	{
		for (const Warm &w : warm_) {
			m.open(w.server);
			m.received(frames(w).back());
			m.warm_flows.push_back(frames(w).back());
		}
	}
	void run(const OverlayModel &m, OverlayPair &sut) const override
	{
		sut.warm_up_begins();
		for (const Warm &w : warm_) {
			sut.open(w.server);
			// A bridge that only learns floods the flow until the container has sent.
			if (m.fdb == ContainerFdb::learned)
				sut.frame(sent_by(*tenant(m.kind, w.server.ns), peer_of(w.first)));
			// On a netfilter node a UDP service speaks first, from its port to the flow's
			// client: the flow's frames are then replies, ESTABLISHED, and pass the port rule
			// until a sleep outlives the conntrack entry.
			if (answer_first_ && w.first.vxlan && w.first.proto == SocketProto::udp) {
				FrameSpec answer = sent_by(*tenant(m.kind, w.server.ns), peer_of(w.first), w.first.dst.port);
				answer.dst = w.first.src;
				sut.frame(answer);
			}
			for (const FrameSpec &f : frames(w))
				sut.frame(f);
		}
		sut.warm_up_done();
		sut.check_closed_sockets();
	}
	void show(std::ostream &os) const override
	{
		os << "warm up:";
		for (const Warm &w : warm_) {
			os << " [";
			showValue(w.server, os);
			os << "; " << frames(w).size() << " frames " << describe(w.first) << "]";
		}
	}

private:
	struct Warm {
		ServerSpec server;
		FrameSpec first;
	};
	static std::vector<FrameSpec> frames(const Warm &w)
	{
		if (w.first.proto == SocketProto::udp)
			return {w.first, w.first, w.first};
		std::vector<FrameSpec> handshake_and_data{w.first};
		for (std::uint8_t flags : {0x10, 0x18, 0x18}) {
			handshake_and_data.push_back(w.first);
			handshake_and_data.back().tcp_flags = flags;
		}
		return handshake_and_data;
	}
	std::vector<Warm> warm_;
	bool answer_first_ = false; // Profile::netfilter
};

std::vector<std::string> devices(const OverlayModel &m)
{
	std::vector<std::string> names = host_devices(m.kind);
	for (const Tenant &t : tenants(m.kind)) {
		if (m.deleted_namespaces.contains(t.container))
			continue;
		names.push_back(t.veth);
		names.push_back(model::container_end_name(t.container));
	}
	return names;
}

class Link : public EventCommand {
public:
	Link(const OverlayModel &m, const Profile &)
	{
		dev_ = pick(devices(m));
		up_ = *rc::gen::element(false, true);
	}
	void checkPreconditions(const OverlayModel &m) const override
	{
		auto all = devices(m);
		RC_PRE(std::find(all.begin(), all.end(), dev_) != all.end());
	}

private:
	Event event() const override
	{
		Event e = make(EventOp::link);
		e.dev = dev_;
		e.up = up_;
		return e;
	}
	std::string text() const override { return "link " + dev_ + (up_ ? " up" : " down"); }
	std::string dev_;
	bool up_ = false;
};

std::vector<MacAddress> fdb_macs()
{
	return {tenants()[0].mac, tenants()[1].mac, peers()[0].mac, peers()[1].mac};
}

// On a bridged host br42 or br43 (their VXLAN port or a veth); on flannel's cni0 (a veth: cni0
// has no VXLAN port); Calico has no bridge (its weight is 0 there).
class Fdb : public EventCommand {
public:
	Fdb(const OverlayModel &m, const Profile &)
	{
		const Tenant &on = pick(tenants(m.kind));
		bridge_ = on.bridge;
		std::vector<std::string> ports;
		if (!is_routed(m.kind))
			ports.push_back(on.vxlan);
		for (const Tenant &t : tenants(m.kind))
			if (t.bridge == bridge_)
				ports.push_back(t.veth);
		port_ = pick(ports);
		mac_ = pick(fdb_macs());
		if (port_ == on.vxlan && *rc::gen::element(false, true))
			dst_ = ip("192.168.0.1");
	}

private:
	Event event() const override
	{
		Event e = make(EventOp::fdb);
		e.bridge = bridge_;
		e.mac = mac_;
		e.port = port_;
		e.dst = dst_;
		return e;
	}
	std::string text() const override
	{
		return "fdb " + bridge_ + " " + to_string(mac_) + " → " + port_ +
		       (dst_ ? " dst " + to_string(*dst_) : "");
	}
	std::string bridge_, port_;
	MacAddress mac_;
	std::optional<Ipv4Address> dst_;
};

class FdbDel : public EventCommand {
public:
	FdbDel(const OverlayModel &m, const Profile &)
	{
		bridge_ = is_routed(m.kind) ? std::string("cni0")
					    : *rc::gen::element(std::string("br42"), std::string("br43"));
		mac_ = pick(fdb_macs());
	}

private:
	Event event() const override
	{
		Event e = make(EventOp::fdb_del);
		e.bridge = bridge_;
		e.mac = mac_;
		return e;
	}
	std::string text() const override { return "fdb_del " + bridge_ + " " + to_string(mac_); }
	std::string bridge_;
	MacAddress mac_;
};

class Vni : public EventCommand {
public:
	Vni(const OverlayModel &m, const Profile &p)
	{
		dev_ = is_routed(m.kind) ? routed_overlay(m.kind).vxlan
					 : *rc::gen::element(std::string("vxlan42"), std::string("vxlan43"));
		vni_ = pick(p.vnis);
	}
	// As the kernel does (vxlan_vni_in_use): a VNI another device has is refused.
	void apply(OverlayModel &m) const override
	{
		for (const auto &[dev, vni] : m.vni_of)
			if (dev != dev_ && vni == vni_)
				return;
		m.vni_of[dev_] = vni_;
	}

private:
	Event event() const override
	{
		Event e = make(EventOp::vni);
		e.dev = dev_;
		e.vni = vni_;
		return e;
	}
	std::string text() const override { return "vni " + dev_ + " " + std::to_string(vni_); }
	std::string dev_;
	std::uint32_t vni_ = 0;
};

class NetnsDel : public EventCommand {
public:
	NetnsDel(const OverlayModel &m, const Profile &p)
	{
		std::vector<std::string> containers;
		for (const std::string &ns : live_namespaces(m, p.socket_namespaces))
			if (ns != kHostNamespace)
				containers.push_back(ns);
		ns_ = pick(containers);
	}
	void checkPreconditions(const OverlayModel &m) const override { RC_PRE(!m.deleted_namespaces.contains(ns_)); }
	void apply(OverlayModel &m) const override
	{
		m.deleted_namespaces.insert(ns_);
		for (auto &[name, s] : m.sockets)
			if (s.ns == ns_)
				s.open = false;
	}

private:
	Event event() const override
	{
		Event e = make(EventOp::netns_del);
		e.ns = ns_;
		return e;
	}
	std::string text() const override { return "netns_del " + ns_; }
	std::string ns_;
};

class Flush : public EventCommand {
public:
	Flush(const OverlayModel &, const Profile &) {}

private:
	Event event() const override { return make(EventOp::flush); }
	std::string text() const override { return "flush"; }
};

// ---- Routed hosts: the events that change routing (docs/scenario-extensions.md, "Routed overlays").

std::string route_text(const Route &r)
{
	return to_string(r.dst) + (r.via ? " via " + to_string(*r.via) : "") + " dev " + r.dev +
	       (r.onlink ? " onlink"
		: r.via  ? ""
			 : " scope link");
}

// A routing command: its event and text, made when it is generated.
class RoutingCommand : public EventCommand {
public:
	RoutingCommand(Event event, std::string text) : event_(std::move(event)), text_(std::move(text)) {}

private:
	Event event() const override { return event_; }
	std::string text() const override { return text_; }
	Event event_;
	std::string text_;
};

// sysctl -w net.ipv4.ip_forward=… and/or net.ipv4.conf.all.rp_filter=…; ip_forward back on twice
// as often as off: a host left with forwarding off for the rest of a case sends no flow down the
// fast path again.
CommandPtr sysctl_command(const OverlayModel &, const Profile &)
{
	Event e;
	e.op = EventOp::sysctl;
	const int which = uniform(0, 3); // ip_forward, rp_filter, both
	if (which != 1)
		e.ip_forward = *rc::gen::element(false, true, true);
	if (which != 0)
		e.rp_filter = *rc::gen::element(0, 1, 2);
	std::string text = "sysctl";
	if (e.ip_forward)
		text += " ip_forward=" + std::to_string(*e.ip_forward);
	if (e.rp_filter)
		text += " rp_filter=" + std::to_string(*e.rp_filter);
	return std::make_shared<RoutingCommand>(e, text);
}

// ip route replace: one of the host's routes put back, or one that sends a pod elsewhere.
CommandPtr route_command(const OverlayModel &m, const Profile &)
{
	Event e;
	e.op = EventOp::route;
	e.route = pick(route_choices(m.kind));
	return std::make_shared<RoutingCommand>(e, "route replace " + route_text(e.route));
}

// ip route del: refused by both pipelines when the table has no route to the prefix.
CommandPtr route_del_command(const OverlayModel &m, const Profile &)
{
	Event e;
	e.op = EventOp::route_del;
	e.route.dst = pick(route_choices(m.kind)).dst;
	return std::make_shared<RoutingCommand>(e, "route del " + to_string(e.route.dst));
}

// ip neigh replace IP lladdr MAC dev DEV nud permanent: a pod's right MAC, or another pod's.
CommandPtr neigh_command(const OverlayModel &m, const Profile &)
{
	Event e;
	e.op = EventOp::neigh;
	e.neighbour = pick(neighbour_choices(m.kind));
	return std::make_shared<RoutingCommand>(e, "neigh replace " + to_string(e.neighbour.ip) + " lladdr " +
							   to_string(e.neighbour.mac) + " dev " + e.neighbour.dev);
}

// Time passes: past ECON's 100 ms guard after a flush, or past the bridge's 300 s FDB ageing.
class Sleep : public Command {
public:
	Sleep(const OverlayModel &, const Profile &p)
	{
		ms_ = p.sleeps_ms.empty() ? *rc::gen::element(std::int64_t{150}, std::int64_t{301'000})
					  : *rc::gen::elementOf(p.sleeps_ms);
	}
	void run(const OverlayModel &, OverlayPair &sut) const override { sut.sleep(ms_ * 1'000'000); }
	void show(std::ostream &os) const override { os << "sleep " << ms_ << " ms"; }

private:
	std::int64_t ms_ = 0;
};

// The generators keep the profile alive themselves: rapidcheck runs them again while it shrinks,
// after the property's own frame (and a temporary profile) is gone.
rc::Gen<CommandPtr> command(const OverlayModel &m, std::shared_ptr<const Profile> profile)
{
	return rc::gen::exec([m, profile]() -> CommandPtr {
		const Profile &p = *profile;
		// A sequence usually starts with a service, so that most cases have somewhere to deliver.
		// (Inside the command sequence, not before it: rapidcheck shrinks a sequence well, and
		// would regenerate the sequence whenever a value drawn before it shrank.)
		if (m.sockets.empty() && !WarmFlows::warm_namespaces(m, p).empty() && percent(p.warm_percent))
			return std::make_shared<WarmFlows>(m, p);
		if (m.sockets.empty() && percent(p.open_first_percent))
			return std::make_shared<OpenServer>(m, p);
		// The commands that mean something on this kind of host: routing only on a routed one,
		// FDB entries only where there is a bridge.
		Profile::Weights w = p.weights;
		if (!is_routed(m.kind))
			w.sysctl = w.route = w.route_del = w.neigh = 0;
		if (m.kind == TopologyKind::calico)
			w.fdb = w.fdb_del = 0;
		if (m.kind != TopologyKind::bridged)
			w.sent = 0;
		// Frames first: a shrunk command tends to become a frame, the commonest kind.
		const std::pair<int, CommandPtr (*)(const OverlayModel &, const Profile &)> kinds[] = {
			{w.frame, [](auto &m, auto &p) -> CommandPtr { return std::make_shared<Frame>(m, p); }},
			{w.tcp_open, [](auto &m, auto &p) -> CommandPtr { return std::make_shared<TcpOpen>(m, p); }},
			{w.open_server,
			 [](auto &m, auto &p) -> CommandPtr { return std::make_shared<OpenServer>(m, p); }},
			{w.open_socket,
			 [](auto &m, auto &p) -> CommandPtr { return std::make_shared<OpenSocket>(m, p); }},
			{w.bind, [](auto &m, auto &p) -> CommandPtr { return std::make_shared<Bind>(m, p); }},
			{w.connect, [](auto &m, auto &p) -> CommandPtr { return std::make_shared<Connect>(m, p); }},
			{w.listen, [](auto &m, auto &p) -> CommandPtr { return std::make_shared<Listen>(m, p); }},
			{w.close, [](auto &m, auto &p) -> CommandPtr { return std::make_shared<Close>(m, p); }},
			{w.close_child,
			 [](auto &m, auto &p) -> CommandPtr { return std::make_shared<CloseChild>(m, p); }},
			{w.link, [](auto &m, auto &p) -> CommandPtr { return std::make_shared<Link>(m, p); }},
			{w.fdb, [](auto &m, auto &p) -> CommandPtr { return std::make_shared<Fdb>(m, p); }},
			{w.fdb_del, [](auto &m, auto &p) -> CommandPtr { return std::make_shared<FdbDel>(m, p); }},
			{w.vni, [](auto &m, auto &p) -> CommandPtr { return std::make_shared<Vni>(m, p); }},
			{w.netns_del, [](auto &m, auto &p) -> CommandPtr { return std::make_shared<NetnsDel>(m, p); }},
			{w.flush, [](auto &m, auto &p) -> CommandPtr { return std::make_shared<Flush>(m, p); }},
			{w.sleep, [](auto &m, auto &p) -> CommandPtr { return std::make_shared<Sleep>(m, p); }},
			{w.sent, [](auto &m, auto &p) -> CommandPtr { return std::make_shared<Sent>(m, p); }},
			{w.sysctl, sysctl_command},
			{w.route, route_command},
			{w.route_del, route_del_command},
			{w.neigh, neigh_command},
		};
		int total = 0;
		for (const auto &[weight, make] : kinds)
			total += weight;
		int chosen = uniform(0, total);
		for (const auto &[weight, make] : kinds) {
			if (chosen < weight)
				return make(m, p);
			chosen -= weight;
		}
		RC_DISCARD("no command has a weight");
	});
}

} // namespace

void overlay_equivalence(FastpathMode candidate, const Profile &profile, const std::optional<std::string> &fail_on)
{
	const int cpus = *rc::gen::elementOf(profile.cpus);
	// Drawn only when there is a choice, so that a bridged-only profile's cases stay as they were.
	const TopologyKind kind =
		profile.topologies.size() > 1 ? *rc::gen::elementOf(profile.topologies) : profile.topologies.front();
	// The same: a profile with one way for the bridges draws nothing.
	const ContainerFdb fdb = profile.container_fdbs.size() > 1 ? *rc::gen::elementOf(profile.container_fdbs)
								   : profile.container_fdbs.front();
	auto shared = std::make_shared<const Profile>(profile);
	{
		OverlayPair sut(cpus, kind, candidate, fail_on, fdb, profile.netfilter);
		// rc::state::check, with the sequence's size at least the profile's minimum.
		OverlayModel start = OverlayModel::initial(kind);
		start.fdb = fdb;
		const auto initial = rc::fn::constant(start);
		auto generate = [shared](const OverlayModel &m) { return command(m, shared); };
		const auto commands = *rc::gen::withSize([=](int size) {
			return rc::gen::resize(std::max(size, shared->min_size),
					       rc::state::gen::commands(initial, generate));
		});
		rc::state::runAll(commands, initial, sut);
		// What the case exercised, for rapidcheck's distribution report.
		auto bucket = [](std::uint64_t n) { return n == 0 ? "0" : n < 5 ? "1-4" : "5+"; };
		std::string stale = "-", removed = "-";
		if (const FlowMap *map = sut.candidate().fastpath().flow_map()) {
			fpmap_stats s = map->total_stats();
			stale = bucket(s.stale);
			removed = bucket(s.invalidated);
		}
		if (std::getenv("ECONSIM_PROPERTY_LOG") &&
		    (std::string(std::getenv("ECONSIM_PROPERTY_LOG")) != "nofast" ||
		     sut.fast_frames() == sut.warm_fast_frames()))
			std::cerr << sut.history() << "\n";
		Coverage &counted = coverage();
		counted.cases++;
		counted.fast += sut.fast_frames() > sut.warm_fast_frames();
		counted.fast_any += sut.fast_frames() > 0;
		for (int kind = 0; kind < FPMAP_EV_MAX; kind++)
			counted.events[kind] += sut.invalidations()[kind];
		counted.fragments_held += sut.held_fragments() > 0;
		counted.fragments_delivered += sut.delivered_datagrams() > 0;
		if (is_routed(kind)) {
			counted.routed_cases++;
			counted.routed_fast += sut.fast_frames() > sut.warm_fast_frames();
			counted.routing_changes += sut.routing_changed_while_held();
			counted.redecided += sut.redecided();
			counted.redecided_elsewhere += sut.redecided_elsewhere();
			for (const std::string &reason : sut.routed_ends())
				counted.routed_ends[reason]++;
		}
		if (profile.netfilter) {
			counted.netfilter_cases++;
			counted.netfilter_dropped += sut.netfilter_drops() > 0;
			counted.netfilter_dropped_on_hit += sut.netfilter_hit_drops() > 0;
		}
		RC_TAG("fast " + std::string(bucket(sut.fast_frames())), "stale rejected " + stale,
		       "removed " + removed);
	}
	RC_ASSERT(FlowMap::live_allocations() == 0L);
}

} // namespace econsim::sim::property
