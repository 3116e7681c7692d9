#include "common/deferred.h"

#include <string>

#include <gtest/gtest.h>

namespace halfmq {
namespace {

TEST(DeferScopeTest, RunsAtOnceWithoutAScope) {
  int runs = 0;
  EXPECT_FALSE(DeferScope::Active());
  DeferScope::Defer(&runs, [&] { ++runs; });
  EXPECT_EQ(runs, 1);
}

TEST(DeferScopeTest, CoalescesPerKeyAndRunsInOrderWhenTheOutermostScopeCloses) {
  std::string log;
  int a = 0, b = 0;
  {
    DeferScope outer;
    EXPECT_TRUE(DeferScope::Active());
    DeferScope::Defer(&a, [&] { log += "a"; });
    {
      DeferScope inner;
      DeferScope::Defer(&b, [&] { log += "b"; });
      DeferScope::Defer(&a, [&] { log += "A"; });  // dropped: key a is pending
    }
    EXPECT_EQ(log, "");  // the inner scope does not run anything
  }
  EXPECT_EQ(log, "ab");
  EXPECT_FALSE(DeferScope::Active());
  // The keys are free again for the next scope.
  {
    DeferScope scope;
    DeferScope::Defer(&a, [&] { log += "a"; });
  }
  EXPECT_EQ(log, "aba");
}

TEST(DeferScopeTest, FunctionsMayDeferMoreWhileDraining) {
  std::string log;
  int a = 0, b = 0;
  {
    DeferScope scope;
    DeferScope::Defer(&a, [&] {
      log += "a";
      DeferScope::Defer(&b, [&] { log += "b"; });
      DeferScope::Defer(&a, [&] { log += "a2"; });
    });
  }
  EXPECT_EQ(log, "aba2");
}

TEST(DeferScopeTest, TheOutermostScopeSaysWhetherTheThreadIsBusy) {
  EXPECT_FALSE(DeferScope::Busy());
  bool seen = false;
  int key = 0;
  {
    DeferScope outer(/*busy=*/true);
    {
      DeferScope inner(/*busy=*/false);
      EXPECT_TRUE(DeferScope::Busy());
    }
    DeferScope::Defer(&key, [&] { seen = DeferScope::Busy(); });
  }
  EXPECT_TRUE(seen);  // deferred functions run while the scope is still busy
  EXPECT_FALSE(DeferScope::Busy());
}

}  // namespace
}  // namespace halfmq
