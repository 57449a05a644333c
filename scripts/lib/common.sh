# Shared by the scripts in scripts/: paths, pinned versions, logging. Source it, don't run it.
set -euo pipefail

SAGAD_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Downloaded tools and jars, kept between runs.
SAGAD_CACHE=${SAGAD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sagad}
SAGAD_TOOLS_BIN="$SAGAD_CACHE/bin"

# Pinned tool versions (Go module proxy).
BUF_VERSION=v1.75.0
GRPCURL_VERSION=v1.9.3
# The Go used when the machine has none recent enough: a toolchain module from the proxy.
GO_TOOLCHAIN_VERSION=1.25.4

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Runs "$@" as root: directly when we are root, else through sudo.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

export PATH="$SAGAD_TOOLS_BIN:$PATH"
