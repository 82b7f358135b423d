/**
 * The scripted server's default behaviour: a small, sane FTP server (RFC 959,
 * 2428, 3659) over its in-memory tree. A test overrides any of these with
 * ScriptedFtpServer.on(); a handler can still call ctx.fallback() to get the
 * default after, say, a delay or a stray line of its own.
 */
import path from 'node:path/posix';
import type { CommandContext } from './ftp-session.js';
import { listText, mlsdText, parseTimeVal, timeVal } from './memory-tree.js';
import { receiveBody, sendBody, type DataBody } from './ftp-data.js';

type Command = (ctx: CommandContext) => void | Promise<void>;

/** What FEAT advertises unless a test says otherwise. */
export const DEFAULT_FEATURES = ['MLST type*;size*;modify*;', 'SIZE', 'MDTM', 'MFMT', 'REST STREAM', 'UTF8', 'EPSV', 'EPRT'];

/** RFC 959 §4.2: the 227 reply's h1,h2,h3,h4,p1,p2. */
function pasvTuple(host: string, port: number): string {
  return `${host.split('.').join(',')},${port >> 8},${port & 255}`;
}

/**
 * 150, the data connection, the body, then 226, or 425 (no data
 * connection) / 426 (the client closed it early).
 */
async function transfer(ctx: CommandContext, io: (socket: import('node:net').Socket) => Promise<boolean>): Promise<void> {
  const { session } = ctx;
  if (!session.data.pending) return ctx.reply('425 Use PORT or PASV first.');
  ctx.reply('150 Opening BINARY mode data connection.');
  let socket;
  try {
    socket = await session.data.open(ctx.line);
  } catch {
    return ctx.reply("425 Can't open data connection.");
  }
  const ok = await io(socket).catch(() => false);
  socket.destroy();
  session.rest = 0;
  ctx.reply(ok && !session.aborted ? '226 Transfer complete.' : '426 Connection closed; transfer aborted.');
}

async function listing(ctx: CommandContext): Promise<void> {
  const verb = ctx.verb as 'MLSD' | 'LIST' | 'NLST';
  // LIST -a / LIST -la: options, not a path (as vsftpd and proftpd read them).
  const arg = ctx.arg.startsWith('-') ? ctx.arg.replace(/^-\S*\s*/, '') : ctx.arg;
  const dir = ctx.session.resolve(arg);
  let body: DataBody | undefined = ctx.server.options.listing?.(verb, dir, ctx.session);
  if (body === undefined) {
    if (!ctx.server.tree.isDir(dir)) return ctx.reply(`550 ${dir}: No such directory.`);
    const entries = ctx.server.tree.children(dir);
    body = verb === 'MLSD' ? mlsdText(entries) : verb === 'LIST' ? listText(entries) : entries.map(([n]) => `${n}\r\n`).join('');
  }
  const b = body;
  await transfer(ctx, (s) => sendBody(s, b, ctx.server.options.dataRate));
}

function parseEprt(arg: string): { host: string; port: number } | undefined {
  // RFC 2428 §2: EPRT |1|132.235.1.2|6275|
  const d = arg[0];
  const parts = arg.split(d);
  if (parts.length < 5) return undefined;
  return { host: parts[2], port: Number(parts[3]) };
}

