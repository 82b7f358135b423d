/**
 * The job file's rules as data. The validator in load.ts walks these tables,
 * and `buildJsonSchema()` turns the same tables into jobs/fxpmirror.schema.json
 * (editor completion and hover text), so the two cannot disagree:
 * test/unit/job-load.test.ts compares the checked-in file with buildJsonSchema().
 *
 * Regenerate the JSON file after changing a rule:
 *   npx tsc -p tsconfig.json && node -e "import('./dist/src/job/schema.js').then(m => process.stdout.write(JSON.stringify(m.buildJsonSchema(), null, 2) + '\n'))" > jobs/fxpmirror.schema.json
 *
 * The allowed values of every enum (CHOICES) live here too: the command
 * line's choices (src/cli/options.ts) come from the same lists. The value
 * parsers (durations, sizes, dates, maxDelete) are in values.ts.
 */
import type { FxpPolicy, PassiveSide, TlsMode } from '../ftp/options.js';
import { FINGERPRINT_RE } from '../ftp/tls-policy.js';
import type { MirrorOptions } from '../tree/options.js';
import { DURATION_RE, ISO_DATE_RE, MAX_DELETE_PATTERN, SIZE_RE } from './values.js';

/**
 * The allowed values of each enum key, in the order messages and help list
 * them. The rules below, the JSON Schema and the command line's choices all
 * read these lists; the checks after them keep each list equal to the type
 * the lower layers use.
 */
export const CHOICES = {
  tls: ['none', 'explicit', 'implicit'],
  /** A server's preference for being the PASV side. */
  serverPassive: ['prefer', 'avoid'],
  fxp: ['auto', 'force', 'never'],
  dataMode: ['passive', 'active'],
  symlinks: ['skip', 'follow'],
  compare: ['default', 'checksum'],
  /** Which side of a transfer gets PASV. */
  passive: ['source', 'destination'],
  verify: ['size', 'checksum', 'none'],
} as const;

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type ChoiceOf<K extends keyof typeof CHOICES> = (typeof CHOICES)[K][number];
// Compile-time: a value added to a type but not to its list (or the other way round) fails here.
const CHOICES_MATCH_TYPES: [
  Same<ChoiceOf<'tls'>, TlsMode>,
  Same<ChoiceOf<'fxp'>, FxpPolicy>,
  Same<ChoiceOf<'passive'>, PassiveSide>,
  Same<ChoiceOf<'symlinks'>, MirrorOptions['symlinks']>,
  Same<ChoiceOf<'compare'>, MirrorOptions['compare']>,
  Same<ChoiceOf<'verify'>, MirrorOptions['verify']>,
] = [true, true, true, true, true, true];
void CHOICES_MATCH_TYPES;

export type ValueKind =
  | 'version'
  | 'servers'
  | 'defaults'
  | 'jobs'
  | 'string'
  | 'password'
  | 'url'
  | 'fingerprint'
  | 'boolean'
  | 'integer'
  | 'enum'
  | 'duration'
  | 'size'
  | 'dateOrAge'
  | 'maxDelete'
  | 'stringList'
  | 'endpoint'
  | 'endpoints'
  | 'timeouts';

export interface KeyRule {
  kind: ValueKind;
  description: string;
  /** Allowed values of an 'enum'. */
  values?: readonly string[];
  /** Smallest allowed 'integer'. */
  min?: number;
  required?: boolean;
  /** Shown in the JSON schema so editors display it; the loader applies defaults itself. */
  default?: string | number | boolean;
}

export type RuleSet = Readonly<Record<string, KeyRule>>;

export const JOB_FILE_VERSION = 1;

export const TOP_LEVEL_KEYS: RuleSet = {
  version: { kind: 'version', required: true, description: 'Job file format version. Must be 1.' },
  servers: {
    kind: 'servers',
    required: true,
    description: 'FTP servers by name. Jobs refer to them as "name:/path" (absolute) or "name:path" (relative to the login directory).',
  },
  defaults: {
    kind: 'defaults',
    description: 'Mirror options applied to every job in this file; a job\'s own keys override them.',
  },
  jobs: { kind: 'jobs', required: true, description: 'The mirror jobs. Each copies one source tree to one or more targets.' },
};

export const TIMEOUT_KEYS: RuleSet = {
  connect: { kind: 'duration', default: '10s', description: 'TCP connect plus the server greeting.' },
  command: { kind: 'duration', default: '30s', description: 'Waiting for the reply to one command.' },
  data: {
    kind: 'duration',
    default: '30s',
    description: 'Opening a data connection, or a transfer making no progress.',
  },
};

