/** One configuration generator per kind: each writes into the instance directory and returns the command line. */
import { ftpSrvConfig } from './ftp-srv.js';
import { inetutilsConfig } from './inetutils.js';
import type { Generated, Instance } from './instance.js';
import { proftpdConfig } from './proftpd.js';
import { pureFtpdConfig } from './pure-ftpd.js';
import { pyftpdlibConfig } from './pyftpdlib.js';
import { vsftpdConfig } from './vsftpd.js';

export { passiveRange, type Generated, type Instance } from './instance.js';

export async function generateConfig(inst: Instance): Promise<Generated> {
  switch (inst.kind) {
    case 'vsftpd':
      return vsftpdConfig(inst);
    case 'proftpd':
      return proftpdConfig(inst);
    case 'pure-ftpd':
      return pureFtpdConfig(inst);
    case 'pyftpdlib':
      return pyftpdlibConfig(inst);
    case 'inetutils-ftpd':
      return inetutilsConfig(inst);
    case 'ftp-srv':
      return ftpSrvConfig(inst);
  }
}
