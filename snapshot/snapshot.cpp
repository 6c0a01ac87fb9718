// econ-sim snapshot: discovery, the first read, the capture with the socket timeline, the
// scenario checked by the simulator's own loader and model, and the report.
#include "snapshot.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "capture_reader.h"
#include "frame_parser.h"
#include "host_pipeline.h"
#include "plan.h"
#include "probe.h"
#include "scenario.h"
#include "timeline.h"

namespace econsim::snapshot {

namespace {

namespace fs = std::filesystem;

constexpr const char *kUsage =
	"usage: econ-sim snapshot --out DIR [--capture SECONDS] [--iface NIC] [--netns NAME|PATH]\n"
	"                         [--poll-ms N]\n"
	"Run as root. Writes DIR/scenario.yaml, DIR/trace.pcap and DIR/snapshot-report.md.\n";

// Ctrl-C (or TERM) during the capture ends it early; the files are still written.
volatile std::sig_atomic_t g_stop = 0;

void on_stop_signal(int)
{
	g_stop = 1;
}

std::int64_t now_ns()
{
	timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

struct Options {
	std::string out, iface, netns;
	std::int64_t capture_ns = 0;
	std::int64_t poll_ns = 10'000'000;
	std::string command_line;
};

std::optional<std::int64_t> parse_seconds(std::string_view text)
{
	// "20", "0.5": decimal seconds, at most a day, nanoseconds at most.
	std::int64_t whole = 0, frac = 0;
	auto dot = text.find('.');
	std::string_view w = text.substr(0, dot), f = dot == std::string_view::npos ? "" : text.substr(dot + 1);
	if (w.empty() || f.size() > 9)
		return std::nullopt;
	auto [e1, r1] = std::from_chars(w.data(), w.data() + w.size(), whole);
	if (r1 != std::errc() || e1 != w.data() + w.size() || whole > 86400)
		return std::nullopt;
	if (!f.empty()) {
		auto [e2, r2] = std::from_chars(f.data(), f.data() + f.size(), frac);
		if (r2 != std::errc() || e2 != f.data() + f.size())
			return std::nullopt;
		for (std::size_t i = f.size(); i < 9; i++)
			frac *= 10;
	}
	return whole * 1000000000 + frac;
}

// The sockets of the namespaces the scenario models, read once more; timings for the windows.
void read_all(std::vector<Namespace> &nss, const Plan &plan, Timeline &tl, std::set<std::size_t> &failed,
	      std::vector<std::string> &problems)
{
	for (const auto &[index, name] : plan.ns_name) {
		if (failed.count(index))
			continue;
		std::string problem;
		std::int64_t start = now_ns();
		std::vector<Sock> socks = read_sockets(nss[index], false, &problem);
		if (!problem.empty()) {
			problems.push_back(name + ": " + problem + "; its sockets are no longer followed");
			failed.insert(index);
			continue;
		}
		tl.read(index, socks, start, now_ns());
	}
}

// The namespaces some process is in: (dev, inode) of every /proc/PID/ns/net, in one pass.
std::set<std::pair<std::uint64_t, std::uint64_t>> namespaces_in_use()
{
	std::set<std::pair<std::uint64_t, std::uint64_t>> in_use;
	std::error_code ec;
	for (const auto &e : fs::directory_iterator("/proc", fs::directory_options::skip_permission_denied, ec)) {
		const std::string n = e.path().filename();
		struct stat st;
		if (!n.empty() && std::isdigit(static_cast<unsigned char>(n[0])) &&
		    stat((e.path() / "ns/net").c_str(), &st) == 0)
			in_use.insert({st.st_dev, st.st_ino});
	}
	return in_use;
}

// Whether the namespace is still there for anyone but us: its /run/netns name, or a process in it.
bool namespace_present(const Namespace &ns, const std::set<std::pair<std::uint64_t, std::uint64_t>> &in_use)
{
	struct stat st;
	if (ns.origin.rfind("/run/netns/", 0) == 0)
		return stat(ns.origin.c_str(), &st) == 0 && st.st_ino == ns.inode && st.st_dev == ns.dev;
	return in_use.count({ns.dev, ns.inode}) != 0;
}

struct CaptureStats {
	bool ran = false;
	std::string problem;
	std::uint64_t frames = 0, dropped = 0, if_dropped = 0;
	std::int64_t start = 0, end = 0;
	int polls = 0;
	std::int64_t worst_read_ns = 0;
};

// Captures plan.nic for opt.capture_ns into path while following the sockets.
CaptureStats capture(std::vector<Namespace> &nss, const Plan &plan, const Options &opt, Timeline &tl,
		     std::set<std::size_t> &failed, std::vector<std::string> &problems, const std::string &path)
{
	CaptureStats cs;
	int own = nss[0].fd;
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	pcap_t *pc = nullptr;
	std::string why;
	bool entered = in_namespace(
		nss[plan.host_ns], own,
		[&] {
			pc = pcap_create(plan.nic.c_str(), errbuf);
			if (!pc)
				return;
			pcap_set_snaplen(pc, 262144);
			pcap_set_promisc(pc, 0); // read-only: the NIC's promiscuous mode stays as it is
			pcap_set_immediate_mode(pc, 1);
			pcap_set_buffer_size(pc, 64 << 20);
			if (pcap_activate(pc) < 0) {
				snprintf(errbuf, sizeof(errbuf), "%s", pcap_geterr(pc));
				pcap_close(pc);
				pc = nullptr;
			} else if (!sim::is_supported_link_type(pcap_datalink(pc))) {
				// A capture the replay cannot decode would make the snapshot unreplayable.
				snprintf(errbuf, sizeof(errbuf), "its link type %s is not one the replay decodes",
					 pcap_datalink_val_to_name(pcap_datalink(pc))
						 ? pcap_datalink_val_to_name(pcap_datalink(pc))
						 : "?");
				pcap_close(pc);
				pc = nullptr;
			}
		},
		&why);
	if (!entered || !pc) {
		cs.problem = "no capture of " + plan.nic + ": " + (entered ? std::string(errbuf) : why) +
			     "; trace.pcap is empty and socket changes were not followed";
		return cs;
	}
	pcap_dumper_t *dump = pcap_dump_open(pc, path.c_str());
	if (!dump) {
		cs.problem = std::string("cannot write ") + path + ": " + pcap_geterr(pc);
		pcap_close(pc);
		return cs;
	}
	pcap_setnonblock(pc, 1, errbuf);

	// sock_diag's destroy notifications, one socket per group and namespace (as `ss -E`).
	struct Listener {
		std::size_t ns;
		Proto proto;
		Netlink nl;
	};
	std::vector<Listener> listeners;
	for (const auto &[index, name] : plan.ns_name) {
		for (Proto proto : {Proto::udp, Proto::tcp}) {
			std::string err;
			try {
				Listener l{index, proto, {}};
				if (!in_namespace(
					    nss[index], own, [&] { l.nl = Netlink(NETLINK_SOCK_DIAG); }, &err))
					throw NetlinkError(err);
				l.nl.join(proto == Proto::udp ? SKNLGRP_INET_UDP_DESTROY : SKNLGRP_INET_TCP_DESTROY);
				listeners.push_back(std::move(l));
			} catch (const NetlinkError &e) {
				problems.push_back(name + ": no destroy notifications (" + e.what() +
						   "); closes are seen by the periodic reads only");
			}
		}
	}

	cs.ran = true;
	cs.start = now_ns();
	std::int64_t end = cs.start + opt.capture_ns, next_read = cs.start, next_rescan = cs.start + 1'000'000'000;
	std::int64_t last_rescan = cs.start;
	auto handle_pcap = [&] {
		pcap_dispatch(
			pc, -1,
			[](u_char *user, const pcap_pkthdr *h, const u_char *bytes) { pcap_dump(user, h, bytes); },
			reinterpret_cast<u_char *>(dump));
	};
	struct sigaction sa = {}, old_int = {}, old_term = {};
	sa.sa_handler = on_stop_signal;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	for (;;) {
		std::int64_t now = now_ns();
		if (now >= end || g_stop) {
			if (g_stop)
				problems.push_back("the capture was interrupted after " +
						   std::to_string((now - cs.start) / 1000000) + " ms of the " +
						   std::to_string(opt.capture_ns / 1000000) + " asked");
			break;
		}
		if (now >= next_read) {
			std::int64_t t = now_ns();
			read_all(nss, plan, tl, failed, problems);
			cs.worst_read_ns = std::max(cs.worst_read_ns, now_ns() - t);
			cs.polls++;
			next_read += opt.poll_ns;
			if (next_read <= now_ns()) // reads slower than the interval: read again at once, no backlog
				next_read = now_ns();
		}
		if (now >= next_rescan) {
			auto in_use = namespaces_in_use();
			for (const auto &[index, name] : plan.ns_name)
				if (index != plan.host_ns && !failed.count(index) &&
				    !namespace_present(nss[index], in_use)) {
					tl.namespace_gone(index, last_rescan, now_ns());
					failed.insert(index);
				}
			last_rescan = now;
			next_rescan = now + 1'000'000'000;
		}
		std::vector<pollfd> fds;
		fds.push_back({pcap_get_selectable_fd(pc), POLLIN, 0});
		for (const Listener &l : listeners)
			fds.push_back({l.nl.fd(), POLLIN, 0});
		std::int64_t wait = std::min({next_read, end, next_rescan}) - now_ns();
		timespec ts{static_cast<time_t>(std::max<std::int64_t>(wait, 0) / 1000000000),
			    static_cast<long>(std::max<std::int64_t>(wait, 0) % 1000000000)};
		ppoll(fds.data(), fds.size(), &ts, nullptr);
		handle_pcap();
		for (std::size_t i = 0; i < listeners.size(); i++) {
			if (!(fds[i + 1].revents & POLLIN))
				continue;
			std::int64_t t = now_ns();
			try {
				listeners[i].nl.receive([&](const nlmsghdr &h) {
					if (auto s = parse_diag_msg(h, listeners[i].proto))
						tl.destroyed(listeners[i].ns, *s, t);
				});
			} catch (const NetlinkError &e) {
				problems.push_back(plan.ns_name.at(listeners[i].ns) + ": " + e.what() + " at " +
						   time_text(t) + "; the next read found what was left");
			}
		}
	}
	sigaction(SIGINT, &old_int, nullptr);
	sigaction(SIGTERM, &old_term, nullptr);
	// Frames already in the kernel's buffer when time was up belong to the capture too.
	handle_pcap();
	read_all(nss, plan, tl, failed, problems);
	cs.end = now_ns();
	pcap_stat st{};
	if (pcap_stats(pc, &st) == 0) {
		cs.frames = st.ps_recv;
		cs.dropped = st.ps_drop;
		cs.if_dropped = st.ps_ifdrop;
	}
	pcap_dump_close(dump);
	pcap_close(pc);
	return cs;
}

void write_empty_capture(const std::string &path)
{
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 262144);
	if (pcap_dumper_t *d = pcap_dump_open(dead, path.c_str()))
		pcap_dump_close(d);
	pcap_close(dead);
}

struct Written {
	std::string text;
	std::size_t events = 0;
};

// The scenario text; drops (and notes) what the loader or the model refuses until it loads and
// its whole timeline applies along the capture. Never throws.
Written write_scenario(const std::string &path, const std::string &capture, Plan &plan, const Timeline &tl,
		       Timeline::Result &result, std::vector<std::string> &notes)
{
	bool with_frames = true;
	std::map<std::string, std::string> excluded;
	for (int attempt = 0;; attempt++) {
		result = tl.result(excluded);
		std::vector<std::string> lines, owners;
		write_host_yaml(plan, lines, owners);
		lines.push_back("fastpath:");
		owners.emplace_back();
		lines.push_back("  mode: off");
		owners.emplace_back();
		if (!result.events.empty()) {
			lines.push_back("events:");
			owners.emplace_back();
		}
		for (const TimedEvent &e : result.events) {
			lines.push_back("  - {t: " + time_text(e.t) + ", " + e.text + "}");
			owners.push_back(e.sock.empty() ? "ns:" + e.text.substr(e.text.rfind(' ') + 1)
							: "sock:" + e.sock);
		}
		std::string text;
		for (const std::string &l : lines)
			text += l + "\n";
		try {
			sim::Scenario s = sim::parse_scenario(text, path);
			// The timeline along the capture: accepted TCP connections exist in the model only
			// once their handshake has been replayed, and a later close needs them. Events are
			// the model's, the same in every mode; the other modes only need to accept the node.
			sim::HostPipeline(s, sim::FastpathMode::fixed);
			sim::HostPipeline(s, sim::FastpathMode::econ);
			sim::HostPipeline pipeline(s, sim::FastpathMode::off);
			if (with_frames) {
				try {
					sim::CaptureReader reader(capture);
					while (auto frame = reader.next())
						pipeline.process(*frame);
				} catch (const sim::CaptureError &e) {
					notes.push_back(
						std::string("the scenario was checked without the capture, which "
							    "the replay cannot read: ") +
						e.what());
					with_frames = false;
					continue;
				}
			}
			pipeline.finish();
			return {text, result.events.size()};
		} catch (const sim::InputError &e) {
			int line = e.line();
			std::string owner =
				line >= 1 && static_cast<std::size_t>(line) <= owners.size() ? owners[line - 1] : "";
			std::string why = e.what();
			if (owner.rfind("sock:", 0) == 0 || owner.rfind("ns:", 0) == 0) {
				std::string name = owner.substr(owner.find(':') + 1);
				std::string key = owner.rfind("ns:", 0) == 0 ? owner : name;
				if (!excluded.count(key)) {
					excluded[key] = why;
					notes.push_back((owner[0] == 's' ? "socket " : "namespace event ") + name +
							" left out: the simulator refused it (" + why + ")");
					continue;
				}
			}
			if (!owner.empty() && drop_item(plan, owner, why))
				continue;
			if (attempt > 0 && !plan.containers.empty()) {
				// Nothing names a culprit: keep the node, its devices and no timeline.
				notes.push_back("the simulator refused the scenario (" + why +
						"); the containers and the timeline are left out");
				for (const PlanContainer &c : plan.containers)
					plan.ns_name.erase(c.ns);
				plan.containers.clear();
				plan.bridges.clear();
				plan.vxlan.clear();
				excluded.clear();
				continue;
			}
			notes.push_back("the simulator refused even the bare node (" + why + ")");
			return {text, result.events.size()};
		} catch (const std::exception &e) {
			notes.push_back(std::string("checking the scenario failed: ") + e.what());
			return {text, result.events.size()};
		}
	}
}

// "3-5,9": frame numbers as ranges.
std::string ranges(const std::vector<std::uint64_t> &v)
{
	std::string out;
	for (std::size_t i = 0; i < v.size();) {
		std::size_t j = i;
		while (j + 1 < v.size() && v[j + 1] == v[j] + 1)
			j++;
		out += (out.empty() ? "" : ",") + std::to_string(v[i]) + (j > i ? "-" + std::to_string(v[j]) : "");
		i = j + 1;
	}
	return out;
}

// Frames whose fate depends on when an uncertain event happened: in a window (with 1 ms of slack
// for the capture's and the reads' clocks) and on its port, inner or outer, when the frame has one.
std::vector<std::uint64_t> flag_frames(const std::string &capture, const std::string &scenario_text,
				       const std::vector<Window> &windows,
				       std::map<std::string, std::size_t> &by_window, std::string &problem)
{
	std::vector<std::uint64_t> flagged;
	if (windows.empty())
		return flagged;
	try {
		sim::Scenario s = sim::parse_scenario(scenario_text, "scenario.yaml");
		sim::ParserConfig config = sim::parser_config(s);
		sim::CaptureReader reader(capture);
		constexpr std::int64_t slack = 1'000'000;
		// Windows by start; frames come in time order (a live capture from several CPUs may be out
		// of order by microseconds: a window is dropped only a second after its end).
		std::vector<const Window *> pending;
		for (const Window &w : windows)
			pending.push_back(&w);
		std::sort(pending.begin(), pending.end(), [](auto a, auto b) { return a->lo < b->lo; });
		std::vector<const Window *> open;
		std::size_t next = 0;
		auto lo = [&](const Window *w) {
			return w->lo == std::numeric_limits<std::int64_t>::min() ? w->lo : w->lo - slack;
		};
		auto hi = [&](const Window *w) {
			return w->hi == std::numeric_limits<std::int64_t>::max() ? w->hi : w->hi + slack;
		};
		while (auto f = reader.next()) {
			std::int64_t ts = f->timestamp_ns;
			while (next < pending.size() && lo(pending[next]) <= ts)
				open.push_back(pending[next++]);
			std::erase_if(open, [&](const Window *w) { return hi(w) < ts - 1'000'000'000; });
			sim::ParsedFrame p = sim::parse_frame(f->bytes, f->wire_length, f->link_type, config);
			const sim::TransportHeader *l4 = p.inner_l4   ? &*p.inner_l4
							 : p.outer_l4 ? &*p.outer_l4
								      : nullptr;
			bool ports = l4 && l4->has_ports();
			for (const Window *w : open) {
				if (ts < lo(w) || ts > hi(w))
					continue;
				if (w->port && ports && l4->src_port != w->port && l4->dst_port != w->port)
					continue;
				flagged.push_back(f->number);
				by_window[w->what]++;
				break;
			}
		}
	} catch (const std::exception &e) {
		problem = std::string("reading the capture back to flag frames: ") + e.what();
	}
	return flagged;
}

void bullet_list(std::ostream &r, const std::vector<std::string> &items, const char *none)
{
	if (items.empty())
		r << none << "\n";
	for (const std::string &i : items)
		r << "- " << i << "\n";
}

} // namespace

int run_snapshot(const std::vector<std::string_view> &args, std::ostream &out, std::ostream &err)
{
	Options opt;
	opt.command_line = "econ-sim snapshot";
	for (std::size_t i = 0; i < args.size(); i++) {
		std::string_view a = args[i];
		opt.command_line += " " + std::string(a);
		bool has_value = i + 1 < args.size();
		auto value = [&] {
			opt.command_line += " " + std::string(args[i + 1]);
			return std::string(args[++i]);
		};
		if (a == "--out" && has_value) {
			opt.out = value();
		} else if (a == "--iface" && has_value) {
			opt.iface = value();
		} else if (a == "--netns" && has_value) {
			opt.netns = value();
		} else if (a == "--capture" && has_value) {
			std::string v = value();
			auto s = parse_seconds(v);
			if (!s) {
				err << "econ-sim: --capture needs seconds (0 to 86400, e.g. 20 or 0.5), not '" << v
				    << "'\n"
				    << kUsage;
				return 2;
			}
			opt.capture_ns = *s;
		} else if (a == "--poll-ms" && has_value) {
			std::string v = value();
			int ms = 0;
			auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
			if (ec != std::errc() || end != v.data() + v.size() || ms < 1 || ms > 60000) {
				err << "econ-sim: --poll-ms needs milliseconds from 1 to 60000, not '" << v << "'\n"
				    << kUsage;
				return 2;
			}
			opt.poll_ns = static_cast<std::int64_t>(ms) * 1'000'000;
		} else {
			err << "econ-sim: unknown or incomplete option " << a << "\n" << kUsage;
			return 2;
		}
	}
	if (opt.out.empty()) {
		err << "econ-sim: snapshot needs --out DIR\n" << kUsage;
		return 2;
	}
	if (geteuid() != 0) {
		err << "econ-sim: snapshot needs root: it enters every network namespace (setns) and joins "
		       "sock_diag's destroy groups (CAP_NET_ADMIN)\n";
		return 2;
	}
	std::error_code ec;
	fs::create_directories(opt.out, ec);
	std::string scenario_path = opt.out + "/scenario.yaml", pcap_path = opt.out + "/trace.pcap",
		    report_path = opt.out + "/snapshot-report.md";
	{
		std::ofstream probe(report_path);
		if (ec || !probe) {
			err << "econ-sim: " << opt.out << ": cannot write there" << (ec ? ": " + ec.message() : "")
			    << "\n";
			return 2;
		}
	}

	std::int64_t t0 = now_ns();
	Discovery d = discover_namespaces();
	std::vector<Namespace> &nss = d.namespaces;
	int own = nss[0].fd;
	std::vector<std::string> problems = d.unreadable;
	for (Namespace &ns : nss) {
		std::string why;
		bool ok = in_namespace(
			ns, own,
			[&] {
				try {
					ns.rtnl = Netlink(NETLINK_ROUTE);
					ns.diag = Netlink(NETLINK_SOCK_DIAG);
				} catch (const NetlinkError &e) {
					why = e.what();
				}
			},
			&why);
		if (!ok || !ns.rtnl.valid() || !ns.diag.valid()) {
			ns.problems.push_back("cannot open netlink in it: " + why);
			continue;
		}
		read_namespace(ns);
		read_namespace_sysctls(ns, own);
	}

	std::size_t host = 0;
	if (!opt.netns.empty()) {
		std::string p = opt.netns.find('/') == std::string::npos ? "/run/netns/" + opt.netns : opt.netns;
		struct stat st;
		bool found = false;
		if (stat(p.c_str(), &st) == 0)
			for (std::size_t i = 0; i < nss.size(); i++)
				if (nss[i].inode == st.st_ino && nss[i].dev == st.st_dev) {
					host = i;
					found = true;
				}
		if (!found) {
			err << "econ-sim: --netns " << opt.netns << ": no network namespace at " << p << "\n";
			return 2;
		}
	}
	Plan plan = make_plan(nss, host, opt.iface);

	// The state at the start: every modelled namespace's sockets, IPv6 ones counted for the report.
	std::set<std::uint16_t> tunnel_ports;
	for (const PlanVxlan &v : plan.vxlan)
		tunnel_ports.insert(v.port);
	Timeline tl(plan.ns_name, tunnel_ports);
	std::set<std::size_t> failed;
	std::vector<std::string> sock_notes;
	std::map<std::string, std::size_t> unmodelled_socks;
	for (std::size_t i = 0; i < nss.size(); i++) {
		std::string problem;
		std::int64_t start = now_ns();
		std::vector<Sock> socks =
			nss[i].diag.valid() ? read_sockets(nss[i], true, &problem) : std::vector<Sock>{};
		if (!problem.empty())
			nss[i].problems.push_back(problem);
		const std::string *sname = plan.scenario_ns(i);
		if (!sname) {
			if (!socks.empty())
				unmodelled_socks[nss[i].name] = socks.size();
			continue;
		}
		std::vector<std::string> dual, v6;
		for (const Sock &s : socks)
			if (s.family == AF_INET6)
				((s.local_ip == "::" && !s.v6only) ? dual : v6).push_back(s.key());
		if (!dual.empty())
			sock_notes.push_back(*sname + ": " + std::to_string(dual.size()) +
					     " IPv6 wildcard sockets that take IPv4 too (not IPV6_V6ONLY), not in the "
					     "scenario (its sockets are IPv4): IPv4 frames to them replay as drops: " +
					     [&] {
						     std::string s;
						     for (std::size_t k = 0; k < dual.size() && k < 10; k++)
							     s += (k ? ", " : "") + dual[k];
						     return s + (dual.size() > 10 ? ", ..." : "");
					     }());
		if (!v6.empty())
			sock_notes.push_back(*sname + ": " + std::to_string(v6.size()) +
					     " IPv6-only sockets, not in the scenario (no IPv6 in the model)");
		tl.read(i, socks, start, start); // the first read: these exist from the start
	}

	CaptureStats cs;
	if (opt.capture_ns > 0)
		cs = capture(nss, plan, opt, tl, failed, problems, pcap_path);
	if (!cs.ran)
		write_empty_capture(pcap_path);
	if (!cs.problem.empty())
		problems.push_back(cs.problem);

	std::vector<std::string> scenario_notes;
	Timeline::Result result;
	Written w = write_scenario(scenario_path, pcap_path, plan, tl, result, scenario_notes);
	{
		std::ofstream s(scenario_path);
		utsname u{};
		uname(&u);
		s << "# econ-sim snapshot of " << plan.host_name << " (Linux " << u.release << "), " << time_text(t0)
		  << "; see snapshot-report.md\n"
		  << w.text;
		if (!s) {
			err << "econ-sim: cannot write " << scenario_path << "\n";
			return 2;
		}
	}
	std::map<std::string, std::size_t> by_window;
	std::string flag_problem;
	std::vector<std::uint64_t> flagged =
		cs.ran ? flag_frames(pcap_path, w.text, result.windows, by_window, flag_problem)
		       : std::vector<std::uint64_t>{};
	if (!flag_problem.empty())
		problems.push_back(flag_problem);

	// ---- the report ---------------------------------------------------------------------------
	std::ofstream r(report_path);
	utsname u{};
	uname(&u);
	r << "# Snapshot of " << plan.host_name << "\n\n"
	  << "`" << opt.command_line << "`, started " << time_text(t0) << " (CLOCK_REALTIME), Linux " << u.release
	  << ".\nReplay it: `econ-sim replay --scenario scenario.yaml --mode off|econ|fixed --check trace.pcap`.\n\n";
	r << "## What it found\n\n";
	r << "- " << nss.size() << " network namespaces:\n";
	for (std::size_t i = 0; i < nss.size(); i++) {
		const Namespace &ns = nss[i];
		const std::string *sname = plan.scenario_ns(i);
		r << "  - `" << ns.name << "` (" << ns.origin << ")" << (sname ? " as `" + *sname + "`" : "") << ": "
		  << ns.links.size() << " devices, " << ns.addrs.size() << " addresses, " << ns.routes.size()
		  << " IPv4 routes, " << ns.neighs.size() << " neighbours, " << ns.fdb.size() << " FDB entries\n";
	}
	bullet_list(r, plan.found, "");
	bullet_list(r, result.found, "");
	r << "- " << result.sockets << " sockets in the scenario, " << result.changes
	  << " socket or namespace changes during the capture\n";
	for (const auto &[name, n] : unmodelled_socks)
		r << "- namespace `" << name << "` (not modelled) has " << n << " UDP/TCP sockets\n";
	if (cs.ran)
		r << "- capture of " << plan.nic << ": " << time_text(cs.start) << " to " << time_text(cs.end) << ", "
		  << cs.frames << " frames received by the filter, " << cs.dropped << " dropped by the kernel, "
		  << cs.if_dropped << " by the interface; " << cs.polls << " socket reads (every "
		  << opt.poll_ns / 1000000 << " ms asked, the slowest took " << cs.worst_read_ns / 1000 << " us)\n";
	else
		r << "- no capture (without --capture): trace.pcap has no frames\n";

	r << "\n## What it could not represent\n\n";
	std::vector<std::string> cannot = plan.not_represented;
	for (const std::string &s : plan.sysctl_notes)
		cannot.push_back("sysctl " + s + ": not modelled");
	cannot.insert(cannot.end(), sock_notes.begin(), sock_notes.end());
	cannot.insert(cannot.end(), result.notes.begin(), result.notes.end());
	cannot.insert(cannot.end(), scenario_notes.begin(), scenario_notes.end());
	for (const Namespace &ns : nss)
		for (const std::string &p : ns.problems)
			cannot.push_back(ns.name + ": " + p);
	cannot.insert(cannot.end(), problems.begin(), problems.end());
	bullet_list(r, cannot, "Nothing: every device and socket it read is in the scenario.");

	r << "\n## What it may have missed\n\n";
	std::vector<std::string> missed = result.missed;
	if (cs.ran) {
		missed.push_back(
			"Sockets are read every " + std::to_string(opt.poll_ns / 1000000) +
			" ms; a socket that opens is placed in the middle of the window between the read "
			"that did not see it and the one that did, a close between its last read and the "
			"destroy notification or the read that missed it. Frames in such a window on the "
			"socket's port are flagged below: the replay may judge them otherwise than the kernel did.");
		if (cs.dropped || cs.if_dropped)
			missed.push_back(std::to_string(cs.dropped + cs.if_dropped) +
					 " frames were dropped by the capture: they are not in trace.pcap");
	}
	missed.push_back("Namespaces and devices created after the start are not in the scenario (its "
			 "containers are fixed at the start); devices changed during the capture are not followed.");
	bullet_list(r, missed, "");

	r << "\n## Frames to read with care\n\n";
	r << "flagged-frames: " << (flagged.empty() ? "none" : ranges(flagged)) << "\n\n";
	r << flagged.size() << " frames fall in the window of an event whose instant is uncertain";
	if (!by_window.empty()) {
		r << ":\n\n";
		std::size_t listed = 0;
		for (const auto &[what, n] : by_window) {
			if (++listed > 200) {
				r << "- ... " << by_window.size() - 200 << " more windows\n";
				break;
			}
			r << "- " << what << ": " << n << " frames\n";
		}
	} else {
		r << ".\n";
	}
	if (!r) {
		err << "econ-sim: cannot write " << report_path << "\n";
		return 2;
	}

	out << "econ-sim snapshot: " << plan.containers.size() << " containers, " << plan.vxlan.size()
	    << " VXLAN devices, " << result.sockets << " sockets, " << w.events << " events";
	if (cs.ran)
		out << ", " << cs.frames << " frames (" << flagged.size() << " flagged)";
	out << "\n  " << scenario_path << "\n  " << pcap_path << "\n  " << report_path << " (" << cannot.size()
	    << " things not represented)\n";
	return 0;
}

} // namespace econsim::snapshot
