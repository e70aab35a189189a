#!/usr/bin/env bash
# Installs Spark's own client for tests/spark_client.rs: pyspark from PyPI (spark-submit and
# Spark's jars, fabric8 included) into a virtualenv, once per machine; later runs reuse it.
#
# Usage: tests/spark/install.sh          prints the spark-submit path
# Environment: SPARKRIG_CACHE (default ~/.cache/sparkrig), PYSPARK_VERSION (default 4.3.0, the
# version reference/kube-api.md §7 was observed with).
set -euo pipefail

version=${PYSPARK_VERSION:-4.3.0}
venv="${SPARKRIG_CACHE:-$HOME/.cache/sparkrig}/pyspark-$version"

# A venv whose install finished carries this marker; anything else is redone from scratch.
if [[ ! -f $venv/.sparkrig-complete ]]; then
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "pyspark==$version" >&2
    touch "$venv/.sparkrig-complete"
fi
echo "$venv/bin/spark-submit"
