#!/usr/bin/env bash
# Installs the Debian 12 packages p11agent needs to build, test and demo.
# Runs apt-get as root (through sudo when not root); skips what is there.
set -euo pipefail

PACKAGES=(
	build-essential cmake pkg-config clang
	libssl-dev libuv1-dev libp11-kit-dev p11-kit p11-kit-modules
	libp11-dev libcmocka-dev libinih-dev nettle-dev
	softhsm2 opensc opensc-pkcs11 libengine-pkcs11-openssl
	openssl openssh-client openssh-server gnutls-bin libnss3-tools
	gnupg gpgsm pinentry-tty jq time systemd
)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "deps: installing ${missing[*]}" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
