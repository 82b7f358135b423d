/**
 * FEAT reply (RFC 2389) into a typed capability set. Pure.
 */

export interface Features {
  /** Upper-cased feature keyword -> rest of the line (params), as the server sent them. */
  raw: Map<string, string>;
  /** RFC 3659 §7.8: "MLST type*;size*;modify*;" — '*' marks enabled facts; facts lower-cased. */
  mlst: { facts: string[]; enabled: string[] } | null;
  /** True when MLST is advertised (RFC 3659 §7.8: MLSD comes with MLST), or MLSD on its own. */
  mlsd: boolean;
  mdtm: boolean;
  mfmt: boolean;
  size: boolean;
  restStream: boolean;
  epsv: boolean;
  eprt: boolean;
  sscn: boolean;
  cpsv: boolean;
  cepr: boolean;
  pret: boolean;
  tvfs: boolean;
  utf8: boolean;
  /** "AUTH TLS;SSL" -> ["TLS","SSL"] (upper-cased: RFC 2228 mechanism names are case-insensitive). */
  auth: string[];
  pbsz: boolean;
  prot: boolean;
  /** draft-bryan-ftpext-hash: "HASH SHA-256*;SHA-1;MD5" -> the '*' one is selected. */
  hash: { algorithms: string[]; selected?: string } | null;
  checksums: { xcrc: boolean; xmd5: boolean; xsha1: boolean; xsha256: boolean; xsha512: boolean };
  /** "SITE UTIME" advertised in FEAT (proftpd's mod_site_misc does); usually false. */
  siteUtime: boolean;
}

/** For servers that answer FEAT with 500: they advertise nothing (RFC 2389 §3.1). */
export function emptyFeatures(): Features {
  return {
    raw: new Map(),
    mlst: null,
    mlsd: false,
    mdtm: false,
    mfmt: false,
    size: false,
    restStream: false,
    epsv: false,
    eprt: false,
    sscn: false,
    cpsv: false,
    cepr: false,
    pret: false,
    tvfs: false,
    utf8: false,
    auth: [],
    pbsz: false,
    prot: false,
    hash: null,
    checksums: { xcrc: false, xmd5: false, xsha1: false, xsha256: false, xsha512: false },
    siteUtime: false,
  };
}

/**
 * `lines` are the reply's raw lines, including the first "211-Features:" and the
 * last "211 End". RFC 2389 §3.2 says each feature line starts with a space; some
 * servers omit it, and some prefix every line with "211-", so both are tolerated.
 *
 * A keyword that appears on several lines ("AUTH SSL" then "AUTH TLS" from
 * vsftpd, "SITE MKDIR", "SITE UTIME"… from proftpd) keeps all its params in
 * `raw`, joined by ";" in order — the same shape as a single "AUTH SSL;TLS" line.
 * Trailing whitespace of a line is dropped; params are otherwise verbatim.
 */
export function parseFeatReply(lines: string[]): Features {
  const f = emptyFeatures();
  const last = lines.length - 1;
  lines.forEach((rawLine, i) => {
    let line = rawLine.replace(/\r$/, '');
    // The status lines framing the list. A one-line "211 no features" has only these.
    if ((i === 0 || i === last) && /^\d{3}(?:[ -]|$)/.test(line)) return;
    const prefixed = /^\d{3}-/.exec(line);
    if (prefixed) line = line.slice(4);
    line = line.trim();
    if (line === '') return;
    const sp = line.search(/\s/);
    const keyword = (sp === -1 ? line : line.slice(0, sp)).toUpperCase();
    const params = sp === -1 ? '' : line.slice(sp).trimStart();
    const prev = f.raw.get(keyword);
    f.raw.set(keyword, prev === undefined || prev === '' ? params : params === '' ? prev : `${prev};${params}`);
  });

  const has = (k: string): boolean => f.raw.has(k);
  const list = (k: string): string[] =>
    (f.raw.get(k) ?? '')
      .split(/[;\s]+/)
      .map((s) => s.trim())
      .filter((s) => s !== '');

  const mlst = f.raw.get('MLST');
  if (mlst !== undefined) {
    const facts: string[] = [];
    const enabled: string[] = [];
    for (const item of list('MLST')) {
      const fact = item.replace(/\*$/, '').toLowerCase();
      if (fact === '') continue;
      facts.push(fact);
      if (item.endsWith('*')) enabled.push(fact);
    }
    f.mlst = { facts, enabled };
  }
  f.mlsd = mlst !== undefined || has('MLSD');
  f.mdtm = has('MDTM');
  f.mfmt = has('MFMT');
  f.size = has('SIZE');
  // RFC 3659 §5.5: "REST STREAM" is the feature; a bare "REST" says nothing about the mode.
  f.restStream = list('REST').some((p) => p.toUpperCase() === 'STREAM');
  f.epsv = has('EPSV');
  f.eprt = has('EPRT');
  f.sscn = has('SSCN');
  f.cpsv = has('CPSV');
  f.cepr = has('CEPR');
  f.pret = has('PRET');
  f.tvfs = has('TVFS');
  f.utf8 = has('UTF8');
  f.auth = list('AUTH').map((s) => s.toUpperCase());
  f.pbsz = has('PBSZ');
  f.prot = has('PROT');
  if (has('HASH')) {
    const algorithms: string[] = [];
    let selected: string | undefined;
    for (const item of list('HASH')) {
      const algo = item.replace(/\*$/, '').toUpperCase();
      if (algo === '') continue;
      algorithms.push(algo);
      if (item.endsWith('*') && selected === undefined) selected = algo;
    }
    f.hash = selected === undefined ? { algorithms } : { algorithms, selected };
  }
  f.checksums = {
    xcrc: has('XCRC'),
    xmd5: has('XMD5'),
    // "XSHA" is an older spelling of XSHA1 that some servers still advertise.
    xsha1: has('XSHA1') || has('XSHA'),
    xsha256: has('XSHA256'),
    xsha512: has('XSHA512'),
  };
  f.siteUtime = list('SITE').some((p) => p.toUpperCase() === 'UTIME');
  return f;
}
