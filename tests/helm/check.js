// Assertions on the objects `helm template` renders from the dllm-worker chart, one run
// per values file of the CI matrix (deploy/helm/dllm-worker/ci/*.yaml), plus checks of
// the Grafana dashboard against the runbook's metric table.
//
// usage: node tests/helm/check.js --chart DIR --rendered DIR [--dashboard FILE --runbook FILE]
//   --rendered holds <case>.yaml, the output of `helm template` for ci/<case>.yaml.
//
// For every case it checks
//   - each object against the Kubernetes / KEDA / Prometheus Operator schemas
//     (kubernetes-models .validate()) and against the field names of their type
//     declarations (fields.js; validate() alone accepts unknown names);
//   - what the values promise: GPUs == TP size, probes, security context, grace period,
//     model volume, /dev/shm, static membership, secrets, KEDA / HPA, PDB,
//     NetworkPolicy, monitors: each derived from the merged values of the case
//     (chart values.yaml + the case file, merged as Helm does);
//   - literal expectations per case (EXPECT below), so that a mistake shared by the
//     chart and the value merging here cannot hide.
// Prints one FAIL line per failed assertion and "N passed, N failed" at the end; exits 1
// when anything failed.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import { unknownFields } from "./fields.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const nodeModules = path.join(here, "node_modules");

// ---------------------------------------------------------------------------------------
// arguments, assertion bookkeeping

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];
if (!args.chart || !args.rendered) {
  console.error("usage: node check.js --chart DIR --rendered DIR [--dashboard FILE --runbook FILE]");
  process.exit(2);
}

let passed = 0;
let failed = 0;
let where = "";
function check(cond, msg) {
  if (cond) passed++;
  else {
    failed++;
    console.log(`FAIL [${where}] ${msg}`);
  }
}
// JSON with sorted keys: deep equality that ignores key order (toYaml sorts keys).
function canon(v) {
  if (Array.isArray(v)) return `[${v.map(canon).join(",")}]`;
  if (v && typeof v === "object") return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canon(v[k])}`).join(",")}}`;
  return JSON.stringify(v);
}
function eq(actual, expected, msg) {
  const ok = canon(actual) === canon(expected);
  check(ok, ok ? msg : `${msg}: got ${JSON.stringify(actual)}, want ${JSON.stringify(expected)}`);
}

// ---------------------------------------------------------------------------------------
// the worker's contract (worker issue): DLLM_* variables it reads, one per flag

const WORKER_ENV = new Set([
  "DLLM_BOOTSTRAP", "DLLM_GROUP", "DLLM_GROUP_INSTANCE_ID", "DLLM_REQUESTS_TOPIC",
  "DLLM_REPLIES_TOPIC", "DLLM_DLQ_TOPIC", "DLLM_REDIS", "DLLM_MODEL", "DLLM_BACKEND",
  "DLLM_DEVICES", "DLLM_TP", "DLLM_HTTP", "DLLM_DRAIN_TIMEOUT", "DLLM_POOL_MB", "DLLM_CACHE",
  "DLLM_PROMPT_SLOTS", "DLLM_SLOT_TOKENS", "DLLM_MODEL_REVISION", // docs/prompt-cache.md
]);
const STARTUP_BUDGET_MIN_S = 20 * 60;

// Literal expectations per case: independent of the value merging below.
const EXPECT = {
  defaults: { kind: "Deployment", gpus: 1, keda: true, hpa: false, pdb: true, netpol: true, secret: false, shm: "8Gi" },
  tp2: { kind: "Deployment", gpus: 2, keda: true, hpa: false, pdb: true, netpol: true, secret: false, devices: "0,1",
    runtimeClassName: "nvidia", priorityClassName: "gpu-inference", serviceMonitor: true, shm: "16Gi" },
  statefulset: { kind: "StatefulSet", gpus: 1, keda: true, hpa: false, pdb: false, netpol: true, secret: false,
    instanceIdFromPodName: true, podMonitor: true, initContainer: "model-fetch", redisUrlSecret: "dllm-redis-url" },
  hpa: { kind: "Deployment", gpus: 1, keda: false, hpa: true, pdb: true, netpol: true, secret: false, minAvailable: 1 },
  "existing-secrets": { kind: "StatefulSet", gpus: 1, keda: true, hpa: false, pdb: true, netpol: true, secret: false,
    secretRefs: ["dllm-kafka-user", "dllm-redis"], protocol: "SASL_SSL", triggerAuth: true, bootstrapFromEnv: true },
  "dev-credentials": { kind: "Deployment", gpus: 1, keda: true, hpa: false, pdb: true, netpol: true, secret: true,
    protocol: "SASL_PLAINTEXT", triggerAuth: true },
  cpu: { kind: "Deployment", gpus: 0, keda: false, hpa: false, pdb: false, netpol: false, secret: false, replicas: 2 },
};

// ---------------------------------------------------------------------------------------
// schema validation: the model class of every apiVersion/kind the chart renders

const MODEL_MODULES = {
  "v1": "kubernetes-models/v1",
  "apps/v1": "kubernetes-models/apps/v1",
  "policy/v1": "kubernetes-models/policy/v1",
  "autoscaling/v2": "kubernetes-models/autoscaling/v2",
  "networking.k8s.io/v1": "kubernetes-models/networking.k8s.io/v1",
  "keda.sh/v1alpha1": "@kubernetes-models/keda/keda.sh/v1alpha1",
  "monitoring.coreos.com/v1": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
};
const moduleCache = new Map();
async function modelClass(apiVersion, kind) {
  const mod = MODEL_MODULES[apiVersion];
  if (!mod) return null;
  if (!moduleCache.has(mod)) moduleCache.set(mod, await import(mod));
  return moduleCache.get(mod)[kind] || null;
}
function declarationFile(apiVersion, kind) {
  return path.join(nodeModules, MODEL_MODULES[apiVersion], `${kind}.d.ts`);
}

