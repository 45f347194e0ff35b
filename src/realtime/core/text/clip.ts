/** SPEC.md §10.1: client-supplied strings kept per connection (user agent, username) are cut to this. */
export const MAX_CLIENT_STRING_LENGTH = 256;

/** `value` cut to `MAX_CLIENT_STRING_LENGTH` characters (whole code points), before it is stored, logged or shared. */
export function clipClientString(value: string): string {
  if (value.length <= MAX_CLIENT_STRING_LENGTH) return value;
  let end = MAX_CLIENT_STRING_LENGTH;
  // Never split a surrogate pair.
  const last = value.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return value.slice(0, end);
}
