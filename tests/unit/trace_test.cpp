#include "mq/trace.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "core/tracing.hpp"
#include "mq/message.hpp"
#include "mq/names.hpp"

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

TEST(Trace, InjectorStampsOneChildSpanPerSend) {
  Message untraced("t", "v");
  core::TraceInjector().inject(untraced);
  EXPECT_TRUE(untraced.headers.empty()) << "no context: no headers";

  const auto parent = Context::new_trace();
  Scope scope(parent);
  const core::TraceInjector injector;  // one send (of a batch)
  Message first("t", "v"), second("t", "v");
  second.headers.add(std::string(names::trace_id_header), "old");
  injector.inject(first);
  injector.inject(second);
  const auto a = Context::parse(*first.headers.find(names::traceparent_header));
  const auto b = Context::parse(*second.headers.find(names::traceparent_header));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->trace_id, parent.trace_id);
  EXPECT_EQ(b->trace_id, parent.trace_id);
  EXPECT_NE(a->span_id, parent.span_id) << "a child span of the sender's";
  EXPECT_EQ(a->span_id, b->span_id) << "one span per send";
  EXPECT_EQ(a->span_id, injector.span().span_id);
  EXPECT_EQ(*first.headers.find(names::trace_id_header), parent.trace_id);
  EXPECT_EQ(*second.headers.find(names::trace_id_header), parent.trace_id) << "x-trace-id is replaced";
  EXPECT_EQ(second.headers.size(), 2u);
  EXPECT_EQ(first.headers.size(), 2u);

  Message next("t", "v");  // another send: another span of the same trace
  core::TraceInjector().inject(next);
  const auto c = Context::parse(*next.headers.find(names::traceparent_header));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->trace_id, parent.trace_id);
  EXPECT_NE(c->span_id, a->span_id);

  Message own("t", "v");  // the sender's own traceparent wins
  own.headers.add(std::string(names::traceparent_header), std::string(*first.headers.find(names::traceparent_header)));
  injector.inject(own);
  EXPECT_EQ(own.headers.size(), 1u);
}

TEST(Trace, HookSeesEachSentMessageWithItsSpan) {
  std::vector<std::pair<Event, std::string>> seen;  // the hook runs on this thread for sends
  set_hook([&](Event event, const Message& message, const Context& context) {
    EXPECT_EQ(*message.headers.find(names::traceparent_header), context.traceparent());
    seen.emplace_back(event, context.span_id);
  });
  {
    Scope scope(Context::new_trace());
    const core::TraceInjector injector;
    Message first("t", "v"), second("t", "v");
    injector.inject(first);
    injector.inject(second);
  }
  set_hook({});
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].first, Event::send);
  EXPECT_EQ(seen[0].second, seen[1].second);
}

TEST(Trace, HandlerTraceIsCurrentOnlyWhileItLives) {
  const auto sent = Context::new_trace();
  Message message("t", "v");
  message.headers.add(std::string(names::traceparent_header), sent.traceparent());
  EXPECT_FALSE(current());
  {
    core::HandlerTrace trace(message);
    const auto seen = current();  // parsed on first use
    ASSERT_TRUE(seen);
    EXPECT_EQ(seen->trace_id, sent.trace_id);
    EXPECT_EQ(seen->span_id, sent.span_id);
    {
      Scope inner(Context::new_trace());
      EXPECT_NE(current()->trace_id, sent.trace_id);
    }
    EXPECT_EQ(current()->trace_id, sent.trace_id);
  }
  EXPECT_FALSE(current());

  const auto outer = Context::new_trace();
  Scope scope(outer);
  {
    core::HandlerTrace never_asked(message);  // never resolved: nothing to restore
  }
  EXPECT_EQ(current()->trace_id, outer.trace_id);
  {
    Message invalid("t", "v");
    invalid.headers.add(std::string(names::traceparent_header), "garbage");
    core::HandlerTrace trace(invalid);
    EXPECT_EQ(current()->trace_id, outer.trace_id) << "an invalid traceparent leaves the context as it was";
  }
  {
    Message only_id("t", "v");
    only_id.headers.add(std::string(names::trace_id_header), sent.trace_id);
    core::HandlerTrace trace(only_id);
    EXPECT_EQ(current()->trace_id, sent.trace_id) << "x-trace-id alone continues its trace";
  }
  EXPECT_EQ(current()->trace_id, outer.trace_id);
}

}  // namespace
}  // namespace mq::trace