export const DEFAULT_COMMANDS: Record<string, Command> = {
  USER(ctx) {
    ctx.session.user = ctx.arg;
    ctx.session.loggedIn = false;
    ctx.reply(`331 Password required for ${ctx.arg}.`);
  },
  PASS(ctx) {
    const o = ctx.server.options;
    if (ctx.session.user === (o.user ?? 'user') && ctx.arg === (o.password ?? 'pass')) {
      ctx.session.loggedIn = true;
      ctx.reply('230 User logged in.');
    } else ctx.reply('530 Login incorrect.');
  },
  QUIT(ctx) {
    ctx.reply('221 Goodbye.');
    ctx.session.socket.end();
  },
  SYST: (ctx) => ctx.reply('215 UNIX Type: L8'),
  NOOP: (ctx) => ctx.reply('200 NOOP ok.'),
  OPTS: (ctx) => ctx.reply('200 OPTS ok.'),
  TYPE: (ctx) => ctx.reply(`200 Type set to ${ctx.arg}.`),
  FEAT(ctx) {
    const f = ctx.server.options.features ?? DEFAULT_FEATURES;
    ctx.reply(['211-Features:', ...f.map((l) => ` ${l}`), '211 End']);
  },
  PWD: (ctx) => ctx.reply(`257 "${ctx.session.cwd.replace(/"/g, '""')}" is the current directory.`),
  CWD(ctx) {
    const dir = ctx.session.resolve(ctx.arg);
    if (!ctx.server.tree.isDir(dir)) return ctx.reply(`550 ${ctx.arg}: No such directory.`);
    ctx.session.cwd = dir;
    ctx.reply('250 CWD command successful.');
  },
  SIZE(ctx) {
    const data = ctx.server.tree.read(ctx.session.resolve(ctx.arg));
    ctx.reply(data ? `213 ${data.length}` : `550 ${ctx.arg}: No such file.`);
  },
  MDTM(ctx) {
    const n = ctx.server.tree.get(ctx.session.resolve(ctx.arg));
    ctx.reply(n?.type === 'file' ? `213 ${timeVal(n.mtime)}` : `550 ${ctx.arg}: No such file.`);
  },
  MFMT(ctx) {
    // draft-somers-ftp-mfxx: MFMT YYYYMMDDHHMMSS path
    const space = ctx.arg.indexOf(' ');
    const when = parseTimeVal(ctx.arg.slice(0, space));
    const p = ctx.arg.slice(space + 1);
    const n = ctx.server.tree.get(ctx.session.resolve(p));
    if (space === -1 || !when) return ctx.reply('501 Bad MFMT argument.');
    if (!n) return ctx.reply(`550 ${p}: No such file.`);
    n.mtime = when;
    ctx.reply(`213 Modify=${timeVal(when)}; ${p}`);
  },
  REST(ctx) {
    ctx.session.rest = Number(ctx.arg) || 0;
    ctx.reply(`350 Restarting at ${ctx.session.rest}.`);
  },
  async PASV(ctx) {
    const host = ctx.server.options.dataHost ?? ctx.session.localAddress;
    const { port } = await ctx.session.data.listen(host);
    ctx.reply(`227 Entering Passive Mode (${pasvTuple(ctx.server.options.pasvAddress ?? host, port)}).`);
  },
  async EPSV(ctx) {
    const { port } = await ctx.session.data.listen(ctx.server.options.dataHost ?? ctx.session.localAddress);
    ctx.reply(`229 Entering Extended Passive Mode (|||${port}|)`);
  },
  PORT(ctx) {
    const n = ctx.arg.split(',').map(Number);
    if (n.length !== 6 || n.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) return ctx.reply('501 Illegal PORT command.');
    ctx.session.data.connectTo(n.slice(0, 4).join('.'), n[4] * 256 + n[5]);
    ctx.reply('200 PORT command successful.');
  },
  EPRT(ctx) {
    const t = parseEprt(ctx.arg);
    if (!t) return ctx.reply('501 Illegal EPRT command.');
    ctx.session.data.connectTo(t.host, t.port);
    ctx.reply('200 EPRT command successful.');
  },
  MLSD: listing,
  LIST: listing,
  NLST: listing,
  async RETR(ctx) {
    const data = ctx.server.tree.read(ctx.session.resolve(ctx.arg));
    if (!data) return ctx.reply(`550 ${ctx.arg}: No such file.`);
    const from = ctx.session.rest;
    await transfer(ctx, (s) => sendBody(s, data.subarray(from), ctx.server.options.dataRate));
  },
  async STOR(ctx) {
    const p = ctx.session.resolve(ctx.arg);
    const tree = ctx.server.tree;
    if (!tree.isDir(path.dirname(p)) || tree.isDir(p)) return ctx.reply(`553 ${ctx.arg}: Cannot create file.`);
    const from = ctx.session.rest;
    // Written as it arrives, as a real server's file grows on disk: another
    // session's SIZE sees it grow, and a broken upload leaves what arrived.
    const kept = from ? (tree.read(p) ?? Buffer.alloc(0)).subarray(0, from) : Buffer.alloc(0);
    tree.put(p, kept, new Date());
    await transfer(ctx, (s) => receiveBody(s, (chunk) => tree.put(p, Buffer.concat([tree.read(p) ?? Buffer.alloc(0), chunk]), new Date())));
  },
  RNFR(ctx) {
    const p = ctx.session.resolve(ctx.arg);
    if (!ctx.server.tree.get(p)) return ctx.reply(`550 ${ctx.arg}: No such file or directory.`);
    ctx.session.renameFrom = p;
    ctx.reply('350 File or directory exists, ready for destination name.');
  },
  RNTO(ctx) {
    const from = ctx.session.renameFrom;
    ctx.session.renameFrom = undefined;
    if (!from) return ctx.reply('503 Bad sequence of commands.');
    const to = ctx.session.resolve(ctx.arg);
    if (!ctx.server.tree.isDir(path.dirname(to))) return ctx.reply(`553 ${ctx.arg}: No such directory.`);
    ctx.server.tree.rename(from, to);
    ctx.reply('250 Rename successful.');
  },
  DELE(ctx) {
    const p = ctx.session.resolve(ctx.arg);
    if (ctx.server.tree.get(p)?.type !== 'file') return ctx.reply(`550 ${ctx.arg}: No such file.`);
    ctx.server.tree.delete(p);
    ctx.reply('250 DELE command successful.');
  },
  MKD(ctx) {
    const p = ctx.session.resolve(ctx.arg);
    const tree = ctx.server.tree;
    if (tree.get(p) || !tree.isDir(path.dirname(p))) return ctx.reply(`550 ${ctx.arg}: Cannot create directory.`);
    tree.mkdirs(p, new Date());
    ctx.reply(`257 "${p.replace(/"/g, '""')}" created.`);
  },
  RMD(ctx) {
    const p = ctx.session.resolve(ctx.arg);
    const tree = ctx.server.tree;
    if (!tree.isDir(p) || p === '/') return ctx.reply(`550 ${ctx.arg}: No such directory.`);
    if (tree.children(p).length) return ctx.reply(`550 ${ctx.arg}: Directory not empty.`);
    tree.delete(p);
    ctx.reply('250 RMD command successful.');
  },
};
