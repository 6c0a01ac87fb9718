// Runs the built econ-sim binary (ECONSIM_BINARY, from CMake's $<TARGET_FILE:econ-sim>) the way a
// user does, for the tests of the command line and of whole replays.
#pragma once

#include <string>
#include <vector>

#include "test_frames.h"

namespace econsim::sim::test {

struct Exit {
	int code = -1; // the exit code; 128 + the signal when it died of one; -1 when it did not start
	std::string out;
	std::string err;
};

// stdout and stderr go through files in dir (named stdout and stderr, overwritten).
Exit econ_sim(const std::vector<std::string> &args, const TempDir &dir);

std::string read_text(const std::string &path);

} // namespace econsim::sim::test
