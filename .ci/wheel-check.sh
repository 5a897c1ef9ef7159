#!/usr/bin/env bash
# The package as a user installs it: build the wheel, install it in a fresh venv in a folder
# outside the checkout, and run from there the README's first command (a shipped preset and a
# shipped trace, by name), `python -m spatten_sim`, and `spatten-sim validate --quick`, whose
# table must equal the checkout's.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/spatten-wheel.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export MPLBACKEND=Agg

python -m pip wheel --disable-pip-version-check --no-deps --quiet -w "$work/dist" "$root"
python -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --disable-pip-version-check --quiet "$work"/dist/*.whl
cd "$work"  # nothing of the checkout is reachable from here
"$work/venv/bin/python" - <<'PY'
import spatten_sim, sys
assert "site-packages" in spatten_sim.__file__, spatten_sim.__file__
print("installed:", spatten_sim.__file__)
PY
"$work/venv/bin/spatten-sim" run spatten minilm-sst-25 --quiet --json report.json
"$work/venv/bin/python" -c "import json; r = json.load(open('report.json')); assert r['cycles'] > 0; print('cycles', r['cycles'])"
"$work/venv/bin/python" -m spatten_sim --version
"$work/venv/bin/python" -m spatten_sim presets --json presets.json
"$work/venv/bin/spatten-sim" validate --quick --no-figures -q --json wheel.json > /dev/null
(cd "$root" && spatten-sim validate --quick --no-figures -q -o "$work/checkout-validation" --json "$work/checkout.json" > /dev/null)
"$work/venv/bin/python" - "$work/wheel.json" "$work/checkout.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert a == b, "validate --quick differs between the installed wheel and the checkout"
n = {v: sum(r["verdict"] == v for r in a) for v in ("pass", "fail", "info")}
print(f"validate --quick: identical tables in the wheel and the checkout ({len(a)} rows: {n})")
PY
