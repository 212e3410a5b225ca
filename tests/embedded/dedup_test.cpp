// The embedded engine's on-disk dedup store: two store objects on one data dir stand
// for two processes (claims go through the file lock, not the object).
#include "engines/embedded/dedup_store.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "test_support.hpp"

namespace mq::engines::embedded {
namespace {

using namespace test;

using namespace std::chrono_literals;
using Claim = core::DedupStore::Claim;

TEST(DedupFiles, ClaimsAreSharedThroughTheDataDir) {
  TempDir dir;
  DataDir data{dir.path()};
  DedupFiles first(data), second(data);
  EXPECT_EQ(first.claim("g", "id-1", 10s), Claim::acquired);
  EXPECT_EQ(second.claim("g", "id-1", 10s), Claim::busy);
  EXPECT_EQ(second.claim("h", "id-1", 10s), Claim::acquired);  // per group
  first.release("g", "id-1");
  EXPECT_EQ(second.claim("g", "id-1", 10s), Claim::acquired);
  second.complete("g", "id-1", 10s);
  EXPECT_EQ(first.claim("g", "id-1", 10s), Claim::done);
  first.release("g", "id-1");
  EXPECT_EQ(first.claim("g", "id-1", 10s), Claim::done) << "a release undid a completion";
  EXPECT_EQ(first.claim("g", "lease", 0ms), Claim::acquired);
  EXPECT_EQ(second.claim("g", "lease", 10s), Claim::acquired) << "an expired lease still blocked";
}

TEST(DedupFiles, AnyIdMakesASafeFileName) {
  const std::string long_id(500, 'x');
  for (const std::string& id : {std::string("../../etc/passwd"), std::string("a/b\nc"), long_id, std::string()}) {
    const auto name = DedupFiles::entry_name(id);
    EXPECT_EQ(name.find('/'), std::string::npos) << name;
    EXPECT_LT(name.size(), 200u);
  }
  EXPECT_NE(DedupFiles::entry_name(long_id), DedupFiles::entry_name(long_id + "y"));
  TempDir dir;
  DedupFiles store(DataDir{dir.path()});
  EXPECT_EQ(store.claim("g", "../../escape", 10s), Claim::acquired);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/escape"));
}

TEST(DedupFiles, ATornEntryCountsAsAbsent) {
  TempDir dir;
  DataDir data{dir.path()};
  DedupFiles store(data);
  store.claim("g", "torn", 10s);
  store.complete("g", "torn", 10s);
  write_bytes(data.groups() + "/g/dedup/" + DedupFiles::entry_name("torn"), "do");
  EXPECT_EQ(store.claim("g", "torn", 10s), Claim::acquired);
}

}  // namespace
}  // namespace mq::engines::embedded
