#!/usr/bin/env bash
# Installs every Debian 12 package that packmail's build, tests and benches need.
# Idempotent: packages already installed are skipped, and apt-get runs only when
# something is missing.
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config ccache
  # libraries
  libboost1.81-dev libssl-dev libfmt-dev libspdlog-dev librocksdb-dev libzstd-dev
  libgmime-3.0-dev libtomlplusplus-dev libcli11-dev nlohmann-json3-dev
  libcrypt-dev libsodium-dev
  # tests: Catch2, libFuzzer (clang-14), the Python clients, openssl CLI
  catch2 clang-14 libclang-rt-14-dev python3 openssl procps
  # tests: real IMAP clients (curl, mbsync, imapflow on Node.js)
  curl isync nodejs
  # tests: real POP3/LMTP clients (curl above; Postfix is installed by its own test)
  fetchmail swaks
  # benches: repl_bootstrap_bench copies a maildir tree with rsync
  rsync
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# npm is a package of its own beside Debian's nodejs, but comes inside
# NodeSource's nodejs (which conflicts with Debian's npm package).
if ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root (or with sudo)" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
