#include "replay.h"

#include <array>
#include <fstream>
#include <initializer_list>
#include <iomanip>
#include <map>
#include <sstream>
#include <vector>

#include "capture_reader.h"
#include "expectations.h"
#include "host_pipeline.h"
#include "verdict_writer.h"

namespace econsim::sim {

namespace {

// Where a frame ended, as compared with another run or an expectation: the verdict, the socket,
// and for drops and transmits the reason.
bool same_end(const Verdict &a, const Verdict &b)
{
	if (a.verdict != b.verdict)
		return false;
	if (a.verdict == VerdictKind::deliver)
		return a.sock == b.sock;
	if (a.verdict == VerdictKind::drop || a.verdict == VerdictKind::transmit)
		return a.reason == b.reason;
	return true;
}

std::string describe(const Expectation &e)
{
	std::string s(to_string(e.verdict));
	for (std::size_t i = 0; i < e.socks.size(); i++)
		s += (i ? "|" : " ") + e.socks[i];
	if (e.reason)
		s += " (" + *e.reason + ")";
	return s;
}

// Whether a VXLAN device on this bridge has (from the start, or after a `vni` event) this VNI.
bool bridge_has_vni(const Scenario &scenario, const std::string &bridge, std::uint32_t vni)
{
	for (const VxlanDevice &dev : scenario.host.vxlan) {
		if (bridge.empty() || dev.bridge != bridge)
			continue;
		if (dev.vni == vni)
			return true;
		for (const Event &e : scenario.events)
			if (e.op == EventOp::vni && e.dev == dev.name && e.vni == vni)
				return true;
	}
	return false;
}

// A delivery to another tenant: the frame's VNI is some bridge's, but not that of the bridge of
// the socket's container. An accepted TCP connection lives where its listener does.
bool cross_tenant(const Scenario &scenario, std::uint32_t vni, std::string_view sock)
{
	std::string_view opened_as = sock.substr(0, sock.find('/'));
	const Container *container = nullptr;
	for (const Event &e : scenario.events)
		if (e.op == EventOp::socket && e.sock == opened_as)
			container = scenario.find_container(e.ns);
	bool some_tenants = false;
	for (const Bridge &b : scenario.host.bridges)
		some_tenants = some_tenants || bridge_has_vni(scenario, b.name, vni);
	return some_tenants && !bridge_has_vni(scenario, container ? container->bridge : std::string(), vni);
}

// Which of the original patch's faults makes econ mode end somewhere the vanilla kernel does not
// (bug ids of ../shared/reference/econ-spec.md; §3 is its list of events ECON ignores).
std::string econ_cause(const Scenario &scenario, const Verdict &econ, const Verdict &vanilla)
{
	if (econ.reason == "b1_use_after_free")
		return "B1: econ_rx frees the skb on a bad outer header and GRO goes on with it";
	if (econ.reason == "b14_closed_socket")
		return "B4+B14: the close left this entry behind; delivery to a freed socket";
	if (econ.reason == "b17_fragment")
		return "B17: an inner fragment hit the cache and went to udp_rcv alone; no ip_defrag";
	if (econ.verdict == VerdictKind::held)
		return "B17: a fragment of a datagram whose first fragment the fast path took alone: never completed";
	if (econ.reason == "tx_template_mismatch")
		return "B8 (TX): the key hashes ports only; another peer's outer header";
	if (econ.verdict == VerdictKind::deliver && econ.vni && econ.sock &&
	    cross_tenant(scenario, *econ.vni, *econ.sock))
		return "B8: cross-tenant: another VNI's entry, same hash and inner 5-tuple (no VNI/netns in the key)";
	if (econ.verdict == VerdictKind::deliver && vanilla.verdict == VerdictKind::deliver) {
		return "§3: cached socket differs (no invalidation on bind/connect)";
	}
	if (econ.verdict == VerdictKind::deliver && vanilla.verdict == VerdictKind::drop) {
		const std::string why = vanilla.reason.value_or("");
		if (why == "unknown_vni" || why == "vxlan_flags" || why == "vxlan_reserved")
			return "B8/B20: econ_rx checks neither VNI nor VXLAN flags";
		if (why == "bridge_drop" || why.find("down") != std::string::npos || why.find("carrier") != std::string::npos)
			return "§3/B20: device state is not consulted on the fast path";
		if (why == "netfilter_drop")
			return "§3: the host's netfilter (FORWARD, br_netfilter) is bypassed for cached flows";
		for (std::string_view routed : {"rp_filter", "forwarding_disabled", "no_route", "ttl_exceeded", "frag_needed",
						"neigh_unresolved", "martian_source", "martian_destination"})
			if (why == routed)
				return "§1.2: the fast path skips the host's routing (ip_route_input, ip_forward, neighbour)";
		return "§3: no invalidation on socket changes; a stale socket";
	}
	return "§3: the fast path bypasses a stage that decided otherwise";
}

struct Disagreement {
	std::uint64_t pkt;
	std::string line;
};

// Counts by id while the replay runs; names only when printed. Each list is printed in the order
// of its names, as the summary has always listed them.
class Summary {
public:
	void count(const Verdict &v)
	{
		frames_++;
		by_dir_[static_cast<std::size_t>(v.dir)]++;
		if (v.path)
			by_path_[static_cast<std::size_t>(*v.path)]++;
		by_verdict_[static_cast<std::size_t>(v.verdict)]++;
		if (v.verdict == VerdictKind::drop)
			add(drops_, v.reason ? std::string_view(*v.reason) : "?");
		if (v.verdict == VerdictKind::ignore)
			add(ignored_, v.reason ? std::string_view(*v.reason) : "?");
		if (v.verdict == VerdictKind::transmit && v.reason)
			add(tx_mismatches_, *v.reason);
	}

