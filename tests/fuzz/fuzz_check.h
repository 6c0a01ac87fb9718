// What the fuzz targets share: a broken promise aborts (libFuzzer keeps the input as a crash) and
// says which promise; and the promise of every text reader's errors (InputError).
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "input_file.h"

namespace econsim::fuzz {

[[noreturn]] inline void broken(const char *promise, const std::string &detail = {})
{
	std::fprintf(stderr, "broken promise: %s %s\n", promise, detail.c_str());
	std::abort();
}

// The lines an error may name: 1 to the number of lines, and one more for an error at the very end
// (yaml-cpp marks the end of a text without a final newline on a line of its own).
inline int last_line(const std::string &text)
{
	return static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
}

// "file:line: message", the line one of the text's; or, when the error is about the whole text
// (line 0) and the reader may say so, "file: message".
inline void check_input_error(const sim::InputError &e, const std::string &file, const std::string &text,
			      bool whole_text_allowed)
{
	std::string what = e.what();
	if (e.file() != file || e.line() < (whole_text_allowed ? 0 : 1) || e.line() > last_line(text))
		broken("the error names the file and a line of it", what);
	std::string place = e.line() > 0 ? file + ":" + std::to_string(e.line()) + ": " : file + ": ";
	if (what.compare(0, place.size(), place) != 0 || what.size() == place.size())
		broken("the message starts with the place and says what is wrong", what);
}

} // namespace econsim::fuzz

#define CHECK(cond, ...)                                                          \
	do {                                                                      \
		if (!(cond))                                                      \
			::econsim::fuzz::broken(#cond __VA_OPT__(, ) __VA_ARGS__); \
	} while (0)
