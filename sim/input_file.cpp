#include "input_file.h"

#include <fstream>
#include <sstream>

namespace econsim::sim {

InputError::InputError(std::string file, int line, const std::string &message)
	: std::runtime_error(file + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " + message),
	  file_(std::move(file)), line_(line)
{
}

std::optional<std::string> read_input_file(const std::string &path)
{
	std::ifstream in(path, std::ios::binary);
	if (!in)
		return std::nullopt;
	std::stringstream text;
	text << in.rdbuf();
	return text.str();
}

} // namespace econsim::sim