async function validateObject(obj) {
  const id = `${obj.kind}/${obj.metadata && obj.metadata.name}`;
  const Cls = await modelClass(obj.apiVersion, obj.kind);
  check(Cls !== null, `${id}: no schema model for ${obj.apiVersion} ${obj.kind}`);
  if (!Cls) return;
  let error = null;
  try {
    new Cls(obj).validate();
  } catch (e) {
    error = e.message;
  }
  check(error === null, `${id}: schema validation: ${error}`);
  const unknown = unknownFields(obj, declarationFile(obj.apiVersion, obj.kind), nodeModules);
  check(unknown.length === 0, `${id}: unknown field(s) ${unknown.join(", ")}`);
}

// ---------------------------------------------------------------------------------------
// helpers

// Helm's value merge: maps merge recursively, null deletes a key, anything else replaces.
function mergeValues(base, over) {
  const out = structuredClone(base);
  for (const [k, v] of Object.entries(over || {})) {
    if (v === null) delete out[k];
    else if (v && typeof v === "object" && !Array.isArray(v) && out[k] && typeof out[k] === "object" && !Array.isArray(out[k])) {
      out[k] = mergeValues(out[k], v);
    } else out[k] = structuredClone(v);
  }
  return out;
}

const envOf = (c) => Object.fromEntries((c.env || []).map((e) => [e.name, e]));
function kafkaProps(c) {
  const props = {};
  const a = c.args || [];
  for (let i = 0; i < a.length; i++) {
    if (a[i] === "--kafka-prop") {
      const kv = a[i + 1] || "";
      const eqAt = kv.indexOf("=");
      props[kv.slice(0, eqAt)] = kv.slice(eqAt + 1);
      i++;
    }
  }
  return props;
}
const isSubset = (small, big) => Object.entries(small || {}).every(([k, v]) => big && big[k] === v);
const quantity = (q) => String(q);

// ---------------------------------------------------------------------------------------
// one case

