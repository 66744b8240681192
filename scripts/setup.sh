#!/usr/bin/env bash
# Installs what Lesion needs on Debian or Ubuntu: Lua 5.4, OpenBLAS (CBLAS + LAPACK), zlib, libjpeg-turbo, libpng,
# pkg-config and the Fashion-MNIST data set; and for the tests, Slurm and munge (a one-node cluster in
# Tests/slurm; Lesion itself only calls sbatch when asked to). Idempotent; returns in about a second when all is there.
# Swift itself (6.0 or later) must already be on PATH: https://www.swift.org/install/
set -euo pipefail

pkgs=(liblua5.4-dev libopenblas-dev zlib1g-dev libturbojpeg0-dev libpng-dev pkg-config dataset-fashion-mnist slurm-wlm munge)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: missing packages ${missing[*]}, and this is not a Debian/Ubuntu system (no apt-get)." >&2
    echo "setup: install Lua 5.4, OpenBLAS, zlib and pkg-config with your package manager." >&2
    exit 1
  fi
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "setup: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "setup: swift is not on PATH; install Swift 6.0 or later (https://www.swift.org/install/)" >&2
  exit 1
fi
for pc in lua5.4 openblas zlib libturbojpeg libpng; do
  pkg-config --exists "$pc" || { echo "setup: pkg-config cannot find '$pc' after installing" >&2; exit 1; }
done
