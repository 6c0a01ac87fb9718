// The UDP rules checked against the kernel this test runs on: each case runs as real sockets in a
// fresh network namespace (a forked child, unshare(CLONE_NEWNET), lo up) and on the model, and the
// answers must agree. Needs root (CAP_SYS_ADMIN); skipped otherwise.
//
// The model follows Linux 6.1; the machine may run another version. These cases use rules that
// have not changed since (the 6.13 four-tuple hash for connected sockets gives the same answers).
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include <gtest/gtest.h>

#include "model/host.h"

namespace econsim::model::testing {
namespace {

// One step of a case: open (socket + bind), connect (peer 0.0.0.0:0 disconnects), or send a
// datagram from `from` to `to` and see who gets it.
struct Step {
	enum Kind { open, connect, listen, send } kind;
	std::string socket;
	Endpoint from; // open: the local address; connect: the peer; send: the source
	Endpoint to{}; // send: the destination
	BindOptions options{};
	Protocol protocol = Protocol::udp; // open
};

Step open_step(std::string name, Endpoint local, BindOptions options = {}, Protocol protocol = Protocol::udp)
{
	return Step{Step::open, std::move(name), local, {}, options, protocol};
}
Step listen_step(std::string name)
{
	return Step{Step::listen, std::move(name), {}, {}, {}};
}
Step connect_step(std::string name, Endpoint peer)
{
	return Step{Step::connect, std::move(name), peer, {}, {}};
}
Step send_step(Endpoint from, Endpoint to)
{
	return Step{Step::send, "", from, to, {}};
}

Endpoint lo(std::uint8_t last, std::uint16_t port)
{
	return Endpoint{ipv4(127, 0, 0, last), port};
}

Endpoint wildcard(std::uint16_t port)
{
	return Endpoint{any_address, port};
}

// What one step gave: an errno name for open/connect, the receivers for send. `any_one_of`: the
// model answered with a reuseport group, of which the kernel picks one.
struct Outcome {
	std::string error;
	std::set<std::string> receivers;
	bool any_one_of = false;
};

// ---- the model ---------------------------------------------------------------------------------

std::vector<Outcome> run_on_model(const std::vector<Step> &steps)
{
	Host host; // its "host" namespace has only lo, like a fresh network namespace with lo up
	Sockets &sockets = host.sockets();
	std::vector<Outcome> outcomes;
	for (const Step &step : steps) {
		Outcome outcome;
		if (step.kind == Step::open) {
			EXPECT_EQ(sockets.create(step.socket, "host", step.protocol), Error::none);
			outcome.error = to_string(sockets.bind(step.socket, step.from, step.options));
		} else if (step.kind == Step::connect) {
			outcome.error = to_string(sockets.connect(step.socket, step.from));
		} else if (step.kind == Step::listen) {
			outcome.error = to_string(sockets.listen(step.socket, 16));
		} else {
			const UdpLookupResult result = sockets.udp_receive("host", FourTuple{step.from, step.to}, 0);
			outcome.receivers.insert(result.sockets.begin(), result.sockets.end());
			outcome.any_one_of = result.match == UdpMatch::reuseport_group;
		}
		outcomes.push_back(outcome);
	}
	return outcomes;
}

// ---- the kernel --------------------------------------------------------------------------------

sockaddr_in to_sockaddr(Endpoint endpoint)
{
	sockaddr_in address{};
	address.sin_family = AF_INET;
	address.sin_port = htons(endpoint.port);
	address.sin_addr.s_addr = htonl(endpoint.address.value);
	return address;
}

std::string errno_name(int error)
{
	switch (error) {
	case 0: return "none";
	case EADDRINUSE: return "EADDRINUSE";
	case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
	case EINVAL: return "EINVAL";
	case EACCES: return "EACCES";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	default: return std::string("errno ") + std::strerror(error);
	}
}

bool bring_loopback_up()
{
	const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
	ifreq request{};
	std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
	const bool ok = fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &request) == 0 &&
			(request.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &request) == 0);
	if (fd >= 0)
		::close(fd);
	return ok;
}

