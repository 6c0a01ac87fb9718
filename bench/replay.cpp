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
#include <benchmark/benchmark.h>
#include <pcap/pcap.h>

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <streambuf>
#include <string>
#include <string_view>

#include "capture_reader.h"
#include "frame_parser.h"
#include "replay.h"
#include "scenario.h"

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

void replay(benchmark::State &state, FastpathMode mode)
{
	NullBuffer null;
	std::ostream out(&null);
	ReplayOptions options;
	options.scenario = scenario_path;
	options.capture = capture_path;
	options.mode = mode;
	for (auto _ : state) {
		if (int rc = run_replay(options, out, std::cerr); rc != kExitOk) {
			state.SkipWithError(("run_replay exited " + std::to_string(rc)).c_str());
			return;
		}
	}
	count(state, capture_frames);
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
	for (FastpathMode mode : {FastpathMode::off, FastpathMode::econ, FastpathMode::fixed})
		whole_pass(benchmark::RegisterBenchmark(("replay/" + std::string(to_string(mode))).c_str(),
							[mode](benchmark::State &s) { replay(s, mode); }));
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
