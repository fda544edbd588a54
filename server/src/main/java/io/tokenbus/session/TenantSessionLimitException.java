package io.tokenbus.session;

/** A tenant has as many sessions as its {@code limits.max-sessions} allows. */
public final class TenantSessionLimitException extends RuntimeException {

  public TenantSessionLimitException(String tenant, int max) {
    super(
        "Tenant "
            + tenant
            + " has "
            + max
            + " sessions, its limit (limits.max-sessions); retry when some have expired",
        null,
        false,
        false);
  }
}
