#!/usr/bin/env bash
# Run the tests against the LOWEST dependency versions pyproject.toml allows (each ">=X" pinned to
# "==X", the test extra included), to check that the floors are true before anyone lowers one.
#
#   benchmarks/lowest_deps.sh                              # the default (not slow) suite
#   benchmarks/lowest_deps.sh tests/families/rnn_lm/test_rnn_lm.py -k hidden   # any pytest arguments
#
# The virtual environment sees the system site-packages only so that torch is not downloaded
# again (its floor, 2.4, is fixed by the project guide; the installed torch is used). Everything
# else pinned is installed into the environment and shadows the system copy. Set VENV=path to keep
# and reuse the environment; by default it is made in a temporary folder and removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -n "${VENV:-}" ]]; then
    keep=1
else
    keep=0
    VENV="$(mktemp -d)/venv"
fi
pins="$(mktemp)"
cleanup() {
    rm -f "$pins"
    if [[ $keep == 0 ]]; then rm -rf "$(dirname "$VENV")"; fi
}
trap cleanup EXIT

# pyproject.toml -> "name==floor" for every direct dependency but torch.
python - >"$pins" <<'EOF'
import re
import tomllib

project = tomllib.load(open("pyproject.toml", "rb"))["project"]
for requirement in project["dependencies"] + project["optional-dependencies"]["test"]:
    match = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9][0-9A-Za-z.]*)", requirement)
    if match is None:
        raise SystemExit(f"pyproject.toml: '{requirement}' is not of the form name>=version")
    name, floor = match.groups()
    if name != "torch":
        print(f"{name}=={floor}")
EOF
echo "lowest allowed versions:" && sed 's/^/  /' "$pins"

[[ -x "$VENV/bin/python" ]] || python -m venv --system-site-packages "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$pins"
"$VENV/bin/python" -m pip check || echo "warning: pip check found conflicts (above)"
"$VENV/bin/python" -c "import torch, transformers; print('torch', torch.__version__, '| transformers', transformers.__version__)"

# This checkout's toolkit (not an installed one) comes first on the path.
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
