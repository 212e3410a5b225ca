// The suite's own main: `--mq-engine=NAME` selects a server engine (see engine_urls()).
// A server engine's executable (mq_conformance_<name>) is built with
// MQ_CONFORMANCE_DEFAULT_ENGINE=<name> and its server's dir and script, because CMake
// 3.25's gtest_discover_tests passes neither EXTRA_ARGS to discovery nor a test
// ENVIRONMENT with more than one variable (the ';' splits the property list).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <string_view>

int main(int argc, char** argv) {
#ifdef MQ_CONFORMANCE_DEFAULT_ENGINE
  ::setenv("MQ_CONFORMANCE_ENGINE", MQ_CONFORMANCE_DEFAULT_ENGINE, 0);
  ::setenv("MQ_CONFORMANCE_SERVER_DIR", MQ_CONFORMANCE_SERVER_DIR, 0);
  ::setenv("MQ_CONFORMANCE_SERVER_SCRIPT", MQ_CONFORMANCE_SERVER_SCRIPT, 0);
#endif
  for (int i = 1; i < argc; ++i) {
    const std::string_view argument = argv[i];
    if (argument.starts_with("--mq-engine=")) ::setenv("MQ_CONFORMANCE_ENGINE", argv[i] + 12, 1);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
