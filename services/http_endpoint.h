// HttpEndpoint serves the plain-HTTP side of sagad at SAGAD_HTTP_ADDR: /healthz (the process
// is alive), /readyz (it can serve: the database answers), /metrics (Prometheus text format),
// the HTTP API /api/<service>/<method> (http_api.h) and the web console at /console/ (the files
// of web/, embedded; / redirects there). It runs cpp-httplib on its own threads; Stop() ends
// them. Thread-safe.
#ifndef SAGA_SERVICES_HTTP_ENDPOINT_H_
#define SAGA_SERVICES_HTTP_ENDPOINT_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/http_api.h"

namespace httplib {
class Server;
}

namespace saga::services {

struct HttpHandlers {
  std::function<absl::Status()> ready;     // OK when sagad can serve requests
  std::function<std::string()> metrics;    // the Prometheus text exposition
  const HttpApi* api = nullptr;            // serves /api/ and the console when set
  size_t max_body_bytes = 8 << 20;         // larger API requests answer 413
};

class HttpEndpoint {
 public:
  // Binds `addr` ("host:port", port 0 for any) and starts serving.
  static absl::StatusOr<std::unique_ptr<HttpEndpoint>> Start(const std::string& addr,
                                                             HttpHandlers handlers);
  ~HttpEndpoint();

  int port() const { return port_; }
  void Stop();

 private:
  HttpEndpoint() = default;

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace saga::services

#endif  // SAGA_SERVICES_HTTP_ENDPOINT_H_