	// Captures taken on the host carry checksums the kernel never verifies (CHECKSUM_PARTIAL on
	// veth, offloads): counted so a reader knows, not enforced.
	void count_unverified_checksum(const ParsedFrame &f)
	{
		constexpr std::uint64_t unverified = std::uint64_t{1} << static_cast<unsigned>(ParseReason::bad_udp_checksum) |
						     std::uint64_t{1} << static_cast<unsigned>(ParseReason::bad_tcp_checksum) |
						     std::uint64_t{1} << static_cast<unsigned>(ParseReason::inner_bad_udp_checksum) |
						     std::uint64_t{1} << static_cast<unsigned>(ParseReason::inner_bad_tcp_checksum);
		if (f.reasons & unverified)
			l4_checksums_unverified_++;
	}

	void print(std::ostream &out) const
	{
		out << "frames " << frames_ << ":";
		list(out, by_dir_, {Direction::other, Direction::rx, Direction::tx});
		out << "paths:";
		list(out, by_path_, {Path::fast, Path::slow});
		out << "verdicts:";
		list(out, by_verdict_,
		     {VerdictKind::deliver, VerdictKind::drop, VerdictKind::held, VerdictKind::ignore, VerdictKind::transmit});
		if (!drops_.empty()) {
			out << "drops by reason:";
			list(out, drops_);
		}
		if (!ignored_.empty()) {
			out << "ignored by reason:";
			list(out, ignored_);
		}
		if (l4_checksums_unverified_)
			out << "frames with an L4 checksum the capture cannot vouch for (not enforced): "
			    << l4_checksums_unverified_ << "\n";
		out << "transmit checks: " << by_verdict_[static_cast<std::size_t>(VerdictKind::transmit)] << " frames";
		if (tx_mismatches_.empty()) {
			out << ", no mismatch\n";
		} else {
			out << ", mismatches:";
			list(out, tx_mismatches_);
		}
	}

private:
	using ByName = std::map<std::string, std::uint64_t, std::less<>>;

	static void add(ByName &counts, std::string_view what)
	{
		if (auto it = counts.find(what); it != counts.end())
			it->second++;
		else
			counts.emplace(std::string(what), 1);
	}

