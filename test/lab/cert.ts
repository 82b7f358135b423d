/**
 * The lab's TLS certificate: self-signed, its own CA, with IP SANs for
 * 127.0.0.1 and every lab address.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BIN, labStateDir, lookupUser } from './env.js';
import { LAB_ADDRESS_FIRST, LAB_ADDRESS_LAST, LAB_BLOCKS, LAB_USER, type LabCert } from './kinds.js';
import { run } from './processes.js';

export type { LabCert };

let certPromise: Promise<LabCert> | null = null;

function labCertSans(): string[] {
  const sans = ['DNS:localhost', 'IP:127.0.0.1'];
  for (const b of LAB_BLOCKS) for (let i = LAB_ADDRESS_FIRST; i <= LAB_ADDRESS_LAST; i++) sans.push(`IP:127.0.${b}.${i}`);
  return sans;
}

/**
 * A self-signed certificate that is its own CA, with IP SANs for 127.0.0.1
 * and every lab address: proftpd, when it is the TLS client of an SSCN data
 * connection, verifies the peer server against it (TLSVerifyServer), and
 * Node's tls checks the IP SAN when connecting by address.
 * Generated at most once per process; reused while valid for another day.
 */
export function ensureLabCert(): Promise<LabCert> {
  certPromise ??= (async () => {
    const user = lookupUser(LAB_USER);
    const dir = path.join(labStateDir(), 'tls');
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    const files: LabCert = { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem'), combined: path.join(dir, 'combined.pem') };
    const valid = async () => {
      if (!Object.values(files).every((f) => fs.existsSync(f))) return false;
      // A certificate from an older lab with fewer addresses is replaced.
      const text = await run(BIN.openssl, ['x509', '-in', files.cert, '-noout', '-ext', 'subjectAltName']).then((r) => r.stdout, () => '');
      if (!labCertSans().every((san) => text.replace(/IP Address:/g, 'IP:').includes(san))) return false;
      try {
        await run(BIN.openssl, ['x509', '-in', files.cert, '-noout', '-checkend', '86400']);
        return true;
      } catch {
        return false;
      }
    };
    if (!(await valid())) {
      const sans = labCertSans();
      const tmpCert = `${files.cert}.${process.pid}.tmp`;
      const tmpKey = `${files.key}.${process.pid}.tmp`;
      await run(BIN.openssl, [
        'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3650', '-subj', '/CN=fxpmirror test lab',
        '-addext', `subjectAltName=${sans.join(',')}`,
        '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign',
        '-addext', 'extendedKeyUsage=serverAuth,clientAuth',
        '-keyout', tmpKey, '-out', tmpCert,
      ]);
      fs.writeFileSync(`${files.combined}.${process.pid}.tmp`, fs.readFileSync(tmpCert, 'utf8') + fs.readFileSync(tmpKey, 'utf8'));
      // Atomic renames: a concurrently running lab never reads half a file.
      fs.renameSync(tmpKey, files.key);
      fs.renameSync(`${files.combined}.${process.pid}.tmp`, files.combined);
      fs.renameSync(tmpCert, files.cert);
    }
    // pyftpdlib runs as the lab user and must read the key: group-readable for it only.
    for (const f of [files.key, files.combined]) {
      if (user) fs.chownSync(f, 0, user.gid);
      fs.chmodSync(f, 0o640);
    }
    fs.chmodSync(files.cert, 0o644);
    return files;
  })();
  certPromise.catch(() => {
    certPromise = null;
  });
  return certPromise;
}

