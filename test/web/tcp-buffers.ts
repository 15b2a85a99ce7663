import { readFileSync } from 'node:fs';

/**
 * The most a loopback TCP connection can hold in flight, from the kernel's limits: the
 * receiver's largest receive buffer plus the sender's largest send buffer (tcp_rmem and
 * tcp_wmem maxima; 64 MiB when they cannot be read). A backpressure test bounds what the
 * peer gets rid of with this plus what the library itself may hold, so that its bound
 * holds on any machine, whatever the kernel's tuning.
 */
export function tcpInFlightLimit(): number {
  const max = (file: string): number | undefined => {
    try {
      const fields = readFileSync(file, 'utf8').trim().split(/\s+/);
      const value = Number(fields.at(-1));
      return Number.isFinite(value) && value > 0 ? value : undefined;
    } catch {
      return undefined;
    }
  };
  const rmem = max('/proc/sys/net/ipv4/tcp_rmem');
  const wmem = max('/proc/sys/net/ipv4/tcp_wmem');
  if (rmem === undefined || wmem === undefined) return 64 * 1024 * 1024;
  return rmem + wmem;
}
