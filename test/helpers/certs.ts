import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM material for the TLS tests, made fresh by openssl at test time. */
export interface TestCerts {
  /** The test CA's certificate: the one a client trusts. */
  ca: Buffer;
  /** Server certificate for localhost, 127.0.0.1 and ::1, signed by the test CA. */
  serverCert: Buffer;
  serverKey: Buffer;
  /** Client certificate (CN=websocket-duplex test client, clientAuth), signed by the test CA. */
  clientCert: Buffer;
  clientKey: Buffer;
  /** A second CA that signed nothing of the above: trusting it alone must fail. */
  otherCa: Buffer;
  /** Removes the temporary directory. */
  cleanup(): void;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT') {
      throw new Error(
        'openssl was not found on PATH. The TLS tests make their CA, server and client ' +
          'certificates with the openssl command at test time: install it (apt-get install ' +
          'openssl, brew install openssl) and run the tests again.',
      );
    }
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr?.toString() ?? e.message}`);
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir: string, name: string, cn: string): void {
  openssl(
    [
      'req',
      '-x509',
      ...EC,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
}

function makeLeaf(dir: string, name: string, cn: string, extensions: string): void {
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(
    ['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`],
    dir,
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-set_serial',
      `0x${Date.now().toString(16)}${name.length}`,
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    ],
    dir,
  );
}

/**
 * Makes a CA, a server certificate for 127.0.0.1, ::1 and localhost, a client certificate
 * and an unrelated second CA, with `openssl`, in a fresh temporary directory. Throws a
 * clear error when openssl is missing: nothing is committed, so there is no fallback.
 */
export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'ws-duplex-certs-'));
  try {
    makeCa(dir, 'ca', 'websocket-duplex test CA');
    makeCa(dir, 'other-ca', 'websocket-duplex untrusted CA');
    makeLeaf(
      dir,
      'server',
      'localhost',
      'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n' +
        'extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n',
    );
    makeLeaf(
      dir,
      'client',
      'websocket-duplex test client',
      'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n',
    );
    const read = (file: string): Buffer => readFileSync(join(dir, file));
    return {
      ca: read('ca.crt'),
      serverCert: read('server.crt'),
      serverKey: read('server.key'),
      clientCert: read('client.crt'),
      clientKey: read('client.key'),
      otherCa: read('other-ca.crt'),
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
