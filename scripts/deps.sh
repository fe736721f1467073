#!/usr/bin/env bash
# Installs the Debian packages t5e builds and tests with, when missing.
set -euo pipefail
pkgs=(build-essential clang libclang-rt-14-dev pkg-config
      libopenblas-openmp-dev libcjson-dev libutf8proc-dev sentencepiece
      librsvg2-bin)
missing=()
for p in "${pkgs[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}" >&2
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
        "${missing[@]}" >/dev/null
fi
