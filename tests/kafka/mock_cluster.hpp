// A mock cluster (mq_kafka_mock, started by scripts/servers/kafka.sh) for one test:
// started in a temporary dir, stopped and removed when the object goes away.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace mq::kafka_test {

class MockCluster {
 public:
  MockCluster() {
    dir_ = ::testing::TempDir() + "mq-kafka-test-XXXXXX";
    if (!::mkdtemp(dir_.data())) throw std::runtime_error("mkdtemp failed");
    if (std::system((std::string(MQ_KAFKA_SCRIPT) + " start " + dir_).c_str()) != 0) {
      throw std::runtime_error("kafka.sh start failed");
    }
    std::ifstream file(dir_ + "/url");
    std::getline(file, url_);
  }
  ~MockCluster() {
    (void)std::system((std::string(MQ_KAFKA_SCRIPT) + " stop " + dir_).c_str());
    std::error_code ignored;  // best effort
    std::filesystem::remove_all(dir_, ignored);
  }
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  const std::string& url() const { return url_; }  // kafka://HOSTS?...
  std::string bootstrap() const { return url_.substr(8, url_.find('?') - 8); }

 private:
  std::string dir_, url_;
};

}  // namespace mq::kafka_test
