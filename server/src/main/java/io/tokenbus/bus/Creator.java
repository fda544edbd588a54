package io.tokenbus.bus;

import java.io.Serializable;

/**
 * Who started a generation or a session: the tenant it belongs to (only that tenant and the admin
 * see it) and the credential used, named as in the audit log (never a secret).
 */
public record Creator(String tenant, String credential) implements Serializable {

  /** Everything started while auth is off. */
  public static final Creator ANONYMOUS = new Creator("default", "anonymous");
}
