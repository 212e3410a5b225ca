#include "mq/trace.hpp"

#include <gtest/gtest.h>

namespace mq::trace {
namespace {

TEST(Trace, TraceparentRoundTrip) {
  const auto context = Context::new_trace();
  EXPECT_EQ(context.trace_id.size(), 32u);
  EXPECT_EQ(context.span_id.size(), 16u);
  const auto parsed = Context::parse(context.traceparent());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->trace_id, context.trace_id);
  EXPECT_EQ(parsed->span_id, context.span_id);
  EXPECT_TRUE(parsed->sampled);
  const auto child = context.child();
  EXPECT_EQ(child.trace_id, context.trace_id);
  EXPECT_NE(child.span_id, context.span_id);
}

TEST(Trace, RejectsMalformedTraceparents) {
  for (const char* bad : {"", "00-abc", "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                          "00-00000000000000000000000000000000-b7ad6b7169203331-01",
                          "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
                          "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
                          "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-zz"}) {
    EXPECT_FALSE(Context::parse(bad)) << bad;
  }
  const auto good = Context::parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00");
  ASSERT_TRUE(good);
  EXPECT_FALSE(good->sampled);
}

TEST(Trace, ScopesNestPerThread) {
  EXPECT_FALSE(current());
  const auto outer = Context::new_trace();
  {
    Scope first(outer);
    EXPECT_EQ(current()->trace_id, outer.trace_id);
    {
      Scope second(Context::new_trace());
      EXPECT_NE(current()->trace_id, outer.trace_id);
    }
    EXPECT_EQ(current()->trace_id, outer.trace_id);
  }
  EXPECT_FALSE(current());
}

}  // namespace
}  // namespace mq::trace
