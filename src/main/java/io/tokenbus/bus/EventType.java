package io.tokenbus.bus;

/** The kinds of generation event; {@code done}, {@code error} and {@code cancelled} are terminal. */
public enum EventType {
  DELTA("delta"),
  DONE("done"),
  ERROR("error"),
  CANCELLED("cancelled");

  private final String wireName;

  EventType(String wireName) {
    this.wireName = wireName;
  }

  /** The name clients see: the SSE {@code event:} field and the WebSocket frame's {@code type}. */
  public String wireName() {
    return wireName;
  }

  public boolean terminal() {
    return this != DELTA;
  }
}
