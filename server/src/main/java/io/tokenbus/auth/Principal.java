package io.tokenbus.auth;

import java.util.EnumSet;
import java.util.Set;

/**
 * Who is calling: the tenant they act for, the credential they presented (named for logs, never its
 * secret: {@code acme#2} is acme's second key), and what it allows.
 */
public record Principal(String tenant, String credential, Set<Scope> scopes) {

  /** Every caller when auth is off: one tenant, allowed everything. */
  public static final Principal ANONYMOUS =
      new Principal("default", "anonymous", EnumSet.allOf(Scope.class));

  public Principal {
    scopes = Set.copyOf(scopes);
  }
}
