#!/usr/bin/env bash
# Builds, offline from any image registry, the stand-in images sparkrig's real-engine tests need,
# from Debian's packages (debootstrap into a folder, `docker import`):
#
#   REGISTRY_TAG  Debian's docker-registry package (distribution 2.8.2) serving :5000, tagged as
#                 the registry image sparkrig starts (the kind recipe's `registry:3`);
#   S3_TAG        moto's S3 server (PyPI, versions pinned in moto-requirements.txt) serving :9000,
#                 tagged as the MinIO image sparkrig starts. It takes MinIO's `server /data`
#                 arguments and MINIO_ROOT_* variables, and does not check credentials;
#   sparkrig-stand-in/tools:1   the same root with no entrypoint (python3, sleep): the tests'
#                 stand-in kind nodes and probes, independent of the images under test.
#
# All come from one minbase root (python3 + docker-registry), imported twice with different
# entrypoints: the layer is stored once. Each image carries the label sparkrig.io/stand-in-recipe
# with a hash of this folder and its tag; an image whose label matches is reused, a stale one is
# rebuilt, and an image of that tag without the label (a real registry:3 or MinIO) is left alone.
#
# Usage: tests/images/build.sh REGISTRY_TAG S3_TAG       (root, debootstrap, Docker, python3 -m pip)
#        tests/images/build.sh --check REGISTRY_TAG S3_TAG   exit 0 when all are usable as they are
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian), DEBIAN_SUITE (bookworm).
set -euo pipefail

check=0
if [[ ${1:-} == --check ]]; then
    check=1
    shift
fi
if [[ $# -ne 2 ]]; then
    echo "usage: $0 [--check] REGISTRY_TAG S3_TAG" >&2
    exit 2
fi
registry_tag=$1
s3_tag=$2
tools_tag=sparkrig-stand-in/tools:1
here=$(cd "$(dirname "$0")" && pwd)
label=sparkrig.io/stand-in-recipe
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=${DEBIAN_SUITE:-bookworm}

# The recipe: every file of this folder, the suite and the tags.
recipe=$( (cd "$here" && sha256sum build.sh moto-requirements.txt s3-stand-in registry-config.yml; echo "$suite $registry_tag $s3_tag $tools_tag") | sha256sum | cut -c1-16)

# current TAG: "ours" (stand-in of this recipe), "stale" (older stand-in), "foreign" (a real
# image of that tag) or "absent".
current() {
    local have
    if ! have=$(docker image inspect --format "{{ index .Config.Labels \"$label\" }}" "$1" 2>/dev/null); then
        echo absent
    elif [[ $have == "$recipe" ]]; then
        echo ours
    elif [[ -z $have || $have == "<no value>" ]]; then
        echo foreign
    else
        echo stale
    fi
}

wanted=()
for tag in "$registry_tag" "$s3_tag" "$tools_tag"; do
    case $(current "$tag") in
        ours) echo "stand-in $tag: current (recipe $recipe)" ;;
        foreign) echo "stand-in $tag: a real image of that tag exists; using it, not building" ;;
        *) wanted+=("$tag") ;;
    esac
done
if [[ ${#wanted[@]} -eq 0 ]]; then
    exit 0
fi
if [[ $check -eq 1 ]]; then
    echo "stand-in images to build: ${wanted[*]}"
    exit 1
fi

# One build at a time per machine (test binaries run in parallel).
exec 9>/tmp/sparkrig-stand-in-images.lock
flock 9
if [[ $(current "$registry_tag") =~ ours|foreign && $(current "$s3_tag") =~ ours|foreign && $(current "$tools_tag") == ours ]]; then
    echo "stand-in images: built meanwhile by another process"
    exit 0
fi

for tool in debootstrap docker python3 tar; do
    command -v "$tool" >/dev/null || { echo "stand-in images: $tool is missing (apt-get install debootstrap)" >&2; exit 3; }
done
if [[ $(id -u) -ne 0 ]]; then
    echo "stand-in images: debootstrap needs root" >&2
    exit 3
fi

start=$(date +%s)
root=$(mktemp -d /var/tmp/sparkrig-stand-in.XXXXXX)
trap 'rm -rf "$root"' EXIT

# minbase: dpkg, apt and essentials only; python3 for moto, docker-registry for the registry.
debootstrap --variant=minbase --include=python3,docker-registry "$suite" "$root" "$mirror" >"$root.log" 2>&1 || {
    tail -20 "$root.log" >&2
    exit 4
}
rm -f "$root.log"
after_debootstrap=$(date +%s)

# moto's wheels for the root's Python, fetched with the host's pip (its index and certificates),
# installed into /opt/moto without pip or a compiler in the image.
pyver=$(chroot "$root" python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
arch=$(uname -m)
python3 -m pip install --quiet --root-user-action=ignore --no-deps --only-binary=:all: --implementation cp --python-version "$pyver" \
    --platform "manylinux_2_28_$arch" --platform "manylinux_2_17_$arch" --platform "manylinux2014_$arch" \
    --target "$root/opt/moto" -r "$here/moto-requirements.txt"
install -m 0755 "$here/s3-stand-in" "$root/usr/local/bin/s3-stand-in"
install -m 0644 "$here/registry-config.yml" "$root/etc/docker/registry/config.yml"
mkdir -p "$root/data" "$root/var/lib/registry"
# What a running container never reads.
rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* \
    "$root"/usr/share/locale/* "$root"/usr/share/info/*
find "$root/opt/moto" -name __pycache__ -prune -exec rm -rf {} +
after_root=$(date +%s)

for tag in "${wanted[@]}"; do
    if [[ $tag == "$registry_tag" ]]; then
        entry=('EXPOSE 5000' 'ENTRYPOINT ["/usr/bin/docker-registry", "serve", "/etc/docker/registry/config.yml"]')
    elif [[ $tag == "$tools_tag" ]]; then
        entry=('CMD ["sleep", "infinity"]')
    else
        entry=('EXPOSE 9000' 'ENTRYPOINT ["/usr/local/bin/s3-stand-in"]' 'CMD ["server", "/data"]')
    fi
    changes=(--change "LABEL $label=$recipe")
    for c in "${entry[@]}"; do
        changes+=(--change "$c")
    done
    old=$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
    tar -C "$root" -c . | docker import "${changes[@]}" - "$tag" >/dev/null
    # The stale stand-in this replaces (only ever ours: foreign tags are not rebuilt).
    if [[ -n $old ]]; then
        docker image rm "$old" >/dev/null 2>&1 || true
    fi
done
end=$(date +%s)

size=$(docker image inspect --format '{{.Size}}' "${wanted[0]}")
echo "stand-in images built (recipe $recipe): ${wanted[*]}, $((size / 1000000)) MB;" \
    "debootstrap $((after_debootstrap - start))s, moto $((after_root - after_debootstrap))s," \
    "import $((end - after_root))s, total $((end - start))s"
