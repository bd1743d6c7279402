// deploy/ (Kubernetes, KServe) and the Dockerfile against independent references: the
// Kubernetes OpenAPI schemas (kubernetes-models), KServe's CRD schemas (test/fixtures/kserve,
// Ajv), and the server itself: its CLI options, drain deadline, routes, metrics and the files
// it reads at run time. Most checks carry a broken copy of the manifest that must fail.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import Ajv, { SchemaValidateFunction, ValidateFunction } from 'ajv';
import { Command } from 'commander';
import { Registry } from 'prom-client';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Affinity } from 'kubernetes-models/v1/Affinity';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Container } from 'kubernetes-models/v1/Container';
import { EnvVar } from 'kubernetes-models/v1/EnvVar';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Service } from 'kubernetes-models/v1/Service';
import { Volume } from 'kubernetes-models/v1/Volume';
import { addServeOptions, resolveServeSettings, ServeSettings } from '../../src/cli/serve-command';
import { PACKAGE_MODELS } from '../../src/cli/repository-option';
import { createMetrics } from '../../src/monitoring/metrics';
import { NODE_GYP_ADDON } from '../../src/native/binding';
import { GRPC_PROTO } from '../../src/server/grpc-server';
import { ROOT, Running, startServer } from '../helpers/server';
import yaml from 'js-yaml';


type Obj = Record<string, any>;
type Model = new (data: any) => { validate(): void };

const DEPLOY = path.join(ROOT, 'deploy');
const KSERVE_FIXTURES = path.join(ROOT, 'test/fixtures/kserve');

/**
 * Every document of every YAML file under deploy/, but deploy/prometheus: those are
 * Prometheus' own files (config, rules), checked by promtool in prometheus-replicas.test.ts.
 */
function loadManifests(): { file: string; doc: Obj }[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (p !== path.join(DEPLOY, 'prometheus')) walk(p);
      }
      else if (/\.ya?ml$/.test(e.name)) files.push(p);
    }
  };
  walk(DEPLOY);
  return files.sort().flatMap((f) => yaml.loadAll(fs.readFileSync(f, 'utf8')).filter((d) => d != null).map((doc) => ({ file: path.relative(ROOT, f), doc: doc as Obj })));
}

const manifests = loadManifests();
const kindOf = (d: Obj) => `${d.apiVersion} ${d.kind}`;

/** The one manifest of a kind (a copy, so that tests may break it). */
function one(kind: string): Obj {
  const found = manifests.filter((m) => kindOf(m.doc) === kind);
  assert.equal(found.length, 1, `expected one ${kind} under deploy/, found ${found.length}`);
  return structuredClone(found[0].doc);
}

const BUILT_IN: Record<string, Model> = {
  'apps/v1 Deployment': Deployment,
  'v1 Service': Service,
  'v1 ConfigMap': ConfigMap,
  'v1 PersistentVolumeClaim': PersistentVolumeClaim,
  'policy/v1 PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2 HorizontalPodAutoscaler': HorizontalPodAutoscaler,
};
const KSERVE: Record<string, { crd: string; version: string }> = {
  'serving.kserve.io/v1alpha1 ServingRuntime': { crd: 'serving.kserve.io_servingruntimes.excerpt.yaml', version: 'v1alpha1' },
  'serving.kserve.io/v1beta1 InferenceService': { crd: 'serving.kserve.io_inferenceservices.excerpt.yaml', version: 'v1beta1' },
};
const KUSTOMIZATION = 'kustomize.config.k8s.io/v1beta1 Kustomization';

/** The core/v1 types whose generated copies the KServe excerpts replaced (see SOURCE.md). */
const CORE_TYPES: Record<string, Model> = { Affinity, Container, EnvVar, Volume };

/** Kubernetes prunes (with --validate=strict: rejects) fields a structural schema does not declare; here they are errors. */
function rejectUnknownFields(s: any): any {
  if (Array.isArray(s)) return s.map(rejectUnknownFields);
  if (s === null || typeof s !== 'object') return s;
  const out: Obj = {};
  for (const [k, v] of Object.entries(s)) {
    out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as Obj).map(([p, sub]) => [p, rejectUnknownFields(sub)])) : rejectUnknownFields(v);
  }
  if (s.properties && s.additionalProperties === undefined && !s['x-kubernetes-preserve-unknown-fields']) out.additionalProperties = false;
  return out;
}

