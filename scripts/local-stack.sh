# Sourced by scripts/test: the repository's own tools. cargo-lambda (for `cargo lambda
# build`) is the one `mqless dev` installs into the per-user cache; cfn-lint and the
# Python client's test dependencies go into a virtualenv of their own beside it
# (`test-tools`), installed once from PyPI. Scratch files (templates, a new crate) go
# into .local/ (git-ignored). The local AWS stack the tests run against is `mqless
# dev`'s (scripts/local-aws). Every function fails loudly with the reason.

LOCAL_DIR="$PWD/.local"
# The cache `mqless dev` uses (mqless-cli/src/commands/dev/install.rs: cache_dir).
CACHE_DIR="${MQLESS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mqless}"
TOOLS_VENV="$CACHE_DIR/test-tools"

die() { printf 'scripts/test: %s\n' "$*" >&2; exit 1; }

need() { command -v "$1" >/dev/null 2>&1 || die "$1 is required ($2)"; }

# step NAME: starts a step (and times the one before); step_times prints them all.
STEP_NAME=""
STEP_STARTED=$SECONDS
STEP_TIMES=()
step() {
    step_done
    STEP_NAME="$*"
    STEP_STARTED=$SECONDS
    printf '\n==> %s\n' "$*"
}
step_done() {
    [ -z "$STEP_NAME" ] || STEP_TIMES+=("$(printf '%6d s  %s' $((SECONDS - STEP_STARTED)) "$STEP_NAME")")
    STEP_NAME=""
}
step_times() {
    step_done
    printf '\nwhere the time went (%s):\n' "$1"
    printf '%s\n' "${STEP_TIMES[@]}"
    printf '%6d s  in all\n' "$SECONDS"
}

# cargo-lambda, as `mqless dev` installed it (scripts/local-aws runs first).
use_cargo_lambda() {
    [ -x "$CACHE_DIR/venv/bin/cargo-lambda" ] \
        || die "no cargo-lambda in $CACHE_DIR/venv: scripts/local-aws (mqless dev) installs it"
    export PATH="$CACHE_DIR/venv/bin:$PATH"
}

# A virtualenv for the test tools, created once.
tools_venv() {
    need python3 "the test tools are installed from PyPI into a virtualenv"
    if [ ! -x "$TOOLS_VENV/bin/pip" ]; then
        mkdir -p "$CACHE_DIR"
        python3 -m venv "$TOOLS_VENV" || die "python3 -m venv $TOOLS_VENV failed"
    fi
}

# cfn-lint (PyPI), which checks the templates `mqless template` writes.
install_cfn_lint() {
    tools_venv
    if [ ! -x "$TOOLS_VENV/bin/cfn-lint" ]; then
        "$TOOLS_VENV/bin/pip" install --quiet --disable-pip-version-check cfn-lint >"$CACHE_DIR/pip-cfn-lint.log" 2>&1 \
            || die "pip could not install cfn-lint; see $CACHE_DIR/pip-cfn-lint.log"
    fi
}

# The Python client's test dependencies (boto3, msgpack, pytest), from PyPI into the same
# virtualenv; the client itself runs from clients/python (PYTHONPATH).
install_python_client_deps() {
    tools_venv
    if ! "$TOOLS_VENV/bin/python" -c 'import boto3, msgpack, pytest' >/dev/null 2>&1; then
        "$TOOLS_VENV/bin/pip" install --quiet --disable-pip-version-check boto3 msgpack pytest >"$CACHE_DIR/pip-client.log" 2>&1 \
            || die "pip could not install boto3, msgpack and pytest; see $CACHE_DIR/pip-client.log"
    fi
}

