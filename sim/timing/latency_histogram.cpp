#include "timing/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace econsim::sim::timing {

namespace {

constexpr unsigned kSubBits = 7; // 128 sub-buckets per power of two
constexpr std::uint64_t kExact = std::uint64_t{2} << kSubBits; // values below are their own bucket

std::size_t bucket_of(std::uint64_t v)
{
	if (v < kExact)
		return static_cast<std::size_t>(v);
	unsigned shift = static_cast<unsigned>(std::bit_width(v)) - (kSubBits + 1);
	return kExact + (shift - 1) * (kExact / 2) + static_cast<std::size_t>((v >> shift) - kExact / 2);
}

// The largest value that falls in bucket i.
std::uint64_t bucket_top(std::size_t i)
{
	if (i < kExact)
		return i;
	std::size_t shift = (i - kExact) / (kExact / 2) + 1;
	std::uint64_t mantissa = (i - kExact) % (kExact / 2) + kExact / 2;
	return ((mantissa + 1) << shift) - 1;
}

} // namespace

LatencyHistogram::LatencyHistogram() : buckets_(bucket_of(UINT64_MAX) + 1) {}

void LatencyHistogram::add(std::int64_t ns)
{
	std::uint64_t v = ns < 0 ? 0 : static_cast<std::uint64_t>(ns);
	buckets_[bucket_of(v)]++;
	count_++;
	max_ = std::max(max_, static_cast<std::int64_t>(v));
}

std::int64_t LatencyHistogram::percentile(double q) const
{
	if (count_ == 0)
		return 0;
	auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
	rank = std::clamp<std::uint64_t>(rank, 1, count_);
	std::uint64_t seen = 0;
	for (std::size_t i = 0; i < buckets_.size(); i++) {
		seen += buckets_[i];
		if (seen >= rank)
			return std::min(static_cast<std::int64_t>(bucket_top(i)), max_);
	}
	return max_;
}

} // namespace econsim::sim::timing