export const SERVER_KEYS: RuleSet = {
  url: {
    kind: 'url',
    required: true,
    description:
      'ftp:// (plain, upgradable with tls), ftps:// (implicit TLS, port 990) or ftpes:// (explicit AUTH TLS). May contain the user; a password here counts as plain text.',
  },
  user: { kind: 'string', description: 'Login name. Overrides a user in the URL. Without any user: anonymous.' },
  password: {
    kind: 'password',
    description:
      'Login password. Use ${ENV_VAR} or ~/.netrc: a password written in plain text gets a warning.',
  },
  account: { kind: 'string', description: 'RFC 959 ACCT information, sent only when the server asks for it (reply 332).' },
  tls: {
    kind: 'enum',
    values: CHOICES.tls,
    description: 'none: plain FTP; explicit: AUTH TLS on the control connection (RFC 4217); implicit: TLS from the first byte. Default from the URL scheme.',
  },
  verify: { kind: 'boolean', default: true, description: 'Verify the TLS certificate. Turn off only for lab servers.' },
  ca: { kind: 'string', description: 'PEM file with extra CA certificates to trust for this server.' },
  fingerprint: {
    kind: 'fingerprint',
    description: 'Pinned SHA-256 fingerprint of the server certificate (64 hex digits, colons allowed).',
  },
  passive: {
    kind: 'enum',
    values: CHOICES.serverPassive,
    description:
      'Whether this server would rather be the PASV (listening) side of an FXP transfer: "avoid" for servers behind NAT that announce a private address, "prefer" for servers that refuse PORT to third parties.',
  },
  maxConnections: {
    kind: 'integer',
    min: 1,
    default: 4,
    description: 'Most control connections open to this server at once.',
  },
  fxp: {
    kind: 'enum',
    values: CHOICES.fxp,
    description: 'auto: FXP when both servers allow it, else relay; force: fail instead of relaying; never: always relay through this machine.',
  },
  trustPasvAddress: {
    kind: 'boolean',
    default: false,
    description:
      'Use the address in this server\'s PASV replies even when it is not the address fxpmirror connects to (a server with a separate data interface). Off: only the reply\'s port is used, with the server\'s control address, so a server cannot point data connections or FXP at a third host. Logged as a warning when used.',
  },
  dataMode: {
    kind: 'enum',
    values: CHOICES.dataMode,
    default: 'passive',
    description: 'How fxpmirror opens its own data connections (listings, relay): passive (it connects to the server) or active (the server connects back to it). FXP transfers are not affected.',
  },
  timeouts: { kind: 'timeouts', description: 'Timeouts: a number of seconds or "500ms", "10s", "2m".' },
  maxListingEntries: {
    kind: 'integer',
    min: 1,
    default: 1_000_000,
    description: 'Most lines one directory listing of this server may have; past it the directory counts as not listed (nothing under it is deleted).',
  },
  maxListingLine: {
    kind: 'size',
    default: '8K',
    description: 'Longest line a listing of this server may have ("8K" = 8192 bytes); past it the directory counts as not listed.',
  },
};

/** Keys that no longer exist, with what replaced them: a job file that still has one gets this message (an error). */
export const REMOVED_KEYS: Readonly<Record<string, string>> = {
  fixPasvAddress:
    "'fixPasvAddress' was removed: a PASV address other than the server's control address is never used now (only its port is); to use it anyway, set 'trustPasvAddress: true' on the server",
};

