package io.tokenbus.fanout;

/** The connection side of a {@link Viewer}: an SSE response, or one subscription on a WebSocket. */
public interface ViewerOutput {

  WireFormat format();

  boolean writeQueueFull();

  void write(Encoded events);

  /** Runs {@code action} once, the next time the connection's write queue drains. */
  void onDrain(Runnable action);

  /** The terminal event has been written: finish normally. */
  void end();

  /**
   * The viewer cannot go on (stalled past the limit, or its log is gone): close so the client
   * reconnects and resumes from its last seq.
   */
  void abort(String reason);
}
