# Sourced by scripts/test: the repository's own tools, installed into .local/ (git-ignored):
# cargo-lambda (for `cargo lambda build`), cfn-lint and the Python client's test
# dependencies, from PyPI into one virtualenv. The local AWS stack the tests run against
# is `mqless dev`'s (scripts/local-aws). Every function fails loudly with the reason.

LOCAL_DIR="$PWD/.local"

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

install_cargo_lambda() {
    mkdir -p "$LOCAL_DIR"
    need python3 "cargo-lambda is installed from PyPI into a virtualenv"
    local venv="$LOCAL_DIR/venv"
    if [ ! -x "$venv/bin/cargo-lambda" ]; then
        python3 -m venv "$venv" || die "python3 -m venv failed"
        "$venv/bin/pip" install --quiet --disable-pip-version-check cargo-lambda >"$LOCAL_DIR/pip.log" 2>&1 \
            || die "pip could not install cargo-lambda; see $LOCAL_DIR/pip.log"
    fi
    export PATH="$venv/bin:$PATH"
}

# cfn-lint (PyPI), which checks the templates `mqless template` writes.
install_cfn_lint() {
    install_cargo_lambda
    local venv="$LOCAL_DIR/venv"
    if [ ! -x "$venv/bin/cfn-lint" ]; then
        "$venv/bin/pip" install --quiet --disable-pip-version-check cfn-lint >"$LOCAL_DIR/pip-cfn-lint.log" 2>&1 \
            || die "pip could not install cfn-lint; see $LOCAL_DIR/pip-cfn-lint.log"
    fi
}

# The Python client's test dependencies (boto3, msgpack, pytest), from PyPI into the same
# virtualenv; the client itself runs from clients/python (PYTHONPATH).
install_python_client_deps() {
    install_cargo_lambda
    local venv="$LOCAL_DIR/venv"
    if ! "$venv/bin/python" -c 'import boto3, msgpack, pytest' >/dev/null 2>&1; then
        "$venv/bin/pip" install --quiet --disable-pip-version-check boto3 msgpack pytest >"$LOCAL_DIR/pip-client.log" 2>&1 \
            || die "pip could not install boto3, msgpack and pytest; see $LOCAL_DIR/pip-client.log"
    fi
}

