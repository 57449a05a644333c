#include "services/auth.h"

#include <openssl/sha.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "sdk/base/log.h"
#include "sdk/base/strings.h"

namespace saga::services {

const char* RoleName(Role role) {
  switch (role) {
    case Role::kViewer: return "viewer";
    case Role::kClient: return "client";
    case Role::kAdmin: return "admin";
  }
  return "?";
}

namespace {

constexpr size_t kMinTokenLength = 16;

std::string Digest(std::string_view token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::InvalidArgumentError(saga::StrCat(
        "SAGAD_AUTH_TOKENS_FILE: cannot read \"", path, "\"; give a readable file of lines "
        "\"<name> <viewer|client|admin> <token>\""));
  }
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// The tokens of a file's text; INVALID_ARGUMENT naming the line, never the token.
absl::StatusOr<absl::flat_hash_map<std::string, Caller>> ParseTokens(const std::string& path,
                                                                     const std::string& content) {
  absl::flat_hash_map<std::string, Caller> by_digest;
  std::istringstream file(content);
  std::string line;
  for (int number = 1; std::getline(file, line); ++number) {
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty() || text[0] == '#') continue;
    std::vector<absl::string_view> fields = absl::StrSplit(text, absl::ByAnyChar(" \t"),
                                                           absl::SkipEmpty());
    auto bad = [&](std::string_view what) {
      return absl::InvalidArgumentError(saga::StrCat("SAGAD_AUTH_TOKENS_FILE ", path, " line ",
                                                     number, ": ", what));
    };
    if (fields.size() != 3) return bad("expected \"<name> <viewer|client|admin> <token>\"");
    Caller caller{.name = std::string(fields[0])};
    if (fields[1] == "viewer") {
      caller.role = Role::kViewer;
    } else if (fields[1] == "client") {
      caller.role = Role::kClient;
    } else if (fields[1] == "admin") {
      caller.role = Role::kAdmin;
    } else {
      return bad(saga::StrCat("role \"", fields[1], "\" is not viewer, client or admin"));
    }
    if (fields[2].size() < kMinTokenLength) {
      return bad(saga::StrCat("the token is shorter than ", kMinTokenLength, " characters"));
    }
    if (!by_digest.emplace(Digest({fields[2].data(), fields[2].size()}), caller).second) {
      return bad("the same token is on an earlier line");
    }
  }
  if (by_digest.empty()) {
    return absl::InvalidArgumentError(saga::StrCat(
        "SAGAD_AUTH_TOKENS_FILE ", path, " has no token; add lines \"<name> <viewer|client|admin> "
        "<token>\" or unset it to turn authentication off"));
  }
  return by_digest;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::FromFile(
    const std::string& path, absl::Duration reload_interval) {
  std::unique_ptr<Authenticator> auth(new Authenticator());
  auth->enabled_ = true;
  auth->path_ = path;
  auto loaded = auth->ReloadIfChanged();
  if (!loaded.ok()) return loaded.status();
  if (reload_interval > absl::ZeroDuration()) {
    auth->watcher_ =
        std::thread([a = auth.get(), reload_interval] { a->WatchFile(reload_interval); });
  }
  return auth;
}

std::unique_ptr<Authenticator> Authenticator::Open() {
  std::unique_ptr<Authenticator> auth(new Authenticator());
  auth->table_ = std::make_shared<const Table>();
  return auth;
}

Authenticator::~Authenticator() {
  stop_.Notify();
  if (watcher_.joinable()) watcher_.join();
}

absl::StatusOr<bool> Authenticator::ReloadIfChanged() {
  auto content = ReadFile(path_);
  if (!content.ok()) return content.status();
  std::string digest = Digest(*content);
  {
    absl::MutexLock lock(&mu_);
    if (table_ != nullptr && digest == content_digest_) return false;
  }
  auto parsed = ParseTokens(path_, *content);
  if (!parsed.ok()) return parsed.status();
  auto table = std::make_shared<const Table>(*std::move(parsed));
  absl::MutexLock lock(&mu_);
  table_ = std::move(table);
  content_digest_ = std::move(digest);
  return true;
}

void Authenticator::WatchFile(absl::Duration interval) {
  bool failing = false;  // logs a bad file once, not at every check
  while (!stop_.WaitForNotificationWithTimeout(interval)) {
    absl::StatusOr<bool> reloaded = ReloadIfChanged();
    if (!reloaded.ok()) {
      if (!failing) {
        LogError("the tokens file cannot be used; the previous tokens stay in force",
                 {{"error", std::string(reloaded.status().message())}});
      }
      failing = true;
      continue;
    }
    failing = false;
    if (*reloaded) LogInfo("bearer tokens reloaded", {{"tokens", saga::StrCat(token_count())}});
  }
}

std::shared_ptr<const Authenticator::Table> Authenticator::table() const {
  absl::MutexLock lock(&mu_);
  return table_;
}

size_t Authenticator::token_count() const { return table()->size(); }

absl::StatusOr<Caller> Authenticator::Authorize(const grpc::ServerContextBase& context,
                                                Role needed) const {
  if (!enabled_) return Caller{.name = "anonymous", .role = Role::kAdmin};
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return absl::UnauthenticatedError(
        "no credentials: send the metadata \"authorization: Bearer <token>\"");
  }
  absl::string_view value(it->second.data(), it->second.size());
  constexpr absl::string_view kScheme = "Bearer ";
  if (value.size() <= kScheme.size() ||
      !absl::EqualsIgnoreCase(value.substr(0, kScheme.size()), kScheme)) {
    return absl::UnauthenticatedError(
        "the authorization metadata must be \"Bearer <token>\"");
  }
  const absl::string_view token = absl::StripAsciiWhitespace(value.substr(kScheme.size()));
  const std::shared_ptr<const Table> tokens = table();
  auto caller = tokens->find(Digest({token.data(), token.size()}));
  if (caller == tokens->end()) {
    return absl::UnauthenticatedError("the bearer token is not valid for this sagad");
  }
  if (static_cast<int>(caller->second.role) < static_cast<int>(needed)) {
    return absl::PermissionDeniedError(saga::StrCat(
        "\"", caller->second.name, "\" has the role ", RoleName(caller->second.role),
        "; this call needs the role ", RoleName(needed)));
  }
  return caller->second;
}

}  // namespace saga::services
