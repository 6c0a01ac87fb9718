// bench/replay: frames per second of `econ-sim replay` in each fast-path mode over one capture,
// against reading the same file: a bare libpcap loop (the physical floor), the simulator's
// CaptureReader, and CaptureReader plus the frame parser (what every mode does before its first
// stage). The replay runs in-process through run_replay, its report written to a null stream.
//
// usage: replay --capture trace.pcap --scenario scenario.yaml [benchmark flags]
//        (bench/gen-capture writes both; bench/run caches them under build-rel/)
//
// Each benchmark is one whole pass over the capture. Time is this process's CPU time (this machine
// is shared, so the wall clock also counts other people's work; the process clock includes the
// liburcu thread that frees the fixed map's entries). `frames_per_second` is frames over that time.
//
// `allocations/<mode>` counts heap allocations (operator new, replaced below) per frame while the
// pipeline replays the capture's second half, after the first half has warmed it up (every flow
// seen, every table sized): the steady state, which should allocate nothing.
#include <benchmark/benchmark.h>
#include <pcap/pcap.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <new>
#include <streambuf>
#include <string>
#include <string_view>

#include "capture_reader.h"
#include "frame_parser.h"
#include "host_pipeline.h"
#include "replay.h"
#include "scenario.h"

namespace {

std::atomic<std::uint64_t> heap_allocations{0};

} // namespace

// Every allocation of this process goes through here, so the benchmark can count them; the
// sized and nothrow forms of the library end up in these. They pair malloc with free, which GCC
// cannot see through once it inlines them, hence the pragma.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void *operator new(std::size_t size)
{
	heap_allocations.fetch_add(1, std::memory_order_relaxed);
	if (void *p = std::malloc(size ? size : 1))
		return p;
	throw std::bad_alloc();
}

void operator delete(void *p) noexcept
{
	std::free(p);
}

void operator delete(void *p, std::size_t) noexcept
{
	std::free(p);
}

namespace {

using namespace econsim::sim;

std::string capture_path, scenario_path;
std::uint64_t capture_frames = 0;

// Where the replay's report goes: nowhere, cheaply.
class NullBuffer : public std::streambuf {
protected:
	int overflow(int c) override { return c; }
	std::streamsize xsputn(const char *, std::streamsize n) override { return n; }
};

void count(benchmark::State &state, std::uint64_t frames)
{
	if (frames != capture_frames)
		state.SkipWithError(("saw " + std::to_string(frames) + " frames of " + std::to_string(capture_frames)).c_str());
	state.counters["frames"] = static_cast<double>(frames);
	state.counters["frames_per_second"] =
		benchmark::Counter(static_cast<double>(frames) * static_cast<double>(state.iterations()),
				   benchmark::Counter::kIsRate);
}

// libpcap alone, touching one byte of each frame so nothing is skipped.
std::uint64_t pcap_pass(std::uint64_t &touched)
{
	char error[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(capture_path.c_str(), error);
	if (!p)
		throw std::runtime_error(error);
	std::uint64_t frames = 0;
	pcap_pkthdr *header;
	const u_char *data;
	while (pcap_next_ex(p, &header, &data) == 1) {
		touched += data[header->caplen / 2];
		frames++;
	}
	pcap_close(p);
	return frames;
}

void pcap_read(benchmark::State &state)
{
	std::uint64_t frames = 0, touched = 0;
	for (auto _ : state)
		frames = pcap_pass(touched);
	benchmark::DoNotOptimize(touched);
	count(state, frames);
}

void capture_reader(benchmark::State &state)
{
	std::uint64_t frames = 0, touched = 0;
	for (auto _ : state) {
		CaptureReader reader(capture_path);
		frames = 0;
		while (auto f = reader.next()) {
			touched += f->bytes[f->bytes.size() / 2];
			frames++;
		}
	}
	benchmark::DoNotOptimize(touched);
	count(state, frames);
}

void capture_reader_parse(benchmark::State &state)
{
	const ParserConfig config = parser_config(load_scenario(scenario_path));
	std::uint64_t frames = 0, reasons = 0;
	for (auto _ : state) {
		CaptureReader reader(capture_path);
		frames = 0;
		while (auto f = reader.next()) {
			ParsedFrame parsed = parse_frame(f->bytes, f->wire_length, f->link_type, config);
			reasons |= parsed.reasons;
			frames++;
		}
	}
	benchmark::DoNotOptimize(reasons);
	count(state, frames);
}

// `econ-sim replay` in one mode; with `verdicts`, every verdict written as a JSON line (to
// /dev/null), as --verdicts does.
void replay(benchmark::State &state, FastpathMode mode, bool verdicts)
{
	NullBuffer null;
	std::ostream out(&null);
	ReplayOptions options;
	options.scenario = scenario_path;
	options.capture = capture_path;
	options.mode = mode;
	if (verdicts)
		options.verdicts = "/dev/null";
	for (auto _ : state) {
		if (int rc = run_replay(options, out, std::cerr); rc != kExitOk) {
			state.SkipWithError(("run_replay exited " + std::to_string(rc)).c_str());
			return;
		}
	}
	count(state, capture_frames);
}

// `tshark -r` over the same file, output to /dev/null: what a user would otherwise reach for. Its
// CPU time is the child's (getrusage), so it is comparable with the process time of the others.
void tshark_read(benchmark::State &state)
{
	const std::string command = "tshark -n -r '" + capture_path + "' >/dev/null 2>&1";
	for (auto _ : state) {
		rusage before{}, after{};
		getrusage(RUSAGE_CHILDREN, &before);
		if (int rc = std::system(command.c_str()); rc != 0) {
			state.SkipWithError(("tshark -r failed (is tshark installed? setup.sh installs it): " + std::to_string(rc)).c_str());
			return;
		}
		getrusage(RUSAGE_CHILDREN, &after);
		auto seconds = [](const rusage &r) {
			return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
			       static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) * 1e-6;
		};
		double child = seconds(after) - seconds(before);
		state.SetIterationTime(child);
		// Not a kIsRate counter: those divide by this process's CPU time, and the work was the child's.
		state.counters["frames"] = static_cast<double>(capture_frames);
		state.counters["frames_per_second"] = static_cast<double>(capture_frames) / child;
	}
}

// HostPipeline::process over the whole capture (what run_replay calls per frame), allocations
// counted over the second half only, in two counts: those of applying the scenario's events that
// fall in it (a socket created, bound, closed: the model allocates a socket as the kernel does), and
// those of processing the frames, which is what must be zero. The events are applied first, with
// the call process() makes itself (which then finds nothing left to apply).
void allocations(benchmark::State &state, FastpathMode mode)
{
	const Scenario scenario = load_scenario(scenario_path);
	std::uint64_t frames = 0, counted_frames = 0, frame_allocations = 0, event_allocations = 0;
	std::int64_t midpoint_ns = 0, last_ns = 0; // the first half's last frame, the capture's last
	for (auto _ : state) {
		HostPipeline pipeline(scenario, mode);
		CaptureReader reader(capture_path);
		frames = 0;
		while (auto f = reader.next()) {
			const bool counted = ++frames > capture_frames / 2;
			if (!counted)
				midpoint_ns = f->timestamp_ns;
			last_ns = f->timestamp_ns;
			std::uint64_t before = heap_allocations.load(std::memory_order_relaxed);
			pipeline.apply_events_until(f->timestamp_ns);
			std::uint64_t after_events = heap_allocations.load(std::memory_order_relaxed);
			benchmark::DoNotOptimize(pipeline.process(*f).verdict.verdict);
			if (counted) {
				event_allocations += after_events - before;
				frame_allocations += heap_allocations.load(std::memory_order_relaxed) - after_events;
			}
		}
		counted_frames += frames - capture_frames / 2;
		pipeline.finish();
	}
	count(state, frames);
	state.counters["allocations_per_frame"] =
		static_cast<double>(frame_allocations) / static_cast<double>(counted_frames);
	state.counters["event_allocations"] = static_cast<double>(event_allocations);
	state.counters["events"] = static_cast<double>(
		std::count_if(scenario.events.begin(), scenario.events.end(),
			      [&](const Event &e) { return e.t_ns > midpoint_ns && e.t_ns <= last_ns; }));
}

int usage(const std::string &problem)
{
	std::cerr << "replay: " << problem
		  << "\nusage: replay --capture trace.pcap --scenario scenario.yaml [benchmark flags]\n";
	return 2;
}

} // namespace

