// The page's Content-Security-Policy: scripts, styles, the worker and connections only from this
// origin, no plugins, never framed. A script injected into the page could then neither load code
// from elsewhere nor send what it reads anywhere but back here. The bridge's wss:// URL is named
// as well, since older browsers do not count it under 'self'.
export function pageSecurityPolicy(hostHeader: string | undefined): string {
  const directives = [
    "default-src 'self'",
    "worker-src 'self'",
    `connect-src 'self'${sameOriginWebSocket(hostHeader)}`,
    "frame-ancestors 'none'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ];
  return directives.join('; ');
}

/** " wss://<host>" for a well-formed Host header (it goes into a header: nothing else may pass). */
function sameOriginWebSocket(hostHeader: string | undefined): string {
  if (!hostHeader) return '';
  try {
    const { host } = new URL(`wss://${hostHeader}`);
    return host === hostHeader.toLowerCase() ? ` wss://${host}` : '';
  } catch {
    return '';
  }
}
