package io.tokenbus.session;

import java.io.Serializable;

/**
 * A message of a session's transcript, as it stands: a user's, or the assistant's with the
 * generation answering it, its status ({@code streaming}, {@code completed}, {@code failed}, {@code
 * stopped}) and finish reason. Immutable; the session state replaces it as it changes.
 */
public record SessionMessage(
    String id,
    String role,
    String author,
    String content,
    long created,
    String generation,
    String status,
    String finishReason,
    String error,
    String replyTo)
    implements Serializable {

  static SessionMessage user(String id, String author, String content, long created) {
    return new SessionMessage(id, "user", author, content, created, null, null, null, null, null);
  }

  static SessionMessage assistant(String id, String generation, long created, String replyTo) {
    return new SessionMessage(
        id, "assistant", "assistant", "", created, generation, "streaming", null, null, replyTo);
  }

  SessionMessage withContent(String newContent) {
    return new SessionMessage(
        id, role, author, newContent, created, generation, status, finishReason, error, replyTo);
  }

  SessionMessage ended(String newStatus, String newFinishReason, String newError) {
    return new SessionMessage(
        id,
        role,
        author,
        content,
        created,
        generation,
        newStatus,
        newFinishReason,
        newError,
        replyTo);
  }
}