int main(int argc, char **argv)
{
	benchmark::Initialize(&argc, argv);
	for (int i = 1; i < argc; i++) {
		std::string_view a = argv[i];
		if ((a == "--capture" || a == "--scenario") && i + 1 < argc)
			(a == "--capture" ? capture_path : scenario_path) = argv[++i];
		else
			return usage("unknown argument " + std::string(a));
	}
	if (capture_path.empty() || scenario_path.empty())
		return usage("--capture and --scenario are needed");
	try {
		std::uint64_t touched = 0;
		capture_frames = pcap_pass(touched); // also brings the file into the page cache
	} catch (const std::exception &e) {
		return usage(e.what());
	}

	auto whole_pass = [](benchmark::internal::Benchmark *b) {
		b->Iterations(1)->MeasureProcessCPUTime()->Unit(benchmark::kMillisecond);
	};
	whole_pass(benchmark::RegisterBenchmark("read/pcap_next_ex", pcap_read));
	whole_pass(benchmark::RegisterBenchmark("read/capture_reader", capture_reader));
	whole_pass(benchmark::RegisterBenchmark("read/capture_reader+parse_frame", capture_reader_parse));
	benchmark::RegisterBenchmark("read/tshark", tshark_read)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
	for (FastpathMode mode : {FastpathMode::off, FastpathMode::econ, FastpathMode::fixed})
		whole_pass(benchmark::RegisterBenchmark(("replay/" + std::string(to_string(mode))).c_str(),
							[mode](benchmark::State &s) { replay(s, mode, false); }));
	whole_pass(benchmark::RegisterBenchmark("replay/fixed+verdicts",
						[](benchmark::State &s) { replay(s, FastpathMode::fixed, true); }));
	for (FastpathMode mode : {FastpathMode::off, FastpathMode::econ, FastpathMode::fixed})
		whole_pass(benchmark::RegisterBenchmark(("allocations/" + std::string(to_string(mode))).c_str(),
							[mode](benchmark::State &s) { allocations(s, mode); }));
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
