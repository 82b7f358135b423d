#!/usr/bin/env bash
# Prepare this machine for the real-server test lab (test/lab/lab.ts).
#
# Idempotent; must run as root; no stdin needed. Re-runs skip apt entirely when
# everything is already present, so they take well under a second.
#
# Why the odd installation: vsftpd, proftpd-basic, pure-ftpd and inetutils-ftpd
# all provide the virtual package `ftp-server` and conflict, so apt installs
# only vsftpd. The others are downloaded as .debs and unpacked into
# <repo>/.lab/pkgs/, from where the lab runs them (they never touch /).
# ftp-srv is an npm devDependency (npm ci installs it).
set -euo pipefail

# Keep in sync with LAB_USER / LAB_PASSWORD in test/lab/lab.ts.
LAB_USER=ftptest
LAB_PASSWORD='fxp-lab-Secret1'

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LAB="$REPO/.lab"
DEBS_DIR="$LAB/debs"
PKGS_DIR="$LAB/pkgs"

# time: GNU time, for the bench's client CPU and peak RSS (test/bench/measure.ts).
# socat: the inetd that runs inetutils ftpd per connection (test/lab/config/inetutils.ts).
APT_PACKAGES=(vsftpd python3-pyftpdlib python3-openssl lftp openssl iproute2 nftables time socat)
UNPACKED_PACKAGES=(proftpd-core proftpd-mod-crypto pure-ftpd pure-ftpd-common inetutils-ftpd)

export DEBIAN_FRONTEND=noninteractive

step() { printf '[lab-install] %s\n' "$*"; }
die() { printf '[lab-install] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (it installs packages and creates the $LAB_USER user)"

is_installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}

APT_UPDATED=0
apt_update_once() {
  if [ "$APT_UPDATED" -eq 0 ]; then
    step "apt-get update"
    apt-get update -qq </dev/null
    APT_UPDATED=1
  fi
}

apt_install() {
  apt_update_once
  step "apt-get install $*"
  apt-get install -y -qq --no-install-recommends "$@" </dev/null >/dev/null
}

# 1. Never let apt start a daemon (there is no service manager; a started
#    vsftpd would also grab port 21). invoke-rc.d honours exit code 101.
POLICY=/usr/sbin/policy-rc.d
if [ -x "$POLICY" ] && grep -q 'exit 101' "$POLICY"; then
  step "policy-rc.d: present"
else
  printf '#!/bin/sh\n# fxpmirror test lab: never start services from apt\nexit 101\n' >"$POLICY"
  chmod 755 "$POLICY"
  step "policy-rc.d: written"
fi

# 2. Packages apt can install side by side.
missing=()
for p in "${APT_PACKAGES[@]}"; do is_installed "$p" || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  apt_install "${missing[@]}"
else
  step "apt packages: all present (${APT_PACKAGES[*]})"
fi

# 3. The conflicting servers: download and unpack into the repo's .lab/.
mkdir -p "$DEBS_DIR" "$PKGS_DIR"
for p in "${UNPACKED_PACKAGES[@]}"; do
  deb="$(ls "$DEBS_DIR/${p}_"*.deb 2>/dev/null | head -n1 || true)"
  if [ -z "$deb" ]; then
    apt_update_once
    step "apt-get download $p"
    # apt warns that _apt cannot write to the folder and downloads unsandboxed
    # as root; harmless here.
    (cd "$DEBS_DIR" && apt-get download -qq "$p" </dev/null 2>&1 | grep -v 'unsandboxed' >&2 || true)
    deb="$(ls "$DEBS_DIR/${p}_"*.deb 2>/dev/null | head -n1 || true)"
    [ -n "$deb" ] || die "apt-get download $p produced no .deb"
  fi
  dest="$PKGS_DIR/$p"
  marker="$dest/.unpacked-from"
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$(basename "$deb")" ]; then
    step "unpacked: $p ($(basename "$deb"))"
  else
    rm -rf "$dest"
    mkdir -p "$dest"
    dpkg-deb -x "$deb" "$dest"
    basename "$deb" >"$marker"
    step "unpack: $p -> .lab/pkgs/$p"
  fi
done

