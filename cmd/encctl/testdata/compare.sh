#!/usr/bin/env bash
# compare.sh OLD_COMMIT: runs the encctl built from OLD_COMMIT and the one
# built from the working tree over the same matrix of subcommands and bad
# inputs, each on a fresh copy of the same fixture (mkfixture) at the same
# path, and diffs what they print and their exit codes. What differs from
# run to run whatever the build (random key ids, IVs, transfer keys,
# timings) is masked first. Exit status 1 when the outputs differ.
#
# Run from the repository's root: cmd/encctl/testdata/compare.sh b020038
set -u
old=${1:?usage: compare.sh OLD_COMMIT}
work=${COMPARE_DIR:-/tmp/encctl-compare}
rm -rf "$work" && mkdir -p "$work/src-old" "$work/out"
git archive "$old" | tar -x -C "$work/src-old"
(cd "$work/src-old" && go build -o "$work/encctl-old" ./cmd/encctl) || exit 2
go build -o "$work/encctl-new" ./cmd/encctl || exit 2
mkdir -p "$work/pristine"
go run ./cmd/encctl/testdata/mkfixture "$work/pristine" || exit 2

F=$work/fixture # every run works here, so paths in messages agree
mask() {
	sed -E \
		-e 's/[0-9a-f]{16,}/<hex>/g' \
		-e 's/\b[0-9]{6,}\b/<id>/g' \
		-e 's/[0-9.]+(ns|µs|ms|s)\b/<dur>/g' \
		-e 's/"created": "[^"]*"/"created": "<time>"/g' \
		-e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]+Z/<time>/g'
}

# step NAME [STDIN] -- ARGS...: one encctl run, recorded.
step() {
	local name=$1 input=$2
	shift 3
	printf '== %s: encctl %s\n' "$name" "$*"
	printf '%s' "$input" | "$BIN" "$@" >"$work/stdout" 2>"$work/stderr"
	local rc=$?
	echo "exit $rc"
	echo "-- stdout"; mask <"$work/stdout"
	echo "-- stderr"; mask <"$work/stderr"
}

