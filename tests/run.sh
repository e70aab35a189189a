#!/usr/bin/env bash
# The test suite, as the README's set-up runs it and .ci/run calls it: what the tests need
# (debootstrap for the stand-in images, pyspark, chromium; each once per machine), formatting, lints, every test, then a
# check that nothing of sparkrig's was left on the Docker engine.
set -euo pipefail
cd "$(dirname "$0")/.."

engine=0
if docker info >/dev/null 2>&1; then
    engine=1
fi

# The real-engine tests (tests/docker_edge.rs) run on stand-in images they build from Debian's
# packages with debootstrap (tests/images/build.sh, once per machine, reused afterwards); give
# them debootstrap where apt can.
if [[ $engine -eq 1 ]] && ! command -v debootstrap >/dev/null && [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    apt-get install -y -q debootstrap >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q debootstrap >/dev/null; }
fi

# Spark's own client for tests/spark_client.rs: pyspark from PyPI, once per machine (cached in
# ~/.cache/sparkrig); with Java present the test must then run, not skip.
if command -v java >/dev/null; then
    bash tests/spark/install.sh >/dev/null
    export SPARKRIG_REQUIRE_PYSPARK=1
fi

# The HTML report's browser test (tests/html_report.rs) loads a report in Debian's chromium,
# headless, and checks the screenshot; it skips with a one-line note where chromium is missing.
if ! command -v chromium >/dev/null && [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; } \
        || echo "chromium could not be installed: the headless-browser test will skip"
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace

# Leak check: every container and network sparkrig or its tests created carries
# sparkrig.io/owned; the guards and `sparkrig down` must have removed them all.
if [[ $engine -eq 1 ]]; then
    containers=$(docker ps -aq --filter label=sparkrig.io/owned | wc -l)
    networks=$(docker network ls -q --filter label=sparkrig.io/owned | wc -l)
    echo "left on the Docker engine with label sparkrig.io/owned: $containers containers, $networks networks"
    if [[ $containers -ne 0 || $networks -ne 0 ]]; then
        docker ps -a --filter label=sparkrig.io/owned
        docker network ls --filter label=sparkrig.io/owned
        exit 1
    fi
else
    echo "no Docker engine: the real-engine tests skipped (see their one-line notes), no leak check"
fi
