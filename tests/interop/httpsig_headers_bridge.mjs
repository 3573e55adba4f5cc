// JSON bridge between pytest and the header PARSERS @hellocoop/httpsig exports
// (the challenge side: what a client built on the package makes of a resource's
// 401). Test harness only: it reads ONE JSON document on stdin, parses every case
// in order, and writes ONE JSON document on stdout, then exits. No network.
//
// Input:  {"cases": [case, ...]}
// Output: {"node": "v20.x", "httpsig": "2.2.0", "results": [result, ...]}
//
// Case: {"op": "parse", "field": <field name, any case>, "value": <field value>}
//   field -> the exported parser used:
//     signature-error          parseSignatureError     -> {"error", "required_input"?}
//     accept-signature         parseAcceptSignature    -> {"label", "components", "alg"?, "tag"?}
//     accept-signature-scheme  parseAcceptSignatureScheme -> [token, ...]
//     accept-signature-alg     parseAcceptSignatureAlg    -> [token, ...]
//     anything else            parseDictionary (RFC 8941; the package documents it as THE
//                              parser for AAuth-Requirement) -> {member: <item>}
//   An Item is {"value": <JSON value>, "type": "token"|"string"|"integer"|"decimal"|
//   "boolean"|"bytes", "params": {name: {"value", "type"}}}; an Inner List is
//   {"inner": [item, ...], "params": {...}}.
//   -> {"ok": true, "parsed": <as above>}
//   A parser that throws -> {"ok": false, "error": message}.

import { readFileSync } from 'node:fs'

import {
    ByteSequence,
    Token,
    isInnerList,
    parseAcceptSignature,
    parseAcceptSignatureAlg,
    parseAcceptSignatureScheme,
    parseDictionary,
    parseSignatureError,
} from '@hellocoop/httpsig'

const HTTPSIG_VERSION = JSON.parse(
    readFileSync(
        new URL('./node_modules/@hellocoop/httpsig/package.json', import.meta.url),
        'utf8',
    ),
).version

function bare(value) {
    if (value instanceof Token) return { value: value.toString(), type: 'token' }
    if (value instanceof ByteSequence) return { value: value.toBase64(), type: 'bytes' }
    if (typeof value === 'boolean') return { value, type: 'boolean' }
    if (typeof value === 'number') {
        return { value, type: Number.isInteger(value) ? 'integer' : 'decimal' }
    }
    return { value, type: 'string' }
}

function params(map) {
    const out = {}
    for (const [name, value] of map) out[name] = bare(value)
    return out
}

function member(value) {
    if (isInnerList(value)) {
        return {
            inner: value[0].map(([item, p]) => ({ ...bare(item), params: params(p) })),
            params: params(value[1]),
        }
    }
    return { ...bare(value[0]), params: params(value[1]) }
}

const PARSERS = {
    'signature-error': parseSignatureError,
    'accept-signature': parseAcceptSignature,
    'accept-signature-scheme': parseAcceptSignatureScheme,
    'accept-signature-alg': parseAcceptSignatureAlg,
}

function parse(c) {
    const field = String(c.field).toLowerCase()
    const parser = PARSERS[field]
    if (parser !== undefined) return parser(c.value)
    const out = {}
    for (const [name, value] of parseDictionary(c.value)) out[name] = member(value)
    return out
}

const input = JSON.parse(readFileSync(0, 'utf8'))
const results = []
for (const c of input.cases) {
    try {
        if (c.op !== 'parse') throw new Error(`unknown op ${JSON.stringify(c.op)}`)
        results.push({ ok: true, parsed: parse(c) })
    } catch (err) {
        results.push({ ok: false, error: err instanceof Error ? err.message : String(err) })
    }
}
process.stdout.write(
    JSON.stringify({ node: process.version, httpsig: HTTPSIG_VERSION, results }),
)
