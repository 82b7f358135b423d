/**
 * A network partition around one address: nftables drops every packet to
 * or from it, in a table of the lab's own (nft.ts), until healed.
 *
 * The drop is on the input hook: the sender's packet leaves (as if on the
 * wire) and is lost on arrival, so connects and transfers time out as over
 * a real partition. On the output hook the sender would get EPERM at once.
 */
import * as net from 'node:net';
import type { LabServer } from '../kinds.js';
import { loadTable, newTableName } from '../nft.js';

export interface Partition {
  /** Delete the drop rules now (idempotent). Call it in `finally`. */
  heal(): Promise<void>;
  /** Settles when the rules are gone (after `forMs`, or heal()). */
  healed: Promise<void>;
}

/**
 * Drop all packets to and from `target` (a server's address, or any IPv4
 * address of yours); with `forMs`, heal by itself after that long.
 */
export async function partition(target: LabServer | string, opts: { forMs?: number } = {}): Promise<Partition> {
  const addr = typeof target === 'string' ? target : target.host;
  if (!net.isIPv4(addr) || !addr.startsWith('127.')) throw new Error(`partition: a loopback IPv4 address expected, got ${addr}`);
  const table = newTableName('drop');
  const drop = await loadTable(table, [
    'chain in {',
    '  type filter hook input priority -10; policy accept;',
    `  ip saddr ${addr} drop`,
    `  ip daddr ${addr} drop`,
    '}',
  ]);
  let resolveHealed: () => void = () => undefined;
  const healed = new Promise<void>((r) => (resolveHealed = r));
  let timer: NodeJS.Timeout | undefined;
  const heal = async () => {
    clearTimeout(timer);
    await drop();
    resolveHealed();
  };
  if (opts.forMs !== undefined) {
    timer = setTimeout(() => void heal(), opts.forMs);
  }
  return { heal, healed };
}
