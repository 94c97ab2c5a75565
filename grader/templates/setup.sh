#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
# It installs the grader (without the course's solutions) into a venv nobody else may write.
set -euo pipefail
SOURCE="${AUTOGRADER_SOURCE:-/autograder/source}"
HOME_DIR="${COURSE_HOME:-/opt/async-quart-course}"

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq python3 python3-venv python3-pip memcached > /dev/null
python=python3
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    apt-get install -y -qq python3.11 python3.11-venv > /dev/null
    python=python3.11
fi

mkdir -p "$HOME_DIR"
"$python" -m venv "$HOME_DIR/venv"
"$HOME_DIR/venv/bin/pip" install --quiet --upgrade pip
"$HOME_DIR/venv/bin/pip" install --quiet "$SOURCE/course"
cp "$SOURCE/course/course.toml" "$HOME_DIR/course.toml"
# Read-only for everyone but root; the learner's code runs as a user of its own.
chown -R root:root "$HOME_DIR"
chmod -R go-w "$HOME_DIR"
chmod -R go+rX "$HOME_DIR"
