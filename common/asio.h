// The one way HalfMQ includes Boost.Asio.
//
// Boost 1.74's asio/awaitable.hpp uses std::exchange without including
// <utility>, which g++ 12 rejects; clang 14 with libstdc++ needs to be told
// that std coroutines exist. Including Asio only through this header fixes
// both once.
#ifndef HALFMQ_COMMON_ASIO_H_
#define HALFMQ_COMMON_ASIO_H_

#include <utility>
#include <coroutine>

#if defined(__clang__) && !defined(BOOST_ASIO_HAS_CO_AWAIT)
#define BOOST_ASIO_HAS_CO_AWAIT 1
#define BOOST_ASIO_HAS_STD_COROUTINE 1
#endif

#include <boost/asio.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace halfmq {
namespace asio = boost::asio;
}  // namespace halfmq

#endif  // HALFMQ_COMMON_ASIO_H_
