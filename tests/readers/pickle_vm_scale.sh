#!/bin/sh
# pickle_vm_scale: writes a ~48 MB RandomForestClassifier pickle with Debian's Python (once; again
# when the generator changes), then runs pickle_vm_test's hidden [.scale] case on it.
#   pickle_vm_scale.sh PYTHON make_pickle_cases.py pickle_vm_test FOREST_PKL
# Exit 77 (skipped) when scikit-learn is missing.
set -eu
python="$1" script="$2" test_exe="$3" forest="$4"
if [ ! -f "$forest" ] || [ "$script" -nt "$forest" ]; then
  "$python" "$script" --forest "$forest" || exit $?
fi
MILO_PICKLE_FOREST="$forest" exec "$test_exe" "[.scale]" --success --reporter compact
