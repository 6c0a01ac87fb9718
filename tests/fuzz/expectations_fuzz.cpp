// libFuzzer target: bytes -> parse_expectations (E.jsonl). The parser's promise: Expectations, one
// per frame, in frame order, each from a line of the text; or an ExpectationError (an InputError)
// naming the file and the line. Any other exception is a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "expectations.h"
#include "fuzz_check.h"

using namespace econsim::sim;
using econsim::fuzz::last_line;

namespace {

const std::string kFile = "fuzz.jsonl";

void check_expectations(const Expectations &all, const std::string &text)
{
	CHECK(all.file() == kFile);
	std::uint64_t previous = 0;
	for (const Expectation &e : all.all()) {
		CHECK(e.pkt > previous); // sorted, and one per frame
		previous = e.pkt;
		CHECK(all.find(e.pkt) == &e);
		CHECK(e.line >= 1 && e.line <= last_line(text));
		CHECK(e.socks.empty() || e.verdict == VerdictKind::deliver);
		for (const std::string &sock : e.socks)
			CHECK(!sock.empty());
		CHECK(!e.reason || !e.reason->empty());
		// The verdict it describes meets it; another kind of verdict does not.
		Verdict v;
		v.pkt = e.pkt;
		v.verdict = e.verdict;
		if (!e.socks.empty())
			v.sock = e.socks.back();
		v.reason = e.reason;
		CHECK(e.met_by(v));
		v.verdict = e.verdict == VerdictKind::drop ? VerdictKind::deliver : VerdictKind::drop;
		CHECK(!e.met_by(v));
	}
	CHECK(all.find(0) == nullptr);
	CHECK(all.find(previous + 1) == nullptr);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	std::string text(reinterpret_cast<const char *>(data), size);
	try {
		check_expectations(parse_expectations(text, kFile), text);
	} catch (const InputError &e) { // ExpectationError is one
		econsim::fuzz::check_input_error(e, kFile, text, false); // every error here is about one line
	}
	return 0;
}