	// `in_name_order`: the ids, sorted by their names; ids never counted are left out.
	template <class Id, std::size_t N>
	static void list(std::ostream &out, const std::array<std::uint64_t, N> &counts, std::initializer_list<Id> in_name_order)
	{
		const char *sep = " ";
		for (Id id : in_name_order) {
			if (std::uint64_t n = counts[static_cast<std::size_t>(id)]) {
				out << sep << to_string(id) << " " << n;
				sep = ", ";
			}
		}
		out << "\n";
	}

	static void list(std::ostream &out, const ByName &counts)
	{
		const char *sep = " ";
		for (const auto &[what, n] : counts) {
			out << sep << what << " " << n;
			sep = ", ";
		}
		out << "\n";
	}

	std::uint64_t frames_ = 0;
	std::uint64_t l4_checksums_unverified_ = 0;
	std::array<std::uint64_t, 3> by_dir_{};
	std::array<std::uint64_t, 2> by_path_{};
	std::array<std::uint64_t, 5> by_verdict_{};
	ByName drops_, ignored_, tx_mismatches_;
};

void list_disagreements(std::ostream &out, const std::vector<Disagreement> &first, std::uint64_t total)
{
	for (const Disagreement &d : first)
		out << "  pkt " << d.pkt << ": " << d.line << "\n";
	if (total > first.size())
		out << "  ... and " << total - first.size() << " more\n";
}

int bad_input(std::ostream &err, const std::runtime_error &e)
{
	err << "econ-sim: " << e.what() << "\n";
	return kExitBadInput;
}

FastpathMode chosen_mode(const Scenario &scenario, const std::optional<FastpathMode> &override)
{
	return override ? *override : scenario.mode.value_or(FastpathMode::off);
}

} // namespace

int run_replay(const ReplayOptions &options, std::ostream &out, std::ostream &err)
{
	try {
		Scenario scenario = load_scenario(options.scenario);
		FastpathMode mode = chosen_mode(scenario, options.mode);
		// --check runs the vanilla (off) pipeline beside the chosen one: in off mode that is the
		// same code twice, a comparison that cannot fail, so it is refused rather than reported.
		if (options.check && mode == FastpathMode::off) {
			err << "econ-sim: --check compares a fast-path mode with vanilla, and the mode is off ("
			    << (options.mode     ? std::string("--mode off")
				: scenario.mode ? options.scenario + "'s mode"
						: options.scenario + " names none, so off")
			    << "): choose --mode fixed or econ, or leave out --check (--expect still checks off mode)\n";
			return kExitBadInput;
		}
		std::optional<Expectations> expectations;
		if (options.expect)
			expectations = load_expectations(*options.expect);
		std::optional<VerdictWriter> writer;
		if (options.verdicts)
			writer.emplace(*options.verdicts);

		HostPipeline pipeline(scenario, mode);
		std::optional<HostPipeline> vanilla;
		if (options.check)
			vanilla.emplace(scenario, FastpathMode::off);
		CaptureReader reader(options.capture);

		std::optional<timing::TimedReplay> timed;
		if (options.timing)
			timed.emplace(pipeline, scenario, *options.timing);

		Summary summary;
		std::uint64_t checked = 0, unmet = 0, mismatches = 0;
		std::vector<Disagreement> first_unmet, first_mismatches;
		// A bad frame or a refused event stops the replay; what came before is still summarised.
		std::optional<std::string> input_error;
		auto handle = [&](const CaptureFrame &frame, const Packet &p) {
			const Verdict &v = p.verdict;
			summary.count(v);
			summary.count_unverified_checksum(p.parsed);
			if (writer)
				writer->write(v);
			if (const Expectation *e = expectations ? expectations->find(v.pkt) : nullptr) {
				checked++;
				if (!e->met_by(v) && ++unmet <= options.listed)
					first_unmet.push_back({v.pkt, "expected " + describe(*e) + ", got " + describe_end(v)});
			}
			if (vanilla) {
				const Verdict &slow = vanilla->process(frame).verdict;
				if (!same_end(v, slow) && ++mismatches <= options.listed) {
					std::string line = std::string(to_string(mode)) + " → " + describe_end(v) +
							   ", vanilla → " + describe_end(slow);
					if (mode == FastpathMode::econ)
						line += "  [" + econ_cause(scenario, v, slow) + "]";
					first_mismatches.push_back({v.pkt, line});
				}
			}
			if (options.progress && frame.number % 65536 == 0)
				err << "\r" << frame.number << " frames" << std::flush;
		};
		try {
			if (timed) {
				timed->run(reader, handle);
			} else {
				while (auto frame = reader.next())
					handle(*frame, pipeline.process(*frame));
			}
			pipeline.finish();
			if (vanilla)
				vanilla->finish();
		} catch (const CaptureError &e) {
			input_error = e.what();
		} catch (const ScenarioError &e) {
			input_error = e.what();
		}
		if (options.progress)
			err << "\r" << std::string(30, ' ') << "\r" << std::flush;
		if (writer)
			writer->flush();

		out << "econ-sim replay: " << options.capture << " with " << options.scenario << ", mode "
		    << to_string(mode) << "\n";
		summary.print(out);
		pipeline.summarize_fastpath(out);
		pipeline.summarize_defrag(out);
		pipeline.summarize_netfilter(out);
		pipeline.summarize_stages(out);
		if (timed)
			timed->summarize(out);
		if (expectations) {
			out << "expectations: " << checked << " checked, " << checked - unmet << " met, " << unmet
			    << " unmet\n";
			list_disagreements(out, first_unmet, unmet);
		}
		if (vanilla) {
			out << "check against vanilla: " << mismatches << " mismatches\n";
			list_disagreements(out, first_mismatches, mismatches);
		}
		if (input_error) {
			err << "econ-sim: " << *input_error << "\n";
			return kExitBadInput;
		}
		return unmet || mismatches ? kExitDisagreement : kExitOk;
	} catch (const std::runtime_error &e) { // InputError, CaptureError, an unwritable output
		return bad_input(err, e);
	}
}

int run_trace(const TraceOptions &options, std::ostream &out, std::ostream &err)
{
	try {
		Scenario scenario = load_scenario(options.scenario);
		FastpathMode mode = chosen_mode(scenario, options.mode);
		HostPipeline pipeline(scenario, mode);
		CaptureReader reader(options.capture);
		std::ostringstream text;
		bool found = false;
		while (auto frame = reader.next()) {
			bool traced = frame->number == options.pkt;
			const Packet &p = pipeline.process(*frame, traced);
			if (!traced)
				continue;
			text << "frame " << p.number << " at " << format_timestamp(p.ts_ns) << ", " << frame->wire_length
			     << " bytes, mode " << to_string(mode) << "\n";
			for (const TraceStep &s : p.steps) {
				text << "  " << std::left << std::setw(17) << stage_name(s.stage) << s.decision;
				if (!s.why.empty())
					text << "\n  " << std::string(17, ' ') << "  " << s.why;
				text << "\n";
			}
			text << format_verdict(p.verdict) << "\n";
			found = true;
			break;
		}
		if (!found) {
			err << "econ-sim: " << options.capture << " has no frame " << options.pkt << "\n";
			return kExitBadInput;
		}
		if (options.golden && options.update) {
			std::ofstream golden(*options.golden);
			golden << text.str();
			if (!golden)
				throw std::runtime_error("cannot write " + *options.golden);
			out << "updated " << *options.golden << "\n";
			return kExitOk;
		}
		out << text.str();
		if (options.golden) {
			std::optional<std::string> expected = read_input_file(*options.golden);
			if (!expected) {
				err << "econ-sim: cannot read " << *options.golden << " (regenerate with --update)\n";
				return kExitBadInput;
			}
			if (*expected != text.str()) {
				err << "econ-sim: the trace differs from " << *options.golden << "\n";
				return kExitDisagreement;
			}
		}
		return kExitOk;
	} catch (const std::runtime_error &e) { // InputError, CaptureError, an unwritable output
		return bad_input(err, e);
	}
}

} // namespace econsim::sim