// Sends one datagram and returns the names of the sockets that received it.
std::set<std::string> deliver(const std::map<std::string, int> &fds, Endpoint from, Endpoint to)
{
	const int sender = ::socket(AF_INET, SOCK_DGRAM, 0);
	const sockaddr_in source = to_sockaddr(from);
	const sockaddr_in destination = to_sockaddr(to);
	const int one = 1;
	setsockopt(sender, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (::bind(sender, reinterpret_cast<const sockaddr *>(&source), sizeof source) != 0 ||
	    sendto(sender, "x", 1, 0, reinterpret_cast<const sockaddr *>(&destination), sizeof destination) != 1) {
		::close(sender);
		return {"sender failed: " + errno_name(errno)};
	}
	::close(sender);

	std::vector<pollfd> polls;
	std::vector<std::string> names;
	for (const auto &[name, fd] : fds) {
		polls.push_back(pollfd{fd, POLLIN, 0});
		names.push_back(name);
	}
	poll(polls.data(), polls.size(), 200); // loopback delivers before sendto returns; be generous
	std::set<std::string> receivers;
	for (std::size_t i = 0; i < polls.size(); ++i) {
		char byte;
		while (recv(polls[i].fd, &byte, 1, MSG_DONTWAIT) == 1)
			receivers.insert(names[i]);
	}
	return receivers;
}

// The steps as real socket calls; one line per step: "E <errno>" or "R <name> <name> ...".
std::string run_steps_in_kernel(const std::vector<Step> &steps)
{
	std::map<std::string, int> fds;
	std::string transcript;
	for (const Step &step : steps) {
		if (step.kind == Step::open) {
			const int fd = ::socket(AF_INET, step.protocol == Protocol::udp ? SOCK_DGRAM : SOCK_STREAM, 0);
			const int reuseaddr = step.options.reuseaddr, reuseport = step.options.reuseport;
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuseaddr, sizeof reuseaddr);
			setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &reuseport, sizeof reuseport);
			const sockaddr_in local = to_sockaddr(step.from);
			const int error =
				::bind(fd, reinterpret_cast<const sockaddr *>(&local), sizeof local) ? errno : 0;
			fds[step.socket] = fd;
			transcript += "E " + errno_name(error) + "\n";
		} else if (step.kind == Step::connect) {
			sockaddr_in peer = to_sockaddr(step.from);
			if (step.from == Endpoint{})
				peer.sin_family = AF_UNSPEC;
			const int error =
				::connect(fds.at(step.socket), reinterpret_cast<const sockaddr *>(&peer), sizeof peer)
					? errno
					: 0;
			transcript += "E " + errno_name(error) + "\n";
		} else if (step.kind == Step::listen) {
			const int error = ::listen(fds.at(step.socket), 16) ? errno : 0;
			transcript += "E " + errno_name(error) + "\n";
		} else {
			transcript += "R";
			for (const std::string &name : deliver(fds, step.from, step.to))
				transcript += " " + name;
			transcript += "\n";
		}
	}
	return transcript;
}

// Runs the steps in a child process in a new network namespace. nullopt: no namespace (not root).
std::optional<std::vector<Outcome>> run_in_kernel(const std::vector<Step> &steps, std::string &why_not)
{
	int pipe_fds[2];
	if (pipe(pipe_fds) != 0)
		return std::nullopt;
	const pid_t child = fork();
	if (child == 0) {
		::close(pipe_fds[0]);
		std::string out;
		if (unshare(CLONE_NEWNET) != 0)
			out = "SKIP unshare(CLONE_NEWNET): " + std::string(std::strerror(errno));
		else if (!bring_loopback_up())
			out = "SKIP cannot bring lo up: " + std::string(std::strerror(errno));
		else
			out = run_steps_in_kernel(steps);
		const ssize_t written = write(pipe_fds[1], out.data(), out.size());
		_exit(written == static_cast<ssize_t>(out.size()) ? 0 : 1);
	}
	::close(pipe_fds[1]);
	std::string text;
	char buffer[4096];
	for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof buffer)) > 0;)
		text.append(buffer, static_cast<std::size_t>(n));
	::close(pipe_fds[0]);
	int status = 0;
	waitpid(child, &status, 0);
	if (text.rfind("SKIP ", 0) == 0) {
		why_not = text.substr(5);
		return std::nullopt;
	}

	std::vector<Outcome> outcomes;
	std::size_t start = 0;
	for (std::size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
		const std::string line = text.substr(start, end - start);
		Outcome outcome;
		if (line.rfind("E ", 0) == 0) {
			outcome.error = line.substr(2);
		} else {
			for (std::size_t word = 2; word < line.size() + 1 && line.size() > 1;) {
				const std::size_t space = std::min(line.find(' ', word), line.size());
				outcome.receivers.insert(line.substr(word, space - word));
				word = space + 1;
			}
		}
		outcomes.push_back(outcome);
	}
	return outcomes;
}

void expect_model_agrees_with_kernel(const std::vector<Step> &steps)
{
	std::string why_not;
	const std::optional<std::vector<Outcome>> kernel = run_in_kernel(steps, why_not);
	if (!kernel)
		GTEST_SKIP() << "needs root and network namespaces to compare with the real kernel (" << why_not << ")";
	const std::vector<Outcome> model = run_on_model(steps);
	ASSERT_EQ(kernel->size(), steps.size());
	for (std::size_t i = 0; i < steps.size(); ++i) {
		const Outcome &k = (*kernel)[i];
		const Outcome &m = model[i];
		SCOPED_TRACE("step " + std::to_string(i + 1));
		if (steps[i].kind != Step::send) {
			EXPECT_EQ(m.error, k.error);
		} else if (m.any_one_of) {
			ASSERT_EQ(k.receivers.size(), 1u) << "a reuseport group delivers to exactly one member";
			EXPECT_TRUE(m.receivers.contains(*k.receivers.begin())) << *k.receivers.begin();
		} else {
			EXPECT_EQ(m.receivers, k.receivers);
		}
	}
}

const BindOptions reuseaddr{.reuseaddr = true};
const BindOptions reuseport{.reuseport = true};

