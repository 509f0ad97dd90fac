#!/usr/bin/env bash
# Proves check-format.sh fails on a badly formatted changed line and passes
# once it is formatted, in a throwaway repository.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$here/../../.clang-format" "$tmp/"
cd "$tmp"
git init -q . && git config user.email t@example.invalid && git config user.name t
mkdir -p tests/format
printf 'int f() { return 1; }\n' > a.cpp
git add -A && git commit -qm base
git rev-parse HEAD > tests/format/base
printf 'int f() { return 1; }\nint   g( ) {return 2;}\n' > a.cpp
git commit -qam bad
if "$here/check-format.sh" "$tmp" >/dev/null; then echo "selftest: a bad line passed"; exit 1; fi
git clang-format -q --extensions cpp,h "$(cat tests/format/base)" >/dev/null 2>&1 || true
git commit -qam formatted
"$here/check-format.sh" "$tmp" >/dev/null || { echo "selftest: a formatted file failed"; exit 1; }
echo "selftest OK"
