package io.tokenbus.http;

import io.tokenbus.generation.GenerationSnapshot;

/**
 * Parses what clients send to resume: a seq as {@code Last-Event-ID} or {@code after}, and flags.
 */
final class Cursors {

  private Cursors() {}

  /**
   * A non-negative integer, or 0 when absent; anything else is a 400, never a silent full replay.
   */
  static long parse(String value, String name) {
    if (value == null) {
      return 0;
    }
    String trimmed = value.trim();
    if (trimmed.isEmpty()
        || trimmed.length() > 18
        || !trimmed.chars().allMatch(c -> c >= '0' && c <= '9')) {
      throw ApiException.badRequest(
          "invalid_cursor",
          name
              + " must be a non-negative integer (the seq of the last event received), got '"
              + clip(value)
              + "'",
          name);
    }
    return Long.parseLong(trimmed);
  }

  /**
   * A cursor in a WebSocket frame: a JSON integer (or a string of one); null when absent. Anything
   * else is refused as {@link #parse(String, String)} refuses it.
   */
  static Long parse(Object value, String name) {
    if (value == null) {
      return null;
    }
    return parse(
        value instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())
            ? String.valueOf(n.longValue())
            : String.valueOf(value),
        name);
  }

  static boolean flag(String value, String name) {
    if (value == null || value.equals("false")) {
      return false;
    }
    if (value.equals("true") || value.isEmpty()) {
      return true;
    }
    throw ApiException.badRequest(
        "invalid_" + name, name + " must be true or false, got '" + clip(value) + "'", name);
  }

  /**
   * A cursor past the last event cannot come from this generation; returns the snapshot when it is
   * within.
   */
  static GenerationSnapshot checkWithin(long cursor, GenerationSnapshot snapshot) {
    if (cursor > snapshot.lastSeq()) {
      throw ApiException.badRequest(
          "invalid_cursor",
          "The cursor "
              + cursor
              + " is beyond the last event ("
              + snapshot.lastSeq()
              + ") of generation "
              + snapshot.info().id(),
          "after");
    }
    return snapshot;
  }

  private static String clip(String value) {
    return value.length() > 40 ? value.substring(0, 40) + "…" : value;
  }
}
