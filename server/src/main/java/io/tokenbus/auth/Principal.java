package io.tokenbus.auth;

import io.tokenbus.bus.Creator;
import java.util.EnumSet;
import java.util.Set;

/**
 * Who is calling: the tenant they act for, the credential they presented (named for logs, never its
 * secret: {@code acme#2} is acme's second key, {@code jwt:alice} a token minted for alice), the
 * user it was minted for if any, what it allows, and the one generation or session it is restricted
 * to.
 *
 * @param subject the user a JWT names ({@code sub}), shown as their chat name; null for keys
 * @param grant the one id this credential reaches, or null for all of its tenant's
 * @param expires when the credential expires (Unix seconds, a token's {@code exp}); 0 for never
 */
public record Principal(
    String tenant,
    String credential,
    String subject,
    Set<Scope> scopes,
    Grant grant,
    long expires) {

  /** A credential that does not expire (a key, a session token). */
  public Principal(
      String tenant, String credential, String subject, Set<Scope> scopes, Grant grant) {
    this(tenant, credential, subject, scopes, grant, 0);
  }

  /** The admin key's tenant: it acts for every tenant, and what it creates belongs to none. */
  public static final String ALL_TENANTS = "*";

  /** Every caller when auth is off: one tenant, allowed everything. */
  public static final Principal ANONYMOUS =
      new Principal("default", "anonymous", null, EnumSet.allOf(Scope.class), null);

  public Principal {
    scopes = Set.copyOf(scopes);
  }

  /** The admin key (or auth off): every tenant, every scope. */
  public boolean admin() {
    return scopes.contains(Scope.ADMIN);
  }

  public boolean may(Scope scope) {
    return admin() || scopes.contains(scope);
  }

  /** Whether something of {@code owner}'s tenant is visible to this caller at all. */
  public boolean sees(String owner) {
    return admin() || tenant.equals(owner);
  }

  /** This principal, its credential expiring at {@code exp} (Unix seconds; 0: never). */
  public Principal expiring(long exp) {
    return new Principal(tenant, credential, subject, scopes, grant, exp);
  }

  /** Who this caller is, as a generation or session records its creator. */
  public Creator creator() {
    return new Creator(tenant, credential);
  }
}
