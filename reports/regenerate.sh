#!/usr/bin/env bash
# Regenerate the committed example report: the default run ('tierbench run', quick suite, every
# runnable tier, this machine), then copy its report.html and report.md here.
#
#   reports/regenerate.sh            # from anywhere; takes a few minutes on a laptop CPU
#
# Extra arguments go to 'tierbench run' (e.g. --limit 10), but the committed files should come
# from the plain default run.
set -euo pipefail
cd "$(dirname "$0")/.."
out="runs/example-default"
rm -rf "$out"
tierbench run --out "$out" "$@"
cp "$out/report.html" "$out/report.md" reports/
echo "Updated reports/report.html and reports/report.md from $out"
