// The whole public API of mq in one include.
#pragma once

#include "mq/admin.hpp"
#include "mq/capabilities.hpp"
#include "mq/client.hpp"
#include "mq/config.hpp"
#include "mq/consumer.hpp"
#include "mq/error.hpp"
#include "mq/log.hpp"
#include "mq/message.hpp"
#include "mq/metrics.hpp"
#include "mq/names.hpp"
#include "mq/options.hpp"
#include "mq/producer.hpp"
#include "mq/trace.hpp"