/** One rule per MirrorOptions field; the mapped type makes the compiler insist on all of them. */
export const MIRROR_OPTION_KEYS: { readonly [K in keyof MirrorOptions]-?: KeyRule } = {
  symlinks: {
    kind: 'enum',
    values: CHOICES.symlinks,
    default: 'skip',
    description: 'skip: report symlinks and leave them out; follow: copy what they point to (loops are detected).',
  },
  ignoreTime: { kind: 'boolean', default: false, description: 'Compare files by size only.' },
  ignoreSize: { kind: 'boolean', default: false, description: 'Compare files by time only.' },
  onlyNewer: {
    kind: 'boolean',
    default: false,
    description: 'Transfer only files whose source is newer than the target.',
  },
  onlyMissing: { kind: 'boolean', default: false, description: 'Transfer only files missing on the target.' },
  compare: {
    kind: 'enum',
    values: CHOICES.compare,
    default: 'default',
    description: 'default: size and time; checksum: hash both sides when sizes match (HASH/XCRC/XMD5).',
  },
  include: { kind: 'stringList', description: 'Glob patterns (relative to the mirror root) to include; others are left out.' },
  exclude: {
    kind: 'stringList',
    description: 'Glob patterns (relative to the mirror root) to leave out. A trailing "/" matches directories.',
  },
  excludeFrom: { kind: 'string', description: 'File with one exclude pattern per line.' },
  minSize: { kind: 'size', description: 'Skip smaller files. Bytes, or "10K", "10M", "1.5GiB" (K/KiB = 1024, KB = 1000).' },
  maxSize: { kind: 'size', description: 'Skip larger files. Bytes, or "10K", "10M", "1.5GiB" (K/KiB = 1024, KB = 1000).' },
  newerThan: {
    kind: 'dateOrAge',
    description: 'Only files modified after this ISO date ("2024-05-01") or this long ago ("7d").',
  },
  olderThan: {
    kind: 'dateOrAge',
    description: 'Only files modified before this ISO date ("2024-05-01") or this long ago ("7d").',
  },
  delete: { kind: 'boolean', default: false, description: 'Delete target files that are not in the source.' },
  maxDelete: {
    kind: 'maxDelete',
    description: 'Stop before deleting more than this many entries ("100") or this share of the target ("10%").',
  },
  parallel: { kind: 'integer', min: 1, default: 4, description: 'Files transferred at once. Unset: starts at 4 and adapts to distant servers (README, "Parallelism").' },
  retries: { kind: 'integer', min: 0, default: 5, description: 'Retries per file after a transient error.' },
  maxErrors: { kind: 'integer', min: 1, description: 'Stop the run after this many failed files.' },
  dryRun: { kind: 'boolean', default: false, description: 'Plan only: print what would be done.' },
  fxp: {
    kind: 'enum',
    values: CHOICES.fxp,
    default: 'auto',
    description: 'auto: FXP, falling back to relaying through this machine; force: fail instead of relaying; never: always relay.',
  },
  passive: {
    kind: 'enum',
    values: CHOICES.passive,
    description: 'Which server opens the data port (PASV). Default from the servers\' passive preferences, else source.',
  },
  verify: {
    kind: 'enum',
    values: CHOICES.verify,
    default: 'size',
    description: 'How a finished transfer is checked.',
  },
  continue: { kind: 'boolean', default: false, description: 'Resume partial files with REST.' },
  allowClearData: {
    kind: 'boolean',
    default: false,
    description: 'Allow unencrypted FXP data between TLS servers when they cannot agree on secure FXP (SSCN/CPSV).',
  },
};

const LOCK_KEYS: RuleSet = {
  remoteLock: {
    kind: 'boolean',
    default: false,
    description: 'Also hold a lock file on the target server, so runs from two machines do not overlap.',
  },
  remoteLockTtl: {
    kind: 'duration',
    default: '10m',
    description: 'A remote lock older than this (not refreshed) is considered abandoned.',
  },
};

const JOB_ONLY_KEYS: RuleSet = {
  name: { kind: 'string', required: true, description: 'Unique job name: used for locks, logs and metrics.' },
  from: { kind: 'endpoint', required: true, description: 'Source as "server:/path" (absolute) or "server:path" (relative to the login directory, as in scp).' },
  to: { kind: 'endpoints', required: true, description: 'Target as "server:/path" (absolute) or "server:path" (relative to the login directory), or a list of them (fan-out).' },
  ...LOCK_KEYS,
};

export const JOB_KEYS: RuleSet = { ...JOB_ONLY_KEYS, ...MIRROR_OPTION_KEYS };

/** `defaults:` takes every mirror option and the lock settings (not name/from/to, which are per job). */
export const DEFAULTS_KEYS: RuleSet = { ...MIRROR_OPTION_KEYS, ...LOCK_KEYS };

export const DEFAULT_REMOTE_LOCK_TTL_MS = 10 * 60_000;
export const DEFAULT_MAX_CONNECTIONS = 4;

/** Server names appear before the colon of "server:/path". */
export const SERVER_NAME_RE = /^[A-Za-z0-9_.-]+$/;

// ---------------------------------------------------------------------------
// JSON Schema generated from the tables above. Draft-07 because that is what
// the YAML language server (VS Code's YAML extension) implements; in draft-07
// keywords next to "$ref" are ignored, so references that carry a description
// are wrapped in allOf.

type Json = { [k: string]: unknown };

/**
 * A value that contains a ${VAR} reference (not the escaped "$${"): the loader
 * replaces it from the environment, so its type and form are only known then.
 * Every value the loader interpolates (all strings, numbers and booleans
 * except `version`) accepts this alternative; `fxpmirror validate` checks the
 * value after substitution.
 */
