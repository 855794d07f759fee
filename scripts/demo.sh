#!/bin/sh
# make demo: simulate a retail-bank data bundle (transactions, CRM records,
# product events, interactions, campaign, offers) and analyze it.
set -eu
TSR=$1
DIR=$2
mkdir -p "$DIR"
rm -rf "$DIR/bundle" "$DIR/latent"
"$TSR" simulate --bundle "$DIR/bundle" --latent "$DIR/latent" --customers 5000 --seed 42
"$TSR" analyze "$DIR/bundle" --db "$DIR/tessera.db" -o "$DIR" --report "$DIR/report.html"
echo "tessera: demo results in $DIR (profiles.csv, segment_profiles.csv, customers.csv, segments.csv, tessera.db, report.html); the simulator's truth in $DIR/latent"
