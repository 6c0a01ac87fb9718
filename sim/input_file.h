// Text inputs written by people or tools (the scenario, the expectations): reading one whole, and
// the base of the errors their readers throw, which name the file and the 1-based line.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

namespace econsim::sim {

class InputError : public std::runtime_error {
public:
	// what(): "file:line: message", or "file: message" when line is 0 (the file as a whole).
	InputError(std::string file, int line, const std::string &message);
	const std::string &file() const { return file_; }
	int line() const { return line_; }

private:
	std::string file_;
	int line_;
};

// The whole file, or nullopt when it cannot be opened.
std::optional<std::string> read_input_file(const std::string &path);

} // namespace econsim::sim
