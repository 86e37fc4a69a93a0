#!/usr/bin/python3
"""dllm_client.py -- a minimal Python client for dllm-worker over Kafka.

Sends a dllm.v1.GenerateRequest to the requests topic and waits for the
GenerateResponse with the same request_id on the reply topic. Uses Debian's
python3-confluent-kafka and python3-protobuf; the schema module is generated from
proto/dllm/v1/generate.proto with protoc (done on the fly into a cache directory when
`dllm.v1.generate_pb2` is not importable).

    from dllm_client import DllmClient
    with DllmClient("127.0.0.1:9092") as c:
        r = c.generate("What is 2+2?", gen_length=8, steps=8, block_length=8)
        print(r.result.text if r.WhichOneof("outcome") == "result" else r.error.message)

Command line (prints the reply as JSON; exit 0 result, 1 error reply, 3 timeout):

    python3 ops/clients/python/dllm_client.py --bootstrap HOST:PORT --prompt "Hi" \\
        --gen-length 8 --steps 8 --block-length 8

See docs/clients.md for the wire contract (headers, keys, error codes, duplicates).

SPDX-License-Identifier: Apache-2.0
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition


def load_schema():
    """Returns the generated module dllm.v1.generate_pb2 (generating it if needed)."""
    try:
        from dllm.v1 import generate_pb2
        return generate_pb2
    except ImportError:
        pass
    here = os.path.dirname(os.path.abspath(__file__))
    proto_root = os.path.normpath(os.path.join(here, "..", "..", "..", "proto"))
    out = os.path.join(tempfile.gettempdir(), "dllm-pb2-%d" % os.getuid())
    os.makedirs(out, exist_ok=True)
    subprocess.run(["protoc", "-I" + proto_root, "--python_out=" + out,
                    "dllm/v1/generate.proto"], check=True)
    sys.path.insert(0, out)
    from dllm.v1 import generate_pb2
    return generate_pb2


pb = load_schema()

GEN_FIELDS = ("gen_length", "steps", "block_length", "temperature", "cfg_scale", "seed",
              "logits_eos_inf", "confidence_eos_eot_inf")


class DllmClient:
    """One producer + one reply consumer (assigned, no group join). Not thread-safe."""

    def __init__(self, bootstrap, requests_topic="dllm.requests", reply_topic="dllm.replies",
                 conf=None):
        base = {"bootstrap.servers": bootstrap}
        base.update(conf or {})
        self.requests_topic = requests_topic
        self.reply_topic = reply_topic
        self.producer = Producer(dict(base, **{"enable.idempotence": True, "linger.ms": 5}))
        self.consumer = Consumer(dict(base, **{"group.id": "dllm-client-%s" % uuid.uuid4(),
                                               "enable.auto.commit": False}))
        # start at the current end of every reply partition: no reply can be missed
        md = self.consumer.list_topics(reply_topic, timeout=10)
        if reply_topic not in md.topics or md.topics[reply_topic].error:
            raise RuntimeError("reply topic %s not available" % reply_topic)
        parts = []
        for p in md.topics[reply_topic].partitions:
            _, high = self.consumer.get_watermark_offsets(TopicPartition(reply_topic, p),
                                                         timeout=10)
            parts.append(TopicPartition(reply_topic, p, high))
        self.consumer.assign(parts)
        self.pending = {}

    def close(self):
        self.producer.flush(10)
        self.consumer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, prompt=None, token_ids=None, system=None, request_id=None, key=None,
             deadline_ms=None, metadata=None, model=None, cache=None, **params):
        """Produces one request; returns its request_id. params: GEN_FIELDS (and remasking
        as 'low_confidence'/'random'); cache: dict of CacheParams fields, e.g.
        {'policy': 'dllm', 'kp': 50}."""
        r = pb.GenerateRequest()
        r.request_id = request_id or str(uuid.uuid4())
        if (prompt is None) == (token_ids is None):
            raise ValueError("give exactly one of prompt or token_ids")
        if prompt is not None:
            r.text = prompt
            if system is not None:
                r.system = system
        else:
            r.token_ids.ids.extend(token_ids)
        for k, v in params.items():
            if k == "remasking":
                r.params.remasking = pb.Remasking.Value("REMASKING_" + v.upper())
            elif k in GEN_FIELDS:
                setattr(r.params, k, v)  # explicit presence: 0 is sent as 0
            else:
                raise ValueError("unknown generation parameter %s" % k)
        for k, v in (cache or {}).items():
            if k == "policy":
                r.cache.policy = pb.CachePolicy.Value("CACHE_POLICY_" + v.upper())
            else:
                setattr(r.cache, k, v)
        if deadline_ms:
            r.deadline_unix_ms = int(time.time() * 1000) + int(deadline_ms)
        if model:
            r.model = model
        for k, v in (metadata or {}).items():
            r.metadata[k] = v
        r.reply_topic = self.reply_topic
        self.producer.produce(self.requests_topic, value=r.SerializeToString(),
                              key=(key or r.request_id).encode(),
                              headers=[("correlation-id", r.request_id),
                                       ("reply-to", self.reply_topic)])
        self.producer.poll(0)
        self.pending[r.request_id] = None
        return r.request_id

    def wait(self, request_ids, timeout=60.0):
        """Waits for the replies of request_ids; returns {request_id: GenerateResponse}
        (missing ids when the timeout passes). The first reply per id wins: a duplicate
        (at-least-once redelivery) is ignored."""
        want = set(request_ids)
        got = {}
        self.producer.flush(timeout)
        end = time.time() + timeout
        while want - got.keys() and time.time() < end:
            m = self.consumer.poll(0.2)
            if m is None or m.error():
                continue
            resp = pb.GenerateResponse()
            try:
                resp.ParseFromString(m.value())
            except Exception:  # not ours
                continue
            if resp.request_id in want and resp.request_id not in got:
                got[resp.request_id] = resp
        return got

    def generate(self, prompt=None, timeout=60.0, **kw):
        """send + wait for one request; returns the GenerateResponse or raises TimeoutError."""
        rid = self.send(prompt=prompt, **kw)
        got = self.wait([rid], timeout)
        if rid not in got:
            raise TimeoutError("no reply for %s within %.0f s" % (rid, timeout))
        return got[rid]


def response_to_dict(r):
    d = {"request_id": r.request_id, "worker_id": r.worker_id, "model_id": r.model_id,
         "metadata": dict(r.metadata)}
    if r.WhichOneof("outcome") == "result":
        res = r.result
        d.update(status="ok", text=res.text, token_ids=list(res.token_ids.ids),
                 finish_reason=pb.FinishReason.Name(res.finish_reason),
                 usage={"prompt_tokens": res.usage.prompt_tokens,
                        "completion_tokens": res.usage.completion_tokens,
                        "cached_prompt_tokens": res.usage.cached_prompt_tokens},
                 timings={"queue_ms": res.timings.queue_ms,
                          "first_step_ms": res.timings.first_step_ms,
                          "total_ms": res.timings.total_ms,
                          "worker_ms": res.timings.worker_ms,
                          "engine_ms": res.timings.engine_ms},
                 steps=res.steps, forwards=res.forwards)
    else:
        d.update(status="error", error={"code": pb.ErrorCode.Name(r.error.code),
                                        "message": r.error.message,
                                        "retryable": r.error.retryable})
    return d


def main():
    ap = argparse.ArgumentParser(description="send one request to dllm-worker")
    ap.add_argument("--bootstrap", default=os.environ.get("DLLM_BOOTSTRAP"))
    ap.add_argument("--topic", default="dllm.requests")
    ap.add_argument("--reply-topic", default="dllm.replies")
    ap.add_argument("--prompt", required=True)
    ap.add_argument("--system")
    ap.add_argument("--gen-length", type=int)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--block-length", type=int)
    ap.add_argument("--temperature", type=float)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--deadline-ms", type=int)
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()
    if not a.bootstrap:
        ap.error("--bootstrap HOST:PORT is required (or DLLM_BOOTSTRAP)")
    params = {k: getattr(a, k) for k in ("gen_length", "steps", "block_length", "temperature",
                                         "seed") if getattr(a, k) is not None}
    with DllmClient(a.bootstrap, a.topic, a.reply_topic) as c:
        try:
            r = c.generate(a.prompt, system=a.system, timeout=a.timeout,
                           deadline_ms=a.deadline_ms, **params)
        except TimeoutError as e:
            print(str(e), file=sys.stderr)
            return 3
    d = response_to_dict(r)
    print(json.dumps(d))
    return 0 if d["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
