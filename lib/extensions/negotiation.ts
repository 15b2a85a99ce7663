import { ErrorCode, HandshakeError, InvalidArgumentError } from '../protocol/errors.js';
import type { Role } from '../protocol/frame.js';
import { type ExtensionOffer, formatExtensionHeader } from '../protocol/header-parser.js';
import type { Extension, ExtensionFactory } from './extension.js';
import { type PerMessageDeflateConfig, resolvePerMessageDeflate } from './permessage-deflate.js';

/** The extension options of a server or a client. */
export interface ExtensionOptions {
  /**
   * permessage-deflate (RFC 7692): `true` for the defaults, an options object, or `false`.
   * Default: off on a server, offered by a client (as ws does).
   */
  perMessageDeflate?: boolean | PerMessageDeflateConfig;
  /** More extensions, through the extension API, after permessage-deflate. */
  extensions?: readonly ExtensionFactory[];
}

/** Resolves the options into the factories to negotiate with, in order. */
export function extensionFactories(options: ExtensionOptions, role: Role): ExtensionFactory[] {
  const factories: ExtensionFactory[] = [];
  const deflate = resolvePerMessageDeflate(options.perMessageDeflate, role, role === 'client');
  if (deflate !== undefined) factories.push(deflate);
  for (const factory of options.extensions ?? []) factories.push(factory);
  const names = new Set<string>();
  for (const factory of factories) {
    if (names.has(factory.name)) {
      throw new InvalidArgumentError(`Extension ${factory.name} is configured twice`);
    }
    names.add(factory.name);
  }
  return factories;
}

/**
 * Server: gives each configured extension the client's offers of it, in the client's
 * order; unknown offers are ignored. Returns the extensions agreed and the header that
 * tells the client, or undefined when none was agreed.
 *
 * @see RFC 6455 §9.1
 */
export function negotiateExtensions(
  factories: readonly ExtensionFactory[],
  offers: readonly ExtensionOffer[],
): { extensions: Extension[]; header: string | undefined } {
  const extensions: Extension[] = [];
  const answers: ExtensionOffer[] = [];
  for (const factory of factories) {
    const mine = offers.filter((offer) => offer.name === factory.name);
    if (mine.length === 0) continue;
    const agreed = factory.negotiate(mine);
    if (agreed === null) continue;
    extensions.push(agreed.extension);
    answers.push(agreed.answer);
  }
  return { extensions, header: answers.length > 0 ? formatExtensionHeader(answers) : undefined };
}

/** Client: the Sec-WebSocket-Extensions header to send, or undefined to offer none. */
export function offerExtensions(factories: readonly ExtensionFactory[]): string | undefined {
  const offers = factories.flatMap((factory) => factory.offer());
  return offers.length > 0 ? formatExtensionHeader(offers) : undefined;
}

/**
 * Client: builds the extensions from the server's answer. Each answered extension must be
 * one that was offered, answered once (validateUpgradeResponse checks that much); its
 * parameters are checked by its factory, which throws HandshakeError on a bad answer.
 *
 * @see RFC 6455 §4.1 (item 5 of the client's checks)
 */
export function acceptExtensions(
  factories: readonly ExtensionFactory[],
  answers: readonly ExtensionOffer[],
): Extension[] {
  const extensions: Extension[] = [];
  try {
    for (const answer of answers) {
      const factory = factories.find((candidate) => candidate.name === answer.name);
      if (factory === undefined) {
        throw new HandshakeError(
          `The server agreed to ${answer.name}, which was not offered`,
          101,
          {
            code: ErrorCode.Handshake,
          },
        );
      }
      extensions.push(factory.accept(answer));
    }
  } catch (err) {
    for (const extension of extensions) extension.dispose();
    throw err;
  }
  return extensions;
}

/** The names of the extensions a client offers (for the 101's checks). */
export function offeredNames(factories: readonly ExtensionFactory[]): string[] {
  return factories.map((factory) => factory.name);
}
