#!/usr/bin/env bash
# Installs Dovecot (IMAP, POP3, LMTP) from Debian for the protocol benchmarks,
# if it is missing, without ever starting the system's own dovecot service,
# and makes sure that service is not running. The benchmarks run their own
# instances with generated configurations (bench/common/servers.h).
#   scripts/bench-install-dovecot.sh        (as root; a no-op when installed)
set -euo pipefail

packages=(dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -gt 0 ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "bench-install-dovecot: ${missing[*]} missing and not root; install them first" >&2
    exit 1
  fi
  # A policy-rc.d that refuses every start keeps the packages' postinst from
  # starting the system instance. An existing one (containers ship one that
  # already refuses) is left alone.
  own_policy=
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  trap '[[ -n $own_policy ]] && rm -f /usr/sbin/policy-rc.d' EXIT
  echo "bench-install-dovecot: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
    apt-get update >&2
    apt-get install -y --no-install-recommends "${missing[@]}" >&2
  fi
fi

# The system instance must not run alongside the benchmarks' own (it would
# take the standard ports and CPU). Stop it if something started it.
if [[ -f /run/dovecot/master.pid ]] && kill -0 "$(cat /run/dovecot/master.pid)" 2>/dev/null; then
  echo "bench-install-dovecot: stopping the system dovecot instance" >&2
  if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
    systemctl stop dovecot.service dovecot.socket >&2 || true
  fi
  if kill -0 "$(cat /run/dovecot/master.pid 2>/dev/null)" 2>/dev/null; then
    doveadm -c /etc/dovecot/dovecot.conf stop >&2 || kill "$(cat /run/dovecot/master.pid)" || true
  fi
fi
if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
  systemctl disable --now dovecot.service dovecot.socket >/dev/null 2>&1 || true
fi

dovecot --version
