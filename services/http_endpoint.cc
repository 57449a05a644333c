#include "services/http_endpoint.h"

#include <httplib.h>

#include "absl/strings/numbers.h"
#include "sdk/base/strings.h"

namespace saga::services {

absl::StatusOr<std::unique_ptr<HttpEndpoint>> HttpEndpoint::Start(const std::string& addr,
                                                                  HttpHandlers handlers) {
  size_t colon = addr.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(addr.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(saga::StrCat("SAGAD_HTTP_ADDR: \"", addr,
                                                   "\" must be host:port"));
  }
  std::string host = addr.substr(0, colon);
  std::unique_ptr<HttpEndpoint> endpoint(new HttpEndpoint());
  endpoint->server_ = std::make_unique<httplib::Server>();
  httplib::Server& server = *endpoint->server_;
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  server.Get("/readyz", [ready = handlers.ready](const httplib::Request&, httplib::Response& res) {
    absl::Status status = ready();
    res.status = status.ok() ? 200 : 503;
    res.set_content(status.ok() ? "ready\n" : saga::StrCat("not ready: ", status.message(), "\n"),
                    "text/plain");
  });
  server.Get("/metrics",
             [metrics = handlers.metrics](const httplib::Request&, httplib::Response& res) {
               res.set_content(metrics(), "text/plain; version=0.0.4");
             });
  if (port == 0) {
    port = server.bind_to_any_port(host);
    if (port < 0) port = 0;
  } else if (!server.bind_to_port(host, port)) {
    port = 0;
  }
  if (port == 0) {
    return absl::UnavailableError(saga::StrCat("SAGAD_HTTP_ADDR: cannot listen on ", addr,
                                               " (in use, or not an address of this machine)"));
  }
  endpoint->port_ = port;
  endpoint->thread_ = std::thread([&server] { server.listen_after_bind(); });
  return endpoint;
}

HttpEndpoint::~HttpEndpoint() { Stop(); }

void HttpEndpoint::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace saga::services
