/**
 * Byte counters (nftables): how many bytes went client -> servers, servers
 * -> client and server -> server, which proves that FXP data did not pass
 * through the client.
 *
 * Why it works on loopback: the route `local 127.0.0.0/8 dev lo src
 * 127.0.0.1` makes an unbound client socket connect *from* 127.0.0.1, while
 * all lab servers bind their active (PORT) data sockets to their own
 * address, so server-to-server data leaves from 127.0.x.2x.
 */
import * as net from 'node:net';
import { LAB_ADDRESS_FIRST, LAB_ADDRESS_LAST } from './kinds.js';
import { listTable, loadTable, newTableName } from './nft.js';

export interface ByteCounts {
  clientToServers: number;
  serversToClient: number;
  serverToServer: number;
}

export interface ByteCounter {
  /** Bytes since start or the last reset(). */
  read(): Promise<ByteCounts>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

interface NftRule {
  rule?: { table?: string; comment?: string; expr?: Array<{ counter?: { bytes: number; packets: number } }> };
}

/**
 * Count TCP bytes (IP packet lengths) on the output hook: every loopback
 * packet passes output exactly once, so nothing is counted twice. Rules:
 * client -> lab servers, lab servers -> client, lab server -> lab server.
 * `reset()` records a baseline (nft 1.0.6 cannot reset anonymous rule counters).
 * `serverAddresses` (default: all of 127.0.0.21-40) limits what counts as a server.
 * Tables left behind by crashed runs (owner pid gone) are deleted first.
 */
export async function startByteCounter(clientAddress = '127.0.0.1', serverAddresses?: string[]): Promise<ByteCounter> {
  for (const a of [clientAddress, ...(serverAddresses ?? [])]) {
    if (!net.isIPv4(a)) throw new Error(`byte counter: IPv4 address expected, got ${a}`);
  }
  const table = newTableName('count');
  // Default: every lab address. A list narrows it to the servers of one test,
  // so lab servers used concurrently by someone else are not counted.
  const servers = serverAddresses?.length
    ? `{ ${serverAddresses.join(', ')} }`
    : `127.0.0.${LAB_ADDRESS_FIRST}-127.0.0.${LAB_ADDRESS_LAST}`;
  const drop = await loadTable(table, [
    'chain out {',
    '  type filter hook output priority 0; policy accept;',
    `  meta l4proto tcp ip saddr ${clientAddress} ip daddr ${servers} counter comment "c2s"`,
    `  meta l4proto tcp ip saddr ${servers} ip daddr ${clientAddress} counter comment "s2c"`,
    `  meta l4proto tcp ip saddr ${servers} ip daddr ${servers} counter comment "s2s"`,
    '}',
  ]);
  const raw = async () => {
    const parsed = await listTable<{ nftables: NftRule[] }>(table);
    const totals: Record<string, number> = { c2s: 0, s2c: 0, s2s: 0 };
    for (const item of parsed.nftables) {
      const c = item.rule?.comment;
      if (!c || !(c in totals)) continue;
      for (const e of item.rule?.expr ?? []) if (e.counter) totals[c] += e.counter.bytes;
    }
    return totals;
  };
  let base = { c2s: 0, s2c: 0, s2s: 0 };
  return {
    async read() {
      const t = await raw();
      return { clientToServers: t.c2s - base.c2s, serversToClient: t.s2c - base.s2c, serverToServer: t.s2s - base.s2s };
    },
    async reset() {
      const t = await raw();
      base = { c2s: t.c2s, s2c: t.s2c, s2s: t.s2s };
    },
    close: drop,
  };
}
