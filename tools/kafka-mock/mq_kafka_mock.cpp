// mq_kafka_mock [--brokers N]: runs librdkafka's mock cluster (rdkafka_mock.h), which
// speaks the Kafka protocol over loopback, until SIGTERM or SIGINT. No Kafka broker can
// be installed on the project's machines; this is what the Kafka engine is tested on.
//
// stdout: the bootstrap address ("127.0.0.1:P1,127.0.0.1:P2,...") on the first line,
// then "down" or "up" after each SIGUSR1 (every broker stops serving, keeping its port
// and data) or SIGUSR2 (they serve again), so a script can wait for the change.
//
// librdkafka 2.0.2's mock has no CreateTopics/DeleteTopics. This program takes them on
// the control topic __mq_mock_admin instead (partition 0, one request per message):
//   "create NAME PARTITIONS"  creates the topic (or shows a deleted one again);
//   "delete NAME"             hides it: metadata reports it unknown. The mock cannot
//                             remove a topic, so its messages stay in memory.
// The Kafka engine uses this only when the cluster lacks the admin API.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <set>
#include <sstream>
#include <string>

namespace {

constexpr const char* control_topic = "__mq_mock_admin";

rd_kafka_t* new_handle(rd_kafka_type_t type, rd_kafka_conf_t* conf) {
  char reason[512];
  rd_kafka_t* handle = rd_kafka_new(type, conf, reason, sizeof reason);
  if (handle == nullptr) {
    std::fprintf(stderr, "mq_kafka_mock: %s\n", reason);
    std::exit(1);
  }
  return handle;
}

void set(rd_kafka_conf_t* conf, const char* name, const std::string& value) {
  char reason[512];
  if (rd_kafka_conf_set(conf, name, value.c_str(), reason, sizeof reason) != RD_KAFKA_CONF_OK) {
    std::fprintf(stderr, "mq_kafka_mock: %s\n", reason);
    std::exit(1);
  }
}

void set_brokers(rd_kafka_mock_cluster_t* cluster, int brokers, bool up) {
  for (int id = 1; id <= brokers; ++id) {
    if (up) {
      rd_kafka_mock_broker_set_up(cluster, id);
    } else {
      rd_kafka_mock_broker_set_down(cluster, id);
    }
  }
  std::printf("%s\n", up ? "up" : "down");
  std::fflush(stdout);
}

void handle_control(rd_kafka_mock_cluster_t* cluster, int replication, std::set<std::string>& hidden,
                    const std::string& request) {
  std::istringstream words(request);
  std::string verb, topic;
  int partitions = 0;
  words >> verb >> topic >> partitions;
  if (verb == "create" && hidden.erase(topic)) {
    rd_kafka_mock_topic_set_error(cluster, topic.c_str(), RD_KAFKA_RESP_ERR_NO_ERROR);
  } else if (verb == "create" && partitions > 0) {
    rd_kafka_mock_topic_create(cluster, topic.c_str(), partitions, replication);
  } else if (verb == "delete") {
    rd_kafka_mock_topic_set_error(cluster, topic.c_str(), RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    hidden.insert(topic);
  } else {
    std::fprintf(stderr, "mq_kafka_mock: ignoring control request '%s'\n", request.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  int brokers = 3;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--brokers") == 0 && i + 1 < argc) {
      brokers = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: mq_kafka_mock [--brokers N]\n");
      return 2;
    }
  }
  if (brokers < 1) brokers = 1;
  // Signals are taken synchronously below; blocked before librdkafka starts its threads
  // so that none of them receives one.
  sigset_t signals;
  sigemptyset(&signals);
  for (int signal : {SIGTERM, SIGINT, SIGUSR1, SIGUSR2}) sigaddset(&signals, signal);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "log_level", "3");
  rd_kafka_t* owner = new_handle(RD_KAFKA_PRODUCER, conf);
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(owner, brokers);
  if (cluster == nullptr) {
    std::fprintf(stderr, "mq_kafka_mock: cannot create the mock cluster\n");
    return 1;
  }
  const std::string bootstrap = rd_kafka_mock_cluster_bootstraps(cluster);
  const int replication = std::min(brokers, 3);
  rd_kafka_mock_topic_create(cluster, control_topic, 1, replication);

  rd_kafka_conf_t* control_conf = rd_kafka_conf_new();
  set(control_conf, "bootstrap.servers", bootstrap);
  set(control_conf, "group.id", "mq-kafka-mock");
  set(control_conf, "enable.auto.commit", "false");
  set(control_conf, "fetch.wait.max.ms", "10");
  set(control_conf, "log_level", "0");  // its reconnects while brokers are down are expected
  rd_kafka_t* control = new_handle(RD_KAFKA_CONSUMER, control_conf);
  rd_kafka_poll_set_consumer(control);
  rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(assignment, control_topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(control, assignment);
  rd_kafka_topic_partition_list_destroy(assignment);

  std::printf("%s\n", bootstrap.c_str());
  std::fflush(stdout);

  std::set<std::string> hidden;
  const timespec no_wait{0, 0};
  for (;;) {
    const int signal = sigtimedwait(&signals, nullptr, &no_wait);
    if (signal == SIGTERM || signal == SIGINT) break;
    if (signal == SIGUSR1 || signal == SIGUSR2) set_brokers(cluster, brokers, signal == SIGUSR2);
    if (rd_kafka_message_t* message = rd_kafka_consumer_poll(control, 20)) {
      if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        handle_control(cluster, replication, hidden,
                       std::string(static_cast<const char*>(message->payload), message->len));
      }
      rd_kafka_message_destroy(message);
    }
  }
  rd_kafka_destroy(control);
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(owner);
  return 0;
}
