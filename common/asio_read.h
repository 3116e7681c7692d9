// The socket side of a frame reader, shared by the broker's sessions and the
// client's connections: one read from a non-blocking socket into a
// proto::FrameReader.
//
// ReadSome waits for the socket to become readable when the reader needs
// more, then takes what the socket holds into the space the reader offers
// (which never reaches past the end of a large frame, so one read cannot
// swallow the next frames' bytes into it). With `release_when_empty` the
// reader's buffers are freed before an idle wait, so an idle connection
// holds no read memory (the broker, with many connections; the client keeps
// its few buffers). Returns an empty error code on success,
// asio::error::eof when the peer closed the connection, or the socket's
// error (including operation_aborted when it was closed here).
#ifndef HALFMQ_COMMON_ASIO_READ_H_
#define HALFMQ_COMMON_ASIO_READ_H_

#include "common/asio.h"

namespace halfmq {

// `Reader` is proto::FrameReader (a template parameter so that common/
// includes no other module): empty(), Release(), PrepareRead() returning
// {data, size}, CommitRead(n).
template <typename Socket, typename Reader>
asio::awaitable<boost::system::error_code> ReadSome(Socket& socket, Reader* reader,
                                                    bool release_when_empty) {
  boost::system::error_code ec;
  if (reader->empty()) {
    if (release_when_empty) reader->Release();
    co_await socket.async_wait(Socket::wait_read, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return ec;
  }
  for (;;) {
    auto space = reader->PrepareRead();
    size_t n = socket.read_some(asio::buffer(space.data, space.size), ec);
    if (!ec) {
      if (n == 0) co_return asio::error::eof;
      reader->CommitRead(n);
      co_return ec;
    }
    if (ec != asio::error::would_block && ec != asio::error::try_again) co_return ec;
    co_await socket.async_wait(Socket::wait_read, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return ec;
  }
}

}  // namespace halfmq

#endif  // HALFMQ_COMMON_ASIO_READ_H_
