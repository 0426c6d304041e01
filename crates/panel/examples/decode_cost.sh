#!/usr/bin/env bash
# Runs the decode-cost benchmark (examples/decode_cost.rs) under callgrind for every case and
# prints instructions per frame, per pixel and per output byte as markdown tables.
# Usage: crates/panel/examples/decode_cost.sh   (from the repository root; needs valgrind)
set -euo pipefail
cd "$(dirname "$0")/../../.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -p pixelwire-panel --example decode_cost >&2
bin="$target/release/examples/decode_cost"
out="$(mktemp -d)"
repeat=5   # REPEAT in decode_cost.rs

# instructions counted inside the measure_* functions of one run
count() {
    valgrind --tool=callgrind --toggle-collect='*measure_*' --callgrind-out-file="$out/cg" \
        "$bin" "$@" >"$out/stdout" 2>"$out/stderr"
    awk '/^(summary|totals):/ {print $2; exit}' "$out/cg"
}

echo "### Pure codec decode (present only: RECT decoder + strips + driver, null SPI)"
echo
echo "| content | codec | pixels | wire bytes | instr/frame-equiv | instr/pixel | instr/output byte |"
echo "|---|---|---:|---:|---:|---:|---:|"
for content in bios cpu pattern; do
    for codec in raw rle palette_rle; do
        n=$(count unit "$content" "$codec")
        read -r _ _ _ _ pixels _ bytes < "$out/stdout"
        awk -v c="$content" -v k="$codec" -v n="$n" -v r="$repeat" -v px="$pixels" -v b="$bytes" 'BEGIN {
            per = n / r; if (px == 0) { printf "| %s | %s | 0 | - | - | - | - |\n", c, k; exit }
            printf "| %s | %s | %d | %d | %.0f | %.2f | %.2f |\n", c, k, px, b, per * 76800 / px, per / px, per / px / 2 }'
    done
done
echo
echo "### Full-frame repaint through the whole runner (server's encoder, 8 KiB packets)"
echo
echo "| content | codecs | wire bytes/frame | instr/frame | instr/pixel |"
echo "|---|---|---:|---:|---:|"
for content in bios cpu pattern; do
    for set in raw all; do
        n=$(count frame "$content" "$set")
        read -r _ _ _ _ bytes < "$out/stdout"
        awk -v c="$content" -v k="$set" -v n="$n" -v r="$repeat" -v b="$bytes" 'BEGIN {
            per = n / r; printf "| %s | %s | %d | %.0f | %.2f |\n", c, k, b, per, per / 76800 }'
    done
done
rm -rf "$out"
