# Shared by the scripts in scripts/: paths, pinned versions, logging. Source it, don't run it.
set -euo pipefail

SAGAD_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Downloaded tools and jars, kept between runs.
SAGAD_CACHE=${SAGAD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sagad}
SAGAD_TOOLS_BIN="$SAGAD_CACHE/bin"

# Pinned tool versions (Go module proxy).
BUF_VERSION=v1.75.0
GRPCURL_VERSION=v1.9.3
HELM_VERSION=v3.22.0
PROMTOOL_VERSION=v0.316.0  # of the module github.com/prometheus/prometheus
# The Go used when the machine has none recent enough: a toolchain module from the proxy.
GO_TOOLCHAIN_VERSION=1.26.8

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Runs "$@" as root: directly when we are root, else through sudo.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

export PATH="$SAGAD_TOOLS_BIN:$PATH"
# ccache hits across clones of the repository (CI builds a fresh clone each time).
export CCACHE_BASEDIR="$SAGAD_ROOT" CCACHE_NOHASHDIR=1

# A Go recent enough for the pinned tools: the machine's, else a toolchain from the module proxy.
go_bin() {
  local go
  for go in go /usr/local/go/bin/go; do
    if command -v "$go" >/dev/null 2>&1; then
      local minor
      minor=$("$go" env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
      if [[ -n $minor && $minor -ge 26 ]]; then command -v "$go"; return; fi
    fi
  done
  local toolchain="$SAGAD_CACHE/go$GO_TOOLCHAIN_VERSION"
  if [[ ! -x $toolchain/bin/go ]]; then
    say "fetching Go $GO_TOOLCHAIN_VERSION from the Go module proxy"
    command -v go >/dev/null 2>&1 || as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >&2
    local dir
    dir=$(cd "$(mktemp -d)" && GOFLAGS=-modcacherw GOPATH="$SAGAD_CACHE/gopath" \
      go mod download -json "golang.org/toolchain@v0.0.1-go$GO_TOOLCHAIN_VERSION.linux-amd64" |
      sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [[ -x $dir/bin/go ]] || die "could not fetch the Go toolchain module"
    rm -rf "$toolchain" && cp -r "$dir" "$toolchain"
  fi
  echo "$toolchain/bin/go"
}
