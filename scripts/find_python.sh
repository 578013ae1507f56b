#!/usr/bin/env bash
# Prints the path of a Python 3.12+ interpreter (Django 6 needs it), or explains what is missing.
set -u
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }
for candidate in "${PYTHON:-}" python3.13 python3.12 python3 python; do
  [ -n "$candidate" ] || continue
  path=$(command -v "$candidate" 2>/dev/null) || continue
  if ok "$path"; then echo "$path"; exit 0; fi
done
if command -v pyenv >/dev/null 2>&1; then
  for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.(1[2-9]|[2-9][0-9])' | sort -rV); do
    path="$(pyenv root)/versions/$version/bin/python"
    if ok "$path"; then echo "$path"; exit 0; fi
  done
fi
echo "Provisioning Portal needs Python 3.12 or newer (Django 6). None was found on PATH or in pyenv." >&2
echo "Install one (e.g. 'pyenv install 3.13' or your system's python3.12 package), or point PYTHON at it: make PYTHON=/path/to/python3.12 run" >&2
exit 1
