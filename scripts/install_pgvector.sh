#!/bin/sh
# PostgreSQL 15 with pgvector, for the Postgres store's tests and for a one-machine deployment.
# Debian 12 packages PostgreSQL 15 but not pgvector, so pgvector is built here from Debian's own
# source package (trixie) with OPTFLAGS="" : no -march=native, so the build runs on any x86-64 or
# arm64 CPU (a prebuilt pgvector compiled for AVX-512 dies with SIGILL on CPUs without it).
# Needs root; the system's apt sources are not changed (a private list folder is used).
set -eu
PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
if [ -f "$($PG_CONFIG --sharedir 2>/dev/null)/extension/vector.control" ]; then
    echo "pgvector is installed"; exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq postgresql-15 postgresql-server-dev-15 make gcc >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial"
echo "deb-src http://deb.debian.org/debian trixie main" > "$work/sources.list"
apt_private="-o Dir::Etc::SourceList=$work/sources.list -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists=$work/lists"
# shellcheck disable=SC2086
apt-get $apt_private update -qq
# shellcheck disable=SC2086
(cd "$work" && apt-get $apt_private source --download-only -qq pgvector 2>/dev/null)
tar -xzf "$work"/pgvector_*.orig.tar.gz -C "$work"
make -s -C "$work"/pgvector-* PG_CONFIG=$PG_CONFIG OPTFLAGS="" >/dev/null
make -s -C "$work"/pgvector-* PG_CONFIG=$PG_CONFIG install >/dev/null
echo "pgvector built and installed for $($PG_CONFIG --version)"
