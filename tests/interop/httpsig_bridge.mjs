// JSON bridge between pytest and @hellocoop/httpsig (the TypeScript RFC 9421 +
// Signature-Key -08 signer and verifier). Test harness only: it reads ONE JSON
// document on stdin, runs every case in order, and writes ONE JSON document on
// stdout, then exits. No network: signing uses fetch({dryRun: true}), which
// returns the headers it would send without sending anything.
//
// Input:  {"cases": [case, ...]}
// Output: {"node": "v20.x", "httpsig": "2.2.0", "results": [result, ...]}
//
// Cases (bytes travel as base64, so bodies are exact):
//   {"op": "sign", "url", "method", "headers": [[name, value], ...],
//    "body_b64": string|null, "body_text"?: string, "signing_key": <private JWK>,
//    "signature_key": {"type": "hwk"} | {"type": "jwt", "jwt": "..."},
//    "created": <unix seconds>, "label"?, "components"?, "content_digest"?}
//     -> {"ok": true, "url": <the URL fetch would dial, WHATWG-normalised>,
//         "headers": [[lowercase name, value], ...]}
//   {"op": "verify", "method", "authority", "path", "query": string|null,
//    "headers": [[name, value], ...], "body_b64": string|null, "now": <unix seconds>,
//    "options"?: {maxClockSkew, supportedAlgorithms, requireContentDigest}}
//     -> {"ok": true, "verified": bool, "keyType", "label", "thumbprint", "created",
//         "error"?, "signatureError"?, "acceptSignatureAlg"?, "jwtPayload"?}
//   Any case that throws -> {"ok": false, "error": message}.
//
// Time: the package reads Date.now() for `created` (sign) and for the window and
// the JWT `exp` check (verify). The bridge pins Date.now() to the case's
// `created` / `now` for the duration of the call, so results are deterministic.

import { readFileSync } from 'node:fs'

import { fetch as httpsigFetch, verify as httpsigVerify } from '@hellocoop/httpsig'

// The package's exports map does not expose package.json; read the installed copy.
const HTTPSIG_VERSION = JSON.parse(
    readFileSync(
        new URL('./node_modules/@hellocoop/httpsig/package.json', import.meta.url),
        'utf8',
    ),
).version

function bytesOrUndefined(b64) {
    return b64 === null || b64 === undefined ? undefined : Buffer.from(b64, 'base64')
}

async function withClock(seconds, run) {
    if (!Number.isInteger(seconds)) throw new Error('the case needs an integer time')
    const realNow = Date.now
    Date.now = () => seconds * 1000
    try {
        return await run()
    } finally {
        Date.now = realNow
    }
}

async function sign(c) {
    // body_text: a JS string body (fetch gives it text/plain;charset=UTF-8 when no
    // Content-Type is set; the package digests its UTF-8 bytes). Otherwise bytes.
    const body = typeof c.body_text === 'string' ? c.body_text : bytesOrUndefined(c.body_b64)
    const options = {
        method: c.method,
        headers: c.headers,
        signingKey: c.signing_key,
        signatureKey: c.signature_key,
        dryRun: true,
    }
    // A Buffer is a Uint8Array, whose exact bytes the package digests.
    if (body !== undefined) options.body = body
    if (c.label !== undefined) options.label = c.label
    if (c.components !== undefined) options.components = c.components
    if (c.content_digest !== undefined) options.contentDigest = c.content_digest
    const { headers } = await withClock(c.created, () => httpsigFetch(c.url, options))
    return { ok: true, url: new URL(c.url).href, headers: [...headers.entries()] }
}

function headerRecord(pairs) {
    // Node's incoming-request shape: lowercase names, a repeated field as an array
    // (the package joins arrays with ", ").
    const record = {}
    for (const [name, value] of pairs) {
        const key = name.toLowerCase()
        if (key in record) {
            record[key] = [].concat(record[key], value)
        } else {
            record[key] = value
        }
    }
    return record
}

async function verify(c) {
    const request = {
        method: c.method,
        authority: c.authority,
        path: c.path,
        headers: headerRecord(c.headers),
    }
    if (c.query !== null && c.query !== undefined) request.query = c.query
    const body = bytesOrUndefined(c.body_b64)
    if (body !== undefined) request.body = body
    const result = await withClock(c.now, () => httpsigVerify(request, c.options || {}))
    const out = {
        ok: true,
        verified: result.verified,
        keyType: result.keyType,
        label: result.label,
        thumbprint: result.thumbprint,
        created: result.created,
    }
    if (result.error !== undefined) out.error = result.error
    if (result.signatureError !== undefined) out.signatureError = result.signatureError
    if (result.acceptSignatureAlg !== undefined) out.acceptSignatureAlg = result.acceptSignatureAlg
    if (result.jwt !== undefined) out.jwtPayload = result.jwt.payload
    return out
}

async function runCase(c) {
    try {
        if (c.op === 'sign') return await sign(c)
        if (c.op === 'verify') return await verify(c)
        return { ok: false, error: `unknown op ${JSON.stringify(c.op)}` }
    } catch (err) {
        return { ok: false, error: err instanceof Error ? err.message : String(err) }
    }
}

const input = JSON.parse(readFileSync(0, 'utf8'))
const results = []
for (const c of input.cases) {
    results.push(await runCase(c))
}
process.stdout.write(
    JSON.stringify({ node: process.version, httpsig: HTTPSIG_VERSION, results }),
)
