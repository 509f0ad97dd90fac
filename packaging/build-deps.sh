#!/usr/bin/env bash
# Installs the Debian 12 packages that building and testing Portcullis need,
# and only those that are missing. Safe to run again; used by `make`.
set -euo pipefail

build_pkgs=(cmake g++ make pkg-config libevent-dev libssl-dev libsqlite3-dev
            libtomlplusplus-dev doctest-dev libcli11-dev libfmt-dev
            libsystemd-dev libcrypt-dev  # libcrypt-dev: crypt_r for [auth] users_file
            libldap-dev  # libldap-dev: the [auth.ldap] login backend
            libhowardhinnant-date-dev tzdata)  # date/tz.h: [schedules] time zones
test_pkgs=(curl python3 python3-pytest clang clang-format libclang-rt-14-dev
           lintian systemd dpkg-dev file logrotate adduser)
test_pkgs+=(tinyproxy)  # tests/integration/test_audit.py runs an intentionally open proxy
test_pkgs+=(prometheus chromium)  # test_observability.py: promtool check metrics; status page in headless Chromium
test_pkgs+=(haproxy)  # tests/integration/test_farm.py, test_farm_haproxy.py: a real balancer with send-proxy-v2
test_pkgs+=(nodejs)  # tests/integration/test_pac.py runs the generated PAC file
test_pkgs+=(slapd)  # tests/integration/test_ldap.py: a real OpenLDAP server (own config, high port)
test_pkgs+=(apache2-utils)  # tests/integration/test_auth.py: a users file made by `htpasswd -B`
test_pkgs+=(proxycheck)  # tests/integration/test_acl.py: an open-proxy scanner must find nothing open
test_pkgs+=(nftables iproute2 openssl)  # test_transparent.py: namespaces, veths, nft redirect, a TLS origin

want=("${build_pkgs[@]}")
[[ ${1:-} == --test ]] && want+=("${test_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "installing missing packages: ${missing[*]}" >&2
sudo_cmd=()
[[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
