import type {
  Extension,
  MessageCodec,
  OutgoingMessageInfo,
} from '../../lib/extensions/extension.js';
import { ErrorCode, ProtocolError } from '../../lib/protocol/errors.js';
import { Rsv } from '../../lib/protocol/opcodes.js';

/**
 * A toy extension for testing the extension API: it claims RSV2 and inverts every byte
 * both ways, so that a message that skipped a codec arrives visibly wrong. Its codecs call
 * back asynchronously, like zlib, and the incoming one enforces the size limit.
 */
export class ToyExtension implements Extension {
  readonly name = 'x-toy';
  readonly rsv = Rsv.Rsv2;
  readonly agreed = { name: 'x-toy', params: [{ name: 'double', value: null }] };
  disposed = 0;
  outgoingCalls: OutgoingMessageInfo[] = [];

  outgoing(message: OutgoingMessageInfo): MessageCodec | undefined {
    this.outgoingCalls.push(message);
    if (!message.compress) return undefined;
    return {
      transform(piece, _last, output, done) {
        setImmediate(() => {
          const out = Buffer.alloc(piece.length);
          for (let i = 0; i < piece.length; i++) out[i] = piece[i]! ^ 0xff;
          output(out);
          done();
        });
      },
    };
  }

  incoming(rsv: number, limits: { maxMessageSize: number }): MessageCodec | undefined {
    if ((rsv & Rsv.Rsv2) === 0) return undefined;
    let size = 0;
    return {
      transform(piece, _last, output, done) {
        setImmediate(() => {
          size += piece.length;
          if (size > limits.maxMessageSize) {
            done(new ProtocolError(ErrorCode.MessageTooLarge, 'too big'));
            return;
          }
          const out = Buffer.alloc(piece.length);
          for (let i = 0; i < piece.length; i++) out[i] = piece[i]! ^ 0xff;
          output(out);
          done();
        });
      },
    };
  }

  dispose(): void {
    this.disposed++;
  }
}
