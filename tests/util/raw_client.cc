#include "tests/util/raw_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/host_port.h"
#include "proto/framing.h"

namespace halfmq::testing {

std::string FrameHeader(uint32_t length) {
  uint8_t h[proto::kFrameHeaderBytes];
  proto::EncodeFrameLength(length, h);
  return std::string(reinterpret_cast<const char*>(h), sizeof(h));
}

RawClient::RawClient(const std::string& address, const std::string& source_ip) {
  auto parsed = ParseHostPort(address);
  if (!parsed.ok()) return;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(parsed->port);
  if (::inet_pton(AF_INET, parsed->host.c_str(), &addr.sin_addr) != 1) return;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return;
  if (!source_ip.empty()) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    if (::inet_pton(AF_INET, source_ip.c_str(), &from.sin_addr) != 1 ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0) {
      ::close(fd);
      return;
    }
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  fd_ = fd;
}

RawClient::~RawClient() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawClient::SendBytes(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

bool RawClient::SendFrame(const v1::Frame& frame) {
  std::string wire;
  if (!proto::AppendFrame(frame, 1u << 30, &wire)) return false;
  return SendBytes(wire);
}

bool RawClient::ReadExact(char* p, size_t n, int timeout_ms) {
  size_t got = 0;
  while (got < n) {
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, timeout_ms) <= 0) return false;
    ssize_t r = ::recv(fd_, p + got, n - got, 0);
    if (r <= 0) return false;
    got += static_cast<size_t>(r);
  }
  return true;
}

std::optional<v1::Frame> RawClient::ReadFrame(int timeout_ms) {
  if (!skipped_.empty()) {
    v1::Frame f = std::move(skipped_.front());
    skipped_.pop_front();
    return f;
  }
  return ReadFromSocket(timeout_ms);
}

std::optional<v1::Frame> RawClient::ReadFromSocket(int timeout_ms) {
  uint8_t header[4];
  if (!ReadExact(reinterpret_cast<char*>(header), 4, timeout_ms)) return std::nullopt;
  uint32_t len = proto::DecodeFrameLength(header);
  std::string body(len, '\0');
  if (!ReadExact(body.data(), len, timeout_ms)) return std::nullopt;
  v1::Frame f;
  if (!f.ParseFromString(body)) return std::nullopt;
  return f;
}

std::optional<v1::Frame> RawClient::Call(v1::Frame request, int timeout_ms) {
  uint64_t id = Post(std::move(request));
  if (id == 0) return std::nullopt;
  for (auto it = skipped_.begin(); it != skipped_.end(); ++it) {
    if (it->type() == v1::RESPONSE && it->request_id() == id) {
      v1::Frame f = std::move(*it);
      skipped_.erase(it);
      return f;
    }
  }
  for (;;) {
    auto f = ReadFromSocket(timeout_ms);
    if (!f) return std::nullopt;
    if (f->type() == v1::RESPONSE && f->request_id() == id) return f;
    skipped_.push_back(std::move(*f));
  }
}

uint64_t RawClient::Post(v1::Frame request) {
  uint64_t id = next_id_++;
  request.set_request_id(id);
  request.set_type(v1::REQUEST);
  return SendFrame(request) ? id : 0;
}

bool RawClient::Reply(const v1::Frame& request, v1::Frame response) {
  response.set_request_id(request.request_id());
  response.set_type(v1::RESPONSE);
  return SendFrame(response);
}

bool RawClient::WaitForClose(int timeout_ms) {
  char buf[4096];
  for (;;) {
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, timeout_ms) <= 0) return false;
    ssize_t r = ::recv(fd_, buf, sizeof(buf), 0);
    if (r <= 0) return true;
  }
}

}  // namespace halfmq::testing
