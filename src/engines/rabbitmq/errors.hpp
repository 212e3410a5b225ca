// The one place where rabbitmq-c's and RabbitMQ's errors become mq errors.
#pragma once

#include <amqp.h>

#include <string_view>

#include "mq/error.hpp"

namespace mq::engines::rabbitmq {

// A rabbitmq-c status (AMQP_STATUS_*): the connection failed or timed out.
Error library_error(int status, std::string_view what, std::string_view address);
// The reply of an RPC: a library failure, or the server closing the channel
// (404 not_found, 406 precondition, 403 access refused, ...) or the connection.
Error reply_error(const amqp_rpc_reply_t& reply, std::string_view what, std::string_view address);
// A channel.close or connection.close the server sent by itself.
Error close_error(amqp_method_number_t method, const void* decoded, std::string_view what,
                  std::string_view address);

}  // namespace mq::engines::rabbitmq