# 4. Runtime libraries of the unpacked binaries (apt did not resolve their
#    Depends). Take the lib* names from the debs' Depends and install the
#    missing ones, then prove with ldd that nothing is left unresolved.
libs=()
for p in proftpd-core proftpd-mod-crypto pure-ftpd inetutils-ftpd; do
  deb="$(ls "$DEBS_DIR/${p}_"*.deb | head -n1)"
  while read -r name; do
    case "$name" in lib*) is_installed "$name" || libs+=("$name") ;; esac
  done < <(dpkg-deb -f "$deb" Depends | tr ',|' '\n\n' | sed -E 's/\(.*\)//; s/:any//; s/^ +//; s/ +$//' | grep -v '^$' | sort -u)
done
if [ "${#libs[@]}" -gt 0 ]; then
  apt_install "${libs[@]}"
else
  step "runtime libraries: all present"
fi
for bin in \
  "$PKGS_DIR/proftpd-core/usr/sbin/proftpd" \
  "$PKGS_DIR/proftpd-mod-crypto/usr/lib/proftpd/mod_tls.so" \
  "$PKGS_DIR/proftpd-core/usr/lib/proftpd/mod_site_misc.so" \
  "$PKGS_DIR/pure-ftpd/usr/sbin/pure-ftpd" \
  "$PKGS_DIR/pure-ftpd/usr/bin/pure-pw" \
  "$PKGS_DIR/inetutils-ftpd/usr/sbin/ftpd"; do
  [ -x "$bin" ] || [ -f "$bin" ] || die "missing after unpack: $bin"
  if ldd "$bin" | grep -q 'not found'; then
    die "unresolved libraries for $bin: $(ldd "$bin" | grep 'not found' | tr -s ' \t' ' ' | tr '\n' ';')"
  fi
done
step "ldd: proftpd, mod_tls, pure-ftpd, pure-pw, inetutils ftpd resolve"

# 5. The login user for vsftpd (PAM) and proftpd (mod_auth_unix); pure-ftpd's
#    virtual user and pyftpdlib's process map to its uid/gid.
if id "$LAB_USER" >/dev/null 2>&1; then
  step "user $LAB_USER: exists"
else
  # /bin/sh: vsftpd's PAM stack ends in pam_shells, which wants a shell listed
  # in /etc/shells (nologin is not).
  useradd --system --create-home --home-dir "/home/$LAB_USER" --shell /bin/sh "$LAB_USER"
  step "user $LAB_USER: created"
fi
current_shell="$(getent passwd "$LAB_USER" | cut -d: -f7)"
if ! grep -qx "$current_shell" /etc/shells; then
  usermod --shell /bin/sh "$LAB_USER"
  step "user $LAB_USER: shell set to /bin/sh"
fi
echo "$LAB_USER:$LAB_PASSWORD" | chpasswd
step "user $LAB_USER: password set"
if [ -f /etc/ftpusers ] && grep -qx "$LAB_USER" /etc/ftpusers; then
  sed -i "/^${LAB_USER}\$/d" /etc/ftpusers
  step "user $LAB_USER: removed from /etc/ftpusers"
fi

# inetutils ftpd chroots only the users listed in /etc/ftpchroot (into their home,
# over which each lab instance bind-mounts its own root in a private mount
# namespace). No other program reads this file.
if [ -f /etc/ftpchroot ] && grep -qx "$LAB_USER" /etc/ftpchroot; then
  step "user $LAB_USER: in /etc/ftpchroot"
else
  echo "$LAB_USER" >>/etc/ftpchroot
  step "user $LAB_USER: added to /etc/ftpchroot"
fi
if [ ! -d "$(getent passwd "$LAB_USER" | cut -d: -f6)" ]; then
  mkdir -p "$(getent passwd "$LAB_USER" | cut -d: -f6)"
  chown "$LAB_USER:" "$(getent passwd "$LAB_USER" | cut -d: -f6)"
  step "user $LAB_USER: home created"
fi

# 6. A distro daemon on port 21 (e.g. vsftpd started by an earlier apt run
#    without policy-rc.d) would confuse anyone testing by hand; stop it by pid.
pids="$(ss -Hltnp 'sport = :21' 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u || true)"
if [ -n "$pids" ]; then
  for pid in $pids; do
    step "port 21: stopping $(cat "/proc/$pid/comm" 2>/dev/null || echo '?') (pid $pid)"
    kill "$pid" 2>/dev/null || true
  done
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    ss -Hltn 'sport = :21' | grep -q . || break
    sleep 0.2
  done
  for pid in $pids; do kill -9 "$pid" 2>/dev/null || true; done
else
  step "port 21: free"
fi

step "done"
