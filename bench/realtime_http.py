#!/usr/bin/env python3
"""HTTP path of the real-time benchmark: POSTs NDJSON batches to
/api/v1/events from THREADS client threads; prints events/s and the request
latency (p50, p99) of one batch (arrival to answer, segment changes
published). Usage: realtime_http.py PORT TOKEN EVENTS.ndjson BATCH THREADS"""
import http.client
import sys
import threading
import time

port, token, path, batch, nthreads = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
lines = open(path).read().splitlines()
bodies = ["\n".join(lines[i:i + batch]).encode() for i in range(0, len(lines), batch)]
lat, lock, idx, retries = [], threading.Lock(), [0], [0]


def worker():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    while True:
        with lock:
            if idx[0] >= len(bodies):
                break
            b = bodies[idx[0]]
            idx[0] += 1
        while True:
            t0 = time.perf_counter()
            c.request("POST", "/api/v1/events", body=b, headers={"Authorization": "Bearer " + token,
                                                               "Content-Type": "application/x-ndjson"})
            r = c.getresponse()
            r.read()
            dt = time.perf_counter() - t0
            if r.status == 503:  # backpressure: retry after the advised delay
                with lock:
                    retries[0] += 1
                time.sleep(float(r.getheader("Retry-After", "1")))
                continue
            if r.status != 200:
                raise SystemExit("HTTP %d" % r.status)
            with lock:
                lat.append(dt)
            break
    c.close()


t0 = time.perf_counter()
ts = [threading.Thread(target=worker) for _ in range(nthreads)]
for t in ts:
    t.start()
for t in ts:
    t.join()
el = time.perf_counter() - t0
lat.sort()
print("HTTP: %d events in %d requests of %d from %d threads: %.0f events/s; request p50 %.1f ms, p99 %.1f ms; %d 503 retries"
      % (len(lines), len(bodies), batch, nthreads, len(lines) / el, lat[len(lat) // 2] * 1e3,
         lat[int((len(lat) - 1) * 0.99)] * 1e3, retries[0]))
