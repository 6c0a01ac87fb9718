// IPv4 reassembly: net/ipv4/ip_fragment.c ip_defrag/ip_frag_queue/ip_frag_reasm/ip_expire and
// net/ipv4/inet_fragment.c inet_frag_queue_insert (Linux 6.1).
#include <gtest/gtest.h>

#include "model/ip_defrag.h"

namespace econsim::model::testing {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

FragmentKey key(std::uint16_t id, std::string ns = "c1")
{
	return FragmentKey{std::move(ns), ipv4(10, 233, 2, 2), ipv4(10, 233, 1, 2), id, 17, 0};
}

// A fragment of datagram `id`: payload bytes [offset, offset + length), MF unless `last`.
Fragment piece(std::uint16_t id, std::uint32_t offset, std::uint32_t length, bool last, std::int64_t now = 0)
{
	Fragment f{key(id), offset, length, 20, !last, 0, now, {}};
	if (offset == 0)
		f.transport = TransportStart{4000, 5000, 8 + 3000, 0};
	return f;
}

TEST(IpDefrag, InOrder_HeldUntilTheLastCompletesTheDatagram)
{
	IpDefrag defrag;
	EXPECT_EQ(defrag.add(piece(1, 0, 1480, false)).result, DefragResult::held);
	EXPECT_EQ(defrag.add(piece(1, 1480, 1480, false)).result, DefragResult::held);
	const DefragAnswer whole = defrag.add(piece(1, 2960, 48, true));
	ASSERT_EQ(whole.result, DefragResult::complete);
	EXPECT_EQ(whole.datagram_length, 3008u);
	EXPECT_EQ(whole.fragments, 3u);
	EXPECT_EQ(whole.transport.source_port, 4000);
	EXPECT_EQ(whole.transport.destination_port, 5000);
	EXPECT_EQ(defrag.queues(), 0u); // ipq_kill: the queue goes with the datagram
	EXPECT_EQ(defrag.stats().reassembled, 1u);
	EXPECT_EQ(defrag.stats().held, 2u);
}

TEST(IpDefrag, OutOfOrder_AHoleFilledLastCompletes)
{
	IpDefrag defrag;
	EXPECT_EQ(defrag.add(piece(2, 0, 1480, false)).result, DefragResult::held);
	EXPECT_EQ(defrag.add(piece(2, 2960, 48, true)).result, DefragResult::held); // a run of its own
	EXPECT_EQ(defrag.add(piece(2, 1480, 1480, false)).result, DefragResult::complete);
}

TEST(IpDefrag, FirstFragmentLast_CompletesWithItsTransportHeader)
{
	IpDefrag defrag;
	EXPECT_EQ(defrag.add(piece(3, 2960, 48, true)).result, DefragResult::held);
	EXPECT_EQ(defrag.add(piece(3, 1480, 1480, false)).result, DefragResult::held);
	const DefragAnswer whole = defrag.add(piece(3, 0, 1480, false));
	ASSERT_EQ(whole.result, DefragResult::complete); // FIRST_IN and LAST_IN, meat == len
	EXPECT_EQ(whole.transport.destination_port, 5000);
	EXPECT_EQ(whole.transport.udp_length, 3008u);
}

// inet_frag_queue_insert: a fragment inside one run is a duplicate: dropped, the queue kept.
TEST(IpDefrag, Duplicate_DroppedAloneTheQueueGoesOn)
{
	IpDefrag defrag;
	EXPECT_EQ(defrag.add(piece(4, 0, 1480, false)).result, DefragResult::held);
	EXPECT_EQ(defrag.add(piece(4, 1480, 1480, false)).result, DefragResult::held); // appended: one run 0-2960
	EXPECT_EQ(defrag.add(piece(4, 1480, 1480, false)).result, DefragResult::duplicate);
	EXPECT_EQ(defrag.add(piece(4, 0, 2960, false)).result, DefragResult::duplicate); // inside the run
	EXPECT_EQ(defrag.queues(), 1u);
	EXPECT_EQ(defrag.add(piece(4, 2960, 48, true)).result, DefragResult::complete);
	EXPECT_EQ(defrag.stats().duplicates, 2u);
}

// RFC 5722 (and errata 3089) as inet_frag_queue_insert applies it to IPv4 too: an overlap drops
// the fragment and every fragment of its datagram; what comes later starts a new queue.
TEST(IpDefrag, Overlap_DropsTheWholeQueue)
{
	IpDefrag defrag;
	EXPECT_EQ(defrag.add(piece(5, 0, 1480, false)).result, DefragResult::held);
	EXPECT_EQ(defrag.add(piece(5, 1000, 1480, false)).result,
		  DefragResult::overlap); // past the tail, overlapping it
	EXPECT_EQ(defrag.queues(), 0u);
	EXPECT_EQ(defrag.add(piece(5, 1480, 1480, true)).result, DefragResult::held); // a new queue, no first fragment
	EXPECT_EQ(defrag.stats().overlaps, 1u);

	// Inside the tail's reach, across two runs that were not appended to each other.
	IpDefrag again;
	EXPECT_EQ(again.add(piece(6, 2960, 48, true)).result, DefragResult::held);
	EXPECT_EQ(again.add(piece(6, 0, 1480, false)).result, DefragResult::held);
	EXPECT_EQ(again.add(piece(6, 1000, 1000, false)).result, DefragResult::overlap); // part inside a run
}

TEST(IpDefrag, TwoInterleavedDatagrams_EachCompletesOnItsOwn)
{
	IpDefrag defrag;
	EXPECT_EQ(defrag.add(piece(7, 0, 1480, false)).result, DefragResult::held);
	EXPECT_EQ(defrag.add(piece(8, 0, 1480, false)).result, DefragResult::held);
	EXPECT_EQ(defrag.add(piece(8, 1480, 100, true)).result, DefragResult::complete);
	EXPECT_EQ(defrag.queues(), 1u);
	EXPECT_EQ(defrag.add(piece(7, 1480, 200, true)).datagram_length, 1680u);
	// The key holds the namespace: the same id elsewhere is another datagram.
	Fragment elsewhere = piece(9, 1480, 100, true);
	elsewhere.key = key(9, "c2");
	EXPECT_EQ(defrag.add(piece(9, 0, 1480, false)).result, DefragResult::held);
	EXPECT_EQ(defrag.add(elsewhere).result, DefragResult::held);
	EXPECT_EQ(defrag.queues(), 2u);
}

// ip_expire: ipfrag_time (30 s) after the queue was made, measured in capture time; the held
// fragments are lost with it and a late fragment starts over.
TEST(IpDefrag, Timeout_TheQueueExpiresThirtySecondsAfterItsFirstFragment)
{
	IpDefrag defrag;
	EXPECT_EQ(defrag.add(piece(10, 0, 1480, false, 0)).result, DefragResult::held);
	EXPECT_EQ(defrag.add(piece(10, 1480, 1480, false, 29 * kSecond)).result, DefragResult::held);
	EXPECT_EQ(defrag.add(piece(10, 2960, 48, true, 30 * kSecond)).result, DefragResult::held); // too late
	EXPECT_EQ(defrag.stats().timed_out, 1u);
	EXPECT_EQ(defrag.stats().timed_out_fragments, 2u);
	EXPECT_EQ(defrag.queues(), 1u); // the late last fragment's own queue

	IpDefrag in_time;
	EXPECT_EQ(in_time.add(piece(11, 0, 1480, false, 0)).result, DefragResult::held);
	EXPECT_EQ(in_time.add(piece(11, 1480, 48, true, 30 * kSecond - 1)).result, DefragResult::complete);
}

// ip_frag_queue's length rules: a last fragment short of what is held, a second last that
// disagrees, bits past a known end, an empty fragment: the queue goes.
TEST(IpDefrag, ContradictingLengths_DropTheQueue)
{
	IpDefrag defrag;
	EXPECT_EQ(defrag.add(piece(12, 1480, 1480, false)).result, DefragResult::held);
	EXPECT_EQ(defrag.add(piece(12, 0, 1000, true)).result, DefragResult::invalid); // ends before 2960
	EXPECT_EQ(defrag.queues(), 0u);
	EXPECT_EQ(defrag.add(piece(13, 1480, 48, true)).result, DefragResult::held);
	EXPECT_EQ(defrag.add(piece(13, 1480, 100, true)).result, DefragResult::invalid); // another end
	EXPECT_EQ(defrag.add(piece(14, 1480, 48, true)).result, DefragResult::held);
	EXPECT_EQ(defrag.add(piece(14, 1528, 80, false)).result, DefragResult::invalid); // past the end
	EXPECT_EQ(defrag.add(piece(15, 8, 7, false)).result, DefragResult::invalid);     // rounds down to nothing
	EXPECT_EQ(defrag.stats().invalid, 4u);
}

// ip_frag_too_far: more than ipfrag_max_dist fragments from the source between two of a queue's
// reset it (ip_frag_reinit); ip_frag_reasm refuses CE mixed with not-ECT.
TEST(IpDefrag, TooFarAndEcn)
{
	IpDefrag defrag(IpDefrag::default_timeout_ns, 2);
	EXPECT_EQ(defrag.add(piece(16, 0, 1480, false)).result, DefragResult::held);
	EXPECT_EQ(defrag.add(piece(17, 0, 8, false)).result, DefragResult::held);
	EXPECT_EQ(defrag.add(piece(18, 0, 8, false)).result, DefragResult::held);
	const DefragAnswer late = defrag.add(piece(16, 1480, 48, true)); // 3 since its last: > 2
	EXPECT_TRUE(late.queue_reset);
	EXPECT_EQ(late.result, DefragResult::held); // the first fragment went with the reset
	EXPECT_EQ(defrag.stats().reset_fragments, 1u);

	IpDefrag ecn;
	Fragment ce = piece(19, 0, 1480, false);
	ce.tos = 0x03;
	EXPECT_EQ(ecn.add(ce).result, DefragResult::held);
	EXPECT_EQ(ecn.add(piece(19, 1480, 48, true)).result, DefragResult::invalid); // not-ECT with CE
}

TEST(IpDefrag, ForgetNamespace_ItsQueuesGo)
{
	IpDefrag defrag;
	EXPECT_EQ(defrag.add(piece(20, 0, 1480, false)).result, DefragResult::held);
	defrag.forget_namespace("c1");
	EXPECT_EQ(defrag.queues(), 0u);
	EXPECT_EQ(defrag.add(piece(20, 1480, 48, true)).result, DefragResult::held);
}

// ip_frag_reasm with the fragments' bytes (the host's reassembly of an outer datagram): the first
// fragment's header, total length set, fragment field cleared, checksum recomputed; the payload
// in offset order, a non-last fragment's bytes past its 8-byte boundary left out.
TEST(IpDefrag, WithBytes_TheReassembledPacketIsTheFirstHeaderAndThePayloadInOrder)
{
	auto header = [](std::uint16_t total, std::uint16_t fragment_field) {
		std::vector<std::uint8_t> h{0x45,
					    0,
					    static_cast<std::uint8_t>(total >> 8),
					    static_cast<std::uint8_t>(total),
					    0x12,
					    0x34,
					    static_cast<std::uint8_t>(fragment_field >> 8),
					    static_cast<std::uint8_t>(fragment_field),
					    64,
					    17,
					    0xaa,
					    0xbb,
					    192,
					    168,
					    0,
					    1,
					    192,
					    168,
					    0,
					    2};
		return h;
	};
	std::vector<std::uint8_t> first = header(20 + 19, 0x2000); // 16 bytes kept, 3 past the boundary
	for (int i = 0; i < 19; i++)
		first.push_back(static_cast<std::uint8_t>(i < 16 ? 'a' + i : '!'));
	std::vector<std::uint8_t> last = header(20 + 5, 2); // offset 16
	for (int i = 0; i < 5; i++)
		last.push_back(static_cast<std::uint8_t>('A' + i));

	IpDefrag defrag;
	Fragment tail = piece(9, 16, 5, true);
	tail.bytes = last;
	EXPECT_EQ(defrag.add(tail).result, DefragResult::held);
	Fragment head = piece(9, 0, 19, false);
	head.bytes = first;
	const DefragAnswer whole = defrag.add(head);
	ASSERT_EQ(whole.result, DefragResult::complete);
	ASSERT_EQ(whole.datagram.size(), 20u + 21u);
	EXPECT_EQ(whole.datagram[2] << 8 | whole.datagram[3], 41) << "tot_len";
	EXPECT_EQ(whole.datagram[6] << 8 | whole.datagram[7], 0) << "frag_off";
	std::uint32_t sum = 0;
	for (std::size_t i = 0; i < 20; i += 2)
		sum += static_cast<std::uint32_t>(whole.datagram[i] << 8 | whole.datagram[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	EXPECT_EQ(sum, 0xffffu) << "the header checksum verifies";
	EXPECT_EQ(std::string(whole.datagram.begin() + 20, whole.datagram.end()), "abcdefghijklmnopABCDE");

	// Without bytes, decisions only: no packet.
	EXPECT_EQ(defrag.add(piece(10, 0, 16, false)).result, DefragResult::held);
	const DefragAnswer bare = defrag.add(piece(10, 16, 5, true));
	ASSERT_EQ(bare.result, DefragResult::complete);
	EXPECT_TRUE(bare.datagram.empty());
}

} // namespace
} // namespace econsim::model::testing
