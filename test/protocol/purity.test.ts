import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Keeps lib/protocol/ pure (DESIGN.md §2): no stream or network module may be imported
 * there, so every protocol rule stays testable without I/O. Sources are parsed with the
 * TypeScript compiler, so imports inside comments or strings do not count, and every form
 * of import does: `import ... from`, `import '...'`, `import type`, `export ... from`,
 * `import x = require()`, `import()`, `require()`. An `import()` or `require()` whose
 * argument is not a literal cannot be checked, so it is refused too.
 */

const PROTOCOL_DIR = fileURLToPath(new URL('../../lib/protocol/', import.meta.url));

/** Modules whose name (after `node:`, before any `/sub/path`) is forbidden. */
const FORBIDDEN = new Set([
  'stream',
  'net',
  'http',
  'https',
  'http2',
  'tls',
  'dgram',
  'readable-stream',
  // Node's legacy public aliases of the same internals.
  '_stream_duplex',
  '_stream_passthrough',
  '_stream_readable',
  '_stream_transform',
  '_stream_wrap',
  '_stream_writable',
  '_http_agent',
  '_http_client',
  '_http_common',
  '_http_incoming',
  '_http_outgoing',
  '_http_server',
  '_tls_common',
  '_tls_wrap',
]);

/** Tells whether a module specifier names a forbidden module or one of its sub-paths. */
function isForbiddenSpecifier(specifier: string): boolean {
  const bare = specifier.startsWith('node:') ? specifier.slice('node:'.length) : specifier;
  const name = bare.split('/')[0] ?? bare;
  return FORBIDDEN.has(name);
}

interface ImportSite {
  line: number;
  specifier: string | undefined;
}

function literalText(node: ts.Node | undefined): string | undefined {
  if (node && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)))
    return node.text;
  return undefined;
}

function isRequireCall(node: ts.CallExpression): boolean {
  const callee = node.expression;
  if (ts.isIdentifier(callee)) return callee.text === 'require';
  return ts.isPropertyAccessExpression(callee) && callee.name.text === 'require';
}

/** Gives the module a node imports, `null` when it imports nothing, `undefined` when unknowable. */
function importedBy(node: ts.Node): string | undefined | null {
  if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) {
    return node.moduleSpecifier ? (literalText(node.moduleSpecifier) ?? undefined) : null;
  }
  if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
    return literalText(node.moduleReference.expression);
  }
  if (ts.isImportTypeNode(node)) {
    return ts.isLiteralTypeNode(node.argument) ? literalText(node.argument.literal) : undefined;
  }
  if (ts.isCallExpression(node)) {
    const dynamic = node.expression.kind === ts.SyntaxKind.ImportKeyword;
    if (dynamic || isRequireCall(node)) return literalText(node.arguments[0]);
  }
  return null;
}

/** Lists every place in `source` that imports a module, with its specifier when literal. */
function findImports(source: string, fileName = 'source.ts'): ImportSite[] {
  const file = ts.createSourceFile(
    fileName,
    source,
    ts.ScriptTarget.Latest,
    true,
    ts.ScriptKind.TS,
  );
  const sites: ImportSite[] = [];
  const visit = (node: ts.Node): void => {
    const specifier = importedBy(node);
    if (specifier !== null) {
      const line = file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1;
      sites.push({ line, specifier });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return sites;
}

/**
 * Checks a source text: gives one message per forbidden import (or uncheckable dynamic
 * one), empty when the source is pure.
 */
function findForbiddenImports(source: string, fileName = 'source.ts'): string[] {
  return findImports(source, fileName)
    .filter((site) => site.specifier === undefined || isForbiddenSpecifier(site.specifier))
    .map((site) =>
      site.specifier === undefined
        ? `${fileName}:${site.line}: import of a computed specifier (cannot be checked)`
        : `${fileName}:${site.line}: imports '${site.specifier}'`,
    );
}

function protocolSources(): string[] {
  return readdirSync(PROTOCOL_DIR, { recursive: true, encoding: 'utf8' })
    .filter((name) => /\.[cm]?ts$/.test(name))
    .map((name) => join(PROTOCOL_DIR, name))
    .sort();
}

describe('lib/protocol/ is pure', () => {
  const files = protocolSources();

  it('finds the protocol sources', () => {
    const names = files.map((f) => relative(PROTOCOL_DIR, f));
    expect(names).toEqual(expect.arrayContaining(['opcodes.ts', 'close-codes.ts', 'errors.ts']));
  });

  it.each(files.map((f) => [relative(PROTOCOL_DIR, f), f]))(
    '%s imports no stream or network module',
    (name, path) => {
      expect(findForbiddenImports(readFileSync(path, 'utf8'), name)).toEqual([]);
    },
  );
});

describe('the purity checker', () => {
  it.each([
    "import { Readable } from 'node:stream';",
    "import { Readable } from 'stream';",
    "import * as net from 'node:net';",
    "import http from 'http';",
    "import https from 'node:https';",
    "import { connect } from 'http2';",
    "import tls from 'node:tls';",
    "import dgram from 'dgram';",
    "import { Duplex } from 'readable-stream';",
    "import { pipeline } from 'stream/promises';",
    "import { ReadableStream } from 'node:stream/web';",
    "import 'node:net';",
    "import type { Duplex } from 'node:stream';",
    "import { type Socket } from 'node:net';",
    "export { Readable } from 'node:stream';",
    "export * from 'readable-stream';",
    "export * as s from 'stream/web';",
    "import net = require('net');",
    "const s = await import('node:stream');",
    'const s = await import(`node:tls`);',
    "const { Readable } = require('stream');",
    "const r = module.require('readable-stream');",
    "function f() { return import('node:http').then((m) => m); }",
    "type S = import('node:stream').Duplex;",
    "const x = require('_stream_readable');",
    'const s = await import(name);',
    `const s = require(\`node:\${name}\`);`,
    "const s = require('node:' + name);",
  ])('flags %s', (source) => {
    expect(findForbiddenImports(`// header\n${source}\n`)).toHaveLength(1);
  });

  it('reports file and line', () => {
    const source =
      "import { Buffer } from 'node:buffer';\n\nimport { Readable } from 'node:stream';\n";
    expect(findForbiddenImports(source, 'lib/protocol/bad.ts')).toEqual([
      "lib/protocol/bad.ts:3: imports 'node:stream'",
    ]);
  });

  it.each([
    "import { Buffer, isUtf8 } from 'node:buffer';",
    "import { createHash } from 'node:crypto';",
    "import { CloseCode } from './close-codes.js';",
    "import type { Frame } from './frame.js';",
    "import x from 'streamx';",
    "import x from 'http-parser-js';",
    "import x from './stream.js';",
    "import x from 'node:string_decoder';",
    "// import { Readable } from 'node:stream';",
    "/** Never imports node:stream or require('net'). */",
    'const text = "import { Readable } from \'node:stream\'";',
    "const text = `require('http')`;",
    'export const stream = 1;',
    "export { stream } from './local.js';",
  ])('does not flag %s', (source) => {
    expect(findForbiddenImports(source)).toEqual([]);
  });

  it('classifies specifiers by module name, ignoring node: and sub-paths', () => {
    expect(isForbiddenSpecifier('node:stream/web')).toBe(true);
    expect(isForbiddenSpecifier('readable-stream/lib/ours/index.js')).toBe(true);
    expect(isForbiddenSpecifier('stream-browserify')).toBe(false);
    expect(isForbiddenSpecifier('node:buffer')).toBe(false);
  });
});