const INTERPOLATED = { $ref: '#/definitions/interpolated' };
const INTERPOLATED_RE = /(^|[^$])\$\{[A-Za-z_][A-Za-z0-9_]*\}/;

function valueSchema(rule: KeyRule): Json {
  const base: Json = { description: rule.description };
  if (rule.default !== undefined) base.default = rule.default;
  switch (rule.kind) {
    case 'string':
    case 'password':
      return { ...base, type: 'string' };
    case 'url':
      return { ...base, anyOf: [{ type: 'string', pattern: '^(ftp|ftps|ftpes)://' }, INTERPOLATED] };
    case 'fingerprint':
      return { ...base, anyOf: [{ type: 'string', pattern: FINGERPRINT_RE.source }, INTERPOLATED] };
    case 'boolean':
      return { ...base, anyOf: [{ type: 'boolean' }, INTERPOLATED] };
    case 'integer':
      return { ...base, anyOf: [{ type: 'integer', ...(rule.min !== undefined ? { minimum: rule.min } : {}) }, INTERPOLATED] };
    case 'enum':
      return { ...base, anyOf: [{ enum: [...(rule.values ?? [])] }, INTERPOLATED] };
    case 'duration':
      return { ...base, allOf: [{ $ref: '#/definitions/duration' }] };
    case 'size':
      return { ...base, allOf: [{ $ref: '#/definitions/size' }] };
    case 'dateOrAge':
      return { ...base, allOf: [{ $ref: '#/definitions/dateOrAge' }] };
    case 'maxDelete':
      return { ...base, allOf: [{ $ref: '#/definitions/maxDelete' }] };
    case 'stringList':
      return { ...base, anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] };
    case 'endpoint':
      return { ...base, allOf: [{ $ref: '#/definitions/endpoint' }] };
    case 'endpoints':
      return { ...base, anyOf: [{ $ref: '#/definitions/endpoint' }, { type: 'array', minItems: 1, items: { $ref: '#/definitions/endpoint' } }] };
    case 'timeouts':
      return { ...base, allOf: [{ $ref: '#/definitions/timeouts' }] };
    case 'version':
      return { ...base, const: JOB_FILE_VERSION };
    case 'servers':
      return {
        ...base,
        type: 'object',
        propertyNames: { pattern: SERVER_NAME_RE.source },
        additionalProperties: { $ref: '#/definitions/server' },
      };
    case 'defaults':
      return { ...base, allOf: [{ $ref: '#/definitions/defaults' }] };
    case 'jobs':
      return { ...base, type: 'array', minItems: 1, items: { $ref: '#/definitions/job' } };
  }
}

function objectSchema(rules: RuleSet, description?: string): Json {
  const properties: Json = {};
  for (const [key, rule] of Object.entries(rules)) properties[key] = valueSchema(rule);
  const required = Object.entries(rules)
    .filter(([, r]) => r.required)
    .map(([k]) => k);
  return {
    ...(description ? { description } : {}),
    type: 'object',
    properties,
    ...(required.length ? { required } : {}),
    additionalProperties: false,
  };
}

export function buildJsonSchema(): Json {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'fxpmirror job file',
    description: 'Mirror jobs for fxpmirror. Generated from src/job/schema.ts; do not edit by hand.',
    ...objectSchema(TOP_LEVEL_KEYS),
    definitions: {
      interpolated: {
        description: 'A value that contains ${VAR}: replaced from the environment when the file is read ("$${" is a literal "${"). fxpmirror validate checks the result.',
        type: 'string',
        pattern: INTERPOLATED_RE.source,
      },
      duration: {
        anyOf: [{ type: 'number', minimum: 0 }, { type: 'string', pattern: DURATION_RE.source }, INTERPOLATED],
      },
      size: {
        anyOf: [{ type: 'number', minimum: 0 }, { type: 'string', pattern: SIZE_RE.source }, INTERPOLATED],
      },
      dateOrAge: {
        anyOf: [{ type: 'string', pattern: ISO_DATE_RE.source }, { type: 'string', pattern: '^\\d+(?:\\.\\d+)?\\s*(ms|s|m|h|d|w)$' }, INTERPOLATED],
      },
      maxDelete: {
        anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: MAX_DELETE_PATTERN }, INTERPOLATED],
      },
      endpoint: { anyOf: [{ type: 'string', pattern: '^[^:/\\s]+:' }, INTERPOLATED] },
      timeouts: objectSchema(TIMEOUT_KEYS),
      server: objectSchema(SERVER_KEYS, 'One FTP server.'),
      defaults: objectSchema(DEFAULTS_KEYS),
      job: objectSchema(JOB_KEYS, 'One mirror job.'),
    },
  };
}
