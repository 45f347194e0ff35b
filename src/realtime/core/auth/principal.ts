/** Who is on the other end of a connection, as the upgrade's JWT said. */
export interface Principal {
  /** `sub` as a string: the key for limits, rooms and policy. */
  readonly sub: string;
  /** `sub` as the token carried it (a number stays a number in frames). */
  readonly userId: string | number;
  readonly username: string;
  readonly roles: readonly string[];
  /** Resource patterns the token is limited to, when it has an `acl` claim. */
  readonly acl?: readonly string[];
  /** Expiry in seconds since the epoch. */
  readonly exp?: number;
}

export const isAdmin = (principal: Principal): boolean => principal.roles.includes('admin');
