package io.tokenbus.session;

import io.tokenbus.bus.Failure;
import io.tokenbus.bus.StreamEvent;
import java.io.Serializable;

/**
 * One event of a chat session, numbered 1, 2, 3, … per session. The types, and what they carry:
 *
 * <ul>
 *   <li>{@code message}: a message entered the transcript ({@code message} holds it whole: a
 *       user's, or an assistant's that starts {@code streaming});
 *   <li>{@code delta}: text of the assistant message {@code messageId}, answered by {@code
 *       generation};
 *   <li>{@code reset}: that answer restarts (its text so far is void);
 *   <li>{@code done}, {@code error}, {@code cancelled}: that answer ended ({@code finishReason},
 *       {@code failure}); the transcript holds its final text;
 *   <li>{@code presence}: {@code author} {@code joined}, {@code left} or is {@code typing} ({@code
 *       state});
 *   <li>{@code deleted}: the session was deleted (a passing event, seq 0, never stored): the
 *       stream's end.
 * </ul>
 */
public record SessionEvent(
    long seq,
    String type,
    SessionMessage message,
    String messageId,
    String generation,
    String text,
    String finishReason,
    Failure failure,
    String author,
    String state)
    implements StreamEvent, Serializable {

  /**
   * What this event holds in memory, roughly, in bytes: about 96 for the object, two a character of
   * its text, and a message it carries whole.
   */
  public long bytes() {
    return 96
        + (text == null ? 0 : 2L * text.length())
        + (message == null ? 0 : 96 + 2L * message.content().length());
  }

  /** The session is gone: viewers end once they have this, though no log holds it. */
  @Override
  public boolean terminal() {
    return type.equals("deleted");
  }

  static SessionEvent deleted() {
    return new SessionEvent(0, "deleted", null, null, null, null, null, null, null, null);
  }

  static SessionEvent message(long seq, SessionMessage message) {
    return new SessionEvent(
        seq,
        "message",
        message,
        message.id(),
        message.generation(),
        null,
        null,
        null,
        message.author(),
        null);
  }

  static SessionEvent answer(
      long seq,
      String type,
      SessionMessage answer,
      String text,
      String finishReason,
      Failure failure) {
    return new SessionEvent(
        seq, type, null, answer.id(), answer.generation(), text, finishReason, failure, null, null);
  }

  static SessionEvent presence(long seq, String author, String state) {
    return new SessionEvent(seq, "presence", null, null, null, null, null, null, author, state);
  }
}
