#!/bin/sh
# make demo: simulate a bank-like transaction log and analyze it.
set -eu
TSR=$1
DIR=$2
mkdir -p "$DIR"
"$TSR" simulate --customers 5000 --seed 42 -o "$DIR/transactions.csv"
"$TSR" analyze "$DIR/transactions.csv" --db "$DIR/tessera.db" -o "$DIR" --report "$DIR/report.html"
echo "tessera: demo results in $DIR (customers.csv, segments.csv, tessera.db, report.html)"
