// Latencies kept in a log-linear histogram (HdrHistogram's layout, 128 sub-buckets per power of
// two), so a replay's memory does not grow with its frames: values below 256 ns are exact, larger
// ones within 1/128.
#pragma once

#include <cstdint>
#include <vector>

namespace econsim::sim::timing {

class LatencyHistogram {
public:
	LatencyHistogram();

	void add(std::int64_t ns);
	std::uint64_t count() const { return count_; }
	std::int64_t max() const { return max_; }
	// The nearest-rank percentile (q in (0, 1]): the largest value of the bucket that holds the
	// ceil(q × count)-th smallest value, capped at the maximum. 0 when empty.
	std::int64_t percentile(double q) const;

private:
	std::vector<std::uint64_t> buckets_;
	std::uint64_t count_ = 0;
	std::int64_t max_ = 0;
};

} // namespace econsim::sim::timing
