/**
 * The process-wide list of values that must never be printed (passwords,
 * accounts). Every layer may register a secret here (src/ftp/credentials.ts
 * does, for each password it resolves); the CLI's logger and error printer
 * mask them at the last moment before bytes leave the process.
 *
 * It lives in the lowest layer so that no layer has to import upward to
 * register a secret.
 */

const REDACTED = '***';
const secrets = new Set<string>();
/** Longest first, so a secret that contains another is masked whole. */
let secretList: string[] = [];

/** Register a value that must never appear in output (passwords, tokens). */
export function addSecret(secret: string): void {
  if (!secret || secrets.has(secret)) return;
  secrets.add(secret);
  // The percent-encoded form shows up when a password is put back into a URL.
  const encoded = encodeURIComponent(secret);
  if (encoded !== secret) secrets.add(encoded);
  secretList = [...secrets].sort((a, b) => b.length - a.length);
}

/** `text` with every registered secret replaced by "***". */
export function redactSecrets(text: string): string {
  let out = text;
  for (const s of secretList) {
    if (out.includes(s)) out = out.split(s).join(REDACTED);
  }
  return out;
}
