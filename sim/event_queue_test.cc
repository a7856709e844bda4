// The event queue pops in time order and, at equal times, in insertion (FIFO) order.
#include "sim/event_queue.h"

#include <gtest/gtest.h>

#include <boost/random/mersenne_twister.hpp>
#include <boost/random/uniform_int_distribution.hpp>
#include <map>

namespace pbfs::sim {
namespace {

void noop(void*, uint64_t) {}

TEST(EventQueue, EqualTimesPopInInsertionOrder) {
  EventQueue q;
  for (uint64_t i = 0; i < 100; ++i) q.push(5, &noop, nullptr, i);
  for (uint64_t i = 0; i < 100; ++i) q.push(3, &noop, nullptr, 1000 + i);
  for (uint64_t i = 0; i < 100; ++i) EXPECT_EQ(q.pop().argument, 1000 + i);
  for (uint64_t i = 0; i < 100; ++i) EXPECT_EQ(q.pop().argument, i);
  EXPECT_TRUE(q.empty());
}

TEST(EventQueue, MatchesAReferenceOrderingUnderRandomHoldModel) {
  EventQueue q;
  std::multimap<std::pair<TimeNs, uint64_t>, uint64_t> reference;  // (time, insertion) -> argument
  boost::random::mt19937_64 rng(7);
  uint64_t inserted = 0;
  auto push = [&](TimeNs t) {
    q.push(t, &noop, nullptr, inserted);
    reference.emplace(std::make_pair(t, inserted), inserted);
    ++inserted;
  };
  for (int i = 0; i < 1000; ++i) push(boost::random::uniform_int_distribution<TimeNs>(0, 50)(rng));
  for (int i = 0; i < 20000; ++i) {
    const Event e = q.pop();
    auto expected = reference.begin();
    ASSERT_EQ(e.time_ns, expected->first.first);
    ASSERT_EQ(e.argument, expected->second);
    reference.erase(expected);
    // Some events land exactly at the current time, some far away.
    const TimeNs delta = boost::random::uniform_int_distribution<TimeNs>(0, 3)(rng) == 0
                             ? 0
                             : boost::random::uniform_int_distribution<TimeNs>(0, 1 << 20)(rng);
    push(e.time_ns + delta);
  }
  EXPECT_EQ(q.size(), reference.size());
}

}  // namespace
}  // namespace pbfs::sim