matrix() {
	local C="--config $F/aes.toml --data-dir $F/data"
	step no-args '' --
	step help '' -- help
	step help-cmd '' -- help reencrypt
	step unknown '' -- frobnicate
	step no-config '' -- --data-dir "$F/data" verify
	step no-data-dir '' -- --config "$F/aes.toml" verify
	step missing-dir '' -- --config "$F/aes.toml" --data-dir "$F/nope" verify
	step dir-is-file '' -- --config "$F/aes.toml" --data-dir "$F/aes.toml" verify
	step bad-config '' -- --config "$F/bad.toml" --data-dir "$F/data" verify
	step missing-config '' -- --config "$F/nope.toml" --data-dir "$F/data" verify
	step empty-verify '' -- --config "$F/aes.toml" --data-dir "$F/empty" verify
	step empty-dump-file '' -- --config "$F/aes.toml" --data-dir "$F/empty" dump-file
	step empty-dump-key '' -- --config "$F/aes.toml" --data-dir "$F/empty" dump-key --i-consent
	step empty-reencrypt '' -- --config "$F/aes.toml" --data-dir "$F/empty" reencrypt
	step empty-rotate '' -- --config "$F/aes.toml" --data-dir "$F/empty" rotate-master-key --to "$F/new.toml"
	step empty-cleanup '' -- --config "$F/aes.toml" --data-dir "$F/empty" cleanup --yes
	step empty-export '' -- --config "$F/aes.toml" --data-dir "$F/empty" export --out "$F/e.doc" x
	step dump-file '' -- $C dump-file
	step dump-file-json '' -- $C dump-file --json
	step dump-file-path '' -- $C dump-file --path a.sst
	step dump-file-plain '' -- $C dump-file --path plain.txt
	step dump-file-missing '' -- $C dump-file --path nope
	step dump-file-outside '' -- $C dump-file --path ../aes.toml
	step dump-file-dir '' -- $C dump-file --path sub
	step dump-file-reserved '' -- $C dump-file --path key.dict
	step dump-key-noconsent '' -- $C dump-key
	step dump-key '' -- $C dump-key --i-consent
	step dump-key-json '' -- $C dump-key --i-consent --json
	step dump-key-secret '' -- $C dump-key --i-consent --show-secret
	step dump-key-ids-bad '' -- $C dump-key --i-consent --ids x
	step dump-key-ids-none '' -- $C dump-key --i-consent --ids 1
	step decrypt '' -- $C decrypt-file --file a.sst --out "$F/a.out"
	step decrypt-exists '' -- $C decrypt-file --file a.sst --out "$F/a.out"
	step decrypt-inside '' -- $C decrypt-file --file a.sst --out "$F/data/a.out"
	step decrypt-missing '' -- $C decrypt-file --file nope --out "$F/b.out"
	step decrypt-no-out '' -- $C decrypt-file --file a.sst
	step verify '' -- $C verify
	step verify-json '' -- $C verify --json
	step export-none '' -- $C export --out "$F/x.doc"
	step export-missing '' -- $C export --out "$F/x.doc" nope
	step export-outside '' -- $C export --out "$F/x.doc" ../aes.toml
	step export-dir '' -- $C export --out "$F/x.doc" sub
	step export-out-inside '' -- $C export --out "$F/data/x.doc" a.sst
	step export '' -- $C export --out "$F/x.doc" --transfer-key-file "$F/x.key" a.sst sub/c.log plain.txt a.sst
	step export-exists '' -- $C export --out "$F/x.doc" a.sst
	local O="--config $F/aes.toml --data-dir $F/other"
	step import-no-in '' -- $O import --transfer-key-file "$F/x.key"
	step import-no-key '' -- $O import --in "$F/x.doc"
	printf 'zz\n' >"$F/bad.key"
	step import-bad-key '' -- $O import --in "$F/x.doc" --transfer-key-file "$F/bad.key"
	printf '%064d\n' 0 >"$F/wrong.key"
	step import-wrong-key '' -- $O import --in "$F/x.doc" --transfer-key-file "$F/wrong.key"
	step import-not-copied '' -- $O import --in "$F/x.doc" --transfer-key-file "$F/x.key"
	mkdir -p "$F/other/in/sub"
	cp "$F/data/a.sst" "$F/data/plain.txt" "$F/other/in/"
	cp "$F/data/sub/c.log" "$F/other/in/sub/"
	step import-under-outside '' -- $O import --in "$F/x.doc" --transfer-key-file "$F/x.key" --under ../x
	step import-under '' -- $O import --in "$F/x.doc" --transfer-key-file "$F/x.key" --under in
	step import-again '' -- $O import --in "$F/x.doc" --transfer-key-file "$F/x.key" --under in
	step import-resume '' -- $O import --in "$F/x.doc" --transfer-key-file "$F/x.key" --under in --resume
	step import-verify '' -- $O verify
	step import-read '' -- $O decrypt-file --file in/sub/c.log --out "$F/c.out"
	step import-corrupt '' -- $O import --in "$F/aes.toml" --transfer-key-file "$F/x.key"
	rm -f "$F/data/b.sst"
	step verify-missing '' -- $C verify
	step cleanup-ask-eof '' -- $C cleanup
	step cleanup-ask-no 'n
' -- $C cleanup
	step cleanup-yes '' -- $C cleanup --yes
	step cleanup-nothing '' -- $C cleanup --yes
	step reencrypt-bad-age '' -- $C reencrypt --older-than soon
	step reencrypt-bad-rate '' -- $C reencrypt --rate fast
	step reencrypt-none '' -- $C reencrypt
	step reencrypt-old-none '' -- $C reencrypt --older-than 30d
	local S="--config $F/sm4.toml --data-dir $F/data"
	step reencrypt-sm4 '' -- $S reencrypt --rate 10MiB/s
	step reencrypt-sm4-again '' -- $S reencrypt
	step dump-file-sm4 '' -- $S dump-file
	step reencrypt-plain '' -- --config "$F/plain.toml" --data-dir "$F/data" reencrypt
	step dump-file-plain-all '' -- --config "$F/plain.toml" --data-dir "$F/data" dump-file
	step reencrypt-back '' -- $C reencrypt
	step rotate-no-to '' -- $C rotate-master-key
	step rotate-missing-to '' -- $C rotate-master-key --to "$F/nope.toml"
	step rotate-bad-to '' -- $C rotate-master-key --to "$F/bad.toml"
	step rotate-plain-to '' -- $C rotate-master-key --to "$F/plain.toml"
	step rotate '' -- $C rotate-master-key --to "$F/new.toml"
	step rotate-old-config '' -- $C verify
	step rotate-new-config '' -- --config "$F/new.toml" --data-dir "$F/data" verify
	step keyring-no-pass '' -- keyring create --keyring "$F/k.ring"
}

for which in old new; do
	rm -rf "$F" && cp -a "$work/pristine" "$F"
	BIN=$work/encctl-$which
	matrix >"$work/out/$which.txt" 2>&1
done
if diff -u "$work/out/old.txt" "$work/out/new.txt"; then
	echo "same output and exit codes in $(grep -c '^== ' "$work/out/new.txt") runs"
else
	exit 1
fi