async function checkCase(name, docs, values) {
  const x = EXPECT[name];
  check(x !== undefined, `no literal expectations for case ${name} (add it to EXPECT)`);
  if (!x) return;
  const byKind = {};
  for (const d of docs) (byKind[d.kind] ||= []).push(d);
  const one = (kind) => (byKind[kind] || [])[0];

  for (const d of docs) await validateObject(d);
  for (const d of docs) {
    const l = (d.metadata && d.metadata.labels) || {};
    check(l["app.kubernetes.io/name"] && l["app.kubernetes.io/instance"] && l["app.kubernetes.io/managed-by"] === "Helm",
      `${d.kind}/${d.metadata.name}: standard labels`);
  }

  // --- workload ------------------------------------------------------------------------
  const workloads = [...(byKind.Deployment || []), ...(byKind.StatefulSet || [])];
  eq(workloads.length, 1, "exactly one workload");
  const w = workloads[0];
  if (!w) return;
  eq(w.kind, x.kind, "workload kind");
  eq(w.kind, values.kafka.staticMembership.enabled ? "StatefulSet" : "Deployment", "StatefulSet iff static membership");
  const pod = w.spec.template;
  const ps = pod.spec;
  check(isSubset(w.spec.selector.matchLabels, pod.metadata.labels), "selector matches the pod labels");
  check(pod.metadata.annotations && /^[0-9a-f]{64}$/.test(pod.metadata.annotations["checksum/config"] || ""),
    "checksum/config annotation rolls pods on config changes");
  const autoscaled = values.autoscaling.keda.enabled || values.autoscaling.hpa.enabled;
  if (autoscaled) check(!("replicas" in w.spec), "spec.replicas left to the autoscaler");
  else eq(w.spec.replicas, values.replicaCount, "spec.replicas without autoscaling");
  if (x.replicas !== undefined) eq(w.spec.replicas, x.replicas, "replicas (literal)");

  const containers = ps.containers || [];
  const c = containers.find((k) => k.name === "worker");
  check(c !== undefined, "a container named worker");
  if (!c) return;
  eq(c.command, [values.worker.command], "worker command");
  const env = envOf(c);
  const cm = (byKind.ConfigMap || []).find((m) => (c.envFrom || []).some((f) => f.configMapRef && f.configMapRef.name === m.metadata.name));
  check(cm !== undefined, "the worker's envFrom names the chart's ConfigMap");
  const cfg = (cm && cm.data) || {};

  // every DLLM_* name is one the worker reads; every $(VAR) is defined earlier
  for (const n of [...Object.keys(cfg), ...Object.keys(env)].filter((n) => n.startsWith("DLLM_"))) {
    check(WORKER_ENV.has(n), `${n} is not a worker flag variable`);
  }
  const defined = new Set();
  for (const e of c.env || []) {
    for (const m of String(e.value || "").matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
      check(defined.has(m[1]), `env ${e.name} references $(${m[1]}) before it is defined`);
    }
    defined.add(e.name);
  }
  for (const a of c.args || []) {
    for (const m of String(a).matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
      check(defined.has(m[1]) || m[1] in cfg, `arg ${a} references undefined $(${m[1]})`);
    }
  }
  const a = c.args || [];
  for (let i = 0; i < a.length; i++) {
    if (a[i] === "--kafka-prop") check(/^[a-z][a-z0-9._]*=./.test(a[i + 1] || ""), `--kafka-prop ${a[i + 1]} is key=value`);
  }

  // --- GPUs == TP -----------------------------------------------------------------------
  const tp = values.worker.tensorParallelSize;
  const gpuKey = values.gpu.resourceName;
  const lim = (c.resources && c.resources.limits) || {};
  const req = (c.resources && c.resources.requests) || {};
  eq(cfg.DLLM_TP, String(tp), "DLLM_TP is the TP size");
  eq(cfg.DLLM_BACKEND, values.worker.backend, "DLLM_BACKEND");
  if (values.worker.backend === "cuda") {
    eq(Number(lim[gpuKey]), tp, `limits ${gpuKey} == TP size`);
    eq(Number(req[gpuKey]), tp, `requests ${gpuKey} == TP size`);
    eq(Number(lim[gpuKey]), x.gpus, `limits ${gpuKey} (literal)`);
    eq((cfg.DLLM_DEVICES || "").split(",").length, tp, "DLLM_DEVICES lists TP devices");
    if (x.devices) eq(cfg.DLLM_DEVICES, x.devices, "DLLM_DEVICES (literal)");
  } else {
    check(!(gpuKey in lim) && !(gpuKey in req), "no GPUs requested on the cpu backend");
    eq(x.gpus, 0, "cpu case expects no GPUs");
  }
  for (const other of containers.filter((k) => k !== c)) {
    const r = other.resources || {};
    check(!((r.limits || {})[gpuKey]), `sidecar ${other.name} requests no GPU`);
  }

  // --- scheduling ---------------------------------------------------------------------
  eq(ps.nodeSelector || {}, values.nodeSelector, "nodeSelector");
  eq(ps.tolerations || [], values.tolerations, "tolerations");
  eq(ps.runtimeClassName, values.runtimeClassName || undefined, "runtimeClassName");
  eq(ps.priorityClassName, values.priorityClassName || undefined, "priorityClassName");
  if (x.runtimeClassName) eq(ps.runtimeClassName, x.runtimeClassName, "runtimeClassName (literal)");
  if (x.priorityClassName) eq(ps.priorityClassName, x.priorityClassName, "priorityClassName (literal)");
  if (values.gpu.products.length && values.worker.backend === "cuda" && !Object.keys(values.affinity).length) {
    const terms = ps.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms;
    const expr = terms[0].matchExpressions.find((e) => e.key === values.gpu.productLabel);
    check(expr && expr.operator === "In", "GPU product node affinity");
    eq(expr && expr.values, values.gpu.products, "GPU products");
  }
  eq((ps.topologySpreadConstraints || []).length, values.topologySpreadConstraints.length, "topology spread constraints");
  for (const t of ps.topologySpreadConstraints || []) {
    check(isSubset(t.labelSelector.matchLabels, pod.metadata.labels), "topology spread selects the worker pods");
  }

  // --- probes -------------------------------------------------------------------------
  const httpPort = (c.ports || []).find((p) => p.name === "http");
  eq(httpPort && httpPort.containerPort, values.worker.httpPort, "http containerPort");
  eq(cfg.DLLM_HTTP, `0.0.0.0:${values.worker.httpPort}`, "DLLM_HTTP listens on the pod IP");
  const probe = (p, path) => {
    check(p && p.httpGet, `${path} probe is an httpGet`);
    if (!p || !p.httpGet) return;
    check(p.httpGet.port === "http" || p.httpGet.port === values.worker.httpPort, `${path} probe port is the http port`);
  };
  probe(c.startupProbe, "startup");
  probe(c.livenessProbe, "liveness");
  probe(c.readinessProbe, "readiness");
  eq(c.startupProbe && c.startupProbe.httpGet.path, "/healthz", "startupProbe path");
  eq(c.livenessProbe && c.livenessProbe.httpGet.path, "/healthz", "livenessProbe path");
  eq(c.readinessProbe && c.readinessProbe.httpGet.path, "/readyz", "readinessProbe path");
  const budget = c.startupProbe ? c.startupProbe.periodSeconds * c.startupProbe.failureThreshold : 0;
  check(budget >= STARTUP_BUDGET_MIN_S, `startupProbe budget ${budget} s >= ${STARTUP_BUDGET_MIN_S} s`);

  // --- termination --------------------------------------------------------------------
  const drain = Number(cfg.DLLM_DRAIN_TIMEOUT);
  eq(drain, values.worker.drainTimeoutSeconds, "DLLM_DRAIN_TIMEOUT");
  const stopCmd = c.lifecycle && c.lifecycle.preStop && c.lifecycle.preStop.exec && c.lifecycle.preStop.exec.command;
  const stopSleep = stopCmd ? Number(stopCmd[stopCmd.length - 1]) : 0;
  if (values.preStop.enabled) check(Array.isArray(stopCmd) && stopSleep === values.preStop.sleepSeconds, "preStop sleep hook");
  check(ps.terminationGracePeriodSeconds > drain + stopSleep,
    `terminationGracePeriodSeconds ${ps.terminationGracePeriodSeconds} > drain ${drain} + preStop ${stopSleep}`);

  // --- security context ---------------------------------------------------------------
  const psc = ps.securityContext || {};
  eq(psc.runAsNonRoot, true, "pod runAsNonRoot");
  check(psc.runAsUser > 0, "pod runAsUser is not root");
  eq(psc.seccompProfile && psc.seccompProfile.type, "RuntimeDefault", "pod seccomp RuntimeDefault");
  eq(ps.automountServiceAccountToken, false, "no API token mounted");
  const chartContainers = [c, ...(ps.initContainers || []).filter((k) => k.name === "model-fetch")];
  for (const k of chartContainers) {
    const sc = k.securityContext || {};
    eq(sc.readOnlyRootFilesystem, true, `${k.name}: readOnlyRootFilesystem`);
    eq(sc.allowPrivilegeEscalation, false, `${k.name}: allowPrivilegeEscalation false`);
    check(sc.privileged !== true, `${k.name}: not privileged`);
    check(sc.capabilities && (sc.capabilities.drop || []).includes("ALL"), `${k.name}: drops ALL capabilities`);
    check(!(sc.capabilities && sc.capabilities.add && sc.capabilities.add.length), `${k.name}: adds no capability`);
    eq(sc.runAsNonRoot, true, `${k.name}: runAsNonRoot`);
    eq(sc.seccompProfile && sc.seccompProfile.type, "RuntimeDefault", `${k.name}: seccomp RuntimeDefault`);
  }

  // --- volumes ------------------------------------------------------------------------
  const vol = (n) => (ps.volumes || []).find((v) => v.name === n);
  const mount = (k, n) => (k.volumeMounts || []).find((m) => m.name === n);
  const tmp = vol("tmp");
  check(tmp && tmp.emptyDir && mount(c, "tmp") && mount(c, "tmp").mountPath === "/tmp", "writable /tmp emptyDir");
  const shm = vol("dshm");
  if (values.shm.enabled) {
    check(shm && shm.emptyDir && shm.emptyDir.medium === "Memory", "/dev/shm is a memory-backed emptyDir");
    eq(shm && quantity(shm.emptyDir.sizeLimit), quantity(values.shm.sizeLimit), "/dev/shm sizeLimit");
    eq(mount(c, "dshm") && mount(c, "dshm").mountPath, "/dev/shm", "/dev/shm mounted");
    if (x.shm) eq(shm && shm.emptyDir.sizeLimit, x.shm, "/dev/shm sizeLimit (literal)");
  } else check(!shm, "no /dev/shm volume when disabled");

  const model = vol("model");
  const src = values.model.source;
  if (src === "pvc") {
    check(model && model.persistentVolumeClaim, "model from a PersistentVolumeClaim");
    eq(model && model.persistentVolumeClaim.claimName, values.model.pvc.claimName, "model claimName");
    eq(model && model.persistentVolumeClaim.readOnly, true, "model claim read-only");
    eq(mount(c, "model") && mount(c, "model").readOnly, true, "model mounted read-only");
    check(cfg.DLLM_MODEL.startsWith(values.model.mountPath + "/"), "DLLM_MODEL lies on the model mount");
  } else if (src === "initContainer") {
    const ic = (ps.initContainers || []).find((k) => k.name === "model-fetch");
    check(ic !== undefined, "model init container");
    if (x.initContainer) eq(ic && ic.name, x.initContainer, "init container (literal)");
    check(model && model.emptyDir, "init container writes into an emptyDir");
    eq(ic && envOf(ic).DLLM_MODEL_DIR && envOf(ic).DLLM_MODEL_DIR.value, cfg.DLLM_MODEL, "init container fills DLLM_MODEL");
    check(ic && mount(ic, "model") && !mount(ic, "model").readOnly, "init container mounts the model read-write");
    eq(mount(c, "model") && mount(c, "model").readOnly, true, "worker mounts the model read-only");
  } else {
    check(!model, "bundled model: no model volume");
    eq(cfg.DLLM_MODEL, `${values.model.bundled.prefix}/share/dllm/models/${values.model.bundled.name}`, "bundled model path");
  }

  // --- Kafka: security, static membership, secrets ------------------------------------
  const k = values.kafka;
  const props = kafkaProps(c);
  const protocol = k.sasl.enabled ? (k.tls.enabled ? "SASL_SSL" : "SASL_PLAINTEXT") : k.tls.enabled ? "SSL" : "PLAINTEXT";
  eq(props["security.protocol"], protocol, "security.protocol");
  if (x.protocol) eq(props["security.protocol"], x.protocol, "security.protocol (literal)");
  for (const [key, val] of Object.entries(k.properties)) eq(props[key], String(val), `kafka property ${key}`);
  if (k.existingConfigMap) {
    const b = env.DLLM_BOOTSTRAP;
    eq(b && b.valueFrom && b.valueFrom.configMapKeyRef, { name: k.existingConfigMap, key: k.bootstrapServersKey },
      "DLLM_BOOTSTRAP from the existing ConfigMap");
    check(!("DLLM_BOOTSTRAP" in cfg), "no bootstrap servers in the chart's ConfigMap");
  } else eq(cfg.DLLM_BOOTSTRAP, k.bootstrapServers, "DLLM_BOOTSTRAP");
  eq(cfg.DLLM_GROUP, k.consumerGroup, "DLLM_GROUP");
  eq(cfg.DLLM_REQUESTS_TOPIC, k.requestsTopic, "DLLM_REQUESTS_TOPIC");
  eq(cfg.DLLM_REPLIES_TOPIC, k.repliesTopic, "DLLM_REPLIES_TOPIC");
  eq(cfg.DLLM_DLQ_TOPIC, k.dlqTopic, "DLLM_DLQ_TOPIC");

  const podName = (e) => e && e.valueFrom && e.valueFrom.fieldRef && e.valueFrom.fieldRef.fieldPath === "metadata.name";
  const inst = env.DLLM_GROUP_INSTANCE_ID;
  if (k.staticMembership.enabled) {
    const fromPodName = podName(inst) || (inst && inst.value === `${k.staticMembership.instanceIdPrefix}$(POD_NAME)` && podName(env.POD_NAME));
    check(fromPodName, "DLLM_GROUP_INSTANCE_ID comes from the pod name");
    if (!k.staticMembership.instanceIdPrefix) check(podName(inst), "instance id = pod name (fieldRef metadata.name)");
    eq(props["session.timeout.ms"], String(k.staticMembership.sessionTimeoutMs), "session.timeout.ms for static members");
    const svc = (byKind.Service || []).find((s) => s.metadata.name === w.spec.serviceName);
    check(svc && svc.spec.clusterIP === "None", "StatefulSet serviceName is a headless Service");
  } else check(!inst, "no group.instance.id without static membership");
  if (x.instanceIdFromPodName) check(podName(inst), "instance id from the pod name (literal)");

  const secretRefs = [];
  const walkRefs = (o) => {
    if (!o || typeof o !== "object") return;
    if (o.secretKeyRef) secretRefs.push(o.secretKeyRef);
    Object.values(o).forEach(walkRefs);
  };
  walkRefs(c.env);
  const secretNames = [...new Set(secretRefs.map((r) => r.name))].sort();
  const secrets = byKind.Secret || [];
  eq(secrets.length > 0, x.secret, "chart-created Secret rendered only for credentials given as values");
  if (k.sasl.enabled) {
    eq(props["sasl.mechanism"], k.sasl.mechanism, "sasl.mechanism");
    eq(props["sasl.username"], "$(KAFKA_SASL_USERNAME)", "sasl.username from a Secret");
    eq(props["sasl.password"], "$(KAFKA_SASL_PASSWORD)", "sasl.password from a Secret");
    const u = env.KAFKA_SASL_USERNAME && env.KAFKA_SASL_USERNAME.valueFrom.secretKeyRef;
    const p = env.KAFKA_SASL_PASSWORD && env.KAFKA_SASL_PASSWORD.valueFrom.secretKeyRef;
    if (k.sasl.existingSecret) {
      eq(u, { name: k.sasl.existingSecret, key: k.sasl.usernameKey }, "SASL username from the existing Secret");
      eq(p, { name: k.sasl.existingSecret, key: k.sasl.passwordKey }, "SASL password from the existing Secret");
    }
  } else check(!("sasl.username" in props), "no SASL without sasl.enabled");
  if (k.tls.enabled && k.tls.existingSecret) {
    eq(props["ssl.ca.location"], `/etc/dllm/kafka-tls/${k.tls.caKey}`, "ssl.ca.location");
    const tv = vol("kafka-tls");
    const names = tv && tv.projected ? tv.projected.sources.map((s) => s.secret.name) : [];
    check(names.includes(k.tls.existingSecret), "CA Secret mounted");
    if (k.tls.clientCertificate) {
      eq(props["ssl.certificate.location"], `/etc/dllm/kafka-tls/${k.tls.certKey}`, "ssl.certificate.location");
      eq(props["ssl.key.location"], `/etc/dllm/kafka-tls/${k.tls.keyKey}`, "ssl.key.location");
      check(names.includes(k.tls.clientSecret || k.tls.existingSecret), "client certificate Secret mounted");
    }
    check(mount(c, "kafka-tls") && mount(c, "kafka-tls").readOnly, "TLS material mounted read-only");
  }
  // every referenced Secret exists: either the chart's own or one named in the values
  const named = new Set([k.sasl.existingSecret, values.redis.existingSecret].filter(Boolean));
  for (const r of secretRefs) {
    const own = secrets.find((s) => s.metadata.name === r.name);
    check(own ? r.key in (own.data || {}) : named.has(r.name), `secretKeyRef ${r.name}/${r.key} resolves`);
  }
  if (x.secretRefs) eq(secretNames, x.secretRefs, "Secrets referenced by name (literal)");

  // --- Redis --------------------------------------------------------------------------
  const r = values.redis;
  const redisEnv = env.DLLM_REDIS;
  if (r.enabled) {
    check(redisEnv !== undefined, "DLLM_REDIS set");
    if (r.existingSecret && r.urlKey) {
      eq(redisEnv.valueFrom && redisEnv.valueFrom.secretKeyRef, { name: r.existingSecret, key: r.urlKey }, "Redis URL from a Secret");
      if (x.redisUrlSecret) eq(redisEnv.valueFrom.secretKeyRef.name, x.redisUrlSecret, "Redis URL Secret (literal)");
    } else {
      check(/^redis:\/\/(:\$\(REDIS_PASSWORD\)@)?\$\(REDIS_HOST\):\$\(REDIS_PORT\)\/\d+$/.test(redisEnv.value || ""), `DLLM_REDIS form: ${redisEnv.value}`);
      check((redisEnv.value || "").endsWith(`/${r.db}`), "Redis db");
      if (r.existingConfigMap) {
        eq(env.REDIS_HOST.valueFrom.configMapKeyRef, { name: r.existingConfigMap, key: r.hostKey }, "Redis host from the ConfigMap");
      } else eq(env.REDIS_HOST && env.REDIS_HOST.value, r.host, "Redis host");
      const wantsPassword = Boolean((r.existingSecret && r.passwordKey) || (!r.existingSecret && r.password));
      eq((redisEnv.value || "").includes("$(REDIS_PASSWORD)"), wantsPassword, "Redis password in the URL iff configured");
      if (r.existingSecret && r.passwordKey) {
        eq(env.REDIS_PASSWORD.valueFrom.secretKeyRef, { name: r.existingSecret, key: r.passwordKey }, "Redis password from the existing Secret");
      }
    }
  } else check(redisEnv === undefined, "no DLLM_REDIS when Redis is off");

  // --- Service, monitors --------------------------------------------------------------
  const svc = (byKind.Service || [])[0];
  check(svc && svc.spec.clusterIP === "None" && svc.spec.publishNotReadyAddresses === true, "headless Service publishing unready pods");
  check(svc && isSubset(svc.spec.selector, pod.metadata.labels), "Service selects the worker pods");
  check(svc && svc.spec.ports.some((p) => p.name === "http" && p.port === values.worker.httpPort), "Service port http");
  const sm = one("ServiceMonitor");
  eq(Boolean(sm), values.metrics.serviceMonitor.enabled, "ServiceMonitor iff enabled");
  if (x.serviceMonitor !== undefined) eq(Boolean(sm), x.serviceMonitor, "ServiceMonitor (literal)");
  if (sm) {
    const ep = sm.spec.endpoints[0];
    check(ep.port === "http" && ep.path === "/metrics", "ServiceMonitor scrapes http /metrics");
    check(isSubset(sm.spec.selector.matchLabels, svc.metadata.labels), "ServiceMonitor selects the Service");
    check(isSubset(values.metrics.serviceMonitor.labels, sm.metadata.labels), "ServiceMonitor carries the extra labels");
  }
  const pm = one("PodMonitor");
  eq(Boolean(pm), values.metrics.podMonitor.enabled, "PodMonitor iff enabled");
  if (x.podMonitor !== undefined) eq(Boolean(pm), x.podMonitor, "PodMonitor (literal)");
  if (pm) {
    const ep = pm.spec.podMetricsEndpoints[0];
    check(ep.port === "http" && ep.path === "/metrics", "PodMonitor scrapes http /metrics");
    check(isSubset(pm.spec.selector.matchLabels, pod.metadata.labels), "PodMonitor selects the worker pods");
  }

  // --- PDB ----------------------------------------------------------------------------
  const pdb = one("PodDisruptionBudget");
  eq(Boolean(pdb), values.podDisruptionBudget.enabled, "PDB iff enabled");
  eq(Boolean(pdb), x.pdb, "PDB (literal)");
  if (pdb) {
    check(isSubset(pdb.spec.selector.matchLabels, pod.metadata.labels), "PDB selects the worker pods");
    check(("minAvailable" in pdb.spec) !== ("maxUnavailable" in pdb.spec), "PDB sets exactly one of minAvailable / maxUnavailable");
    if (x.minAvailable !== undefined) eq(pdb.spec.minAvailable, x.minAvailable, "PDB minAvailable (literal)");
  }

  // --- autoscaling --------------------------------------------------------------------
  const so = one("ScaledObject");
  const hpa = one("HorizontalPodAutoscaler");
  const as = values.autoscaling;
  eq(Boolean(so), as.keda.enabled, "ScaledObject iff KEDA enabled");
  eq(Boolean(so), x.keda, "ScaledObject (literal)");
  eq(Boolean(hpa), as.hpa.enabled, "HPA iff hpa enabled");
  eq(Boolean(hpa), x.hpa, "HPA (literal)");
  check(!(so && hpa), "never both a ScaledObject and an HPA");
  for (const s of [so, hpa].filter(Boolean)) {
    eq(s.spec.scaleTargetRef.kind, w.kind, `${s.kind} targets the workload kind`);
    eq(s.spec.scaleTargetRef.name, w.metadata.name, `${s.kind} targets the workload`);
  }
  if (so) {
    const sp = so.spec;
    check(sp.minReplicaCount >= 1, "KEDA minReplicaCount >= 1");
    check(sp.maxReplicaCount <= k.requestsTopicPartitions, "KEDA maxReplicaCount <= partitions");
    eq([sp.minReplicaCount, sp.maxReplicaCount], [as.minReplicas, as.maxReplicas], "KEDA min/max replicas");
    eq(sp.cooldownPeriod, as.keda.cooldownPeriod, "KEDA cooldownPeriod");
    eq(sp.pollingInterval, as.keda.pollingInterval, "KEDA pollingInterval");
    const behavior = sp.advanced && sp.advanced.horizontalPodAutoscalerConfig && sp.advanced.horizontalPodAutoscalerConfig.behavior;
    eq(behavior && behavior.scaleDown.stabilizationWindowSeconds, as.behavior.scaleDown.stabilizationWindowSeconds, "KEDA scale-down stabilisation");
    const kt = sp.triggers.filter((t) => t.type === "kafka");
    eq(kt.length, 1, "one kafka trigger");
    const m = (kt[0] && kt[0].metadata) || {};
    eq(m.topic, k.requestsTopic, "trigger topic = requests topic");
    eq(m.consumerGroup, k.consumerGroup, "trigger consumerGroup = worker group");
    eq(m.consumerGroup, cfg.DLLM_GROUP, "trigger consumerGroup = DLLM_GROUP");
    eq(m.lagThreshold, String(as.keda.lagThreshold), "trigger lagThreshold");
    eq(m.offsetResetPolicy, as.keda.offsetResetPolicy, "trigger offsetResetPolicy");
    if (k.existingConfigMap) {
      eq(m.bootstrapServersFromEnv, "DLLM_BOOTSTRAP", "trigger bootstrapServers from the container env");
      check(!("bootstrapServers" in m), "no literal bootstrapServers with an existing ConfigMap");
    } else eq(m.bootstrapServers, k.bootstrapServers, "trigger bootstrapServers");
    if (x.bootstrapFromEnv) eq(m.bootstrapServersFromEnv, "DLLM_BOOTSTRAP", "bootstrapServersFromEnv (literal)");
    const kedaSasl = { PLAIN: "plaintext", "SCRAM-SHA-256": "scram_sha256", "SCRAM-SHA-512": "scram_sha512" };
    eq(m.sasl, k.sasl.enabled ? kedaSasl[k.sasl.mechanism] : undefined, "trigger sasl");
    eq(m.tls, k.tls.enabled ? "enable" : undefined, "trigger tls");
    const ta = one("TriggerAuthentication");
    const needsAuth = k.sasl.enabled || (k.tls.enabled && Boolean(k.tls.existingSecret));
    eq(Boolean(ta), needsAuth, "TriggerAuthentication iff credentials");
    if (x.triggerAuth !== undefined) eq(Boolean(ta), x.triggerAuth, "TriggerAuthentication (literal)");
    if (ta) {
      eq(kt[0].authenticationRef && kt[0].authenticationRef.name, ta.metadata.name, "trigger uses the TriggerAuthentication");
      const refs = Object.fromEntries(ta.spec.secretTargetRef.map((t) => [t.parameter, { name: t.name, key: t.key }]));
      if (k.sasl.enabled) {
        eq(refs.username, env.KAFKA_SASL_USERNAME.valueFrom.secretKeyRef, "KEDA and the worker use the same SASL username");
        eq(refs.password, env.KAFKA_SASL_PASSWORD.valueFrom.secretKeyRef, "KEDA and the worker use the same SASL password");
      }
      if (k.tls.enabled && k.tls.existingSecret) eq(refs.ca, { name: k.tls.existingSecret, key: k.tls.caKey }, "KEDA CA");
    }
  }
  if (hpa) {
    eq([hpa.spec.minReplicas, hpa.spec.maxReplicas], [as.minReplicas, as.maxReplicas], "HPA min/max replicas");
    check(hpa.spec.minReplicas >= 1 && hpa.spec.maxReplicas <= k.requestsTopicPartitions, "HPA bounds within 1..partitions");
    const pm2 = hpa.spec.metrics.find((mm) => mm.type === "Pods");
    if (!as.hpa.metrics.length) {
      eq(pm2 && pm2.pods.metric.name, as.hpa.metricName, "HPA pod metric");
      eq(pm2 && pm2.pods.target.averageValue, String(as.hpa.targetAverageValue), "HPA target average value");
    }
    eq(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds, as.behavior.scaleDown.stabilizationWindowSeconds, "HPA scale-down stabilisation");
  }

  // --- NetworkPolicy ------------------------------------------------------------------
  const np = one("NetworkPolicy");
  eq(Boolean(np), values.networkPolicy.enabled, "NetworkPolicy iff enabled");
  eq(Boolean(np), x.netpol, "NetworkPolicy (literal)");
  if (np) {
    const n = values.networkPolicy;
    check(isSubset(np.spec.podSelector.matchLabels, pod.metadata.labels), "NetworkPolicy selects the worker pods");
    eq([...np.spec.policyTypes].sort(), ["Egress", "Ingress"], "NetworkPolicy restricts ingress and egress");
    const egress = np.spec.egress || [];
    const allowed = (port, proto) => egress.some((e) => (e.ports || []).some((p) => p.port === port && (p.protocol || "TCP") === proto));
    for (const p of n.kafka.ports) check(allowed(p, "TCP"), `egress to Kafka port ${p}`);
    if (values.redis.enabled) for (const p of n.redis.ports) check(allowed(p, "TCP"), `egress to Redis port ${p}`);
    else check(!n.redis.ports.some((p) => allowed(p, "TCP") && !n.kafka.ports.includes(p)), "no Redis egress when Redis is off");
    if (n.dns.enabled) check(allowed(53, "UDP") && allowed(53, "TCP"), "egress to DNS");
    const kafkaRule = egress.find((e) => (e.ports || []).some((p) => p.port === n.kafka.ports[0]));
    eq((kafkaRule && kafkaRule.to) || [], n.kafka.to, "Kafka egress peers");
    check(egress.every((e) => (e.ports || []).length > 0), "every egress rule names its ports");
    const ing = np.spec.ingress || [];
    check(ing.length === 1 && ing[0].ports.some((p) => p.port === "http" || p.port === values.worker.httpPort), "ingress only to the http port");
    eq(ing[0].from || [], n.ingressFrom, "ingress sources");
  }
}

