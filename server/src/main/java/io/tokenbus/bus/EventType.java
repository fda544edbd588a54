package io.tokenbus.bus;

/**
 * The kinds of generation event; {@code done}, {@code error} and {@code cancelled} are terminal.
 * New kinds are only ever appended: the wire format carries the ordinal.
 */
public enum EventType {
  DELTA("delta"),
  DONE("done"),
  ERROR("error"),
  CANCELLED("cancelled"),
  /**
   * The answer restarts after a break (recovery strategy {@code restart}): the text so far is void.
   */
  RESET("reset"),
  /** A piece of a tool call, as the upstream streamed it. */
  TOOL_CALL("tool_call"),
  /** The upstream failed and tokenbus retried, recovered or fell back; the text is unaffected. */
  RECOVERY("recovery");

  private final String wireName;

  EventType(String wireName) {
    this.wireName = wireName;
  }

  /** The name clients see: the SSE {@code event:} field and the WebSocket frame's {@code type}. */
  public String wireName() {
    return wireName;
  }

  public boolean terminal() {
    return this == DONE || this == ERROR || this == CANCELLED;
  }
}
