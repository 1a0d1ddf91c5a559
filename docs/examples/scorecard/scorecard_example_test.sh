#!/bin/sh
# The full loop of the C++ plugin example, in separate processes: export a scorecard as a
# document in each format, import it in a new process, and require identical predictions
# (same bits); the document shows the delegated components; a missing delegate is reported.
# usage: scorecard_example_test.sh APP SCORECARD_PLUGIN ACME_PLUGIN MILO_TOOL TMPDIR
set -eu
app="$1"; scorecard="$2"; acme="$3"; milo="$4"; tmp="$5/scorecard-run"
rm -rf "$tmp"; mkdir -p "$tmp"
unset MILO_PLUGIN_PATH || true
for ext in json yaml pb; do
  doc="$tmp/fraud.milo.$ext"
  "$app" --plugin "$scorecard" --plugin "$acme" export "$doc" >"$tmp/export.$ext.txt"
  "$app" --plugin "$scorecard" --plugin "$acme" import "$doc" >"$tmp/import.$ext.txt"
  [ "$(wc -l <"$tmp/export.$ext.txt")" -eq 16 ] || { echo "$ext: expected 16 predictions"; exit 1; }
  cmp "$tmp/export.$ext.txt" "$tmp/import.$ext.txt" || { echo "$ext: predictions differ"; exit 1; }
done
cmp "$tmp/export.json.txt" "$tmp/export.pb.txt"

# The readable document holds the delegates' own documents, typed as they type them.
json="$tmp/fraud.milo.json"
for want in '"$object": "acme.GradientBoostedScorecard"' '"$object": "acme.Scorer"' \
            '"$object": "safetensors.StateDict"' '"transporter": "acme.scorer"' \
            '"transporter": "safetensors"' '"velocity-gate"'; do
  grep -qF "$want" "$json" || { echo "document lacks $want"; exit 1; }
done
# The milo tool sees the same document, and converts it back to native and again: same bytes.
"$milo" --plugin "$scorecard" --plugin "$acme" convert "$json" "$tmp/a.gbscard" >/dev/null
"$milo" --plugin "$scorecard" --plugin "$acme" convert "$tmp/a.gbscard" "$tmp/b.milo.yaml" >/dev/null
"$milo" --plugin "$scorecard" --plugin "$acme" convert "$tmp/b.milo.yaml" "$tmp/b.gbscard" >/dev/null
cmp "$tmp/a.gbscard" "$tmp/b.gbscard" || { echo "native bytes differ after a second round trip"; exit 1; }

# Without the plugin that reads the gate, the import fails and says what is missing.
if "$app" --plugin "$scorecard" export "$tmp/nogate.json" >/dev/null 2>"$tmp/err.txt"; then
  echo "export without the acme plugin should fail"; exit 1
fi
grep -q 'component "gate" (acmescore): no registered transporter reads it' "$tmp/err.txt" ||
  { echo "unexpected message:"; cat "$tmp/err.txt"; exit 1; }
echo "scorecard example: export/import in separate processes, json/yaml/pb: 16 identical predictions each"