// ---------------------------------------------------------------------------------------
// the dashboard: valid JSON, every panel queries known metrics, every metric is in the
// runbook's metric table (so the operator can look up what a panel means), and the HPA's
// default metric is one of them

function checkDashboard(file, runbook) {
  where = path.basename(file);
  let dash = null;
  try {
    dash = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    check(false, `dashboard parses as JSON: ${e.message}`);
    return;
  }
  const panels = [];
  const collect = (ps) => (ps || []).forEach((p) => { panels.push(p); collect(p.panels); });
  collect(dash.panels);
  const queryPanels = panels.filter((p) => p.type !== "row" && p.type !== "text");
  check(queryPanels.length >= 10, `dashboard has panels (${queryPanels.length})`);
  check(typeof dash.uid === "string" && dash.uid.length > 0 && typeof dash.title === "string", "dashboard uid and title");
  const documented = new Set([...fs.readFileSync(runbook, "utf8").matchAll(/`((?:dllm|kube)_[a-z0-9_]+|DCGM_FI_[A-Z0-9_]+)`/g)].map((m) => m[1]));
  check(documented.size >= 10, `runbook documents the metrics (${documented.size})`);
  check(documented.has(chartValues.autoscaling.hpa.metricName), `the HPA metric ${chartValues.autoscaling.hpa.metricName} is documented`);
  const ids = new Set();
  for (const p of queryPanels) {
    check(!ids.has(p.id), `panel id ${p.id} unique`);
    ids.add(p.id);
    const targets = p.targets || [];
    check(targets.length > 0, `panel "${p.title}" has queries`);
    for (const t of targets) {
      // the worker's own metrics, plus kube-state-metrics and the DCGM exporter
      const metrics = [...String(t.expr || "").matchAll(/\b(dllm_[a-z0-9_]+|kube_[a-z0-9_]+|DCGM_FI_[A-Z0-9_]+)/g)]
        .map((m) => m[1].replace(/_(bucket|sum|count)$/, ""));
      check(metrics.length > 0, `panel "${p.title}" queries a known metric: ${t.expr}`);
      for (const name of metrics) check(documented.has(name), `panel "${p.title}": ${name} is in the runbook's metric table`);
      check((String(t.expr).match(/\(/g) || []).length === (String(t.expr).match(/\)/g) || []).length, `panel "${p.title}": balanced parentheses`);
    }
  }
}

