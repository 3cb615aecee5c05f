// The sources an image may be registered from, as the API and Ironic name them:
// `https://host[:port]/path` and `oci://registry[:port]/repository(:tag|@sha256:<hex>)`.
import { redactUrl } from '../../log.js';
import { badRequest } from '../errors.js';

export interface HttpsSourceUrl {
  kind: 'https';
  url: URL;
}

export interface OciSourceUrl {
  kind: 'oci';
  /** host[:port], as the registry's https URL has it. */
  registry: string;
  repository: string;
  /** A tag or a digest (`sha256:<hex>`). */
  reference: string;
}

export type SourceUrl = HttpsSourceUrl | OciSourceUrl;

// the distribution spec's grammar: path components of lower-case alphanumerics and separators
export const OCI_REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
export const SHA256_DIGEST = /^sha256:[0-9a-f]{64}$/;

/** A source as errors and the audit log show it: an https URL without its query (a presigned
 *  URL's signature), user info or fragment. */
export function displaySource(text: string): string {
  if (!text.startsWith('https://')) return text;
  try {
    return redactUrl(new URL(text));
  } catch {
    return 'https://…';
  }
}

/** A source URL, or a 400 saying what is wrong with it. */
export function parseSourceUrl(text: string): SourceUrl {
  if (text.startsWith('https://')) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw badRequest(`source: ${text.length > 200 ? 'this' : `"${text}"`} is not a URL`);
    }
    return { kind: 'https', url };
  }
  const m = /^oci:\/\/([^/]+)\/([^@]+?)(?::([^:/@]+))?(?:@(.+))?$/.exec(text);
  if (!text.startsWith('oci://'))
    throw badRequest('source: an https:// URL or oci://registry/repository:tag or @sha256:<digest>');
  if (!m) throw badRequest('source: oci://registry[:port]/repository followed by :tag or @sha256:<digest>');
  const [, registry, repository, tag, digest] = m as unknown as [string, string, string, string?, string?];
  if (!OCI_REPOSITORY.test(repository))
    throw badRequest(`source: "${repository}" is not a repository name (lower-case path components)`);
  if (digest !== undefined && !SHA256_DIGEST.test(digest))
    throw badRequest('source: the digest must be sha256:<64 lower-case hex digits>');
  if (tag !== undefined && !TAG.test(tag)) throw badRequest(`source: "${tag}" is not a tag`);
  const reference = digest ?? tag;
  if (reference === undefined) throw badRequest('source: name a tag (:tag) or a digest (@sha256:…)');
  try {
    new URL(`https://${registry}/`);
  } catch {
    throw badRequest(`source: "${registry}" is not a registry host`);
  }
  return { kind: 'oci', registry, repository, reference };
}
