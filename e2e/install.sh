#!/usr/bin/env bash
# Installs what the gateway e2e suite needs on Debian bookworm, when it is missing:
# swaks, tcpdump, Postfix (without a system configuration; its service is not started),
# openssl, jq (for e2e/load.sh), and aiosmtpd (PyPI). Run as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

need=()
command -v swaks >/dev/null || need+=(swaks)
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v openssl >/dev/null || need+=(openssl)
command -v jq >/dev/null || need+=(jq)
[ -x /usr/sbin/postfix ] || need+=(postfix)

if [ "${#need[@]}" -gt 0 ]; then
  # Installing an MTA must not start a system instance on port 25.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
  fi
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq || true   # one mirror index mid-sync can fail while installs work
  apt-get install -y -q --no-install-recommends "${need[@]}"
fi

if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
  command -v pip3 >/dev/null || {
    apt-get update -qq || true
    apt-get install -y -q --no-install-recommends python3-pip
  }
  python3 -m pip install -q aiosmtpd 2>/dev/null \
    || python3 -m pip install -q --break-system-packages aiosmtpd
fi
python3 -c 'import aiosmtpd; print("aiosmtpd", aiosmtpd.__version__)'
