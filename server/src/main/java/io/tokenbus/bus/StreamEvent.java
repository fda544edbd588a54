package io.tokenbus.bus;

/**
 * An event of a stream the fan-out carries: a generation's, a chat session's. Numbered 1, 2, 3, …
 * within its stream with no gaps, which is what viewers keep as their cursor.
 */
public interface StreamEvent {

  /**
   * The event's place in its stream; 0 for a passing event that is never stored (someone typing).
   */
  long seq();

  /** The stream's last event: its viewers end once they have it. */
  default boolean terminal() {
    return false;
  }
}
