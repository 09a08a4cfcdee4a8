// One end of a session (the client or the upstream server): a TCP socket, and once TLS has been
// negotiated on it, the TLS stream over that socket. Reads and writes branch once per call on
// whether TLS is on, so the plaintext path is the socket's own, with no copy and no virtual call.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "proxy/asio.h"

namespace pgmask::proxy {

namespace ssl = asio::ssl;

class Stream {
 public:
  explicit Stream(tcp::socket socket) : socket_(std::move(socket)) {}
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  tcp::socket& socket() { return socket_; }
  const tcp::socket& socket() const { return socket_; }
  bool is_open() const { return socket_.is_open(); }
  asio::any_io_executor get_executor() { return socket_.get_executor(); }
  bool tls() const { return tls_ != nullptr; }
  ssl::stream<tcp::socket&>& tls_stream() { return *tls_; }

  // Runs the TLS handshake over the socket; from then on reads and writes are encrypted. The
  // context stays alive as long as the stream (a reload swaps the proxy's, not this one).
  // `verify_host`, for a client handshake, is the name or address the server's certificate must
  // match; empty: no name check.
  awaitable<boost::system::error_code> StartTls(std::shared_ptr<ssl::context> context,
                                                ssl::stream_base::handshake_type type,
                                                std::string_view verify_host = {});

  awaitable<std::tuple<boost::system::error_code, size_t>> Write(asio::const_buffer bytes);
  // Several pieces; over TLS they are gathered into one buffer first so that they go out in as
  // few records as possible.
  awaitable<std::tuple<boost::system::error_code, size_t>> Write(const std::vector<asio::const_buffer>& pieces);
  // Writes what the socket takes now without waiting; 0 for TLS or a blocking socket. `ec` is
  // set only on a real error (not would_block).
  size_t TryWrite(const std::vector<asio::const_buffer>& pieces, boost::system::error_code& ec);
  // TLS only: reads what is decrypted, waiting for the peer as needed.
  awaitable<std::tuple<boost::system::error_code, size_t>> ReadTls(std::span<uint8_t> into);

  // The negotiated protocol version and cipher ("TLSv1.3", "TLS_AES_256_GCM_SHA384"), empty
  // without TLS: what the audit record names as the session's transport.
  std::string_view tls_version() const;
  std::string_view tls_cipher() const;
  // The ALPN protocol the handshake selected, empty if none.
  std::string_view tls_alpn() const;
  // The tls-server-end-point of this connection (tls_server_end_point.h): of the certificate
  // pgmask presents when it is the TLS server, of the peer's when it is the client. Empty
  // without TLS.
  std::string tls_server_end_point() const;

  void Close();

 private:
  tcp::socket socket_;
  std::shared_ptr<ssl::context> context_;
  std::unique_ptr<ssl::stream<tcp::socket&>> tls_;
  std::string gather_;  // TLS writes of several pieces
};

}  // namespace pgmask::proxy
