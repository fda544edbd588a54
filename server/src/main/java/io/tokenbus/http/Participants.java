package io.tokenbus.http;

/** What a chat session participant's name may be, wherever one is given (HTTP or WebSocket). */
final class Participants {

  private Participants() {}

  /**
   * A display name: 1 to 64 characters, no control characters; returned trimmed. Anything else is a
   * 400.
   */
  static String author(Object value) {
    if (!(value instanceof String name)
        || name.isBlank()
        || name.length() > 64
        || name.chars().anyMatch(Character::isISOControl)) {
      throw ApiException.badRequest(
          "invalid_author",
          "'author' (a display name) is required: 1 to 64 characters, no control " + "characters",
          "author");
    }
    return name.trim();
  }
}
