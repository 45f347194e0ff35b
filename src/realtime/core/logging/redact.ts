/** A request URL fit for logs: every query value that could carry a credential is masked. */
export function redactUrl(url: string | undefined): string {
  if (!url) return '';
  return url.replace(/([?&](?:token|access_token|auth|jwt|key)=)[^&#]*/gi, '$1[REDACTED]');
}