// __udp4_lib_lookup: phase 1 (bound to the destination) before phase 2 (0.0.0.0).
TEST(KernelUdp, Udp4LibLookup_SpecificShadowsWildcard)
{
	expect_model_agrees_with_kernel({
		open_step("wild", wildcard(5000), reuseaddr),
		open_step("spec", lo(1, 5000), reuseaddr),
		send_step(lo(2, 4000), lo(1, 5000)),
		send_step(lo(2, 4000), lo(3, 5000)),
	});
}

// compute_score: the connected socket wins for its peer, the unconnected one for the others.
TEST(KernelUdp, ComputeScore_ConnectedBeatsUnconnected)
{
	expect_model_agrees_with_kernel({
		open_step("unconnected", lo(1, 5001), reuseaddr),
		open_step("connected", lo(1, 5001), reuseaddr),
		connect_step("connected", lo(2, 4000)),
		send_step(lo(2, 4000), lo(1, 5001)),
		send_step(lo(2, 4001), lo(1, 5001)),
	});
}

// __ip4_datagram_connect gives a wildcard socket the source address (a rehash), and
// __udp_disconnect takes it back.
TEST(KernelUdp, Ip4DatagramConnect_RehashAndDisconnect)
{
	expect_model_agrees_with_kernel({
		open_step("w", wildcard(5002)),
		connect_step("w", lo(2, 4000)),
		send_step(lo(2, 4000), lo(1, 5002)),
		send_step(lo(2, 4000), lo(3, 5002)),
		connect_step("w", Endpoint{}),
		send_step(lo(2, 4001), lo(3, 5002)),
	});
}

// udp_lib_lport_inuse, an SO_REUSEPORT group answering as a group, and which addresses bind.
TEST(KernelUdp, UdpLibGetPort_ConflictsAndReuseportGroup)
{
	expect_model_agrees_with_kernel({
		open_step("a", lo(1, 5004)),
		open_step("b", wildcard(5004)),
		open_step("c", lo(1, 5005), reuseaddr),
		open_step("d", lo(1, 5005), reuseaddr),
		open_step("e", lo(1, 5005)),
		open_step("r1", lo(1, 5006), reuseport),
		open_step("r2", lo(1, 5006), reuseport),
		open_step("r3", wildcard(5006), reuseport),
		send_step(lo(2, 4000), lo(1, 5006)),
		send_step(lo(2, 4000), lo(3, 5006)),

		// __inet_bind's address check (inet_addr_type_table)
		open_step("zeronet", Endpoint{ipv4(0, 1, 2, 3), 5007}),
		open_step("limited-broadcast", Endpoint{ipv4(255, 255, 255, 255), 5007}),
		open_step("loopback-net", lo(99, 5007)),
		open_step("elsewhere", Endpoint{ipv4(10, 1, 2, 3), 5007}),
		open_step("multicast", Endpoint{ipv4(239, 1, 2, 3), 5007}),
	});
}

// udp_lib_rehash detaches a member whose address changes; after a disconnect it is a lone socket
// at the head of the 0.0.0.0 chain and takes every datagram from its old group. A new member then
// joins it (udp_reuseport_add_sock picks the newest matching socket, reuseport_add_sock gives it a
// group), and the original group gets nothing.
TEST(KernelUdp, UdpLibRehash_DetachedMemberShadowsItsOldGroup)
{
	expect_model_agrees_with_kernel({
		open_step("r1", wildcard(6000), reuseport),
		open_step("r2", wildcard(6000), reuseport),
		connect_step("r2", lo(2, 4000)),
		connect_step("r2", Endpoint{}),
		send_step(lo(3, 4100), lo(1, 6000)),
		send_step(lo(3, 4101), lo(1, 6000)),
		open_step("r3", wildcard(6000), reuseport),
		send_step(lo(3, 4102), lo(1, 6000)),
	});
}

// inet_csk_get_port / inet_bind_conflict on bind, and again in inet_csk_listen_start: SO_REUSEADDR
// shares a TCP port only with sockets that are not listening; SO_REUSEPORT shares it with listeners.
TEST(KernelTcp, InetCskListenStart_ReuseaddrSharesOnlyWithNonListeners)
{
	const BindOptions both{.reuseaddr = true, .reuseport = true};
	const Protocol tcp = Protocol::tcp;
	expect_model_agrees_with_kernel({
		open_step("plain", wildcard(8000), {}, tcp),
		open_step("plain-too", lo(1, 8000), {}, tcp),
		open_step("t1", wildcard(8001), reuseaddr, tcp),
		open_step("t2", lo(1, 8001), reuseaddr, tcp),
		listen_step("t1"),
		listen_step("t2"),
		open_step("t3", lo(1, 8001), reuseaddr, tcp),
		open_step("p1", wildcard(8002), reuseport, tcp),
		listen_step("p1"),
		open_step("p2", wildcard(8002), reuseport, tcp),
		listen_step("p2"),
		open_step("p3", wildcard(8002), both, tcp),
		open_step("u", wildcard(8003), {}, Protocol::udp),
		listen_step("u"),
	});
}

} // namespace
} // namespace econsim::model::testing
