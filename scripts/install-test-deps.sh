#!/bin/sh
# Install the system programs the tests talk to, when missing:
# DCMTK (echoscu, storescu, storescp, findscu, getscu, movescu, dcmqrscp).
# Python packages (pynetdicom, pytest, hypothesis) come from `pip install -e .[test]`.
set -eu

need_apt=""
[ -x /usr/bin/storescu ] || need_apt="$need_apt dcmtk"

if [ -n "$need_apt" ]; then
    SUDO=""
    if [ "$(id -u)" != "0" ]; then
        if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
            echo "install-test-deps: need root (or sudo) to install:$need_apt" >&2
            exit 1
        fi
    fi
    echo "install-test-deps: installing$need_apt"
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $need_apt >/dev/null
fi
