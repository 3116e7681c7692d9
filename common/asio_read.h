// ReadAvailable: the read step of a buffered frame reader, shared by the
// broker's sessions and the client's connections.
//
// Appends what a (non-blocking) socket holds, up to `chunk` bytes, to `in`.
// When `in` is empty it first waits for the socket to become readable; with
// `release_when_empty` it frees the buffer before waiting, so an idle
// connection holds no read memory (the broker, with many connections; the
// client keeps its few buffers). Returns false on EOF or error (including
// cancellation by close).
//
// `Buffer` is proto::ReadBuffer or anything with its interface: size(),
// Release(), Reserve(n), write_ptr(), writable(), Commit(n).
#ifndef HALFMQ_COMMON_ASIO_READ_H_
#define HALFMQ_COMMON_ASIO_READ_H_

#include <cstddef>

#include "common/asio.h"

namespace halfmq {

template <typename Socket, typename Buffer>
asio::awaitable<bool> ReadAvailable(Socket& socket, Buffer* in, size_t chunk,
                                    bool release_when_empty) {
  boost::system::error_code ec;
  if (in->size() == 0) {
    if (release_when_empty) in->Release();
    co_await socket.async_wait(Socket::wait_read, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return false;
  }
  for (;;) {
    in->Reserve(chunk);
    size_t n = socket.read_some(asio::buffer(in->write_ptr(), in->writable()), ec);
    if (!ec) {
      if (n == 0) co_return false;
      in->Commit(n);
      co_return true;
    }
    if (ec != asio::error::would_block && ec != asio::error::try_again) co_return false;
    co_await socket.async_wait(Socket::wait_read, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return false;
  }
}

}  // namespace halfmq

#endif  // HALFMQ_COMMON_ASIO_READ_H_
