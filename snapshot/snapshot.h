// `econ-sim snapshot`: a live Linux overlay node turned into a scenario, a capture and a report
// (snapshot/README.md).
#pragma once

#include <iosfwd>
#include <string_view>
#include <vector>

namespace econsim::snapshot {

// args: what follows "snapshot" on the command line. Returns the process's exit code: 0 when the
// snapshot was written (whatever it could not represent is in its report), 2 for bad usage or an
// output directory it cannot write, or when not run as root.
int run_snapshot(const std::vector<std::string_view> &args, std::ostream &out, std::ostream &err);

} // namespace econsim::snapshot
