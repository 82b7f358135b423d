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
/**
 * Below this length a secret is masked only where it stands apart, not in
 * the middle of a word: masking the password `p` everywhere turned
 * "--lock-dir /etc/passwd" into "/etc/***asswd". A short secret inside a
 * longer word is not that secret printed; one standing alone (as a URL's
 * password between ':' and '@', or a quoted argument) is still masked.
 */
const SHORT = 8;
const secrets = new Set<string>();
/** Longest first, so a secret that contains another is masked whole. */
let patterns: { secret: string; re?: RegExp }[] = [];

const isWordChar = (c: string) => /[\p{L}\p{N}]/u.test(c);

function pattern(secret: string): { secret: string; re?: RegExp } {
  if (secret.length >= SHORT) return { secret };
  const escaped = secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const before = isWordChar(secret[0]) ? '(?<![\\p{L}\\p{N}])' : '';
  const after = isWordChar(secret[secret.length - 1]) ? '(?![\\p{L}\\p{N}])' : '';
  return { secret, re: new RegExp(`${before}${escaped}${after}`, 'gu') };
}

/** Register a value that must never appear in output (passwords, tokens). */
export function addSecret(secret: string): void {
  if (!secret || secrets.has(secret)) return;
  secrets.add(secret);
  // The percent-encoded form shows up when a password is put back into a URL.
  const encoded = encodeURIComponent(secret);
  if (encoded !== secret) secrets.add(encoded);
  patterns = [...secrets].sort((a, b) => b.length - a.length).map(pattern);
}

/** `text` with every registered secret replaced by "***". */
export function redactSecrets(text: string): string {
  let out = text;
  for (const { secret, re } of patterns) {
    if (!out.includes(secret)) continue;
    out = re ? out.replace(re, REDACTED) : out.split(secret).join(REDACTED);
  }
  return out;
}
