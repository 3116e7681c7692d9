// Command-line flags of halfmq-broker (gflags; --flagfile works). The
// authoritative list with defaults and advice is docs/operations.md.
#ifndef HALFMQ_BROKER_FLAGS_H_
#define HALFMQ_BROKER_FLAGS_H_

#include "broker/broker.h"
#include "common/status.h"

namespace halfmq::broker {

// Builds BrokerOptions from the parsed flags. Errors: INVALID_ARGUMENT for a
// flag value that is out of range or unparsable.
Result<BrokerOptions> OptionsFromFlags();

}  // namespace halfmq::broker

#endif  // HALFMQ_BROKER_FLAGS_H_