// ---------------------------------------------------------------------------------------
// the chart's README documents every value: each leaf of values.yaml has a row (its own
// or its parent's, for free-form maps), and every row names a value that exists

function checkReadme(chart, values) {
  where = "README.md";
  const text = fs.readFileSync(path.join(chart, "README.md"), "utf8");
  const rows = new Set([...text.matchAll(/^\| `([A-Za-z0-9_.]+)` \|/gm)].map((m) => m[1]));
  const paths = [];
  const walk = (o, pre) => {
    for (const [k, v] of Object.entries(o)) {
      const p = pre ? `${pre}.${k}` : k;
      paths.push(p);
      if (v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length) walk(v, p);
    }
  };
  walk(values, "");
  const leaves = paths.filter((p) => !paths.some((q) => q.startsWith(`${p}.`)));
  for (const leaf of leaves) {
    const parts = leaf.split(".");
    const covered = parts.some((_, i) => rows.has(parts.slice(0, i + 1).join(".")));
    check(covered, `value ${leaf} is documented`);
  }
  for (const r of rows) check(paths.includes(r), `documented value ${r} exists in values.yaml`);
  // the default column of a scalar value is the value itself
  const get = (p) => p.split(".").reduce((o, k) => (o === undefined || o === null ? undefined : o[k]), values);
  for (const m of text.matchAll(/^\| `([A-Za-z0-9_.]+)` \| `([^`]*)` \|/gm)) {
    const v = get(m[1]);
    if (v === null || typeof v === "object") continue;
    const shown = v === "" ? '""' : String(v);
    check(m[2] === shown || m[2] === `"${v}"`, `README default of ${m[1]} is ${JSON.stringify(shown)} (shows ${m[2]})`);
  }
}

// ---------------------------------------------------------------------------------------

const chartValues = YAML.parse(fs.readFileSync(path.join(args.chart, "values.yaml"), "utf8"));

// the field checker itself must be able to fail: a misspelt field is reported
{
  where = "self-test";
  const probe = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "x" },
    spec: { selector: {}, template: { spec: { containers: [{ name: "a", readinessprobe: {} }], topologySpreadConstraint: [] } } } };
  const u = unknownFields(probe, declarationFile("apps/v1", "Deployment"), nodeModules);
  eq(u.sort(), ["spec.template.spec.containers[0].readinessprobe", "spec.template.spec.topologySpreadConstraint"], "unknown-field detector");
}

const cases = fs.readdirSync(args.rendered).filter((f) => f.endsWith(".yaml")).sort();
check(cases.length > 0, "rendered cases present");
for (const file of cases) {
  const name = file.replace(/\.yaml$/, "").replace(/-values$/, "");
  where = name;
  const ciFile = path.join(args.chart, "ci", file);
  const values = mergeValues(chartValues, YAML.parse(fs.readFileSync(ciFile, "utf8")) || {});
  const docs = YAML.parseAllDocuments(fs.readFileSync(path.join(args.rendered, file), "utf8"))
    .map((d) => d.toJS())
    .filter((d) => d && typeof d === "object");
  await checkCase(name, docs, values);
}
for (const name of Object.keys(EXPECT)) {
  where = name;
  check(cases.includes(`${name}-values.yaml`), `case ${name} was rendered`);
}
checkReadme(args.chart, chartValues);
if (args.dashboard) checkDashboard(args.dashboard, args.runbook);

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
