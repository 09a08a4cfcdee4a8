#include "proxy/stream.h"

#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>

#include "proxy/tls_server_end_point.h"

namespace pgmask::proxy {

namespace {

// Tells OpenSSL which name or address the peer's certificate must carry (verify-full).
void RequireHost(SSL* ssl, std::string_view host) {
  const std::string name(host);
  boost::system::error_code ec;
  asio::ip::make_address(name, ec);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (!ec) {
    X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
    return;
  }
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
  SSL_set_tlsext_host_name(ssl, name.c_str());
}

}  // namespace

awaitable<boost::system::error_code> Stream::StartTls(std::shared_ptr<ssl::context> context,
                                                      ssl::stream_base::handshake_type type,
                                                      std::string_view verify_host) {
  context_ = std::move(context);
  tls_ = std::make_unique<ssl::stream<tcp::socket&>>(socket_, *context_);
  if (!verify_host.empty()) RequireHost(tls_->native_handle(), verify_host);
  auto [ec] = co_await tls_->async_handshake(type, kUseTuple);
  co_return ec;
}

namespace {

// The rest of `pieces` after its first `skip` bytes.
std::vector<asio::const_buffer> After(const std::vector<asio::const_buffer>& pieces, size_t skip) {
  std::vector<asio::const_buffer> rest;
  for (const asio::const_buffer& piece : pieces) {
    if (skip >= piece.size()) {
      skip -= piece.size();
      continue;
    }
    rest.push_back(piece + skip);
    skip = 0;
  }
  return rest;
}

}  // namespace

size_t Stream::TryWrite(const std::vector<asio::const_buffer>& pieces, boost::system::error_code& ec) {
  // Only on a socket that cannot block (the session's, once set up): a blocking write would
  // stall every session on this thread.
  if (tls_ || !socket_.non_blocking()) return 0;
  const size_t n = socket_.write_some(pieces, ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) ec.clear();
  return ec ? 0 : n;
}

awaitable<std::tuple<boost::system::error_code, size_t>> Stream::Write(asio::const_buffer bytes) {
  if (tls_) {
    auto result = co_await asio::async_write(*tls_, bytes, kUseTuple);
    co_return result;
  }
  const std::vector<asio::const_buffer> pieces{bytes};
  auto result = co_await Write(pieces);
  co_return result;
}

awaitable<std::tuple<boost::system::error_code, size_t>> Stream::Write(
    const std::vector<asio::const_buffer>& pieces) {
  if (!tls_) {
    // Most writes fit the socket buffer: written at once, the caller goes on without a round
    // through the scheduler, and reports its write before anything the peer answers is read.
    boost::system::error_code ec;
    const size_t done = TryWrite(pieces, ec);
    if (ec) co_return std::tuple{ec, done};
    const size_t total = asio::buffer_size(pieces);
    if (done == total) co_return std::tuple{ec, done};
    if (done == 0) {
      auto result = co_await asio::async_write(socket_, pieces, kUseTuple);
      co_return result;
    }
    const std::vector<asio::const_buffer> rest = After(pieces, done);
    auto [rest_ec, n] = co_await asio::async_write(socket_, rest, kUseTuple);
    co_return std::tuple{rest_ec, done + n};
  }
  if (pieces.size() == 1) {
    auto result = co_await asio::async_write(*tls_, pieces.front(), kUseTuple);
    co_return result;
  }
  gather_.clear();
  for (const asio::const_buffer& piece : pieces) gather_.append(static_cast<const char*>(piece.data()), piece.size());
  auto result = co_await asio::async_write(*tls_, asio::buffer(gather_), kUseTuple);
  // A session that once sent a large batch does not keep its buffer.
  constexpr size_t kKeep = 64 * 1024;
  if (gather_.capacity() > kKeep) std::string().swap(gather_);
  co_return result;
}

awaitable<std::tuple<boost::system::error_code, size_t>> Stream::ReadTls(std::span<uint8_t> into) {
  auto result = co_await tls_->async_read_some(asio::buffer(into.data(), into.size()), kUseTuple);
  co_return result;
}

std::string_view Stream::tls_version() const {
  if (!tls_) return {};
  return SSL_get_version(const_cast<ssl::stream<tcp::socket&>&>(*tls_).native_handle());
}

std::string_view Stream::tls_cipher() const {
  if (!tls_) return {};
  const char* name = SSL_get_cipher_name(const_cast<ssl::stream<tcp::socket&>&>(*tls_).native_handle());
  return name != nullptr ? std::string_view(name) : std::string_view();
}

std::string_view Stream::tls_alpn() const {
  if (!tls_) return {};
  const unsigned char* data = nullptr;
  unsigned int size = 0;
  SSL_get0_alpn_selected(const_cast<ssl::stream<tcp::socket&>&>(*tls_).native_handle(), &data, &size);
  return std::string_view(reinterpret_cast<const char*>(data), data != nullptr ? size : 0);
}

std::string Stream::tls_server_end_point() const {
  if (!tls_) return {};
  SSL* ssl = const_cast<ssl::stream<tcp::socket&>&>(*tls_).native_handle();
  return TlsServerEndPoint(SSL_is_server(ssl) ? SSL_get_certificate(ssl) : SSL_get0_peer_certificate(ssl));
}

void Stream::Close() {
  boost::system::error_code ignored;
  socket_.close(ignored);
}

}  // namespace pgmask::proxy
