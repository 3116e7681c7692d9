// Umbrella header for the HalfMQ C++ client.
#ifndef HALFMQ_CLIENT_HALFMQ_H_
#define HALFMQ_CLIENT_HALFMQ_H_

#include "common/status.h"
#include "halfmq/admin.h"
#include "halfmq/consumer.h"
#include "halfmq/message.h"
#include "halfmq/options.h"
#include "halfmq/producer.h"
#include "halfmq/transaction.h"

#endif  // HALFMQ_CLIENT_HALFMQ_H_
