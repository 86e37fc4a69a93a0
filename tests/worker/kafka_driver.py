#!/usr/bin/python3
"""kafka_driver.py -- load generator and reply checker for the worker integration tests.

A real Kafka client (confluent-kafka, librdkafka underneath) speaking the wire schema
through the protoc-generated Python module (dllm.v1.generate_pb2 on PYTHONPATH):

  produce  --bootstrap B --topic T --n N [--dups D] [--malformed M] [--invalid I]
           [--prefix P] [--gen G --steps S --block K] --ids FILE [--deadline-ms MS]
      N valid requests with ids P-0..P-(N-1) (their ids written to FILE, one a line),
      D of them produced a second time (redeliveries), M undecodable messages and I
      requests with invalid parameters (steps = 0), shuffled with a fixed seed.
  collect  --bootstrap B --topic T --ids FILE --timeout SEC [--expect-errors E]
      reads the reply topic from the beginning until every id in FILE has a reply (and E
      error replies arrived) or the timeout passes; prints a JSON summary and exits 1 when
      an id is missing or a valid id got an error.
  count    --bootstrap B --topic T --timeout SEC [--header NAME=VALUE]
      prints the number of messages on T (all partitions), optionally only those with the
      header.

SPDX-License-Identifier: Apache-2.0
"""
import argparse
import json
import random
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from dllm.v1 import generate_pb2 as pb


def make_request(rid, a):
    r = pb.GenerateRequest()
    r.request_id = rid
    r.text = "Question %s: what is 2+2?" % rid
    r.params.gen_length = a.gen
    r.params.steps = a.steps
    r.params.block_length = a.block
    r.params.temperature = 0.0
    if a.deadline_ms:
        r.deadline_unix_ms = int(time.time() * 1000) + a.deadline_ms
    return r


def cmd_produce(a):
    rnd = random.Random(7)
    msgs = []
    ids = ["%s-%d" % (a.prefix, i) for i in range(a.n)]
    for rid in ids:
        msgs.append((rid, make_request(rid, a).SerializeToString(), [("correlation-id", rid)]))
    for rid in rnd.sample(ids, min(a.dups, len(ids))):
        msgs.append((rid, make_request(rid, a).SerializeToString(), [("correlation-id", rid)]))
    for i in range(a.malformed):
        rid = "%s-bad-%d" % (a.prefix, i)
        junk = bytes([0xFF, 0xFF, 0xFF, 0xFF, 0x0F]) + rnd.randbytes(rnd.randint(0, 40))
        msgs.append((rid, junk, [("correlation-id", rid)]))
    for i in range(a.invalid):
        rid = "%s-inv-%d" % (a.prefix, i)
        r = make_request(rid, a)
        r.params.steps = 0
        msgs.append((rid, r.SerializeToString(), []))
    rnd.shuffle(msgs)
    p = Producer({"bootstrap.servers": a.bootstrap, "enable.idempotence": True,
                  "linger.ms": 5})
    failed = []

    def dr(err, msg):
        if err is not None:
            failed.append(err)

    for key, val, hdrs in msgs:
        while True:
            try:
                p.produce(a.topic, value=val, key=key.encode(), headers=hdrs, on_delivery=dr)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    left = p.flush(30)
    if left or failed:
        print("produce: %d undelivered, errors %s" % (left, failed[:3]), file=sys.stderr)
        return 1
    with open(a.ids, "w") as f:
        f.write("\n".join(ids) + "\n")
    print("produced %d messages (%d valid ids)" % (len(msgs), len(ids)))
    return 0


def assign_all(c, topic):
    md = c.list_topics(topic, timeout=10)
    parts = [TopicPartition(topic, p, 0) for p in md.topics[topic].partitions]
    c.assign(parts)


def new_consumer(bootstrap):
    return Consumer({"bootstrap.servers": bootstrap, "group.id": "driver-%d" % time.time_ns(),
                     "enable.auto.commit": False, "auto.offset.reset": "earliest"})


def cmd_collect(a):
    with open(a.ids) as f:
        want = set(line.strip() for line in f if line.strip())
    c = new_consumer(a.bootstrap)
    assign_all(c, a.topic)
    seen = {}
    errors = {}
    other = 0
    valid_errors = 0
    end = time.time() + a.timeout
    while time.time() < end:
        if want.issubset(seen.keys()) and sum(errors.values()) >= a.expect_errors:
            # linger briefly to catch late duplicates
            if a.linger <= 0:
                break
            a.linger -= 0.5
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        r = pb.GenerateResponse()
        r.ParseFromString(m.value())
        if r.WhichOneof("outcome") == "error":
            errors[r.error.code] = errors.get(r.error.code, 0) + 1
            if r.request_id in want:
                seen[r.request_id] = seen.get(r.request_id, 0) + 1
                valid_errors += 1
                print("error reply for valid id %s: %s" % (r.request_id, r.error.message),
                      file=sys.stderr)
            else:
                other += 1
            continue
        seen[r.request_id] = seen.get(r.request_id, 0) + 1
    c.close()
    missing = sorted(want - seen.keys())
    dup = sum(n - 1 for n in seen.values() if n > 1)
    summary = {"expected": len(want), "answered": len(want & seen.keys()),
               "missing": len(missing), "duplicate_replies": dup,
               "error_replies": {pb.ErrorCode.Name(k): v for k, v in errors.items()},
               "valid_errors": valid_errors, "first_missing": missing[:5]}
    print(json.dumps(summary))
    if missing or (valid_errors and not a.allow_valid_errors) or sum(errors.values()) < a.expect_errors:
        return 1
    if a.exactly_once and dup:
        return 1
    return 0


def cmd_count(a):
    c = new_consumer(a.bootstrap)
    assign_all(c, a.topic)
    n = 0
    idle_until = time.time() + a.timeout
    while time.time() < idle_until:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        if a.header:
            k, v = a.header.split("=", 1)
            hdrs = dict((hk, hv.decode() if hv else "") for hk, hv in (m.headers() or []))
            if hdrs.get(k) != v:
                continue
        n += 1
        if a.expect and n >= a.expect:
            break
    c.close()
    print(n)
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("produce")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--dups", type=int, default=0)
    p.add_argument("--malformed", type=int, default=0)
    p.add_argument("--invalid", type=int, default=0)
    p.add_argument("--prefix", default="req")
    p.add_argument("--gen", type=int, default=8)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--block", type=int, default=8)
    p.add_argument("--deadline-ms", type=int, default=0)
    p.add_argument("--ids", required=True)
    p = sub.add_parser("collect")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--ids", required=True)
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--expect-errors", type=int, default=0)
    p.add_argument("--linger", type=float, default=0)
    p.add_argument("--exactly-once", action="store_true")
    p.add_argument("--allow-valid-errors", action="store_true")
    p = sub.add_parser("count")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--timeout", type=float, default=10)
    p.add_argument("--header")
    p.add_argument("--expect", type=int, default=0)
    a = ap.parse_args()
    return {"produce": cmd_produce, "collect": cmd_collect, "count": cmd_count}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
