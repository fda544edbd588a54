package io.tokenbus.auth;

/**
 * What a credential restricted to one generation or one chat session may reach: that one id and,
 * for a session, the part its holder plays. A credential without a grant reaches everything of its
 * tenant that its scopes allow.
 *
 * @param role for a session: what its holder may do there; null for a generation
 */
public record Grant(Kind kind, String id, Role role) {

  /** What the one id names. */
  public enum Kind {
    GENERATION,
    SESSION
  }

  /**
   * A session's parts: the owner may do everything, a participant all but own it, a viewer read.
   */
  public enum Role {
    OWNER,
    PARTICIPANT,
    VIEWER;

    /** The name in tokens and in the API ({@code owner}, {@code participant}, {@code viewer}). */
    public String wireName() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  public static Grant generation(String id) {
    return new Grant(Kind.GENERATION, id, null);
  }

  public static Grant session(String id, Role role) {
    return new Grant(Kind.SESSION, id, role);
  }
}
