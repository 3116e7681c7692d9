// The read steps of a buffered frame reader, shared by the broker's sessions
// and the client's connections.
//
// Appends what a (non-blocking) socket holds, up to `chunk` bytes, to `in`.
// When `in` is empty it first waits for the socket to become readable; with
// `release_when_empty` it frees the buffer before waiting, so an idle
// connection holds no read memory (the broker, with many connections; the
// client keeps its few buffers). Each step returns an empty error code on
// success, asio::error::eof when the peer closed the connection, or the
// socket's error (including operation_aborted when it was closed here).
//
// `Buffer` is proto::ReadBuffer or anything with its interface: data(),
// size(), Consume(n), Release(), Reserve(n), write_ptr(), writable(),
// Commit(n).
#ifndef HALFMQ_COMMON_ASIO_READ_H_
#define HALFMQ_COMMON_ASIO_READ_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "common/asio.h"

namespace halfmq {

template <typename Socket, typename Buffer>
asio::awaitable<boost::system::error_code> ReadAvailable(Socket& socket, Buffer* in, size_t chunk,
                                                         bool release_when_empty) {
  boost::system::error_code ec;
  if (in->size() == 0) {
    if (release_when_empty) in->Release();
    co_await socket.async_wait(Socket::wait_read, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return ec;
  }
  for (;;) {
    in->Reserve(chunk);
    size_t n = socket.read_some(asio::buffer(in->write_ptr(), in->writable()), ec);
    if (!ec) {
      if (n == 0) co_return asio::error::eof;
      in->Commit(n);
      co_return ec;
    }
    if (ec != asio::error::would_block && ec != asio::error::try_again) co_return ec;
    co_await socket.async_wait(Socket::wait_read, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return ec;
  }
}

// Reads until `in` holds at least `n` bytes.
template <typename Socket, typename Buffer>
asio::awaitable<boost::system::error_code> ReadAtLeast(Socket& socket, Buffer* in, size_t n,
                                                       size_t chunk, bool release_when_empty) {
  // (Results of co_await are stored before they are tested: g++ 12
  // miscompiles co_await inside conditions.)
  while (in->size() < n) {
    boost::system::error_code ec =
        co_await ReadAvailable(socket, in, chunk, release_when_empty);
    if (ec) co_return ec;
  }
  co_return boost::system::error_code();
}

// Reads a frame body of `length` bytes (its header already consumed from
// `in`) and points `*bytes` at it: in place in `in` when it fits in one read
// (valid until `in` is read into again), else in `*large`, which takes what
// `in` holds and then the rest straight from the socket.
template <typename Socket, typename Buffer>
asio::awaitable<boost::system::error_code> ReadFrameBody(Socket& socket, Buffer* in,
                                                         std::string* large, size_t length,
                                                         size_t chunk, bool release_when_empty,
                                                         std::string_view* bytes) {
  if (length <= chunk) {
    boost::system::error_code ec =
        co_await ReadAtLeast(socket, in, length, chunk, release_when_empty);
    if (ec) co_return ec;
    *bytes = std::string_view(in->data(), length);
    in->Consume(length);
    co_return ec;
  }
  size_t have = in->size();
  large->assign(in->data(), have);
  in->Consume(have);
  large->resize(length);
  boost::system::error_code ec;
  co_await asio::async_read(socket, asio::buffer(large->data() + have, length - have),
                            asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return ec;
  *bytes = *large;
  co_return ec;
}

}  // namespace halfmq

#endif  // HALFMQ_COMMON_ASIO_READ_H_