/** Ajv validator of one version of a KServe CRD excerpt. */
function kserveValidator(crdFile: string, version: string): ValidateFunction {
  const crd = yaml.load(fs.readFileSync(path.join(KSERVE_FIXTURES, crdFile), 'utf8')) as Obj;
  const v = crd.spec.versions.find((x: Obj) => x.name === version);
  assert.ok(v, `${crdFile} has no version ${version}`);
  // strictTypes off: Kubernetes' int-or-string schemas put `pattern` beside `anyOf` with no `type`.
  const ajv = new Ajv({ allErrors: true, strictTypes: false });
  ajv.addVocabulary(['x-kubernetes-preserve-unknown-fields', 'x-kubernetes-int-or-string', 'x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-map-type']);
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
  const coreType: SchemaValidateFunction = (kind: string, data: unknown) => {
    const model = CORE_TYPES[kind];
    if (!model) throw new Error(`x-infera-k8s-type: no kubernetes-models type ${kind}`);
    try {
      new model(data).validate();
      return true;
    } catch (e) {
      coreType.errors = [{ keyword: 'x-infera-k8s-type', message: `${kind}: ${(e as Error).message}`, params: { kind } }];
      return false;
    }
  };
  ajv.addKeyword({ keyword: 'x-infera-k8s-type', schemaType: 'string', errors: true, validate: coreType });
  return ajv.compile(rejectUnknownFields(v.schema.openAPIV3Schema));
}

const kserveValidators = new Map<string, ValidateFunction>();
function kserveErrors(doc: Obj): string | null {
  const k = kindOf(doc);
  if (!kserveValidators.has(k)) kserveValidators.set(k, kserveValidator(KSERVE[k].crd, KSERVE[k].version));
  const validate = kserveValidators.get(k)!;
  return validate(doc) ? null : JSON.stringify(validate.errors);
}

function builtInError(doc: Obj): string | null {
  try {
    new BUILT_IN[kindOf(doc)](doc).validate();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** A Kubernetes CPU quantity ("2", "1500m") in cores. */
function cpuCores(q: string | number): number {
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(String(q));
  assert.ok(m, `unsupported CPU quantity '${q}'`);
  return Number(m[1]) / (m[2] ? 1000 : 1);
}

/** The environment the kubelet gives a container: literal values and resourceFieldRefs (the downward API rounds up); Secret values are left out. */
function containerEnv(c: Obj): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = String(e.value);
    const ref = e.valueFrom?.resourceFieldRef;
    if (ref) {
      assert.equal(ref.containerName, c.name, `env ${e.name}: resourceFieldRef names container '${ref.containerName}', not its own '${c.name}'`);
      assert.equal(ref.resource, 'limits.cpu', `env ${e.name}: only limits.cpu is emulated here`);
      env[e.name] = String(Math.ceil(cpuCores(c.resources.limits.cpu) / cpuCores(ref.divisor ?? '1')));
    }
  }
  return env;
}

