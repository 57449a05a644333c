#include "services/http_endpoint.h"

#include <httplib.h>

#include <atomic>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "sdk/base/strings.h"
#include "services/grpc_status.h"
#include "web/web_assets.h"

namespace saga::services {
namespace {

// Headers of every console and API answer: nothing is cached (the console's files are
// revalidated), sniffed, framed or referred, and the pages run only their own scripts.
void SetSafetyHeaders(httplib::Response& res, const char* cache_control = "no-store") {
  res.set_header("Cache-Control", cache_control);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
}

// Threads serving connections (cpp-httplib holds one per keep-alive connection), and how many of
// them the HTTP API may take at once: a call can wait (StartSaga with wait_for_completion), and
// browsers keep several connections open, yet probes and scrapes must always find a thread.
constexpr int kHttpThreads = 32;
constexpr int kMaxApiCallsInFlight = 24;

void ServeConsole(httplib::Server& server, const HttpApi& api, size_t max_body_bytes) {
  server.set_payload_max_length(max_body_bytes);
  static std::atomic<int> in_flight{0};
  server.Post(R"(/api/(.+))", [&api](const httplib::Request& req, httplib::Response& res) {
    if (in_flight.fetch_add(1) >= kMaxApiCallsInFlight) {
      in_flight.fetch_sub(1);
      SetSafetyHeaders(res);
      res.status = HttpStatusOf(grpc::StatusCode::RESOURCE_EXHAUSTED);
      res.set_content(HttpApi::ErrorJson(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                         saga::StrCat("more than ", kMaxApiCallsInFlight,
                                                      " HTTP API calls in flight; retry, or "
                                                      "use the gRPC API for waiting calls")),
                      "application/json; charset=utf-8");
      return;
    }
    HttpApiReply reply = api.Call({.method = req.matches[1].str(),
                                   .content_type = req.get_header_value("Content-Type"),
                                   .body = req.body,
                                   .authorization = req.get_header_value("Authorization"),
                                   .traceparent = req.get_header_value("traceparent")});
    in_flight.fetch_sub(1);
    SetSafetyHeaders(res);
    res.status = reply.http_status;
    // With a charset, cpp-httplib does not compress: its brotli (quality 11) took 35 ms for the
    // 43 KB of a page of 50 sagas, ten times the call itself.
    res.set_content(reply.json, "application/json; charset=utf-8");
  });
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_redirect("/console/");
  });
  server.Get(R"(/console/([a-z0-9_.-]*))", [](const httplib::Request& req, httplib::Response& res) {
    std::string name = req.matches[1].str();
    if (name.empty()) name = "index.html";
    const web::Asset* asset = web::FindAsset(name);
    if (asset == nullptr) {
      SetSafetyHeaders(res);
      res.status = 404;
      res.set_content(saga::StrCat("no console file ", name, "\n"), "text/plain");
      return;
    }
    // The files change only with the binary: the browser keeps them and asks whether they
    // changed (If-None-Match), which answers 304 without a body.
    const std::string etag = saga::StrCat(
        "\"", std::hash<std::string_view>()(asset->content), "\"");
    SetSafetyHeaders(res, "no-cache");
    res.set_header("ETag", etag);
    if (req.get_header_value("If-None-Match") == etag) {
      res.status = 304;
      return;
    }
    res.set_content(asset->content.data(), asset->content.size(),
                    std::string(asset->content_type));
  });
}

}  // namespace

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
  // Headers and body go out in separate writes: without this, Nagle's algorithm holds the body
  // until the client's delayed ACK (40 ms per answer).
  server.set_tcp_nodelay(true);
  server.new_task_queue = [] { return new httplib::ThreadPool(kHttpThreads); };
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
  if (handlers.api != nullptr) ServeConsole(server, *handlers.api, handlers.max_body_bytes);
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
