/** Query parameters whose value may be a credential, compared by their decoded, lower-cased name. */
const SECRET_PARAMS = new Set([
  'token',
  'access_token',
  'id_token',
  'auth',
  'authorization',
  'jwt',
  'key',
  'api_key',
  'password',
  'secret',
  'ticket',
]);

/**
 * A request URL fit for logs: the query is parsed and decoded, so a credential is masked however
 * its parameter name is spelled or encoded (`?TOKEN=`, `?%74oken=`).
 */
export function redactUrl(url: string | undefined): string {
  if (!url) return '';
  const queryStart = url.indexOf('?');
  if (queryStart < 0) return url;
  const params = new URLSearchParams(url.slice(queryStart + 1));
  const shown: string[] = [];
  for (const [name, value] of params) {
    const secret = SECRET_PARAMS.has(name.toLowerCase());
    shown.push(`${encodeURIComponent(name)}=${secret ? '[REDACTED]' : encodeURIComponent(value)}`);
  }
  return `${url.slice(0, queryStart)}?${shown.join('&')}`;
}
