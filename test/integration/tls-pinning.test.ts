/**
 * TLS pinning policy (src/ftp/tls-policy.ts), the same for ftpes:// (AUTH
 * TLS, proftpd here) and ftps:// (implicit TLS, vsftpd): a pinned
 * fingerprint replaces the CA chain check, so a self-signed certificate can
 * be trusted, but the host name and the validity dates are still checked;
 * with --insecure only the pin is.
 *
 * Certificates made here with openssl (self-signed, not in any CA list):
 *   good      IP SANs of its servers, valid now      127.0.1.30 (ftpes) .31 (ftps)
 *   expired   IP SANs of its servers, ended in 2020  127.0.1.32 (ftpes) .33 (ftps)
 *   wrongname only DNS:wrong.example                127.0.1.34 (ftpes) .35 (ftps)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXIT } from '../../src/cli/exit.js';
import { LAB_PASSWORD, LAB_USER, startServer, stopAll, type LabCert, type LabServer } from '../lab/lab.js';
import { lines, oneErrorLine, requireServers, runCli, writeLabFile, type CliRun } from '../lab/helpers.js';

const UNAVAILABLE = requireServers(['proftpd', 'vsftpd']);
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'fxpmirror-tls-'));
fs.chmodSync(TMP, 0o755);

type CertKind = 'good' | 'expired' | 'wrongname';
const ADDRESSES: Record<CertKind, { ftpes: string; ftps: string }> = {
  good: { ftpes: '127.0.1.30', ftps: '127.0.1.31' },
  expired: { ftpes: '127.0.1.32', ftps: '127.0.1.33' },
  wrongname: { ftpes: '127.0.1.34', ftps: '127.0.1.35' },
};
const SCHEMES = ['ftpes', 'ftps'] as const;

function openssl(args: string[], cwd = TMP): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A self-signed server certificate; `expired` is signed with `openssl ca` for dates in the past. */
function makeCert(kind: CertKind): LabCert & { fingerprint: string } {
  const dir = path.join(TMP, kind);
  fs.mkdirSync(dir, { mode: 0o755 });
  const files = { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem'), combined: path.join(dir, 'combined.pem') };
  const san = kind === 'wrongname' ? 'DNS:wrong.example' : `IP:${ADDRESSES[kind].ftpes},IP:${ADDRESSES[kind].ftps}`;
  if (kind === 'expired') {
    fs.writeFileSync(
      path.join(dir, 'ca.cnf'),
      '[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = p\ncopy_extensions = copy\nunique_subject = no\n[p]\ncommonName = supplied\n[ext]\nbasicConstraints = critical,CA:FALSE\n',
    );
    fs.writeFileSync(path.join(dir, 'index.txt'), '');
    fs.writeFileSync(path.join(dir, 'serial'), '01\n');
    openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', files.key, '-out', 'req.csr', '-subj', `/CN=fxpmirror ${kind}`, '-addext', `subjectAltName=${san}`], dir);
    openssl(['ca', '-batch', '-selfsign', '-config', 'ca.cnf', '-keyfile', files.key, '-in', 'req.csr', '-out', files.cert, '-startdate', '20200101000000Z', '-enddate', '20200201000000Z', '-extensions', 'ext', '-notext'], dir);
  } else {
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30', '-subj', `/CN=fxpmirror ${kind}`, '-addext', `subjectAltName=${san}`, '-keyout', files.key, '-out', files.cert]);
  }
  fs.writeFileSync(files.combined, fs.readFileSync(files.cert, 'utf8') + fs.readFileSync(files.key, 'utf8'));
  for (const f of Object.values(files)) fs.chmodSync(f, 0o644); // a throwaway test key, read by the servers
  return { ...files, fingerprint: new X509Certificate(fs.readFileSync(files.cert)).fingerprint256 };
}

function show(r: CliRun): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

describe('TLS: a pin replaces the CA check, not the name and date checks; ftps and ftpes alike', { skip: UNAVAILABLE ?? false }, () => {
  const certs = {} as Record<CertKind, ReturnType<typeof makeCert>>;
  const servers = {} as Record<CertKind, Record<(typeof SCHEMES)[number], LabServer>>;
  const WRONG_PIN = 'AB'.repeat(32);

  before(async () => {
    for (const kind of ['good', 'expired', 'wrongname'] as CertKind[]) certs[kind] = makeCert(kind);
    const started = await Promise.all(
      (['good', 'expired', 'wrongname'] as CertKind[]).flatMap((kind) => [
        startServer('proftpd', { address: ADDRESSES[kind].ftpes, port: 2121, cert: certs[kind] }),
        startServer('vsftpd', { address: ADDRESSES[kind].ftps, port: 2990, implicitTls: true, cert: certs[kind] }),
      ]),
    );
    (['good', 'expired', 'wrongname'] as CertKind[]).forEach((kind, i) => {
      servers[kind] = { ftpes: started[2 * i], ftps: started[2 * i + 1] };
      for (const s of started.slice(2 * i, 2 * i + 2)) writeLabFile(path.join(s.root, 'pub', `${kind}.txt`), `${kind}\n`);
    });
  });

  after(async () => {
    await stopAll();
    fs.rmSync(TMP, { recursive: true, force: true });
  });

  const ls = (kind: CertKind, scheme: (typeof SCHEMES)[number], ...flags: string[]) => {
    assert.ok(servers[kind][scheme].url.startsWith(`${scheme}://`), servers[kind][scheme].url);
    return runCli(['ls', ...flags, `${servers[kind][scheme].url}pub/`], { env: { NETRC: path.join(TMP, 'none') } });
  };
  const listed = (r: CliRun, kind: CertKind) => {
    assert.equal(r.code, EXIT.OK, show(r));
    assert.match(r.stdout, new RegExp(` ${kind}\\.txt$`, 'm'));
  };
  const refused = (r: CliRun, message: RegExp) => {
    assert.equal(r.code, EXIT.CONNECT, show(r));
    assert.match(oneErrorLine(r), message);
    assert.equal(r.stdout, '');
  };

  for (const scheme of SCHEMES) {
    test(`${scheme}: self-signed without a pin is refused; the right pin trusts it; a wrong pin is refused`, async () => {
      refused(await ls('good', scheme), /TLS failed: self[- ]signed certificate/);
      listed(await ls('good', scheme, '--fingerprint', certs.good.fingerprint), 'good');
      // Without colons, lower case: the same pin.
      listed(await ls('good', scheme, '--fingerprint', certs.good.fingerprint.replace(/:/g, '').toLowerCase()), 'good');
      refused(await ls('good', scheme, '--fingerprint', WRONG_PIN), /certificate fingerprint [0-9A-F:]+ does not match the pinned one/);
      // Several pins: any one of them.
      listed(await ls('good', scheme, '--fingerprint', WRONG_PIN, '--fingerprint', certs.good.fingerprint), 'good');
    });

    test(`${scheme}: the right pin does not make an expired or wrong-name certificate acceptable`, async () => {
      refused(await ls('expired', scheme, '--fingerprint', certs.expired.fingerprint), /certificate has expired \(valid until Feb +1 00:00:00 2020 GMT\) \(a pinned fingerprint replaces the CA check only/);
      refused(await ls('wrongname', scheme, '--fingerprint', certs.wrongname.fingerprint), /IP: 127\.0\.1\.3[45] is not in the cert's list.*\(a pinned fingerprint replaces the CA check only/);
      // Without a pin, Node's own checks say the same.
      refused(await ls('expired', scheme), /TLS failed: /);
    });

    test(`${scheme}: --insecure with a pin checks only the pin; --insecure alone checks nothing`, async () => {
      listed(await ls('expired', scheme, '--insecure', '--fingerprint', certs.expired.fingerprint), 'expired');
      listed(await ls('wrongname', scheme, '--insecure', '--fingerprint', certs.wrongname.fingerprint), 'wrongname');
      refused(await ls('expired', scheme, '--insecure', '--fingerprint', WRONG_PIN), /does not match the pinned one/);
      listed(await ls('wrongname', scheme, '--insecure'), 'wrongname');
    });
  }

  test('job files follow the same policy: fingerprint alone, then with verify: false', async () => {
    const file = path.join(TMP, 'tls.yaml');
    const job = (verify: boolean) => {
      const server = (name: string, kind: CertKind, scheme: (typeof SCHEMES)[number], extra = '') =>
        `  ${name}:\n    url: ${scheme}://${servers[kind][scheme].host}:${servers[kind][scheme].port}/\n    user: ${LAB_USER}\n    password: \${TLS_PW}\n    fingerprint: "${certs[kind].fingerprint}"\n${extra}`;
      return `version: 1\nservers:\n${server('old', 'expired', 'ftps', verify ? '' : '    verify: false\n')}${server('new', 'good', 'ftpes')}jobs:\n  - name: tls-pin\n    from: old:/pub\n    to: new:/copied\n    fxp: never\n`;
    };
    fs.writeFileSync(file, job(true));
    const env = { TLS_PW: LAB_PASSWORD, NETRC: path.join(TMP, 'none'), XDG_RUNTIME_DIR: TMP };
    const strict = await runCli(['run', file], { env });
    assert.equal(strict.code, EXIT.CONNECT, show(strict));
    assert.equal(lines(strict.stderr).length, 1, show(strict));
    assert.match(strict.stderr, /error \[tls-pin\] failed old: certificate has expired/);
    assert.equal(fs.existsSync(path.join(servers.good.ftpes.root, 'copied')), false);

    fs.writeFileSync(file, job(false));
    const relaxed = await runCli(['run', file], { env });
    assert.equal(relaxed.code, EXIT.OK, show(relaxed));
    assert.equal(fs.readFileSync(path.join(servers.good.ftpes.root, 'copied', 'expired.txt'), 'utf8'), 'expired\n');
  });
});