/** What `infera serve` makes of a container's argv and environment: the CLI's own option parsing. */
function serveSettings(c: Obj): ServeSettings {
  const argv: string[] = [...(c.command ?? []), ...(c.args ?? [])];
  assert.deepEqual(argv.slice(0, 3), ['node', 'dist/src/cli/main.js', 'serve'], `container ${c.name} does not run infera serve`);
  assert.ok(fs.existsSync(path.join(ROOT, argv[1])), `${argv[1]} is not built`);
  const env = containerEnv(c);
  const saved = Object.fromEntries(Object.keys(process.env).filter((k) => k.startsWith('INFERA_')).map((k) => [k, process.env[k]]));
  for (const k of Object.keys(saved)) delete process.env[k];
  Object.assign(process.env, env);
  try {
    const cmd = addServeOptions(new Command('serve')).exitOverride();
    cmd.parse(argv.slice(3), { from: 'user' });
    return resolveServeSettings(cmd);
  } finally {
    for (const k of Object.keys(env)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

const podSpec = (d: Obj) => d.spec.template.spec;
const serverContainer = (d: Obj) => {
  const cs = podSpec(d).containers;
  assert.equal(cs.length, 1, 'expected one container in the Deployment');
  return cs[0];
};
/** A probe's or Service's port (number or port name) as the container's port number. */
function containerPort(c: Obj, port: number | string): number {
  if (typeof port === 'number') return port;
  const p = (c.ports ?? []).find((x: Obj) => x.name === port);
  assert.ok(p, `container ${c.name} has no port named '${port}'`);
  return p.containerPort;
}
const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** The Dockerfile's instructions (continuation lines joined), from its last FROM on. */
function runtimeStage(): { op: string; arg: string }[] {
  const lines = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ').split('\n');
  const ins = lines.map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map((l) => ({ op: l.split(/\s+/)[0].toUpperCase(), arg: l.slice(l.split(/\s+/)[0].length).trim() }));
  const from = ins.map((i) => i.op).lastIndexOf('FROM');
  assert.ok(from >= 0, 'Dockerfile has no FROM');
  return ins.slice(from);
}
const instruction = (stage: { op: string; arg: string }[], op: string) => stage.filter((i) => i.op === op).map((i) => i.arg);

let srv: Running;
let emptyRepository: string;

before(async () => {
  // The routes do not depend on the models: an empty repository is ready at once.
  emptyRepository = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-deploy-'));
  srv = await startServer({ repository: emptyRepository, workers: 1 });
});

after(async () => {
  await srv?.server.stop();
  fs.rmSync(emptyRepository, { recursive: true, force: true });
});

/** The status the live server answers GET `p` with. */
async function statusOf(p: string): Promise<number> {
  const res = await fetch(`${srv.url}${p}`);
  await res.arrayBuffer();
  return res.status;
}

test('every YAML document under deploy/ is a kind this test validates', () => {
  assert.ok(manifests.length >= 9, `only ${manifests.length} documents found under deploy/`);
  for (const { file, doc } of manifests) {
    const k = kindOf(doc);
    assert.ok(k in BUILT_IN || k in KSERVE || k === KUSTOMIZATION, `${file}: no validation for ${k}`);
  }
});

test('the built-in kinds validate against the Kubernetes OpenAPI schemas (kubernetes-models)', () => {
  for (const { file, doc } of manifests.filter((m) => kindOf(m.doc) in BUILT_IN)) {
    assert.equal(builtInError(doc), null, `${file}: ${kindOf(doc)} ${doc.metadata?.name}`);
  }
  // Broken copies must fail: a port name where a number belongs, a missing required field.
  const d = one('apps/v1 Deployment');
  serverContainer(d).ports[0].containerPort = 'http';
  assert.match(builtInError(d) ?? '', /containerPort must be integer/);
  const h = one('autoscaling/v2 HorizontalPodAutoscaler');
  delete h.spec.scaleTargetRef;
  assert.match(builtInError(h) ?? '', /scaleTargetRef/);
});

test("the KServe resources validate against KServe's CRD schemas, unknown fields rejected", () => {
  for (const { file, doc } of manifests.filter((m) => kindOf(m.doc) in KSERVE)) {
    assert.equal(kserveErrors(doc), null, `${file}: ${kindOf(doc)} ${doc.metadata?.name}`);
  }
  // Broken copies must fail: a misspelt field, a value under KServe's minimum, a bad value
  // inside a container (checked by kubernetes-models), a missing predictor.
  const misspelt = one('serving.kserve.io/v1alpha1 ServingRuntime');
  misspelt.spec.protocolVersion = misspelt.spec.protocolVersions;
  assert.match(kserveErrors(misspelt) ?? '', /additionalProperty.*protocolVersion"/);
  const priority = one('serving.kserve.io/v1alpha1 ServingRuntime');
  priority.spec.supportedModelFormats[0].priority = 0;
  assert.match(kserveErrors(priority) ?? '', /must be >= 1/);
  const port = one('serving.kserve.io/v1alpha1 ServingRuntime');
  port.spec.containers[0].ports[0].containerPort = 'http';
  assert.match(kserveErrors(port) ?? '', /Container: .*containerPort must be integer/);
  const noPredictor = one('serving.kserve.io/v1beta1 InferenceService');
  delete noPredictor.spec.predictor;
  assert.match(kserveErrors(noPredictor) ?? '', /must have required property 'predictor'/);
  const typo = one('serving.kserve.io/v1beta1 InferenceService');
  typo.spec.predictor.model.storageURI = typo.spec.predictor.model.storageUri;
  assert.match(kserveErrors(typo) ?? '', /storageURI/);
});

test('kustomization.yaml lists every manifest of deploy/k8s but the Prometheus Adapter rules', () => {
  const k = one(KUSTOMIZATION);
  const dir = path.join(DEPLOY, 'k8s');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml' && f !== 'prometheus-adapter-rules.yaml');
  assert.deepEqual([...k.resources].sort(), files.sort());
});

test('the Service, the PodDisruptionBudget and the HPA reach the Deployment and its pods', () => {
  const d = one('apps/v1 Deployment');
  const labels = d.spec.template.metadata.labels;
  const c = serverContainer(d);
  assert.ok(matches(d.spec.selector.matchLabels, labels), 'the Deployment selector does not match its own pod template');

  const svc = one('v1 Service');
  assert.ok(matches(svc.spec.selector, labels), 'the Service selects no pod of the Deployment');
  const declared = new Set(c.ports.map((p: Obj) => p.containerPort));
  for (const p of svc.spec.ports) assert.ok(declared.has(containerPort(c, p.targetPort)), `Service port ${p.name}: target ${p.targetPort} is no container port`);
  assert.deepEqual(svc.spec.ports.map((p: Obj) => containerPort(c, p.targetPort)).sort(), [...declared].sort(), 'the Service does not expose every container port');

  const pdb = one('policy/v1 PodDisruptionBudget');
  assert.ok(matches(pdb.spec.selector.matchLabels, labels), 'the PodDisruptionBudget selects no pod of the Deployment');

  const hpa = one('autoscaling/v2 HorizontalPodAutoscaler');
  assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: d.apiVersion, kind: d.kind, name: d.metadata.name });
  assert.equal(d.spec.replicas, undefined, 'the HPA owns the replica count; a fixed one resets it on every apply');
  assert.ok(hpa.spec.minReplicas - pdb.spec.maxUnavailable >= 1, 'at minReplicas the PodDisruptionBudget lets every pod go');

  // Broken: a selector with a label the pods do not have.
  assert.ok(!matches({ ...svc.spec.selector, 'app.kubernetes.io/component': 'other' }, labels));
});

test('the container runs `infera serve` with ports, repository, registry and workers that fit the manifest', () => {
  const d = one('apps/v1 Deployment');
  const c = serverContainer(d);
  const { options, sources } = serveSettings(c);
  assert.equal(options.host, '0.0.0.0', 'the kubelet and the Service reach the pod IP, not loopback');
  assert.equal(options.port, containerPort(c, 'http'));
  assert.equal(options.grpcPort, containerPort(c, 'grpc'));
  for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) assert.equal(containerPort(c, c[probe].httpGet.port), options.port, `${probe} asks another port than --port`);

  const volumes = new Map(podSpec(d).volumes.map((v: Obj) => [v.name, v]));
  const mountAt = (p: string) => c.volumeMounts.find((m: Obj) => p === m.mountPath || p.startsWith(`${m.mountPath}/`));
  const repo = mountAt(options.repository);
  assert.ok(repo, `the repository ${options.repository} is on no volume`);
  assert.equal(repo.readOnly, true, 'the model repository is mounted writable');
  const pvc = one('v1 PersistentVolumeClaim');
  assert.equal((volumes.get(repo.name) as Obj).persistentVolumeClaim?.claimName, pvc.metadata.name);

  // Read-only root filesystem: whatever the server writes must land on a writable emptyDir.
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  // The registry, and onnxruntime's /tmp/mat-debug-<pid>.log files.
  for (const written of [options.registryPath!, '/tmp/mat-debug-1.log']) {
    const m = mountAt(written);
    assert.ok(m && !m.readOnly && (volumes.get(m.name) as Obj).emptyDir, `${written} is not on a writable emptyDir`);
  }
  // Set, not defaulted: the default counts the node's CPUs (and on a 2-core test machine would match by chance).
  assert.equal(sources.workers, 'env');
  assert.equal(options.workers, Math.ceil(cpuCores(c.resources.limits.cpu)), 'one inference worker per CPU of the limit');

  // Broken: a port flag that disagrees with the container port.
  const broken = structuredClone(c);
  broken.command[broken.command.indexOf('--port') + 1] = '9090';
  assert.notEqual(serveSettings(broken).options.port, containerPort(c, 'http'));
});

test('the grace period covers the preStop sleep and the drain deadline', () => {
  const d = one('apps/v1 Deployment');
  const c = serverContainer(d);
  const sleep = c.lifecycle.preStop.exec.command;
  assert.equal(sleep[0], 'sleep');
  const preStopS = Number(sleep[1]);
  const drainS = serveSettings(c).options.drainTimeoutMs / 1000;
  const grace = podSpec(d).terminationGracePeriodSeconds;
  assert.ok(preStopS > 0 && drainS > 0);
  assert.ok(grace > preStopS + drainS, `terminationGracePeriodSeconds ${grace} <= preStop ${preStopS} s + drain ${drainS} s`);
});

test('the probes, the scrape path and the Docker HEALTHCHECK ask routes the server answers', async () => {
  const d = one('apps/v1 Deployment');
  const c = serverContainer(d);
  const sr = one('serving.kserve.io/v1alpha1 ServingRuntime').spec.containers[0];
  const health = instruction(runtimeStage(), 'HEALTHCHECK').join(' ');
  const hc = /http:\/\/127\.0\.0\.1:(\d+)(\/[^'"\s)]*)/.exec(health);
  assert.ok(hc, `no readiness URL in the HEALTHCHECK: ${health}`);
  assert.equal(Number(hc[1]), serveSettings(c).options.port, 'the HEALTHCHECK asks another port than --port');
  assert.equal(hc[2], c.readinessProbe.httpGet.path, 'the HEALTHCHECK is not the readiness route');

  assert.equal(c.livenessProbe.httpGet.path, c.startupProbe.httpGet.path);
  const paths = [c.livenessProbe.httpGet.path, c.readinessProbe.httpGet.path, sr.livenessProbe.httpGet.path, sr.readinessProbe.httpGet.path, hc[2]];
  for (const p of paths) assert.equal(await statusOf(p), 200, `GET ${p}`);
  // Readiness and liveness are different routes: only readiness turns 503 while loading or draining.
  assert.notEqual(c.readinessProbe.httpGet.path, c.livenessProbe.httpGet.path);
  // Broken: a path the server does not serve.
  assert.equal(await statusOf(`${c.readinessProbe.httpGet.path}z`), 404);

  const scrape = d.spec.template.metadata.annotations;
  assert.equal(Number(scrape['prometheus.io/port']), serveSettings(c).options.port);
  const kserveScrape = one('serving.kserve.io/v1alpha1 ServingRuntime').spec.annotations;
  assert.equal(Number(kserveScrape['prometheus.kserve.io/port']), serveSettings(sr).options.port);
  assert.equal(kserveScrape['prometheus.kserve.io/path'], scrape['prometheus.io/path']);
  const res = await fetch(`${srv.url}${scrape['prometheus.io/path']}`);
  assert.equal(res.status, 200);
  const metric = one('autoscaling/v2 HorizontalPodAutoscaler').spec.metrics.find((m: Obj) => m.type === 'Pods').pods.metric.name;
  assert.match(await res.text(), new RegExp(`^# TYPE ${metric} gauge$`, 'm'), `GET /metrics does not expose ${metric}`);
});

test("the HPA's custom metric is the one the Prometheus Adapter rule exposes, a gauge of the server", async () => {
  const hpa = one('autoscaling/v2 HorizontalPodAutoscaler');
  const cpu = hpa.spec.metrics.filter((m: Obj) => m.type === 'Resource' && m.resource.name === 'cpu');
  assert.equal(cpu.length, 1, 'the HPA scales on CPU too');
  const pods = hpa.spec.metrics.filter((m: Obj) => m.type === 'Pods');
  assert.equal(pods.length, 1);
  const wanted = pods[0].pods.metric.name;

  const config = yaml.load(one('v1 ConfigMap').data['config.yaml']) as Obj;
  const exposed = config.rules.map((r: Obj) => {
    const series = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(r.seriesQuery)![0];
    const m = new RegExp(r.name.matches).exec(series);
    assert.ok(m, `rule ${r.seriesQuery}: name.matches does not match its own series`);
    const name = r.name.as ? r.name.as.replace(/\$(\d+)/g, (_: string, i: string) => m[Number(i)]) : (m[1] ?? m[0]);
    return { rule: r, series, name };
  });
  const hit = exposed.filter((e: Obj) => e.name === wanted);
  assert.equal(hit.length, 1, `no Prometheus Adapter rule exposes ${wanted} (exposed: ${exposed.map((e: Obj) => e.name).join(', ')})`);
  const { rule, series } = hit[0];
  // A Pods metric needs series labelled with their namespace and pod; the rule sums per pod.
  assert.deepEqual(rule.resources.overrides, { namespace: { resource: 'namespace' }, pod: { resource: 'pod' } });
  assert.match(rule.metricsQuery, /^sum\(<<\.Series>>\{<<\.LabelMatchers>>\}\) by \(<<\.GroupBy>>\)$/);

  // The series is one the server defines, and a gauge: the rule sums raw values, no rate().
  const registry = new Registry();
  createMetrics(registry);
  const defined = (await registry.getMetricsAsJSON()).find((m) => m.name === series);
  assert.ok(defined, `the server defines no metric ${series}`);
  assert.equal(defined.type, 'gauge');
  // Broken: a name the server does not define.
  assert.equal((await registry.getMetricsAsJSON()).find((m) => m.name === `${series}_x`), undefined);
});

test('the Dockerfile runs what the Deployment runs, as its user, with the files the server reads', () => {
  const d = one('apps/v1 Deployment');
  const c = serverContainer(d);
  const stage = runtimeStage();
  assert.equal(stage[0].arg, 'node:20-bookworm-slim');
  const entrypoint = instruction(stage, 'ENTRYPOINT');
  assert.equal(entrypoint.length, 1, 'one ENTRYPOINT in the runtime stage');
  const cmd = instruction(stage, 'CMD');
  const argv = [...JSON.parse(entrypoint[0]), ...(cmd.length ? JSON.parse(cmd[cmd.length - 1]) : [])];
  assert.deepEqual(argv, [...(c.command ?? []), ...(c.args ?? [])]);
  const workdir = instruction(stage, 'WORKDIR').at(-1)!;
  assert.equal(workdir, c.workingDir);
  assert.equal(instruction(stage, 'USER').at(-1), `${podSpec(d).securityContext.runAsUser}:${podSpec(d).securityContext.runAsGroup}`);
  assert.deepEqual(instruction(stage, 'EXPOSE').join(' ').split(/\s+/).map(Number).sort(), c.ports.map((p: Obj) => p.containerPort).sort());

  // The files the server opens by path from its package root are copied into the image.
  const copied = instruction(stage, 'COPY').flatMap((a) => {
    const [dest, ...sources] = a.split(/\s+/).filter((t) => !t.startsWith('--')).reverse();
    const to = path.posix.join(workdir, dest);
    // A destination ending in / is a directory that receives each source by its name.
    return dest.endsWith('/') ? sources.map((src) => path.posix.join(to, path.posix.basename(src))) : [path.posix.normalize(to)];
  });
  const inImage = (f: string) => copied.some((dest) => f === dest || f.startsWith(`${dest}/`));
  const needed = [c.command[1], NODE_GYP_ADDON, GRPC_PROTO, path.join(PACKAGE_MODELS, 'flights-delay/model.json')];
  for (const f of needed) {
    const rel = path.isAbsolute(f) ? path.relative(ROOT, f) : f;
    assert.ok(inImage(path.posix.join(workdir, rel)), `${rel} is not copied into the runtime image`);
  }
  // Broken: a file no COPY covers.
  assert.ok(!inImage(path.posix.join(workdir, 'bench/run.js')));
});

test('the KServe runtime serves the InferenceService: format, protocol, model directory, model name, claim', () => {
  const rt = one('serving.kserve.io/v1alpha1 ServingRuntime');
  const isvc = one('serving.kserve.io/v1beta1 InferenceService');
  const c = rt.spec.containers[0];
  assert.equal(c.name, 'kserve-container', 'KServe finds the serving container by this name');
  const { options } = serveSettings(c);
  assert.equal(options.repository, '/mnt/models', "KServe's model directory");
  assert.equal(options.port, c.ports[0].containerPort);
  for (const probe of ['livenessProbe', 'readinessProbe']) assert.equal(c[probe].httpGet.port, options.port);
  assert.equal(c.image, serverContainer(one('apps/v1 Deployment')).image);
  const registryMount = c.volumeMounts.find((m: Obj) => options.registryPath!.startsWith(`${m.mountPath}/`));
  assert.ok(registryMount && rt.spec.volumes.find((v: Obj) => v.name === registryMount.name)?.emptyDir, 'the registry is not on a writable emptyDir');

  const model = isvc.spec.predictor.model;
  assert.equal(model.runtime, rt.metadata.name);
  assert.ok(rt.spec.supportedModelFormats.some((f: Obj) => f.name === model.modelFormat.name && f.version === model.modelFormat.version), `${rt.metadata.name} does not support ${JSON.stringify(model.modelFormat)}`);
  assert.ok(rt.spec.protocolVersions.includes(model.protocolVersion));
  // KServe serves /v2/models/<InferenceService name>: it must be a model of the repository.
  assert.ok(fs.existsSync(path.join(PACKAGE_MODELS, isvc.metadata.name, 'model.json')), `no model ${isvc.metadata.name} in models/`);
  const uri = /^pvc:\/\/([^/]+)\/(.+)$/.exec(model.storageUri);
  assert.ok(uri, `storageUri ${model.storageUri} is not pvc://<claim>/<path>`);
  assert.equal(uri[1], one('v1 PersistentVolumeClaim').metadata.name);
});
