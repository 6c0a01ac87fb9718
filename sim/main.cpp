// econ-sim: the command line. `replay` and `trace`, as ../shared/docs/scenario-format.md and
// the README describe them.
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "replay.h"
#include "snapshot.h"

namespace {

using namespace econsim::sim;

constexpr const char *kUsage =
	"usage: econ-sim replay --scenario S.yaml [--mode off|econ|fixed] [--expect E.jsonl]\n"
	"                       [--verdicts V.jsonl] [--check] [--no-progress]\n"
	"                       [--timing [--speed Nx | --rate PPS] [--costs COSTS.yaml]] trace.pcap\n"
	"       econ-sim trace --scenario S.yaml [--mode off|econ|fixed] --pkt N\n"
	"                      [--golden FILE [--update]] trace.pcap\n"
	"       econ-sim snapshot --out DIR [--capture SECONDS] [--iface NIC] [--netns NAME|PATH] [--poll-ms N]\n"
	"       econ-sim kernel-replay --scenario S.yaml [--kernel host] [--verdicts V.jsonl] [--expect E.jsonl] trace.pcap\n"
	"--check compares the mode with vanilla (off) frame by frame: fixed and econ modes only\n"
	"exit: 0 all agree, 1 an expectation unmet / a --check mismatch / a trace unlike its golden,\n"
	"      2 bad usage or input\n";

int usage(const std::string &problem)
{
	std::cerr << "econ-sim: " << problem << "\n" << kUsage;
	return kExitBadInput;
}

struct Args {
	std::vector<std::string_view> rest;
	std::size_t next = 0;

	bool done() const { return next >= rest.size(); }
	std::string_view take() { return rest[next++]; }
};

// Options common to both commands; returns false (and the problem) for an unknown one.
bool parse_common(std::string_view flag, Args &args, std::string &scenario, std::optional<FastpathMode> &mode,
		  std::string &problem)
{
	if (args.done()) {
		problem = std::string(flag) + " needs a value";
		return false;
	}
	std::string_view value = args.take();
	if (flag == "--scenario") {
		scenario = value;
		return true;
	}
	mode = parse_fastpath_mode(value);
	if (!mode)
		problem = "--mode must be off, econ or fixed, not '" + std::string(value) + "'";
	return mode.has_value();
}

// The one positional argument; anything else starting with '-' is an unknown option.
bool take_capture(std::string_view arg, std::string &capture, std::string &problem)
{
	if (arg.starts_with("-"))
		problem = "unknown or incomplete option " + std::string(arg);
	else if (!capture.empty())
		problem = "one capture only";
	else
		capture = arg;
	return problem.empty();
}

int replay(Args args)
{
	ReplayOptions o;
	o.progress = isatty(STDERR_FILENO);
	std::string problem;
	bool timed = false;
	std::optional<double> speed, rate;
	std::optional<std::string> costs;
	while (!args.done()) {
		std::string_view a = args.take();
		if (a == "--scenario" || a == "--mode") {
			if (!parse_common(a, args, o.scenario, o.mode, problem))
				return usage(problem);
		} else if ((a == "--expect" || a == "--verdicts") && !args.done()) {
			(a == "--expect" ? o.expect : o.verdicts) = std::string(args.take());
		} else if (a == "--check") {
			o.check = true;
		} else if (a == "--timing") {
			timed = true;
		} else if (a == "--speed" && !args.done()) {
			std::string_view v = args.take();
			speed = timing::parse_speed(v);
			if (!speed)
				return usage("--speed needs a positive factor such as 10x, not '" + std::string(v) + "'");
		} else if (a == "--rate" && !args.done()) {
			std::string_view v = args.take();
			rate = timing::parse_rate(v);
			if (!rate)
				return usage("--rate needs packets per second, not '" + std::string(v) + "'");
		} else if (a == "--costs" && !args.done()) {
			costs = std::string(args.take());
		} else if (a == "--no-progress") {
			o.progress = false;
		} else if (!take_capture(a, o.capture, problem)) {
			return usage(problem);
		}
	}
	if (o.scenario.empty() || o.capture.empty())
		return usage("replay needs --scenario and a capture");
	if ((speed || rate || costs) && !timed)
		return usage("--speed, --rate and --costs go with --timing");
	if (speed && rate)
		return usage("--speed and --rate exclude each other");
	if (timed) {
		o.timing.emplace();
		o.timing->speed = speed.value_or(1.0);
		o.timing->rate_pps = rate;
		o.timing->costs = costs;
	}
	return run_replay(o, std::cout, std::cerr);
}

int trace(Args args)
{
	TraceOptions o;
	std::string problem;
	while (!args.done()) {
		std::string_view a = args.take();
		if (a == "--scenario" || a == "--mode") {
			if (!parse_common(a, args, o.scenario, o.mode, problem))
				return usage(problem);
		} else if (a == "--pkt" && !args.done()) {
			std::string n(args.take());
			char *end = nullptr;
			o.pkt = std::strtoull(n.c_str(), &end, 10);
			if (n.empty() || *end || o.pkt == 0)
				return usage("--pkt needs a frame number from 1, not '" + n + "'");
		} else if (a == "--golden" && !args.done()) {
			o.golden = std::string(args.take());
		} else if (a == "--update") {
			o.update = true;
		} else if (!take_capture(a, o.capture, problem)) {
			return usage(problem);
		}
	}
	if (o.scenario.empty() || o.capture.empty() || o.pkt == 0)
		return usage("trace needs --scenario, --pkt and a capture");
	if (o.update && !o.golden)
		return usage("--update needs --golden FILE");
	return run_trace(o, std::cout, std::cerr);
}

// kernel-replay/ (Python, root only) is linked next to this binary by the build; it is its own
// program, so that nothing here depends on a live kernel (../shared/docs/design.md).
int run_kernel_replay(char **argv)
{
	std::string self(4096, '\0');
	ssize_t n = readlink("/proc/self/exe", self.data(), self.size());
	std::string tool = n > 0 ? self.substr(0, self.rfind('/', static_cast<std::size_t>(n))) + "/econ-sim-kernel-replay"
				 : std::string("econ-sim-kernel-replay");
	argv[1] = tool.data();
	execv(tool.c_str(), argv + 1);
	std::cerr << "econ-sim: cannot run " << tool << ": " << std::strerror(errno)
		  << " (the build links it to kernel-replay/kernel-replay)\n";
	return kExitBadInput;
}

} // namespace

int main(int argc, char **argv)
{
	Args args;
	for (int i = 2; i < argc; i++)
		args.rest.emplace_back(argv[i]);
	std::string_view command = argc > 1 ? argv[1] : "";
	if (command == "replay")
		return replay(args);
	if (command == "trace")
		return trace(args);
	if (command == "snapshot")
		return econsim::snapshot::run_snapshot(args.rest, std::cout, std::cerr);
	if (command == "kernel-replay")
		return run_kernel_replay(argv);
	if (command == "--help" || command == "-h") {
		std::cout << kUsage;
		return kExitOk;
	}
	return usage(command.empty() ? "a command is needed" : "unknown command " + std::string(command));
}
